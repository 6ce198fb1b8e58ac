#include "probe/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/msg.h"
#include "xmpp/session.h"

static void write_all(int fd, const char *s, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

int probe_job_start(struct probe_job *j, double kill_at, probe_job_fn fn, void *ud,
                    struct xu_error *err)
{
    int p[2];
    pid_t pid;

    j->fd = -1;
    j->pid = 0;
    j->kill_at = kill_at;
    if (pipe2(p, O_CLOEXEC) < 0)
        return xu_error_set(err, XU_EX_OSERR, "cannot create a pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return xu_error_set(err, XU_EX_TEMPFAIL, "cannot start a worker process: %s",
                            strerror(errno));
    }
    if (pid == 0) {
        json_t *doc;
        char *s;
        int rc;

        close(p[0]);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        doc = fn(ud);
        s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        if (s)
            write_all(p[1], s, strlen(s));
        close(p[1]);
        /* what this worker wrote to stdio (a --trace file): the parent's
         * buffers were flushed before the fork, so nothing is written twice */
        fflush(NULL);
        json_decref(doc);
        rc = s ? 0 : 70;
        free(s);
        /* no exit handlers, no flushing of the parent's stdio buffers */
        _exit(rc);
    }
    close(p[1]);
    j->pid = pid;
    j->fd = p[0];
    j->done = 0;
    j->killed = 0;
    j->len = 0;
    return 0;
}

static void reap(struct probe_job *j)
{
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    while (j->pid > 0 && waitpid(j->pid, &j->wstatus, 0) < 0 && errno == EINTR)
        ;
    j->pid = 0;
    j->done = 1;
}

int probe_job_read(struct probe_job *j)
{
    char buf[16384];
    ssize_t n;

    for (;;) {
        n = read(j->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0)
            break;
        if (j->len + (size_t)n + 1 > j->cap) {
            size_t cap = (j->len + (size_t)n + 1) * 2;
            char *p = realloc(j->out, cap);

            if (!p)
                break;
            j->out = p;
            j->cap = cap;
        }
        memcpy(j->out + j->len, buf, (size_t)n);
        j->len += (size_t)n;
        if ((size_t)n < sizeof buf)
            return 0; /* more later: back to poll */
    }
    reap(j);
    return 1;
}

void probe_job_kill(struct probe_job *j)
{
    if (j->pid > 0) {
        kill(j->pid, SIGKILL);
        j->killed = 1;
    }
    reap(j);
}

void probe_job_free(struct probe_job *j)
{
    if (j->pid > 0)
        probe_job_kill(j);
    free(j->out);
    j->out = NULL;
    j->len = j->cap = 0;
}

void probe_pool_run(struct probe_job *jobs, size_t n, unsigned parallel,
                    int (*start)(struct probe_job *j, size_t i, void *ud), void *ud)
{
    struct pollfd *pfd = calloc(parallel ? parallel : 1, sizeof *pfd);
    size_t *idx = calloc(parallel ? parallel : 1, sizeof *idx);
    size_t next = 0, running, i, k;
    double now, soonest;
    int ms;

    if (!pfd || !idx) {
        parallel = 1; /* still works, one at a time, without the arrays */
    }
    for (;;) {
        running = 0;
        for (i = 0; i < next; i++)
            running += !jobs[i].done;
        while (next < n && running < parallel) {
            if (start(&jobs[next], next, ud) != 0)
                jobs[next].done = 1;
            else
                running++;
            next++;
        }
        if (running == 0 && next == n)
            break;
        k = 0;
        now = xu_now();
        soonest = now + 3600;
        for (i = 0; i < next; i++) {
            if (jobs[i].done)
                continue;
            if (jobs[i].kill_at <= now) {
                probe_job_kill(&jobs[i]);
                continue;
            }
            if (jobs[i].kill_at < soonest)
                soonest = jobs[i].kill_at;
            if (pfd && k < parallel) {
                pfd[k].fd = jobs[i].fd;
                pfd[k].events = POLLIN;
                pfd[k].revents = 0;
                idx[k++] = i;
            }
        }
        if (k == 0)
            continue;
        ms = (int)((soonest - now) * 1000) + 1;
        if (poll(pfd, k, ms) <= 0)
            continue;
        for (i = 0; i < k; i++)
            if (pfd[i].revents)
                probe_job_read(&jobs[idx[i]]);
    }
    free(pfd);
    free(idx);
}

json_t *probe_report_json(const struct probe_report *r)
{
    json_t *doc = json_object();

    json_object_set(doc, "report", r->root);
    json_object_set_new(doc, "status", json_integer(r->status));
    json_object_set_new(doc, "threshold_failed", json_integer(r->threshold_failed));
    json_object_set_new(doc, "fatal_code", json_integer(r->fatal.code));
    json_object_set_new(doc, "fatal_msg", json_string(r->fatal.msg));
    return doc;
}

void probe_report_from_job(struct probe_report *r, const struct probe_job *j,
                           const char *domain, const char *mode, double timeout)
{
    json_t *doc = j->len ? json_loadb(j->out, j->len, 0, NULL) : NULL;
    json_t *rep = json_object_get(doc, "report");
    struct xu_error e = {0, ""};

    if (json_is_object(rep) && json_is_array(json_object_get(rep, "stages")) &&
        json_is_array(json_object_get(rep, "findings"))) {
        memset(r, 0, sizeof *r);
        r->root = json_incref(rep);
        r->stages = json_object_get(rep, "stages");
        r->findings = json_object_get(rep, "findings");
        r->status = (enum probe_status)json_integer_value(json_object_get(doc, "status"));
        if (r->status > PROBE_UNKNOWN)
            r->status = PROBE_UNKNOWN;
        r->threshold_failed = (int)json_integer_value(json_object_get(doc, "threshold_failed"));
        r->fatal.code = (int)json_integer_value(json_object_get(doc, "fatal_code"));
        snprintf(r->fatal.msg, sizeof r->fatal.msg, "%s",
                 json_string_value(json_object_get(doc, "fatal_msg"))
                     ? json_string_value(json_object_get(doc, "fatal_msg"))
                     : "");
        json_decref(doc);
        return;
    }
    json_decref(doc);
    probe_report_init(r, domain, mode);
    if (j->killed) {
        e.code = XU_EX_TEMPFAIL;
        snprintf(e.msg, sizeof e.msg, "no answer within the deadline (%.0f s)", timeout);
    } else {
        e.code = XU_EX_SOFTWARE;
        if (WIFSIGNALED(j->wstatus))
            snprintf(e.msg, sizeof e.msg, "the probe's worker process died (signal %d)",
                     WTERMSIG(j->wstatus));
        else
            snprintf(e.msg, sizeof e.msg, "the probe's worker process gave no report (exit %d)",
                     WEXITSTATUS(j->wstatus));
    }
    probe_fail(r, "deadline", -1, &e);
    probe_report_finish(r);
    json_object_set_new(r->root, "ms", probe_jms(timeout * 1000));
}

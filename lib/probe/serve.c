#include "probe/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/msg.h"
#include "probe/exporter_metrics.h"
#include "probe/pool.h"
#include "probe/report.h"
#include "xmpp/session.h"

#define MAX_QUEUED 1000       /* requests waiting or running; more get 503 */
#define SCRAPE_MARGIN 0.5     /* seconds left to Prometheus after the probe */

enum req_state { RQ_NEW, RQ_QUEUED, RQ_RUNNING, RQ_DONE };

struct req {
    struct MHD_Connection *conn;
    enum req_state state;
    struct probe_job job;
    struct probe_module mod;  /* copy, taken again at start: a reload frees the original */
    size_t mod_index;
    char target[600];
    double timeout, t0;
    double arrived;           /* the deadline counts from here: waiting for a slot uses it up */
    char *body;
    size_t blen;
    unsigned status;
    struct req *next;         /* queued or running */
};

struct server {
    const struct probe_serve_cfg *cfg;
    struct MHD_Daemon *d;
    struct probe_modules mods;
    unsigned long generation;
    struct probe_exporter_metrics metrics;
    struct req *list;
    size_t nreq, running;
    int stopping;
};

static int sig_pipe[2] = {-1, -1};

/* What a daemon says about itself: shown unless -q. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
    va_list ap;

    if (xu_verbosity < 0)
        return;
    fputs("xmpp-probe: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static void on_signal(int sig)
{
    unsigned char c = (unsigned char)sig;
    int e = errno;

    if (write(sig_pipe[1], &c, 1) < 0) {
        /* the pipe is full: a signal is pending anyway */
    }
    errno = e;
}

static enum MHD_Result reply(struct server *s, struct MHD_Connection *c, unsigned code,
                             const char *type, const char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    probe_exporter_count_http(&s->metrics, code);
    return rc;
}

/* A one-line reason (400, 403, 404, 503). */
static enum MHD_Result refuse(struct server *s, struct MHD_Connection *c, unsigned code,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result refuse(struct server *s, struct MHD_Connection *c, unsigned code,
                              const char *fmt, ...)
{
    char msg[700], clean[700];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg - 1, fmt, ap);
    va_end(ap);
    xu_sanitize_terminal(clean, sizeof clean - 1, msg);
    strcat(clean, "\n");
    return reply(s, c, code, "text/plain; charset=utf-8", clean, strlen(clean));
}

static const struct probe_module *find_module(struct server *s, const char *name, size_t *idx)
{
    size_t i;

    for (i = 0; i < s->mods.n; i++)
        if (strcmp(s->mods.m[i].name, name) == 0) {
            *idx = i;
            return &s->mods.m[i];
        }
    return NULL;
}

struct child_ctx {
    struct server *s;
    struct req *rq;
};

static json_t *child(void *ud)
{
    struct child_ctx *c = ud;

    /* the worker does not serve HTTP */
    return c->s->cfg->probe(c->s->cfg->ud, &c->rq->mod, c->rq->target, c->rq->timeout);
}

static const struct probe_module *find_module(struct server *s, const char *name, size_t *idx);

static void start(struct server *s, struct req *rq)
{
    struct child_ctx c = {s, rq};
    struct xu_error err = {0, ""};
    const struct probe_module *m;
    size_t idx;

    /* a reload while the request waited may have replaced its module */
    if ((m = find_module(s, rq->mod.name, &idx)) == NULL) {
        char msg[128];

        snprintf(msg, sizeof msg, "unknown module '%s' (gone with a reload)\n", rq->mod.name);
        rq->status = 400;
        rq->body = strdup(msg);
        rq->blen = rq->body ? strlen(rq->body) : 0;
        rq->state = RQ_DONE;
        MHD_resume_connection(rq->conn);
        return;
    }
    rq->mod = *m;

    rq->t0 = xu_now();
    /* what is left of the deadline after waiting for a free slot */
    rq->timeout -= rq->t0 - rq->arrived;
    if (rq->timeout < 0.1)
        rq->timeout = 0.1;
    if (probe_job_start(&rq->job, rq->t0 + rq->timeout + 1, child, &c, &err) != 0) {
        rq->status = 503;
        rq->body = strdup(err.msg);
        rq->blen = rq->body ? strlen(rq->body) : 0;
        rq->state = RQ_DONE;
        MHD_resume_connection(rq->conn);
        return;
    }
    rq->state = RQ_RUNNING;
    s->running++;
}

/* The worker is done (or was killed): the answer, the counters. */
static void finish(struct server *s, struct req *rq)
{
    struct probe_report r;
    struct probe_prom_opts po = {1, 0};
    const struct probe_report *rp = &r;
    double secs = xu_now() - rq->t0;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp;

    probe_report_from_job(&r, &rq->job, "", "", rq->timeout);
    probe_job_free(&rq->job);
    s->running--;
    fp = open_memstream(&buf, &len);
    if (fp) {
        probe_write_prometheus_many(&rp, 1, &po, fp);
        fclose(fp);
    }
    rq->body = buf;
    rq->blen = buf ? len : 0;
    rq->status = buf ? 200 : 500;
    probe_exporter_count_probe(&s->metrics, rq->mod.name, secs, r.status > PROBE_WARNING);
    probe_report_free(&r);
    rq->state = RQ_DONE;
    MHD_resume_connection(rq->conn);
}

static void unlink_req(struct server *s, struct req *rq)
{
    struct req **p;

    for (p = &s->list; *p; p = &(*p)->next)
        if (*p == rq) {
            *p = rq->next;
            s->nreq--;
            return;
        }
}

static double scrape_timeout(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                "X-Prometheus-Scrape-Timeout-Seconds");
    char *end;
    double v;

    if (!h)
        return 0;
    v = strtod(h, &end);
    if (end == h || *end || !isfinite(v) || v <= 0)
        return 0;
    /* leave Prometheus a margin to receive the answer */
    return v > 2 * SCRAPE_MARGIN ? v - SCRAPE_MARGIN : v / 2;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    struct req *rq = *con_cls;
    const struct probe_module *m;
    const char *target, *module;
    char why[512];
    double st;
    size_t idx = 0;
    int i, ok;

    (void)version;
    (void)upload;
    if (rq) {
        if (rq->state == RQ_DONE)
            return reply(s, c, rq->status,
                         rq->status == 200 ? "text/plain; version=0.0.4; charset=utf-8"
                                           : "text/plain; charset=utf-8",
                         rq->body ? rq->body : "", rq->blen);
        if (rq->state != RQ_NEW)
            return MHD_YES;
        rq->state = RQ_QUEUED;
        MHD_suspend_connection(c);
        if (s->running < s->cfg->parallel)
            start(s, rq);
        return MHD_YES;
    }
    if (*upload_size)
        return refuse(s, c, 400, "a request body is not expected");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return refuse(s, c, 405, "only GET is served");
    if (strcmp(url, "/metrics") == 0) {
        char *buf = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&buf, &len);
        enum MHD_Result rc;

        if (!fp)
            return MHD_NO;
        probe_exporter_write_metrics(&s->metrics, s->running, s->nreq - s->running, s->mods.n,
                                     fp);
        fclose(fp);
        rc = reply(s, c, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
        free(buf);
        return rc;
    }
    if (strcmp(url, "/") == 0) {
        static const char page[] = "xmpp-probe exporter: GET /probe?target=DOMAIN&module=NAME, GET /metrics\n";
        return reply(s, c, 200, "text/plain; charset=utf-8", page, sizeof page - 1);
    }
    if (strcmp(url, "/probe") != 0)
        return refuse(s, c, 404, "not found: try /probe?target=DOMAIN or /metrics");
    if (s->stopping)
        return refuse(s, c, 503, "shutting down");
    target = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "target");
    module = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "module");
    if (!target || !*target)
        return refuse(s, c, 400, "missing parameter 'target' (e.g. /probe?target=example.org)");
    if (strlen(target) >= sizeof rq->target)
        return refuse(s, c, 400, "the target is too long");
    if (s->cfg->check_target(s->cfg->ud, target, why, sizeof why) != 0)
        return refuse(s, c, 400, "%s", why);
    if (!module || !*module)
        module = "default";
    m = find_module(s, module, &idx);
    if (!m)
        return refuse(s, c, 400, "unknown module '%.64s'", module);
    for (i = 0, ok = s->cfg->nallow == 0; i < s->cfg->nallow && !ok; i++)
        ok = fnmatch(s->cfg->allow[i], target, 0) == 0;
    if (!ok)
        return refuse(s, c, 403, "target '%s' is not allowed here (--allow-target)", target);
    if (s->nreq >= MAX_QUEUED)
        return refuse(s, c, 503, "too many probes waiting (%d)", MAX_QUEUED);
    rq = calloc(1, sizeof *rq);
    if (!rq)
        return refuse(s, c, 503, "out of memory");
    rq->conn = c;
    rq->mod = *m;
    rq->mod_index = idx;
    rq->job.fd = -1;
    snprintf(rq->target, sizeof rq->target, "%s", target);
    rq->timeout = m->timeout;
    rq->arrived = xu_now();
    st = scrape_timeout(c);
    if (st > 0 && st < rq->timeout)
        rq->timeout = st;
    rq->next = s->list;
    s->list = rq;
    s->nreq++;
    *con_cls = rq;
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct req *rq = *con_cls;

    (void)c;
    (void)toe;
    if (!rq)
        return;
    if (rq->state == RQ_RUNNING) {
        probe_job_free(&rq->job);
        s->running--;
    }
    unlink_req(s, rq);
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

static void free_modules(struct server *s, struct probe_modules *m)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        s->cfg->free_module(s->cfg->ud, &m->m[i]);
    free(m->m);
    m->m = NULL;
    m->n = 0;
}

static int load(struct server *s, struct xu_error *err)
{
    struct probe_modules m = {NULL, 0};
    int rc = s->cfg->load(s->cfg->ud, &m, err);

    if (rc) {
        free_modules(s, &m);
        s->metrics.reload_ok = 0;
        return rc;
    }
    /* a request holds a copy of its module's description, not its config:
     * a running probe keeps what it was started with (it is in its worker) */
    free_modules(s, &s->mods);
    s->mods = m;
    s->generation++;
    s->metrics.reload_ok = 1;
    s->metrics.reload_time = (double)time(NULL);
    return 0;
}

static int parse_listen(const char *spec, struct sockaddr_storage *ss, int *v6, struct xu_error *err)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    unsigned long port;
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    if (colon)
        snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
    else
        snprintf(host, sizeof host, "127.0.0.1");
    if (xu_parse_uint(colon ? colon + 1 : spec, 0, 65535, &port) < 0)
        return xu_error_set(err, XU_EX_USAGE, "--serve '%s': expected [ADDR:]PORT", spec);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (!host[0])
        snprintf(host, sizeof host, "0.0.0.0");
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((unsigned short)port);
        *v6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)port);
        *v6 = 1;
        return 0;
    }
    return xu_error_set(err, XU_EX_USAGE, "--serve '%s': '%s' is not an IP address", spec, host);
}

/* xu_parse_uint lives in opts.h */
#include "base/opts.h"

int probe_serve_run(const struct probe_serve_cfg *cfg, struct xu_error *err)
{
    struct server *s = calloc(1, sizeof *s);
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    struct pollfd *pfd = NULL;
    struct req **idx = NULL, *rq, *nx;
    struct sigaction sa;
    unsigned long long mt;
    size_t k, i, cap = 0;
    double now, soonest;
    int v6 = 0, rc = 0, efd, ms;
    unsigned char sig;
    char addr[INET6_ADDRSTRLEN];

    if (!s)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    s->cfg = cfg;
    if ((rc = parse_listen(cfg->listen, &ss, &v6, err)) != 0 || (rc = load(s, err)) != 0) {
        free_modules(s, &s->mods);
        free(s);
        return rc;
    }
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        free_modules(s, &s->mods);
        free(s);
        return xu_error_set(err, XU_EX_OSERR, "cannot create a pipe: %s", strerror(errno));
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    s->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | (v6 ? MHD_USE_IPv6 : 0),
                            0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(MAX_QUEUED + 64),
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
                            MHD_OPTION_END);
    if (!s->d) {
        rc = xu_error_set(err, XU_EX_UNAVAILABLE, "cannot listen on %s: %s", cfg->listen,
                          strerror(errno));
        goto out;
    }
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
    say("listening on %s%s%s:%u with %zu module%s", v6 ? "[" : "", addr, v6 ? "]" : "",
            info ? (unsigned)info->port : 0, s->mods.n, s->mods.n == 1 ? "" : "s");
    fflush(stderr);
    efd = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
    while (!s->stopping) {
        if (cap < s->running + 2) {
            cap = s->running + 64;
            free(pfd);
            free(idx);
            pfd = calloc(cap, sizeof *pfd);
            idx = calloc(cap, sizeof *idx);
            if (!pfd || !idx) {
                rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
                break;
            }
        }
        pfd[0].fd = efd;
        pfd[0].events = POLLIN;
        pfd[1].fd = sig_pipe[0];
        pfd[1].events = POLLIN;
        k = 2;
        now = xu_now();
        soonest = now + 3600;
        for (rq = s->list; rq; rq = nx) {
            nx = rq->next;
            if (rq->state != RQ_RUNNING)
                continue;
            if (rq->job.kill_at <= now) {
                probe_job_kill(&rq->job);
                finish(s, rq);
                continue;
            }
            if (rq->job.kill_at < soonest)
                soonest = rq->job.kill_at;
            pfd[k].fd = rq->job.fd;
            pfd[k].events = POLLIN;
            idx[k++] = rq;
        }
        /* free slots go to the oldest waiting requests (the list is newest first) */
        while (s->running < cfg->parallel) {
            struct req *oldest = NULL;

            for (rq = s->list; rq; rq = rq->next)
                if (rq->state == RQ_QUEUED)
                    oldest = rq;
            if (!oldest)
                break;
            start(s, oldest);
            soonest = now; /* poll its pipe on the next round */
        }
        ms = (int)((soonest - now) * 1000) + 1;
        if (MHD_get_timeout(s->d, &mt) == MHD_YES && mt < (unsigned long long)ms)
            ms = (int)mt;
        for (i = 2; i < k; i++)
            pfd[i].revents = 0;
        pfd[0].revents = pfd[1].revents = 0;
        if (poll(pfd, k, ms) < 0 && errno != EINTR) {
            rc = xu_error_set(err, XU_EX_OSERR, "poll: %s", strerror(errno));
            break;
        }
        for (i = 2; i < k; i++)
            if (pfd[i].revents && idx[i]->state == RQ_RUNNING && probe_job_read(&idx[i]->job))
                finish(s, idx[i]);
        while (read(sig_pipe[0], &sig, 1) == 1) {
            if (sig == SIGHUP) {
                struct xu_error e = {0, ""};

                if (load(s, &e) == 0)
                    say("config reloaded: %zu module%s", s->mods.n, s->mods.n == 1 ? "" : "s");
                else
                    xu_warn("config reload failed, still serving the previous config: %s", e.msg);
                fflush(stderr);
            } else {
                s->stopping = 1;
            }
        }
        MHD_run(s->d);
    }
    /* SIGTERM: stop the workers, answer what is pending, close */
    for (rq = s->list; rq; rq = rq->next) {
        if (rq->state == RQ_RUNNING) {
            probe_job_kill(&rq->job);
            finish(s, rq);
        } else if (rq->state == RQ_QUEUED) {
            rq->status = 503;
            rq->body = strdup("shutting down\n");
            rq->blen = rq->body ? strlen(rq->body) : 0;
            rq->state = RQ_DONE;
            MHD_resume_connection(rq->conn);
        }
    }
    for (i = 0; i < 20 && s->list; i++) {
        MHD_run(s->d);
        usleep(10000);
    }
    say("stopped");
out:
    if (s->d)
        MHD_stop_daemon(s->d);
    free(pfd);
    free(idx);
    free_modules(s, &s->mods);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    free(s);
    return rc;
}

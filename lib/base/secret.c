#include "base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SECRET_MAX 4096
/* a passwordeval command's deadline when the run has none (--timeout 0) */
#define EVAL_DEFAULT_LIMIT 30.0

void xu_secret_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Keep the first line of buf[0..len): cut at the first newline. */
static char *first_line(char *buf, size_t len)
{
    size_t n = strcspn(buf, "\r\n");
    char *s;

    if (n > len)
        n = len;
    s = strndup(buf, n);
    explicit_bzero(buf, len);
    return s;
}

static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
    ssize_t r;

    *len = 0;
    while (*len < cap - 1) {
        r = read(fd, buf + *len, cap - 1 - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        *len += (size_t)r;
    }
    buf[*len] = '\0';
    return 0;
}

int xu_secret_read_file(const char *path, const char *what, char **out,
                        struct xu_error *err)
{
    char buf[SECRET_MAX];
    size_t len;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return xu_error_set(err, XU_EX_CONFIG, "cannot read %s file %s: %s", what, path,
                            strerror(errno));
    if (read_all(fd, buf, sizeof buf, &len) < 0) {
        int e = errno;
        close(fd);
        return xu_error_set(err, XU_EX_CONFIG, "cannot read %s file %s: %s", what, path,
                            strerror(e));
    }
    close(fd);
    *out = first_line(buf, len);
    if (!*out)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (**out == '\0') {
        free(*out);
        *out = NULL;
        return xu_error_set(err, XU_EX_CONFIG, "%s file %s is empty", what, path);
    }
    return 0;
}

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How long the command may run: the run's --timeout (EVAL_DEFAULT_LIMIT
 * when there is none), and never past the run's own deadline alarm when
 * one is armed (half a second before it, so that our message is the one
 * the user sees). */
static double eval_limit(const struct xu_opts *o)
{
    struct itimerval it;
    double limit = o->timeout > 0 ? o->timeout : EVAL_DEFAULT_LIMIT, left;

    if (getitimer(ITIMER_REAL, &it) == 0 && (it.it_value.tv_sec || it.it_value.tv_usec)) {
        left = (double)it.it_value.tv_sec + (double)it.it_value.tv_usec / 1e6 - 0.5;
        if (left < limit)
            limit = left > 0.1 ? left : 0.1;
    }
    return limit;
}

/* The command's process group: SIGTERM, a second for the shell to go, then
 * SIGKILL to the whole group, and the shell reaped. The shell is reaped
 * only after the last signal: while it is a zombie its pid, the group's id,
 * cannot be reused, so the signals cannot reach another process. */
static void kill_group(pid_t pid, int *status)
{
    siginfo_t si;
    double end;

    kill(-pid, SIGTERM);
    end = mono_now() + 1.0;
    for (;;) {
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno != EINTR)
            break;
        if (si.si_pid == pid || mono_now() >= end)
            break;
        usleep(10000);
    }
    kill(-pid, SIGKILL); /* the children that outlived it, or it */
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* Run the command with sh -c in its own process group, stdin from
 * /dev/null (ours carries data), stderr passed through so its own prompts
 * and errors stay visible. Everything it prints is read (what follows the
 * first line is discarded, so it never dies of SIGPIPE); past its deadline
 * the whole group is killed. */
static int eval_command(const struct xu_opts *o, char **out, struct xu_error *err)
{
    const char *cmd = o->pw_value;
    char buf[SECRET_MAX], sink[4096];
    size_t len = 0;
    int pipefd[2], status = 0, devnull, timed_out = 0, too_long = 0, rc = 0, reaped = 0;
    int read_errno = 0;
    double limit = eval_limit(o), end;
    struct pollfd pfd;
    pid_t pid;
    ssize_t r;

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return xu_error_set(err, XU_EX_OSERR, "passwordeval: pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return xu_error_set(err, XU_EX_OSERR, "passwordeval: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pipefd[1], 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no window in which a kill misses it */
    close(pipefd[1]);
    end = mono_now() + limit;
    pfd.fd = pipefd[0];
    pfd.events = POLLIN;
    for (;;) {
        double left = end - mono_now();
        int n;

        if (left <= 0) {
            timed_out = 1;
            break;
        }
        n = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -1;
            read_errno = errno;
            break;
        }
        if (n == 0)
            continue;
        if (len < sizeof buf - 1)
            r = read(pipefd[0], buf + len, sizeof buf - 1 - len);
        else
            r = read(pipefd[0], sink, sizeof sink);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0) {
            rc = -1;
            read_errno = errno;
            break;
        }
        if (r == 0)
            break;
        if (len < sizeof buf - 1) {
            len += (size_t)r;
            buf[len] = '\0';
        } else if (!memchr(buf, '\n', len)) {
            too_long = 1; /* no end of the first line in the buffer */
        }
    }
    explicit_bzero(sink, sizeof sink);
    close(pipefd[0]);
    buf[len] = '\0';
    /* stdout closed: the shell still has until the deadline to exit (what
     * it leaves running with its output elsewhere is the user's) */
    while (!timed_out) {
        pid_t w = waitpid(pid, &status, WNOHANG);

        if (w == pid || (w < 0 && errno != EINTR)) {
            reaped = 1;
            break;
        }
        if (mono_now() >= end) {
            timed_out = 1;
            break;
        }
        usleep(10000);
    }
    if (!reaped)
        kill_group(pid, &status);
    if (timed_out) {
        explicit_bzero(buf, sizeof buf);
        return xu_error_set(err, XU_EX_TEMPFAIL,
                            "passwordeval command did not finish within %g s: "
                            "it was killed, with the processes it started",
                            limit);
    }
    if (rc < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        explicit_bzero(buf, sizeof buf);
        if (rc < 0)
            return xu_error_set(err, XU_EX_OSERR, "passwordeval: reading its output: %s",
                                strerror(read_errno));
        if (WIFEXITED(status))
            return xu_error_set(err, XU_EX_CONFIG, "passwordeval command failed (exit status %d)",
                                WEXITSTATUS(status));
        return xu_error_set(err, XU_EX_CONFIG, "passwordeval command was killed by signal %d",
                            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    if (too_long) {
        explicit_bzero(buf, sizeof buf);
        return xu_error_set(err, XU_EX_CONFIG,
                            "passwordeval command printed a first line longer than %d bytes",
                            SECRET_MAX - 1);
    }
    *out = first_line(buf, len);
    if (!*out)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (**out == '\0') {
        free(*out);
        *out = NULL;
        return xu_error_set(err, XU_EX_CONFIG, "passwordeval command printed no password");
    }
    return 0;
}

static int prompt_tty(const char *jid, char **out, struct xu_error *err)
{
    char buf[SECRET_MAX];
    struct termios old, noecho;
    size_t len = 0;
    int fd, echo_off;
    char c;
    ssize_t r;

    fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return xu_error_set(err, XU_EX_CONFIG,
                            "no password for %s: set password_file or passwordeval "
                            "(option or config), or XMPP_PASSWORD, or run on a terminal",
                            jid ? jid : "the account");
    dprintf(fd, "Password for %s: ", jid ? jid : "the account");
    echo_off = tcgetattr(fd, &old) == 0;
    if (echo_off) {
        noecho = old;
        noecho.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &noecho);
    }
    while (len < sizeof buf - 1) {
        r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n' || c == '\r')
            break;
        buf[len++] = c;
    }
    buf[len] = '\0';
    if (echo_off)
        tcsetattr(fd, TCSAFLUSH, &old);
    dprintf(fd, "\n");
    close(fd);
    *out = first_line(buf, len);
    explicit_bzero(&c, sizeof c);
    if (!*out)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (**out == '\0') {
        free(*out);
        *out = NULL;
        return xu_error_set(err, XU_EX_CONFIG, "empty password");
    }
    return 0;
}

int xu_password_get(const struct xu_opts *o, const char *jid, char **out,
                    struct xu_error *err)
{
    const char *env;

    *out = NULL;
    switch (o->pw_source) {
    case XU_PW_CONFIG:
        *out = strdup(o->pw_value);
        return *out ? 0 : xu_error_set(err, XU_EX_OSERR, "out of memory");
    case XU_PW_FILE:
        return xu_secret_read_file(o->pw_value, "password", out, err);
    case XU_PW_EVAL:
        return eval_command(o, out, err);
    case XU_PW_NONE:
        break;
    }
    env = getenv("XMPP_PASSWORD");
    if (env && *env) {
        *out = strdup(env);
        return *out ? 0 : xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    return prompt_tty(jid, out, err);
}

int xu_password_keep(struct xu_opts *o, struct xu_error *err)
{
    char *pw = NULL;
    int rc;

    if (o->component || !o->jid || !strchr(o->jid, '@') || o->pw_source == XU_PW_CONFIG)
        return 0;
    rc = xu_password_get(o, o->jid, &pw, err);
    if (rc)
        return rc;
    xu_secret_free(o->pw_value);
    o->pw_value = pw;
    o->pw_source = XU_PW_CONFIG;
    return 0;
}

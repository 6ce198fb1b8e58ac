#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define SECRET_MAX 4096

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

/* Run the command with sh -c, stdin from /dev/null (ours carries data),
 * stderr passed through so its own prompts and errors stay visible. */
static int eval_command(const char *cmd, char **out, struct xu_error *err)
{
    char buf[SECRET_MAX];
    size_t len = 0;
    int pipefd[2], status, devnull, rc;
    pid_t pid;

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return xu_error_set(err, XU_EX_OSERR, "passwordeval: pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return xu_error_set(err, XU_EX_OSERR, "passwordeval: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pipefd[1], 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    rc = read_all(pipefd[0], buf, sizeof buf, &len);
    close(pipefd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        explicit_bzero(buf, sizeof buf);
        if (WIFEXITED(status))
            return xu_error_set(err, XU_EX_CONFIG, "passwordeval command failed (exit status %d)",
                                WEXITSTATUS(status));
        return xu_error_set(err, XU_EX_CONFIG, "passwordeval command was killed");
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
        return eval_command(o->pw_value, out, err);
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

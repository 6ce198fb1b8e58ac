#include "base/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/msg.h"

struct xu_trace {
    FILE *fp;
    char *path;
    int own;
};

int xu_trace_open(struct xu_trace **t, const char *path, struct xu_error *err)
{
    /* a reconnecting tool opens it once per session: keep the earlier ones */
    static int opened;
    struct stat st;
    int fd, e;

    *t = calloc(1, sizeof **t);
    if (!*t)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    (*t)->path = strdup(path);
    if (!(*t)->path) {
        free(*t);
        *t = NULL;
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    if (strcmp(path, "-") == 0) {
        (*t)->fp = stderr;
        return 0;
    }
    /* Only the owner may read a trace: it holds every message, the JIDs and
     * the server's answers (the credentials are redacted). A new file is
     * created 0600; an existing regular file is made 0600 before a byte is
     * written (not truncated at open: its old mode must not see the new
     * content), and its old content replaced with a word on stderr. Devices
     * and FIFOs (/dev/stderr, a pipe to a logger) are written as they are. */
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        e = errno;
        goto fail;
    }
    if (fstat(fd, &st) < 0) {
        e = errno;
        close(fd);
        goto fail;
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 077) && fchmod(fd, 0600) < 0) {
        e = errno;
        close(fd);
        free((*t)->path);
        free(*t);
        *t = NULL;
        return xu_error_set(err, XU_EX_CONFIG,
                            "trace file %s is readable by others (mode %03o) and cannot be "
                            "made private: %s",
                            path, (unsigned)(st.st_mode & 0777), strerror(e));
    }
    if (S_ISREG(st.st_mode) && !opened && st.st_size > 0) {
        if (ftruncate(fd, 0) < 0) {
            e = errno;
            close(fd);
            goto fail;
        }
        xu_warn("trace file %s existed: its %lld bytes are replaced", path,
                (long long)st.st_size);
    }
    (*t)->fp = fdopen(fd, "a");
    if (!(*t)->fp) {
        e = errno;
        close(fd);
        goto fail;
    }
    (*t)->own = 1;
    opened = 1;
    return 0;
fail:
    free((*t)->path);
    free(*t);
    *t = NULL;
    return xu_error_set(err, XU_EX_CONFIG, "cannot write trace file %s: %s", path, strerror(e));
}

/* A write error (a full disk, /dev/full) is said once; the run goes on. */
static void check_write(struct xu_trace *t)
{
    static int said; /* once per run, not per reconnect */

    if (fflush(t->fp) == 0 && !ferror(t->fp))
        return;
    if (!said)
        fprintf(stderr, "%s: cannot write trace file %s: %s; the transcript is incomplete\n",
                xu_progname, t->path, strerror(errno ? errno : EIO));
    said = 1;
    clearerr(t->fp);
}

void xu_trace_close(struct xu_trace *t)
{
    if (!t)
        return;
    if (t->own) {
        check_write(t);
        fclose(t->fp);
    }
    else
        fflush(t->fp);
    free(t->path);
    free(t);
}

/* Elements whose text is a credential or derived from one. The server's
 * SASL challenge and success carry the SCRAM salt, iteration count and
 * server signature: enough for an offline dictionary attack. */
static const char *const secret_elements[] = {"auth", "response", "challenge", "success",
                                              "handshake", "password", "digest",
                                              "header", /* XEP-0363 slot: Authorization, Cookie */
                                              NULL};

static int name_end(char c)
{
    return c == '>' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/';
}

static size_t secret_at(const char *p)
{
    size_t i, n;

    if (*p != '<')
        return 0;
    p++;
    /* skip a namespace prefix, e.g. <sasl:auth> */
    for (i = 0; secret_elements[i]; i++) {
        const char *name = p, *colon = strpbrk(p, ": \t/>");
        if (colon && *colon == ':')
            name = colon + 1;
        n = strlen(secret_elements[i]);
        if (strncmp(name, secret_elements[i], n) == 0 && name[n] && name_end(name[n]))
            return 1;
    }
    return 0;
}

/* The end tag matching the element named name[0..n) whose content starts
 * at p (elements of the same name nested inside counted), or NULL. */
static const char *matching_end(const char *p, const char *name, size_t n)
{
    int depth = 1;
    const char *gt;

    while ((p = strchr(p, '<')) != NULL) {
        if (p[1] == '/' && strncmp(p + 2, name, n) == 0 && name_end(p[2 + n])) {
            if (--depth == 0)
                return p;
        } else if (strncmp(p + 1, name, n) == 0 && name_end(p[1 + n])) {
            gt = strchr(p, '>');
            if (!gt)
                return NULL;
            if (gt[-1] != '/')
                depth++;
        }
        p++;
    }
    return NULL;
}

char *xu_trace_redact(const char *data)
{
    static const char mark[] = "[redacted]";
    size_t len = strlen(data), n;
    char *out = malloc(len + sizeof mark * (len / 8 + 1) + 1), *o = out;
    const char *p = data, *gt, *end;

    if (!out)
        return NULL;
    while (*p) {
        if (secret_at(p)) {
            gt = strchr(p, '>');
            if (!gt) {
                strcpy(o, p);
                o += strlen(p);
                break;
            }
            memcpy(o, p, (size_t)(gt - p + 1));
            o += gt - p + 1;
            if (gt[-1] == '/') {
                p = gt + 1;
                continue; /* empty element */
            }
            /* everything up to the matching end tag, child elements
             * included; without one, everything that follows */
            n = strcspn(p + 1, " \t\r\n/>");
            end = matching_end(gt + 1, p + 1, n);
            if (!end)
                end = gt + 1 + strlen(gt + 1);
            if (end > gt + 1) {
                memcpy(o, mark, sizeof mark - 1);
                o += sizeof mark - 1;
            }
            p = end;
            if (*p)
                *o++ = *p++; /* the '<' of the end tag: not a secret start */
            continue;
        }
        *o++ = *p++;
    }
    *o = '\0';
    return out;
}

static void write_lines(struct xu_trace *t, const char *prefix, const char *data)
{
    const char *nl;

    do {
        nl = strchr(data, '\n');
        fprintf(t->fp, "%s%.*s\n", prefix, nl ? (int)(nl - data) : (int)strlen(data), data);
        data = nl ? nl + 1 : NULL;
    } while (data && *data);
    check_write(t);
}

static void dir(struct xu_trace *t, const char *prefix, const char *data)
{
    char *clean;

    if (!t)
        return;
    clean = xu_trace_redact(data);
    write_lines(t, prefix, clean ? clean : "[unprintable]");
    free(clean);
}

void xu_trace_sent(struct xu_trace *t, const char *data)
{
    dir(t, "C: ", data);
}

void xu_trace_recv(struct xu_trace *t, const char *data)
{
    dir(t, "S: ", data);
}

void xu_trace_info(struct xu_trace *t, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (!t)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    write_lines(t, "* ", buf);
}

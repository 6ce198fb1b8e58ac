#include "trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct xu_trace {
    FILE *fp;
    int own;
};

int xu_trace_open(struct xu_trace **t, const char *path, struct xu_error *err)
{
    /* a reconnecting tool opens it once per session: keep the earlier ones */
    static int opened;

    *t = calloc(1, sizeof **t);
    if (!*t)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (strcmp(path, "-") == 0) {
        (*t)->fp = stderr;
        return 0;
    }
    (*t)->fp = fopen(path, opened ? "ae" : "we");
    if (!(*t)->fp) {
        int e = errno;
        free(*t);
        *t = NULL;
        return xu_error_set(err, XU_EX_CONFIG, "cannot write trace file %s: %s",
                            path, strerror(e));
    }
    (*t)->own = 1;
    opened = 1;
    return 0;
}

void xu_trace_close(struct xu_trace *t)
{
    if (!t)
        return;
    if (t->own)
        fclose(t->fp);
    else
        fflush(t->fp);
    free(t);
}

/* Elements whose text is a credential or derived from one. The server's
 * SASL challenge and success carry the SCRAM salt, iteration count and
 * server signature: enough for an offline dictionary attack. */
static const char *const secret_elements[] = {"auth", "response", "challenge", "success",
                                              "handshake", "password", "digest", NULL};

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
        if (strncmp(name, secret_elements[i], n) == 0 &&
            (name[n] == '>' || name[n] == ' ' || name[n] == '\t' || name[n] == '/' ||
             name[n] == '\n'))
            return 1;
    }
    return 0;
}

char *xu_trace_redact(const char *data)
{
    static const char mark[] = "[redacted]";
    size_t len = strlen(data);
    char *out = malloc(len + sizeof mark * (len / 8 + 1) + 1), *o = out;
    const char *p = data, *gt, *lt;

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
            p = gt + 1;
            if (gt > data && gt[-1] == '/')
                continue; /* empty element */
            lt = strchr(p, '<');
            if (!lt)
                lt = p + strlen(p);
            if (lt > p) {
                memcpy(o, mark, sizeof mark - 1);
                o += sizeof mark - 1;
            }
            p = lt;
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
    fflush(t->fp);
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

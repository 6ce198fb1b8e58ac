/* xmpp-send's option values that need more than the table's typed store
 * (send.h): checked texts, --rate's units, numbers whose messages the man
 * page shows, and the --file list. */
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "send/send.h"

/* "N", "N/s", "N/min" (or "N/m"), "N/h": messages per second. */
static int parse_rate(const char *arg, double *rate)
{
    char num[32];
    const char *slash = strchr(arg, '/');
    size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
    unsigned long v;
    double per = 1;

    if (n == 0 || n >= sizeof num)
        return -1;
    memcpy(num, arg, n);
    num[n] = '\0';
    if (xu_parse_uint(num, 0, 100000, &v) < 0)
        return -1;
    if (slash && strcmp(slash, "/s") != 0) {
        if (strcmp(slash, "/min") == 0 || strcmp(slash, "/m") == 0)
            per = 60;
        else if (strcmp(slash, "/h") == 0)
            per = 3600;
        else
            return -1;
    }
    *rate = (double)v / per;
    return 0;
}

/* --file and the --file-name/--file-type that go with it: they apply to the
 * --file before them, or (given before any) to the first. */
static int add_file(struct xu_send_cfg *c, int id, const char *arg, struct xu_error *err)
{
    struct xu_upload_file *f, *last = c->nfiles ? &c->files[c->nfiles - 1] : NULL;
    size_t n = strlen(arg);

    if (id == XU_SEND_FILE) {
        if (!*arg)
            return xu_error_set(err, XU_EX_USAGE, "--file needs a path ('-' for standard input)");
        for (n = 0; strcmp(arg, "-") == 0 && n < (size_t)c->nfiles; n++)
            if (strcmp(c->files[n].path, "-") == 0)
                return xu_error_set(err, XU_EX_USAGE, "--file - can be given only once");
        f = realloc(c->files, (size_t)(c->nfiles + 1) * sizeof *f);
        if (!f)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        c->files = f;
        f = &f[c->nfiles++];
        memset(f, 0, sizeof *f);
        f->path = arg;
        f->name = c->pending_name;
        f->type = c->pending_type;
        c->pending_name = c->pending_type = NULL;
        return 0;
    }
    if (id == XU_SEND_FILE_NAME) {
        if (!*arg || n > 255 || strchr(arg, '/') || !xu_text_is_clean(arg, n) ||
            strpbrk(arg, "\t\r\n"))
            return xu_error_set(err, XU_EX_USAGE,
                                "--file-name needs a printable name without '/' of at most 255 bytes");
        if (last && !last->name)
            last->name = arg;
        else
            c->pending_name = arg;
        return 0;
    }
    /* type/subtype, RFC 6838 characters */
    if (n > 127 || !strchr(arg, '/') || strchr(arg, '/') == arg || !strchr(arg, '/')[1] ||
        strchr(strchr(arg, '/') + 1, '/') ||
        strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&^_.+-/") != n)
        return xu_error_set(err, XU_EX_USAGE, "--file-type needs a MIME type such as image/png, not '%s'",
                            arg);
    if (last && !last->type)
        last->type = arg;
    else
        c->pending_type = arg;
    return 0;
}

/* Not empty, clean text (no control characters), at most max bytes. */
static int printable(const char *arg, size_t max)
{
    return *arg && xu_text_is_clean(arg, strlen(arg)) && strlen(arg) <= max;
}

int xu_send_option(void *cfg, int id, const char *arg, int from_config, struct xu_error *err)
{
    struct xu_send_cfg *c = cfg;
    int code = from_config ? XU_EX_CONFIG : XU_EX_USAGE;
    unsigned long n;

    switch (id) {
    /* stored by the table; checked here */
    case XU_SEND_TYPE:
        return strcmp(arg, "chat") && strcmp(arg, "normal") && strcmp(arg, "headline") &&
                       strcmp(arg, "groupchat")
                   ? xu_error_set(err, code,
                                  "--type must be chat, normal, headline or groupchat, not '%s'", arg)
                   : 0;
    case XU_SEND_THREAD:
        return printable(arg, 256) ? 0 : xu_error_set(err, code, "--thread needs a printable id of at most 256 bytes");
    case XU_SEND_LANG:
        return *arg && strlen(arg) <= 35 &&
                       strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") ==
                           strlen(arg)
                   ? 0
                   : xu_error_set(err, code, "--lang needs a language tag such as en or pt-BR, not '%s'", arg);
    case XU_SEND_NICK:
        return printable(arg, 1023) ? 0 : xu_error_set(err, code, "--nick needs a printable nickname");
    /* checked and stored here */
    case XU_SEND_RATE:
        if (parse_rate(arg, &c->d.rate) < 0)
            return xu_error_set(err, code,
                                "--rate must be a number of messages from 0 to 100000, optionally "
                                "per s, min or h (e.g. 5, 30/min), not '%s'", arg);
        return 0;
    case XU_SEND_BATCH:
        if (xu_parse_duration(arg, 0, 3600, &c->d.batch) < 0)
            return xu_error_set(err, code,
                                "--batch must be a duration from 0 to 1 hour (e.g. 2s, 500ms), not '%s'",
                                arg);
        return 0;
    case XU_SEND_MAX_SIZE:
        if (xu_parse_uint(arg, 16, 16u << 20, &n) < 0)
            return xu_error_set(err, code, "--max-size must be a number of bytes from 16 to 16777216, not '%s'",
                                arg);
        c->d.max_size = n;
        return 0;
    case XU_SEND_BUFFER:
        if (xu_parse_uint(arg, 1, 10000000, &n) < 0)
            return xu_error_set(err, code, "--buffer must be a number from 1 to 10000000, not '%s'", arg);
        c->d.buffer = n;
        return 0;
    case XU_SEND_RETRY:
        if (xu_parse_uint(arg, 0, 1000000, &n) < 0)
            return xu_error_set(err, code, "--retry must be a number from 0 to 1000000, not '%s'", arg);
        c->d.retry = (long)n;
        return 0;
    case XU_SEND_FILE:
    case XU_SEND_FILE_NAME:
    case XU_SEND_FILE_TYPE:
        return add_file(c, id, arg, err);
    }
    return 0; /* a flag or a text the table stored, nothing to check */
}

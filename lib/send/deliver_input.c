/* The delivery engine's input (deliver_int.h): standard input read as it
 * comes, cut into lines or parsed into stanzas, cleaned, and put in the
 * outbox; a full outbox stops the reading, except during an outage, when
 * the oldest are dropped so that the writer is never stalled. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/msg.h"
#include "send/deliver_int.h"
#include "xmpp/outgoing.h"
#include "xml/stanza_out.h"

/* ---- input ---- */

/* While the server is unreachable (after a failed or lost connection, until
 * the next one is up), input keeps being read and a full buffer drops its
 * oldest lines, so that a writer is never stalled by an outage; otherwise
 * a full buffer stops the reading and the writer waits. */
static int may_drop(const struct engine *e)
{
    return e->outage && e->state != UP;
}

static void warn_fixes(struct engine *e, unsigned long before)
{
    unsigned long now = e->fixes.ansi + e->fixes.control + e->fixes.badutf8;

    if (now > before && !e->warned_fixes) {
        e->warned_fixes = 1;
        xu_warn("line %lu: removing ANSI escape sequences and replacing control characters and "
                "invalid UTF-8 with U+FFFD (this and later lines; totals at the end)",
                e->lines_read);
    }
}

static int push(struct engine *e, char *data, size_t len)
{
    long dropped = xu_outbox_push(&e->ob, data, len, xu_now());

    if (dropped < 0)
        return xu_error_set(&e->s.err, XU_EX_OSERR, "out of memory");
    if (dropped > 0 && !e->drop_warning_shown) {
        xu_warn("the buffer is full (%zu %s) while the server is unreachable: dropping the "
                "oldest; the count is reported when the connection is back",
                e->c->buffer, unit(e, 2));
        e->drop_warning_shown = 1;
    }
    return 0;
}

static int add_line(struct engine *e, const char *p, size_t n)
{
    unsigned long before = e->fixes.ansi + e->fixes.control + e->fixes.badutf8;
    size_t clen;
    char *clean, *shrunk;

    e->lines_read++;
    while (n > 0 && p[n - 1] == '\r')
        n--;
    if (n == 0)
        return 0;
    clean = xu_text_clean(p, n, &clen, &e->fixes);
    if (!clean)
        return xu_error_set(&e->s.err, XU_EX_OSERR, "out of memory");
    warn_fixes(e, before);
    if (strspn(clean, " \t\r") == clen) {
        free(clean);
        return 0;
    }
    shrunk = realloc(clean, clen + 1);
    if (push(e, shrunk ? shrunk : clean, clen))
        return e->s.err.code;
    xu_outbox_set_line(&e->ob, (long)e->lines_read);
    return 0;
}

/* Complete lines from the input buffer into the outbox; when it is full,
 * they stay in the buffer (and stdin unread), unless may_drop(). */
static int drain_lines(struct engine *e)
{
    size_t start = 0, rest, n, skip;
    char *nl;
    int rc = 0;

    while (start < e->inlen) {
        rest = e->inlen - start;
        nl = memchr(e->in + start, '\n', rest);
        if (nl) {
            n = (size_t)(nl - (e->in + start));
            skip = n + 1;
        } else if (e->eof_read || rest >= MAX_LINE) {
            n = rest > MAX_LINE ? xu_utf8_cut(e->in + start, rest, MAX_LINE) : rest;
            if (n == 0)
                n = MAX_LINE;
            skip = n;
        } else {
            break;
        }
        if (!may_drop(e) && xu_outbox_full(&e->ob, n))
            break;
        rc = add_line(e, e->in + start, n);
        start += skip;
        if (rc)
            break;
    }
    if (start > 0) {
        memmove(e->in, e->in + start, e->inlen - start);
        e->inlen -= start;
    }
    if (e->eof_read && e->inlen == 0)
        e->input_done = 1;
    return rc;
}

/* Complete stanzas from the reader into the outbox (same waiting rule as
 * lines), each with an id and serialised. */
static int drain_xml(struct engine *e)
{
    struct xu_error err = {0, ""};
    xmpp_stanza_t *st;
    char *line;

    for (;;) {
        if (!may_drop(e) && xu_outbox_full(&e->ob, 0))
            return 0;
        if (e->c->strict && xu_outbox_full(&e->ob, 0))
            return xu_error_set(&e->s.err, XU_EX_DATAERR,
                                "--strict holds the whole input: more than %zu stanzas "
                                "(raise --buffer); nothing was sent", e->c->buffer);
        st = xu_reader_pop(e->reader, e->xctx);
        if (!st) {
            if (e->eof_read)
                e->input_done = 1;
            return 0;
        }
        e->lines_read++;
        /* checked (and given an id) now, so that a bad one stops the input
         * here; the connection-specific part is done when it is sent */
        if (!xu_is_stanza(st))
            xu_error_set(&err, XU_EX_DATAERR, "<%s> is not a stanza (message, presence or iq)",
                         xmpp_stanza_get_name(st));
        else
            xu_outgoing_prepare(&e->reading, st, &err);
        if (err.code) {
            xu_error_set(&e->xml_err, err.code,
                         "line %ld: %s; it and the rest of the input were not sent",
                         xu_reader_line(e->reader), err.msg);
            xmpp_stanza_release(st);
            e->xml_failed = 1;
            e->eof_read = 1;
            e->input_done = 1;
            return 0;
        }
        line = xu_stanza_xml_line(st);
        xmpp_stanza_release(st);
        if (!line || push(e, line, strlen(line)))
            return xu_error_set(&e->s.err, XU_EX_OSERR, "out of memory");
        xu_outbox_set_line(&e->ob, xu_reader_line(e->reader));
    }
}

int xu_dl_drain_input(struct engine *e)
{
    if (e->c->input == XU_INPUT_LINES)
        return drain_lines(e);
    if (e->c->input == XU_INPUT_XML)
        return drain_xml(e);
    return 0;
}

/* One read() from the input (it was readable). */
int xu_dl_read_input(struct engine *e)
{
    ssize_t r;
    size_t want;
    char *n;
    int rc;

    if (e->c->input == XU_INPUT_XML) {
        rc = xu_reader_feed(e->reader, &e->xml_err);
        if (rc == 1) {
            e->eof_read = 1;
        } else if (rc == XU_EX_DATAERR) {
            e->xml_failed = 1;
            e->eof_read = 1;
        } else if (rc) {
            return xu_error_set(&e->s.err, rc, "%s", e->xml_err.msg);
        }
        return drain_xml(e);
    }
    if (e->incap - e->inlen < READ_CHUNK && e->incap < MAX_LINE + READ_CHUNK) {
        n = realloc(e->in, e->incap ? e->incap * 2 : 2 * READ_CHUNK);
        if (!n)
            return xu_error_set(&e->s.err, XU_EX_OSERR, "out of memory");
        e->in = n;
        e->incap = e->incap ? e->incap * 2 : 2 * READ_CHUNK;
    }
    want = e->incap - e->inlen;
    if (want > READ_CHUNK)
        want = READ_CHUNK;
    r = read(e->c->fd, e->in + e->inlen, want);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (r < 0)
        return xu_error_set(&e->s.err, XU_EX_IOERR, "cannot read standard input: %s",
                            strerror(errno));
    if (r == 0)
        e->eof_read = 1;
    e->inlen += (size_t)r;
    return drain_lines(e);
}

/* The input descriptor, when it should be read now; else -1. */
int xu_dl_input_fd(const struct engine *e)
{
    if (!streaming(e) || e->eof_read)
        return -1;
    if (e->c->input == XU_INPUT_LINES && e->inlen >= MAX_LINE)
        return -1;
    if (!may_drop(e) && xu_outbox_full(&e->ob, 0))
        return -1;
    return e->c->fd;
}

/* --strict: everything read and checked before the first connection. */
int xu_dl_read_all_xml(struct engine *e)
{
    int rc;

    while (!e->eof_read) {
        rc = xu_dl_read_input(e);
        if (rc)
            return rc;
    }
    if (e->xml_failed)
        return xu_error_set(&e->s.err, XU_EX_DATAERR, "%s; nothing was sent (--strict)",
                            e->xml_err.msg);
    return 0;
}


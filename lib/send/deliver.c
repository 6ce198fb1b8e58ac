#include "send/deliver.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/jid.h"
#include "xmpp/message.h"
#include "base/msg.h"
#include "xmpp/muc.h"
#include "send/outbox.h"
#include "xmpp/outgoing.h"
#include "xmpp/reconnect.h"
#include "xmpp/session.h"
#include "xml/stanza_in.h"
#include "xml/stanza_out.h"
#include "base/text.h"
#include "base/trace.h"

#define PING_EVERY 64          /* messages between acknowledgement requests, at most */
#define WINDOW 1024            /* messages sent and not yet acknowledged, at most */
#define SENDQ_MAX 32           /* stanzas waiting in libstrophe before we wait for the socket */
#define MAX_PINGS 64           /* acknowledgement requests outstanding */
#define BACKOFF_CAP 60.0       /* seconds between connection attempts, at most */
#define KEEPALIVE 60.0         /* idle seconds before a ping checks the connection */
#define MAX_LINE (4u << 20)    /* input without a newline is cut into lines this long */
#define READ_CHUNK 65536
#define MAX_BUFFER_BYTES (64u << 20) /* bytes held in the outbox, besides --buffer */
#define ACK_TIMEOUT 60.0       /* with --timeout 0: an unanswered ping means a dead connection */
#define NS_RECEIPTS "urn:xmpp:receipts"

enum state { DOWN, CONNECTING, UP };

struct ping {
    char *id;            /* NULL: an XEP-0198 <r/> */
    unsigned long h;     /* for <r/>: our stanza count when it was sent */
    struct xu_pos pos;   /* send position when it was sent */
    unsigned long msgs;  /* messages sent before it on this connection */
    double sent;
};

struct sm_mark {         /* a message, by the stream-management count after it */
    unsigned long h;
    struct xu_pos pos;   /* outbox position after it */
    unsigned long msgs;  /* messages sent on this connection up to it */
};

struct rwait {           /* a message waiting for its delivery receipt */
    char *id;            /* NULL: answered (a hole) */
    int rcpt;            /* index into cfg->to */
    struct xu_pos end;   /* outbox position after the message */
};

struct engine {
    const struct xu_deliver_cfg *c;
    struct xu_session s;
    struct xu_trace *trace;      /* --trace, shared by the sessions */
    enum state state;
    struct xu_outbox ob;
    struct xu_bucket bucket;
    struct xu_muc_room *rooms;   /* per recipient; room != NULL once joined */
    /* input */
    char *in;
    size_t inlen, incap;
    int eof_read;                /* no more reads */
    int input_done;              /* and everything read is in the outbox */
    struct xu_reader *reader;
    xmpp_ctx_t *xctx;            /* the reader's stanzas live here */
    struct xu_session reading;   /* stands in for a session while stanzas are read */
    int xml_failed;
    struct xu_error xml_err;
    struct xu_text_fixes fixes;
    int warned_fixes;
    unsigned long lines_read;
    int drop_warning_shown;      /* during this outage */
    unsigned long dropped_reported;
    /* acknowledgement */
    struct ping pings[MAX_PINGS];
    int npings;
    unsigned long msgs_sent, msgs_acked; /* on this connection */
    unsigned long since_ping;
    unsigned long messages, stanzas;     /* in total */
    double last_activity;
    unsigned long inbound;               /* stanzas received, to notice activity */
    /* XEP-0198: what the server's counts mean, and what resumes */
    struct sm_mark *marks;
    size_t nmarks, capmarks;
    struct xu_sm_resume resume;
    /* receipts */
    struct rwait *rw;
    size_t nrw, rwhead, rwlive;
    /* bounces and rooms */
    struct xu_bounces bounces;
    unsigned bounces_warned;
    int removed;                 /* 1 + index of a room that removed us */
    char removed_why[300];
    int removed_fatal;
    /* connections */
    long failures;               /* consecutive */
    double retry_at;
    unsigned connections;
    int ended;                   /* the input ended */
    double final_deadline;       /* then everything must be done by this time (0: no limit) */
    char last_err[300];          /* why the last connection failed */
    int busy;                    /* stanzas arrived in the last turn: look again at once */
    int outage;                  /* a connection failed and none is up since */
    int stopping;
    /* a stanza that made the server end the stream (too big, not a type it
     * takes) is found and dropped, never sent again: */
    int isolating;               /* send one at a time, each acknowledged ... */
    struct xu_pos isolate_until; /* ... until everything before this is */
    /* A server that closes the connection at once on a too big stanza may
     * reset it before its stream error is read: then only the place tells,
     * connections lost again and again with nothing acknowledged. */
    struct xu_pos lost_at;       /* acknowledged position at the last such loss */
    int losses_here;             /* consecutive losses there */
    char rejected_first[400];    /* the first refused, for the final message */
};

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    if (stop_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    stop_signal = sig;
}

static int streaming(const struct engine *e)
{
    return e->c->input != XU_INPUT_BODY;
}

/* --timeout 0 means no deadline once connected; connecting is always bounded */
static double conn_timeout(const struct engine *e)
{
    return e->c->opts->timeout > 0 ? e->c->opts->timeout : XU_CONNECT_TIMEOUT;
}

static double ack_timeout(const struct engine *e)
{
    return e->c->opts->timeout > 0 ? e->c->opts->timeout : ACK_TIMEOUT;
}

static const char *unit(const struct engine *e, unsigned long n)
{
    if (e->c->input == XU_INPUT_XML)
        return n == 1 ? "stanza" : "stanzas";
    if (e->c->input == XU_INPUT_LINES)
        return n == 1 ? "line" : "lines";
    return n == 1 ? "message" : "messages";
}

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

static int drain_input(struct engine *e)
{
    if (e->c->input == XU_INPUT_LINES)
        return drain_lines(e);
    if (e->c->input == XU_INPUT_XML)
        return drain_xml(e);
    return 0;
}

/* One read() from the input (it was readable). */
static int read_input(struct engine *e)
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
static int input_fd(const struct engine *e)
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
static int read_all_xml(struct engine *e)
{
    int rc;

    while (!e->eof_read) {
        rc = read_input(e);
        if (rc)
            return rc;
    }
    if (e->xml_failed)
        return xu_error_set(&e->s.err, XU_EX_DATAERR, "%s; nothing was sent (--strict)",
                            e->xml_err.msg);
    return 0;
}

/* ---- acknowledgements ---- */

static int on_ping_reply(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud);

/* Forget the first upto outstanding pings (and their handlers). */
static void drop_pings(struct engine *e, int upto, int delete_handlers)
{
    int k;

    for (k = 0; k < upto; k++) {
        if (delete_handlers && e->s.conn && e->pings[k].id)
            xmpp_id_handler_delete(e->s.conn, on_ping_reply, e->pings[k].id);
        free(e->pings[k].id);
    }
    memmove(e->pings, e->pings + upto, (size_t)(e->npings - upto) * sizeof e->pings[0]);
    e->npings -= upto;
}

static int on_ping_reply(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct engine *e = ud;
    const char *id = xmpp_stanza_get_id(st);
    int k;

    (void)conn;
    for (k = 0; k < e->npings; k++)
        if (id && strcmp(e->pings[k].id, id) == 0)
            break;
    if (k == e->npings)
        return 0;
    /* result or error: either way the server has handled everything before it */
    xu_outbox_ack(&e->ob, e->pings[k].pos);
    e->msgs_acked = e->pings[k].msgs;
    e->failures = 0;
    e->last_activity = xu_now();
    /* older ones were answered before (in order); this one's handler goes
     * away by returning 0 */
    drop_pings(e, k, 1);
    drop_pings(e, 1, 0);
    return 0;
}

static void send_ping(struct engine *e, double now)
{
    char *id;

    if (e->npings == MAX_PINGS)
        return;
    if (e->s.sm_enabled) {
        /* the server's <a h/> proves what it has, stanza by stanza */
        xu_session_sm_request(&e->s);
        id = NULL;
        e->pings[e->npings].h = e->s.sm_out;
    } else if (!(id = xu_session_ping(&e->s, on_ping_reply, e))) {
        return;
    }
    e->pings[e->npings].id = id;
    e->pings[e->npings].pos = e->ob.sent;
    e->pings[e->npings].msgs = e->msgs_sent;
    e->pings[e->npings].sent = now;
    e->npings++;
    e->since_ping = 0;
    e->last_activity = now;
}

/* ---- XEP-0198 ---- */

/* m <= h in the 2^32 count */
static int h_reached(unsigned long m, unsigned long h)
{
    return ((h - m) & 0xffffffffUL) < 0x80000000UL;
}

static int add_mark(struct engine *e)
{
    struct sm_mark *n;

    if (e->nmarks == e->capmarks) {
        n = realloc(e->marks, (e->capmarks ? e->capmarks * 2 : 256) * sizeof *n);
        if (!n)
            return -1;
        e->marks = n;
        e->capmarks = e->capmarks ? e->capmarks * 2 : 256;
    }
    e->marks[e->nmarks].h = e->s.sm_out;
    e->marks[e->nmarks].pos = e->ob.sent;
    e->marks[e->nmarks].msgs = e->msgs_sent;
    e->nmarks++;
    return 0;
}

/* The server has h of our stanzas (<a h/>, or <resumed h/> on a new
 * connection): what they carried is delivered. */
static void on_sm_ack(struct xu_session *s, unsigned long h, void *ud)
{
    struct engine *e = ud;
    size_t k = 0;
    int j = 0;

    while (k < e->nmarks && h_reached(e->marks[k].h, h))
        k++;
    if (k > 0) {
        xu_outbox_ack(&e->ob, e->marks[k - 1].pos);
        if (s->ready) /* the marks of a resumed stream are of the old connection */
            e->msgs_acked = e->marks[k - 1].msgs;
        memmove(e->marks, e->marks + k, (e->nmarks - k) * sizeof *e->marks);
        e->nmarks -= k;
    }
    if (!s->ready) {
        /* resumed: what the server did not get goes again, counted anew */
        e->nmarks = 0;
        xu_outbox_rewind(&e->ob);
    }
    while (j < e->npings && !e->pings[j].id && h_reached(e->pings[j].h, h))
        j++;
    drop_pings(e, j, 0);
    e->failures = 0;
    e->last_activity = xu_now();
}

/* ---- receipts ---- */

static int add_rwait(struct engine *e, const char *id, int rcpt, struct xu_pos end)
{
    struct rwait *n;

    if (e->rwhead > 0 && e->rwhead * 2 >= e->nrw) { /* compact */
        memmove(e->rw, e->rw + e->rwhead, (e->nrw - e->rwhead) * sizeof *e->rw);
        e->nrw -= e->rwhead;
        e->rwhead = 0;
    }
    n = realloc(e->rw, (e->nrw + 1) * sizeof *e->rw);
    if (!n)
        return -1;
    e->rw = n;
    e->rw[e->nrw].id = strdup(id);
    e->rw[e->nrw].rcpt = rcpt;
    e->rw[e->nrw].end = end;
    if (!e->rw[e->nrw].id)
        return -1;
    e->nrw++;
    e->rwlive++;
    return 0;
}

static void rwait_done(struct engine *e, size_t i)
{
    free(e->rw[i].id);
    e->rw[i].id = NULL;
    e->rwlive--;
    while (e->rwhead < e->nrw && !e->rw[e->rwhead].id)
        e->rwhead++;
}

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct engine *e = ud;
    xmpp_stanza_t *r = xmpp_stanza_get_child_by_name_and_ns(st, "received", NS_RECEIPTS);
    const char *id = r ? xmpp_stanza_get_attribute(r, "id") : NULL;
    const char *from = xmpp_stanza_get_from(st);
    size_t i;

    (void)conn;
    if (!id || !from)
        return 1;
    for (i = e->rwhead; i < e->nrw; i++)
        if (e->rw[i].id && strcmp(e->rw[i].id, id) == 0 &&
            xu_jid_bare_equal(from, e->c->to[e->rw[i].rcpt])) {
            rwait_done(e, i);
            break;
        }
    return 1;
}

/* Messages not acknowledged will be sent again with new ids. */
static void prune_rwaits(struct engine *e)
{
    struct xu_pos acked = xu_outbox_acked(&e->ob);
    size_t i;

    for (i = e->rwhead; i < e->nrw; i++)
        if (e->rw[i].id && xu_pos_cmp(e->rw[i].end, acked) > 0)
            rwait_done(e, i);
}

/* ---- rooms ---- */

static int has_status(xmpp_stanza_t *x, const char *code)
{
    xmpp_stanza_t *c;
    const char *v;

    for (c = x ? xmpp_stanza_get_children(x) : NULL; c; c = xmpp_stanza_get_next(c)) {
        v = xmpp_stanza_get_attribute(c, "code");
        if (xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c), "status") == 0 && v &&
            strcmp(v, code) == 0)
            return 1;
    }
    return 0;
}

/* Our own unavailable presence from a room we are in: we were removed. */
static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct engine *e = ud;
    const char *from = xmpp_stanza_get_from(st), *type = xmpp_stanza_get_type(st), *what;
    xmpp_stanza_t *x, *item, *reason;
    char *text = NULL, clean[200];
    int i;

    (void)conn;
    if (!from || !type || strcmp(type, "unavailable") != 0 || e->removed)
        return 1;
    for (i = 0; i < e->c->nto; i++)
        if (e->rooms[i].occupant && strcmp(e->rooms[i].occupant, from) == 0)
            break;
    if (i == e->c->nto)
        return 1;
    x = xmpp_stanza_get_child_by_name_and_ns(st, "x", XU_NS_MUC_USER);
    if (has_status(x, "303"))
        return 1; /* a nick change, not a removal */
    item = x ? xmpp_stanza_get_child_by_name(x, "item") : NULL;
    reason = item ? xmpp_stanza_get_child_by_name(item, "reason") : NULL;
    text = reason ? xmpp_stanza_get_text(reason) : NULL;
    xu_sanitize_terminal(clean, sizeof clean, text ? text : "");
    if (text)
        xmpp_free(xmpp_stanza_get_context(st), text);
    e->removed_fatal = 1;
    if (has_status(x, "307"))
        what = "kicked (status 307)";
    else if (has_status(x, "301"))
        what = "banned (status 301)";
    else if (has_status(x, "321"))
        what = "removed because of an affiliation change (status 321)";
    else if (has_status(x, "322"))
        what = "removed because the room became members-only (status 322)";
    else {
        what = has_status(x, "332") ? "the room's service is shutting down (status 332)"
                                    : "left the room";
        e->removed_fatal = 0;
    }
    snprintf(e->removed_why, sizeof e->removed_why, "removed from room %s: %s%s%s",
             e->c->to[i], what, clean[0] ? ": " : "", clean);
    e->removed = i + 1;
    return 1;
}

static int on_any(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    (void)conn;
    (void)st;
    ((struct engine *)ud)->inbound++;
    return 1;
}

static void free_rooms(struct engine *e)
{
    int i;

    for (i = 0; i < e->c->nto; i++)
        xu_muc_room_free(&e->rooms[i]);
}

/* ---- sending ---- */

static xmpp_stanza_t *receipt_request(xmpp_ctx_t *ctx)
{
    xmpp_stanza_t *r = xmpp_stanza_new(ctx);

    xmpp_stanza_set_name(r, "request");
    xmpp_stanza_set_ns(r, NS_RECEIPTS);
    return r;
}

/* A message whose body is the URL of a shared file gets the XEP-0066 element
 * too: that is what clients show inline (they want body == URL). */
static int is_oob(const struct xu_deliver_cfg *c, const char *body)
{
    int i;

    for (i = 0; i < c->noob; i++)
        if (strcmp(c->oob[i], body) == 0)
            return 1;
    return 0;
}

static void add_oob(xmpp_ctx_t *ctx, xmpp_stanza_t *st, const char *url)
{
    xmpp_stanza_t *x = xmpp_stanza_new(ctx), *u = xmpp_stanza_new(ctx), *t = xmpp_stanza_new(ctx);

    xmpp_stanza_set_name(x, "x");
    xmpp_stanza_set_ns(x, "jabber:x:oob");
    xmpp_stanza_set_name(u, "url");
    xmpp_stanza_set_text(t, url);
    xmpp_stanza_add_child(u, t);
    xmpp_stanza_add_child(x, u);
    xmpp_stanza_add_child(st, x);
    xmpp_stanza_release(t);
    xmpp_stanza_release(u);
    xmpp_stanza_release(x);
}

static int send_text(struct engine *e, const char *body, struct xu_pos end)
{
    const struct xu_deliver_cfg *c = e->c;
    struct xu_message m = {NULL, NULL, body, c->subject, c->thread, c->lang};
    xmpp_stanza_t *st, *req;
    int i, rc;

    for (i = 0; i < c->nto; i++) {
        m.to = c->to[i];
        m.type = c->is_room[i] ? "groupchat" : c->type;
        st = xu_message_build(&e->s, &m);
        if (!st)
            return xu_error_set(&e->s.err, XU_EX_OSERR, "out of memory");
        if (c->noob && !c->oob_body_only && is_oob(c, body))
            add_oob(e->s.ctx, st, body);
        if (c->wrap && (rc = c->wrap(&e->s, c->hook_ud, st, &e->s.err)) != 0) {
            xmpp_stanza_release(st);
            return rc;
        }
        if (c->receipt && !c->is_room[i]) {
            req = receipt_request(e->s.ctx);
            xmpp_stanza_add_child(st, req);
            xmpp_stanza_release(req);
            if (add_rwait(e, xmpp_stanza_get_id(st), i, end) < 0) {
                xmpp_stanza_release(st);
                return xu_error_set(&e->s.err, XU_EX_OSERR, "out of memory");
            }
        }
        xu_session_send(&e->s, st);
        xmpp_stanza_release(st);
        e->stanzas++;
    }
    return 0;
}

/* Our own JID may stay as 'from' (a component: any address at its domain);
 * any other would be refused by the server. */
static int own_jid(const struct engine *e, const char *from)
{
    const char *me = e->s.bound_jid;
    char domain[1024];

    if (!me)
        return 0;
    if (e->s.is_component)
        return xu_jid_domain(from, domain, sizeof domain) && strcasecmp(domain, me) == 0;
    return strcmp(from, me) == 0 || (!strchr(from, '/') && xu_jid_bare_equal(from, me));
}

static int send_xml(struct engine *e, const char *xml)
{
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(e->s.ctx, xml);
    struct xu_error err = {0, ""};
    const char *from;

    if (!st)
        return xu_error_set(&e->s.err, XU_EX_SOFTWARE, "cannot re-read a stanza");
    from = xmpp_stanza_get_from(st);
    if (from && !own_jid(e, from))
        xmpp_stanza_del_attribute(st, "from");
    if (xu_outgoing_prepare(&e->s, st, &err)) {
        xmpp_stanza_release(st);
        return xu_error_set(&e->s.err, err.code, "%s", err.msg);
    }
    xu_session_send(&e->s, st);
    xmpp_stanza_release(st);
    e->stanzas++;
    return 0;
}

static int batch_waiting(struct engine *e, double now)
{
    const struct xu_deliver_cfg *c = e->c;

    return c->input == XU_INPUT_LINES && c->batch > 0 && !e->input_done &&
           xu_outbox_unsent_bytes(&e->ob, c->max_size) < c->max_size &&
           now < xu_outbox_unsent_since(&e->ob) + c->batch;
}

/* May one more message go out now, as far as the connection goes? */
static int can_send(struct engine *e)
{
    if (e->isolating && xu_pos_cmp(xu_outbox_acked(&e->ob), e->isolate_until) >= 0)
        e->isolating = 0; /* past the stanzas that were in flight */
    if (e->isolating && e->msgs_sent > e->msgs_acked)
        return 0;
    return e->msgs_sent - e->msgs_acked < WINDOW &&
           xmpp_conn_send_queue_len(e->s.conn) < SENDQ_MAX;
}

/* Send what the window, the rate and --batch allow; then ask for an
 * acknowledgement of it. */
static int pump(struct engine *e, double now)
{
    const struct xu_deliver_cfg *c = e->c;
    size_t unsent, len, join;
    struct xu_pos end;
    double avail;
    char *body;
    int rc, paced;

    while ((unsent = xu_outbox_unsent_items(&e->ob)) > 0 && can_send(e) && !batch_waiting(e, now)) {
        /* --rate paces messages; raw presence and iq stanzas are not paced,
         * nor are the further parts of a long body: they are one message,
         * delivered whole within --timeout, not a flood of messages */
        paced = c->input != XU_INPUT_XML || strncmp(xu_outbox_peek(&e->ob), "<message", 8) == 0;
        if (e->ob.sent.off > 0)
            paced = 0;
        avail = xu_bucket_avail(&e->bucket, now);
        if (paced && avail < 1)
            break;
        /* Lines arriving faster than the rate allows are joined, so that a
         * burst reaches the chat soon as a few messages, not an hour late
         * as thousands. */
        join = 1;
        if (c->input == XU_INPUT_LINES && !c->one_per_line && !e->isolating &&
            (c->batch > 0 || (double)unsent > avail))
            join = (size_t)-1;
        if (c->input == XU_INPUT_XML)
            body = xu_outbox_take(&e->ob, (size_t)-1, 1, &len, &end);
        else
            body = xu_outbox_take(&e->ob, c->max_size, join, &len, &end);
        if (!body)
            return xu_error_set(&e->s.err, XU_EX_OSERR, "out of memory");
        if (paced)
            xu_bucket_take(&e->bucket, now);
        rc = c->input == XU_INPUT_XML ? send_xml(e, body) : send_text(e, body, end);
        free(body);
        if (rc)
            return rc;
        e->msgs_sent++;
        e->messages++;
        if (e->s.sm_enabled && add_mark(e) < 0)
            return xu_error_set(&e->s.err, XU_EX_OSERR, "out of memory");
        if (++e->since_ping >= PING_EVERY)
            send_ping(e, now);
    }
    if (e->since_ping > 0 || (e->npings == 0 && now - e->last_activity >= KEEPALIVE))
        send_ping(e, now);
    return 0;
}

/* How long the loop may sleep. */
static double next_wait(struct engine *e, double now)
{
    double w = KEEPALIVE - (now - e->last_activity), t;

    if (e->busy)
        return 0;

    if (xu_outbox_unsent_items(&e->ob) > 0 && can_send(e)) {
        if (batch_waiting(e, now))
            t = xu_outbox_unsent_since(&e->ob) + e->c->batch - now;
        else
            t = xu_bucket_wait(&e->bucket, now);
        if (t < w)
            w = t;
    }
    if (e->npings > 0) {
        /* OpenSSL may hold the answer where poll() does not see it: look again soon */
        if (w > 0.25)
            w = 0.25;
        t = e->pings[0].sent + ack_timeout(e) - now;
        if (t < w)
            w = t;
    }
    if (e->final_deadline > 0 && e->final_deadline - now < w)
        w = e->final_deadline - now;
    return w < 0 ? 0 : w;
}

/* ---- connections ---- */

static int retryable(int code)
{
    return code == XU_EX_TEMPFAIL || code == XU_EX_UNAVAILABLE || code == XU_EX_PROTOCOL;
}

/* Forget the connection; what it did not get acknowledged is sent again. */
static void drop_session(struct engine *e)
{
    /* a stream the server may still hold is resumed on the next
     * connection: then only what it had not counted is sent again */
    if (e->s.ready) {
        xu_session_sm_save(&e->s, &e->resume);
        if (!e->resume.valid)
            e->nmarks = 0;
    } /* else a failed attempt: the stream to resume is still the older one */
    drop_pings(e, e->npings, 0);
    free_rooms(e);
    xu_session_free(&e->s);
    e->state = DOWN;
    xu_outbox_rewind(&e->ob);
    prune_rwaits(e);
    e->msgs_sent = e->msgs_acked = 0;
    e->since_ping = 0;
}

static int give_up(struct engine *e, int code, const char *why, const char *note)
{
    struct xu_error *err = &e->s.err;
    size_t left = xu_outbox_pending(&e->ob);
    char msg[sizeof err->msg];

    snprintf(msg, sizeof msg, "%s", why);
    if (e->failures > 0 || note)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (%s%ld %s%s%s)",
                 note ? "" : "gave up after ", e->failures + 1,
                 e->failures ? "attempts" : "attempt", note ? "; " : "", note ? note : "");
    if (streaming(e) && left > 0)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "; %zu %s not delivered", left,
                 unit(e, left));
    return xu_error_replace(err, code, "%s", msg);
}

/* The server ended the stream because of the one stanza in flight: drop
 * it (reported now and in the exit status), and go on with the rest. */
static void reject_culprit(struct engine *e, const char *why)
{
    long line = xu_outbox_head_line(&e->ob);
    char what[120], msg[sizeof e->rejected_first];

    if (line > 0)
        snprintf(what, sizeof what, "%s %llu (line %ld)",
                 e->c->input == XU_INPUT_LINES ? "line" : e->c->input == XU_INPUT_XML ? "stanza"
                                                                                      : "message",
                 (unsigned long long)e->ob.head_seq, line);
    else
        snprintf(what, sizeof what, "the message");
    snprintf(msg, sizeof msg, "%s was refused (%s)", what, why);
    xu_outbox_reject_head(&e->ob);
    prune_rwaits(e);
    if (!e->rejected_first[0])
        snprintf(e->rejected_first, sizeof e->rejected_first, "%s", msg);
    xu_warn("%s; it is not sent again%s", msg, xu_outbox_empty(&e->ob) ? "" : ": going on with the rest");
    xu_trace_info(e->trace, "%s; not sent again", msg);
}

/* The connection failed or broke: 0 to try again later, else the final code. */
static int connection_failed(struct engine *e, int code)
{
    char why[sizeof e->s.err.msg], of[32] = "", msg[sizeof e->s.err.msg];
    double delay, now = xu_now();
    int was_up = e->state == UP, forbidden, from_stanza, explained;
    unsigned long inflight = e->msgs_sent - e->msgs_acked;
    struct xu_pos sent = e->ob.sent;

    snprintf(why, sizeof why, "%s", e->s.err.msg[0] ? e->s.err.msg : xu_exit_name(code));
    forbidden = xu_reconnect_forbidden(&e->s);
    snprintf(msg, sizeof msg, "%s; %s", why, xu_reconnect_forbidden_why(&e->s));
    from_stanza = was_up && inflight > 0 && xu_stream_error_from_stanza(e->s.stream_error);
    /* a stream error that says why (system-shutdown while the server
     * restarts, …) is no hint at a stanza */
    explained = e->s.stream_error[0] != '\0';
    drop_session(e);
    e->outage = 1;
    if (forbidden) {
        e->failures = 0;
        return give_up(e, XU_EX_TEMPFAIL, msg, NULL);
    }
    if (from_stanza) {
        /* not an outage: our data ended the stream. Find the stanza (the
         * one in flight, or the first of several when each is sent alone)
         * and go on at once without it. */
        e->losses_here = 0;
        if (inflight == 1) {
            reject_culprit(e, why);
        } else if (!e->isolating) {
            e->isolating = 1;
            e->isolate_until = sent;
            xu_warn("%s, because of one of the %lu %s in flight: sending them again one at a "
                    "time to find it", why, inflight, unit(e, inflight));
        }
        e->retry_at = now;
        e->outage = 0;
        return 0;
    }
    if (was_up && inflight > 0 && retryable(code) && !explained) {
        /* lost with stanzas in flight, no reason given, and nothing
         * acknowledged since the last such loss: twice at the same place
         * points at a stanza there (a restarting server's system-shutdown
         * and the drops around it once sent 2,000 lines one at a time) */
        struct xu_pos acked = xu_outbox_acked(&e->ob);

        if (e->losses_here > 0 && xu_pos_cmp(acked, e->lost_at) == 0) {
            e->losses_here++;
        } else {
            e->losses_here = 1;
            e->lost_at = acked;
        }
        if (e->losses_here >= 2 && inflight > 1 && !e->isolating) {
            e->isolating = 1;
            e->isolate_until = sent;
            e->losses_here = 0;
            xu_warn("the connection broke twice with the same %lu %s in flight: sending them "
                    "one at a time", inflight, unit(e, inflight));
        } else if (inflight == 1 && e->losses_here >= (e->isolating ? 2 : 3)) {
            char because[sizeof why + 80];

            snprintf(because, sizeof because, "the connection broke each time it was sent: %s",
                     why);
            e->losses_here = 0;
            reject_culprit(e, because);
        }
    }
    if (!retryable(code) || (e->c->retry >= 0 && e->failures >= e->c->retry))
        return give_up(e, code, why, NULL);
    e->failures++;
    delay = e->failures >= 7 ? BACKOFF_CAP : (double)(1u << (e->failures - 1));
    if (delay > BACKOFF_CAP)
        delay = BACKOFF_CAP;
    delay *= 0.75 + 0.5 * ((double)random() / RAND_MAX); /* jitter: no thundering herd */
    if (e->final_deadline > 0 && now + delay >= e->final_deadline) {
        e->failures--;
        return give_up(e, code, why, "no time left for another within --timeout");
    }
    e->retry_at = now + delay;
    snprintf(e->last_err, sizeof e->last_err, "%s", why);
    if (e->c->retry >= 0)
        snprintf(of, sizeof of, " of %ld", e->c->retry + 1);
    xu_warn("%s; %s in %.1f s (attempt %ld%s)", why, was_up ? "reconnecting" : "trying again",
            delay, e->failures + 1, of);
    xu_trace_info(e->trace, "%s; %s in %.1f s", why, was_up ? "reconnecting" : "trying again",
                  delay);
    return 0;
}

static double attempt_deadline(const struct engine *e, double now)
{
    double d = now + conn_timeout(e);

    if (e->final_deadline > 0 && e->final_deadline < d)
        d = e->final_deadline;
    return d;
}

static int start_connecting(struct engine *e)
{
    int rc;

    if (e->resume.valid)
        xu_session_resume_next(&e->resume);
    rc = xu_session_start(&e->s, e->c->opts, attempt_deadline(e, xu_now()), &e->s.err);

    if (rc)
        return rc;
    e->state = CONNECTING;
    return 0;
}

/* The session is ready: watch for answers, join the rooms. */
static int session_up(struct engine *e)
{
    const struct xu_deliver_cfg *c = e->c;
    struct xu_muc_join j = {NULL, c->nick, c->room_password, 0, c->no_create, 1};
    struct xu_error err = {0, ""};
    int i, rc;

    xu_bounces_watch(&e->s, &e->bounces);
    xmpp_handler_add(e->s.conn, on_message, NULL, "message", NULL, e);
    xmpp_handler_add(e->s.conn, on_presence, NULL, "presence", NULL, e);
    xmpp_handler_add(e->s.conn, on_any, NULL, NULL, NULL, e);
    for (i = 0; i < c->nto; i++) {
        if (!c->is_room[i])
            continue;
        j.room = c->to[i];
        rc = xu_muc_join(&e->s, &j, &e->rooms[i], &err);
        if (rc) {
            /* a broken connection is retried; a refusal, or no answer at
             * all, from the room is final */
            if (!e->s.disconnected) {
                e->removed_fatal = 1;
                if (e->s.timed_out)
                    xu_error_replace(&err, XU_EX_UNAVAILABLE,
                                     "no answer from %s to our join within %g s (is it a chat room?)",
                                     c->to[i], conn_timeout(e));
            }
            xu_error_replace(&e->s.err, rc = err.code, "%s", err.msg);
            return rc;
        }
        xu_info("joined %s as '%s'", c->to[i], e->rooms[i].nick);
    }
    if (c->up && (rc = c->up(&e->s, c->hook_ud, &err)) != 0) {
        if (!e->s.disconnected) /* a refusal is final, a broken connection is retried */
            e->removed_fatal = 1;
        xu_error_replace(&e->s.err, rc, "%s", err.msg);
        return rc;
    }
    if (!e->s.sm_resumed)
        e->nmarks = 0; /* a new stream: everything unacknowledged goes again */
    e->resume.valid = 0; /* resumed or not, that stream is done with */
    if (e->s.sm_resumed)
        xu_info("stream resumed: %zu %s the server had not received go again",
                xu_outbox_pending(&e->ob), unit(e, xu_outbox_pending(&e->ob)));
    e->state = UP;
    e->outage = 0;
    e->connections++;
    e->last_activity = xu_now();
    xu_session_set_deadline(&e->s, e->final_deadline);
    if (e->connections > 1 && xu_outbox_pending(&e->ob) > 0)
        xu_warn("connected again; %zu %s waiting to be acknowledged", xu_outbox_pending(&e->ob),
                unit(e, xu_outbox_pending(&e->ob)));
    if (e->ob.dropped > e->dropped_reported) {
        xu_warn("%lu %s were dropped while the server was unreachable (--buffer %zu)",
                e->ob.dropped - e->dropped_reported, unit(e, e->ob.dropped - e->dropped_reported),
                c->buffer);
        e->dropped_reported = e->ob.dropped;
    }
    e->drop_warning_shown = 0;
    return 0;
}

/* ---- the end ---- */

static int finished(const struct engine *e)
{
    return e->input_done && xu_outbox_empty(&e->ob) && (!e->c->receipt || e->rwlive == 0);
}

/* Nothing more will come and everything was acknowledged: leave, close and
 * say how it went. */
static int finish(struct engine *e, struct xu_error *err)
{
    const struct xu_deliver_cfg *c = e->c;
    struct xu_text_fixes *f = &e->fixes;
    int i, code = 0;

    if (e->state == UP) {
        for (i = 0; i < c->nto; i++)
            if (e->rooms[i].occupant)
                xu_muc_leave(&e->s, &e->rooms[i]);
        xu_session_close(&e->s);
    }
    if (c->input == XU_INPUT_LINES && (f->ansi || f->control || f->badutf8))
        xu_warn("removed %lu ANSI escape sequence(s), replaced %lu control character(s) and %lu "
                "invalid UTF-8 sequence(s) with U+FFFD", f->ansi, f->control, f->badutf8);
    if (c->input == XU_INPUT_LINES)
        xu_info("%lu lines delivered in %lu message(s) (%lu stanza(s)) over %u connection(s)",
                e->ob.delivered, e->messages, e->stanzas, e->connections);
    else if (c->input == XU_INPUT_XML)
        xu_info("%lu stanza(s) delivered over %u connection(s)", e->ob.delivered, e->connections);
    if (e->bounces.count) {
        if (c->input == XU_INPUT_BODY)
            code = xu_error_set(err, XU_EX_UNAVAILABLE, "%u of %lu message(s) bounced; first: %s",
                                e->bounces.count, e->stanzas, e->bounces.first);
        else
            code = xu_error_set(err, XU_EX_UNAVAILABLE, "%u of %lu stanza(s) bounced; first: %s",
                                e->bounces.count, e->stanzas, e->bounces.first);
    }
    if (e->ob.dropped) {
        if (code)
            xu_warn("%s", err->msg);
        code = xu_error_replace(err, XU_EX_TEMPFAIL,
                                "%lu %s were dropped while the server was unreachable "
                                "(buffer full: --buffer %zu)",
                                e->ob.dropped, unit(e, e->ob.dropped), c->buffer);
    }
    if (e->ob.rejected) {
        if (code)
            xu_warn("%s", err->msg);
        code = xu_error_replace(err, XU_EX_DATAERR, "%lu %s refused by the server and not "
                                "delivered (first: %s)%s", e->ob.rejected,
                                unit(e, e->ob.rejected), e->rejected_first,
                                e->ob.delivered ? "; the others were delivered" : "");
    }
    if (e->xml_failed) {
        if (code)
            xu_warn("%s", err->msg);
        code = xu_error_replace(err, XU_EX_DATAERR, "%s%s", e->xml_err.msg,
                                e->ob.delivered ? "; the stanzas before it were delivered" : "");
    }
    if (!code && e->stopping)
        code = xu_error_set(err, 128 + (int)stop_signal, "stopped by signal %d after delivering "
                            "everything read", (int)stop_signal);
    if (!code && c->input == XU_INPUT_BODY)
        xu_info("%lu message(s) accepted by the server%s", e->stanzas,
                c->receipt ? " and confirmed by the recipients" : "");
    return code;
}

/* The final wait ran out. */
static int timed_out(struct engine *e, struct xu_error *err)
{
    size_t left = xu_outbox_pending(&e->ob), i, n;
    char list[600] = "";
    int k, count;

    if (left > 0) {
        char parts[160] = "";
        size_t total, unacked = xu_outbox_head_parts(&e->ob, e->c->max_size, &total);

        /* a long body went out in parts: how many the server has not
         * acknowledged (those it has are on their way to the recipient) */
        if (!streaming(e) && total > 1)
            snprintf(parts, sizeof parts, "; %zu of the message's %zu parts not acknowledged "
                     "by the server", unacked, total);
        if (!streaming(e) && e->s.err.code)
            return xu_error_set(err, e->s.err.code, "%s%s", e->s.err.msg, parts);
        if (!streaming(e) && e->last_err[0])
            return xu_error_set(err, XU_EX_TEMPFAIL, "%s (no time left to try again)%s",
                                e->last_err, parts);
        /* still connecting: say where it got stuck (a stalled TLS handshake,
         * a server that trickles), as a session's own timeout does */
        if (!streaming(e) && e->state == CONNECTING)
            return xu_error_set(err, XU_EX_TEMPFAIL, "timed out after %g s during %s with %s%s",
                                e->c->opts->timeout, xu_phase_name(e->s.phase),
                                e->s.connect_target, parts);
        if (!streaming(e))
            return xu_error_set(err, XU_EX_TEMPFAIL, "timed out after %g s%s%s",
                                e->c->opts->timeout, parts[0] ? "" : ": the message was not "
                                "acknowledged by the server", parts);
        return xu_error_set(err, XU_EX_TEMPFAIL,
                            "timed out after %g s at the end of the input: %zu %s not "
                            "acknowledged by the server%s%s",
                            e->c->opts->timeout, left, unit(e, left),
                            e->state == UP ? "" : "; last error: ",
                            e->state == UP ? "" : e->last_err[0] ? e->last_err : "none");
    }
    for (k = 0; k < e->c->nto; k++) {
        count = 0;
        for (i = e->rwhead; i < e->nrw; i++)
            count += e->rw[i].id && e->rw[i].rcpt == k;
        if (count == 0)
            continue;
        n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s (%d message%s)", n ? ", " : "", e->c->to[k],
                 count, count == 1 ? "" : "s");
    }
    return xu_error_set(err, XU_EX_TEMPFAIL,
                        "no delivery receipt within %g s from %s; the server accepted the "
                        "message(s), but no client of the recipient confirmed them",
                        e->c->opts->timeout, list);
}

static void input_ended(struct engine *e)
{
    double now = xu_now();

    if (e->ended)
        return;
    e->ended = 1;
    if (e->c->opts->timeout > 0)
        e->final_deadline = now + e->c->opts->timeout;
    if (e->state == UP)
        xu_session_set_deadline(&e->s, e->final_deadline);
}

/* ---- the loop ---- */

/* A session step returned rc: the final timeout, or a connection failure. */
static int step_failed(struct engine *e, int rc, struct xu_error *err)
{
    if (e->final_deadline > 0 && xu_now() >= e->final_deadline - 0.01)
        return timed_out(e, err);
    rc = connection_failed(e, rc);
    if (rc)
        xu_error_set(err, rc, "%s", e->s.err.msg);
    return rc;
}

static int wait_down(struct engine *e, double until)
{
    struct pollfd p = {input_fd(e), POLLIN, 0};
    double w = until - xu_now();
    int n;

    if (w < 0)
        w = 0;
    if (w > 1)
        w = 1;
    n = poll(&p, p.fd >= 0 ? 1 : 0, (int)(w * 1000) + 1);
    if (n > 0)
        return read_input(e);
    return 0;
}

static int run(struct engine *e, struct xu_error *err)
{
    double now;
    int rc, ready, fd;
    unsigned long inbound;

    for (;;) {
        if (stop_signal && !e->stopping && streaming(e)) {
            e->stopping = 1;
            xu_warn("interrupted: delivering what was written before (interrupt again to quit at once)");
        }
        if (e->stopping && !e->eof_read) {
            /* what the writer wrote before the signal is still ours to deliver */
            struct pollfd p = {input_fd(e), POLLIN, 0};
            if (p.fd >= 0 && poll(&p, 1, 0) > 0 && (rc = read_input(e)) != 0)
                return xu_error_set(err, rc, "%s", e->s.err.msg);
            if (p.fd >= 0 && !(p.revents & (POLLIN | POLLHUP)))
                e->eof_read = 1;
        }
        rc = drain_input(e);
        if (rc)
            return xu_error_set(err, rc, "%s", e->s.err.msg);
        if (e->input_done)
            input_ended(e);
        if (finished(e))
            return finish(e, err);
        now = xu_now();
        if (e->final_deadline > 0 && now >= e->final_deadline && e->state != UP)
            return timed_out(e, err);

        if (e->state == DOWN) {
            if (now < e->retry_at) {
                rc = wait_down(e, e->retry_at);
                if (rc)
                    return xu_error_set(err, rc, "%s", e->s.err.msg);
                continue;
            }
            rc = start_connecting(e);
            if (rc && (rc = step_failed(e, rc, err)) != 0)
                return rc;
            continue;
        }

        if (e->state == UP) {
            rc = pump(e, now);
            if (rc)
                return xu_error_set(err, rc, "%s", e->s.err.msg);
            if (e->npings > 0 && now - e->pings[0].sent > ack_timeout(e) &&
                e->final_deadline == 0) {
                xu_error_set(&e->s.err, XU_EX_TEMPFAIL,
                             "the server did not acknowledge within %g s", ack_timeout(e));
                if ((rc = step_failed(e, XU_EX_TEMPFAIL, err)) != 0)
                    return rc;
                continue;
            }
        }
        fd = input_fd(e);
        inbound = e->inbound;
        rc = xu_session_step(&e->s, e->state == UP ? next_wait(e, now) : 0.05, fd, &ready);
        e->busy = e->inbound != inbound;
        if (ready) {
            int rrc = read_input(e);
            if (rrc)
                return xu_error_set(err, rrc, "%s", e->s.err.msg);
        }
        if (rc == 0 && e->bounces.count > e->bounces_warned && streaming(e)) {
            if (e->bounces_warned == 0)
                xu_warn("a message bounced: %s (further bounces are counted)", e->bounces.first);
            e->bounces_warned = e->bounces.count;
        }
        if (rc == 0 && e->removed) {
            e->removed = 0;
            xu_error_set(&e->s.err, e->removed_fatal ? XU_EX_NOPERM : XU_EX_TEMPFAIL, "%s",
                         e->removed_why);
            if (e->removed_fatal) {
                rc = xu_error_set(err, XU_EX_NOPERM, "%s", e->removed_why);
                drop_session(e);
                return rc;
            }
            rc = XU_EX_TEMPFAIL;
        }
        if (rc) {
            if ((rc = step_failed(e, rc, err)) != 0)
                return rc;
            continue;
        }
        if (e->state == CONNECTING && e->s.ready) {
            rc = session_up(e);
            if (rc && e->removed_fatal) {
                rc = xu_error_set(err, rc, "%s", e->s.err.msg);
                drop_session(e);
                return rc;
            }
            if (rc && (rc = step_failed(e, rc, err)) != 0)
                return rc;
        }
    }
}

int xu_deliver(const struct xu_deliver_cfg *c, struct xu_error *err)
{
    struct engine *e = calloc(1, sizeof *e);
    struct sigaction sa, old_int, old_term, old_hup;
    size_t len;
    char *body;
    int rc = 0, handlers = 0, i;

    if (!e)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    e->c = c;
    e->s.sock = -1;
    srandom((unsigned)getpid() ^ (unsigned)time(NULL));
    xu_outbox_init(&e->ob, c->buffer ? c->buffer : 10000, MAX_BUFFER_BYTES);
    xu_bucket_init(&e->bucket, c->rate, c->rate, xu_now());
    e->rooms = calloc((size_t)(c->nto > 0 ? c->nto : 1), sizeof *e->rooms);
    if (!e->rooms)
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");

    /* one transcript across all the connections of this run */
    if (rc == 0 && c->opts->trace && (rc = xu_trace_open(&e->trace, c->opts->trace, err)) == 0)
        xu_session_share_trace(e->trace);
    if (rc == 0 && c->input == XU_INPUT_BODY) {
        for (i = -1; i < c->noob && rc == 0; i++) { /* the body, then each file's URL */
            if (i < 0 && !c->body)
                continue;
            len = strlen(i < 0 ? c->body : c->oob[i]);
            body = strdup(i < 0 ? c->body : c->oob[i]);
            if (!body || xu_outbox_push(&e->ob, body, len, xu_now()) < 0)
                rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
        }
        e->eof_read = e->input_done = e->ended = 1;
        if (c->opts->timeout > 0)
            e->final_deadline = xu_now() + c->opts->timeout; /* the whole run */
    } else if (rc == 0 && c->input == XU_INPUT_XML) {
        e->xctx = xmpp_ctx_new(NULL, NULL);
        e->reader = e->xctx ? xu_reader_new(c->fd, 0) : NULL;
        e->reading.ctx = e->xctx;
        e->reading.is_component = c->opts->component != NULL;
        if (!e->reader)
            rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
        if (rc == 0 && c->strict && (rc = read_all_xml(e)) != 0)
            xu_error_set(err, rc, "%s", e->s.err.msg);
    }

    /* streams use XEP-0198 where offered (acknowledgements per stanza,
     * resumption after a cut); a one-shot send keeps its ping */
    if (rc == 0 && streaming(e))
        xu_session_want_sm(1, on_sm_ack, e);
    if (rc == 0 && streaming(e)) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        /* a hangup (the ssh session of `tail -F | xmpp-send -l` dropped)
         * is a request to stop like SIGTERM: what was read is delivered */
        sigaction(SIGHUP, &sa, &old_hup);
        handlers = 1;
    }
    if (rc == 0)
        rc = run(e, err);
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
    }

    xu_session_want_sm(0, NULL, NULL);
    free(e->marks);
    drop_pings(e, e->npings, 0);
    if (e->rooms)
        free_rooms(e);
    free(e->rooms);
    xu_session_free(&e->s);
    xu_outbox_free(&e->ob);
    for (len = 0; len < e->nrw; len++)
        free(e->rw[len].id);
    free(e->rw);
    free(e->in);
    xu_reader_free(e->reader);
    if (e->trace) {
        xu_session_share_trace(NULL);
        xu_trace_close(e->trace);
    }
    if (e->xctx)
        xmpp_ctx_free(e->xctx);
    free(e);
    return rc;
}

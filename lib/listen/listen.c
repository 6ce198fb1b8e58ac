#include "listen/listen.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/jid.h"
#include "base/msg.h"
#include "base/secret.h"
#include "listen/catchup.h"
#include "listen/listen_signals.h"
#include "listen/omemo_decrypt.h"
#include "xml/stanza_out.h"
#include "xmpp/keepalive.h"
#include "xmpp/muc.h"
#include "xmpp/reconnect.h"
#include "xmpp/responder.h"
#include "xmpp/session.h"

#define CLOSE_GRACE 2.0     /* seconds to let the server see a clean close */

/* Everything one run needs, across reconnects. */
struct run {
    const struct xu_listen_cfg *lo;
    struct xu_opts conn_opts; /* the user's options, timeout = one connection attempt */
    double run_deadline;      /* --timeout: 0 none */
    double listen_time;       /* --timeout's value */
    struct xu_session s;
    struct xu_responder responder;
    struct xu_keepalive keepalive;
    struct xu_muc_room *joined; /* per room of lo->rooms: as joined in this session */
    char *room_password;
    unsigned long printed;
    double last_match;        /* for --idle */
    struct xu_backoff backoff; /* xmpp/reconnect.h: the one policy */
    int done;                 /* --count reached, or standard output gone */
    int out_closed;           /* the reader of standard output went away */
    struct xu_error out_err;  /* a write error other than a closed pipe */
    struct xu_omemo *omemo;   /* --omemo */
    struct xu_catchup *cu;    /* archive catch-up and dedup (lib/listen/catchup.c) */
};

/* ---- stanzas ---- */

static int same_full_jid(const char *a, const char *b)
{
    const char *ra = strchr(a, '/'), *rb = strchr(b, '/');

    return xu_jid_bare_equal(a, b) && ra && rb && strcmp(ra, rb) == 0;
}

/* Our own echo: our presence reflected by the server, our self-presence in
 * a room (status 110), our own messages to a room. */
static int is_own(struct run *r, xmpp_stanza_t *st)
{
    const char *from = xmpp_stanza_get_from(st);
    xmpp_stanza_t *x, *c;
    size_t i;

    if (!from)
        return 0;
    if (r->s.bound_jid && same_full_jid(from, r->s.bound_jid))
        return 1;
    for (i = 0; i < r->lo->nrooms; i++)
        if (r->joined[i].occupant && same_full_jid(from, r->joined[i].occupant))
            return 1;
    x = xmpp_stanza_get_child_by_name_and_ns(st, "x", XU_NS_MUC_USER);
    for (c = x ? xmpp_stanza_get_children(x) : NULL; c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c), "status") == 0 &&
            xmpp_stanza_get_attribute(c, "code") &&
            strcmp(xmpp_stanza_get_attribute(c, "code"), "110") == 0)
            return 1;
    return 0;
}

/* Print one stanza, live or from the archive (called by lib/listen/catchup.c in
 * the order it decides). */
static int emit(xmpp_stanza_t *st, const struct xu_origin *o, void *ud)
{
    struct run *r = ud;
    char *line;
    int closed = 0;

    if (r->done)
        return XU_EMIT_STOP;
    if (!r->lo->own && is_own(r, st))
        return XU_EMIT_SKIPPED;
    if (r->omemo) {
        struct xu_omemo_view v;
        int k = xu_omemo_view(r->omemo, &r->s, st, &v);

        if (k < 0)
            return XU_EMIT_SKIPPED; /* a key transport message: nothing to show */
        if (k > 0) {
            line = xu_filter_match(r->lo->filter, v.shown)
                       ? xu_omemo_format_line(&v, r->lo->format, xu_catchup_wall_now()) : NULL;
            xu_omemo_view_free(&v);
            xu_omemo_refresh(r->omemo, &r->s); /* replace a used prekey */
            goto print;
        }
    }
    if (!xu_filter_match(r->lo->filter, st))
        return XU_EMIT_SKIPPED;
    line = xu_format_line_from(st, r->lo->format, xu_catchup_wall_now(), o->archive, o->id,
                               o->archived);
print:
    if (!line)
        return XU_EMIT_SKIPPED; /* nothing to show in this format (--body: no body) */
    if (xu_write_line(stdout, line, &closed, &r->out_err) != 0) {
        r->done = 1;
        r->out_closed = closed;
        if (closed)
            xu_error_clear(&r->out_err);
    } else {
        r->printed++;
        r->last_match = xu_now();
        if (r->lo->count && r->printed >= r->lo->count)
            r->done = 1;
    }
    free(line);
    return r->done ? XU_EMIT_STOP : XU_EMIT_PRINTED;
}

static int on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct run *r = ud;
    const char *kind = xu_stanza_kind(st), *type = xmpp_stanza_get_type(st);

    (void)conn;
    if (r->done || !kind)
        return 1;
    /* answers to our own requests (keepalive, room configuration, archive) */
    if (strcmp(kind, "iq") == 0 && type && (strcmp(type, "result") == 0 || strcmp(type, "error") == 0))
        return 1;
    xu_catchup_live(r->cu, st);
    return 1;
}

/* ---- one connection ---- */

static void send_presence(struct run *r, const char *type)
{
    xmpp_stanza_t *p = xmpp_presence_new(r->s.ctx), *el, *t;
    const char *names[2] = {"show", "status"};
    const char *values[2] = {r->lo->show, r->lo->status};
    int i;

    if (!p)
        return;
    if (type)
        xmpp_stanza_set_type(p, type);
    for (i = type ? 1 : 0; i < 2; i++) {
        if (!values[i])
            continue;
        el = xmpp_stanza_new(r->s.ctx);
        t = xmpp_stanza_new(r->s.ctx);
        if (el && t) {
            xmpp_stanza_set_name(el, names[i]);
            xmpp_stanza_set_text(t, values[i]);
            xmpp_stanza_add_child(el, t);
            xmpp_stanza_add_child(p, el);
        }
        if (t)
            xmpp_stanza_release(t);
        if (el)
            xmpp_stanza_release(el);
    }
    xu_session_send(&r->s, p);
    xmpp_stanza_release(p);
}

static void forget_rooms(struct run *r)
{
    size_t i;

    for (i = 0; i < r->lo->nrooms; i++)
        xu_muc_room_free(&r->joined[i]);
}

/* Inside the connect callback, so that nothing the server sends right after
 * binding is missed; before any presence, as stored messages arrive as soon
 * as we are available. */
static void install_handlers(struct xu_session *s, void *ud)
{
    struct run *r = ud;

    xmpp_handler_add(s->conn, on_stanza, NULL, NULL, NULL, r);
    xu_responder_install(s, &r->responder);
    xu_catchup_session(r->cu, s);
}

/* Join (again, after a reconnect) every room of the run. */
static int join_rooms(struct run *r, struct xu_error *err)
{
    struct xu_muc_join j;
    size_t i;
    int rc;

    for (i = 0; i < r->lo->nrooms && !xu_listen_stop_signal(); i++) {
        memset(&j, 0, sizeof j);
        j.room = r->lo->rooms[i].room;
        j.nick = r->lo->rooms[i].nick;
        j.password = r->room_password;
        j.history = xu_catchup_room_history(r->cu, j.room, r->lo->history);
        j.retry_nick = 1; /* e.g. our previous session still in the room */
        rc = xu_muc_join(&r->s, &j, &r->joined[i], err);
        if (rc)
            return rc;
        xu_info("joined %s as %s", r->joined[i].room, r->joined[i].nick);
    }
    return 0;
}

/* Connect, say we are here, join the rooms, catch up: ready to listen. */
static int connect_and_setup(struct run *r, struct xu_error *err)
{
    double deadline = xu_now() + r->conn_opts.timeout;
    int rc;

    if (r->run_deadline > 0 && r->run_deadline < deadline)
        deadline = r->run_deadline;
    forget_rooms(r);
    xu_session_on_ready(install_handlers, r);
    rc = xu_session_open(&r->s, &r->conn_opts, deadline, err);
    if (rc)
        return rc;
    xu_keepalive_start(&r->keepalive, &r->s, r->lo->keepalive);
    if (!r->s.is_component) {
        if (!r->lo->no_presence)
            send_presence(r, NULL);
        /* once answered, the server has made us available */
        rc = xu_session_roundtrip(&r->s, NULL, err);
        if (rc)
            return rc;
    }
    if (r->omemo && (rc = xu_omemo_publish(r->omemo, &r->s, err)) != 0)
        return rc;
    if ((rc = join_rooms(r, err)) != 0)
        return rc;
    /* the gap from the archives, then what arrived live meanwhile */
    rc = xu_listen_stop_signal() ? 0 : xu_catchup_finish(r->cu, err);
    if (rc)
        return rc;
    /* listening has no deadline of its own; --timeout is watched by the loop */
    xu_session_set_deadline(&r->s, r->run_deadline > 0 ? r->run_deadline + CLOSE_GRACE + 1 : 0);
    xu_backoff_up(&r->backoff, xu_now());
    return 0;
}

/* Leave the rooms, go unavailable, close the stream, and give the server a
 * moment to see it. */
static void close_cleanly(struct run *r)
{
    size_t i;

    if (!r->s.conn || !r->s.ready || r->s.disconnected)
        return;
    for (i = 0; i < r->lo->nrooms; i++)
        xu_muc_leave(&r->s, &r->joined[i]);
    if (!r->s.is_component && !r->lo->no_presence)
        send_presence(r, "unavailable");
    xu_session_set_deadline(&r->s, xu_now() + CLOSE_GRACE);
    xu_session_close(&r->s);
}

/* ---- the loop ---- */

enum { END_DONE = 1, END_SIGNAL, END_TIMEOUT, END_IDLE };

/* The reason to stop now, or 0. */
static int should_end(struct run *r, double listen_start)
{
    double now = xu_now(), since;

    if (xu_listen_stop_signal())
        return END_SIGNAL;
    if (r->done)
        return END_DONE;
    if (xu_listen_stdout_gone()) {
        r->out_closed = 1;
        return END_DONE;
    }
    if (r->run_deadline > 0 && now >= r->run_deadline)
        return END_TIMEOUT;
    since = r->last_match > listen_start ? r->last_match : listen_start;
    if (r->lo->idle > 0 && now >= since + r->lo->idle)
        return END_IDLE;
    return 0;
}

/* How long the loop may sleep. */
static double next_wait(struct run *r, double listen_start)
{
    double now = xu_now(), wait = 1.0, t, since;

    if (r->run_deadline > 0 && r->run_deadline - now < wait)
        wait = r->run_deadline - now;
    since = r->last_match > listen_start ? r->last_match : listen_start;
    if (r->lo->idle > 0 && since + r->lo->idle - now < wait)
        wait = since + r->lo->idle - now;
    t = xu_keepalive_due(&r->keepalive);
    if (t > 0 && t - now < wait)
        wait = t - now;
    return wait < 0 ? 0 : wait;
}

/* Sleep up to `seconds`, waking for a signal, a gone reader or a deadline. */
static int pause_for(struct run *r, double seconds, double listen_start)
{
    struct pollfd p[2] = {{xu_listen_wake_fd(), POLLIN, 0}, {1, 0, 0}};
    double until = xu_now() + seconds, wait;
    int end;

    while ((end = should_end(r, listen_start)) == 0 && xu_now() < until) {
        wait = next_wait(r, listen_start);
        if (until - xu_now() < wait)
            wait = until - xu_now();
        if (poll(p, 2, (int)(wait * 1000) + 1) > 0 && (p[0].revents & POLLIN))
            xu_listen_wake_drain();
    }
    return end;
}

/* After a drop: reconnect with the suite's backoff until it works, a
 * permanent error, a signal or a deadline. Returns 0 when listening again,
 * an END_ reason, or an error code (< END_DONE is impossible: exit codes
 * are >= 64). Every session here follows one that worked: an unknown host
 * or an I/O error is an outage, retried. */
static int reconnect(struct run *r, double listen_start, struct xu_error *err)
{
    struct xu_error e = {0, ""};
    double delay = xu_backoff_next(&r->backoff, xu_now());
    int rc, end;

    xu_warn("%s; reconnecting in %.1f s", r->s.err.msg[0] ? r->s.err.msg : "connection lost",
            delay);
    xu_session_free(&r->s);
    for (;;) {
        end = pause_for(r, delay, listen_start);
        if (end)
            return end;
        xu_error_clear(&e);
        rc = connect_and_setup(r, &e);
        if (rc == 0) {
            /* the backoff only starts over after a stable connection: a
             * server that drops us again at once gets no tight loop */
            xu_warn("reconnected as %s", r->s.bound_jid ? r->s.bound_jid : "?");
            return 0;
        }
        if (xu_listen_stop_signal()) {
            xu_session_free(&r->s);
            return END_SIGNAL;
        }
        if (!xu_reconnect_retryable(rc, &r->s, 1)) {
            xu_session_free(&r->s);
            return xu_error_set(err, rc, "reconnecting failed: %s", e.msg);
        }
        xu_session_free(&r->s);
        delay = xu_backoff_next(&r->backoff, xu_now());
        xu_warn("reconnecting failed: %s; next attempt in %.1f s", e.msg, delay);
    }
}

static int listen_loop(struct run *r, struct xu_error *err)
{
    double listen_start = xu_now();
    struct xu_error kerr = {0, ""};
    int rc, end, woke;

    xu_info("online as %s; listening", r->s.bound_jid ? r->s.bound_jid : "?");
    for (;;) {
        end = should_end(r, listen_start);
        if (end)
            break;
        rc = xu_session_step(&r->s, next_wait(r, listen_start), xu_listen_wake_fd(), &woke);
        if (woke)
            xu_listen_wake_drain();
        if (r->done || xu_listen_stop_signal())
            continue; /* should_end says why */
        if (rc == 0)
            rc = xu_keepalive_tick(&r->keepalive, &r->s, &kerr);
        if (rc == 0)
            continue;
        /* the connection is gone */
        if (kerr.code)
            xu_error_replace(&r->s.err, kerr.code, "%s", kerr.msg);
        xu_error_clear(&kerr);
        if (r->lo->reconnect && xu_reconnect_forbidden(&r->s))
            return xu_error_set(err, rc, "%s; %s", r->s.err.msg,
                                xu_reconnect_forbidden_why(&r->s));
        if (!r->lo->reconnect || !xu_reconnect_retryable(rc, &r->s, 1))
            return xu_error_set(err, rc, "%s", r->s.err.msg);
        rc = reconnect(r, listen_start, err);
        if (rc >= END_DONE && rc <= END_IDLE) {
            end = rc;
            break;
        }
        if (rc)
            return rc;
    }
    close_cleanly(r);
    if (r->out_err.code)
        return xu_error_set(err, r->out_err.code, "%s", r->out_err.msg);
    if ((end == END_TIMEOUT || end == END_IDLE) && r->printed == 0)
        return xu_error_set(err, XU_EX_TEMPFAIL, "nothing matched within %g s (%s)",
                            end == END_IDLE ? r->lo->idle : r->listen_time,
                            end == END_IDLE ? "--idle" : "--timeout");
    return 0;
}

/* ---- the run ---- */

static int make_catchup(struct run *r, struct xu_error *err)
{
    const struct xu_listen_cfg *lo = r->lo;
    struct xu_catchup_opts co;
    const char **rooms = calloc(lo->nrooms + 1, sizeof *rooms);
    size_t i;
    int rc;

    if (!rooms)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (i = 0; i < lo->nrooms; i++)
        rooms[i] = lo->rooms[i].room;
    memset(&co, 0, sizeof co);
    co.enabled = lo->reconnect || lo->state_file || lo->since;
    co.state_file = lo->state_file;
    co.since = lo->since;
    co.max = lo->max_catchup;
    co.own = lo->own;
    co.deadline = r->run_deadline;
    rc = xu_catchup_new(&co, rooms, lo->nrooms, emit, r, &r->cu, err);
    free(rooms);
    return rc;
}

/* The secrets, the signals, the OMEMO store, the timeouts: before the
 * first connection. */
static int prepare(struct run *r, struct xu_opts *o, struct xu_error *err)
{
    static const char *const features[] = {XU_NS_MUC, NULL};
    int rc = 0;

    r->joined = calloc(r->lo->nrooms + 1, sizeof *r->joined);
    if (!r->joined)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (r->lo->room_password_file)
        rc = xu_secret_read_file(r->lo->room_password_file, "room password", &r->room_password,
                                 err);
    if (rc == 0 && r->lo->reconnect)
        rc = xu_password_keep(o, err);
    if (rc == 0)
        rc = xu_listen_signals_setup(err);
    if (rc == 0 && r->lo->omemo)
        rc = xu_omemo_open_account(&r->omemo, o->jid, err);
    if (rc)
        return rc;
    srandom((unsigned)(time(NULL) ^ getpid())); /* the backoff's jitter */
    xu_backoff_init(&r->backoff);
    r->conn_opts = *o;
    /* one connection attempt: the configured timeout (default 30 s);
     * --timeout given here is the listening time and caps it */
    r->conn_opts.timeout = o->timeout_config > 0 ? o->timeout_config : XU_CONNECT_TIMEOUT;
    if (o->timeout_cli && o->timeout > 0) {
        r->run_deadline = xu_now() + o->timeout;
        r->listen_time = o->timeout;
        if (o->timeout < r->conn_opts.timeout)
            r->conn_opts.timeout = o->timeout;
    }
    r->responder.name = "xmpp-listen";
    r->responder.version = XU_VERSION;
    r->responder.features = features;
    return make_catchup(r, err);
}

int xu_listen_run(const struct xu_listen_cfg *c, struct xu_opts *o, struct xu_error *err)
{
    struct run r;
    int rc;

    memset(&r, 0, sizeof r);
    r.lo = c;
    rc = prepare(&r, o, err);
    if (rc == 0)
        rc = connect_and_setup(&r, err);
    if (rc == 0)
        rc = listen_loop(&r, err);
    else if (xu_listen_stop_signal())
        rc = 0; /* asked to stop while connecting: nothing to close */
    xu_session_free(&r.s);
    xu_omemo_free(r.omemo);
    xu_catchup_free(r.cu);
    xu_secret_free(r.room_password);
    if (r.joined)
        forget_rooms(&r);
    free(r.joined);
    if (rc == 0 && !r.out_closed && fflush(stdout) == EOF && errno != EPIPE)
        rc = xu_error_set(err, XU_EX_IOERR, "cannot write to standard output: %s",
                          strerror(errno));
    return rc;
}

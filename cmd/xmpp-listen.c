/* xmpp-listen: stay online and print every incoming stanza on standard
 * output, one per line, flushed per stanza, for pipes, bots and monitors. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "listen/catchup.h"
#include "xml/filter.h"
#include "xml/format.h"
#include "base/jid.h"
#include "xmpp/keepalive.h"
#include "base/msg.h"
#include "xmpp/muc.h"
#include "base/opts.h"
#include "xmpp/reconnect.h"
#include "omemo/decrypt.h"
#include "xmpp/responder.h"
#include "base/secret.h"
#include "xmpp/session.h"
#include "xml/stanza_out.h"
#include "base/stdfds.h"

#define BACKOFF_MAX 60.0    /* seconds between reconnect attempts, at most */
#define STABLE_AFTER 60.0   /* a connection up this long resets the backoff */
#define CLOSE_GRACE 2.0     /* seconds to let the server see a clean close */

enum {
    O_FORMAT = 1000, O_BODY, O_COUNT, O_IDLE, O_KIND, O_TYPE, O_FROM, O_XPATH, O_ROOM,
    O_ROOM_PASSWORD_FILE, O_HISTORY, O_OWN, O_PRESENCE, O_STATUS, O_NO_PRESENCE,
    O_RECONNECT, O_KEEPALIVE, O_OMEMO, O_STATE, O_SINCE, O_MAX_CATCHUP,
};

static const struct xu_option listen_options[] = {
    {"format", 0, XU_OPT_ARG, O_FORMAT, "FMT", "xml (default), json (JSON Lines), text or body", XU_CALL},
    {"body", 'b', 0, O_BODY, NULL, "only message bodies (same as --format body)", XU_CALL},
    {"count", 'n', XU_OPT_ARG | XU_OPT_NOCONFIG, O_COUNT, "N", "exit 0 after N stanzas were printed", XU_CALL},
    {"idle", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, O_IDLE, "SECONDS", "stop after SECONDS without a match", XU_CALL},
    {"kind", 'k', XU_OPT_ARG | XU_OPT_NOCONFIG | XU_OPT_REPEAT, O_KIND, "KINDS", "only message, presence and/or iq (a list)", XU_CALL},
    {"type", 't', XU_OPT_ARG | XU_OPT_NOCONFIG | XU_OPT_REPEAT, O_TYPE, "TYPES", "only these types (chat, groupchat, ...)", XU_CALL},
    {"from", 'f', XU_OPT_ARG | XU_OPT_NOCONFIG | XU_OPT_REPEAT, O_FROM, "JID", "only from JID (bare: any resource)", XU_CALL},
    {"xpath", 'x', XU_OPT_ARG | XU_OPT_NOCONFIG | XU_OPT_REPEAT, O_XPATH, "EXPR", "only where the XPath EXPR is true", XU_CALL},
    {"room", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_ROOM, "ROOM[/NICK]", "join this multi-user chat room", XU_CALL},
    {"room-password-file", 0, XU_OPT_ARG, O_ROOM_PASSWORD_FILE, "FILE", "room password: first line of FILE", XU_CALL},
    {"history", 0, XU_OPT_ARG, O_HISTORY, "N", "ask rooms for N old messages (default 0)", XU_CALL},
    {"own", 0, 0, O_OWN, NULL, "also print our own echoes (room, presence)", XU_CALL},
    {"presence", 0, XU_OPT_ARG, O_PRESENCE, "SHOW", "available (default), chat, away, xa or dnd", XU_CALL},
    {"status", 0, XU_OPT_ARG, O_STATUS, "TEXT", "status message of the initial presence", XU_CALL},
    {"no-presence", 0, 0, O_NO_PRESENCE, NULL, "send no initial presence", XU_CALL},
    {"reconnect", 0, 0, O_RECONNECT, NULL, "reconnect (with backoff) after a drop", XU_CALL},
    {"keepalive", 0, XU_OPT_ARG, O_KEEPALIVE, "SECONDS", "ping after SECONDS of silence (60; 0: off)", XU_CALL},
    {"omemo", 0, 0, O_OMEMO, NULL, "publish our OMEMO device and print OMEMO messages decrypted", XU_CALL},
    {"state", 0, XU_OPT_ARG, O_STATE, "FILE", "remember the last archive id per archive; catch up from it", XU_CALL},
    {"since", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, O_SINCE, "TIME|ID", "first catch up from the archive since TIME or after ID", XU_CALL},
    {"max-catchup", 0, XU_OPT_ARG, O_MAX_CATCHUP, "N", "print at most N archived messages per archive and catch-up", XU_CALL},
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};

struct room {
    char *room; /* bare room JID */
    char *nick; /* NULL: the account's node */
    int from_config;
    struct xu_muc_room joined;
};

struct listen_opts {
    enum xu_format format;
    unsigned long count; /* 0: no limit */
    double idle;         /* 0: none */
    struct xu_filter *filter;
    struct room *rooms;
    size_t nrooms;
    char *room_password_file;
    int history;
    int own;
    char *show;          /* NULL: available */
    char *status;
    int no_presence;
    int reconnect;
    double keepalive;
    int omemo;
    char *state_file;
    char *since;
    unsigned long max_catchup;
};

/* Everything one run needs, across reconnects. */
struct run {
    struct listen_opts *lo;
    struct xu_opts conn_opts; /* the user's options, timeout = one connection attempt */
    double run_deadline;      /* --timeout: 0 none */
    double listen_time;       /* --timeout's value */
    struct xu_session s;
    struct xu_responder responder;
    struct xu_keepalive keepalive;
    char *room_password;
    unsigned long printed;
    double last_match;        /* for --idle */
    double connected_at;
    double backoff;
    int done;                 /* --count reached, or standard output gone */
    int out_closed;           /* the reader of standard output went away */
    struct xu_error out_err;  /* a write error other than a closed pipe */
    struct xu_omemo *omemo;   /* --omemo */
    struct xu_catchup *cu;    /* archive catch-up and dedup (lib/listen/catchup.c) */
};

static volatile sig_atomic_t stop_signal;
static int wake_fds[2] = {-1, -1};

/* ---- options ---- */

static int set(char **dst, const char *v, struct xu_error *err)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : xu_error_set(err, XU_EX_OSERR, "out of memory");
}

static int add_room(struct listen_opts *lo, const char *arg, int from_config, int code,
                    struct xu_error *err)
{
    const char *at = strchr(arg, '@'), *slash = at ? strchr(at, '/') : NULL;
    char *spec = strndup(arg, slash ? (size_t)(slash - arg) : strlen(arg)), *room = NULL;
    struct room *nr;
    size_t i;

    if (!spec)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (xu_muc_parse_room(spec, &room) < 0 || (slash && slash[1] == '\0')) {
        free(spec);
        free(room);
        return xu_error_set(err, code, "invalid room '%s': give ROOM@SERVICE or ROOM@SERVICE/NICK",
                            arg);
    }
    free(spec);
    /* the command line replaces the rooms of the config file */
    if (!from_config) {
        for (i = 0; i < lo->nrooms && lo->rooms[i].from_config; i++) {
            free(lo->rooms[i].room);
            free(lo->rooms[i].nick);
        }
        if (i && i == lo->nrooms)
            lo->nrooms = 0;
    }
    nr = realloc(lo->rooms, (lo->nrooms + 1) * sizeof *nr);
    if (!nr) {
        free(room);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    lo->rooms = nr;
    memset(&nr[lo->nrooms], 0, sizeof *nr);
    nr[lo->nrooms].room = room;
    nr[lo->nrooms].nick = slash ? strdup(slash + 1) : NULL;
    nr[lo->nrooms].from_config = from_config;
    lo->nrooms++;
    return 0;
}

static int apply(void *state, int id, const char *arg, int from_config, struct xu_error *err)
{
    static const char *const shows[] = {"available", "chat", "away", "xa", "dnd", NULL};
    struct listen_opts *lo = state;
    int code = from_config ? XU_EX_CONFIG : XU_EX_USAGE, i;
    unsigned long n;

    switch (id) {
    case O_FORMAT:
        if (xu_format_parse(arg, &lo->format) < 0)
            return xu_error_set(err, code, "--format must be xml, json, text or body, not '%s'", arg);
        return 0;
    case O_BODY: lo->format = XU_FORMAT_BODY; return 0;
    case O_OMEMO: lo->omemo = 1; return 0;
    case O_COUNT:
        if (xu_parse_uint(arg, 1, 1000000000, &lo->count) < 0)
            return xu_error_set(err, code, "--count must be a number from 1 to 1000000000, not '%s'", arg);
        return 0;
    case O_IDLE:
        if (xu_parse_duration(arg, 0.1, 86400 * 365, &lo->idle) < 0)
            return xu_error_set(err, code, "--idle must be a duration from 0.1 s to 1 year (e.g. 30, 500ms, 5m), not '%s'", arg);
        return 0;
    case O_KIND: return xu_filter_add_kind(lo->filter, arg, err);
    case O_TYPE: return xu_filter_add_type(lo->filter, arg, err);
    case O_FROM: return xu_filter_add_from(lo->filter, arg, err);
    case O_XPATH: return xu_filter_add_xpath(lo->filter, arg, err);
    case O_ROOM: return add_room(lo, arg, from_config, code, err);
    case O_ROOM_PASSWORD_FILE: return set(&lo->room_password_file, arg, err);
    case O_HISTORY:
        if (xu_parse_uint(arg, 0, 10000, &n) < 0)
            return xu_error_set(err, code, "--history must be a number from 0 to 10000, not '%s'", arg);
        lo->history = (int)n;
        return 0;
    case O_OWN: lo->own = 1; return 0;
    case O_PRESENCE:
        for (i = 0; shows[i] && strcmp(shows[i], arg) != 0; i++)
            ;
        if (!shows[i])
            return xu_error_set(err, code, "--presence must be available, chat, away, xa or dnd, not '%s'", arg);
        if (i == 0) {
            free(lo->show);
            lo->show = NULL;
            return 0;
        }
        return set(&lo->show, arg, err);
    case O_STATUS: return set(&lo->status, arg, err);
    case O_NO_PRESENCE: lo->no_presence = 1; return 0;
    case O_RECONNECT: lo->reconnect = 1; return 0;
    case O_STATE: return set(&lo->state_file, arg, err);
    case O_SINCE:
        if (xu_catchup_check_since(arg, code, err))
            return err->code;
        return set(&lo->since, arg, err);
    case O_MAX_CATCHUP:
        if (xu_parse_uint(arg, 1, 1000000000, &lo->max_catchup) < 0)
            return xu_error_set(err, code, "--max-catchup must be a number from 1 to 1000000000, not '%s'", arg);
        return 0;
    case O_KEEPALIVE:
        if (strcmp(arg, "0") == 0) {
            lo->keepalive = 0;
            return 0;
        }
        if (xu_parse_duration(arg, 1, 86400, &lo->keepalive) < 0)
            return xu_error_set(err, code, "--keepalive must be 0 (off) or a duration from 1 s to 1 day, not '%s'", arg);
        return 0;
    }
    return xu_error_set(err, XU_EX_SOFTWARE, "unhandled option %d", id);
}

static void listen_opts_free(struct listen_opts *lo)
{
    size_t i;

    xu_filter_free(lo->filter);
    for (i = 0; i < lo->nrooms; i++) {
        free(lo->rooms[i].room);
        free(lo->rooms[i].nick);
        xu_muc_room_free(&lo->rooms[i].joined);
    }
    free(lo->rooms);
    free(lo->room_password_file);
    free(lo->show);
    free(lo->status);
    free(lo->state_file);
    free(lo->since);
}

/* ---- signals: a clean close, never an abrupt death ---- */

static void on_signal(int sig)
{
    int saved = errno;
    ssize_t w;

    stop_signal = sig;
    w = write(wake_fds[1], "x", 1);
    (void)w;
    errno = saved;
}

static int setup_signals(struct xu_error *err)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    size_t i;

    if (pipe2(wake_fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return xu_error_set(err, XU_EX_OSERR, "pipe: %s", strerror(errno));
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* a second signal takes the default action: kills at once */
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is an EPIPE we handle */
    /* connecting and joining rooms stop at once too */
    xu_session_set_interrupt(&stop_signal);
    return 0;
}

static void drain_wake(void)
{
    char buf[64];

    while (read(wake_fds[0], buf, sizeof buf) > 0)
        ;
}

/* Has the reader of standard output gone (a pipe with no reader left)? */
static int stdout_gone(void)
{
    struct pollfd p = {1, 0, 0};

    return poll(&p, 1, 0) > 0 && (p.revents & POLLERR);
}

/* ---- stanzas ---- */

static double wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
        if (r->lo->rooms[i].joined.occupant && same_full_jid(from, r->lo->rooms[i].joined.occupant))
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
                       ? xu_omemo_format_line(&v, r->lo->format, wall_now()) : NULL;
            xu_omemo_view_free(&v);
            xu_omemo_refresh(r->omemo, &r->s); /* replace a used prekey */
            goto print;
        }
    }
    if (!xu_filter_match(r->lo->filter, st))
        return XU_EMIT_SKIPPED;
    line = xu_format_line_from(st, r->lo->format, wall_now(), o->archive, o->id, o->archived);
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
        xu_muc_room_free(&r->lo->rooms[i].joined);
}

/* Connect, say we are here, join the rooms: ready to listen. */
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

static int connect_and_setup(struct run *r, struct xu_error *err)
{
    struct xu_muc_join j;
    double deadline = xu_now() + r->conn_opts.timeout;
    size_t i;
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
    for (i = 0; i < r->lo->nrooms && !stop_signal; i++) {
        memset(&j, 0, sizeof j);
        j.room = r->lo->rooms[i].room;
        j.nick = r->lo->rooms[i].nick;
        j.password = r->room_password;
        j.history = xu_catchup_room_history(r->cu, j.room, r->lo->history);
        j.retry_nick = 1; /* e.g. our previous session still in the room */
        rc = xu_muc_join(&r->s, &j, &r->lo->rooms[i].joined, err);
        if (rc)
            return rc;
        xu_info("joined %s as %s", r->lo->rooms[i].joined.room, r->lo->rooms[i].joined.nick);
    }
    /* the gap from the archives, then what arrived live meanwhile */
    rc = stop_signal ? 0 : xu_catchup_finish(r->cu, err);
    if (rc)
        return rc;
    /* listening has no deadline of its own; --timeout is watched by the loop */
    xu_session_set_deadline(&r->s, r->run_deadline > 0 ? r->run_deadline + CLOSE_GRACE + 1 : 0);
    r->connected_at = xu_now();
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
        xu_muc_leave(&r->s, &r->lo->rooms[i].joined);
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

    if (stop_signal)
        return END_SIGNAL;
    if (r->done)
        return END_DONE;
    if (stdout_gone()) {
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

static int retryable(int code, const struct xu_session *s)
{
    /* a resource conflict would only throw the other session out in turn */
    if (xu_reconnect_forbidden(s))
        return 0;
    return code == XU_EX_TEMPFAIL || code == XU_EX_UNAVAILABLE || code == XU_EX_PROTOCOL ||
           code == XU_EX_NOHOST || code == XU_EX_IOERR;
}

/* Sleep up to `seconds`, waking for a signal, a gone reader or a deadline. */
static int pause_for(struct run *r, double seconds, double listen_start)
{
    struct pollfd p[2] = {{wake_fds[0], POLLIN, 0}, {1, 0, 0}};
    double until = xu_now() + seconds, wait;
    int end;

    while ((end = should_end(r, listen_start)) == 0 && xu_now() < until) {
        wait = next_wait(r, listen_start);
        if (until - xu_now() < wait)
            wait = until - xu_now();
        if (poll(p, 2, (int)(wait * 1000) + 1) > 0 && (p[0].revents & POLLIN))
            drain_wake();
    }
    return end;
}

/* After a drop: reconnect with backoff (1 s doubling to 60 s, with jitter)
 * until it works, a permanent error, a signal or a deadline. Returns 0
 * when listening again, an END_ reason, or an error code (< END_DONE is
 * impossible: exit codes are >= 64). */
static int reconnect(struct run *r, double listen_start, struct xu_error *err)
{
    struct xu_error e = {0, ""};
    double delay;
    int rc, end;

    if (r->connected_at > 0 && xu_now() - r->connected_at >= STABLE_AFTER)
        r->backoff = 1;
    delay = r->backoff * (0.8 + 0.4 * (double)rand() / RAND_MAX);
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
            xu_warn("reconnected as %s", r->s.bound_jid ? r->s.bound_jid : "?");
            /* a server that drops us again at once must not get a tight loop:
             * the backoff only starts over after a stable connection */
            r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
            return 0;
        }
        if (stop_signal) {
            xu_session_free(&r->s);
            return END_SIGNAL;
        }
        if (!retryable(rc, &r->s)) {
            xu_session_free(&r->s);
            return xu_error_set(err, rc, "reconnecting failed: %s", e.msg);
        }
        xu_session_free(&r->s);
        r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
        delay = r->backoff * (0.8 + 0.4 * (double)rand() / RAND_MAX);
        xu_warn("reconnecting failed: %s; next attempt in %.1f s", e.msg, delay);
    }
}

static int listen_loop(struct run *r, struct xu_error *err)
{
    double listen_start = xu_now();
    struct xu_error kerr = {0, ""};
    int rc, end, woke;

    r->backoff = 1;
    xu_info("online as %s; listening", r->s.bound_jid ? r->s.bound_jid : "?");
    for (;;) {
        end = should_end(r, listen_start);
        if (end)
            break;
        rc = xu_session_step(&r->s, next_wait(r, listen_start), wake_fds[0], &woke);
        if (woke)
            drain_wake();
        if (r->done || stop_signal)
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
        if (!r->lo->reconnect || !retryable(rc, &r->s))
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

static int check_usage(struct xu_opts *o, struct listen_opts *lo, int extra_args, char *first,
                       struct xu_error *err)
{
    if (extra_args)
        return xu_error_set(err, XU_EX_USAGE, "unexpected argument '%s' (see --help)", first);
    if (o->component && lo->nrooms)
        return xu_error_set(err, XU_EX_USAGE, "--room cannot be used with --component");
    if (lo->room_password_file && !lo->nrooms)
        return xu_error_set(err, XU_EX_USAGE, "--room-password-file needs --room");
    if (lo->omemo && o->component)
        return xu_error_set(err, XU_EX_USAGE, "--omemo needs a user account, not a component");
    if (lo->no_presence && (lo->show || lo->status))
        return xu_error_set(err, XU_EX_USAGE, "--no-presence conflicts with --presence and --status");
    if (o->component && (lo->state_file || lo->since))
        return xu_error_set(err, XU_EX_USAGE, "--state and --since need an account, not --component");
    if (lo->max_catchup && !lo->state_file && !lo->since && !lo->reconnect)
        return xu_error_set(err, XU_EX_USAGE, "--max-catchup needs --state, --since or --reconnect");
    return 0;
}

static int make_catchup(struct run *r, struct xu_error *err)
{
    struct listen_opts *lo = r->lo;
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

int main(int argc, char **argv)
{
    static const char *const features[] = {XU_NS_MUC, NULL};
    struct listen_opts lo;
    struct xu_tool tool = {
        "xmpp-listen", "[options]",
        "Stay online and print every incoming stanza on standard output, one per line,\n"
        "until interrupted, --count stanzas were printed, or --timeout/--idle expires.",
        listen_options, apply, &lo,
        "  --timeout and --idle end the run with 0 if anything was printed, else 75.\n"
        "  --timeout on the command line is the listening time; without it xmpp-listen\n"
        "  runs until stopped, and the timeout setting bounds each connection attempt.\n"
        "  SIGTERM, SIGINT and SIGHUP close the session cleanly and exit 0; so does a\n"
        "  reader of standard output that goes away. 74: writing the output failed.\n",
        .given = NULL,
    };
    struct xu_error err = {0, ""};
    struct run r;
    struct xu_opts o;
    int first, rc;

    if (xu_stdfds_init() != 0)
        return XU_EX_OSERR; /* no /dev/null: nowhere safe to write */
    memset(&lo, 0, sizeof lo);
    memset(&r, 0, sizeof r);
    lo.keepalive = 60;
    lo.filter = xu_filter_new();
    if (!lo.filter)
        return xu_report(&(struct xu_error){XU_EX_OSERR, "out of memory"});
    rc = xu_opts_parse(&o, &tool, argc, argv, &first, &err);
    if (rc == 0)
        rc = check_usage(&o, &lo, first < argc, argv[first < argc ? first : 0], &err);
    if (rc == 0 && lo.room_password_file)
        rc = xu_secret_read_file(lo.room_password_file, "room password", &r.room_password, &err);
    if (rc == 0 && lo.reconnect)
        rc = xu_password_keep(&o, &err);
    if (rc == 0)
        rc = setup_signals(&err);
    if (rc == 0 && lo.omemo)
        rc = xu_omemo_open_account(&r.omemo, o.jid, &err);
    r.lo = &lo;
    if (rc == 0) {
        srand((unsigned)(time(NULL) ^ getpid()));
        r.conn_opts = o;
        /* one connection attempt: the configured timeout (default 30 s);
         * --timeout given here is the listening time and caps it */
        r.conn_opts.timeout = o.timeout_config > 0 ? o.timeout_config : XU_CONNECT_TIMEOUT;
        if (o.timeout_cli && o.timeout > 0) {
            r.run_deadline = xu_now() + o.timeout;
            r.listen_time = o.timeout;
            if (o.timeout < r.conn_opts.timeout)
                r.conn_opts.timeout = o.timeout;
        }
        r.responder.name = "xmpp-listen";
        r.responder.version = XU_VERSION;
        r.responder.features = features;
        rc = make_catchup(&r, &err);
        if (rc == 0)
            rc = connect_and_setup(&r, &err);
    }
    if (rc == 0)
        rc = listen_loop(&r, &err);
    else if (stop_signal)
        rc = 0; /* asked to stop while connecting: nothing to close */
    xu_session_free(&r.s);
    xu_omemo_free(r.omemo);
    xu_catchup_free(r.cu);
    xu_secret_free(r.room_password);
    listen_opts_free(&lo);
    xu_opts_free(&o);
    if (rc == 0 && !r.out_closed && fflush(stdout) == EOF && errno != EPIPE)
        rc = xu_error_set(&err, XU_EX_IOERR, "cannot write to standard output: %s", strerror(errno));
    return rc ? xu_report(&err) : 0;
}

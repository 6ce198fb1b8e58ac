/* xmpp-bind: an authenticated XMPP session for scripts. By default it
 * negotiates, prints the bound JID and closes; --stdio bridges stanzas
 * between standard input/output and the server; --iq sends one request and
 * prints its answer. With --component the session is a XEP-0114 component. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmpp/iq.h"
#include "base/jid.h"
#include "xmpp/message.h"
#include "base/msg.h"
#include "base/opts.h"
#include "xml/outgoing.h"
#include "xmpp/session.h"
#include "xml/stanza_in.h"
#include "xml/stanza_out.h"
#include "base/stdfds.h"

#define IQ_MAX (1u << 20)     /* the largest --iq request read from stdin */
#define DRAIN_NO_DEADLINE 30.0 /* --timeout 0: wait this long for answers after end of input */
#define CLOSE_MARGIN 2.5      /* time left to close the stream after our own deadline */
#define SENDQ_MAX 64          /* stop reading stdin while this many stanzas wait to be sent */

enum { O_STDIO = 1000, O_IQ, O_QUERY, O_PRESENCE };

struct bind_opts {
    int stdio;
    int iq;
    int presence;
    char *query;
};

static const struct xu_option bind_options[] = {
    {"stdio", 0, XU_OPT_NOCONFIG, O_STDIO, NULL, "bridge: send stanzas from stdin, print each one received (one per line)", XU_CALL},
    {"iq", 0, XU_OPT_NOCONFIG, O_IQ, NULL, "send the one <iq> read from stdin, print its answer", XU_CALL},
    {"query", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, O_QUERY, "XML", "the <iq> to send (implies --iq; stdin is not read)", XU_CALL},
    {"presence", 0, XU_OPT_NOCONFIG, O_PRESENCE, NULL, "with --stdio: send initial presence once bound", XU_CALL},
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};

static int apply(void *state, int id, const char *arg, int from_config, struct xu_error *err)
{
    struct bind_opts *bo = state;

    (void)from_config;
    switch (id) {
    case O_STDIO: bo->stdio = 1; return 0;
    case O_IQ: bo->iq = 1; return 0;
    case O_PRESENCE: bo->presence = 1; return 0;
    case O_QUERY:
        free(bo->query);
        bo->query = strdup(arg);
        bo->iq = 1;
        return bo->query ? 0 : xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    return xu_error_set(err, XU_EX_SOFTWARE, "unhandled option %d", id);
}

/* Put context around an error's message; the code stays. */
static int add_context(struct xu_error *err, const char *before, const char *after)
{
    char m[sizeof err->msg];

    snprintf(m, sizeof m, "%s", err->msg);
    return xu_error_replace(err, err->code, "%s%s%s", before, m, after);
}

static int check_usage(const struct xu_opts *o, const struct bind_opts *bo, int nargs,
                       struct xu_error *err)
{
    if (nargs > 0)
        return xu_error_set(err, XU_EX_USAGE, "no operands expected (see --help)");
    if (bo->stdio && bo->iq)
        return xu_error_set(err, XU_EX_USAGE, "--stdio and --iq/--query exclude each other");
    if (bo->presence && !bo->stdio)
        return xu_error_set(err, XU_EX_USAGE, "--presence only goes with --stdio");
    if (bo->presence && o->component)
        return xu_error_set(err, XU_EX_USAGE,
                            "--presence is for client sessions; a component sends its own "
                            "presence stanzas (with a from)");
    return 0;
}

/* ---- the --iq request: read and checked before connecting ---- */

static int check_iq_request(const char *text, struct xu_error *err)
{
    xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
    xmpp_stanza_t *st = NULL;
    const char *name, *type;
    int rc;

    if (!ctx)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = xu_stanza_from_string(ctx, text, &st, err);
    if (rc == 0) {
        name = xmpp_stanza_get_name(st);
        type = xmpp_stanza_get_type(st);
        if (!name || strcmp(name, "iq") != 0)
            rc = xu_error_set(err, XU_EX_DATAERR, "--iq sends an <iq>, not a <%.40s>",
                              name ? name : "?");
        else if (!type || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
            rc = xu_error_set(err, XU_EX_DATAERR,
                              "the <iq> must have type \"get\" or \"set\" (a request)");
    }
    if (st)
        xmpp_stanza_release(st);
    xmpp_ctx_free(ctx);
    return rc;
}

static int read_iq_request(const struct bind_opts *bo, char **text, struct xu_error *err)
{
    size_t len;
    int rc;

    if (bo->query) {
        *text = strdup(bo->query);
        if (!*text)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
    } else {
        if (isatty(0))
            xu_warn("reading the <iq> from the terminal; end it with Ctrl-D");
        rc = xu_read_all(0, IQ_MAX, text, &len, err);
        if (rc)
            return rc;
        if (strlen(*text) != len)
            return xu_error_set(err, XU_EX_DATAERR, "standard input contains a NUL byte");
    }
    rc = check_iq_request(*text, err);
    return rc && bo->query ? add_context(err, "--query: ", "") : rc;
}

/* Our deadline (0: none) and the session's, a little later so that the
 * session can still be closed once ours has passed. */
static void set_limit(struct xu_session *s, double *limit, double value)
{
    *limit = value;
    xu_session_set_deadline(s, value > 0 ? value + CLOSE_MARGIN : 0);
}

static int run_iq(struct xu_session *s, const char *text, double limit, struct xu_error *err)
{
    xmpp_stanza_t *iq = NULL, *reply = NULL;
    char why[600], from[300], before[64];
    const char *type;
    double t0 = xu_now();
    int rc;

    set_limit(s, &limit, limit);
    rc = xu_stanza_from_string(s->ctx, text, &iq, err);
    if (rc == 0)
        rc = xu_outgoing_prepare(s, iq, err);
    if (rc == 0)
        rc = xu_iq_request(s, iq, limit, &reply, err);
    if (rc == XU_EX_TEMPFAIL && limit > 0 && xu_now() >= limit) {
        snprintf(before, sizeof before, "timed out after %g s: ", s->opts->timeout);
        add_context(err, before, "");
    }
    if (rc == 0) {
        xu_info("answer after %.0f ms", (xu_now() - t0) * 1000);
        rc = xu_write_stanza_xml(stdout, reply, NULL, err);
    }
    type = reply ? xmpp_stanza_get_type(reply) : NULL;
    if (rc == 0 && type && strcmp(type, "error") == 0) {
        xu_stanza_error_text(reply, why, sizeof why);
        xu_sanitize_terminal(from, sizeof from,
                             xmpp_stanza_get_from(reply) ? xmpp_stanza_get_from(reply)
                                                         : "the server");
        rc = xu_error_set(err, XU_EX_FAIL, "error answer from %s: %s", from, why);
    }
    if (reply)
        xmpp_stanza_release(reply);
    if (iq)
        xmpp_stanza_release(iq);
    return rc;
}

/* ---- --stdio: the bridge ---- */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: the wait in poll() ends */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

struct bridge {
    struct xu_session *s;
    struct xu_reader *in;
    struct xu_iq_pending *pending;
    int out_closed;          /* stdout went away (EPIPE) */
    struct xu_error out_err; /* writing stdout failed */
    unsigned long sent, received;
};

/* Every stanza the server sends us goes to stdout, except the answer to
 * our own closing ping. */
static int on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct bridge *b = ud;
    const char *ns = xmpp_stanza_get_ns(st);
    int internal = 0;

    (void)conn;
    if (!xmpp_stanza_get_name(st) || (ns && strcmp(ns, XMPP_NS_STREAMS) == 0))
        return 1; /* stream errors and features are libstrophe's */
    if (xu_iq_pending_answer(b->pending, st, b->s->bound_jid, &internal) && internal)
        return 1;
    b->received++;
    if (!b->out_err.code)
        xu_write_stanza_xml(stdout, st, &b->out_closed, &b->out_err);
    return 1;
}

/* Send what the reader has complete. */
static int send_ready_stanzas(struct bridge *b, struct xu_error *err)
{
    xmpp_stanza_t *st;
    const char *type;
    char where[64];
    int rc = 0;

    while (rc == 0 && (st = xu_reader_pop(b->in, b->s->ctx)) != NULL) {
        rc = xu_outgoing_prepare(b->s, st, err);
        if (rc) {
            snprintf(where, sizeof where, "standard input, line %ld: ", xu_reader_line(b->in));
            add_context(err, where, "; nothing more was sent");
        } else {
            type = xmpp_stanza_get_type(st);
            if (strcmp(xmpp_stanza_get_name(st), "iq") == 0 &&
                (strcmp(type, "get") == 0 || strcmp(type, "set") == 0) &&
                xu_iq_pending_add(b->pending, xmpp_stanza_get_id(st), xmpp_stanza_get_to(st),
                                  0) < 0)
                rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
            else {
                xu_session_send(b->s, st);
                b->sent++;
            }
        }
        xmpp_stanza_release(st);
    }
    return rc;
}

/* End of input: a ping to the server (client sessions) proves that it has
 * handled everything sent before; its answer is ours, not stdout's. */
static int send_final_ping(struct bridge *b, struct xu_error *err)
{
    xmpp_stanza_t *iq, *ping;
    char *id, domain[1024];
    int rc = 0;

    if (b->s->is_component || !b->s->bound_jid ||
        !xu_jid_domain(b->s->bound_jid, domain, sizeof domain))
        return 0;
    id = xu_session_new_id(b->s);
    iq = id ? xmpp_iq_new(b->s->ctx, "get", id) : NULL;
    ping = xmpp_stanza_new(b->s->ctx);
    if (!iq || !ping || xu_iq_pending_add(b->pending, id, domain, 1) < 0) {
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    } else {
        xmpp_stanza_set_name(ping, "ping");
        xmpp_stanza_set_ns(ping, "urn:xmpp:ping");
        xmpp_stanza_add_child(iq, ping);
        xmpp_stanza_set_to(iq, domain);
        xu_session_send(b->s, iq);
    }
    if (ping)
        xmpp_stanza_release(ping);
    if (iq)
        xmpp_stanza_release(iq);
    free(id);
    return rc;
}

static int send_presence(struct xu_session *s, struct xu_error *err)
{
    xmpp_stanza_t *p = xmpp_presence_new(s->ctx);

    if (!p)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    xu_session_send(s, p);
    xmpp_stanza_release(p);
    return 0;
}

/* Run the bridge until the end of input and the answers to its iqs, a
 * failure, or a signal. The caller closes the stream. */
static int bridge_loop(struct bridge *b, double limit, struct xu_error *err)
{
    struct xu_session *s = b->s;
    struct xu_error in_err = {0, ""};
    int reading = 1, ready, rc, frc, watch_stdin;
    double now, wait;
    char what[1200];

    set_limit(s, &limit, limit);
    for (;;) {
        if (b->out_err.code)
            return b->out_closed ? 0 : xu_error_set(err, b->out_err.code, "%s", b->out_err.msg);
        if (stop_signal)
            return xu_error_set(err, 128 + stop_signal, "stopped by signal %d (%s)",
                                (int)stop_signal, strsignal(stop_signal));
        if (!reading && xu_iq_pending_count(b->pending) == 0)
            return in_err.code ? xu_error_set(err, in_err.code, "%s", in_err.msg) : 0;
        now = xu_now();
        if (limit > 0 && now >= limit) {
            if (reading)
                return xu_error_set(err, XU_EX_TEMPFAIL,
                                    "timed out after %g s with standard input still open "
                                    "(--timeout 0: no deadline)",
                                    s->opts->timeout);
            xu_iq_pending_describe(b->pending, what, sizeof what);
            if (in_err.code)
                xu_warn("%s", in_err.msg);
            return xu_error_set(err, XU_EX_TEMPFAIL,
                                "timed out waiting for the answer to %zu iq(s): %s",
                                xu_iq_pending_count(b->pending), what);
        }
        wait = limit > 0 && limit - now < 1.0 ? limit - now : 1.0;
        watch_stdin = reading && xmpp_conn_send_queue_len(s->conn) < SENDQ_MAX;
        /* While the send queue is full, stdin is not watched: without this
         * short wait, once libstrophe has written the queue out, it would
         * sit in select() for input from the server for the whole wait. */
        if (reading && !watch_stdin)
            wait = wait < 0.01 ? wait : 0.01;
        ready = 0;
        rc = xu_session_step(s, wait, watch_stdin ? 0 : -1, &ready);
        if (rc) {
            if (in_err.code)
                xu_warn("%s", in_err.msg);
            return xu_error_set(err, rc, "%s", s->err.msg);
        }
        if (!ready || !reading)
            continue;
        frc = xu_reader_feed(b->in, &in_err);
        if (frc > 1)
            add_context(&in_err, "standard input: ", "; nothing more was sent");
        rc = send_ready_stanzas(b, &in_err);
        if (frc == 0 && rc == 0)
            continue;
        /* end of input, or an error: no more reading; wait for answers */
        reading = 0;
        if (frc == 1 && rc == 0)
            xu_error_clear(&in_err);
        xu_info("%s after %lu stanza(s) sent; waiting for %zu answer(s)",
                in_err.code ? "input error" : "end of input", b->sent,
                xu_iq_pending_count(b->pending));
        if (limit == 0)
            set_limit(s, &limit, xu_now() + DRAIN_NO_DEADLINE);
        if (send_final_ping(b, err))
            return err->code;
    }
}

static int run_stdio(struct xu_session *s, const struct bind_opts *bo, double limit,
                     struct xu_error *err)
{
    struct bridge b;
    int rc = 0;

    memset(&b, 0, sizeof b);
    b.s = s;
    b.in = xu_reader_new(0, 0);
    b.pending = xu_iq_pending_new();
    if (!b.in || !b.pending)
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (rc == 0) {
        xmpp_handler_add(s->conn, on_stanza, NULL, NULL, NULL, &b);
        if (bo->presence)
            rc = send_presence(s, err);
    }
    if (rc == 0) {
        if (isatty(0))
            xu_warn("bound as %s; type stanzas, end with Ctrl-D", s->bound_jid);
        rc = bridge_loop(&b, limit, err);
    }
    xu_info("%lu stanza(s) sent, %lu received", b.sent, b.received);
    if (s->conn)
        xmpp_handler_delete(s->conn, on_stanza);
    xu_reader_free(b.in);
    xu_iq_pending_free(b.pending);
    return rc;
}

/* ---- the session ---- */

/* Tell the user when the server bound another resource than the one asked
 * for (a server may add to it, or replace one it does not accept). */
static void check_resource(const struct xu_session *s)
{
    const char *asked = s->opts->jid ? strchr(s->opts->jid, '/') : NULL, *got;
    char a[300], g[300];

    if (s->is_component || !s->bound_jid)
        return;
    /* as start_client does: the JID's resource, else -r */
    asked = asked ? asked + 1 : s->opts->resource;
    got = strchr(s->bound_jid, '/');
    if (!asked || (got && strcmp(got + 1, asked) == 0))
        return;
    xu_sanitize_terminal(a, sizeof a, asked);
    xu_sanitize_terminal(g, sizeof g, got ? got + 1 : "");
    xu_warn("asked for resource '%s', the server bound '%s'", a, g);
}

int main(int argc, char **argv)
{
    struct bind_opts bo = {0, 0, 0, NULL};
    struct xu_tool tool = {
        "xmpp-bind", "[options] [--stdio | --iq | --query XML]",
        "Log in (or connect as a XEP-0114 component) and print the bound JID; with --stdio,\n"
        "bridge stanzas between standard input/output and the server; with --iq, send one\n"
        "request and print its answer.",
        bind_options, apply, &bo,
        "   1  --iq: the answer was an error (condition on stderr)\n"
        "  65  also: malformed input (line and column on stderr); bind refused: bad-request\n"
        "  75  also: no answer in time; bind refused: conflict, or replaced by another login\n"
        "  77  also: bind refused: not-allowed; component handshake rejected\n",
        .given = NULL,
    };
    struct xu_error err = {0, ""};
    struct xu_session s;
    struct xu_opts o;
    char *request = NULL;
    double start = xu_now(), limit;
    int first, rc;

    if (xu_stdfds_init() != 0)
        return XU_EX_OSERR; /* no /dev/null: nowhere safe to write */
    memset(&s, 0, sizeof s);
    rc = xu_opts_parse(&o, &tool, argc, argv, &first, &err);
    if (rc == 0)
        rc = check_usage(&o, &bo, argc - first, &err);
    if (rc == 0 && o.component && o.resource)
        xu_info("a component has no resource: ignoring resource '%s'", o.resource);
    if (rc == 0 && bo.iq)
        rc = read_iq_request(&bo, &request, &err);
    if (rc == 0)
        rc = xu_session_open(&s, &o, 0, &err);
    /* (not earlier: a signal while connecting just ends the run) */
    if (rc == 0 && bo.stdio)
        catch_stop_signals();
    if (rc == 0) {
        check_resource(&s);
        xu_info("bound as %s", s.bound_jid ? s.bound_jid : "?");
        limit = o.timeout > 0 ? start + o.timeout : 0;
        if (bo.stdio)
            rc = run_stdio(&s, &bo, limit, &err);
        else if (bo.iq)
            rc = run_iq(&s, request, limit, &err);
        else
            rc = xu_write_line(stdout, s.bound_jid ? s.bound_jid : "", NULL, &err);
    }
    if (s.ctx)
        xu_session_close(&s);
    xu_session_free(&s);
    free(request);
    free(bo.query);
    xu_opts_free(&o);
    return rc ? xu_report(&err) : 0;
}

#include "bind/bridge.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jid.h"
#include "base/msg.h"
#include "xmpp/outgoing.h"
#include "xml/stanza_in.h"
#include "xml/stanza_out.h"
#include "xmpp/iq.h"
#include "xmpp/responder.h"

#define DRAIN_NO_DEADLINE 30.0 /* --timeout 0: wait this long for answers after end of input */
#define SENDQ_MAX 64           /* stop reading stdin while this many stanzas wait to be sent */

void xu_bind_deadline(struct xu_session *s, double until)
{
    xu_session_set_deadline(s, until > 0 ? until + XU_BIND_CLOSE_MARGIN : 0);
}

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
            xu_error_wrap(err, where, "; nothing more was sent");
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
    xmpp_stanza_t *iq;
    char domain[1024];
    int rc = 0;

    if (b->s->is_component || !b->s->bound_jid ||
        !xu_jid_domain(b->s->bound_jid, domain, sizeof domain))
        return 0;
    iq = xu_iq_new_child(b->s, "get", "ping", XU_NS_PING, NULL);
    if (!iq || xu_iq_pending_add(b->pending, xmpp_stanza_get_id(iq), domain, 1) < 0) {
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    } else {
        xmpp_stanza_set_to(iq, domain);
        xu_session_send(b->s, iq);
    }
    if (iq)
        xmpp_stanza_release(iq);
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

    xu_bind_deadline(s, limit);
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
            xu_error_wrap(&in_err, "standard input: ", "; nothing more was sent");
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
        if (limit == 0) {
            limit = xu_now() + DRAIN_NO_DEADLINE;
            xu_bind_deadline(s, limit);
        }
        if (send_final_ping(b, err))
            return err->code;
    }
}

int xu_bind_bridge(struct xu_session *s, int presence, double until, struct xu_error *err)
{
    struct bridge b;
    int rc = 0;

    catch_stop_signals(); /* (not earlier: a signal while connecting just ends the run) */
    memset(&b, 0, sizeof b);
    b.s = s;
    b.in = xu_reader_new(0, 0);
    b.pending = xu_iq_pending_new();
    if (!b.in || !b.pending)
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (rc == 0) {
        xmpp_handler_add(s->conn, on_stanza, NULL, NULL, NULL, &b);
        if (presence)
            rc = send_presence(s, err);
    }
    if (rc == 0) {
        if (isatty(0))
            xu_warn("bound as %s; type stanzas, end with Ctrl-D", s->bound_jid);
        rc = bridge_loop(&b, until, err);
    }
    xu_info("%lu stanza(s) sent, %lu received", b.sent, b.received);
    if (s->conn)
        xmpp_handler_delete(s->conn, on_stanza);
    xu_reader_free(b.in);
    xu_iq_pending_free(b.pending);
    return rc;
}

/* The delivery engine's state machine (deliver.h; its parts in
 * deliver_int.h): set up, then one loop that reads input, connects when
 * down, sends when up and turns failures into a retry or the end; then the
 * outcome, reported once as an exit code with its message. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/msg.h"
#include "send/deliver_int.h"

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    if (stop_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    stop_signal = sig;
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
    rc = xu_dl_connection_failed(e, rc);
    if (rc)
        xu_error_set(err, rc, "%s", e->s.err.msg);
    return rc;
}

static int wait_down(struct engine *e, double until)
{
    struct pollfd p = {xu_dl_input_fd(e), POLLIN, 0};
    double w = until - xu_now();
    int n;

    if (w < 0)
        w = 0;
    if (w > 1)
        w = 1;
    n = poll(&p, p.fd >= 0 ? 1 : 0, (int)(w * 1000) + 1);
    if (n > 0)
        return xu_dl_read_input(e);
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
            struct pollfd p = {xu_dl_input_fd(e), POLLIN, 0};
            if (p.fd >= 0 && poll(&p, 1, 0) > 0 && (rc = xu_dl_read_input(e)) != 0)
                return xu_error_set(err, rc, "%s", e->s.err.msg);
            if (p.fd >= 0 && !(p.revents & (POLLIN | POLLHUP)))
                e->eof_read = 1;
        }
        rc = xu_dl_drain_input(e);
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
            rc = xu_dl_start_connecting(e);
            if (rc && (rc = step_failed(e, rc, err)) != 0)
                return rc;
            continue;
        }

        if (e->state == UP) {
            rc = xu_dl_pump(e, now);
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
        fd = xu_dl_input_fd(e);
        inbound = e->s.rx_stanzas; /* stanzas arriving: look again at once */
        rc = xu_session_step(&e->s, e->state == UP ? xu_dl_next_wait(e, now) : 0.05, fd, &ready);
        e->busy = e->s.rx_stanzas != inbound;
        if (ready) {
            int rrc = xu_dl_read_input(e);
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
                xu_dl_drop_session(e);
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
            rc = xu_dl_session_up(e);
            if (rc && e->removed_fatal) {
                rc = xu_error_set(err, rc, "%s", e->s.err.msg);
                xu_dl_drop_session(e);
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
    xu_backoff_init(&e->backoff);
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
        if (rc == 0 && c->strict && (rc = xu_dl_read_all_xml(e)) != 0)
            xu_error_set(err, rc, "%s", e->s.err.msg);
    }

    /* streams use XEP-0198 where offered (acknowledgements per stanza,
     * resumption after a cut); a one-shot send keeps its ping */
    if (rc == 0 && streaming(e))
        xu_session_want_sm(1, xu_dl_on_sm_ack, e);
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
    xu_dl_drop_pings(e, e->npings, 0);
    if (e->rooms)
        xu_dl_free_rooms(e);
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

/* The delivery engine's connections (deliver_int.h): starting one, joining
 * the rooms once it is up, noticing that we were removed from a room, and
 * what a failure means: a stanza that ended the stream (found and dropped),
 * an outage (retried with the suite's backoff, xmpp/reconnect.h, within
 * --retry and --timeout), or the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/msg.h"
#include "send/deliver_int.h"

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

void xu_dl_free_rooms(struct engine *e)
{
    int i;

    for (i = 0; i < e->c->nto; i++)
        xu_muc_room_free(&e->rooms[i]);
}

/* ---- connections ---- */

/* Forget the connection; what it did not get acknowledged is sent again. */
void xu_dl_drop_session(struct engine *e)
{
    /* a stream the server may still hold is resumed on the next
     * connection: then only what it had not counted is sent again */
    if (e->s.ready) {
        xu_session_sm_save(&e->s, &e->resume);
        if (!e->resume.valid)
            e->nmarks = 0;
    } /* else a failed attempt: the stream to resume is still the older one */
    xu_dl_drop_pings(e, e->npings, 0);
    xu_dl_free_rooms(e);
    xu_session_free(&e->s);
    e->state = DOWN;
    xu_outbox_rewind(&e->ob);
    xu_dl_prune_rwaits(e);
    e->msgs_sent = e->msgs_acked = 0;
    e->since_ping = 0;
}

static int give_up(struct engine *e, int code, const char *why, const char *note)
{
    struct xu_error *err = &e->s.err;
    size_t left = xu_outbox_pending(&e->ob);
    unsigned failures = e->backoff.failures; /* before this one */
    char msg[sizeof err->msg];

    snprintf(msg, sizeof msg, "%s", why);
    if (failures > 0 || note)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (%s%u %s%s%s)",
                 note ? "" : "gave up after ", failures + 1,
                 failures ? "attempts" : "attempt", note ? "; " : "", note ? note : "");
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
    xu_dl_prune_rwaits(e);
    if (!e->rejected_first[0])
        snprintf(e->rejected_first, sizeof e->rejected_first, "%s", msg);
    xu_warn("%s; it is not sent again%s", msg, xu_outbox_empty(&e->ob) ? "" : ": going on with the rest");
    xu_trace_info(e->trace, "%s; not sent again", msg);
}

/* The connection failed or broke: 0 to try again later, else the final code. */
int xu_dl_connection_failed(struct engine *e, int code)
{
    char why[sizeof e->s.err.msg], of[32] = "", msg[sizeof e->s.err.msg];
    double delay, now = xu_now();
    int was_up = e->state == UP, forbidden, from_stanza, explained, again;
    unsigned long inflight = e->msgs_sent - e->msgs_acked;
    struct xu_pos sent = e->ob.sent;

    snprintf(why, sizeof why, "%s", e->s.err.msg[0] ? e->s.err.msg : xu_exit_name(code));
    forbidden = xu_reconnect_forbidden(&e->s);
    snprintf(msg, sizeof msg, "%s; %s", why, xu_reconnect_forbidden_why(&e->s));
    from_stanza = was_up && inflight > 0 && xu_stream_error_from_stanza(e->s.stream_error);
    /* a stream error that says why (system-shutdown while the server
     * restarts, …) is no hint at a stanza */
    explained = e->s.stream_error[0] != '\0';
    again = xu_reconnect_retryable(code, &e->s, e->ever_connected);
    xu_dl_drop_session(e);
    e->outage = 1;
    if (forbidden) {
        xu_backoff_reset(&e->backoff);
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
    if (was_up && inflight > 0 && again && !explained) {
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
    /* the suite's backoff counts this failure (--retry N: N in a row, a
     * stable or progressing connection starting the count over); a
     * failure not followed by another attempt is taken back out */
    delay = xu_backoff_next(&e->backoff, now);
    if (!again || (e->c->retry >= 0 && (long)e->backoff.failures > e->c->retry)) {
        xu_backoff_unnext(&e->backoff);
        return give_up(e, code, why, NULL);
    }
    if (e->final_deadline > 0 && now + delay >= e->final_deadline) {
        xu_backoff_unnext(&e->backoff);
        return give_up(e, code, why, "no time left for another within --timeout");
    }
    e->retry_at = now + delay;
    snprintf(e->last_err, sizeof e->last_err, "%s", why);
    if (e->c->retry >= 0)
        snprintf(of, sizeof of, " of %ld", e->c->retry + 1);
    xu_warn("%s; %s in %.1f s (attempt %u%s)", why, was_up ? "reconnecting" : "trying again",
            delay, e->backoff.failures + 1, of);
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

int xu_dl_start_connecting(struct engine *e)
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
int xu_dl_session_up(struct engine *e)
{
    const struct xu_deliver_cfg *c = e->c;
    struct xu_muc_join j = {NULL, c->nick, c->room_password, 0, c->no_create, 1};
    struct xu_error err = {0, ""};
    int i, rc;

    e->ever_connected = 1; /* logged in: a later unknown host is an outage */
    xu_bounces_watch(&e->s, &e->bounces);
    xmpp_handler_add(e->s.conn, xu_dl_on_message, NULL, "message", NULL, e);
    xmpp_handler_add(e->s.conn, on_presence, NULL, "presence", NULL, e);
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
    xu_backoff_up(&e->backoff, xu_now());
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


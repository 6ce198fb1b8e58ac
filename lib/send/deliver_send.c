/* The delivery engine's sending (deliver_int.h): messages built from the
 * outbox for every recipient (lines joined under backlog, long text split,
 * receipts requested, the OMEMO hook applied) or stanzas sent as read,
 * within the window, the send queue, --rate and --batch. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/jid.h"
#include "send/deliver_int.h"
#include "xmpp/outgoing.h"

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
            if (xu_dl_add_rwait(e, xmpp_stanza_get_id(st), i, end) < 0) {
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
int xu_dl_pump(struct engine *e, double now)
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
        if (e->s.sm_enabled && xu_dl_add_mark(e) < 0)
            return xu_error_set(&e->s.err, XU_EX_OSERR, "out of memory");
        if (++e->since_ping >= PING_EVERY)
            xu_dl_send_ping(e, now);
    }
    if (e->since_ping > 0 || (e->npings == 0 && now - e->last_activity >= KEEPALIVE))
        xu_dl_send_ping(e, now);
    return 0;
}

/* How long the loop may sleep. */
double xu_dl_next_wait(struct engine *e, double now)
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


/* The delivery engine's acknowledgements (deliver_int.h): what the server
 * has accepted (XEP-0199 ping answers, or XEP-0198 <a h/> counts mapped
 * back to outbox positions) and what recipients confirmed (XEP-0184
 * receipts). Progress of either resets the reconnect backoff. */
#include <stdlib.h>
#include <string.h>

#include "base/jid.h"
#include "send/deliver_int.h"

/* ---- acknowledgements ---- */

static int on_ping_reply(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud);

/* Forget the first upto outstanding pings (and their handlers). */
void xu_dl_drop_pings(struct engine *e, int upto, int delete_handlers)
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
    xu_backoff_reset(&e->backoff); /* progress */
    e->last_activity = xu_now();
    /* older ones were answered before (in order); this one's handler goes
     * away by returning 0 */
    xu_dl_drop_pings(e, k, 1);
    xu_dl_drop_pings(e, 1, 0);
    return 0;
}

void xu_dl_send_ping(struct engine *e, double now)
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

int xu_dl_add_mark(struct engine *e)
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
void xu_dl_on_sm_ack(struct xu_session *s, unsigned long h, void *ud)
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
    xu_dl_drop_pings(e, j, 0);
    xu_backoff_reset(&e->backoff); /* progress */
    e->last_activity = xu_now();
}

/* ---- receipts ---- */

int xu_dl_add_rwait(struct engine *e, const char *id, int rcpt, struct xu_pos end)
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

int xu_dl_on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
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
void xu_dl_prune_rwaits(struct engine *e)
{
    struct xu_pos acked = xu_outbox_acked(&e->ob);
    size_t i;

    for (i = e->rwhead; i < e->nrw; i++)
        if (e->rw[i].id && xu_pos_cmp(e->rw[i].end, acked) > 0)
            rwait_done(e, i);
}


#include "xmpp/keepalive.h"

#include <stdlib.h>
#include <string.h>

#include "base/jid.h"
#include "xmpp/iq.h"
#include "xmpp/responder.h"

static int on_any(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct xu_keepalive *k = ud;

    (void)conn;
    (void)st;
    /* any stanza proves the link: the server answers in order */
    k->last_rx = xu_now();
    k->ping_sent = 0;
    return 1;
}

void xu_keepalive_start(struct xu_keepalive *k, struct xu_session *s, double interval)
{
    k->interval = interval;
    k->last_rx = xu_now();
    k->ping_sent = 0;
    if (interval > 0)
        xmpp_handler_add(s->conn, on_any, NULL, NULL, NULL, k);
}

double xu_keepalive_due(const struct xu_keepalive *k)
{
    if (k->interval <= 0)
        return 0;
    return (k->ping_sent > 0 ? k->ping_sent : k->last_rx) + k->interval;
}

static void send_ping(struct xu_keepalive *k, struct xu_session *s)
{
    xmpp_stanza_t *iq;
    char domain[1024];

    if (s->is_component || !s->bound_jid || !xu_jid_domain(s->bound_jid, domain, sizeof domain)) {
        xmpp_send_raw(s->conn, " ", 1);
        k->last_rx = xu_now(); /* nothing to wait for */
        return;
    }
    iq = xu_iq_new_child(s, "get", "ping", XU_NS_PING, NULL);
    if (iq) {
        xmpp_stanza_set_to(iq, domain);
        xu_session_send(s, iq);
        k->ping_sent = xu_now();
        k->pings++;
        xmpp_stanza_release(iq);
    }
}

int xu_keepalive_tick(struct xu_keepalive *k, struct xu_session *s, struct xu_error *err)
{
    double now = xu_now();

    if (k->interval <= 0 || !s->ready || s->disconnected)
        return 0;
    if (k->ping_sent > 0 && now - k->ping_sent >= k->interval)
        return xu_error_set(err, XU_EX_TEMPFAIL,
                            "connection to %s lost: no answer to a keepalive ping within %g s",
                            s->connect_target, k->interval);
    if (k->ping_sent == 0 && now - k->last_rx >= k->interval)
        send_ping(k, s);
    return 0;
}

/* Sending on a session: every stanza through one function (counted for
 * XEP-0198), new stanza ids, and the XEP-0199 ping to the server, alone or
 * as a round trip that proves the server has processed all sent before. */
#include <stdlib.h>
#include <string.h>

#include "base/jid.h"
#include "xml/stanza_out.h"
#include "xmpp/iq.h"
#include "xmpp/session_int.h"
#include "xmpp/sm.h"

void xu_session_send(struct xu_session *s, xmpp_stanza_t *stanza)
{
    xu_sm_count_queued(s, stanza);
    xu_send_faithful(s->conn, stanza); /* (stanza_out.h: not xmpp_send) */
}

char *xu_session_new_id(struct xu_session *s)
{
    char *id = xmpp_uuid_gen(s->ctx), *copy;

    if (!id)
        return NULL;
    copy = strdup(id);
    xmpp_free(s->ctx, id);
    return copy;
}

struct ping_wait {
    int answered;
    double sent;
    double rtt_ms;
};

static int on_ping_reply(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *ud)
{
    struct ping_wait *w = ud;

    (void)conn;
    (void)stanza;
    /* result or error: either way the server has worked through everything before it */
    w->answered = 1;
    w->rtt_ms = (xu_now() - w->sent) * 1000;
    return 0;
}

static int ping_done(void *ud)
{
    return ((struct ping_wait *)ud)->answered;
}

char *xu_session_ping(struct xu_session *s, xmpp_handler handler, void *ud)
{
    xmpp_stanza_t *iq = xu_iq_new_child(s, "get", "ping", "urn:xmpp:ping", NULL);
    char *id = iq ? strdup(xmpp_stanza_get_id(iq)) : NULL, domain[1024];

    if (!id) {
        if (iq)
            xmpp_stanza_release(iq);
        return NULL;
    }
    if (s->bound_jid && xu_jid_domain(s->bound_jid, domain, sizeof domain))
        xmpp_stanza_set_to(iq, domain);
    xmpp_id_handler_add(s->conn, handler, id, ud);
    xu_session_send(s, iq);
    xmpp_stanza_release(iq);
    return id;
}

int xu_session_roundtrip(struct xu_session *s, double *rtt_ms, struct xu_error *err)
{
    struct ping_wait w = {0, 0, 0};
    char *id;
    int rc;

    w.sent = xu_now();
    id = xu_session_ping(s, on_ping_reply, &w);
    if (!id)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = xu_session_run(s, ping_done, &w, err);
    if (rc)
        xmpp_id_handler_delete(s->conn, on_ping_reply, id);
    free(id);
    if (rc == 0 && rtt_ms)
        *rtt_ms = w.rtt_ms;
    return rc;
}

#include "xmpp/responder.h"

#include <string.h>

#include "xml/stanza_out.h"
static xmpp_stanza_t *first_element(xmpp_stanza_t *st)
{
    xmpp_stanza_t *c;

    for (c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c))
            return c;
    return NULL;
}

static int is(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* An empty result to req, addressed back to its sender. */
static xmpp_stanza_t *result_for(xmpp_stanza_t *req)
{
    xmpp_ctx_t *ctx = xmpp_stanza_get_context(req);
    xmpp_stanza_t *iq = xmpp_iq_new(ctx, "result", xmpp_stanza_get_id(req));
    const char *from = xmpp_stanza_get_from(req), *to = xmpp_stanza_get_to(req);

    if (!iq)
        return NULL;
    if (from)
        xmpp_stanza_set_to(iq, from);
    if (to)
        xmpp_stanza_set_from(iq, to); /* a component must say which of its JIDs answers */
    return iq;
}

/* A result to req holding an empty <query xmlns=ns/>, in *q (NULL when out
 * of memory, as is the result itself then). */
static xmpp_stanza_t *result_query(xmpp_stanza_t *req, const char *ns, xmpp_stanza_t **q)
{
    xmpp_stanza_t *iq = result_for(req);

    *q = iq ? xu_stanza_add_el(iq, "query", ns) : NULL;
    return iq;
}

static void add_feature(xmpp_stanza_t *query, const char *var)
{
    xmpp_stanza_t *f = xu_stanza_add_el(query, "feature", NULL);

    if (f)
        xmpp_stanza_set_attribute(f, "var", var);
}

static xmpp_stanza_t *disco_info(const struct xu_responder *r, xmpp_stanza_t *req)
{
    static const char *const own[] = {XU_NS_DISCO_INFO, XU_NS_PING, XU_NS_VERSION, NULL};
    xmpp_stanza_t *q, *id, *iq = result_query(req, XU_NS_DISCO_INFO, &q);
    size_t i;

    if (!q)
        return iq;
    id = xu_stanza_add_el(q, "identity", NULL);
    if (id) {
        xmpp_stanza_set_attribute(id, "category", r->category ? r->category : "client");
        xmpp_stanza_set_attribute(id, "type", r->type ? r->type : "bot");
        if (r->name)
            xmpp_stanza_set_attribute(id, "name", r->name);
    }
    for (i = 0; own[i]; i++)
        add_feature(q, own[i]);
    for (i = 0; r->features && r->features[i]; i++)
        add_feature(q, r->features[i]);
    return iq;
}

static xmpp_stanza_t *version(const struct xu_responder *r, xmpp_stanza_t *req)
{
    xmpp_stanza_t *q, *iq = result_query(req, XU_NS_VERSION, &q);

    if (q) {
        xu_stanza_add_text_el(q, "name", r->name ? r->name : "xmpputils");
        xu_stanza_add_text_el(q, "version", r->version ? r->version : "unknown");
        /* <os/> is optional and tells a stranger too much */
    }
    return iq;
}

static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct xu_responder *r = ud;
    const char *type = xmpp_stanza_get_type(st), *name, *ns;
    xmpp_stanza_t *payload, *reply = NULL;
    int get;

    /* results and errors are answers: answering them (even with an error)
     * could start a loop between two entities */
    if (!is(type, "get") && !is(type, "set"))
        return 1;
    if (!xmpp_stanza_get_id(st))
        return 1; /* malformed: nothing to correlate a reply with */
    if (r->claim && r->claim(st, r->claim_ud))
        return 1;
    get = is(type, "get");
    payload = first_element(st);
    name = payload ? xmpp_stanza_get_name(payload) : NULL;
    ns = payload ? xmpp_stanza_get_ns(payload) : NULL;
    if (!payload) {
        reply = xmpp_stanza_reply_error(st, "modify", "bad-request", NULL);
    } else if (get && is(name, "ping") && is(ns, XU_NS_PING)) {
        reply = result_for(st);
    } else if (get && is(name, "query") && is(ns, XU_NS_DISCO_INFO)) {
        /* no nodes are published (no entity caps), so a node is unknown */
        if (xmpp_stanza_get_attribute(payload, "node"))
            reply = xmpp_stanza_reply_error(st, "cancel", "item-not-found", NULL);
        else
            reply = disco_info(r, st);
    } else if (get && is(name, "query") && is(ns, XU_NS_VERSION)) {
        reply = version(r, st);
    } else {
        reply = xmpp_stanza_reply_error(st, "cancel", "service-unavailable", NULL);
    }
    if (!reply)
        return 1; /* out of memory: better silent than wrong */
    if (is(xmpp_stanza_get_type(reply), "error"))
        r->refused++;
    else
        r->answered++;
    if (r->session)
        xu_session_send(r->session, reply); /* counted for stream management */
    else
        xmpp_send(conn, reply);
    xmpp_stanza_release(reply);
    return 1;
}

void xu_responder_install(struct xu_session *s, struct xu_responder *r)
{
    r->session = s;
    xmpp_handler_add(s->conn, on_iq, NULL, "iq", NULL, r);
}

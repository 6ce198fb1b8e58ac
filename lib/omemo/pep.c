/* OMEMO over PEP (XEP-0163): building the stanzas, one request waited
 * for, publishing an item open to everyone, fetching the current item of a
 * node, and device lists in and out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/msg.h"
#include "omemo/omemo_int.h"
#include "xml/stanza_out.h"
#include "xmpp/iq.h"
#include "xmpp/message.h"

#define NS_PUBSUB "http://jabber.org/protocol/pubsub"

/* ---- stanza building ---- */

xmpp_stanza_t *xu_omemo_el(xmpp_ctx_t *ctx, const char *name, const char *ns)
{
    xmpp_stanza_t *e = xmpp_stanza_new(ctx);

    if (e) {
        xmpp_stanza_set_name(e, name);
        if (ns)
            xmpp_stanza_set_ns(e, ns);
    }
    return e;
}

/* Add child to parent and drop our reference; returns child. */
static xmpp_stanza_t *add(xmpp_stanza_t *parent, xmpp_stanza_t *child)
{
    xmpp_stanza_add_child(parent, child);
    xmpp_stanza_release(child);
    return child;
}

static void add_text(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *text)
{
    xmpp_stanza_t *t = xmpp_stanza_new(ctx);

    xmpp_stanza_set_text(t, text);
    add(parent, t);
}

void xu_omemo_add_b64(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const uint8_t *d, size_t len)
{
    char *b = xmpp_base64_encode(ctx, d, len);

    add_text(ctx, parent, b ? b : "");
    if (b)
        xmpp_free(ctx, b);
}

/* The base64 content of e, decoded (caller frees with xmpp_free), or NULL. */
uint8_t *xu_omemo_get_b64(xmpp_ctx_t *ctx, xmpp_stanza_t *e, size_t *len)
{
    char *t = e ? xmpp_stanza_get_text(e) : NULL;
    unsigned char *out = NULL;
    size_t i, j;

    *len = 0;
    if (!t)
        return NULL;
    for (i = j = 0; t[i]; i++) /* line breaks and spaces are allowed */
        if (t[i] != ' ' && t[i] != '\n' && t[i] != '\r' && t[i] != '\t')
            t[j++] = t[i];
    t[j] = '\0';
    if (j > 0)
        xmpp_base64_decode_bin(ctx, t, j, &out, len);
    xmpp_free(ctx, t);
    return out;
}

int xu_omemo_parse_u32(const char *s, uint32_t *v)
{
    char *end;
    unsigned long long n;

    if (!s || *s < '0' || *s > '9')
        return -1;
    n = strtoull(s, &end, 10);
    if (*end || n > 0xffffffffULL)
        return -1;
    *v = (uint32_t)n;
    return 0;
}

static double until(struct xu_session *s)
{
    double t = xu_now() + 20;

    return s->deadline > 0 && s->deadline < t ? s->deadline : t;
}

/* Send iq (released) and wait; 0 with *reply (caller releases), or an error. */
static int request(struct xu_session *s, xmpp_stanza_t *iq, xmpp_stanza_t **reply,
                   struct xu_error *err)
{
    char *id = xu_session_new_id(s);
    int rc;

    *reply = NULL;
    if (!id) {
        xmpp_stanza_release(iq);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    xmpp_stanza_set_id(iq, id);
    free(id);
    rc = xu_iq_ask(s, iq, until(s), "an OMEMO (PEP) request in time", reply, err);
    xmpp_stanza_release(iq);
    return rc;
}

static xmpp_stanza_t *pubsub_iq(struct xu_session *s, const char *type, const char *to,
                                xmpp_stanza_t **pubsub)
{
    xmpp_stanza_t *iq = xmpp_iq_new(s->ctx, type, NULL);

    if (to)
        xmpp_stanza_set_to(iq, to);
    *pubsub = xu_stanza_add_el(iq, "pubsub", NS_PUBSUB);
    return iq;
}

/* Publish item (released) as 'current' on node, open to everyone. */
int xu_omemo_pep_publish(struct xu_session *s, const char *node, xmpp_stanza_t *item_payload,
                         int wait, struct xu_error *err)
{
    xmpp_stanza_t *ps, *pub, *item, *opts, *x, *f, *reply = NULL;
    xmpp_stanza_t *iq = pubsub_iq(s, "set", NULL, &ps);
    char why[256];
    int rc;

    pub = xu_stanza_add_el(ps, "publish", NULL);
    xmpp_stanza_set_attribute(pub, "node", node);
    item = xu_stanza_add_el(pub, "item", NULL);
    xmpp_stanza_set_id(item, "current");
    add(item, item_payload);
    opts = xu_stanza_add_el(ps, "publish-options", NULL);
    x = xu_stanza_add_el(opts, "x", "jabber:x:data");
    xmpp_stanza_set_type(x, "submit");
    f = xu_stanza_add_el(x, "field", NULL);
    xmpp_stanza_set_attribute(f, "var", "FORM_TYPE");
    xmpp_stanza_set_type(f, "hidden");
    add_text(s->ctx, xu_stanza_add_el(f, "value", NULL), NS_PUBSUB "#publish-options");
    f = xu_stanza_add_el(x, "field", NULL);
    xmpp_stanza_set_attribute(f, "var", "pubsub#access_model");
    add_text(s->ctx, xu_stanza_add_el(f, "value", NULL), "open");
    if (!wait) {
        char *id = xu_session_new_id(s);
        if (id)
            xmpp_stanza_set_id(iq, id);
        free(id);
        xu_session_send(s, iq);
        xmpp_stanza_release(iq);
        return 0;
    }
    rc = request(s, iq, &reply, err);
    if (rc)
        return rc;
    if (strcmp(xmpp_stanza_get_type(reply) ? xmpp_stanza_get_type(reply) : "", "result") != 0) {
        xu_stanza_error_text(reply, why, sizeof why);
        rc = xu_error_set(err, XU_EX_UNAVAILABLE,
                          "OMEMO: the server refused to publish %s: %s (does it support PEP?)", node, why);
    }
    xmpp_stanza_release(reply);
    return rc;
}

/* Fetch the 'current' item of jid's node: 0 with *item (the payload, a
 * copy: caller releases) or NULL when there is none; else an error. */
int xu_omemo_pep_fetch(struct xu_session *s, const char *jid, const char *node,
                       xmpp_stanza_t **payload, char *none, size_t nonelen, struct xu_error *err)
{
    xmpp_stanza_t *ps, *items, *reply = NULL, *e, *it;
    xmpp_stanza_t *iq = pubsub_iq(s, "get", jid, &ps);
    const char *type;
    char why[256];
    int rc;

    *payload = NULL;
    if (none && nonelen)
        snprintf(none, nonelen, "nothing published");
    items = xu_stanza_add_el(ps, "items", NULL);
    xmpp_stanza_set_attribute(items, "node", node);
    rc = request(s, iq, &reply, err);
    if (rc)
        return rc;
    type = xmpp_stanza_get_type(reply);
    if (type && strcmp(type, "result") == 0) {
        e = xmpp_stanza_get_child_by_name_and_ns(reply, "pubsub", NS_PUBSUB);
        e = e ? xmpp_stanza_get_child_by_name(e, "items") : NULL;
        /* the 'current' item, or else the last one */
        for (it = e ? xmpp_stanza_get_children(e) : NULL; it; it = xmpp_stanza_get_next(it)) {
            const char *name = xmpp_stanza_get_name(it), *id = xmpp_stanza_get_id(it);
            if (!name || strcmp(name, "item") || !xmpp_stanza_get_children(it))
                continue;
            xmpp_stanza_t *c;
            for (c = xmpp_stanza_get_children(it); c && !xmpp_stanza_is_tag(c);
                 c = xmpp_stanza_get_next(c))
                ;
            if (!c)
                continue;
            if (*payload)
                xmpp_stanza_release(*payload);
            *payload = xmpp_stanza_copy(c);
            if (id && strcmp(id, "current") == 0)
                break;
        }
    } else {
        /* no such node, or not open to us: nothing we can use (the
         * caller decides whether that is fatal) */
        xu_stanza_error_text(reply, why, sizeof why);
        if (none && nonelen)
            snprintf(none, nonelen, "%s", why);
        if (!strstr(why, "item-not-found") && !strstr(why, "forbidden") &&
            !strstr(why, "not-authorized") && !strstr(why, "feature-not-implemented") &&
            !strstr(why, "service-unavailable"))
            rc = xu_error_set(err, XU_EX_UNAVAILABLE, "OMEMO: cannot read %s of %s: %s", node,
                              jid ? jid : "our account", why);
    }
    xmpp_stanza_release(reply);
    return rc;
}

/* The device ids of a <list/>; count. */
int xu_omemo_parse_devices(xmpp_stanza_t *list, uint32_t *devs, int max)
{
    xmpp_stanza_t *d;
    const char *name, *ns;
    int n = 0, i;
    uint32_t id;

    if (!list || !(name = xmpp_stanza_get_name(list)) || strcmp(name, "list") ||
        !(ns = xmpp_stanza_get_ns(list)) || strcmp(ns, XU_NS_OMEMO))
        return 0;
    for (d = xmpp_stanza_get_children(list); d && n < max; d = xmpp_stanza_get_next(d)) {
        name = xmpp_stanza_get_name(d);
        if (!name || strcmp(name, "device") || xu_omemo_parse_u32(xmpp_stanza_get_attribute(d, "id"), &id) ||
            id == 0)
            continue;
        for (i = 0; i < n && devs[i] != id; i++)
            ;
        if (i == n)
            devs[n++] = id;
    }
    return n;
}

xmpp_stanza_t *xu_omemo_device_list(xmpp_ctx_t *ctx, const uint32_t *devs, int n)
{
    xmpp_stanza_t *list = xu_omemo_el(ctx, "list", XU_NS_OMEMO), *d;
    char id[16];
    int i;

    for (i = 0; i < n; i++) {
        d = xu_stanza_add_el(list, "device", NULL);
        snprintf(id, sizeof id, "%u", devs[i]);
        xmpp_stanza_set_attribute(d, "id", id);
    }
    return list;
}

/* OMEMO 0.3 over libomemo-c (see omemo.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <key_helper.h>
#include <protocol.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <signal_protocol.h>

#include "xmpp/iq.h"
#include "xmpp/message.h"
#include "base/msg.h"
#include "omemo/omemo.h"
#include "omemo/crypto.h"
#include "omemo/store.h"

#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NODE_DEVICES XU_NS_OMEMO ".devicelist"
#define NODE_BUNDLES XU_NS_OMEMO ".bundles:"
#define NS_EME "urn:xmpp:eme:0"
#define NS_HINTS "urn:xmpp:hints"
#define PREKEYS 100      /* published one-time prekeys */
#define MAX_DEVICES 64   /* per account: more is not a real account */
#define IV_LEN 12
#define FALLBACK "This message is encrypted with OMEMO, which your client does not seem to support."

struct xu_omemo {
    signal_context *gctx;
    signal_protocol_store_context *sc;
    struct xu_omemo_store *st;
    char *own;
    uint32_t device_id;
    int used_prekeys; /* prekey messages decrypted since the last refresh */
    char why_none[200]; /* why the last recipient prepared has no device */
};

uint32_t xu_omemo_device_id(const struct xu_omemo *o)
{
    return o->device_id;
}

static int sg_fail(struct xu_error *err, int rc, const char *what)
{
    return xu_error_set(err, rc == SG_ERR_NOMEM ? XU_EX_OSERR : XU_EX_SOFTWARE,
                        "OMEMO: %s failed (libomemo-c error %d)", what, rc);
}

static int store_fail(struct xu_error *err, const char *what)
{
    return xu_error_set(err, XU_EX_IOERR, "OMEMO store: cannot %s", what);
}

/* ---- our own device ---- */

static int make_prekeys(struct xu_omemo *o, int count, struct xu_error *err)
{
    signal_protocol_key_helper_pre_key_list_node *head = NULL, *n;
    uint32_t next = 1;
    int rc;

    if (count <= 0)
        return 0;
    if (xu_omemo_store_get_u32(o->st, "next_prekey_id", &next) < 0)
        return store_fail(err, "read the prekey counter");
    if (next < 1 || next > PRE_KEY_MEDIUM_MAX_VALUE - (uint32_t)count)
        next = 1;
    rc = signal_protocol_key_helper_generate_pre_keys(&head, next, (unsigned)count, o->gctx);
    if (rc)
        return sg_fail(err, rc, "generating prekeys");
    for (n = head; n; n = signal_protocol_key_helper_key_list_next(n)) {
        rc = signal_protocol_pre_key_store_key(o->sc, signal_protocol_key_helper_key_list_element(n));
        if (rc)
            break;
    }
    signal_protocol_key_helper_key_list_free(head);
    if (rc)
        return store_fail(err, "save the prekeys");
    if (xu_omemo_store_put_u32(o->st, "next_prekey_id", next + (uint32_t)count) < 0)
        return store_fail(err, "save the prekey counter");
    return 0;
}

/* First use: identity key pair, device id, signed prekey, prekeys. */
static int make_identity(struct xu_omemo *o, struct xu_error *err)
{
    ratchet_identity_key_pair *pair = NULL;
    session_signed_pre_key *spk = NULL;
    signal_buffer *pub = NULL, *priv = NULL;
    uint32_t id = 0;
    int rc;

    rc = signal_protocol_key_helper_generate_identity_key_pair(&pair, o->gctx);
    if (rc == 0)
        rc = signal_protocol_key_helper_generate_registration_id(&id, 1, o->gctx);
    if (rc == 0)
        rc = ec_public_key_serialize(&pub, ratchet_identity_key_pair_get_public(pair));
    if (rc == 0)
        rc = ec_private_key_serialize(&priv, ratchet_identity_key_pair_get_private(pair));
    if (rc) {
        rc = sg_fail(err, rc, "generating the identity key");
        goto out;
    }
    if (id == 0)
        id = 1;
    if (xu_omemo_store_put(o->st, "identity_public", signal_buffer_data(pub), signal_buffer_len(pub)) ||
        xu_omemo_store_put(o->st, "identity_private", signal_buffer_data(priv), signal_buffer_len(priv)) ||
        xu_omemo_store_put_u32(o->st, "device_id", id)) {
        rc = store_fail(err, "save the identity key");
        goto out;
    }
    rc = signal_protocol_key_helper_generate_signed_pre_key(&spk, pair, 1, (uint64_t)time(NULL) * 1000,
                                                            o->gctx);
    if (rc) {
        rc = sg_fail(err, rc, "generating the signed prekey");
        goto out;
    }
    if (signal_protocol_signed_pre_key_store_key(o->sc, spk) ||
        xu_omemo_store_put_u32(o->st, "signed_prekey_id", 1)) {
        rc = store_fail(err, "save the signed prekey");
        goto out;
    }
    rc = make_prekeys(o, PREKEYS, err);
out:
    SIGNAL_UNREF(spk);
    SIGNAL_UNREF(pair);
    signal_buffer_free(pub);
    signal_buffer_bzero_free(priv);
    return rc;
}

int xu_omemo_open(struct xu_omemo **out, const char *own, struct xu_error *err)
{
    struct xu_omemo *o = calloc(1, sizeof *o);
    int rc = 0, have;

    *out = NULL;
    if (!o || !(o->own = strdup(own))) {
        free(o);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    rc = xu_omemo_store_open(&o->st, own, err);
    if (rc == 0 && (signal_context_create(&o->gctx, o) || xu_omemo_crypto_install(o->gctx) ||
                    signal_protocol_store_context_create(&o->sc, o->gctx) ||
                    xu_omemo_store_attach(o->st, o->sc)))
        rc = xu_error_set(err, XU_EX_OSERR, "OMEMO: cannot set up libomemo-c");
    /* one transaction: two first runs at once make one identity */
    if (rc == 0 && (rc = xu_omemo_store_begin(o->st, err)) == 0) {
        have = xu_omemo_store_get_u32(o->st, "device_id", &o->device_id);
        if (have < 0)
            rc = store_fail(err, "read the device id");
        else if (have == 0) {
            rc = make_identity(o, err);
            if (rc == 0 && xu_omemo_store_get_u32(o->st, "device_id", &o->device_id) != 1)
                rc = store_fail(err, "read the device id");
        }
        if (rc == 0)
            rc = xu_omemo_store_commit(o->st, err);
        else
            xu_omemo_store_rollback(o->st);
    }
    if (rc) {
        xu_omemo_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

int xu_omemo_open_account(struct xu_omemo **o, const char *account_jid, struct xu_error *err)
{
    char *b = strdup(account_jid ? account_jid : ""), *p;
    int rc;

    *o = NULL;
    if (!b)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if ((p = strchr(b, '/')) != NULL)
        *p = '\0';
    for (p = b; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (!strchr(b, '@') || b[0] == '@')
        rc = xu_error_set(err, XU_EX_USAGE, "--omemo needs a user account (user@domain), not '%s'", b);
    else
        rc = xu_omemo_open(o, b, err);
    free(b);
    return rc;
}

void xu_omemo_free(struct xu_omemo *o)
{
    if (!o)
        return;
    if (o->sc)
        signal_protocol_store_context_destroy(o->sc);
    if (o->gctx)
        signal_context_destroy(o->gctx);
    xu_omemo_store_close(o->st);
    free(o->own);
    free(o);
}

static void hex_fingerprint(const uint8_t *key, size_t len, char *buf, size_t size)
{
    size_t i, at = 0;

    /* the serialised key's type byte (0x05) is not shown by clients */
    if (len == 33 && key[0] == 0x05)
        key++, len--;
    for (i = 0; i < len && at + 3 < size; i++) {
        at += (size_t)snprintf(buf + at, size - at, "%02x", key[i]);
        if (i % 4 == 3 && i + 1 < len && at + 2 < size)
            buf[at++] = ' ';
    }
    buf[at] = '\0';
}

int xu_omemo_own_fingerprint(struct xu_omemo *o, char *buf, size_t len)
{
    signal_buffer *pub = NULL;

    if (xu_omemo_store_get(o->st, "identity_public", &pub) != 1)
        return -1;
    hex_fingerprint(signal_buffer_data(pub), signal_buffer_len(pub), buf, len);
    signal_buffer_free(pub);
    return 0;
}

/* ---- stanza building ---- */

static xmpp_stanza_t *el(xmpp_ctx_t *ctx, const char *name, const char *ns)
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

static void add_b64(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const uint8_t *d, size_t len)
{
    char *b = xmpp_base64_encode(ctx, d, len);

    add_text(ctx, parent, b ? b : "");
    if (b)
        xmpp_free(ctx, b);
}

/* The base64 content of e, decoded (caller frees with xmpp_free), or NULL. */
static uint8_t *get_b64(xmpp_ctx_t *ctx, xmpp_stanza_t *e, size_t *len)
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

static int parse_u32(const char *s, uint32_t *v)
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

struct waiting {
    const char *to;
    const char *own;
    xmpp_stanza_t *reply;
};

static int on_answer(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct waiting *w = ud;
    const char *type = xmpp_stanza_get_type(st);

    (void)conn;
    if (w->reply || !type || (strcmp(type, "result") && strcmp(type, "error")) ||
        !xu_iq_from_matches(w->to, xmpp_stanza_get_from(st), w->own))
        return 1; /* not the answer: keep waiting */
    w->reply = xmpp_stanza_copy(st);
    return 0;
}

/* Send iq (released) and wait; 0 with *reply (caller releases), or an error.
 * Not xu_iq_request: its steps of up to 1 s stall on an answer larger than
 * libstrophe's 4 KiB read (a bundle with 100 prekeys is ~7 KiB) until the
 * step times out, since the rest sits in OpenSSL's buffer, which poll()
 * does not see. Short steps bound that wait. */
static int request(struct xu_session *s, xmpp_stanza_t *iq, xmpp_stanza_t **reply,
                   struct xu_error *err)
{
    char *id = xu_session_new_id(s);
    struct waiting w = {NULL, s->bound_jid, NULL};
    double end = until(s);
    int rc = 0;

    *reply = NULL;
    if (!id) {
        xmpp_stanza_release(iq);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    xmpp_stanza_set_id(iq, id);
    w.to = xmpp_stanza_get_to(iq);
    xmpp_id_handler_add(s->conn, on_answer, id, &w);
    xu_session_send(s, iq);
    while (!w.reply) {
        if (xu_now() >= end) {
            rc = xu_error_set(err, XU_EX_TEMPFAIL, "OMEMO: no answer from %s to a PEP request in time",
                              w.to ? w.to : "the server");
            break;
        }
        if ((rc = xu_session_step(s, 0.005, -1, NULL)) != 0) {
            rc = xu_error_set(err, rc, "%s", s->err.msg);
            break;
        }
    }
    if (!w.reply)
        xmpp_id_handler_delete(s->conn, on_answer, id);
    free(id);
    xmpp_stanza_release(iq);
    *reply = w.reply;
    return rc;
}

static xmpp_stanza_t *pubsub_iq(struct xu_session *s, const char *type, const char *to,
                                xmpp_stanza_t **pubsub)
{
    xmpp_stanza_t *iq = xmpp_iq_new(s->ctx, type, NULL);

    if (to)
        xmpp_stanza_set_to(iq, to);
    *pubsub = add(iq, el(s->ctx, "pubsub", NS_PUBSUB));
    return iq;
}

/* Publish item (released) as 'current' on node, open to everyone. */
static int publish(struct xu_session *s, const char *node, xmpp_stanza_t *item_payload, int wait,
                   struct xu_error *err)
{
    xmpp_stanza_t *ps, *pub, *item, *opts, *x, *f, *reply = NULL;
    xmpp_stanza_t *iq = pubsub_iq(s, "set", NULL, &ps);
    char why[256];
    int rc;

    pub = add(ps, el(s->ctx, "publish", NULL));
    xmpp_stanza_set_attribute(pub, "node", node);
    item = add(pub, el(s->ctx, "item", NULL));
    xmpp_stanza_set_id(item, "current");
    add(item, item_payload);
    opts = add(ps, el(s->ctx, "publish-options", NULL));
    x = add(opts, el(s->ctx, "x", "jabber:x:data"));
    xmpp_stanza_set_type(x, "submit");
    f = add(x, el(s->ctx, "field", NULL));
    xmpp_stanza_set_attribute(f, "var", "FORM_TYPE");
    xmpp_stanza_set_type(f, "hidden");
    add_text(s->ctx, add(f, el(s->ctx, "value", NULL)), NS_PUBSUB "#publish-options");
    f = add(x, el(s->ctx, "field", NULL));
    xmpp_stanza_set_attribute(f, "var", "pubsub#access_model");
    add_text(s->ctx, add(f, el(s->ctx, "value", NULL)), "open");
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
static int fetch(struct xu_session *s, const char *jid, const char *node, xmpp_stanza_t **payload,
                 char *none, size_t nonelen, struct xu_error *err)
{
    xmpp_stanza_t *ps, *items, *reply = NULL, *e, *it;
    xmpp_stanza_t *iq = pubsub_iq(s, "get", jid, &ps);
    const char *type;
    char why[256];
    int rc;

    *payload = NULL;
    if (none && nonelen)
        snprintf(none, nonelen, "nothing published");
    items = add(ps, el(s->ctx, "items", NULL));
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
static int parse_devices(xmpp_stanza_t *list, uint32_t *devs, int max)
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
        if (!name || strcmp(name, "device") || parse_u32(xmpp_stanza_get_attribute(d, "id"), &id) ||
            id == 0)
            continue;
        for (i = 0; i < n && devs[i] != id; i++)
            ;
        if (i == n)
            devs[n++] = id;
    }
    return n;
}

static xmpp_stanza_t *device_list(xmpp_ctx_t *ctx, const uint32_t *devs, int n)
{
    xmpp_stanza_t *list = el(ctx, "list", XU_NS_OMEMO), *d;
    char id[16];
    int i;

    for (i = 0; i < n; i++) {
        d = add(list, el(ctx, "device", NULL));
        snprintf(id, sizeof id, "%u", devs[i]);
        xmpp_stanza_set_attribute(d, "id", id);
    }
    return list;
}

static int add_key_b64(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name, const char *attr,
                       uint32_t id, ec_public_key *key)
{
    signal_buffer *b = NULL;
    xmpp_stanza_t *e;
    char num[16];

    if (ec_public_key_serialize(&b, key))
        return -1;
    e = add(parent, el(ctx, name, NULL));
    if (attr) {
        snprintf(num, sizeof num, "%u", id);
        xmpp_stanza_set_attribute(e, attr, num);
    }
    add_b64(ctx, e, signal_buffer_data(b), signal_buffer_len(b));
    signal_buffer_free(b);
    return 0;
}

/* Our bundle, from the store (inside a transaction). */
static int make_bundle(struct xu_omemo *o, xmpp_ctx_t *ctx, xmpp_stanza_t **out, struct xu_error *err)
{
    xmpp_stanza_t *b = el(ctx, "bundle", XU_NS_OMEMO), *pks;
    session_signed_pre_key *spk = NULL;
    session_pre_key *pk = NULL;
    ratchet_identity_key_pair *pair = NULL;
    uint32_t spk_id = 1, ids[PREKEYS];
    int n, i, rc = 0;

    if (xu_omemo_store_get_u32(o->st, "signed_prekey_id", &spk_id) != 1 ||
        signal_protocol_signed_pre_key_load_key(o->sc, &spk, spk_id) ||
        signal_protocol_identity_get_key_pair(o->sc, &pair)) {
        rc = store_fail(err, "read our keys");
        goto out;
    }
    add_key_b64(ctx, b, "signedPreKeyPublic", "signedPreKeyId", spk_id,
                ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk)));
    add_b64(ctx, add(b, el(ctx, "signedPreKeySignature", NULL)),
            session_signed_pre_key_get_signature(spk), session_signed_pre_key_get_signature_len(spk));
    add_key_b64(ctx, b, "identityKey", NULL, 0, ratchet_identity_key_pair_get_public(pair));
    pks = add(b, el(ctx, "prekeys", NULL));
    n = xu_omemo_store_prekey_ids(o->st, ids, PREKEYS);
    for (i = 0; i < n; i++) {
        if (signal_protocol_pre_key_load_key(o->sc, &pk, ids[i]) == 0) {
            add_key_b64(ctx, pks, "preKeyPublic", "preKeyId", ids[i],
                        ec_key_pair_get_public(session_pre_key_get_key_pair(pk)));
            SIGNAL_UNREF(pk);
        }
    }
out:
    SIGNAL_UNREF(spk);
    SIGNAL_UNREF(pair);
    if (rc)
        xmpp_stanza_release(b);
    else
        *out = b;
    return rc;
}

/* Top up the prekeys and build the bundle, in one transaction. */
static int fresh_bundle(struct xu_omemo *o, xmpp_ctx_t *ctx, xmpp_stanza_t **bundle,
                        struct xu_error *err)
{
    uint32_t ids[PREKEYS];
    int rc, n;

    rc = xu_omemo_store_begin(o->st, err);
    if (rc)
        return rc;
    n = xu_omemo_store_prekey_ids(o->st, ids, PREKEYS);
    rc = n < 0 ? store_fail(err, "count the prekeys") : make_prekeys(o, PREKEYS - n, err);
    if (rc == 0)
        rc = make_bundle(o, ctx, bundle, err);
    if (rc == 0 && (rc = xu_omemo_store_commit(o->st, err)) != 0) {
        xmpp_stanza_release(*bundle);
        *bundle = NULL;
    }
    if (rc)
        xu_omemo_store_rollback(o->st);
    return rc;
}

static void bundle_node(char *buf, size_t len, uint32_t dev)
{
    snprintf(buf, len, "%s%u", NODE_BUNDLES, dev);
}

/* SHA-256 of the bundle's XML and the time it was published: a bundle that
 * has not changed is published again only once a day (a one-shot send must
 * not upload ~7 KiB every time; a server that lost it gets it back). */
#define REPUBLISH_AFTER (24 * 3600)

static int bundle_digest(xmpp_stanza_t *bundle, uint8_t *md)
{
    char *xml = NULL;
    size_t len = 0;
    unsigned n = 0;
    int rc = -1;

    if (xmpp_stanza_to_text(bundle, &xml, &len) == 0 && xml) {
        rc = EVP_Digest(xml, len, md, &n, EVP_sha256(), NULL) == 1 ? 0 : -1;
        xmpp_free(xmpp_stanza_get_context(bundle), xml);
    }
    return rc;
}

static int bundle_is_current(struct xu_omemo *o, const uint8_t *md)
{
    signal_buffer *b = NULL;
    uint32_t when = 0;
    int same;

    if (xu_omemo_store_get(o->st, "published_bundle", &b) != 1)
        return 0;
    same = signal_buffer_len(b) == 32 && memcmp(signal_buffer_data(b), md, 32) == 0;
    signal_buffer_free(b);
    return same && xu_omemo_store_get_u32(o->st, "published_at", &when) == 1 &&
           (uint32_t)time(NULL) - when < REPUBLISH_AFTER;
}

static void bundle_published(struct xu_omemo *o, const uint8_t *md)
{
    struct xu_error err = {0, ""};

    if (xu_omemo_store_begin(o->st, &err) == 0) {
        if (xu_omemo_store_put(o->st, "published_bundle", md, 32) ||
            xu_omemo_store_put_u32(o->st, "published_at", (uint32_t)time(NULL)))
            xu_omemo_store_rollback(o->st);
        else
            xu_omemo_store_commit(o->st, &err);
    }
}

int xu_omemo_publish(struct xu_omemo *o, struct xu_session *s, struct xu_error *err)
{
    xmpp_stanza_t *bundle = NULL, *list = NULL;
    uint32_t devs[MAX_DEVICES + 1];
    uint8_t md[32];
    char node[96];
    int rc, n, i, digest;

    rc = fresh_bundle(o, s->ctx, &bundle, err);
    if (rc)
        return rc;
    digest = bundle_digest(bundle, md) == 0;
    if (digest && bundle_is_current(o, md)) {
        xmpp_stanza_release(bundle);
    } else {
        bundle_node(node, sizeof node, o->device_id);
        rc = publish(s, node, bundle, 1, err);
        if (rc)
            return rc;
        if (digest)
            bundle_published(o, md);
    }
    rc = fetch(s, NULL, NODE_DEVICES, &list, NULL, 0, err);
    if (rc)
        return rc;
    n = parse_devices(list, devs, MAX_DEVICES);
    if (list)
        xmpp_stanza_release(list);
    for (i = 0; i < n && devs[i] != o->device_id; i++)
        ;
    if (i == n) {
        devs[n++] = o->device_id;
        rc = publish(s, NODE_DEVICES, device_list(s->ctx, devs, n), 1, err);
    }
    if (rc == 0 && (rc = xu_omemo_store_begin(o->st, err)) == 0) {
        if (xu_omemo_store_set_devices(o->st, o->own, devs, n) < 0) {
            xu_omemo_store_rollback(o->st);
            rc = store_fail(err, "save our device list");
        } else {
            rc = xu_omemo_store_commit(o->st, err);
        }
    }
    return rc;
}

/* ---- sessions with the devices of others ---- */

static ec_public_key *decode_key(struct xu_omemo *o, xmpp_ctx_t *ctx, xmpp_stanza_t *e)
{
    ec_public_key *k = NULL;
    size_t len;
    uint8_t *d = get_b64(ctx, e, &len);

    if (d && curve_decode_point(&k, d, len, o->gctx) != 0)
        k = NULL;
    if (d)
        xmpp_free(ctx, d);
    return k;
}

/* Build a session with jid's device dev from its bundle (inside a
 * transaction). 0, or -1 with why. */
static int build_session(struct xu_omemo *o, xmpp_ctx_t *ctx, const char *jid, uint32_t dev,
                         xmpp_stanza_t *bundle, char *why, size_t whylen)
{
    xmpp_stanza_t *e, *pks, *pk;
    ec_public_key *spk = NULL, *ik = NULL, *pre = NULL;
    session_pre_key_bundle *b = NULL;
    session_builder *builder = NULL;
    signal_protocol_address addr = {jid, strlen(jid), (int32_t)dev};
    uint32_t spk_id = 0, pre_id = 0, ids[PREKEYS * 2];
    xmpp_stanza_t *pre_el[PREKEYS * 2];
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    int n = 0, rc = -1, r, pick;

    e = xmpp_stanza_get_child_by_name(bundle, "signedPreKeyPublic");
    if (!e || parse_u32(xmpp_stanza_get_attribute(e, "signedPreKeyId"), &spk_id) ||
        !(spk = decode_key(o, ctx, e))) {
        snprintf(why, whylen, "its bundle has no valid signed prekey");
        goto out;
    }
    sig = get_b64(ctx, xmpp_stanza_get_child_by_name(bundle, "signedPreKeySignature"), &sig_len);
    ik = decode_key(o, ctx, xmpp_stanza_get_child_by_name(bundle, "identityKey"));
    if (!sig || !ik) {
        snprintf(why, whylen, "its bundle lacks the signature or the identity key");
        goto out;
    }
    pks = xmpp_stanza_get_child_by_name(bundle, "prekeys");
    for (pk = pks ? xmpp_stanza_get_children(pks) : NULL; pk && n < PREKEYS * 2;
         pk = xmpp_stanza_get_next(pk)) {
        const char *name = xmpp_stanza_get_name(pk);
        if (name && strcmp(name, "preKeyPublic") == 0 &&
            parse_u32(xmpp_stanza_get_attribute(pk, "preKeyId"), &ids[n]) == 0)
            pre_el[n++] = pk;
    }
    if (n == 0) {
        snprintf(why, whylen, "its bundle has no prekeys");
        goto out;
    }
    if (signal_protocol_key_helper_get_random_sequence(&pick, n, o->gctx) || pick < 0 || pick >= n)
        pick = 0;
    pre_id = ids[pick];
    if (!(pre = decode_key(o, ctx, pre_el[pick]))) {
        snprintf(why, whylen, "its prekey %u is not a valid key", pre_id);
        goto out;
    }
    r = session_pre_key_bundle_create(&b, 0, (int)dev, pre_id, pre, spk_id, spk, sig, sig_len, ik);
    if (r == 0)
        r = session_builder_create(&builder, o->sc, &addr, o->gctx);
    if (r == 0)
        r = session_builder_process_pre_key_bundle(builder, b);
    if (r == SG_ERR_UNTRUSTED_IDENTITY)
        snprintf(why, whylen, "its identity key changed: not used until you decide (see SECURITY.md)");
    else if (r == SG_ERR_INVALID_KEY)
        snprintf(why, whylen, "its bundle's signature is not valid");
    else if (r)
        snprintf(why, whylen, "cannot build a session from its bundle (libomemo-c error %d)", r);
    else
        rc = 0;
out:
    if (builder)
        session_builder_free(builder);
    SIGNAL_UNREF(b);
    SIGNAL_UNREF(spk);
    SIGNAL_UNREF(ik);
    SIGNAL_UNREF(pre);
    if (sig)
        xmpp_free(ctx, sig);
    return rc;
}

/* Fetch jid's device list (NULL: ours) and build the missing sessions. */
static int prepare_one(struct xu_omemo *o, struct xu_session *s, const char *jid,
                       struct xu_error *err)
{
    xmpp_stanza_t *list = NULL, *bundle;
    const char *who = jid ? jid : o->own;
    uint32_t devs[MAX_DEVICES];
    char node[96], why[200], none[200];
    int rc, n, i, has;

    rc = fetch(s, jid, NODE_DEVICES, &list, none, sizeof none, err);
    if (rc)
        return rc;
    n = parse_devices(list, devs, MAX_DEVICES);
    if (jid)
        snprintf(o->why_none, sizeof o->why_none, "%s", n ? "none trusted or with a usable bundle"
                                                           : list ? "an empty device list" : none);
    if (list)
        xmpp_stanza_release(list);
    if ((rc = xu_omemo_store_begin(o->st, err)) != 0)
        return rc;
    if (xu_omemo_store_set_devices(o->st, who, devs, n) < 0) {
        xu_omemo_store_rollback(o->st);
        return store_fail(err, "save a device list");
    }
    if ((rc = xu_omemo_store_commit(o->st, err)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        if (!jid && devs[i] == o->device_id)
            continue;
        has = xu_omemo_store_has_session(o->st, who, devs[i]);
        if (has < 0)
            return store_fail(err, "read the sessions");
        if (has)
            continue;
        bundle_node(node, sizeof node, devs[i]);
        bundle = NULL;
        rc = fetch(s, jid, node, &bundle, NULL, 0, err); /* ours: no 'to' */
        if (rc)
            return rc;
        if (!bundle) {
            xu_warn("OMEMO: %s's device %u has published no bundle; it is left out", who, devs[i]);
            continue;
        }
        if ((rc = xu_omemo_store_begin(o->st, err)) != 0) {
            xmpp_stanza_release(bundle);
            return rc;
        }
        if (build_session(o, s->ctx, who, devs[i], bundle, why, sizeof why) < 0) {
            xu_omemo_store_rollback(o->st);
            xu_warn("OMEMO: %s's device %u is left out: %s", who, devs[i], why);
        } else if ((rc = xu_omemo_store_commit(o->st, err)) != 0) {
            xmpp_stanza_release(bundle);
            return rc;
        }
        xmpp_stanza_release(bundle);
    }
    return 0;
}

/* The devices of jid we encrypt for (session, trusted); count or -1. */
static int usable(struct xu_omemo *o, const char *jid, uint32_t *devs, int max)
{
    uint32_t all[MAX_DEVICES];
    int n = xu_omemo_store_devices(o->st, jid, all, MAX_DEVICES), i, k = 0, trust;

    if (n < 0)
        return -1;
    for (i = 0; i < n && k < max; i++) {
        if (strcmp(jid, o->own) == 0 && all[i] == o->device_id)
            continue;
        if (xu_omemo_store_has_session(o->st, jid, all[i]) != 1 ||
            xu_omemo_store_device(o->st, jid, all[i], &trust, NULL, NULL) != 1)
            continue;
        if (trust == XU_TRUST_BLIND || trust == XU_TRUST_VERIFIED)
            devs[k++] = all[i];
    }
    return k;
}

static char *bare(xmpp_ctx_t *ctx, const char *jid)
{
    char *b = xmpp_jid_bare(ctx, jid), *r, *p;

    r = b ? strdup(b) : NULL;
    if (b)
        xmpp_free(ctx, b);
    for (p = r; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return r;
}

static int no_device(const char *jid, const char *why, struct xu_error *err)
{
    return xu_error_set(err, XU_EX_UNAVAILABLE,
                        "OMEMO: %s has no device we can encrypt for (%s); nothing was sent", jid,
                        why && *why ? why : "none trusted or with a usable bundle");
}

int xu_omemo_prepare(struct xu_omemo *o, struct xu_session *s, char *const *jids, int n,
                     struct xu_error *err)
{
    uint32_t devs[1];
    char *b;
    int i, rc;

    rc = prepare_one(o, s, NULL, err);
    for (i = 0; rc == 0 && i < n; i++) {
        b = bare(s->ctx, jids[i]);
        if (!b)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        if (strcmp(b, o->own) != 0)
            rc = prepare_one(o, s, b, err);
        else
            snprintf(o->why_none, sizeof o->why_none, "no other device of our own");
        if (rc == 0 && usable(o, b, devs, 1) < 1)
            rc = no_device(b, o->why_none, err);
        free(b);
    }
    return rc;
}

/* Encrypt key||tag for one device and add its <key/> to header. */
static int add_device_key(struct xu_omemo *o, xmpp_ctx_t *ctx, xmpp_stanza_t *header,
                          const char *jid, uint32_t dev, const uint8_t *kt, size_t ktlen,
                          struct xu_error *err)
{
    signal_protocol_address addr = {jid, strlen(jid), (int32_t)dev};
    session_cipher *c = NULL;
    ciphertext_message *m = NULL;
    signal_buffer *ser;
    xmpp_stanza_t *k;
    char num[16];
    int r;

    r = session_cipher_create(&c, o->sc, &addr, o->gctx);
    if (r == 0)
        r = session_cipher_encrypt(c, kt, ktlen, &m);
    if (r) {
        if (c)
            session_cipher_free(c);
        return sg_fail(err, r, "encrypting for a device");
    }
    ser = ciphertext_message_get_serialized(m);
    k = add(header, el(ctx, "key", NULL));
    snprintf(num, sizeof num, "%u", dev);
    xmpp_stanza_set_attribute(k, "rid", num);
    if (ciphertext_message_get_type(m) == CIPHERTEXT_PREKEY_TYPE)
        xmpp_stanza_set_attribute(k, "prekey", "true");
    add_b64(ctx, k, signal_buffer_data(ser), signal_buffer_len(ser));
    SIGNAL_UNREF(m);
    session_cipher_free(c);
    return 0;
}

/* The body's text becomes the fallback (libstrophe 0.12 cannot remove a
 * child): the plaintext is not in the stanza any more. */
static void replace_body(xmpp_stanza_t *body)
{
    xmpp_stanza_t *t;
    int first = 1;

    for (t = xmpp_stanza_get_children(body); t; t = xmpp_stanza_get_next(t))
        if (xmpp_stanza_is_text(t)) {
            xmpp_stanza_set_text(t, first ? FALLBACK : "");
            first = 0;
        }
}

int xu_omemo_encrypt(struct xu_omemo *o, struct xu_session *s, xmpp_stanza_t *msg,
                     struct xu_error *err)
{
    xmpp_ctx_t *ctx = s->ctx;
    xmpp_stanza_t *body = xmpp_stanza_get_child_by_name(msg, "body"), *enc = NULL, *header, *e;
    uint32_t them[MAX_DEVICES], mine[MAX_DEVICES];
    uint8_t key[16 + XU_OMEMO_GCM_TAG], iv[IV_LEN], *ct = NULL;
    char *text = body ? xmpp_stanza_get_text(body) : NULL, *to = NULL, num[16];
    size_t len;
    int nt, nm, i, rc = 0;

    if (!text)
        return xu_error_set(err, XU_EX_SOFTWARE, "OMEMO: a message without a body to encrypt");
    len = strlen(text);
    to = bare(ctx, xmpp_stanza_get_to(msg) ? xmpp_stanza_get_to(msg) : "");
    ct = malloc(len + 1);
    if (!to || !ct) {
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
        goto out;
    }
    if ((rc = xu_omemo_store_begin(o->st, err)) != 0)
        goto out;
    nt = usable(o, to, them, MAX_DEVICES);
    nm = strcmp(to, o->own) == 0 ? 0 : usable(o, o->own, mine, MAX_DEVICES);
    if (nt < 1 || nm < 0) {
        rc = nt < 0 || nm < 0 ? store_fail(err, "read the devices") : no_device(to, NULL, err);
        goto fail;
    }
    if (xu_omemo_random(key, 16) || xu_omemo_random(iv, IV_LEN) ||
        xu_omemo_gcm_encrypt(key, 16, iv, IV_LEN, (const uint8_t *)text, len, ct, key + 16)) {
        rc = xu_error_set(err, XU_EX_SOFTWARE, "OMEMO: AES-GCM encryption failed");
        goto fail;
    }
    enc = el(ctx, "encrypted", XU_NS_OMEMO);
    header = add(enc, el(ctx, "header", NULL));
    snprintf(num, sizeof num, "%u", o->device_id);
    xmpp_stanza_set_attribute(header, "sid", num);
    for (i = 0; rc == 0 && i < nt; i++)
        rc = add_device_key(o, ctx, header, to, them[i], key, sizeof key, err);
    for (i = 0; rc == 0 && i < nm; i++)
        rc = add_device_key(o, ctx, header, o->own, mine[i], key, sizeof key, err);
    if (rc)
        goto fail;
    add_b64(ctx, add(header, el(ctx, "iv", NULL)), iv, IV_LEN);
    add_b64(ctx, add(enc, el(ctx, "payload", NULL)), ct, len);
    /* the sessions advanced: commit before the message can go out */
    if ((rc = xu_omemo_store_commit(o->st, err)) != 0)
        goto out;
    replace_body(body);
    xmpp_stanza_add_child(msg, enc);
    e = add(msg, el(ctx, "encryption", NS_EME));
    xmpp_stanza_set_attribute(e, "namespace", XU_NS_OMEMO);
    xmpp_stanza_set_attribute(e, "name", "OMEMO");
    add(msg, el(ctx, "store", NS_HINTS));
    goto out;
fail:
    xu_omemo_store_rollback(o->st);
out:
    if (enc)
        xmpp_stanza_release(enc);
    OPENSSL_cleanse(key, sizeof key);
    if (ct) {
        OPENSSL_cleanse(ct, len);
        free(ct);
    }
    OPENSSL_cleanse(text, len);
    xmpp_free(ctx, text);
    free(to);
    return rc;
}

/* ---- incoming ---- */

static void in_error(struct xu_omemo_in *in, const char *fmt, const char *arg, int code)
{
    char what[160];

    snprintf(what, sizeof what, fmt, arg ? arg : "");
    if (code)
        snprintf(in->error, sizeof in->error, "%s (libomemo-c error %d)", what, code);
    else
        snprintf(in->error, sizeof in->error, "%s", what);
}

/* Decrypt the Signal message for our device into key||tag. */
static int open_key(struct xu_omemo *o, xmpp_ctx_t *ctx, const char *from, uint32_t sid,
                    xmpp_stanza_t *k, signal_buffer **plain, struct xu_omemo_in *in)
{
    signal_protocol_address addr = {from, strlen(from), (int32_t)sid};
    const char *prekey = xmpp_stanza_get_attribute(k, "prekey");
    int is_prekey = prekey && (strcmp(prekey, "true") == 0 || strcmp(prekey, "1") == 0);
    pre_key_signal_message *pm = NULL;
    signal_message *sm = NULL;
    session_cipher *c = NULL;
    size_t len;
    uint8_t *d = get_b64(ctx, k, &len);
    int r;

    if (!d) {
        in_error(in, "the key for our device is not valid base64", NULL, 0);
        return -1;
    }
    r = session_cipher_create(&c, o->sc, &addr, o->gctx);
    if (r == 0 && is_prekey) {
        r = pre_key_signal_message_deserialize(&pm, d, len, o->gctx);
        if (r == 0)
            r = session_cipher_decrypt_pre_key_signal_message(c, pm, NULL, plain);
        if (r == 0)
            o->used_prekeys++;
    } else if (r == 0) {
        r = signal_message_deserialize(&sm, d, len, o->gctx);
        if (r == 0)
            r = session_cipher_decrypt_signal_message(c, sm, NULL, plain);
    }
    if (r == SG_ERR_NO_SESSION)
        in_error(in, "no session with the sending device (it must send a prekey message)", NULL, 0);
    else if (r == SG_ERR_DUPLICATE_MESSAGE)
        in_error(in, "a message decrypted before (duplicate)", NULL, 0);
    else if (r == SG_ERR_UNTRUSTED_IDENTITY)
        in_error(in, "the sending device's identity key changed", NULL, 0);
    else if (r == SG_ERR_INVALID_MAC || r == SG_ERR_INVALID_MESSAGE || r == SG_ERR_INVALID_PROTO_BUF ||
             r == SG_ERR_INVALID_KEY || r == SG_ERR_INVALID_VERSION || r == SG_ERR_LEGACY_MESSAGE)
        in_error(in, "the key for our device is corrupted or not for this session", NULL, r);
    else if (r == SG_ERR_INVALID_KEY_ID)
        in_error(in, "the message uses a prekey we no longer have", NULL, r);
    else if (r)
        in_error(in, "cannot decrypt the key for our device", NULL, r);
    SIGNAL_UNREF(pm);
    SIGNAL_UNREF(sm);
    if (c)
        session_cipher_free(c);
    xmpp_free(ctx, d);
    return r ? -1 : 0;
}

void xu_omemo_decrypt(struct xu_omemo *o, struct xu_session *s, xmpp_stanza_t *msg,
                      struct xu_omemo_in *in)
{
    xmpp_ctx_t *ctx = s->ctx;
    xmpp_stanza_t *enc = xmpp_stanza_get_child_by_name_and_ns(msg, "encrypted", XU_NS_OMEMO);
    xmpp_stanza_t *header, *k, *iv_el, *payload;
    signal_buffer *plain = NULL;
    uint8_t *iv = NULL, *ct = NULL;
    size_t iv_len = 0, ct_len = 0;
    uint32_t sid = 0, rid;
    char *from = NULL;
    struct xu_error err = {0, ""};
    int trust, found = 0;

    memset(in, 0, sizeof *in);
    if (!enc)
        return;
    in->encrypted = 1;
    header = xmpp_stanza_get_child_by_name(enc, "header");
    from = bare(ctx, xmpp_stanza_get_from(msg) ? xmpp_stanza_get_from(msg) : "");
    if (!header || parse_u32(xmpp_stanza_get_attribute(header, "sid"), &sid) || !from || !*from) {
        in_error(in, "malformed OMEMO element (no header or sender device)", NULL, 0);
        goto out;
    }
    in->device = sid;
    for (k = xmpp_stanza_get_children(header); k; k = xmpp_stanza_get_next(k)) {
        const char *name = xmpp_stanza_get_name(k);
        if (name && strcmp(name, "key") == 0 &&
            parse_u32(xmpp_stanza_get_attribute(k, "rid"), &rid) == 0 && rid == o->device_id) {
            found = 1;
            break;
        }
    }
    if (!found) {
        in_error(in, "not encrypted for this device", NULL, 0);
        goto out;
    }
    if (xu_omemo_store_begin(o->st, &err)) {
        in_error(in, "%s", err.msg, 0);
        goto out;
    }
    if (open_key(o, ctx, from, sid, k, &plain, in) < 0 ||
        xu_omemo_store_device(o->st, from, sid, &trust, NULL, NULL) != 1) {
        if (!in->error[0])
            in_error(in, "unknown sending device", NULL, 0);
        xu_omemo_store_rollback(o->st);
        goto out;
    }
    in->trust = xu_omemo_trust_name(trust);
    if (xu_omemo_store_commit(o->st, &err)) {
        in_error(in, "%s", err.msg, 0);
        goto out;
    }
    payload = xmpp_stanza_get_child_by_name(enc, "payload");
    if (!payload) {
        in->key_only = 1; /* a key transport message: the session moved on */
        goto out;
    }
    iv_el = xmpp_stanza_get_child_by_name(header, "iv");
    iv = get_b64(ctx, iv_el, &iv_len);
    ct = get_b64(ctx, payload, &ct_len);
    if (signal_buffer_len(plain) == 16 && ct && ct_len >= XU_OMEMO_GCM_TAG) {
        /* early 0.3 clients put the tag after the payload, not after the key */
        signal_buffer *kt = signal_buffer_append(plain, ct + ct_len - XU_OMEMO_GCM_TAG,
                                                 XU_OMEMO_GCM_TAG);
        if (kt) {
            plain = kt;
            ct_len -= XU_OMEMO_GCM_TAG;
        }
    }
    if (signal_buffer_len(plain) < 16 + XU_OMEMO_GCM_TAG || !iv || iv_len < 12 || !ct) {
        in_error(in, "malformed OMEMO message (key, IV or payload)", NULL, 0);
        goto out;
    }
    in->text = malloc(ct_len + 1);
    if (!in->text) {
        in_error(in, "out of memory", NULL, 0);
        goto out;
    }
    /* a distrusted or undecided device's message is decrypted all the
     * same: the trust field says what it is worth */
    if (xu_omemo_gcm_decrypt(signal_buffer_data(plain), 16, iv, iv_len, ct, ct_len,
                             signal_buffer_data(plain) + 16, (uint8_t *)in->text) < 0) {
        free(in->text);
        in->text = NULL;
        in_error(in, "the payload does not match its authentication tag (corrupted)", NULL, 0);
        goto out;
    }
    in->text[ct_len] = '\0';
    if (memchr(in->text, '\0', ct_len)) {
        free(in->text);
        in->text = NULL;
        in_error(in, "the decrypted text contains a NUL byte", NULL, 0);
        goto out;
    }
    in->ok = 1;
out:
    if (plain)
        signal_buffer_bzero_free(plain);
    if (iv)
        xmpp_free(ctx, iv);
    if (ct)
        xmpp_free(ctx, ct);
    free(from);
}

void xu_omemo_refresh(struct xu_omemo *o, struct xu_session *s)
{
    xmpp_stanza_t *bundle = NULL;
    struct xu_error err = {0, ""};
    char node[96];

    if (o->used_prekeys == 0)
        return;
    if (fresh_bundle(o, s->ctx, &bundle, &err)) {
        xu_warn("%s", err.msg);
        return;
    }
    o->used_prekeys = 0;
    bundle_node(node, sizeof node, o->device_id);
    publish(s, node, bundle, 0, &err);
}

/* ---- trust management ---- */

int xu_omemo_fetch_devices(struct xu_omemo *o, struct xu_session *s, const char *jid,
                           struct xu_error *err)
{
    char *b = jid ? bare(s->ctx, jid) : NULL;
    int rc;

    if (jid && !b)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = prepare_one(o, s, b && strcmp(b, o->own) != 0 ? b : NULL, err);
    free(b);
    return rc;
}

static char *lower_bare(const char *jid)
{
    char *b = strdup(jid), *p;

    if (!b)
        return NULL;
    if ((p = strchr(b, '/')) != NULL)
        *p = '\0';
    for (p = b; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return b;
}

int xu_omemo_devices(struct xu_omemo *o, const char *jid, struct xu_omemo_device *out, int max)
{
    uint32_t devs[MAX_DEVICES];
    uint8_t key[64];
    size_t klen;
    char *who = lower_bare(jid ? jid : o->own);
    int n, i, k = 0, trust, own;

    if (!who)
        return -1;
    own = strcmp(who, o->own) == 0;
    n = xu_omemo_store_devices(o->st, who, devs, MAX_DEVICES);
    for (i = 0; i < n && k < max; i++, k++) {
        memset(&out[k], 0, sizeof out[k]);
        out[k].id = devs[i];
        out[k].own = own && devs[i] == o->device_id;
        klen = sizeof key;
        if (out[k].own) {
            out[k].trust = "own";
            xu_omemo_own_fingerprint(o, out[k].fingerprint, sizeof out[k].fingerprint);
            continue;
        }
        out[k].session = xu_omemo_store_has_session(o->st, who, devs[i]) == 1;
        if (xu_omemo_store_device(o->st, who, devs[i], &trust, key, &klen) == 1) {
            out[k].trust = xu_omemo_trust_name(trust);
            hex_fingerprint(key, klen, out[k].fingerprint, sizeof out[k].fingerprint);
        }
    }
    free(who);
    return n < 0 ? -1 : k;
}

/* fingerprint text without spaces, lowercase */
static void squeeze(const char *in, char *out, size_t len)
{
    size_t j = 0;

    for (; *in && j + 1 < len; in++) {
        if (*in == ' ' || *in == ':')
            continue;
        out[j++] = (char)(*in >= 'A' && *in <= 'Z' ? *in - 'A' + 'a' : *in);
    }
    out[j] = '\0';
}

int xu_omemo_trust(struct xu_omemo *o, const char *jid, const char *device, int trust,
                   struct xu_error *err)
{
    struct xu_omemo_device d[MAX_DEVICES];
    char want[80], have[80];
    uint32_t id = 0;
    int n, i, match = -1, by_id = parse_u32(device, &id) == 0 && strlen(device) < 11, rc;
    char *who = lower_bare(jid);

    if (!who)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    squeeze(device, want, sizeof want);
    n = xu_omemo_devices(o, who, d, MAX_DEVICES);
    for (i = 0; i < n && match < 0; i++) {
        squeeze(d[i].fingerprint, have, sizeof have);
        if (d[i].trust && !d[i].own && ((by_id && d[i].id == id) || (have[0] && strcmp(have, want) == 0)))
            match = i;
    }
    if (match < 0) {
        rc = xu_error_set(err, XU_EX_DATAERR,
                          "%s has no known device '%s' (see xmpp-omemo devices %s)", who, device, who);
        free(who);
        return rc;
    }
    rc = xu_omemo_store_begin(o->st, err);
    if (rc == 0) {
        if (xu_omemo_store_set_trust(o->st, who, d[match].id,
                                     trust ? XU_TRUST_VERIFIED : XU_TRUST_DISTRUSTED) < 0) {
            xu_omemo_store_rollback(o->st);
            rc = store_fail(err, "save the trust decision");
        } else {
            rc = xu_omemo_store_commit(o->st, err);
        }
    }
    free(who);
    return rc;
}

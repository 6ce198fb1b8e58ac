/* OMEMO bundles: ours (prekeys topped up, published again only when it
 * changed or once a day, our device kept in our device list), and those
 * of the recipients' devices, fetched and turned into Signal sessions
 * before a message is encrypted for them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include <key_helper.h>
#include <protocol.h>
#include <session_builder.h>
#include <signal_protocol.h>

#include "base/msg.h"
#include "omemo/omemo_int.h"
#include "xml/stanza_out.h"

/* ---- our bundle ---- */

static int add_key_b64(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name, const char *attr,
                       uint32_t id, ec_public_key *key)
{
    signal_buffer *b = NULL;
    xmpp_stanza_t *e;
    char num[16];

    if (ec_public_key_serialize(&b, key))
        return -1;
    e = xu_stanza_add_el(parent, name, NULL);
    if (attr) {
        snprintf(num, sizeof num, "%u", id);
        xmpp_stanza_set_attribute(e, attr, num);
    }
    xu_omemo_add_b64(ctx, e, signal_buffer_data(b), signal_buffer_len(b));
    signal_buffer_free(b);
    return 0;
}

/* Our bundle, from the store (inside a transaction). */
static int make_bundle(struct xu_omemo *o, xmpp_ctx_t *ctx, xmpp_stanza_t **out, struct xu_error *err)
{
    xmpp_stanza_t *b = xu_omemo_el(ctx, "bundle", XU_NS_OMEMO), *pks;
    session_signed_pre_key *spk = NULL;
    session_pre_key *pk = NULL;
    ratchet_identity_key_pair *pair = NULL;
    uint32_t spk_id = 1, ids[PREKEYS];
    int n, i, rc = 0;

    if (xu_omemo_store_get_u32(o->st, "signed_prekey_id", &spk_id) != 1 ||
        signal_protocol_signed_pre_key_load_key(o->sc, &spk, spk_id) ||
        signal_protocol_identity_get_key_pair(o->sc, &pair)) {
        rc = xu_omemo_fail_store(err, "read our keys");
        goto out;
    }
    add_key_b64(ctx, b, "signedPreKeyPublic", "signedPreKeyId", spk_id,
                ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk)));
    xu_omemo_add_b64(ctx, xu_stanza_add_el(b, "signedPreKeySignature", NULL),
            session_signed_pre_key_get_signature(spk), session_signed_pre_key_get_signature_len(spk));
    add_key_b64(ctx, b, "identityKey", NULL, 0, ratchet_identity_key_pair_get_public(pair));
    pks = xu_stanza_add_el(b, "prekeys", NULL);
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
    rc = n < 0 ? xu_omemo_fail_store(err, "count the prekeys") : xu_omemo_make_prekeys(o, PREKEYS - n, err);
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
        rc = xu_omemo_pep_publish(s, node, bundle, 1, err);
        if (rc)
            return rc;
        if (digest)
            bundle_published(o, md);
    }
    rc = xu_omemo_pep_fetch(s, NULL, NODE_DEVICES, &list, NULL, 0, err);
    if (rc)
        return rc;
    n = xu_omemo_parse_devices(list, devs, MAX_DEVICES);
    if (list)
        xmpp_stanza_release(list);
    for (i = 0; i < n && devs[i] != o->device_id; i++)
        ;
    if (i == n) {
        devs[n++] = o->device_id;
        rc = xu_omemo_pep_publish(s, NODE_DEVICES, xu_omemo_device_list(s->ctx, devs, n), 1, err);
    }
    if (rc == 0 && (rc = xu_omemo_store_begin(o->st, err)) == 0) {
        if (xu_omemo_store_set_devices(o->st, o->own, devs, n) < 0) {
            xu_omemo_store_rollback(o->st);
            rc = xu_omemo_fail_store(err, "save our device list");
        } else {
            rc = xu_omemo_store_commit(o->st, err);
        }
    }
    return rc;
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
    xu_omemo_pep_publish(s, node, bundle, 0, &err);
}

/* ---- their bundles: sessions with the devices of others ---- */

static ec_public_key *decode_key(struct xu_omemo *o, xmpp_ctx_t *ctx, xmpp_stanza_t *e)
{
    ec_public_key *k = NULL;
    size_t len;
    uint8_t *d = xu_omemo_get_b64(ctx, e, &len);

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
    if (!e || xu_omemo_parse_u32(xmpp_stanza_get_attribute(e, "signedPreKeyId"), &spk_id) ||
        !(spk = decode_key(o, ctx, e))) {
        snprintf(why, whylen, "its bundle has no valid signed prekey");
        goto out;
    }
    sig = xu_omemo_get_b64(ctx, xmpp_stanza_get_child_by_name(bundle, "signedPreKeySignature"), &sig_len);
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
            xu_omemo_parse_u32(xmpp_stanza_get_attribute(pk, "preKeyId"), &ids[n]) == 0)
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

    rc = xu_omemo_pep_fetch(s, jid, NODE_DEVICES, &list, none, sizeof none, err);
    if (rc)
        return rc;
    n = xu_omemo_parse_devices(list, devs, MAX_DEVICES);
    if (jid)
        snprintf(o->why_none, sizeof o->why_none, "%s", n ? "none trusted or with a usable bundle"
                                                           : list ? "an empty device list" : none);
    if (list)
        xmpp_stanza_release(list);
    if ((rc = xu_omemo_store_begin(o->st, err)) != 0)
        return rc;
    if (xu_omemo_store_set_devices(o->st, who, devs, n) < 0) {
        xu_omemo_store_rollback(o->st);
        return xu_omemo_fail_store(err, "save a device list");
    }
    if ((rc = xu_omemo_store_commit(o->st, err)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        if (!jid && devs[i] == o->device_id)
            continue;
        has = xu_omemo_store_has_session(o->st, who, devs[i]);
        if (has < 0)
            return xu_omemo_fail_store(err, "read the sessions");
        if (has)
            continue;
        bundle_node(node, sizeof node, devs[i]);
        bundle = NULL;
        rc = xu_omemo_pep_fetch(s, jid, node, &bundle, NULL, 0, err); /* ours: no 'to' */
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
int xu_omemo_usable(struct xu_omemo *o, const char *jid, uint32_t *devs, int max)
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

int xu_omemo_no_device(const char *jid, const char *why, struct xu_error *err)
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
        b = xu_omemo_bare(jids[i]);
        if (!b)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        if (strcmp(b, o->own) != 0)
            rc = prepare_one(o, s, b, err);
        else
            snprintf(o->why_none, sizeof o->why_none, "no other device of our own");
        if (rc == 0 && xu_omemo_usable(o, b, devs, 1) < 1)
            rc = xu_omemo_no_device(b, o->why_none, err);
        free(b);
    }
    return rc;
}

int xu_omemo_fetch_devices(struct xu_omemo *o, struct xu_session *s, const char *jid,
                           struct xu_error *err)
{
    char *b = jid ? xu_omemo_bare(jid) : NULL;
    int rc;

    if (jid && !b)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = prepare_one(o, s, b && strcmp(b, o->own) != 0 ? b : NULL, err);
    free(b);
    return rc;
}

/* One OMEMO message: its body encrypted (AES-128-GCM, the key and tag
 * encrypted by the Signal session of every usable device) into an
 * <encrypted/> element with the EME and store hints, and an incoming
 * <encrypted/> element opened for our device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <protocol.h>
#include <session_cipher.h>
#include <signal_protocol.h>

#include "base/msg.h"
#include "omemo/crypto.h"
#include "omemo/omemo_int.h"
#include "xml/stanza_out.h"

#define NS_EME "urn:xmpp:eme:0"
#define NS_HINTS "urn:xmpp:hints"
#define IV_LEN 12
#define FALLBACK "This message is encrypted with OMEMO, which your client does not seem to support."

/* ---- outgoing ---- */

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
        return xu_omemo_fail_sg(err, r, "encrypting for a device");
    }
    ser = ciphertext_message_get_serialized(m);
    k = xu_stanza_add_el(header, "key", NULL);
    snprintf(num, sizeof num, "%u", dev);
    xmpp_stanza_set_attribute(k, "rid", num);
    if (ciphertext_message_get_type(m) == CIPHERTEXT_PREKEY_TYPE)
        xmpp_stanza_set_attribute(k, "prekey", "true");
    xu_omemo_add_b64(ctx, k, signal_buffer_data(ser), signal_buffer_len(ser));
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
    to = xu_omemo_bare(xmpp_stanza_get_to(msg) ? xmpp_stanza_get_to(msg) : "");
    ct = malloc(len + 1);
    if (!to || !ct) {
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
        goto out;
    }
    if ((rc = xu_omemo_store_begin(o->st, err)) != 0)
        goto out;
    nt = xu_omemo_usable(o, to, them, MAX_DEVICES);
    nm = strcmp(to, o->own) == 0 ? 0 : xu_omemo_usable(o, o->own, mine, MAX_DEVICES);
    if (nt < 1 || nm < 0) {
        rc = nt < 0 || nm < 0 ? xu_omemo_fail_store(err, "read the devices") : xu_omemo_no_device(to, NULL, err);
        goto fail;
    }
    if (xu_omemo_random(key, 16) || xu_omemo_random(iv, IV_LEN) ||
        xu_omemo_gcm_encrypt(key, 16, iv, IV_LEN, (const uint8_t *)text, len, ct, key + 16)) {
        rc = xu_error_set(err, XU_EX_SOFTWARE, "OMEMO: AES-GCM encryption failed");
        goto fail;
    }
    enc = xu_omemo_el(ctx, "encrypted", XU_NS_OMEMO);
    header = xu_stanza_add_el(enc, "header", NULL);
    snprintf(num, sizeof num, "%u", o->device_id);
    xmpp_stanza_set_attribute(header, "sid", num);
    for (i = 0; rc == 0 && i < nt; i++)
        rc = add_device_key(o, ctx, header, to, them[i], key, sizeof key, err);
    for (i = 0; rc == 0 && i < nm; i++)
        rc = add_device_key(o, ctx, header, o->own, mine[i], key, sizeof key, err);
    if (rc)
        goto fail;
    xu_omemo_add_b64(ctx, xu_stanza_add_el(header, "iv", NULL), iv, IV_LEN);
    xu_omemo_add_b64(ctx, xu_stanza_add_el(enc, "payload", NULL), ct, len);
    /* the sessions advanced: commit before the message can go out */
    if ((rc = xu_omemo_store_commit(o->st, err)) != 0)
        goto out;
    replace_body(body);
    xmpp_stanza_add_child(msg, enc);
    e = xu_stanza_add_el(msg, "encryption", NS_EME);
    xmpp_stanza_set_attribute(e, "namespace", XU_NS_OMEMO);
    xmpp_stanza_set_attribute(e, "name", "OMEMO");
    xu_stanza_add_el(msg, "store", NS_HINTS);
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
    uint8_t *d = xu_omemo_get_b64(ctx, k, &len);
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
    from = xu_omemo_bare(xmpp_stanza_get_from(msg) ? xmpp_stanza_get_from(msg) : "");
    if (!header || xu_omemo_parse_u32(xmpp_stanza_get_attribute(header, "sid"), &sid) || !from || !*from) {
        in_error(in, "malformed OMEMO element (no header or sender device)", NULL, 0);
        goto out;
    }
    in->device = sid;
    for (k = xmpp_stanza_get_children(header); k; k = xmpp_stanza_get_next(k)) {
        const char *name = xmpp_stanza_get_name(k);
        if (name && strcmp(name, "key") == 0 &&
            xu_omemo_parse_u32(xmpp_stanza_get_attribute(k, "rid"), &rid) == 0 && rid == o->device_id) {
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
    iv = xu_omemo_get_b64(ctx, iv_el, &iv_len);
    ct = xu_omemo_get_b64(ctx, payload, &ct_len);
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

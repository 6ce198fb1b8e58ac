/* OMEMO 0.3 over libomemo-c (see omemo.h): our own device (identity key,
 * device id, signed prekey and prekeys, made on first use), opening and
 * closing the engine, and the trust decisions about the devices of others.
 * Its other parts: pep.c, bundle.c, envelope.c (see omemo_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <key_helper.h>
#include <protocol.h>
#include <signal_protocol.h>

#include "omemo/crypto.h"
#include "omemo/omemo_int.h"

uint32_t xu_omemo_device_id(const struct xu_omemo *o)
{
    return o->device_id;
}

int xu_omemo_fail_sg(struct xu_error *err, int rc, const char *what)
{
    return xu_error_set(err, rc == SG_ERR_NOMEM ? XU_EX_OSERR : XU_EX_SOFTWARE,
                        "OMEMO: %s failed (libomemo-c error %d)", what, rc);
}

int xu_omemo_fail_store(struct xu_error *err, const char *what)
{
    return xu_error_set(err, XU_EX_IOERR, "OMEMO store: cannot %s", what);
}

/* ---- our own device ---- */

int xu_omemo_make_prekeys(struct xu_omemo *o, int count, struct xu_error *err)
{
    signal_protocol_key_helper_pre_key_list_node *head = NULL, *n;
    uint32_t next = 1;
    int rc;

    if (count <= 0)
        return 0;
    if (xu_omemo_store_get_u32(o->st, "next_prekey_id", &next) < 0)
        return xu_omemo_fail_store(err, "read the prekey counter");
    if (next < 1 || next > PRE_KEY_MEDIUM_MAX_VALUE - (uint32_t)count)
        next = 1;
    rc = signal_protocol_key_helper_generate_pre_keys(&head, next, (unsigned)count, o->gctx);
    if (rc)
        return xu_omemo_fail_sg(err, rc, "generating prekeys");
    for (n = head; n; n = signal_protocol_key_helper_key_list_next(n)) {
        rc = signal_protocol_pre_key_store_key(o->sc, signal_protocol_key_helper_key_list_element(n));
        if (rc)
            break;
    }
    signal_protocol_key_helper_key_list_free(head);
    if (rc)
        return xu_omemo_fail_store(err, "save the prekeys");
    if (xu_omemo_store_put_u32(o->st, "next_prekey_id", next + (uint32_t)count) < 0)
        return xu_omemo_fail_store(err, "save the prekey counter");
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
        rc = xu_omemo_fail_sg(err, rc, "generating the identity key");
        goto out;
    }
    if (id == 0)
        id = 1;
    if (xu_omemo_store_put(o->st, "identity_public", signal_buffer_data(pub), signal_buffer_len(pub)) ||
        xu_omemo_store_put(o->st, "identity_private", signal_buffer_data(priv), signal_buffer_len(priv)) ||
        xu_omemo_store_put_u32(o->st, "device_id", id)) {
        rc = xu_omemo_fail_store(err, "save the identity key");
        goto out;
    }
    rc = signal_protocol_key_helper_generate_signed_pre_key(&spk, pair, 1, (uint64_t)time(NULL) * 1000,
                                                            o->gctx);
    if (rc) {
        rc = xu_omemo_fail_sg(err, rc, "generating the signed prekey");
        goto out;
    }
    if (signal_protocol_signed_pre_key_store_key(o->sc, spk) ||
        xu_omemo_store_put_u32(o->st, "signed_prekey_id", 1)) {
        rc = xu_omemo_fail_store(err, "save the signed prekey");
        goto out;
    }
    rc = xu_omemo_make_prekeys(o, PREKEYS, err);
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
            rc = xu_omemo_fail_store(err, "read the device id");
        else if (have == 0) {
            rc = make_identity(o, err);
            if (rc == 0 && xu_omemo_store_get_u32(o->st, "device_id", &o->device_id) != 1)
                rc = xu_omemo_fail_store(err, "read the device id");
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

char *xu_omemo_bare(const char *jid)
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

/* ---- trust management ---- */

int xu_omemo_devices(struct xu_omemo *o, const char *jid, struct xu_omemo_device *out, int max)
{
    uint32_t devs[MAX_DEVICES];
    uint8_t key[64];
    size_t klen;
    char *who = xu_omemo_bare(jid ? jid : o->own);
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
    int n, i, match = -1, by_id = xu_omemo_parse_u32(device, &id) == 0 && strlen(device) < 11, rc;
    char *who = xu_omemo_bare(jid);

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
            rc = xu_omemo_fail_store(err, "save the trust decision");
        } else {
            rc = xu_omemo_store_commit(o->st, err);
        }
    }
    free(who);
    return rc;
}

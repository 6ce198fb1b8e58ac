/* OMEMO 0.3 (XEP-0384 version 0.3, namespace eu.siacs.conversations.axolotl:
 * what Conversations, Monocles, Cheogram, Dino, Gajim and Profanity speak),
 * on libomemo-c: our own device (identity, prekeys, device list and bundle
 * published over PEP with an open access model), the devices of the
 * recipients (fetched, sessions built from their bundles), blind trust
 * before verification, and messages encrypted and decrypted.
 *
 * The payload is AES-128-GCM with a 12-byte IV; the 16-byte key and the
 * 16-byte GCM tag, concatenated, are what the Signal session of each device
 * encrypts (as 0.3 clients do). OMEMO 2 (urn:xmpp:omemo:2) is not built:
 * see SECURITY.md. The engine's parts, one job each, are listed in
 * omemo/omemo_int.h. */
#ifndef XU_OMEMO_H
#define XU_OMEMO_H

#include <stdint.h>
#include <strophe.h>

#include "base/error.h"
#include "xmpp/session.h"

#define XU_NS_OMEMO "eu.siacs.conversations.axolotl"

struct xu_omemo;

/* Open the store of own_bare_jid, creating the identity, device id and
 * prekeys on first use. Nothing goes over the network. */
int xu_omemo_open(struct xu_omemo **o, const char *own_bare_jid, struct xu_error *err);
void xu_omemo_free(struct xu_omemo *o);

/* The same for the account with this JID (a resource is ignored; a JID
 * without a node is refused: XU_EX_USAGE). */
int xu_omemo_open_account(struct xu_omemo **o, const char *account_jid, struct xu_error *err);

uint32_t xu_omemo_device_id(const struct xu_omemo *o);

/* The fingerprint of our identity key (64 hex digits, as clients show it
 * in groups of 8) into buf (at least 80 bytes). */
int xu_omemo_own_fingerprint(struct xu_omemo *o, char *buf, size_t len);

/* On a ready session: top up the prekeys, publish our bundle and make sure
 * our device is in our published device list. */
int xu_omemo_publish(struct xu_omemo *o, struct xu_session *s, struct xu_error *err);

/* Before sending to these bare JIDs: fetch their device lists (and our
 * own), build the sessions that are missing. Fails with XU_EX_UNAVAILABLE,
 * naming the recipient, when a recipient has no device we may encrypt for. */
int xu_omemo_prepare(struct xu_omemo *o, struct xu_session *s, char *const *jids, int n,
                     struct xu_error *err);

/* Replace the <body/> of msg (to one of the prepared JIDs) by its OMEMO
 * encryption for every usable device of the recipient and our own other
 * devices, with the EME hint (XEP-0380), a store hint and a fallback body
 * that says the message is encrypted. Fails (nothing is changed, and msg
 * must not be sent) when the recipient has no usable device. */
int xu_omemo_encrypt(struct xu_omemo *o, struct xu_session *s, xmpp_stanza_t *msg,
                     struct xu_error *err);

/* Trust management (xmpp-omemo). */
struct xu_omemo_device {
    uint32_t id;
    const char *trust;    /* xu_omemo_trust_name; NULL: never seen (no bundle) */
    int session;          /* we hold a session with it */
    int own;              /* this device */
    char fingerprint[80]; /* "" when unknown */
};

/* Fetch jid's (NULL: our own) device list and bundles, as before sending:
 * the devices become known (new ones get their BTBV trust). */
int xu_omemo_fetch_devices(struct xu_omemo *o, struct xu_session *s, const char *jid,
                           struct xu_error *err);

/* The devices of jid (NULL: ours) as the store knows them; count or -1. */
int xu_omemo_devices(struct xu_omemo *o, const char *jid, struct xu_omemo_device *out, int max);

/* Mark jid's device, given by id or fingerprint (spaces and case ignored),
 * verified (trust = 1) or distrusted (0). XU_EX_DATAERR when no known device
 * of jid matches. */
int xu_omemo_trust(struct xu_omemo *o, const char *jid, const char *device, int trust,
                   struct xu_error *err);

/* What an incoming message was, OMEMO-wise. */
struct xu_omemo_in {
    int encrypted;       /* it carried an OMEMO 0.3 <encrypted/> element */
    int ok;              /* decrypted: text holds the plaintext */
    int key_only;        /* a key transport (empty) message: nothing to show */
    uint32_t device;     /* the sending device */
    const char *trust;   /* its trust state (xu_omemo_trust_name), or NULL */
    char *text;          /* plaintext (caller frees), NUL-terminated */
    char error[256];     /* why it could not be decrypted */
};

/* Look at msg: if it is OMEMO-encrypted, decrypt it for our device. Never
 * fails the session: what cannot be decrypted says why in in->error. */
void xu_omemo_decrypt(struct xu_omemo *o, struct xu_session *s, xmpp_stanza_t *msg,
                      struct xu_omemo_in *in);

/* After decrypting prekey messages: replace the used prekeys and publish
 * the bundle again (without waiting for the answer). */
void xu_omemo_refresh(struct xu_omemo *o, struct xu_session *s);

#endif

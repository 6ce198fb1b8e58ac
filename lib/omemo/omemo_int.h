/* Inside the OMEMO engine (omemo.h): what its parts give each other (not
 * for other callers).
 *   omemo.c     our device (identity, prekeys, fingerprint) and trust
 *   pep.c       stanzas and PEP: one request, publish, fetch, device lists
 *   bundle.c    bundles: ours published, theirs turned into sessions
 *   envelope.c  the <encrypted/> element of one message, built and opened
 *   store.c, signal_store.c  the SQLite key store, and libomemo-c's view of it
 *   crypto.c    OpenSSL as libomemo-c's crypto provider; the payload cipher */
#ifndef XU_OMEMO_INT_H
#define XU_OMEMO_INT_H

#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#include <signal_protocol.h>

#include "base/error.h"
#include "omemo/omemo.h"
#include "omemo/store.h"
#include "xmpp/session.h"

#define NODE_DEVICES XU_NS_OMEMO ".devicelist"
#define NODE_BUNDLES XU_NS_OMEMO ".bundles:"
#define PREKEYS 100      /* published one-time prekeys */
#define MAX_DEVICES 64   /* per account: more is not a real account */

struct xu_omemo {
    signal_context *gctx;
    signal_protocol_store_context *sc;
    struct xu_omemo_store *st;
    char *own;
    uint32_t device_id;
    int used_prekeys; /* prekey messages decrypted since the last refresh */
    char why_none[200]; /* why the last recipient prepared has no device */
};

/* omemo.c */
int xu_omemo_fail_sg(struct xu_error *err, int rc, const char *what);  /* a libomemo-c failure */
int xu_omemo_fail_store(struct xu_error *err, const char *what);       /* a store failure */
/* Generate and store count more prekeys (inside a transaction). */
int xu_omemo_make_prekeys(struct xu_omemo *o, int count, struct xu_error *err);
/* The bare JID, lowercase (caller frees), or NULL. */
char *xu_omemo_bare(const char *jid);

/* pep.c: building stanzas (a root element; base64 in and out; a device id) */
xmpp_stanza_t *xu_omemo_el(xmpp_ctx_t *ctx, const char *name, const char *ns);
void xu_omemo_add_b64(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const uint8_t *d, size_t len);
uint8_t *xu_omemo_get_b64(xmpp_ctx_t *ctx, xmpp_stanza_t *e, size_t *len);
int xu_omemo_parse_u32(const char *s, uint32_t *v);
/* pep.c: PEP */
int xu_omemo_pep_publish(struct xu_session *s, const char *node, xmpp_stanza_t *item_payload,
                         int wait, struct xu_error *err);
int xu_omemo_pep_fetch(struct xu_session *s, const char *jid, const char *node,
                       xmpp_stanza_t **payload, char *none, size_t nonelen, struct xu_error *err);
int xu_omemo_parse_devices(xmpp_stanza_t *list, uint32_t *devs, int max);
xmpp_stanza_t *xu_omemo_device_list(xmpp_ctx_t *ctx, const uint32_t *devs, int n);

/* bundle.c */
/* The devices of jid we encrypt for (session, trusted); count or -1. */
int xu_omemo_usable(struct xu_omemo *o, const char *jid, uint32_t *devs, int max);
int xu_omemo_no_device(const char *jid, const char *why, struct xu_error *err);

#endif

/* The OMEMO key store: one SQLite database per account under
 * $XDG_DATA_HOME/xmpputils/omemo/BAREJID/ (directory 0700, files 0600)
 * holding the identity key pair, the device id, the prekeys, the signed
 * prekey, the sessions and what we know and decided about the devices of
 * our contacts (identity key, trust). Two runs of the same account may use
 * it at once: every change happens inside an immediate transaction (the
 * callers group a whole encryption or decryption into one), and a run that
 * finds the database locked waits for it (busy timeout). */
#ifndef XU_OMEMO_STORE_H
#define XU_OMEMO_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <signal_protocol.h>

#include "base/error.h"

/* Trust in a contact's device (blind trust before verification). */
enum xu_omemo_trust {
    XU_TRUST_BLIND = 0,      /* new, unverified, used: the contact has no verified device */
    XU_TRUST_VERIFIED = 1,   /* the user said so */
    XU_TRUST_DISTRUSTED = 2, /* the user said so: never encrypted for, messages flagged */
    XU_TRUST_UNDECIDED = 3,  /* new after a verification: not used until the user decides */
};

const char *xu_omemo_trust_name(int trust);

struct xu_omemo_store;

/* The directory of bare_jid's store (caller frees), or NULL. */
char *xu_omemo_store_dir(const char *bare_jid, struct xu_error *err);

/* Open (creating the directory and the database if needed) the store of
 * bare_jid. XU_EX_NOPERM when the directory or file can be read by others,
 * XU_EX_CANTCREAT-like XU_EX_IOERR when it cannot be created. */
int xu_omemo_store_open(struct xu_omemo_store **st, const char *bare_jid, struct xu_error *err);
void xu_omemo_store_close(struct xu_omemo_store *st);

/* Immediate transactions (one at a time). */
int xu_omemo_store_begin(struct xu_omemo_store *st, struct xu_error *err);
int xu_omemo_store_commit(struct xu_omemo_store *st, struct xu_error *err);
void xu_omemo_store_rollback(struct xu_omemo_store *st);

/* Wire the store into a libomemo-c store context. */
int xu_omemo_store_attach(struct xu_omemo_store *st, signal_protocol_store_context *sc);

/* Small values (identity keys, device id, counters). *out is a copy
 * (caller frees with signal_buffer_bzero_free); 1 found, 0 not, -1 error. */
int xu_omemo_store_get(struct xu_omemo_store *st, const char *key, signal_buffer **out);
int xu_omemo_store_put(struct xu_omemo_store *st, const char *key, const uint8_t *v, size_t len);
int xu_omemo_store_get_u32(struct xu_omemo_store *st, const char *key, uint32_t *v);
int xu_omemo_store_put_u32(struct xu_omemo_store *st, const char *key, uint32_t v);

/* The ids of the prekeys we hold (ascending), at most max; the count or -1. */
int xu_omemo_store_prekey_ids(struct xu_omemo_store *st, uint32_t *ids, int max);

/* A contact's device as we know it: trust and identity key (33 bytes,
 * serialised). 1 found, 0 unknown, -1 error. */
int xu_omemo_store_device(struct xu_omemo_store *st, const char *jid, uint32_t dev, int *trust,
                          uint8_t *key, size_t *key_len);
int xu_omemo_store_set_trust(struct xu_omemo_store *st, const char *jid, uint32_t dev, int trust);

/* 1 when we hold a session with jid's device dev. */
int xu_omemo_store_has_session(struct xu_omemo_store *st, const char *jid, uint32_t dev);

/* The devices of jid in its last published device list (replacing what
 * was remembered), and reading them back: count or -1. */
int xu_omemo_store_set_devices(struct xu_omemo_store *st, const char *jid, const uint32_t *devs, int n);
int xu_omemo_store_devices(struct xu_omemo_store *st, const char *jid, uint32_t *devs, int max);

#endif

/* The xmpp-omemo engine: the account's OMEMO keys and the trust decisions
 * that xmpp-send --omemo and xmpp-listen --omemo follow. `fingerprint`
 * prints our device id and fingerprint; `devices [JID...]` fetches the
 * device lists (ours without a JID) from the server and prints each device
 * with its trust and fingerprint; `trust`/`distrust JID DEVICE` records a
 * decision, by device id or fingerprint. Only `devices` goes online. It owns
 * the key store (lib/omemo/omemo.c) and the session for one command; what it
 * prints goes to stdout, which the caller flushes. */
#ifndef XU_OMEMO_ADMIN_H
#define XU_OMEMO_ADMIN_H

#include "base/error.h"
#include "base/opts.h"

/* Run command cmd ("fingerprint", "devices", "trust" or "distrust"; the
 * caller has checked it and the number of its args) on o's account.
 * A JID may be written as an xmpp: URI. 0, or the error's code (err set). */
int xu_omemo_admin(const struct xu_opts *o, const char *cmd, char **args, int nargs,
                   struct xu_error *err);

#endif

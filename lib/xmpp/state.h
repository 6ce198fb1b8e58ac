/* The login's state between runs, in $XDG_STATE_HOME/xmpputils/ (else
 * ~/.local/state/xmpputils/), directory 0700, files 0600:
 *   mech-HASH   the strongest SASL mechanism that succeeded for an account
 *               on a server (downgrade protection)
 *   scram-HASH  the SCRAM salted password for an account, server and
 *               mechanism, with the salt and iteration count it is for
 * HASH is the SHA-256 of the key (JID, server, mechanism), so a file name
 * reveals nothing. Each file is replaced whole (write a temporary file in
 * the same directory, fsync, rename): two runs at once never leave a torn
 * file, the last one wins. */
#ifndef XU_STATE_H
#define XU_STATE_H

#include <stddef.h>

/* The remembered mechanism for (jid, server) into out ("" when none).
 * Returns 0, or -1 when the state cannot be read (warned once). */
int xu_state_get_mech(const char *jid, const char *server, char *out, size_t outlen);
/* Remember mech for (jid, server). */
int xu_state_put_mech(const char *jid, const char *server, const char *mech);

/* The cached salted password (hex) for (jid, server, mech) when it is for
 * this salt and iteration count: into out (wipe it after use). Returns 1 on
 * a hit, 0 otherwise. */
int xu_state_get_salted(const char *jid, const char *server, const char *mech, const char *salt,
                        const char *iter, char *out, size_t outlen);
int xu_state_put_salted(const char *jid, const char *server, const char *mech, const char *salt,
                        const char *iter, const char *salted_hex);
/* Drop the entry (a failed login). */
void xu_state_drop_salted(const char *jid, const char *server, const char *mech);

/* The state directory (for messages), or NULL when no home is known. */
const char *xu_state_dir(void);

#endif

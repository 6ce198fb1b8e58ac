/* Secrets (passwords, component secrets): where they come from and how
 * they are wiped. */
#ifndef XU_SECRET_H
#define XU_SECRET_H

#include <stddef.h>

#include "base/error.h"
#include "base/opts.h"

/* Wipe and free a NUL-terminated string (NULL is fine). */
void xu_secret_free(char *s);

/* The account's password, from the configured source, else XMPP_PASSWORD,
 * else a prompt on /dev/tty (never stdin: stdin carries data).
 * *out is allocated; release it with xu_secret_free. */
int xu_password_get(const struct xu_opts *o, const char *jid, char **out,
                    struct xu_error *err);

/* Fetch the password now and keep it in o (as if configured), so that a
 * tool that reconnects asks once, not at every reconnect (a prompt or a
 * password command in the middle of the night). No-op for components,
 * anonymous JIDs and passwords already in memory. */
int xu_password_keep(struct xu_opts *o, struct xu_error *err);

/* First line of a file (password files, component secret files). */
int xu_secret_read_file(const char *path, const char *what, char **out,
                        struct xu_error *err);

#endif

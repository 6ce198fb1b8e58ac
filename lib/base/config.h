/* The config file, in the style of msmtp:
 *
 *   # comment
 *   defaults
 *   tls_trust_file /etc/ssl/certs/ca-certificates.crt
 *   account work
 *   jid alice@example.org
 *   passwordeval pass show xmpp
 *   account alerts : work
 *   resource alerts
 *   account default : work
 *
 * Keys are the long option names with '_' for '-'; a value runs to the end
 * of the line (optionally in double quotes). */
#ifndef XU_CONFIG_H
#define XU_CONFIG_H

#include <stddef.h>

#include "base/error.h"

/* Called for each key of the chosen account, defaults first, then the
 * account's ancestors, then the account itself (later values override). */
typedef int (*xu_config_apply_fn)(void *ud, const char *key, const char *value,
                                  const char *file, int line,
                                  struct xu_error *err);

/* The default path ($XDG_CONFIG_HOME/xmpputils/config or
 * ~/.config/xmpputils/config) into buf; 0 on success. */
int xu_config_default_path(char *buf, size_t len);

/* Load `account` (NULL: the account named "default" if any, else only the
 * defaults section) from path. A missing file is an error only when
 * required (given with -C, or an account was asked for).
 * A file holding a password must be private to its owner. */
int xu_config_load(const char *path, int required, const char *account,
                   xu_config_apply_fn apply, void *ud, struct xu_error *err);

/* xmpp-probe's exporter modules: for each `probe NAME` section of path,
 * fn(ud, NAME, NULL, NULL, ...) at the section, then fn(ud, NAME, key,
 * value, ...) for each of its keys; `probe NAME : ACCOUNT` gives the key
 * "account" first. Account loading skips these sections. */
typedef int (*xu_config_module_fn)(void *ud, const char *module, const char *key,
                                   const char *value, const char *file, int line,
                                   struct xu_error *err);
int xu_config_probe_modules(const char *path, xu_config_module_fn fn, void *ud,
                            struct xu_error *err);

#endif

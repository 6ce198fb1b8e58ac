/* Diagnostics on stderr, always prefixed with the program name. */
#ifndef XU_MSG_H
#define XU_MSG_H

#include <stddef.h>

#include "base/error.h"

extern const char *xu_progname;
extern int xu_verbosity; /* -1 quiet, 0 normal, 1+ verbose */

void xu_msg_init(const char *argv0);

/* A warning: shown unless --quiet. A warning whose format starts with
 * XU_SECURITY_WARNING ("WARNING: ", the session is not protected: --tls off,
 * --tls-insecure) is shown whatever --quiet says. */
#define XU_SECURITY_WARNING "WARNING: "
void xu_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Shown only with --verbose. */
void xu_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the error (always, even when quiet) and return its code. */
int xu_report(const struct xu_error *err);

/* Copy text that came from the network into dst so it cannot drive a
 * terminal: control characters (C0, DEL and C1) become '?', the rest is
 * kept as is. */
void xu_sanitize_terminal(char *dst, size_t dstlen, const char *src);

#endif

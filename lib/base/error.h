/* Errors carried up as values: a sysexits(3) code plus one message,
 * reported once by the tool's main. */
#ifndef XU_ERROR_H
#define XU_ERROR_H

#include <sysexits.h>

/* sysexits.h has no protocol code; 76 is EX_PROTOCOL there on BSD and glibc. */
#define XU_EX_OK 0
#define XU_EX_FAIL 1 /* a well-defined negative answer (e.g. an iq error reply) */
#define XU_EX_USAGE EX_USAGE             /* 64 */
#define XU_EX_DATAERR EX_DATAERR         /* 65 */
#define XU_EX_NOHOST EX_NOHOST           /* 68 */
#define XU_EX_UNAVAILABLE EX_UNAVAILABLE /* 69 */
#define XU_EX_SOFTWARE EX_SOFTWARE       /* 70 */
#define XU_EX_OSERR EX_OSERR             /* 71 */
#define XU_EX_IOERR EX_IOERR             /* 74 */
#define XU_EX_TEMPFAIL EX_TEMPFAIL       /* 75 */
#define XU_EX_PROTOCOL EX_PROTOCOL       /* 76 */
#define XU_EX_NOPERM EX_NOPERM           /* 77 */
#define XU_EX_CONFIG EX_CONFIG           /* 78 */

struct xu_error {
    int code;       /* 0 = no error */
    char msg[1024]; /* without program name or trailing newline */
};

/* Record an error and return its code, so callers can write
 * `return xu_error_set(err, XU_EX_CONFIG, "…", …);`.
 * The first error set wins: later calls keep the original cause. */
int xu_error_set(struct xu_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like xu_error_set, but replaces an earlier error. */
int xu_error_replace(struct xu_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void xu_error_clear(struct xu_error *err);

/* Put context around an error's message ("standard input, line 3: " before
 * it, "; nothing more was sent" after it); the code stays and is returned. */
int xu_error_wrap(struct xu_error *err, const char *before, const char *after);

/* The short name of an exit code ("temporary failure", …) for --help and man pages. */
const char *xu_exit_name(int code);

#endif

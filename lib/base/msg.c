#include "base/msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *xu_progname = "xmpputils";
int xu_verbosity;

void xu_msg_init(const char *argv0)
{
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;

    if (argv0)
        xu_progname = slash ? slash + 1 : argv0;
}

static void vmsg(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", xu_progname);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void xu_warn(const char *fmt, ...)
{
    va_list ap;

    /* "WARNING: ..." says the session is not protected (--tls off,
     * --tls-insecure): README and SECURITY.md promise it on every run,
     * so --quiet does not hide it. */
    if (xu_verbosity < 0 && strncmp(fmt, XU_SECURITY_WARNING, sizeof XU_SECURITY_WARNING - 1) != 0)
        return;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
}

void xu_info(const char *fmt, ...)
{
    va_list ap;

    if (xu_verbosity < 1)
        return;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
}

int xu_report(const struct xu_error *err)
{
    if (err->code != 0)
        fprintf(stderr, "%s: %s\n", xu_progname,
                err->msg[0] ? err->msg : xu_exit_name(err->code));
    return err->code;
}

void xu_sanitize_terminal(char *dst, size_t dstlen, const char *src)
{
    size_t i = 0;

    if (dstlen == 0)
        return;
    for (; src && *src && i + 1 < dstlen; src++) {
        unsigned char c = (unsigned char)*src;
        /* C1 controls in UTF-8 (U+0080..U+009F, e.g. U+009B = CSI) too */
        if (c == 0xc2 && (unsigned char)src[1] >= 0x80 && (unsigned char)src[1] <= 0x9f) {
            dst[i++] = '?';
            src++;
            continue;
        }
        dst[i++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
    }
    dst[i] = '\0';
}

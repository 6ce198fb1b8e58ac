#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int set_v(struct xu_error *err, int code, const char *fmt, va_list ap)
{
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

int xu_error_set(struct xu_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err->code != 0)
        return err->code;
    va_start(ap, fmt);
    set_v(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int xu_error_replace(struct xu_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    set_v(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void xu_error_clear(struct xu_error *err)
{
    err->code = 0;
    err->msg[0] = '\0';
}

int xu_error_wrap(struct xu_error *err, const char *before, const char *after)
{
    char m[sizeof err->msg];

    snprintf(m, sizeof m, "%s", err->msg);
    return xu_error_replace(err, err->code, "%s%s%s", before, m, after);
}

const char *xu_exit_name(int code)
{
    switch (code) {
    case XU_EX_OK: return "success";
    case XU_EX_FAIL: return "negative answer";
    case XU_EX_USAGE: return "usage error";
    case XU_EX_DATAERR: return "bad input data";
    case XU_EX_NOHOST: return "host not found";
    case XU_EX_UNAVAILABLE: return "service unavailable";
    case XU_EX_SOFTWARE: return "internal error";
    case XU_EX_OSERR: return "system error";
    case XU_EX_IOERR: return "input/output error";
    case XU_EX_TEMPFAIL: return "temporary failure";
    case XU_EX_PROTOCOL: return "protocol error";
    case XU_EX_NOPERM: return "permission denied";
    case XU_EX_CONFIG: return "configuration error";
    default: return "error";
    }
}

/* A stand-in tool for the option and config harnesses: a few options of
 * each kind, an apply callback that keeps the last value. */
#ifndef XU_FUZZ_TOOL_H
#define XU_FUZZ_TOOL_H

#include <string.h>

#include "base/opts.h"

struct fuzz_tool_state {
    char *text;
    int flag;
};

static const struct xu_option fuzz_tool_options[] = {
    {"message", 'm', XU_OPT_ARG | XU_OPT_NOCONFIG, 1000, "TEXT", "text", XU_CALL},
    {"subject", 's', XU_OPT_ARG, 1001, "TEXT", "text", XU_CALL},
    {"no-create", 0, 0, 1002, NULL, "flag", XU_CALL},
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};

static int fuzz_tool_apply(void *state, int id, const char *arg, int from_config,
                           struct xu_error *err)
{
    struct fuzz_tool_state *st = state;

    (void)from_config;
    if (id == 1002) {
        st->flag = 1;
        return 0;
    }
    if (!arg)
        return xu_error_set(err, XU_EX_SOFTWARE, "option %d without its argument", id);
    free(st->text);
    st->text = strdup(arg);
    return st->text ? 0 : xu_error_set(err, XU_EX_OSERR, "out of memory");
}

/* What must hold after any xu_opts_parse. */
static void fuzz_check_opts(int rc, const struct xu_opts *o, const struct xu_error *err)
{
    size_t i;

    FUZZ_CHECK(rc == 0 || rc == err->code, "rc %d but err %d", rc, err->code);
    FUZZ_CHECK(rc == 0 || err->msg[0], "error %d without a message", rc);
    FUZZ_CHECK(rc == 0 || rc == XU_EX_USAGE || rc == XU_EX_CONFIG || rc == XU_EX_OSERR,
               "unexpected code %d: %s", rc, err->msg);
    if (rc)
        return;
    FUZZ_CHECK(o->port <= 65535, "port %u", o->port);
    /* 0: no deadline once connected */
    FUZZ_CHECK(o->timeout == 0 || (o->timeout >= 0.1 && o->timeout <= 86400.0 * 365), "timeout %g",
               o->timeout);
    if (o->tls_fingerprint) {
        FUZZ_CHECK(strlen(o->tls_fingerprint) == 64, "fingerprint %s", o->tls_fingerprint);
        for (i = 0; i < 64; i++)
            FUZZ_CHECK(strchr("0123456789abcdef", o->tls_fingerprint[i]), "fingerprint %s",
                       o->tls_fingerprint);
        FUZZ_CHECK(!o->tls_insecure && o->tls != XU_TLS_OFF, "a pin with checks off");
    }
    FUZZ_CHECK(o->pw_source == XU_PW_NONE || o->pw_value, "password source without value");
}

#endif

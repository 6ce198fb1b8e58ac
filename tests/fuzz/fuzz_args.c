/* Command-line parsing and the checks of what users type: xu_opts_parse on
 * an argv made of the input's NUL-separated pieces, and on each piece the
 * JID checks (lib/base/jid.c), the room parser (lib/xmpp/muc.c) and the number,
 * duration and boolean parsers (lib/base/opts.c), with their properties. */
#include <math.h>
#include <stdlib.h>

#include "fuzz.h"
#include "fuzz_tool.h"
#include "base/jid.h"
#include "base/msg.h"
#include "xmpp/muc.h"

#define MAX_ARGS 32

/* Would getopt see --help, --version, -C or -a? Those exit or read files:
 * not for the fuzzer. Conservative: any short bundle holding one of them. */
static int unsafe(const char *a)
{
    static const char *const longs[] = {"help", "version", "config", "account", NULL};
    size_t n;
    int i;

    if (a[0] != '-' || a[1] == '\0')
        return 0;
    if (a[1] != '-')
        return strpbrk(a + 1, "hVCa") != NULL;
    n = strcspn(a + 2, "=");
    for (i = 0; longs[i]; i++)
        if (n > 0 && strncmp(longs[i], a + 2, n) == 0)
            return 1;
    return 0;
}

static void check_piece(const char *s)
{
    char why[128], domain[1100], *room = NULL, back[32];
    unsigned long u = 0;
    double d = 0;
    int b;

    if (xu_jid_check(s, 0, why, sizeof why) == 0) {
        FUZZ_CHECK(xu_jid_domain(s, domain, sizeof domain) != NULL, "no domain in valid %s", s);
        FUZZ_CHECK(domain[0] != '\0', "empty domain in valid JID %s", s);
        FUZZ_CHECK(xu_jid_check(domain, 0, why, sizeof why) == 0, "domain %s of %s: %s",
                   domain, s, why);
        FUZZ_CHECK(xu_jid_bare_equal(s, s), "%s is not equal to itself", s);
    } else {
        FUZZ_CHECK(why[0] != '\0', "rejected %s without a reason", s);
    }
    if (xu_jid_check(s, 1, why, sizeof why) == 0)
        FUZZ_CHECK(strchr(s, '@') != NULL, "node required but %s has none", s);
    /* preparation: a valid JID, without control characters, idempotent */
    {
        char *p1 = NULL, *p2 = NULL;
        const char *q;

        if (xu_jid_prep(s, 0, &p1, why, sizeof why) == 0) {
            FUZZ_CHECK(xu_jid_check(p1, 0, why, sizeof why) == 0, "prepared %s of %s: %s", p1, s,
                       why);
            for (q = p1; *q; q++)
                FUZZ_CHECK((unsigned char)*q >= 0x20 && *q != 0x7f, "control char in %s", p1);
            FUZZ_CHECK(xu_jid_prep(p1, 0, &p2, why, sizeof why) == 0 && strcmp(p1, p2) == 0,
                       "preparing %s again gave %s (%s)", p1, p2 ? p2 : "an error", why);
        } else {
            FUZZ_CHECK(p1 == NULL && why[0], "prep of %s failed without a reason", s);
        }
        free(p1);
        free(p2);
    }
    if (xu_muc_parse_room(s, &room) == 0) {
        FUZZ_CHECK(room && strchr(room, '@') && !strchr(room, '/'), "room %s from %s",
                   room ? room : "(null)", s);
        FUZZ_CHECK(xu_jid_check(room, 1, why, sizeof why) == 0, "room %s: %s", room, why);
        free(room);
    } else {
        FUZZ_CHECK(room == NULL, "failed parse left a room");
    }
    if (xu_parse_uint(s, 1, 65535, &u) == 0) {
        FUZZ_CHECK(u >= 1 && u <= 65535, "%lu out of range", u);
        snprintf(back, sizeof back, "%lu", u);
        FUZZ_CHECK(strlen(s) >= strlen(back) &&
                       strcmp(s + strlen(s) - strlen(back), back) == 0 &&
                       strspn(s, "0") == strlen(s) - strlen(back),
                   "'%s' parsed as %lu", s, u);
    }
    if (xu_parse_duration(s, 0.1, 86400.0 * 365, &d) == 0) {
        FUZZ_CHECK(isfinite(d) && d >= 0.1 && d <= 86400.0 * 365, "'%s' gave %g", s, d);
        /* decimal only (no hex, exponent, inf or nan), then a unit */
        const char *unit = s + strspn(s, "0123456789.");

        FUZZ_CHECK(unit > s && (!*unit || !strcmp(unit, "s") || !strcmp(unit, "ms") ||
                                !strcmp(unit, "m") || !strcmp(unit, "min") || !strcmp(unit, "h")),
                   "'%s' accepted as %g", s, d);
    }
    b = xu_parse_bool(s);
    FUZZ_CHECK(b >= -1 && b <= 1, "bool %d", b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_tool_state st = {NULL, 0};
    struct xu_tool tool = {"xmpp-fuzz", "[options] ARG...", "fuzz", fuzz_tool_options,
                           fuzz_tool_apply, &st, NULL, NULL};
    struct fuzz_in in = {data, size};
    struct xu_error err = {0, ""};
    struct xu_opts o;
    char *argv[MAX_ARGS + 2], *copy[MAX_ARGS + 1];
    int argc = 1, first = 0, i, rc, skip = 0;

    if (size > 4096)
        return 0;
    /* no config file: the defaults only */
    setenv("XDG_CONFIG_HOME", "/nonexistent/xmpputils-fuzz", 1);
    setenv("HOME", "/nonexistent/xmpputils-fuzz", 1);
    argv[0] = "xmpp-fuzz";
    while (in.left && argc <= MAX_ARGS) {
        argv[argc] = fuzz_str(&in, 1024);
        check_piece(argv[argc]);
        if (unsafe(argv[argc]))
            skip = 1;
        argc++;
    }
    argv[argc] = NULL;
    /* getopt permutes argv: keep the pointers to free them */
    for (i = 1; i < argc; i++)
        copy[i] = argv[i];
    if (!skip) {
        xu_verbosity = 0;
        rc = xu_opts_parse(&o, &tool, argc, argv, &first, &err);
        fuzz_check_opts(rc, &o, &err);
        FUZZ_CHECK(rc || (first >= 1 && first <= argc), "first operand %d of %d", first, argc);
        xu_opts_free(&o);
    }
    for (i = 1; i < argc; i++)
        free(copy[i]);
    free(st.text);
    return 0;
}

/* xmpp-probe's option values that need more than a typed store: each is
 * parsed and checked into struct probe_opts by probe_apply_option, the
 * apply function of the tool's option table (cmd/xmpp-probe.c), for the
 * command line, the config file and the exporter's modules alike. The
 * messages are the tool's own (tests and the man page quote them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/msg.h"
#include "probe/probe.h"

static const char *const stage_names[] = {
    "dns", "tcp", "tls", "stream", "features", "starttls", "stream_tls", "features_tls",
    "handshake", "configuration", "login_connect", "sasl", "bind", "ping", "disco", "version",
    "close", NULL,
};

/* in the order of enum probe_format */
static const char *const format_names[] = {"text", "json", "xml", NULL};

static int pick(const char *arg, const char *const *names)
{
    int i;

    for (i = 0; names[i]; i++)
        if (strcmp(arg, names[i]) == 0)
            return i;
    return -1;
}

/* "[STAGE:]MS" */
static int parse_ms(struct probe_checks *c, const char *arg, int crit, int code,
                    struct xu_error *err)
{
    const char *colon = strchr(arg, ':'), *num = colon ? colon + 1 : arg;
    char buf[64], stage[32];
    double v;
    int i;

    snprintf(buf, sizeof buf, "%s%s", num, num[0] && strchr("0123456789.", num[strlen(num) - 1]) ? "ms" : "");
    if (xu_parse_duration(buf, 0.000001, 3600, &v) < 0)
        return xu_error_set(err, code, "--%s-ms: '%s' is not a time in milliseconds (e.g. 500, tls:200)",
                            crit ? "crit" : "warn", arg);
    v *= 1000;
    if (!colon) {
        if (crit)
            c->crit_ms = v;
        else
            c->warn_ms = v;
        return 0;
    }
    snprintf(stage, sizeof stage, "%.*s", (int)(colon - arg), arg);
    if (pick(stage, stage_names) < 0)
        return xu_error_set(err, code, "--%s-ms: unknown stage '%s' (see xmpp-probe(1))",
                            crit ? "crit" : "warn", stage);
    for (i = 0; i < c->nstage && strcmp(c->stage_name[i], stage) != 0; i++)
        ;
    if (i == c->nstage) {
        if (i == 16)
            return xu_error_set(err, code, "too many per-stage thresholds");
        c->stage_name[i] = strdup(stage);
        c->stage_warn[i] = c->stage_crit[i] = 0;
        c->nstage++;
    }
    if (crit)
        c->stage_crit[i] = v;
    else
        c->stage_warn[i] = v;
    return c->stage_name[i] ? 0 : xu_error_set(err, XU_EX_OSERR, "out of memory");
}

static int add(char **list, int *n, const char *v, struct xu_error *err)
{
    if (*n == 16)
        return xu_error_set(err, XU_EX_USAGE, "at most 16 of each --expect/--forbid option");
    list[*n] = strdup(v);
    if (!list[*n])
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    (*n)++;
    return 0;
}

int probe_apply_option(void *state, int id, const char *arg, int from_config,
                       struct xu_error *err)
{
    struct probe_opts *po = state;
    struct probe_checks *c = &po->checks;
    int code = from_config ? XU_EX_CONFIG : XU_EX_USAGE, i;
    unsigned long n;

    switch (id) {
    case PROBE_O_FORMAT:
        if ((i = pick(arg, format_names)) >= 0)
            po->format = (enum probe_format)i;
        else if (from_config)
            xu_info("ignoring format '%s' from the config file (another tool's?)", arg);
        else
            return xu_error_set(err, code, "--format must be text, json or xml, not '%s'", arg);
        return 0;
    case PROBE_O_MODE:
        if ((i = pick(arg, probe_mode_names)) < 0)
            return xu_error_set(err, code, "--mode must be c2s, s2s, component or cm, not '%s'", arg);
        po->mode = (enum probe_mode)i;
        return 0;
    case PROBE_O_IPV4:
    case PROBE_O_IPV6:
        /* both at once is a contradiction; the command line overrides
         * the config file */
        i = id == PROBE_O_IPV4 ? AF_INET : AF_INET6;
        if (po->family_set[!from_config] && po->family_set[!from_config] != i)
            return xu_error_set(err, code, "%s exclude each other",
                                from_config ? "ipv4 and ipv6" : "-4 (--ipv4) and -6 (--ipv6)");
        po->family = po->family_set[!from_config] = i;
        return 0;
    case PROBE_O_WARN_DAYS:
    case PROBE_O_CRIT_DAYS:
        if (xu_parse_uint(arg, 0, 3650, &n) < 0)
            return xu_error_set(err, code, "--%s must be a number of days from 0 to 3650, not '%s'",
                                id == PROBE_O_WARN_DAYS ? "warn-days" : "crit-days", arg);
        *(id == PROBE_O_WARN_DAYS ? &c->warn_days : &c->crit_days) = n;
        return 0;
    case PROBE_O_WARN_MS: return parse_ms(c, arg, 0, code, err);
    case PROBE_O_CRIT_MS: return parse_ms(c, arg, 1, code, err);
    case PROBE_O_EXPECT_MECH: return add(c->expect_mech, &c->nexpect_mech, arg, err);
    case PROBE_O_FORBID_MECH: return add(c->forbid_mech, &c->nforbid_mech, arg, err);
    case PROBE_O_EXPECT_FEATURE: return add(c->expect_feature, &c->nexpect_feature, arg, err);
    case PROBE_O_PARALLEL:
        if (xu_parse_uint(arg, 1, 1000, &n) < 0)
            return xu_error_set(err, code, "--parallel must be a number from 1 to 1000, not '%s'", arg);
        po->parallel = n;
        return 0;
    case PROBE_O_ALLOW_TARGET:
        if (po->nallow == 16)
            return xu_error_set(err, code, "at most 16 --allow-target patterns");
        po->allow[po->nallow++] = arg;
        return 0;
    case PROBE_O_NAGIOS:
    case PROBE_O_PROMETHEUS:
    case PROBE_O_NO_LOGIN:
    case PROBE_O_ALL_TARGETS:
    case PROBE_O_TARGETS:
    case PROBE_O_OUTPUT:
    case PROBE_O_SERVE:
        return 0; /* stored by the table (XU_TO) */
    }
    return xu_error_set(err, XU_EX_SOFTWARE, "unhandled option %d", id);
}

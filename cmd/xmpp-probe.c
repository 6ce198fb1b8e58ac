/* xmpp-probe: what an XMPP server offers and how fast, stage by stage, for
 * humans (text), programs (JSON, XML) and monitoring (Nagios, Prometheus).
 * A failed check is never exit 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "base/jid.h"
#include "base/msg.h"
#include "base/opts.h"
#include "probe/cli.h"
#include "probe/tls.h"
#include "base/secret.h"
#include "xmpp/session.h"
#include "base/stdfds.h"
#include "base/trace.h"

enum {
    O_FORMAT = 1000, O_NAGIOS, O_PROMETHEUS, O_MODE, O_IPV4, O_IPV6, O_WARN_DAYS, O_CRIT_DAYS,
    O_WARN_MS, O_CRIT_MS, O_EXPECT_MECH, O_FORBID_MECH, O_EXPECT_FEATURE, O_NO_LOGIN,
    O_TARGETS, O_PARALLEL, O_ALL_TARGETS, O_OUTPUT, O_SERVE, O_ALLOW_TARGET,
};


static const struct xu_option probe_options[] = {
    {"mode", 0, XU_OPT_ARG, O_MODE, "MODE", "c2s (default), s2s, component (XEP-0114) or cm (connection manager)", XU_CALL},
    {"format", 0, XU_OPT_ARG, O_FORMAT, "FMT", "text (default), json or xml", XU_CALL},
    {"nagios", 0, 0, O_NAGIOS, NULL, "Nagios plugin output and exit status (0 ok, 1 warning, 2 critical, 3 unknown)", XU_CALL},
    {"prometheus", 0, 0, O_PROMETHEUS, NULL, "Prometheus text exposition format", XU_CALL},
    {"ipv4", '4', 0, O_IPV4, NULL, "connect over IPv4 only", XU_CALL},
    {"ipv6", '6', 0, O_IPV6, NULL, "connect over IPv6 only", XU_CALL},
    {"warn-days", 0, XU_OPT_ARG, O_WARN_DAYS, "N", "warning when the certificate expires within N days (default 14; 0 off)", XU_CALL},
    {"crit-days", 0, XU_OPT_ARG, O_CRIT_DAYS, "N", "critical when the certificate expires within N days (default 3; 0 off)", XU_CALL},
    {"warn-ms", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_WARN_MS, "[STAGE:]MS", "warning when the probe (or STAGE) takes longer than MS milliseconds", XU_CALL},
    {"crit-ms", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_CRIT_MS, "[STAGE:]MS", "critical when the probe (or STAGE) takes longer than MS milliseconds", XU_CALL},
    {"expect-mechanism", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_EXPECT_MECH, "MECH", "critical unless SASL mechanism MECH is offered after TLS", XU_CALL},
    {"forbid-mechanism", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_FORBID_MECH, "MECH", "critical if SASL mechanism MECH is offered (e.g. PLAIN)", XU_CALL},
    {"expect-feature", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_EXPECT_FEATURE, "NS", "critical unless a stream or disco feature NS is offered", XU_CALL},
    {"no-login", 0, XU_OPT_NOCONFIG, O_NO_LOGIN, NULL, "do not log in, even if an account is configured", XU_CALL},
    {"targets", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, O_TARGETS, "FILE", "also probe the targets in FILE, one a line ('-' = stdin)", XU_CALL},
    {"parallel", 0, XU_OPT_ARG, O_PARALLEL, "N", "probe at most N targets at a time (default 16)", XU_CALL},
    {"all-targets", 0, XU_OPT_NOCONFIG, O_ALL_TARGETS, NULL, "probe every SRV target of the domain on every address", XU_CALL},
    {"output", 'o', XU_OPT_ARG | XU_OPT_NOCONFIG, O_OUTPUT, "FILE", "write the report to FILE atomically, also when the probe fails", XU_CALL},
    {"serve", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, O_SERVE, "[ADDR:]PORT", "run as a Prometheus exporter on ADDR:PORT (default address 127.0.0.1)", XU_CALL},
    {"allow-target", 0, XU_OPT_ARG | XU_OPT_REPEAT | XU_OPT_NOCONFIG, O_ALLOW_TARGET, "PATTERN", "exporter: probe only targets matching PATTERN (shell glob)", XU_CALL},
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};

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

static int apply(void *state, int id, const char *arg, int from_config, struct xu_error *err)
{
    struct probe_opts *po = state;
    struct probe_checks *c = &po->checks;
    int code = from_config ? XU_EX_CONFIG : XU_EX_USAGE, i;
    unsigned long n;

    switch (id) {
    case O_FORMAT:
        if ((i = pick(arg, format_names)) >= 0)
            po->format = (enum probe_format)i;
        else if (from_config)
            xu_info("ignoring format '%s' from the config file (another tool's?)", arg);
        else
            return xu_error_set(err, code, "--format must be text, json or xml, not '%s'", arg);
        return 0;
    case O_NAGIOS: po->nagios = 1; return 0;
    case O_PROMETHEUS: po->prometheus = 1; return 0;
    case O_MODE:
        if ((i = pick(arg, probe_mode_names)) < 0)
            return xu_error_set(err, code, "--mode must be c2s, s2s, component or cm, not '%s'", arg);
        po->mode = (enum probe_mode)i;
        return 0;
    case O_IPV4:
    case O_IPV6:
        /* both at once is a contradiction; the command line overrides
         * the config file */
        i = id == O_IPV4 ? AF_INET : AF_INET6;
        if (po->family_set[!from_config] && po->family_set[!from_config] != i)
            return xu_error_set(err, code, "%s exclude each other",
                                from_config ? "ipv4 and ipv6" : "-4 (--ipv4) and -6 (--ipv6)");
        po->family = po->family_set[!from_config] = i;
        return 0;
    case O_WARN_DAYS:
    case O_CRIT_DAYS:
        if (xu_parse_uint(arg, 0, 3650, &n) < 0)
            return xu_error_set(err, code, "--%s must be a number of days from 0 to 3650, not '%s'",
                                id == O_WARN_DAYS ? "warn-days" : "crit-days", arg);
        *(id == O_WARN_DAYS ? &c->warn_days : &c->crit_days) = n;
        return 0;
    case O_WARN_MS: return parse_ms(c, arg, 0, code, err);
    case O_CRIT_MS: return parse_ms(c, arg, 1, code, err);
    case O_EXPECT_MECH: return add(c->expect_mech, &c->nexpect_mech, arg, err);
    case O_FORBID_MECH: return add(c->forbid_mech, &c->nforbid_mech, arg, err);
    case O_EXPECT_FEATURE: return add(c->expect_feature, &c->nexpect_feature, arg, err);
    case O_NO_LOGIN: po->no_login = 1; return 0;
    case O_TARGETS: po->targets_file = arg; return 0;
    case O_PARALLEL:
        if (xu_parse_uint(arg, 1, 1000, &n) < 0)
            return xu_error_set(err, code, "--parallel must be a number from 1 to 1000, not '%s'", arg);
        po->parallel = n;
        return 0;
    case O_ALL_TARGETS: po->all_targets = 1; return 0;
    case O_OUTPUT: po->output = arg; return 0;
    case O_SERVE: po->serve = arg; return 0;
    case O_ALLOW_TARGET:
        if (po->nallow == 16)
            return xu_error_set(err, code, "at most 16 --allow-target patterns");
        po->allow[po->nallow++] = arg;
        return 0;
    }
    return xu_error_set(err, XU_EX_SOFTWARE, "unhandled option %d", id);
}

int main(int argc, char **argv)
{
    struct probe_opts po;
    struct xu_tool tool = {
        "xmpp-probe", "[options] [TARGET...]",
        "Probe an XMPP server stage by stage (DNS, TCP, stream, features, TLS and its\n"
        "certificate; with an account: SASL, bind, ping, disco#info, version), timing each,\n"
        "and report as text, JSON, XML, a Nagios plugin or Prometheus metrics.\n"
        "A TARGET is a DOMAIN or xmpp://HOST:PORT/DOMAIN (xmpps:// for direct TLS); several\n"
        "are probed at once. DOMAIN defaults to the account's domain; in component and cm\n"
        "mode the operand is the HOST to connect to. --serve runs a Prometheus exporter.",
        probe_options, apply, &po,
        "  With --nagios: 0 ok, 1 warning, 2 critical, 3 unknown.\n"
        "  A threshold or expectation that fails exits 1 (a negative answer).\n"
        "  With several targets: the status of the worst one.\n",
        .given = NULL,
    };
    struct xu_error err = {0, ""};
    struct probe_run_ctx x;
    struct probe_report *reports = NULL;
    struct probe_spec *specs = NULL;
    struct xu_opts o;
    char *secret = NULL, *password = NULL, jd[1024];
    size_t n = 0, i;
    int first = 0, rc, out, nagios = 0, component;

    if (xu_stdfds_init() != 0)
        return XU_EX_OSERR; /* no /dev/null: nowhere safe to write */
    for (i = 1; i < (size_t)argc && strcmp(argv[i], "--") != 0; i++)
        nagios |= strcmp(argv[i], "--nagios") == 0;
    signal(SIGPIPE, SIG_IGN);
    probe_opts_init(&po);
    memset(&x, 0, sizeof x);
    rc = xu_opts_parse(&o, &tool, argc, argv, &first, &err);
    component = po.mode == PROBE_COMPONENT || po.mode == PROBE_CM;
    if (rc == 0 && po.serve) {
        if ((rc = probe_serve_main(&tool, &po, argc, argv, first, &o, &err)) != 0)
            xu_report(&err);
        goto done;
    }
    if (rc == 0 && po.nagios && po.prometheus)
        rc = xu_error_set(&err, XU_EX_USAGE, "--nagios and --prometheus exclude each other");
    if (rc == 0 && po.nallow)
        rc = xu_error_set(&err, XU_EX_USAGE, "--allow-target is for the exporter (--serve)");
    if (rc == 0 && component && (argc - first > 1 || po.targets_file || po.all_targets))
        rc = xu_error_set(&err, XU_EX_USAGE, "--mode %s probes one HOST at a time",
                          probe_mode_name(po.mode));
    if (rc == 0 && !component)
        rc = probe_gather_targets(&po, &o, argc, argv, first, &specs, &n, &err);
    x.several = n > 1 || po.all_targets || po.targets_file;
    if (rc == 0 && x.several && po.format == PROBE_FMT_XML && !po.prometheus && !po.nagios)
        rc = xu_error_set(&err, XU_EX_USAGE, "--format xml takes one target (json or text for several)");
    if (rc == 0 && n == 0 && x.several)
        rc = xu_error_set(&err, XU_EX_UNAVAILABLE, "no target to probe");
    if (rc == 0 && !x.several) {
        /* one target: what plan refuses is a usage error, before anything is read */
        struct probe_cfg check;
        char d[1024], skipped[1400];

        memset(&check, 0, sizeof check);
        rc = probe_plan(&check, &po, &o,
                        n ? specs[0].domain : component && first < argc ? argv[first] : NULL, 0, d,
                        sizeof d, skipped, sizeof skipped, &err);
    }
    if (rc == 0 && component)
        rc = xu_secret_read_file(o.secret_file, "secret", &secret, &err);
    /* the password once, before any timing, if a target is the account's */
    if (rc == 0 && po.mode == PROBE_C2S && !po.no_login && o.jid && strchr(o.jid, '@') &&
        xu_jid_domain(o.jid, jd, sizeof jd)) {
        int need = n == 0;

        for (i = 0; i < n; i++)
            need |= strcasecmp(specs[i].domain, jd) == 0;
        if (need)
            rc = xu_password_get(&o, o.jid, &password, &err);
    }
    if (rc == 0 && o.trace)
        rc = xu_trace_open(&x.trace, o.trace, &err);
    if (rc == 0 && po.mode != PROBE_COMPONENT)
        rc = probe_tls_ctx(&x.tls, o.tls_trust_file, &err);
    if (rc == 0 && !(reports = calloc(n ? n : 1, sizeof *reports)))
        rc = xu_error_set(&err, XU_EX_OSERR, "out of memory");
    if (rc) {
        if (nagios || po.nagios) {
            printf("XMPP UNKNOWN - %s\n", err.msg);
            rc = 3;
        } else {
            xu_report(&err);
        }
        goto done;
    }
    x.po = &po;
    x.o = &o;
    x.secret = secret;
    x.password = password;
    x.specs = specs;
    x.n = n;
    x.timeout = o.timeout > 0 ? o.timeout : XU_CONNECT_TIMEOUT;
    if (x.several) {
        probe_fleet_run(&x, reports);
    } else {
        /* one target: probed in this process */
        probe_one(&x, n ? &specs[0] : NULL, component && first < argc ? argv[first] : NULL,
                  &reports[0]);
        n = 1;
    }
    out = po.output ? probe_write_output(reports, n, x.several, &po, &err)
                    : probe_write_reports(reports, n, x.several, &po, stdout);
    rc = x.several ? probe_worst_exit(reports, n, &po) : probe_exit_code(&reports[0], &po);
    if (!x.several && reports[0].fatal.code && !po.nagios)
        xu_report(&reports[0].fatal);
    if (out) {
        if (!po.output)
            xu_error_set(&err, out, "cannot write the report to standard output");
        xu_report(&err);
        rc = out;
    }
    for (i = 0; i < n; i++)
        probe_report_free(&reports[i]);
done:
    free(reports);
    free(specs);
    if (x.tls)
        SSL_CTX_free(x.tls);
    xu_trace_close(x.trace);
    xu_secret_free(secret);
    xu_secret_free(password);
    probe_opts_free(&po);
    xu_opts_free(&o);
    return rc;
}

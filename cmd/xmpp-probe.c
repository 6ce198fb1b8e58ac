/* xmpp-probe: what an XMPP server offers and how fast, stage by stage, for
 * humans (text), programs (JSON, XML) and monitoring (Nagios, Prometheus).
 * A failed check is never exit 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "jid.h"
#include "msg.h"
#include "opts.h"
#include "probe_run.h"
#include "probe_tls.h"
#include "secret.h"
#include "session.h"
#include "stdfds.h"
#include "trace.h"

enum {
    O_FORMAT = 1000, O_NAGIOS, O_PROMETHEUS, O_MODE, O_IPV4, O_IPV6, O_WARN_DAYS, O_CRIT_DAYS,
    O_WARN_MS, O_CRIT_MS, O_EXPECT_MECH, O_FORBID_MECH, O_EXPECT_FEATURE, O_NO_LOGIN,
};

enum format { F_TEXT, F_JSON, F_XML };

struct probe_opts {
    enum format format;
    int nagios, prometheus, no_login, family;
    int family_set[2]; /* by the config file, by the command line */
    enum probe_mode mode;
    struct probe_checks checks;
};

static const struct xu_option probe_options[] = {
    {"mode", 0, XU_OPT_ARG, O_MODE, "MODE", "c2s (default), s2s, component (XEP-0114) or cm (connection manager)"},
    {"format", 0, XU_OPT_ARG, O_FORMAT, "FMT", "text (default), json or xml"},
    {"nagios", 0, 0, O_NAGIOS, NULL, "Nagios plugin output and exit status (0 ok, 1 warning, 2 critical, 3 unknown)"},
    {"prometheus", 0, 0, O_PROMETHEUS, NULL, "Prometheus text exposition format"},
    {"ipv4", '4', 0, O_IPV4, NULL, "connect over IPv4 only"},
    {"ipv6", '6', 0, O_IPV6, NULL, "connect over IPv6 only"},
    {"warn-days", 0, XU_OPT_ARG, O_WARN_DAYS, "N", "warning when the certificate expires within N days (default 14; 0 off)"},
    {"crit-days", 0, XU_OPT_ARG, O_CRIT_DAYS, "N", "critical when the certificate expires within N days (default 3; 0 off)"},
    {"warn-ms", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_WARN_MS, "[STAGE:]MS", "warning when the probe (or STAGE) takes longer than MS milliseconds"},
    {"crit-ms", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_CRIT_MS, "[STAGE:]MS", "critical when the probe (or STAGE) takes longer than MS milliseconds"},
    {"expect-mechanism", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_EXPECT_MECH, "MECH", "critical unless SASL mechanism MECH is offered after TLS"},
    {"forbid-mechanism", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_FORBID_MECH, "MECH", "critical if SASL mechanism MECH is offered (e.g. PLAIN)"},
    {"expect-feature", 0, XU_OPT_ARG | XU_OPT_REPEAT, O_EXPECT_FEATURE, "NS", "critical unless a stream or disco feature NS is offered"},
    {"no-login", 0, XU_OPT_NOCONFIG, O_NO_LOGIN, NULL, "do not log in, even if an account is configured"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const char *const stage_names[] = {
    "dns", "tcp", "tls", "stream", "features", "starttls", "stream_tls", "features_tls",
    "handshake", "configuration", "login_connect", "sasl", "bind", "ping", "disco", "version",
    "close", NULL,
};


/* in the order of enum format and enum probe_mode */
static const char *const format_names[] = {"text", "json", "xml", NULL};
static const char *const mode_names[] = {"c2s", "s2s", "component", "cm", NULL};

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
            po->format = (enum format)i;
        else if (from_config)
            xu_info("ignoring format '%s' from the config file (another tool's?)", arg);
        else
            return xu_error_set(err, code, "--format must be text, json or xml, not '%s'", arg);
        return 0;
    case O_NAGIOS: po->nagios = 1; return 0;
    case O_PROMETHEUS: po->prometheus = 1; return 0;
    case O_MODE:
        if ((i = pick(arg, mode_names)) < 0)
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
    }
    return xu_error_set(err, XU_EX_SOFTWARE, "unhandled option %d", id);
}

static void free_checks(struct probe_checks *c)
{
    int i;

    for (i = 0; i < c->nstage; i++)
        free(c->stage_name[i]);
    for (i = 0; i < c->nexpect_mech; i++)
        free(c->expect_mech[i]);
    for (i = 0; i < c->nforbid_mech; i++)
        free(c->forbid_mech[i]);
    for (i = 0; i < c->nexpect_feature; i++)
        free(c->expect_feature[i]);
}

static const char *mode_name(enum probe_mode m)
{
    return mode_names[m];
}

/* What to probe: the domain (or component/cm name), where, and whether to
 * log in. */
static int plan(struct probe_cfg *cfg, const struct probe_opts *po, const struct xu_opts *o,
                int argc, char **argv, int first, char *domain, size_t dlen, struct xu_error *err)
{
    const char *operand = first < argc ? argv[first] : NULL;
    char why[128], jid_domain[1024];

    if (argc - first > 1)
        return xu_error_set(err, XU_EX_USAGE, "one domain at a time (got %d operands)", argc - first);
    cfg->mode = po->mode;
    if (po->mode == PROBE_COMPONENT || po->mode == PROBE_CM) {
        if (!o->component)
            return xu_error_set(err, XU_EX_USAGE, "--mode %s needs --component NAME (%s)",
                                mode_name(po->mode),
                                po->mode == PROBE_CM ? "the connection manager's name"
                                                     : "the component's domain");
        if (!o->secret_file)
            return xu_error_set(err, XU_EX_USAGE, "--mode %s needs --secret-file FILE",
                                mode_name(po->mode));
        snprintf(domain, dlen, "%s", o->component);
        cfg->host = operand ? operand : o->host ? o->host : o->component;
        /* a connection manager's TLS certificate names the server */
        cfg->tls_name = cfg->host;
    } else if (operand) {
        snprintf(domain, dlen, "%s", operand);
    } else if (po->mode == PROBE_C2S && o->jid && xu_jid_domain(o->jid, jid_domain, sizeof jid_domain)) {
        snprintf(domain, dlen, "%s", jid_domain);
    } else {
        return xu_error_set(err, XU_EX_USAGE, "no domain given (see --help)");
    }
    if (xu_jid_check(domain, 0, why, sizeof why) < 0 || strpbrk(domain, "@/'\"<>&"))
        return xu_error_set(err, XU_EX_USAGE, "'%s' is not a domain name%s%s", domain,
                            why[0] && !strpbrk(domain, "@/'\"<>&") ? ": " : "",
                            strpbrk(domain, "@/'\"<>&") ? "" : why);
    cfg->domain = domain;
    if (po->mode != PROBE_C2S || po->no_login || !o->jid || !strchr(o->jid, '@'))
        return 0;
    xu_jid_domain(o->jid, jid_domain, sizeof jid_domain);
    if (strcasecmp(jid_domain, domain) == 0) {
        cfg->login = 1;
    } else if (o->account) {
        return xu_error_set(err, XU_EX_USAGE, "account %s (%s) is not on %s", o->account, o->jid,
                            domain);
    } else {
        xu_info("not logging in: %s is not an account on %s", o->jid, domain);
    }
    return 0;
}

static int write_report(const struct probe_report *r, const struct probe_opts *po)
{
    struct probe_thresholds t = {po->checks.warn_days, po->checks.crit_days, po->checks.warn_ms,
                                 po->checks.crit_ms};

    if (po->nagios)
        return probe_write_nagios(r, &t, stdout);
    if (po->prometheus)
        return probe_write_prometheus(r, stdout);
    switch (po->format) {
    case F_JSON: return probe_write_json(r, stdout);
    case F_XML: return probe_write_xml(r, stdout);
    default: return probe_write_text(r, stdout);
    }
}

static int run(struct probe_cfg *cfg, const struct probe_opts *po, struct probe_report *r)
{
    struct probe_target targets[PROBE_MAX_TARGETS];
    int n, used = -1, rc;

    n = probe_find_targets(cfg, r, targets, PROBE_MAX_TARGETS);
    rc = n ? probe_connect_and_inspect(cfg, r, targets, n, &used) : r->fatal.code;
    if (cfg->login && rc == 0 && used >= 0)
        rc = probe_login(cfg, r, &targets[used]);
    else if (cfg->login)
        probe_finding(r, PROBE_OK, "no-login", "not logging in: an earlier stage failed");
    probe_apply_checks(r, &po->checks);
    probe_report_finish(r);
    return rc;
}

static int exit_code(const struct probe_report *r, const struct probe_opts *po)
{
    if (po->nagios)
        return (int)r->status;
    if (r->fatal.code)
        return r->fatal.code;
    if (r->status == PROBE_CRITICAL)
        return XU_EX_FAIL;
    if (r->status == PROBE_UNKNOWN)
        return XU_EX_SOFTWARE;
    return 0;
}

int main(int argc, char **argv)
{
    struct probe_opts po;
    struct xu_tool tool = {
        "xmpp-probe", "[options] [DOMAIN | HOST]",
        "Probe an XMPP server stage by stage (DNS, TCP, stream, features, TLS and its\n"
        "certificate; with an account: SASL, bind, ping, disco#info, version), timing each,\n"
        "and report as text, JSON, XML, a Nagios plugin or Prometheus metrics.\n"
        "DOMAIN defaults to the account's domain; in component and cm mode the operand is\n"
        "the HOST to connect to.",
        probe_options, apply, &po,
        "  With --nagios: 0 ok, 1 warning, 2 critical, 3 unknown.\n"
        "  A threshold or expectation that fails exits 1 (a negative answer).\n",
    };
    struct xu_error err = {0, ""};
    struct probe_cfg cfg;
    struct probe_report r;
    struct xu_opts o;
    char domain[1024], *secret = NULL, *password = NULL;
    int first = 0, rc, out, i, nagios = 0;

    if (xu_stdfds_init() != 0)
        return XU_EX_OSERR; /* no /dev/null: nowhere safe to write */
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        nagios |= strcmp(argv[i], "--nagios") == 0;
    signal(SIGPIPE, SIG_IGN);
    memset(&po, 0, sizeof po);
    memset(&cfg, 0, sizeof cfg);
    memset(&r, 0, sizeof r);
    po.checks.warn_days = 14;
    po.checks.crit_days = 3;
    rc = xu_opts_parse(&o, &tool, argc, argv, &first, &err);
    if (rc == 0)
        rc = plan(&cfg, &po, &o, argc, argv, first, domain, sizeof domain, &err);
    if (rc == 0 && po.nagios && po.prometheus)
        rc = xu_error_set(&err, XU_EX_USAGE, "--nagios and --prometheus exclude each other");
    if (rc == 0 && (po.mode == PROBE_COMPONENT || po.mode == PROBE_CM))
        rc = xu_secret_read_file(o.secret_file, "secret", &secret, &err);
    if (rc == 0 && cfg.login)
        rc = xu_password_get(&o, o.jid, &password, &err);
    if (rc == 0 && o.trace)
        rc = xu_trace_open(&cfg.trace, o.trace, &err);
    if (rc == 0 && po.mode != PROBE_COMPONENT)
        rc = probe_tls_ctx(&cfg.tls, o.tls_trust_file, &err);
    if (rc) {
        if (nagios || po.nagios) {
            printf("XMPP UNKNOWN - %s\n", err.msg);
            rc = 3;
        } else {
            xu_report(&err);
        }
    } else {
        cfg.opts = &o;
        cfg.family = po.family;
        cfg.secret = secret;
        cfg.password = password;
        probe_report_init(&r, domain, mode_name(po.mode));
        /* a probe always has a deadline: --timeout 0 means the default */
        cfg.deadline = r.t0 + (o.timeout > 0 ? o.timeout : XU_CONNECT_TIMEOUT);
        run(&cfg, &po, &r);
        out = write_report(&r, &po);
        rc = exit_code(&r, &po);
        if (r.fatal.code && !po.nagios)
            xu_report(&r.fatal);
        if (out) {
            err.code = 0;
            xu_error_set(&err, out, "cannot write the report to standard output");
            xu_report(&err);
            rc = out;
        }
        probe_report_free(&r);
    }
    if (cfg.tls)
        SSL_CTX_free(cfg.tls);
    xu_trace_close(cfg.trace);
    xu_secret_free(secret);
    xu_secret_free(password);
    free_checks(&po.checks);
    xu_opts_free(&o);
    return rc;
}

/* xmpp-probe: what an XMPP server offers and how fast, stage by stage, for
 * humans (text), programs (JSON, XML) and monitoring (Nagios, Prometheus).
 * A failed check is never exit 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "config.h"
#include "jid.h"
#include "msg.h"
#include "opts.h"
#include "probe_fleet.h"
#include "probe_pool.h"
#include "probe_run.h"
#include "probe_serve.h"
#include "probe_tls.h"
#include "secret.h"
#include "session.h"
#include "trace.h"

enum {
    O_FORMAT = 1000, O_NAGIOS, O_PROMETHEUS, O_MODE, O_IPV4, O_IPV6, O_WARN_DAYS, O_CRIT_DAYS,
    O_WARN_MS, O_CRIT_MS, O_EXPECT_MECH, O_FORBID_MECH, O_EXPECT_FEATURE, O_NO_LOGIN,
    O_TARGETS, O_PARALLEL, O_ALL_TARGETS, O_OUTPUT, O_SERVE, O_ALLOW_TARGET,
};

enum format { F_TEXT, F_JSON, F_XML };

struct probe_opts {
    enum format format;
    int nagios, prometheus, no_login, family;
    enum probe_mode mode;
    struct probe_checks checks;
    /* several targets, the exporter */
    const char *targets_file, *output, *serve;
    unsigned long parallel;
    int all_targets;
    const char *allow[16];
    int nallow;
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
    {"targets", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, O_TARGETS, "FILE", "also probe the targets in FILE, one a line ('-' = stdin)"},
    {"parallel", 0, XU_OPT_ARG, O_PARALLEL, "N", "probe at most N targets at a time (default 16)"},
    {"all-targets", 0, XU_OPT_NOCONFIG, O_ALL_TARGETS, NULL, "probe every SRV target of the domain on every address"},
    {"output", 'o', XU_OPT_ARG | XU_OPT_NOCONFIG, O_OUTPUT, "FILE", "write the report to FILE atomically, also when the probe fails"},
    {"serve", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, O_SERVE, "[ADDR:]PORT", "run as a Prometheus exporter on ADDR:PORT (default address 127.0.0.1)"},
    {"allow-target", 0, XU_OPT_ARG | XU_OPT_REPEAT | XU_OPT_NOCONFIG, O_ALLOW_TARGET, "PATTERN", "exporter: probe only targets matching PATTERN (shell glob)"},
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
    case O_IPV4: po->family = AF_INET; return 0;
    case O_IPV6: po->family = AF_INET6; return 0;
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
 * log in. operand: the target's domain (component, cm: the host), or NULL.
 * *skipped gets a reason when an account was configured for another
 * domain (the report says so: a login that silently did not happen would
 * read as OK). */
static int plan(struct probe_cfg *cfg, const struct probe_opts *po, const struct xu_opts *o,
                const char *operand, int several, char *domain, size_t dlen, char *skipped,
                size_t slen, struct xu_error *err)
{
    char why[128], jid_domain[1024];

    skipped[0] = '\0';
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
    } else if (o->account && !several) {
        return xu_error_set(err, XU_EX_USAGE, "account %s (%s) is not on %s", o->account, o->jid,
                            domain);
    } else {
        snprintf(skipped, slen, "not logging in: %s is not an account on %s (--no-login if "
                 "that is meant)", o->jid, domain);
    }
    return 0;
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

/* Everything a probe of one target needs, shared by every target. */
struct run_ctx {
    struct probe_opts *po;
    struct xu_opts *o;
    SSL_CTX *tls;
    struct xu_trace *trace;
    const char *secret, *password;
    struct probe_spec *specs;
    size_t n;
    int several;
    double timeout;
};

/* Probe one target into r (initialised here). */
static void probe_one(struct run_ctx *x, const struct probe_spec *sp, const char *operand,
                      struct probe_report *r)
{
    struct xu_opts *o = x->o;
    struct probe_cfg cfg;
    struct xu_error err = {0, ""};
    char domain[1024], skipped[1400];
    int rc;

    memset(&cfg, 0, sizeof cfg);
    if (sp && sp->host[0]) {
        /* xmpp://HOST:PORT/DOMAIN: this host and port, no SRV lookup */
        free(o->host);
        o->host = strdup(sp->host);
        o->port = sp->port;
        if (sp->direct_tls)
            o->tls = XU_TLS_DIRECT;
    }
    rc = plan(&cfg, x->po, o, sp ? sp->domain : operand, x->several, domain, sizeof domain,
              skipped, sizeof skipped, &err);
    probe_report_init(r, rc ? (sp ? sp->domain : operand ? operand : "") : domain,
                      mode_name(x->po->mode));
    if (sp)
        json_object_set_new(r->root, "target", probe_jstr(sp->text));
    if (sp && sp->srv_host[0]) {
        json_t *srv = probe_obj(r, "srv");

        json_object_set_new(srv, "service", json_string(sp->service));
        json_object_set_new(srv, "host", probe_jstr(sp->srv_host));
        json_object_set_new(srv, "port", json_integer(sp->port));
        json_object_set_new(srv, "priority", json_integer(sp->priority));
        json_object_set_new(srv, "weight", json_integer(sp->weight));
        json_object_set_new(srv, "family", json_string(sp->family == AF_INET6 ? "ipv6"
                                                       : sp->family == AF_INET ? "ipv4" : "none"));
    }
    if (rc) {
        probe_fail(r, "configuration", -1, &err);
        probe_report_finish(r);
        return;
    }
    if (skipped[0]) {
        xu_info("%s", skipped);
        probe_finding(r, PROBE_WARNING, "login-skipped", "%s", skipped);
    }
    if (!x->password)
        cfg.login = 0;
    cfg.opts = o;
    cfg.family = sp && sp->family ? sp->family : x->po->family;
    cfg.secret = x->secret;
    cfg.password = x->password;
    cfg.tls = x->tls;
    cfg.trace = x->trace;
    /* a probe always has a deadline: --timeout 0 means the default */
    cfg.deadline = r->t0 + x->timeout;
    run(&cfg, x->po, r);
    if (sp && sp->srv_host[0] && !sp->family)
        probe_finding(r, PROBE_CRITICAL, "target", "%s (%s:%u) has no address", sp->text,
                      sp->srv_host, sp->port);
}

/* ---- several targets: one worker process each (lib/probe_pool.h) ---- */

struct child_arg {
    struct run_ctx *x;
    size_t i;
};

static json_t *child_probe(void *ud)
{
    struct child_arg *a = ud;
    struct probe_report r;
    json_t *doc;

    probe_one(a->x, &a->x->specs[a->i], NULL, &r);
    doc = probe_report_json(&r);
    probe_report_free(&r);
    return doc;
}

static int start_job(struct probe_job *j, size_t i, void *ud)
{
    struct child_arg a = {ud, i};
    struct xu_error err = {0, ""};

    /* the child's own deadline, and a margin for it to write its report */
    return probe_job_start(j, xu_now() + a.x->timeout + 2, child_probe, &a, &err);
}

/* The exit status of several reports: the worst target's. */
static int worst_exit(struct probe_report *r, size_t n, const struct probe_opts *po)
{
    size_t i, w = 0;

    for (i = 1; i < n; i++)
        if (r[i].status > r[w].status || (exit_code(&r[w], po) == 0 && exit_code(&r[i], po)))
            w = i;
    return n ? exit_code(&r[w], po) : 0;
}

static int write_reports(struct probe_report *r, size_t n, int several,
                         const struct probe_opts *po, FILE *fp)
{
    struct probe_thresholds t = {po->checks.warn_days, po->checks.crit_days, po->checks.warn_ms,
                                 po->checks.crit_ms};
    struct probe_prom_opts pro = {0, several};
    const struct probe_report **rp = calloc(n ? n : 1, sizeof *rp);
    size_t i;
    int rc;

    if (!rp)
        return XU_EX_OSERR;
    for (i = 0; i < n; i++)
        rp[i] = &r[i];
    if (po->prometheus)
        rc = probe_write_prometheus_many(rp, n, &pro, fp);
    else if (!several && po->nagios)
        rc = probe_write_nagios(&r[0], &t, fp);
    else if (!several && po->format == F_JSON)
        rc = probe_write_json(&r[0], fp);
    else if (!several && po->format == F_XML)
        rc = probe_write_xml(&r[0], fp);
    else if (!several)
        rc = probe_write_text(&r[0], fp);
    else if (po->nagios)
        rc = probe_write_fleet_nagios(rp, n, fp);
    else if (po->format == F_JSON)
        rc = probe_write_fleet_json(rp, n, fp);
    else
        rc = probe_write_fleet_text(rp, n, fp);
    free(rp);
    return rc;
}

/* --output FILE: the report goes to a temporary file beside FILE, renamed
 * over FILE once complete, so that a reader (node_exporter's textfile
 * collector) sees the old report or the new one, never a part; written on
 * failure too, so that an outage is recorded. */
static int write_output(struct probe_report *r, size_t n, int several, const struct probe_opts *po,
                        struct xu_error *err)
{
    size_t len = strlen(po->output);
    char *tmp = malloc(len + 16);
    FILE *fp;
    int fd, rc;
    mode_t mask;

    if (!tmp)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    snprintf(tmp, len + 16, "%s.XXXXXX", po->output);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = xu_error_set(err, XU_EX_IOERR, "cannot create a file beside %s: %s", po->output,
                          strerror(errno));
        free(tmp);
        return rc;
    }
    /* a report holds no secret: readable as an ordinary file would be */
    mask = umask(0);
    umask(mask);
    fchmod(fd, 0644 & ~mask);
    fp = fdopen(fd, "w");
    rc = fp ? write_reports(r, n, several, po, fp) : XU_EX_IOERR;
    if (fp && rc == 0 && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
        rc = XU_EX_IOERR;
    if (fp ? fclose(fp) != 0 : close(fd) != 0)
        rc = rc ? rc : XU_EX_IOERR;
    if (rc == 0 && rename(tmp, po->output) != 0)
        rc = XU_EX_IOERR;
    if (rc) {
        unlink(tmp);
        xu_error_set(err, rc, "cannot write the report to %s: %s", po->output, strerror(errno));
    }
    free(tmp);
    return rc;
}

/* The targets of this run: operands, --targets, expanded by --all-targets. */
static int gather_targets(const struct probe_opts *po, const struct xu_opts *o, int argc,
                          char **argv, int first, struct probe_spec **specs, size_t *n,
                          struct xu_error *err)
{
    struct probe_spec sp, *given = NULL;
    size_t ngiven = 0, i;
    int rc = 0, a;
    double deadline = xu_now() + (o->timeout > 0 ? o->timeout : XU_CONNECT_TIMEOUT);

    for (a = first; rc == 0 && a < argc; a++) {
        rc = probe_spec_parse(argv[a], &sp, err);
        if (rc == 0) {
            struct probe_spec *p = realloc(given, (ngiven + 1) * sizeof *given);

            if (!p)
                rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
            else
                (given = p)[ngiven++] = sp;
        }
    }
    if (rc == 0 && po->targets_file)
        rc = probe_targets_file(po->targets_file, &given, &ngiven, err);
    if (rc == 0 && po->targets_file && ngiven == 0)
        rc = xu_error_set(err, XU_EX_DATAERR, "%s names no target", po->targets_file);
    if (rc || !po->all_targets) {
        *specs = given;
        *n = ngiven;
        return rc;
    }
    for (i = 0; rc == 0 && i < ngiven; i++) {
        if (given[i].host[0])
            rc = xu_error_set(err, XU_EX_USAGE, "--all-targets finds the targets of a domain: "
                              "'%s' names one already", given[i].text);
        else
            rc = probe_expand_all(given[i].domain, po->mode == PROBE_S2S, o->tls == XU_TLS_OFF,
                                  o->tls == XU_TLS_DIRECT, po->family, deadline, specs, n, err);
    }
    free(given);
    return rc;
}

/* ---- the exporter (--serve): modules are `probe NAME` config sections ---- */

struct module_priv {
    char **argv;           /* the module as command-line options (kept: opts point into it) */
    int argc;
    struct xu_opts o;
    struct probe_opts po;
    SSL_CTX *tls;
    int parsed;
};

struct serve_ctx {
    const struct xu_tool *tool;
    char **base;           /* the exporter's own options, minus --serve & co. */
    int nbase;
    const char *config;    /* -C, or the default path */
    int explicit_config;   /* -C given */
    /* modules being loaded */
    struct {
        char name[64];
        char **args;
        int nargs, line;
    } *pending;
    size_t npending;
};

static int add_arg(char ***args, int *n, const char *a)
{
    char **p = realloc(*args, (size_t)(*n + 2) * sizeof **args);

    if (!p)
        return -1;
    *args = p;
    p[*n] = strdup(a);
    if (!p[*n])
        return -1;
    p[++*n] = NULL;
    return 0;
}

/* A config key of a module as a command-line option. */
static int module_key(void *ud, const char *module, const char *key, const char *value,
                      const char *file, int line, struct xu_error *err)
{
    static const char *const not_here[] = {"serve", "allow_target", "targets", "output",
                                           "parallel", "nagios", "prometheus", "format",
                                           "all_targets", "trace", "config", NULL};
    struct serve_ctx *sc = ud;
    const struct xu_option *opt;
    char name[128], arg[1200];
    int flag = -1, i, b;

    if (!key) {
        void *p;

        if (strlen(module) >= sizeof sc->pending[0].name)
            return xu_error_set(err, XU_EX_CONFIG, "%s:%d: module name too long", file, line);
        for (size_t k = 0; k < sc->npending; k++)
            if (strcmp(sc->pending[k].name, module) == 0)
                return xu_error_set(err, XU_EX_CONFIG, "%s:%d: module '%s' defined twice (also line %d)",
                                    file, line, module, sc->pending[k].line);
        p = realloc(sc->pending, (sc->npending + 1) * sizeof *sc->pending);
        if (!p)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        sc->pending = p;
        memset(&sc->pending[sc->npending], 0, sizeof *sc->pending);
        snprintf(sc->pending[sc->npending].name, sizeof sc->pending[0].name, "%s", module);
        sc->pending[sc->npending].line = line;
        sc->npending++;
        return 0;
    }
    for (i = 0; not_here[i]; i++)
        if (strcmp(key, not_here[i]) == 0)
            return xu_error_set(err, XU_EX_CONFIG, "%s:%d: '%s' is not a key of a probe module",
                                file, line, key);
    snprintf(name, sizeof name, "%s", key);
    for (char *p = name; *p; p++)
        if (*p == '_')
            *p = '-';
    for (opt = probe_options; opt->name; opt++)
        if (strcmp(opt->name, name) == 0)
            flag = !(opt->flags & XU_OPT_ARG);
    if (strcmp(name, "tls-insecure") == 0)
        flag = 1;
    if (strcmp(name, "account") == 0)
        snprintf(arg, sizeof arg, "--account=%s", value);
    else if (flag == 1) {
        if ((b = xu_parse_bool(value)) < 0)
            return xu_error_set(err, XU_EX_CONFIG, "%s:%d: %s: expected on or off, not '%s'", file,
                                line, key, value);
        if (!b)
            return 0;
        snprintf(arg, sizeof arg, "--%s", name);
    } else
        snprintf(arg, sizeof arg, "--%s=%s", name, value);
    if (add_arg(&sc->pending[sc->npending - 1].args, &sc->pending[sc->npending - 1].nargs, arg) < 0)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    return 0;
}

static void serve_free_module(void *ud, struct probe_module *m)
{
    struct module_priv *mp = m->priv;
    int i;

    (void)ud;
    if (!mp)
        return;
    if (mp->parsed) {
        free_checks(&mp->po.checks);
        xu_opts_free(&mp->o);
    }
    if (mp->tls)
        SSL_CTX_free(mp->tls);
    for (i = 1; i < mp->argc; i++)
        free(mp->argv[i]);
    free(mp->argv);
    free(mp);
    m->priv = NULL;
}

/* Parse one module: the exporter's options, then the module's. */
static int module_parse(struct serve_ctx *sc, const char *name, char **args, int nargs,
                        int line, struct probe_module *m, struct xu_error *err)
{
    struct module_priv *mp = calloc(1, sizeof *mp);
    struct xu_tool tool = *sc->tool;
    char msg[sizeof err->msg];
    int i, first = 0, rc = 0;

    snprintf(m->name, sizeof m->name, "%s", name);
    m->priv = mp;
    if (!mp)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    mp->argv = calloc((size_t)(sc->nbase + nargs + 2), sizeof *mp->argv);
    if (!mp->argv)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    /* a literal: xu_opts_parse keeps argv[0] as the program's name */
    mp->argv[mp->argc++] = (char *)"xmpp-probe";
    for (i = 0; i < sc->nbase; i++)
        mp->argv[mp->argc++] = strdup(sc->base[i]);
    for (i = 0; i < nargs; i++)
        mp->argv[mp->argc++] = strdup(args[i]);
    for (i = 0; i < mp->argc; i++)
        if (!mp->argv[i])
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
    memset(&mp->po, 0, sizeof mp->po);
    mp->po.checks.warn_days = 14;
    mp->po.checks.crit_days = 3;
    tool.state = &mp->po;
    rc = xu_opts_parse(&mp->o, &tool, mp->argc, mp->argv, &first, err);
    mp->parsed = 1;
    if (rc == 0 && first < mp->argc)
        rc = xu_error_set(err, XU_EX_CONFIG, "unexpected '%s'", mp->argv[first]);
    if (rc == 0 && mp->po.mode != PROBE_C2S && mp->po.mode != PROBE_S2S)
        rc = xu_error_set(err, XU_EX_CONFIG, "mode %s is not served by the exporter (c2s or s2s)",
                          mode_name(mp->po.mode));
    if (rc == 0 && mp->po.mode == PROBE_C2S && !mp->po.no_login && mp->o.jid &&
        strchr(mp->o.jid, '@') && mp->o.pw_source == XU_PW_NONE && !getenv("XMPP_PASSWORD"))
        rc = xu_error_set(err, XU_EX_CONFIG, "it logs in as %s but has no password "
                          "(password, password_file or passwordeval), and an exporter cannot ask",
                          mp->o.jid);
    if (rc == 0)
        rc = probe_tls_ctx(&mp->tls, mp->o.tls_trust_file, err);
    m->timeout = mp->o.timeout > 0 ? mp->o.timeout : XU_CONNECT_TIMEOUT;
    if (rc) {
        if (line)
            snprintf(msg, sizeof msg, "%s:%d: probe module '%s': %s", sc->config, line, name,
                     err->msg);
        else
            snprintf(msg, sizeof msg, "probe module '%s': %s", name, err->msg);
        xu_error_replace(err, XU_EX_CONFIG, "%s", msg);
        return XU_EX_CONFIG;
    }
    return 0;
}

static int serve_load(void *ud, struct probe_modules *out, struct xu_error *err)
{
    struct serve_ctx *sc = ud;
    size_t i;
    int rc = 0, have_default = 0, j;
    char *no_login[] = {"--no-login", NULL};

    sc->npending = 0;
    sc->pending = NULL;
    /* -C names a file that must be there; the default path may be missing */
    if (sc->config && (sc->explicit_config || access(sc->config, F_OK) == 0))
        rc = xu_config_probe_modules(sc->config, module_key, sc, err);
    out->m = calloc(sc->npending + 1, sizeof *out->m);
    if (rc == 0 && !out->m)
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (i = 0; rc == 0 && i < sc->npending; i++) {
        rc = module_parse(sc, sc->pending[i].name, sc->pending[i].args, sc->pending[i].nargs,
                          sc->pending[i].line, &out->m[out->n++], err);
        have_default |= strcmp(sc->pending[i].name, "default") == 0;
    }
    /* without a `probe default` section: c2s without login */
    if (rc == 0 && !have_default)
        rc = module_parse(sc, "default", no_login, 1, 0, &out->m[out->n++], err);
    for (i = 0; i < sc->npending; i++) {
        for (j = 0; j < sc->pending[i].nargs; j++)
            free(sc->pending[i].args[j]);
        free(sc->pending[i].args);
    }
    free(sc->pending);
    sc->pending = NULL;
    sc->npending = 0;
    return rc;
}

static int serve_check_target(void *ud, const char *target, char *why, size_t len)
{
    struct probe_spec sp;
    struct xu_error err = {0, ""};

    (void)ud;
    if (probe_spec_parse(target, &sp, &err) == 0)
        return 0;
    snprintf(why, len, "%s", err.msg);
    return -1;
}

/* In the worker process. */
static json_t *serve_probe(void *ud, const struct probe_module *m, const char *target,
                           double timeout)
{
    struct module_priv *mp = m->priv;
    struct run_ctx x;
    struct probe_spec sp;
    struct probe_report r;
    struct xu_error err = {0, ""};
    char *password = NULL, jd[1024];
    json_t *doc;

    (void)ud;
    memset(&x, 0, sizeof x);
    if (probe_spec_parse(target, &sp, &err) != 0)
        return NULL;
    mp->o.timeout = timeout;
    if (mp->po.mode == PROBE_C2S && !mp->po.no_login && mp->o.jid && strchr(mp->o.jid, '@') &&
        xu_jid_domain(mp->o.jid, jd, sizeof jd) && strcasecmp(jd, sp.domain) == 0 &&
        xu_password_get(&mp->o, mp->o.jid, &password, &err) != 0) {
        probe_report_init(&r, sp.domain, mode_name(mp->po.mode));
        json_object_set_new(r.root, "target", probe_jstr(sp.text));
        probe_fail(&r, "configuration", -1, &err);
        probe_report_finish(&r);
    } else {
        x.po = &mp->po;
        x.o = &mp->o;
        x.tls = mp->tls;
        x.password = password;
        x.several = 1;
        x.timeout = timeout;
        probe_one(&x, &sp, NULL, &r);
    }
    doc = probe_report_json(&r);
    probe_report_free(&r);
    xu_secret_free(password);
    return doc;
}

static int probe_serve_main(const struct xu_tool *tool, struct probe_opts *po, int argc,
                            char **argv, int first, const struct xu_opts *o, struct xu_error *err)
{
    struct probe_serve_cfg cfg;
    struct serve_ctx sc;
    char path[4096];
    int i, rc;

    if (first < argc)
        return xu_error_set(err, XU_EX_USAGE, "--serve takes no target: Prometheus names them "
                            "(/probe?target=...)");
    if (po->targets_file || po->all_targets || po->output || po->nagios || po->prometheus)
        return xu_error_set(err, XU_EX_USAGE, "--serve answers in Prometheus format over HTTP: "
                            "--targets, --all-targets, --output, --nagios and --prometheus are for a run");
    memset(&sc, 0, sizeof sc);
    sc.tool = tool;
    sc.base = calloc((size_t)argc + 1, sizeof *sc.base);
    if (!sc.base)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    /* getopt has put the options first: keep those for every module */
    for (i = 1; i < first; i++) {
        static const char *const own[] = {"--serve", "--allow-target", "--parallel"};
        int skip = 0;

        if (strcmp(argv[i], "--") == 0)
            continue;
        for (size_t k = 0; k < 3; k++) {
            size_t l = strlen(own[k]);

            if (strcmp(argv[i], own[k]) == 0)
                skip = 2;
            else if (strncmp(argv[i], own[k], l) == 0 && argv[i][l] == '=')
                skip = 1;
        }
        if (skip) {
            i += skip - 1;
            continue;
        }
        sc.base[sc.nbase++] = argv[i];
    }
    if (o->config_path) {
        sc.config = o->config_path;
        sc.explicit_config = 1;
    }
    else if (xu_config_default_path(path, sizeof path) == 0)
        sc.config = path;
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = po->serve;
    cfg.parallel = (unsigned)po->parallel;
    cfg.allow = po->allow;
    cfg.nallow = po->nallow;
    cfg.ud = &sc;
    cfg.load = serve_load;
    cfg.free_module = serve_free_module;
    cfg.check_target = serve_check_target;
    cfg.probe = serve_probe;
    rc = probe_serve_run(&cfg, err);
    free(sc.base);
    return rc;
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
    };
    struct xu_error err = {0, ""};
    struct run_ctx x;
    struct probe_report *reports = NULL;
    struct probe_job *jobs = NULL;
    struct probe_spec *specs = NULL;
    struct xu_opts o;
    char *secret = NULL, *password = NULL, jd[1024];
    size_t n = 0, i;
    int first = 0, rc, out, nagios = 0, component;

    for (i = 1; i < (size_t)argc && strcmp(argv[i], "--") != 0; i++)
        nagios |= strcmp(argv[i], "--nagios") == 0;
    signal(SIGPIPE, SIG_IGN);
    memset(&po, 0, sizeof po);
    memset(&x, 0, sizeof x);
    po.checks.warn_days = 14;
    po.checks.crit_days = 3;
    po.parallel = 16;
    rc = xu_opts_parse(&o, &tool, argc, argv, &first, &err);
    component = po.mode == PROBE_COMPONENT || po.mode == PROBE_CM;
    if (rc == 0 && po.serve) {
        rc = probe_serve_main(&tool, &po, argc, argv, first, &o, &err);
        if (rc)
            xu_report(&err);
        goto done;
    }
    if (rc == 0 && po.nagios && po.prometheus)
        rc = xu_error_set(&err, XU_EX_USAGE, "--nagios and --prometheus exclude each other");
    if (rc == 0 && po.nallow)
        rc = xu_error_set(&err, XU_EX_USAGE, "--allow-target is for the exporter (--serve)");
    if (rc == 0 && component && (argc - first > 1 || po.targets_file || po.all_targets))
        rc = xu_error_set(&err, XU_EX_USAGE, "--mode %s probes one HOST at a time",
                          mode_name(po.mode));
    if (rc == 0 && !component)
        rc = gather_targets(&po, &o, argc, argv, first, &specs, &n, &err);
    x.several = n > 1 || po.all_targets || po.targets_file;
    if (rc == 0 && x.several && po.format == F_XML && !po.prometheus && !po.nagios)
        rc = xu_error_set(&err, XU_EX_USAGE, "--format xml takes one target (json or text for several)");
    if (rc == 0 && n == 0 && x.several)
        rc = xu_error_set(&err, XU_EX_UNAVAILABLE, "no target to probe");
    if (rc == 0 && !x.several) {
        /* one target: what plan() refuses is a usage error, before anything is read */
        struct probe_cfg check;
        char d[1024], skipped[1400];

        memset(&check, 0, sizeof check);
        rc = plan(&check, &po, &o, n ? specs[0].domain : component && first < argc ? argv[first] : NULL,
                  0, d, sizeof d, skipped, sizeof skipped, &err);
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
    reports = calloc(n ? n : 1, sizeof *reports);
    jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!reports || !jobs) {
        xu_error_set(&err, XU_EX_OSERR, "out of memory");
        xu_report(&err);
        rc = err.code;
        goto done;
    }
    if (!x.several) {
        /* one target: probed in this process */
        probe_one(&x, n ? &specs[0] : NULL, component && first < argc ? argv[first] : NULL,
                  &reports[0]);
        n = 1;
    } else {
        probe_pool_run(jobs, n, (unsigned)po.parallel, start_job, &x);
        for (i = 0; i < n; i++) {
            probe_report_from_job(&reports[i], &jobs[i], specs[i].domain, mode_name(po.mode),
                                  x.timeout);
            if (!probe_get_str(reports[i].root, "target"))
                json_object_set_new(reports[i].root, "target", probe_jstr(specs[i].text));
            probe_job_free(&jobs[i]);
        }
    }
    xu_error_clear(&err);
    out = po.output ? write_output(reports, n, x.several, &po, &err)
                    : write_reports(reports, n, x.several, &po, stdout);
    rc = x.several ? worst_exit(reports, n, &po) : exit_code(&reports[0], &po);
    if (!x.several && reports[0].fatal.code && !po.nagios)
        xu_report(&reports[0].fatal);
    if (out) {
        if (!err.code)
            xu_error_set(&err, out, "cannot write the report to standard output");
        xu_report(&err);
        rc = out;
    }
    for (i = 0; i < n; i++)
        probe_report_free(&reports[i]);
done:
    free(reports);
    free(jobs);
    free(specs);
    if (x.tls)
        SSL_CTX_free(x.tls);
    xu_trace_close(x.trace);
    xu_secret_free(secret);
    xu_secret_free(password);
    free_checks(&po.checks);
    xu_opts_free(&o);
    return rc;
}

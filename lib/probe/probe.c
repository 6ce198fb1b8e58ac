/* xmpp-probe's entry point (probe.h): a run prepared (targets, secrets,
 * trace, TLS), the plan of each target, one target probed here or many in
 * worker processes (lib/probe/pool.h). */
#include "probe/probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/jid.h"
#include "base/msg.h"
#include "base/secret.h"
#include "base/trace.h"
#include "probe/pool.h"
#include "probe/tls.h"
#include "xmpp/session.h"

const char *const probe_mode_names[] = {"c2s", "s2s", "component", "cm", NULL};

const char *probe_mode_name(enum probe_mode m)
{
    return (unsigned)m <= PROBE_CM ? probe_mode_names[m] : "?";
}

void probe_opts_init(struct probe_opts *po)
{
    memset(po, 0, sizeof *po);
    po->checks.warn_days = 14;
    po->checks.crit_days = 3;
    po->parallel = 16;
}

void probe_opts_free(struct probe_opts *po)
{
    struct probe_checks *c = &po->checks;
    int i;

    for (i = 0; i < c->nstage; i++)
        free(c->stage_name[i]);
    for (i = 0; i < c->nexpect_mech; i++)
        free(c->expect_mech[i]);
    for (i = 0; i < c->nforbid_mech; i++)
        free(c->forbid_mech[i]);
    for (i = 0; i < c->nexpect_feature; i++)
        free(c->expect_feature[i]);
    memset(c, 0, sizeof *c);
    free(po->targets_file);
    free(po->output);
    free(po->serve);
    po->targets_file = po->output = po->serve = NULL;
}

int probe_plan(struct probe_cfg *cfg, const struct probe_opts *po, const struct xu_opts *o,
               const char *operand, int several, char *domain, size_t dlen, char *skipped,
               size_t slen, struct xu_error *err)
{
    char why[128], jid_domain[1024];

    skipped[0] = '\0';
    cfg->mode = po->mode;
    if (po->mode == PROBE_COMPONENT || po->mode == PROBE_CM) {
        if (!o->component)
            return xu_error_set(err, XU_EX_USAGE, "--mode %s needs --component NAME (%s)",
                                probe_mode_name(po->mode),
                                po->mode == PROBE_CM ? "the connection manager's name"
                                                     : "the component's domain");
        if (!o->secret_file)
            return xu_error_set(err, XU_EX_USAGE, "--mode %s needs --secret-file FILE",
                                probe_mode_name(po->mode));
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

static int run_probe(struct probe_cfg *cfg, const struct probe_opts *po, struct probe_report *r)
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



void probe_one(struct probe_run_ctx *x, const struct probe_spec *sp, const char *operand,
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
    rc = probe_plan(&cfg, x->po, o, sp ? sp->domain : operand, x->several, domain, sizeof domain,
              skipped, sizeof skipped, &err);
    probe_report_init(r, rc ? (sp ? sp->domain : operand ? operand : "") : domain,
                      probe_mode_name(x->po->mode));
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
    run_probe(&cfg, x->po, r);
    if (sp && sp->srv_host[0] && !sp->family)
        probe_finding(r, PROBE_CRITICAL, "target", "%s (%s:%u) has no address", sp->text,
                      sp->srv_host, sp->port);
}

/* ---- several targets: one worker process each (lib/probe/pool.h) ---- */

struct child_arg {
    struct probe_run_ctx *x;
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


void probe_fleet_run(struct probe_run_ctx *x, struct probe_report *reports)
{
    struct probe_job *jobs = calloc(x->n ? x->n : 1, sizeof *jobs);
    size_t i;

    if (jobs)
        probe_pool_run(jobs, x->n, (unsigned)x->po->parallel, start_job, x);
    for (i = 0; i < x->n; i++) {
        struct probe_job none = {0, -1, NULL, 0, 0, 0, 0, 0, 1, NULL};

        probe_report_from_job(&reports[i], jobs ? &jobs[i] : &none, x->specs[i].domain,
                              probe_mode_name(x->po->mode), x->timeout);
        if (!probe_get_str(reports[i].root, "target"))
            json_object_set_new(reports[i].root, "target", probe_jstr(x->specs[i].text));
        if (jobs)
            probe_job_free(&jobs[i]);
    }
    free(jobs);
}

int probe_gather_targets(const struct probe_opts *po, const struct xu_opts *o, int argc,
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

int probe_prepare(struct probe_run_ctx *x, struct probe_opts *po, struct xu_opts *o, int argc,
                  char **argv, int first, struct xu_error *err)
{
    int component = po->mode == PROBE_COMPONENT || po->mode == PROBE_CM, rc = 0;
    char jd[1024];
    size_t i;

    memset(x, 0, sizeof *x);
    x->po = po;
    x->o = o;
    x->operand = component && first < argc ? argv[first] : NULL;
    if (!component)
        rc = probe_gather_targets(po, o, argc, argv, first, &x->specs, &x->n, err);
    x->several = x->n > 1 || po->all_targets || po->targets_file;
    if (rc == 0 && x->several && po->format == PROBE_FMT_XML && !po->prometheus && !po->nagios)
        rc = xu_error_set(err, XU_EX_USAGE, "--format xml takes one target (json or text for several)");
    if (rc == 0 && x->n == 0 && x->several)
        rc = xu_error_set(err, XU_EX_UNAVAILABLE, "no target to probe");
    if (rc == 0 && !x->several) {
        /* one target: what plan refuses is a usage error, before anything is read */
        struct probe_cfg check;
        char d[1024], skipped[1400];

        memset(&check, 0, sizeof check);
        rc = probe_plan(&check, po, o, x->n ? x->specs[0].domain : x->operand, 0, d, sizeof d,
                        skipped, sizeof skipped, err);
    }
    if (rc == 0 && component)
        rc = xu_secret_read_file(o->secret_file, "secret", &x->secret, err);
    /* the password once, before any timing, if a target is the account's */
    if (rc == 0 && po->mode == PROBE_C2S && !po->no_login && o->jid && strchr(o->jid, '@') &&
        xu_jid_domain(o->jid, jd, sizeof jd)) {
        int need = x->n == 0;

        for (i = 0; i < x->n; i++)
            need |= strcasecmp(x->specs[i].domain, jd) == 0;
        if (need)
            rc = xu_password_get(o, o->jid, &x->password, err);
    }
    if (rc == 0 && o->trace)
        rc = xu_trace_open(&x->trace, o->trace, err);
    if (rc == 0 && po->mode != PROBE_COMPONENT)
        rc = probe_tls_ctx(&x->tls, o->tls_trust_file, err);
    if (rc == 0 && !(x->reports = calloc(x->n ? x->n : 1, sizeof *x->reports)))
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    x->timeout = o->timeout > 0 ? o->timeout : XU_CONNECT_TIMEOUT;
    return rc;
}

void probe_run(struct probe_run_ctx *x)
{
    if (x->several) {
        probe_fleet_run(x, x->reports);
        x->nreports = x->n;
    } else {
        /* one target: probed in this process */
        probe_one(x, x->n ? &x->specs[0] : NULL, x->operand, &x->reports[0]);
        x->nreports = 1;
    }
}

void probe_run_free(struct probe_run_ctx *x)
{
    size_t i;

    for (i = 0; i < x->nreports; i++)
        probe_report_free(&x->reports[i]);
    free(x->reports);
    free(x->specs);
    if (x->tls)
        SSL_CTX_free(x->tls);
    xu_trace_close(x->trace);
    xu_secret_free(x->secret);
    xu_secret_free(x->password);
    memset(x, 0, sizeof *x);
}

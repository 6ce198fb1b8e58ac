/* xmpp-probe's engine: what a run of the tool does once its option table
 * (cmd/xmpp-probe.c) has filled struct probe_opts and struct xu_opts. It
 * owns the targets of the run, the component secret and the password
 * (fetched once, before any timing), the trace, the TLS context and the
 * reports. A run: probe_prepare, probe_run, probe_report_run (writes the
 * reports, gives the exit status), probe_run_free. A failed check is never
 * exit 0.
 *
 * The files of lib/probe/:
 *   probe.c    the entry point: probe_prepare, probe_run, probe_one, the
 *              plan of a target, the fleet of worker processes
 *   options.c  the option values the table cannot store by itself
 *   output.c   the reports to stdout or --output, and the exit status
 *   stages:    dns.c (SRV, where to connect), conn.c (our own socket, TLS,
 *              XML stream), run.c (stream, features, STARTTLS, handshakes),
 *              tls.c (certificate and TLS details), login.c (SASL, bind,
 *              ping, disco, version through lib/xmpp), checks.c (thresholds
 *              and expectations on the finished report)
 *   report:    report.c (the JSON document; text, JSON, XML), monitor.c
 *              (Nagios, Prometheus), fleet.c (several targets: parsing,
 *              --targets, --all-targets, and their outputs)
 *   pool.c     worker processes, one per target or exporter request
 *   exporter:  serve.c (--serve: HTTP, requests, reloads), modules.c (the
 *              `probe NAME` config sections), exporter_metrics.c (the
 *              exporter's own metrics) */
#ifndef XU_PROBE_PROBE_H
#define XU_PROBE_PROBE_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "base/opts.h"
#include "probe/fleet.h"
#include "probe/report.h"
#include "probe/run.h"

enum probe_format { PROBE_FMT_TEXT, PROBE_FMT_JSON, PROBE_FMT_XML };

/* The ids of the tool's options (cmd/xmpp-probe.c's table). */
enum {
    PROBE_O_FORMAT = 1000, PROBE_O_NAGIOS, PROBE_O_PROMETHEUS, PROBE_O_MODE, PROBE_O_IPV4,
    PROBE_O_IPV6, PROBE_O_WARN_DAYS, PROBE_O_CRIT_DAYS, PROBE_O_WARN_MS, PROBE_O_CRIT_MS,
    PROBE_O_EXPECT_MECH, PROBE_O_FORBID_MECH, PROBE_O_EXPECT_FEATURE, PROBE_O_NO_LOGIN,
    PROBE_O_TARGETS, PROBE_O_PARALLEL, PROBE_O_ALL_TARGETS, PROBE_O_OUTPUT, PROBE_O_SERVE,
    PROBE_O_ALLOW_TARGET,
};

/* What the options say; the table writes the flags and strings straight
 * here (XU_TO), probe_apply_option the rest. */
struct probe_opts {
    enum probe_format format;
    int nagios, prometheus, no_login, family;
    int family_set[2]; /* -4/-6 by the config file, by the command line */
    enum probe_mode mode;
    struct probe_checks checks;
    /* several targets, the exporter */
    char *targets_file, *output, *serve; /* owned */
    unsigned long parallel;
    int all_targets;
    const char *allow[16];
    int nallow;
};

/* Defaults (warn 14 days, crit 3, --parallel 16); release. */
void probe_opts_init(struct probe_opts *po);
void probe_opts_free(struct probe_opts *po);

/* The option table's apply function (state: a struct probe_opts). */
int probe_apply_option(void *state, int id, const char *arg, int from_config,
                       struct xu_error *err);

/* "c2s", "s2s", "component", "cm", in the order of enum probe_mode. */
extern const char *const probe_mode_names[];
const char *probe_mode_name(enum probe_mode m);

/* What to probe: the domain (or component/cm name), where, and whether to
 * log in. operand: the target's domain (component, cm: the host), or NULL.
 * *skipped gets a reason when an account was configured for another
 * domain (the report says so: a login that silently did not happen would
 * read as OK); with several targets that is never an error. */
int probe_plan(struct probe_cfg *cfg, const struct probe_opts *po, const struct xu_opts *o,
               const char *operand, int several, char *domain, size_t dlen, char *skipped,
               size_t slen, struct xu_error *err);

/* Everything a probe of one target needs, shared by every target. What
 * probe_prepare fills is owned here (probe_run_free); the exporter's
 * worker fills one with its module's. */
struct probe_run_ctx {
    struct probe_opts *po;
    struct xu_opts *o;
    SSL_CTX *tls;
    struct xu_trace *trace;
    char *secret, *password;
    struct probe_spec *specs;
    size_t n;
    int several;
    double timeout;
    /* a run of the tool (probe_prepare): the operand of component and cm
     * mode, and the reports of probe_run, one per target (owned) */
    const char *operand;
    struct probe_report *reports;
    size_t nreports;
};

/* A run of the tool, after its cross-option checks: the targets (operands
 * argv[first..argc), --targets, --all-targets), the checks that need them,
 * the component secret, the password, the trace, the TLS context. Returns
 * 0, or a setup error in err that the caller reports (nothing was probed).
 * Release with probe_run_free, also after a failure. */
int probe_prepare(struct probe_run_ctx *x, struct probe_opts *po, struct xu_opts *o, int argc,
                  char **argv, int first, struct xu_error *err);

/* Probe every target: one in this process, several in worker processes;
 * fills x->reports[0..x->nreports). */
void probe_run(struct probe_run_ctx *x);

void probe_run_free(struct probe_run_ctx *x);

/* Probe one target (sp, or operand when sp is NULL) into r (initialised
 * here). Changes x->o for an xmpp:// target: call it in a worker, or once. */
void probe_one(struct probe_run_ctx *x, const struct probe_spec *sp, const char *operand,
               struct probe_report *r);

/* Probe x->specs[0..n) in worker processes, at most po->parallel at a time,
 * into reports[0..n). */
void probe_fleet_run(struct probe_run_ctx *x, struct probe_report *reports);

/* output.c. The end of a run: write x's reports (stdout, or --output
 * atomically), say on stderr why a single target failed (not with
 * --nagios) or why the report could not be written, and return the exit
 * status of the run. */
int probe_report_run(const struct probe_run_ctx *x);

/* The exit status of one report, and of several (the worst target's). */
int probe_exit_code(const struct probe_report *r, const struct probe_opts *po);
int probe_worst_exit(const struct probe_report *r, size_t n, const struct probe_opts *po);

/* Write the reports in the format po asks for, to stdout or --output. */
int probe_write_reports(const struct probe_report *r, size_t n, int several,
                        const struct probe_opts *po, FILE *fp);
int probe_write_output(const struct probe_report *r, size_t n, int several,
                       const struct probe_opts *po, struct xu_error *err);

/* The targets of a run: operands, --targets, expanded by --all-targets. */
int probe_gather_targets(const struct probe_opts *po, const struct xu_opts *o, int argc,
                         char **argv, int first, struct probe_spec **specs, size_t *n,
                         struct xu_error *err);

/* --serve: the exporter, with tool (its option table and handler, whose
 * state is a struct probe_opts) parsing each module. */
int probe_serve_main(const struct xu_tool *tool, struct probe_opts *po, int argc, char **argv,
                     int first, const struct xu_opts *o, struct xu_error *err);

#endif

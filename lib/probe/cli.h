/* What xmpp-probe does with its options: plan a target (domain, where,
 * whether to log in), probe it, probe many in worker processes, write the
 * reports (stdout or --output, atomically), and the exporter's modules
 * (`probe NAME` config sections parsed with the tool's own options). The
 * option table and its handler stay in cmd/xmpp-probe.c. */
#ifndef XU_PROBE_CLI_H
#define XU_PROBE_CLI_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "base/opts.h"
#include "probe/fleet.h"
#include "probe/report.h"
#include "probe/run.h"

enum probe_format { PROBE_FMT_TEXT, PROBE_FMT_JSON, PROBE_FMT_XML };

struct probe_opts {
    enum probe_format format;
    int nagios, prometheus, no_login, family;
    int family_set[2]; /* -4/-6 by the config file, by the command line */
    enum probe_mode mode;
    struct probe_checks checks;
    /* several targets, the exporter */
    const char *targets_file, *output, *serve;
    unsigned long parallel;
    int all_targets;
    const char *allow[16];
    int nallow;
};

/* Defaults (warn 14 days, crit 3, --parallel 16); release. */
void probe_opts_init(struct probe_opts *po);
void probe_opts_free(struct probe_opts *po);

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

/* Everything a probe of one target needs, shared by every target. */
struct probe_run_ctx {
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

/* Probe one target (sp, or operand when sp is NULL) into r (initialised
 * here). Changes x->o for an xmpp:// target: call it in a worker, or once. */
void probe_one(struct probe_run_ctx *x, const struct probe_spec *sp, const char *operand,
               struct probe_report *r);

/* Probe x->specs[0..n) in worker processes, at most po->parallel at a time,
 * into reports[0..n). */
void probe_fleet_run(struct probe_run_ctx *x, struct probe_report *reports);

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

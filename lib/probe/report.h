/* xmpp-probe's report: one JSON document (jansson) that every stage adds
 * to, and from which every output format is written, so that text, JSON,
 * XML, Nagios and Prometheus always say the same thing. The schema is
 * documented in xmpp-probe(1). */
#ifndef XU_PROBE_REPORT_H
#define XU_PROBE_REPORT_H

#include <stdio.h>

#include <jansson.h>

#include "base/error.h"

/* Severity of a finding, and the overall status (Nagios order). */
enum probe_status { PROBE_OK, PROBE_WARNING, PROBE_CRITICAL, PROBE_UNKNOWN };

struct probe_report {
    json_t *root;          /* the document (owned) */
    json_t *stages;        /* root.stages (borrowed) */
    json_t *findings;      /* root.findings (borrowed) */
    enum probe_status status;
    struct xu_error fatal; /* the failure that stopped the probe, if any */
    int threshold_failed;  /* a critical finding that is not a fatal failure */
    double t0;             /* xu_now() when probing started */
};

void probe_report_init(struct probe_report *r, const char *domain, const char *mode);
void probe_report_free(struct probe_report *r);

/* A JSON string from text that may come from the network: invalid UTF-8
 * and control characters are replaced; NULL gives JSON null. New reference. */
json_t *probe_jstr(const char *s);

/* root[key] as an object, created if missing (borrowed). Nested keys with
 * '.', e.g. "tls.cert". */
json_t *probe_obj(struct probe_report *r, const char *path);

/* Append a stage {name, ok, ms, detail}; returns it (borrowed) so that the
 * caller can add members. ms < 0: not measured (null). */
json_t *probe_stage(struct probe_report *r, const char *name, int ok, double ms,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Record a finding {severity, code, message}; raises the status. */
void probe_finding(struct probe_report *r, enum probe_status sev, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A stage failed in a way that stops the probe: a failed stage, a critical
 * finding with the error's message, and the error kept for the exit code
 * (the first one wins). */
void probe_fail(struct probe_report *r, const char *stage, double ms, const struct xu_error *e);

/* Milliseconds as a JSON number (rounded to 0.1 µs); < 0 gives null. */
json_t *probe_jms(double ms);

/* Milliseconds since t (xu_now() seconds). */
double probe_ms_since(double t);

/* Finish the document: total time, status. */
void probe_report_finish(struct probe_report *r);

const char *probe_status_name(enum probe_status s); /* "ok", "warning", ... */

/* Outputs. Each returns 0 or XU_EX_IOERR when stdout fails. */
int probe_write_json(const struct probe_report *r, FILE *fp);
int probe_write_xml(const struct probe_report *r, FILE *fp);
int probe_write_text(const struct probe_report *r, FILE *fp);

/* Thresholds for the monitoring outputs' perfdata (0: not set). */
struct probe_thresholds {
    unsigned long warn_days, crit_days;
    double warn_ms, crit_ms; /* total */
};
int probe_write_nagios(const struct probe_report *r, const struct probe_thresholds *t, FILE *fp);
int probe_write_prometheus(const struct probe_report *r, FILE *fp);

/* Prometheus for several reports, each family written once. exporter: the
 * exporter's metric names and no labels; label_target: a target label from
 * each report's "target" member (several targets in one run). */
struct probe_prom_opts {
    int exporter;
    int label_target;
};
int probe_write_prometheus_many(const struct probe_report *const *r, size_t n,
                                const struct probe_prom_opts *o, FILE *fp);

/* Small accessors used by the writers and checks. */
const char *probe_get_str(const json_t *o, const char *path);
double probe_get_num(const json_t *o, const char *path, double dflt);
int probe_get_bool(const json_t *o, const char *path); /* -1 when missing */
/* 1 if the array holds the string s (ASCII case-insensitive). */
int probe_has_string(const json_t *arr, const char *s);

#endif

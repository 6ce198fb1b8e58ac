/* The exporter's own metrics (GET /metrics of xmpp-probe --serve): the
 * probes run and failed by module with a histogram of their durations,
 * the HTTP responses by class, the probes running and waiting, the config
 * reloads. The counters live in the server (serve.c); this file counts and
 * writes them in the Prometheus text format. */
#ifndef XU_PROBE_EXPORTER_METRICS_H
#define XU_PROBE_EXPORTER_METRICS_H

#include <stddef.h>
#include <stdio.h>

#define PROBE_EXPORTER_BUCKETS 10 /* of the duration histogram */
#define PROBE_EXPORTER_MODULES 256 /* module names with their own counters */

struct probe_exporter_metrics {
    struct {
        char module[64];
        unsigned long long runs, failed, bucket[PROBE_EXPORTER_BUCKETS];
        double sum;
    } module[PROBE_EXPORTER_MODULES];
    size_t n;
    unsigned long long http[6]; /* by first digit of the status */
    int reload_ok;              /* the last config load worked */
    double reload_time;         /* when the config was last loaded (Unix time) */
};

/* An HTTP response with status code was sent. */
void probe_exporter_count_http(struct probe_exporter_metrics *m, unsigned code);

/* A probe with module took secs seconds; failed: probe_success 0. */
void probe_exporter_count_probe(struct probe_exporter_metrics *m, const char *module, double secs,
                                int failed);

/* Write every metric; running, queued: probes now; nmodules: loaded. */
void probe_exporter_write_metrics(const struct probe_exporter_metrics *m, size_t running,
                                  size_t queued, size_t nmodules, FILE *fp);

#endif

#include "probe/exporter_metrics.h"

#include <string.h>

static const double buckets[PROBE_EXPORTER_BUCKETS] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

void probe_exporter_count_http(struct probe_exporter_metrics *m, unsigned code)
{
    if (code / 100 < 6)
        m->http[code / 100]++;
}

void probe_exporter_count_probe(struct probe_exporter_metrics *m, const char *module, double secs,
                                int failed)
{
    size_t i, b;

    for (i = 0; i < m->n && strcmp(m->module[i].module, module) != 0; i++)
        ;
    if (i == m->n) {
        if (m->n == PROBE_EXPORTER_MODULES)
            return;
        memset(&m->module[i], 0, sizeof m->module[0]);
        snprintf(m->module[i].module, sizeof m->module[0].module, "%s", module);
        m->n++;
    }
    m->module[i].runs++;
    m->module[i].failed += failed != 0;
    m->module[i].sum += secs;
    for (b = 0; b < PROBE_EXPORTER_BUCKETS && secs > buckets[b]; b++)
        ;
    if (b < PROBE_EXPORTER_BUCKETS)
        m->module[i].bucket[b]++;
}

void probe_exporter_write_metrics(const struct probe_exporter_metrics *m, size_t running,
                                  size_t queued, size_t nmodules, FILE *fp)
{
    size_t i, b;
    unsigned long long cum;

    fprintf(fp, "# HELP xmpp_probe_exporter_build_info The exporter's version (always 1).\n"
                "# TYPE xmpp_probe_exporter_build_info gauge\n"
                "xmpp_probe_exporter_build_info{version=\"%s\"} 1\n", XU_VERSION);
    fprintf(fp, "# HELP xmpp_probe_exporter_probes_total Probes run, by module.\n"
                "# TYPE xmpp_probe_exporter_probes_total counter\n");
    for (i = 0; i < m->n; i++)
        fprintf(fp, "xmpp_probe_exporter_probes_total{module=\"%s\"} %llu\n", m->module[i].module,
                m->module[i].runs);
    fprintf(fp, "# HELP xmpp_probe_exporter_probes_failed_total Probes that failed (probe_success 0), by module.\n"
                "# TYPE xmpp_probe_exporter_probes_failed_total counter\n");
    for (i = 0; i < m->n; i++)
        fprintf(fp, "xmpp_probe_exporter_probes_failed_total{module=\"%s\"} %llu\n",
                m->module[i].module, m->module[i].failed);
    fprintf(fp, "# HELP xmpp_probe_exporter_probe_duration_seconds How long probes took, by module.\n"
                "# TYPE xmpp_probe_exporter_probe_duration_seconds histogram\n");
    for (i = 0; i < m->n; i++) {
        for (b = 0, cum = 0; b < PROBE_EXPORTER_BUCKETS; b++) {
            cum += m->module[i].bucket[b];
            fprintf(fp, "xmpp_probe_exporter_probe_duration_seconds_bucket{module=\"%s\",le=\"%g\"} %llu\n",
                    m->module[i].module, buckets[b], cum);
        }
        fprintf(fp, "xmpp_probe_exporter_probe_duration_seconds_bucket{module=\"%s\",le=\"+Inf\"} %llu\n",
                m->module[i].module, m->module[i].runs);
        fprintf(fp, "xmpp_probe_exporter_probe_duration_seconds_sum{module=\"%s\"} %.6f\n",
                m->module[i].module, m->module[i].sum);
        fprintf(fp, "xmpp_probe_exporter_probe_duration_seconds_count{module=\"%s\"} %llu\n",
                m->module[i].module, m->module[i].runs);
    }
    fprintf(fp, "# HELP xmpp_probe_exporter_probes_in_flight Probes running now.\n"
                "# TYPE xmpp_probe_exporter_probes_in_flight gauge\n"
                "xmpp_probe_exporter_probes_in_flight %zu\n", running);
    fprintf(fp, "# HELP xmpp_probe_exporter_probes_queued Probe requests waiting for a free slot (--parallel).\n"
                "# TYPE xmpp_probe_exporter_probes_queued gauge\n"
                "xmpp_probe_exporter_probes_queued %zu\n", queued);
    fprintf(fp, "# HELP xmpp_probe_exporter_http_responses_total HTTP responses, by class of status code.\n"
                "# TYPE xmpp_probe_exporter_http_responses_total counter\n");
    for (i = 2; i < 6; i++)
        fprintf(fp, "xmpp_probe_exporter_http_responses_total{code=\"%zuxx\"} %llu\n", i, m->http[i]);
    fprintf(fp, "# HELP xmpp_probe_exporter_config_last_reload_successful 1 if the last config load worked.\n"
                "# TYPE xmpp_probe_exporter_config_last_reload_successful gauge\n"
                "xmpp_probe_exporter_config_last_reload_successful %d\n", m->reload_ok);
    fprintf(fp, "# HELP xmpp_probe_exporter_config_last_reload_success_timestamp_seconds When the config was last loaded.\n"
                "# TYPE xmpp_probe_exporter_config_last_reload_success_timestamp_seconds gauge\n"
                "xmpp_probe_exporter_config_last_reload_success_timestamp_seconds %.0f\n",
            m->reload_time);
    fprintf(fp, "# HELP xmpp_probe_exporter_modules Probe modules loaded.\n"
                "# TYPE xmpp_probe_exporter_modules gauge\n"
                "xmpp_probe_exporter_modules %zu\n", nmodules);
}

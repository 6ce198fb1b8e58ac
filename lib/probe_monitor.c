/* The monitoring outputs of the probe report: a Nagios plugin status line
 * with performance data, and the Prometheus text exposition format. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "probe_report.h"

static int finish(FILE *fp)
{
    if (fflush(fp) != 0 || ferror(fp))
        return XU_EX_IOERR;
    return 0;
}

/* ---- Nagios ---- */

/* A threshold field of perfdata: empty when not set. */
static void thr(char *buf, size_t len, double v, int seconds)
{
    if (v <= 0)
        buf[0] = '\0';
    else if (seconds)
        snprintf(buf, len, "%g", v / 1000.0);
    else
        snprintf(buf, len, "%g", v);
}

static void nagios_summary(const struct probe_report *r, char *out, size_t len)
{
    const json_t *root = r->root, *f;
    const char *want = probe_status_name(r->status), *v;
    char msg[512];
    size_t i, n = 0;
    int shown = 0;

    out[0] = '\0';
    if (r->status != PROBE_OK) {
        json_array_foreach(r->findings, i, f) {
            if (strcmp(probe_get_str(f, "severity"), want) != 0)
                continue;
            if (shown == 3) {
                n += (size_t)snprintf(out + n, n < len ? len - n : 0, "; ...");
                break;
            }
            xu_sanitize_terminal(msg, sizeof msg, probe_get_str(f, "message"));
            /* '|' starts the performance data */
            for (char *p = msg; *p; p++)
                if (*p == '|')
                    *p = '/';
            n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", shown ? "; " : "", msg);
            shown++;
        }
        if (shown)
            return;
    }
    n += (size_t)snprintf(out + n, len, "%s %s", probe_get_str(root, "domain"),
                          probe_get_str(root, "mode"));
    if ((v = probe_get_str(root, "tls.version")) != NULL && n < len)
        n += (size_t)snprintf(out + n, len - n, ", %s", v);
    if (probe_get_num(root, "tls.cert.days_left", -1e9) > -1e9 && n < len)
        n += (size_t)snprintf(out + n, len - n, ", certificate %.0f days left",
                              probe_get_num(root, "tls.cert.days_left", 0));
    if ((v = probe_get_str(root, "bind.jid")) != NULL && n < len)
        n += (size_t)snprintf(out + n, len - n, ", bound %s", v);
    if (probe_get_bool(root, "handshake.ok") == 1 && n < len)
        n += (size_t)snprintf(out + n, len - n, ", handshake accepted");
    if (probe_get_num(root, "ping.ms", -1) >= 0 && n < len)
        snprintf(out + n, len - n, ", ping %.1f ms", probe_get_num(root, "ping.ms", 0));
    xu_sanitize_terminal(msg, sizeof msg, out);
    snprintf(out, len, "%s", msg);
}

int probe_write_nagios(const struct probe_report *r, const struct probe_thresholds *t, FILE *fp)
{
    static const char *const label[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
    const json_t *root = r->root, *st, *f;
    char summary[2048], w[32], c[32], msg[512];
    double days;
    size_t i;

    nagios_summary(r, summary, sizeof summary);
    fprintf(fp, "XMPP %s - %s |", label[r->status], summary);
    thr(w, sizeof w, t->warn_ms, 1);
    thr(c, sizeof c, t->crit_ms, 1);
    fprintf(fp, " time=%.6fs;%s;%s;0;", probe_get_num(root, "ms", 0) / 1000.0, w, c);
    days = probe_get_num(root, "tls.cert.days_left", -1e9);
    if (days > -1e9) {
        thr(w, sizeof w, (double)t->warn_days, 0);
        thr(c, sizeof c, (double)t->crit_days, 0);
        fprintf(fp, " cert_days=%.0f;%s;%s;;", days, w, c);
    }
    json_array_foreach(r->stages, i, st)
        if (probe_get_num(st, "ms", -1) >= 0)
            fprintf(fp, " %s=%.6fs;;;0;", probe_get_str(st, "name"),
                    probe_get_num(st, "ms", 0) / 1000.0);
    fputc('\n', fp);
    /* long output: every finding, one a line */
    json_array_foreach(r->findings, i, f) {
        xu_sanitize_terminal(msg, sizeof msg, probe_get_str(f, "message"));
        for (char *p = msg; *p; p++)
            if (*p == '|')
                *p = '/';
        fprintf(fp, "%s: %s\n", probe_get_str(f, "severity"), msg);
    }
    return finish(fp);
}

/* ---- Prometheus text exposition format ---- */

/* A label value with \, " and newline escaped. */
static void label_value(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(fp, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", fp);
        else
            fputc(*s, fp);
    }
}

struct prom {
    FILE *fp;
    const char *domain, *mode;
};

static void family(struct prom *p, const char *name, const char *help)
{
    fprintf(p->fp, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* One sample: name{domain, mode[, k="v"]...} value. extra is NULL or
 * alternating keys and values ending in NULL. */
static void sample(struct prom *p, const char *name, double v, const char *const *extra)
{
    fprintf(p->fp, "%s{domain=\"", name);
    label_value(p->fp, p->domain);
    fprintf(p->fp, "\",mode=\"%s\"", p->mode);
    for (; extra && extra[0]; extra += 2) {
        fprintf(p->fp, ",%s=\"", extra[0]);
        label_value(p->fp, extra[1]);
        fputc('"', p->fp);
    }
    if (isnan(v))
        fprintf(p->fp, "} NaN\n");
    else
        fprintf(p->fp, "} %.9g\n", v);
}

static int seen_before(const json_t *arr, size_t upto, const char *key, const char *val)
{
    size_t i;

    for (i = 0; i < upto; i++)
        if (probe_get_str(json_array_get(arr, i), key) &&
            strcmp(probe_get_str(json_array_get(arr, i), key), val) == 0)
            return 1;
    return 0;
}

static void prom_mechanisms(struct prom *p, const json_t *mechs)
{
    const char *extra[3] = {"mechanism", NULL, NULL};
    const json_t *m;
    size_t i, j;
    int dup;

    if (!json_is_array(mechs))
        return;
    family(p, "xmpp_sasl_mechanism_offered",
           "SASL mechanisms the server offers after TLS (1 for each offered).");
    json_array_foreach(mechs, i, m) {
        dup = 0;
        for (j = 0; j < i; j++)
            dup |= json_equal(json_array_get(mechs, j), m);
        if (dup || !json_string_value(m))
            continue;
        extra[1] = json_string_value(m);
        sample(p, "xmpp_sasl_mechanism_offered", 1, extra);
    }
}

int probe_write_prometheus(const struct probe_report *r, FILE *fp)
{
    const json_t *root = r->root, *st;
    const char *extra[5] = {NULL, NULL, NULL, NULL, NULL};
    struct prom p = {fp, probe_get_str(root, "domain"), probe_get_str(root, "mode")};
    double v;
    size_t i;
    int b;

    family(&p, "xmpp_probe_success", "1 if the probe passed (status ok or warning), else 0.");
    sample(&p, "xmpp_probe_success", r->status <= PROBE_WARNING, NULL);
    family(&p, "xmpp_probe_status", "Probe status: 0 ok, 1 warning, 2 critical, 3 unknown.");
    sample(&p, "xmpp_probe_status", r->status, NULL);
    family(&p, "xmpp_probe_duration_seconds",
           "Duration of each probe phase, and of the whole probe (phase=\"total\").");
    extra[0] = "phase";
    json_array_foreach(r->stages, i, st) {
        if (probe_get_num(st, "ms", -1) < 0 ||
            seen_before(r->stages, i, "name", probe_get_str(st, "name")))
            continue;
        extra[1] = probe_get_str(st, "name");
        sample(&p, "xmpp_probe_duration_seconds", probe_get_num(st, "ms", 0) / 1000.0, extra);
    }
    extra[1] = "total";
    sample(&p, "xmpp_probe_duration_seconds", probe_get_num(root, "ms", 0) / 1000.0, extra);
    family(&p, "xmpp_probe_phase_success", "1 if the probe phase succeeded, else 0.");
    json_array_foreach(r->stages, i, st) {
        if (seen_before(r->stages, i, "name", probe_get_str(st, "name")))
            continue;
        extra[1] = probe_get_str(st, "name");
        sample(&p, "xmpp_probe_phase_success", probe_get_bool(st, "ok") == 1, extra);
    }
    family(&p, "xmpp_probe_findings", "Number of findings of each severity.");
    extra[0] = "severity";
    for (const char *const *sev = (const char *const[]){"info", "warning", "critical", "unknown", NULL};
         *sev; sev++) {
        size_t n = 0;
        json_array_foreach(r->findings, i, st)
            n += strcmp(probe_get_str(st, "severity"), *sev) == 0;
        extra[1] = *sev;
        sample(&p, "xmpp_probe_findings", (double)n, extra);
    }
    if (probe_get_str(root, "tls.version")) {
        family(&p, "xmpp_tls_version_info", "The negotiated TLS protocol version and cipher (always 1).");
        extra[0] = "version";
        extra[1] = probe_get_str(root, "tls.version");
        extra[2] = "cipher";
        extra[3] = probe_get_str(root, "tls.cipher") ? probe_get_str(root, "tls.cipher") : "";
        sample(&p, "xmpp_tls_version_info", 1, extra);
        extra[2] = NULL;
    }
    v = probe_get_num(root, "tls.cert.expiry_timestamp", -1);
    if (v >= 0) {
        family(&p, "xmpp_cert_expiry_timestamp_seconds",
               "When the server certificate expires (Unix time, seconds).");
        sample(&p, "xmpp_cert_expiry_timestamp_seconds", v, NULL);
    }
    b = probe_get_bool(root, "tls.verified");
    if (b >= 0) {
        family(&p, "xmpp_cert_verified",
               "1 if the server certificate verifies for the domain (or matches the pin), else 0.");
        sample(&p, "xmpp_cert_verified", b, NULL);
    }
    b = probe_get_bool(root, "starttls.required");
    if (b >= 0) {
        family(&p, "xmpp_starttls_required", "1 if the server requires STARTTLS, else 0.");
        sample(&p, "xmpp_starttls_required", b, NULL);
    }
    prom_mechanisms(&p, json_object_get(json_object_get(root, "sasl"), "mechanisms"));
    if (probe_get_str(root, "sasl.used")) {
        family(&p, "xmpp_sasl_login_info",
               "The SASL mechanism the login used and its channel binding (always 1).");
        extra[0] = "mechanism";
        extra[1] = probe_get_str(root, "sasl.used");
        extra[2] = "channel_binding";
        extra[3] = probe_get_str(root, "sasl.channel_binding") ? probe_get_str(root, "sasl.channel_binding") : "none";
        sample(&p, "xmpp_sasl_login_info", 1, extra);
        extra[2] = NULL;
    }
    b = probe_get_bool(root, "sasl.server_signature_verified");
    if (b >= 0) {
        family(&p, "xmpp_sasl_server_signature_verified",
               "1 if the server proved it knows the password (SCRAM server signature), else 0.");
        sample(&p, "xmpp_sasl_server_signature_verified", b, NULL);
    }
    b = probe_get_bool(root, "sm.offered");
    if (b >= 0) {
        family(&p, "xmpp_sm_offered", "1 if the server offers XEP-0198 stream management, else 0.");
        sample(&p, "xmpp_sm_offered", b, NULL);
    }
    v = probe_get_num(root, "ping.ms", -1);
    if (v >= 0) {
        family(&p, "xmpp_ping_duration_seconds", "Round trip of a XEP-0199 ping to the server.");
        sample(&p, "xmpp_ping_duration_seconds", v / 1000.0, NULL);
    }
    return finish(fp);
}

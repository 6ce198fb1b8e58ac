/* The monitoring outputs of the probe report: a Nagios plugin status line
 * with performance data, and the Prometheus text exposition format. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/msg.h"
#include "probe/report.h"

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
        /* plugin range syntax: "14:" alerts below 14 ("14" would alert above) */
        thr(w, sizeof w, (double)t->warn_days, 0);
        thr(c, sizeof c, (double)t->crit_days, 0);
        fprintf(fp, " cert_days=%.0f;%s%s;%s%s;;", days, w, w[0] ? ":" : "", c, c[0] ? ":" : "");
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

/* ---- Prometheus text exposition format ----
 *
 * Written family by family over any number of reports (a family's samples
 * must be one group), in two namings: the CLI's (xmpp_*, labelled with
 * domain and mode, and target when several are probed) and the exporter's
 * (blackbox_exporter's probe_* names where the meaning is the same, the
 * rest probe_xmpp_*, no labels: Prometheus adds the target's). */

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
    const struct probe_prom_opts *o;
    const char *domain, *mode, *target;
    const char *fam, *help, *type; /* the family being written */
    int header_done;
};

/* The metric families, in output order. To add one (e.g. a report field the
 * login adds): an entry in the enum and in families[] (its names and help),
 * its samples from the report in emit() unless it is a 0/1 flag; then
 * document it in xmpp-probe(1), METRICS and EXPORTER. */
enum prom_family {
    PF_SUCCESS, PF_STATUS, PF_TOTAL, PF_DURATION, PF_PHASE, PF_FINDINGS, PF_TLS, PF_EXPIRY,
    PF_VERIFIED, PF_STARTTLS, PF_MECHS, PF_SASL_LOGIN, PF_SASL_SIGNATURE, PF_SM, PF_PING, PF_END
};

/* Each family's name (the CLI's, the exporter's), its help, and for a 0/1
 * gauge the report member it reads (no sample when the member is missing). */
static const struct {
    const char *name, *exporter, *help, *flag;
} families[PF_END] = {
    [PF_SUCCESS] = {"xmpp_probe_success", "probe_success",
                    "1 if the probe passed (status ok or warning), else 0.", NULL},
    [PF_STATUS] = {"xmpp_probe_status", "probe_xmpp_status",
                   "Probe status: 0 ok, 1 warning, 2 critical, 3 unknown.", NULL},
    [PF_TOTAL] = {"probe_duration_seconds", "probe_duration_seconds",
                  "How long the whole probe took.", NULL},
    [PF_DURATION] = {"xmpp_probe_duration_seconds", "probe_xmpp_duration_seconds",
                     "Duration of each probe phase, and of the whole probe (phase=\"total\").", NULL},
    [PF_PHASE] = {"xmpp_probe_phase_success", "probe_xmpp_phase_success",
                  "1 if the probe phase succeeded, else 0.", NULL},
    [PF_FINDINGS] = {"xmpp_probe_findings", "probe_xmpp_findings",
                     "Number of findings of each severity.", NULL},
    [PF_TLS] = {"xmpp_tls_version_info", "probe_tls_version_info",
                "The negotiated TLS protocol version and cipher (always 1).", NULL},
    [PF_EXPIRY] = {"xmpp_cert_expiry_timestamp_seconds", "probe_ssl_earliest_cert_expiry",
                   "When the server certificate expires (Unix time, seconds).", NULL},
    [PF_VERIFIED] = {"xmpp_cert_verified", "probe_xmpp_cert_verified",
                     "1 if the server certificate verifies for the domain (or matches the pin), else 0.",
                     "tls.verified"},
    [PF_STARTTLS] = {"xmpp_starttls_required", "probe_xmpp_starttls_required",
                     "1 if the server requires STARTTLS, else 0.", "starttls.required"},
    [PF_MECHS] = {"xmpp_sasl_mechanism_offered", "probe_xmpp_sasl_mechanism_offered",
                  "SASL mechanisms the server offers after TLS (1 for each offered).", NULL},
    [PF_SASL_LOGIN] = {"xmpp_sasl_login_info", "probe_xmpp_sasl_login_info",
                       "The SASL mechanism the login used and its channel binding (always 1).", NULL},
    [PF_SASL_SIGNATURE] = {"xmpp_sasl_server_signature_verified",
                           "probe_xmpp_sasl_server_signature_verified",
                           "1 if the server proved it knows the password (SCRAM server signature), else 0.",
                           "sasl.server_signature_verified"},
    [PF_SM] = {"xmpp_sm_offered", "probe_xmpp_sm_offered",
               "1 if the server offers XEP-0198 stream management, else 0.", "sm.offered"},
    [PF_PING] = {"xmpp_ping_duration_seconds", "probe_xmpp_ping_duration_seconds",
                 "Round trip of a XEP-0199 ping to the server.", NULL},
};

static void family(struct prom *p, enum prom_family f)
{
    int exporter = p->o && p->o->exporter;

    p->fam = exporter ? families[f].exporter : families[f].name;
    /* the exporter's expiry is that of the chain's first certificate */
    p->help = exporter && f == PF_EXPIRY
                  ? "When the first certificate of the chain expires (Unix time, seconds)."
                  : families[f].help;
    p->type = "gauge";
    p->header_done = 0;
}

/* Integers (timestamps, counts) are written as integers: %g would round
 * a Unix time to 2.11150319e+09. */
static void number(FILE *fp, double v)
{
    if (isnan(v))
        fputs("NaN", fp);
    else if (v == floor(v) && fabs(v) < 1e15)
        fprintf(fp, "%.0f", v);
    else
        fprintf(fp, "%.9g", v);
}

/* One sample of the current family: name{labels[, k="v"]...} value. extra
 * is NULL or alternating keys and values ending in NULL. */
static void sample(struct prom *p, double v, const char *const *extra)
{
    int n = 0;

    if (!p->header_done) {
        fprintf(p->fp, "# HELP %s %s\n# TYPE %s %s\n", p->fam, p->help, p->fam, p->type);
        p->header_done = 1;
    }
    fputs(p->fam, p->fp);
    if (!p->o || !p->o->exporter) {
        if (p->target) {
            fputs("{target=\"", p->fp);
            label_value(p->fp, p->target);
            fputs("\",domain=\"", p->fp);
        } else {
            fputs("{domain=\"", p->fp);
        }
        label_value(p->fp, p->domain);
        fprintf(p->fp, "\",mode=\"%s\"", p->mode);
        n = 1;
    }
    for (; extra && extra[0]; extra += 2) {
        fprintf(p->fp, "%s%s=\"", n++ ? "," : "{", extra[0]);
        label_value(p->fp, extra[1]);
        fputc('"', p->fp);
    }
    fputs(n ? "} " : " ", p->fp);
    number(p->fp, v);
    fputc('\n', p->fp);
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

/* The earliest expiry in the certificate chain (as blackbox_exporter's
 * probe_ssl_earliest_cert_expiry), else the server certificate's; -1. */
static double earliest_expiry(const json_t *root)
{
    double v = probe_get_num(root, "tls.cert.expiry_timestamp", -1), c;
    const json_t *e;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(root, "tls"), "chain"), i, e) {
        c = probe_get_num(e, "expiry_timestamp", -1);
        if (c >= 0 && (v < 0 || c < v))
            v = c;
    }
    return v;
}

static void emit(struct prom *p, enum prom_family f, const struct probe_report *r)
{
    const json_t *root = r->root, *st, *mechs, *m;
    const char *extra[5] = {NULL, NULL, NULL, NULL, NULL};
    size_t i, j;
    double v;
    int b, dup;

    if (families[f].flag) {
        if ((b = probe_get_bool(root, families[f].flag)) >= 0)
            sample(p, b, NULL);
        return;
    }
    switch (f) {
    case PF_SUCCESS:
        sample(p, r->status <= PROBE_WARNING, NULL);
        break;
    case PF_STATUS:
        sample(p, r->status, NULL);
        break;
    case PF_TOTAL:
        sample(p, probe_get_num(root, "ms", 0) / 1000.0, NULL);
        break;
    case PF_DURATION:
        extra[0] = "phase";
        json_array_foreach(r->stages, i, st) {
            if (probe_get_num(st, "ms", -1) < 0 ||
                seen_before(r->stages, i, "name", probe_get_str(st, "name")))
                continue;
            extra[1] = probe_get_str(st, "name");
            sample(p, probe_get_num(st, "ms", 0) / 1000.0, extra);
        }
        extra[1] = "total";
        sample(p, probe_get_num(root, "ms", 0) / 1000.0, extra);
        break;
    case PF_PHASE:
        extra[0] = "phase";
        json_array_foreach(r->stages, i, st) {
            if (seen_before(r->stages, i, "name", probe_get_str(st, "name")))
                continue;
            extra[1] = probe_get_str(st, "name");
            sample(p, probe_get_bool(st, "ok") == 1, extra);
        }
        break;
    case PF_FINDINGS:
        extra[0] = "severity";
        for (const char *const *sev = (const char *const[]){"info", "warning", "critical", "unknown", NULL};
             *sev; sev++) {
            size_t n = 0;
            json_array_foreach(r->findings, i, st)
                n += strcmp(probe_get_str(st, "severity"), *sev) == 0;
            extra[1] = *sev;
            sample(p, (double)n, extra);
        }
        break;
    case PF_TLS:
        if (!probe_get_str(root, "tls.version"))
            break;
        extra[0] = "version";
        extra[1] = probe_get_str(root, "tls.version");
        extra[2] = "cipher";
        extra[3] = probe_get_str(root, "tls.cipher") ? probe_get_str(root, "tls.cipher") : "";
        sample(p, 1, extra);
        break;
    case PF_EXPIRY:
        v = p->o && p->o->exporter ? earliest_expiry(root)
                                   : probe_get_num(root, "tls.cert.expiry_timestamp", -1);
        if (v >= 0)
            sample(p, v, NULL);
        break;
    case PF_MECHS:
        mechs = json_object_get(json_object_get(root, "sasl"), "mechanisms");
        extra[0] = "mechanism";
        json_array_foreach(mechs, i, m) {
            dup = 0;
            for (j = 0; j < i; j++)
                dup |= json_equal(json_array_get(mechs, j), m);
            if (dup || !json_string_value(m))
                continue;
            extra[1] = json_string_value(m);
            sample(p, 1, extra);
        }
        break;
    case PF_SASL_LOGIN:
        if (!probe_get_str(root, "sasl.used"))
            break;
        extra[0] = "mechanism";
        extra[1] = probe_get_str(root, "sasl.used");
        extra[2] = "channel_binding";
        extra[3] = probe_get_str(root, "sasl.channel_binding") ? probe_get_str(root, "sasl.channel_binding")
                                                               : "none";
        sample(p, 1, extra);
        break;
    case PF_PING:
        if ((v = probe_get_num(root, "ping.ms", -1)) >= 0)
            sample(p, v / 1000.0, NULL);
        break;
    default: /* PF_END, and the flags above */
        break;
    }
}

int probe_write_prometheus_many(const struct probe_report *const *r, size_t n,
                                const struct probe_prom_opts *o, FILE *fp)
{
    struct prom p;
    size_t i;
    int f;

    memset(&p, 0, sizeof p);
    p.fp = fp;
    p.o = o;
    for (f = 0; f < PF_END; f++) {
        /* probe_duration_seconds: the exporter's (blackbox_exporter's) name */
        if (f == PF_TOTAL && !(o && o->exporter))
            continue;
        family(&p, (enum prom_family)f);
        for (i = 0; i < n; i++) {
            p.domain = probe_get_str(r[i]->root, "domain");
            p.mode = probe_get_str(r[i]->root, "mode");
            p.target = o && o->label_target ? probe_get_str(r[i]->root, "target") : NULL;
            emit(&p, (enum prom_family)f, r[i]);
        }
    }
    return finish(fp);
}

int probe_write_prometheus(const struct probe_report *r, FILE *fp)
{
    return probe_write_prometheus_many(&r, 1, NULL, fp);
}

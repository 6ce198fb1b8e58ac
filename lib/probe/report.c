#include "probe/report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libxml/xmlwriter.h>

#include "base/msg.h"
#include "xmpp/session.h"
#include "base/text.h"

static const char *const status_names[] = {"ok", "warning", "critical", "unknown"};

const char *probe_status_name(enum probe_status s)
{
    return (unsigned)s <= PROBE_UNKNOWN ? status_names[s] : "unknown";
}

double probe_ms_since(double t)
{
    return (xu_now() - t) * 1000.0;
}

json_t *probe_jstr(const char *s)
{
    struct xu_text_fixes fixes = {0, 0, 0};
    char *clean;
    json_t *j;

    if (!s)
        return json_null();
    j = json_string(s);
    if (j && xu_text_is_clean(s, strlen(s)))
        return j;
    json_decref(j);
    clean = xu_text_clean(s, strlen(s), NULL, &fixes);
    j = json_string(clean ? clean : "?");
    free(clean);
    return j ? j : json_null();
}

void probe_report_init(struct probe_report *r, const char *domain, const char *mode)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    memset(r, 0, sizeof *r);
    r->t0 = xu_now();
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    r->root = json_object();
    json_object_set_new(r->root, "schema", json_integer(1));
    json_object_set_new(r->root, "tool", json_string("xmpp-probe " XU_VERSION));
    json_object_set_new(r->root, "domain", probe_jstr(domain));
    json_object_set_new(r->root, "mode", json_string(mode));
    json_object_set_new(r->root, "time", json_string(stamp));
    json_object_set_new(r->root, "targets", json_array());
    r->stages = json_array();
    json_object_set_new(r->root, "stages", r->stages);
    r->findings = json_array();
    json_object_set_new(r->root, "findings", r->findings);
}

void probe_report_free(struct probe_report *r)
{
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

json_t *probe_obj(struct probe_report *r, const char *path)
{
    char key[64];
    const char *p = path, *dot;
    json_t *cur = r->root, *next;
    size_t n;

    while (*p) {
        dot = strchr(p, '.');
        n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key)
            n = sizeof key - 1;
        memcpy(key, p, n);
        key[n] = '\0';
        next = json_object_get(cur, key);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(cur, key, next);
        }
        cur = next;
        p = dot ? dot + 1 : p + n;
    }
    return cur;
}

static const json_t *lookup(const json_t *o, const char *path)
{
    char key[64];
    const char *p = path, *dot;
    size_t n;

    while (o && *p) {
        dot = strchr(p, '.');
        n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        o = json_object_get(o, key);
        p = dot ? dot + 1 : p + n;
    }
    return o;
}

int probe_has_string(const json_t *arr, const char *s)
{
    const json_t *v;
    size_t i;

    json_array_foreach(arr, i, v)
        if (json_string_value(v) && strcasecmp(json_string_value(v), s) == 0)
            return 1;
    return 0;
}

const char *probe_get_str(const json_t *o, const char *path)
{
    return json_string_value(lookup(o, path));
}

double probe_get_num(const json_t *o, const char *path, double dflt)
{
    const json_t *v = lookup(o, path);

    return json_is_number(v) ? json_number_value(v) : dflt;
}

int probe_get_bool(const json_t *o, const char *path)
{
    const json_t *v = lookup(o, path);

    return json_is_boolean(v) ? json_is_true(v) : -1;
}

json_t *probe_jms(double v)
{
    /* milliseconds to a tenth of a microsecond is more than enough */
    return v < 0 ? json_null() : json_real((double)(long long)(v * 10000 + 0.5) / 10000);
}

json_t *probe_stage(struct probe_report *r, const char *name, int ok, double ms,
                    const char *fmt, ...)
{
    char detail[1024];
    json_t *st = json_object();
    va_list ap;

    detail[0] = '\0';
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    json_object_set_new(st, "name", json_string(name));
    json_object_set_new(st, "ok", json_boolean(ok));
    json_object_set_new(st, "ms", probe_jms(ms));
    json_object_set_new(st, "detail", probe_jstr(detail));
    json_array_append_new(r->stages, st);
    return st;
}

void probe_finding(struct probe_report *r, enum probe_status sev, const char *code,
                   const char *fmt, ...)
{
    char msg[1024];
    json_t *f = json_object();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_object_set_new(f, "severity", json_string(sev == PROBE_OK ? "info" : probe_status_name(sev)));
    json_object_set_new(f, "code", json_string(code));
    json_object_set_new(f, "message", probe_jstr(msg));
    json_array_append_new(r->findings, f);
    if (sev > r->status)
        r->status = sev;
    if (sev == PROBE_CRITICAL && !r->fatal.code)
        r->threshold_failed = 1;
}

void probe_fail(struct probe_report *r, const char *stage, double ms, const struct xu_error *e)
{
    enum probe_status sev = PROBE_CRITICAL;

    /* our own trouble (configuration, memory) says nothing about the server */
    if (e->code == XU_EX_CONFIG || e->code == XU_EX_OSERR || e->code == XU_EX_SOFTWARE ||
        e->code == XU_EX_USAGE)
        sev = PROBE_UNKNOWN;
    probe_stage(r, stage, 0, ms, "%s", e->msg);
    probe_finding(r, sev, stage, "%s", e->msg);
    if (!r->fatal.code)
        r->fatal = *e;
}

void probe_report_finish(struct probe_report *r)
{
    json_object_set_new(r->root, "ms", probe_jms(probe_ms_since(r->t0)));
    json_object_set_new(r->root, "status", json_string(probe_status_name(r->status)));
}

static int finish_write(FILE *fp)
{
    if (fflush(fp) != 0 || ferror(fp))
        return XU_EX_IOERR;
    return 0;
}

int probe_write_json(const struct probe_report *r, FILE *fp)
{
    if (json_dumpf(r->root, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        return XU_EX_IOERR;
    fputc('\n', fp);
    return finish_write(fp);
}

/* ---- XML: the same document, objects as elements, arrays as repeated
 * elements named for one item ---- */

static void singular(const char *key, char *out, size_t len)
{
    static const char *const map[][2] = {
        {"targets", "target"}, {"stages", "stage"}, {"pre_tls", "feature"},
        {"post_tls", "feature"}, {"post_auth", "feature"}, {"features", "feature"},
        {"san", "name"}, {"xmpp_addr", "name"}, {"chain", "cert"},
        {"mechanisms", "mechanism"}, {"mechanisms_pre_tls", "mechanism"},
        {"identities", "identity"}, {"findings", "finding"}, {"values", "value"},
        {"configuration", "feature"}, {"addresses", "address"},
    };
    size_t i;

    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(key, map[i][0]) == 0) {
            snprintf(out, len, "%s", map[i][1]);
            return;
        }
    snprintf(out, len, "item");
}

static void xml_value(xmlTextWriterPtr w, const char *name, const json_t *v)
{
    char item[64], num[64];
    const char *key;
    json_t *m;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        xmlTextWriterStartElement(w, BAD_CAST name);
        json_object_foreach((json_t *)v, key, m)
            xml_value(w, key, m);
        xmlTextWriterEndElement(w);
        break;
    case JSON_ARRAY:
        singular(name, item, sizeof item);
        xmlTextWriterStartElement(w, BAD_CAST name);
        json_array_foreach(v, i, m)
            xml_value(w, item, m);
        xmlTextWriterEndElement(w);
        break;
    case JSON_STRING:
        xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST json_string_value(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST num);
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%.4f", json_real_value(v));
        xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST num);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST(json_is_true(v) ? "true" : "false"));
        break;
    case JSON_NULL:
        break; /* absent */
    }
}

int probe_write_xml(const struct probe_report *r, FILE *fp)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    const char *key;
    json_t *m;
    int rc = 0;

    if (!w) {
        xmlBufferFree(buf);
        return XU_EX_OSERR;
    }
    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterSetIndentString(w, BAD_CAST "  ");
    xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL);
    xmlTextWriterStartElement(w, BAD_CAST "probe");
    xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST "urn:xmpputils:probe:1");
    json_object_foreach(r->root, key, m)
        xml_value(w, key, m);
    xmlTextWriterEndElement(w);
    xmlTextWriterEndDocument(w);
    xmlFreeTextWriter(w);
    if (fwrite(xmlBufferContent(buf), 1, (size_t)xmlBufferLength(buf), fp) !=
        (size_t)xmlBufferLength(buf))
        rc = XU_EX_IOERR;
    xmlBufferFree(buf);
    return rc ? rc : finish_write(fp);
}

/* ---- text: aligned, one stage a line, findings marked ---- */

static const char *upper(const char *s, char *buf, size_t len)
{
    size_t i;

    for (i = 0; s && s[i] && i + 1 < len; i++)
        buf[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    buf[i] = '\0';
    return buf;
}

static const char *safe(const char *s, char *buf, size_t len)
{
    xu_sanitize_terminal(buf, len, s ? s : "");
    return buf;
}

static void text_features(FILE *fp, const char *title, const json_t *list)
{
    char b1[256], b2[256], vals[1024];
    const json_t *f, *v;
    size_t i, j, n;

    if (!json_is_array(list) || json_array_size(list) == 0)
        return;
    fprintf(fp, "%s:\n", title);
    json_array_foreach(list, i, f) {
        vals[0] = '\0';
        n = 0;
        json_array_foreach(json_object_get(f, "values"), j, v) {
            n += (size_t)snprintf(vals + n, n < sizeof vals ? sizeof vals - n : 0, "%s%s",
                                  n ? " " : "", json_string_value(v) ? json_string_value(v) : "");
            if (n >= sizeof vals)
                break;
        }
        fprintf(fp, "  %-14s %-44s %s%s", safe(probe_get_str(f, "name"), b1, sizeof b1),
                safe(probe_get_str(f, "ns"), b2, sizeof b2),
                probe_get_bool(f, "required") == 1 ? "required " : "",
                probe_get_bool(f, "optional") == 1 ? "optional " : "");
        fprintf(fp, "%s\n", safe(vals, b1, sizeof b1));
    }
}

static void text_list(FILE *fp, const char *label, const json_t *list)
{
    char b[512];
    const json_t *v;
    size_t i;

    if (!json_is_array(list) || json_array_size(list) == 0)
        return;
    fprintf(fp, "  %-12s", label);
    json_array_foreach(list, i, v)
        fprintf(fp, " %s", safe(json_string_value(v), b, sizeof b));
    fputc('\n', fp);
}

static void text_cert(FILE *fp, const json_t *tls)
{
    const json_t *cert = json_object_get(tls, "cert");
    char b[1024];
    int verified;

    if (!json_is_object(tls))
        return;
    fprintf(fp, "TLS:\n");
    fprintf(fp, "  %-12s %s %s%s%s\n", "protocol", safe(probe_get_str(tls, "version"), b, sizeof b),
            probe_get_str(tls, "cipher") ? probe_get_str(tls, "cipher") : "",
            probe_get_str(tls, "alpn") ? ", ALPN " : "",
            probe_get_str(tls, "alpn") ? probe_get_str(tls, "alpn") : "");
    if (!json_is_object(cert))
        return;
    fprintf(fp, "  %-12s %s\n", "subject", safe(probe_get_str(cert, "subject"), b, sizeof b));
    text_list(fp, "DNS names", json_object_get(cert, "san"));
    text_list(fp, "XmppAddr", json_object_get(cert, "xmpp_addr"));
    fprintf(fp, "  %-12s %s\n", "issuer", safe(probe_get_str(cert, "issuer"), b, sizeof b));
    fprintf(fp, "  %-12s %s to %s (%.0f days left)\n", "valid", probe_get_str(cert, "not_before"),
            probe_get_str(cert, "not_after"), probe_get_num(cert, "days_left", 0));
    fprintf(fp, "  %-12s %s\n", "SHA-256", probe_get_str(cert, "sha256"));
    verified = probe_get_bool(tls, "verified");
    fprintf(fp, "  %-12s %s%s%s\n", "verified", verified == 1 ? "yes" : "NO",
            probe_get_str(tls, "verify_error") ? ": " : "",
            safe(probe_get_str(tls, "verify_error"), b, sizeof b));
}

static void text_session(FILE *fp, const json_t *root)
{
    char b[1024], b2[256];
    const json_t *id, *v;
    size_t i;

    if (probe_get_str(root, "sasl.used"))
        fprintf(fp, "  %-12s %s%s%s%s\n", "SASL", probe_get_str(root, "sasl.used"),
                probe_get_str(root, "sasl.channel_binding") ? " with " : "",
                probe_get_str(root, "sasl.channel_binding") ? probe_get_str(root, "sasl.channel_binding") : "",
                probe_get_bool(root, "sasl.server_signature_verified") == 1
                    ? ", server signature verified" : "");
    if (probe_get_bool(root, "sm.offered") >= 0)
        fprintf(fp, "  %-12s %s\n", "stream mgmt", probe_get_bool(root, "sm.offered") == 1
                ? "offered (XEP-0198)" : "not offered");
    if (probe_get_str(root, "bind.jid"))
        fprintf(fp, "  %-12s %s\n", "bound JID", safe(probe_get_str(root, "bind.jid"), b, sizeof b));
    if (probe_get_num(root, "ping.ms", -1) >= 0)
        fprintf(fp, "  %-12s %.1f ms\n", "ping", probe_get_num(root, "ping.ms", 0));
    json_array_foreach(json_object_get(json_object_get(root, "disco"), "identities"), i, id)
        fprintf(fp, "  %-12s %s/%s %s\n", "identity",
                safe(probe_get_str(id, "category"), b, sizeof b),
                safe(probe_get_str(id, "type"), b2, sizeof b2),
                probe_get_str(id, "name") ? probe_get_str(id, "name") : "");
    text_list(fp, "disco", json_object_get(json_object_get(root, "disco"), "features"));
    v = json_object_get(root, "version");
    if (json_is_object(v))
        fprintf(fp, "  %-12s %s %s%s%s\n", "software", safe(probe_get_str(v, "name"), b, sizeof b),
                safe(probe_get_str(v, "version"), b2, sizeof b2),
                probe_get_str(v, "os") ? " on " : "",
                probe_get_str(v, "os") ? probe_get_str(v, "os") : "");
}

int probe_write_text(const struct probe_report *r, FILE *fp)
{
    const json_t *root = r->root, *t, *st, *f, *feat = json_object_get(root, "features");
    char b[1024], b2[512], where[300];
    size_t i;
    double ms;

    fprintf(fp, "%s, mode %s, %s\n", safe(probe_get_str(root, "domain"), b, sizeof b),
            probe_get_str(root, "mode"), probe_get_str(root, "time"));
    fprintf(fp, "Targets:\n");
    json_array_foreach(json_object_get(root, "targets"), i, t) {
        snprintf(where, sizeof where, "%s:%.0f", probe_get_str(t, "host"),
                 probe_get_num(t, "port", 0));
        fprintf(fp, "  %-30s %-9s %-9s %s\n", safe(where, b, sizeof b),
                probe_get_str(t, "source"), probe_get_str(t, "tls"),
                probe_get_bool(t, "ok") == 1   ? "ok"
                : probe_get_bool(t, "ok") == 0 ? safe(probe_get_str(t, "error"), b2, sizeof b2)
                                               : "not tried");
    }
    fprintf(fp, "Stages:\n");
    json_array_foreach(r->stages, i, st) {
        ms = probe_get_num(st, "ms", -1);
        if (ms >= 0)
            snprintf(b2, sizeof b2, "%9.1f ms", ms);
        else
            snprintf(b2, sizeof b2, "%12s", "");
        fprintf(fp, "  %-13s %-6s %s  %s\n", probe_get_str(st, "name"),
                probe_get_bool(st, "ok") == 1 ? "ok" : "FAILED", b2,
                safe(probe_get_str(st, "detail"), b, sizeof b));
    }
    if (json_is_object(json_object_get(root, "stream")))
        fprintf(fp, "Stream:\n  id %s, version %s, from %s, lang %s\n",
                safe(probe_get_str(root, "stream.id"), b, sizeof b),
                probe_get_str(root, "stream.version") ? probe_get_str(root, "stream.version") : "-",
                safe(probe_get_str(root, "stream.from"), b2, sizeof b2),
                probe_get_str(root, "stream.lang") ? probe_get_str(root, "stream.lang") : "-");
    text_features(fp, "Features before TLS", json_object_get(feat, "pre_tls"));
    text_features(fp, "Features after TLS", json_object_get(feat, "post_tls"));
    text_features(fp, "Features after authentication", json_object_get(feat, "post_auth"));
    text_features(fp, "Client configuration (connection manager)",
                  json_object_get(json_object_get(root, "cm"), "configuration"));
    text_cert(fp, json_object_get(root, "tls"));
    if (probe_get_str(root, "sasl.used") || json_object_get(root, "bind") ||
        json_object_get(root, "disco") || json_object_get(root, "version")) {
        fprintf(fp, "Session:\n");
        text_session(fp, root);
    }
    if (json_array_size(r->findings)) {
        fprintf(fp, "Findings:\n");
        json_array_foreach(r->findings, i, f) {
            upper(probe_get_str(f, "severity"), b2, sizeof b2);
            fprintf(fp, "  %s %-8s %s\n", strcmp(b2, "INFO") == 0 ? " " : "!", b2,
                    safe(probe_get_str(f, "message"), b, sizeof b));
        }
    }
    fprintf(fp, "Status: %s (%.1f ms)\n", upper(probe_status_name(r->status), b2, sizeof b2), probe_get_num(root, "ms", 0));
    return finish_write(fp);
}

#include "probe_run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "msg.h"
#include "probe_conn.h"
#include "probe_tls.h"
#include "session.h"
#include "trace.h"

#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_STREAM_ERR "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_CM "http://jabber.org/protocol/connectionmanager"

static const char *mode_ns(enum probe_mode m)
{
    switch (m) {
    case PROBE_S2S: return "jabber:server";
    case PROBE_COMPONENT: return "jabber:component:accept";
    case PROBE_CM: return "jabber:connectionmanager";
    default: return "jabber:client";
    }
}

static unsigned default_port(enum probe_mode m, int direct)
{
    switch (m) {
    case PROBE_S2S: return direct ? 5270 : 5269;
    case PROBE_COMPONENT: return 5347;
    case PROBE_CM: return 5262;
    default: return direct ? 5223 : 5222;
    }
}

/* ---- targets ---- */

static void add_target(json_t *arr, const struct probe_target *t, int tls_off)
{
    json_t *j = json_object();

    json_object_set_new(j, "host", probe_jstr(t->host));
    json_object_set_new(j, "port", json_integer(t->port));
    json_object_set_new(j, "source", json_string(t->source));
    json_object_set_new(j, "tls", json_string(t->direct_tls ? "direct" : tls_off ? "none" : "starttls"));

    if (strcmp(t->source, "srv") == 0) {
        json_object_set_new(j, "priority", json_integer(t->priority));
        json_object_set_new(j, "weight", json_integer(t->weight));
    }
    json_object_set_new(j, "address", json_null());
    json_object_set_new(j, "ok", json_null());
    json_object_set_new(j, "error", json_null());
    json_object_set_new(j, "ms", json_null());
    json_array_append_new(arr, j);
}

int probe_find_targets(const struct probe_cfg *cfg, struct probe_report *r,
                       struct probe_target *t, int max)
{
    const struct xu_opts *o = cfg->opts;
    json_t *arr = json_object_get(r->root, "targets");
    int direct = o->tls == XU_TLS_DIRECT, tls_off = o->tls == XU_TLS_OFF;
    int n = 0, i, dot, dots = 0, tried = 0, rc;
    const char *svc[2][2] = {{"_xmpp-client._tcp", "_xmpps-client._tcp"},
                             {"_xmpp-server._tcp", "_xmpps-server._tcp"}};
    struct xu_error err = {0, ""};
    double t0 = xu_now();

    if (cfg->mode == PROBE_COMPONENT || cfg->mode == PROBE_CM || o->host || o->port) {
        memset(&t[0], 0, sizeof t[0]);
        snprintf(t[0].host, sizeof t[0].host, "%s",
                 o->host ? o->host : cfg->host ? cfg->host : cfg->domain);
        t[0].port = o->port ? o->port : default_port(cfg->mode, direct);
        t[0].direct_tls = direct && cfg->mode != PROBE_COMPONENT;
        t[0].source = "cli";
        add_target(arr, &t[0], tls_off || cfg->mode == PROBE_COMPONENT);
        return 1;
    }
    for (i = 0; i < 2; i++) {
        /* [0] STARTTLS records, [1] direct TLS ones (XEP-0368) */
        if ((i == 0 && direct) || (i == 1 && tls_off))
            continue;
        tried++;
        xu_error_clear(&err);
        rc = probe_srv_lookup(svc[cfg->mode == PROBE_S2S][i], cfg->domain, i, cfg->deadline, t, &n,
                              max, &dot, &err);
        xu_trace_info(cfg->trace, "SRV %s.%s: %s", svc[cfg->mode == PROBE_S2S][i], cfg->domain,
                      rc ? err.msg : "looked up");
        if (rc == XU_EX_UNAVAILABLE)
            dots++;
        else if (rc)
            probe_finding(r, PROBE_WARNING, "dns", "%s", err.msg);
    }
    if (dots == tried) {
        xu_error_replace(&err, XU_EX_UNAVAILABLE, "%s says that it offers no XMPP service here",
                         cfg->domain);
        probe_fail(r, "dns", probe_ms_since(t0), &err);
        return 0;
    }
    probe_targets_sort(t, n);
    if (n == 0) {
        memset(&t[0], 0, sizeof t[0]);
        snprintf(t[0].host, sizeof t[0].host, "%s", cfg->domain);
        t[0].port = default_port(cfg->mode, direct);
        t[0].direct_tls = direct;
        t[0].source = "fallback";
        n = 1;
        probe_stage(r, "dns", 1, probe_ms_since(t0), "no SRV records: falling back to %s:%u",
                    cfg->domain, t[0].port);
    } else {
        probe_stage(r, "dns", 1, probe_ms_since(t0), "%d SRV target%s", n, n == 1 ? "" : "s");
    }
    for (i = 0; i < n; i++)
        add_target(arr, &t[i], tls_off);
    return n;
}

/* ---- features ---- */

/* The features as [{name, ns, required, optional, values}]; SASL mechanism
 * names are also appended to mechs if not NULL. */
static json_t *features_json(xmlNodePtr features, json_t *mechs)
{
    json_t *arr = json_array(), *f, *vals;
    xmlNodePtr c, g;
    char *text;

    for (c = features ? features->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        f = json_object();
        vals = json_array();
        json_object_set_new(f, "name", probe_jstr((const char *)c->name));
        json_object_set_new(f, "ns", c->ns ? probe_jstr((const char *)c->ns->href) : json_null());
        json_object_set_new(f, "required", json_boolean(probe_child(c, NULL, "required") != NULL));
        if (probe_child(c, NULL, "optional"))
            json_object_set_new(f, "optional", json_true());
        for (g = c->children; g; g = g->next) {
            if (g->type != XML_ELEMENT_NODE || probe_is(g, NULL, "required") ||
                probe_is(g, NULL, "optional"))
                continue;
            text = probe_text(g);
            if (text && *text) {
                json_array_append_new(vals, probe_jstr(text));
                if (mechs && probe_is(c, NS_SASL, "mechanisms"))
                    json_array_append_new(mechs, probe_jstr(text));
            }
            free(text);
        }
        if (json_array_size(vals))
            json_object_set_new(f, "values", vals);
        else
            json_decref(vals);
        json_array_append_new(arr, f);
    }
    return arr;
}

static void feature_names(const json_t *arr, char *buf, size_t len)
{
    const json_t *f;
    size_t i, n = 0;

    buf[0] = '\0';
    json_array_foreach(arr, i, f) {
        if (n >= len)
            break;
        n += (size_t)snprintf(buf + n, len - n, "%s%s%s", n ? ", " : "",
                              probe_get_str(f, "name") ? probe_get_str(f, "name") : "?",
                              probe_get_bool(f, "required") == 1 ? " (required)" : "");
        if (json_array_size(json_object_get(f, "values")) && n < len) {
            const json_t *v;
            size_t j;

            json_array_foreach(json_object_get(f, "values"), j, v)
                if (n < len)
                    n += (size_t)snprintf(buf + n, len - n, "%s%s", j ? " " : " (",
                                          json_string_value(v) ? json_string_value(v) : "");
            if (n < len)
                n += (size_t)snprintf(buf + n, len - n, ")");
        }
    }
    if (!buf[0])
        snprintf(buf, len, "none");
}

/* ---- the stream on our own connection ---- */

struct inspect {
    const struct probe_cfg *cfg;
    struct probe_report *r;
    struct probe_conn *c;
    const struct probe_target *t;
};

static int fail(struct inspect *in, const char *stage, double t0, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(struct inspect *in, const char *stage, double t0, int code, const char *fmt, ...)
{
    struct xu_error e = {0, ""};
    va_list ap;

    e.code = code;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    probe_fail(in->r, stage, t0 > 0 ? probe_ms_since(t0) : -1, &e);
    return code;
}

static int fail_err(struct inspect *in, const char *stage, double t0, const struct xu_error *e)
{
    probe_fail(in->r, stage, t0 > 0 ? probe_ms_since(t0) : -1, e);
    return e->code;
}

/* A <stream:error/> as a failure of stage; what: how it reads. */
static int stream_error_as(struct inspect *in, const char *stage, double t0, xmlNodePtr el,
                           const char *what)
{
    char cond[512];
    int code = XU_EX_PROTOCOL;

    probe_condition(el, NS_STREAM_ERR, cond, sizeof cond);
    if (strncmp(cond, "host-unknown", 12) == 0)
        code = XU_EX_NOHOST;
    else if (strncmp(cond, "not-authorized", 14) == 0)
        code = XU_EX_NOPERM;
    else if (strncmp(cond, "see-other-host", 14) == 0 || strncmp(cond, "host-gone", 9) == 0)
        code = XU_EX_UNAVAILABLE;
    else if (strncmp(cond, "system-shutdown", 15) == 0 ||
             strncmp(cond, "resource-constraint", 19) == 0 ||
             strncmp(cond, "internal-server-error", 21) == 0 ||
             strncmp(cond, "connection-timeout", 18) == 0)
        code = XU_EX_TEMPFAIL;
    return fail(in, stage, t0, code, "%s: %s", what, cond);
}

static int stream_error(struct inspect *in, const char *stage, double t0, xmlNodePtr el)
{
    return stream_error_as(in, stage, t0, el, "the server ended the stream");
}

static void stream_header_text(struct inspect *in, char *buf, size_t len, const char *to)
{
    const char *ns = mode_ns(in->cfg->mode);

    snprintf(buf, len,
             "<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='" NS_STREAMS
             "'%s to='%s'%s xml:lang='en'>",
             ns, in->cfg->mode == PROBE_S2S ? " xmlns:db='jabber:server:dialback'" : "", to,
             in->cfg->mode == PROBE_COMPONENT ? "" : " version='1.0'");
}

/* Open a stream and read its header: stage `stage`. */
static int open_stream(struct inspect *in, const char *stage, const char *to, xmlNodePtr *root,
                       double *t_end)
{
    struct xu_error e = {0, ""};
    char header[1024];
    char *id, *version, *from;
    xmlChar *lang;
    json_t *st = probe_obj(in->r, "stream");
    double t0 = xu_now();

    stream_header_text(in, header, sizeof header, to);
    if (probe_conn_open_stream(in->c, header, &e) || probe_conn_header(in->c, root, &e))
        return fail_err(in, stage, t0, &e);
    *t_end = xu_now();
    if (!probe_is(*root, NS_STREAMS, "stream"))
        return fail(in, stage, t0, XU_EX_PROTOCOL, "%s answered with <%s>, not an XMPP stream",
                    in->c->address, (const char *)(*root)->name);
    id = probe_attr(*root, "id");
    version = probe_attr(*root, "version");
    from = probe_attr(*root, "from");
    lang = xmlGetNsProp(*root, BAD_CAST "lang", XML_XML_NAMESPACE);
    json_object_set_new(st, "id", probe_jstr(id));
    json_object_set_new(st, "version", probe_jstr(version));
    json_object_set_new(st, "from", probe_jstr(from));
    json_object_set_new(st, "lang", probe_jstr((const char *)lang));
    probe_stage(in->r, stage, 1, (*t_end - t0) * 1000, "id %s, version %s, from %s, lang %s",
                id ? id : "(none)", version ? version : "(none)", from ? from : "(none)",
                lang ? (const char *)lang : "(none)");
    if (from && strcasecmp(from, in->cfg->domain) != 0 && in->cfg->mode != PROBE_CM)
        probe_finding(in->r, PROBE_WARNING, "stream-from",
                      "the stream comes from %s, not %s", from, in->cfg->domain);
    if (!id && in->cfg->mode != PROBE_S2S)
        probe_finding(in->r, PROBE_WARNING, "stream-id", "the stream header has no id");
    free(id);
    free(version);
    free(from);
    xmlFree(lang);
    return 0;
}

/* Read <stream:features/> (caller frees *el): stage `stage`, timed from t0. */
static int read_features(struct inspect *in, const char *stage, double t0, xmlNodePtr *el)
{
    struct xu_error e = {0, ""};

    if (probe_conn_next(in->c, el, &e))
        return fail_err(in, stage, t0, &e);
    if (probe_is(*el, NS_STREAMS, "error")) {
        int rc = stream_error(in, stage, t0, *el);
        xmlFreeNode(*el);
        *el = NULL;
        return rc;
    }
    if (!probe_is(*el, NS_STREAMS, "features")) {
        int rc = fail(in, stage, t0, XU_EX_PROTOCOL, "expected <stream:features/>, got <%s>",
                      (const char *)(*el)->name);
        xmlFreeNode(*el);
        *el = NULL;
        return rc;
    }
    return 0;
}

static int do_tls(struct inspect *in, const char *alpn)
{
    struct xu_error e = {0, ""};
    struct probe_tls_result res;
    const struct xu_opts *o = in->cfg->opts;
    json_t *tls = probe_obj(in->r, "tls");
    const char *name = in->cfg->tls_name ? in->cfg->tls_name : in->cfg->domain;
    double t0 = xu_now(), ms;

    json_object_set_new(tls, "mode", json_string(in->t->direct_tls ? "direct" : "starttls"));
    if (probe_conn_tls(in->c, in->cfg->tls, name, alpn, &e))
        return fail_err(in, "tls", t0, &e);
    ms = probe_ms_since(t0);
    probe_tls_inspect(in->c->ssl, name, o->tls_fingerprint, tls, &res);
    if (probe_get_bool(tls, "verified") == 1 || o->tls_insecure) {
        probe_stage(in->r, "tls", 1, ms, "%s, %s, certificate %s, %.0f days left%s",
                    probe_get_str(tls, "version"), probe_get_str(tls, "cipher"),
                    probe_get_str(tls, "cert.subject") ? probe_get_str(tls, "cert.subject") : "?",
                    res.days_left, probe_get_bool(tls, "verified") == 1 ? ", verified" : "");
        if (probe_get_bool(tls, "verified") != 1)
            probe_finding(in->r, PROBE_WARNING, "cert-unverified",
                          "the certificate does not verify for %s (%s); ignored because of "
                          "--tls-insecure", name, res.verify_error);
        return 0;
    }
    e.code = XU_EX_NOPERM;
    snprintf(e.msg, sizeof e.msg, "the certificate of %s does not verify: %s", name,
             res.verify_error);
    probe_fail(in->r, "tls", ms, &e);
    return 0; /* go on reading the stream: the report still wants it */
}

static int starttls(struct inspect *in)
{
    struct xu_error e = {0, ""};
    xmlNodePtr el = NULL;
    double t0 = xu_now();
    int ok;

    if (probe_conn_send(in->c, "<starttls xmlns='" NS_TLS "'/>", &e) ||
        probe_conn_next(in->c, &el, &e))
        return fail_err(in, "starttls", t0, &e);
    ok = probe_is(el, NS_TLS, "proceed");
    if (!ok) {
        int rc = probe_is(el, NS_STREAMS, "error")
                     ? stream_error(in, "starttls", t0, el)
                     : fail(in, "starttls", t0, XU_EX_PROTOCOL, "the server refused STARTTLS (<%s/>)",
                            (const char *)el->name);
        xmlFreeNode(el);
        return rc;
    }
    xmlFreeNode(el);
    probe_stage(in->r, "starttls", 1, probe_ms_since(t0), "proceed");
    return 0;
}

static void judge_post_tls(struct inspect *in, xmlNodePtr features);

/* Features before TLS: what they tell, and whether to go on: *go_tls is 1
 * for STARTTLS, 0 for no TLS (--tls off), -1 when STARTTLS is missing. */
static void judge_pre_tls(struct inspect *in, xmlNodePtr features, int *go_tls)
{
    const struct xu_opts *o = in->cfg->opts;
    json_t *mechs = json_array(), *st = probe_obj(in->r, "starttls");
    json_t *sasl = probe_obj(in->r, "sasl");
    xmlNodePtr tls = probe_child(features, NS_TLS, "starttls");
    int required = tls && probe_child(tls, NULL, "required");

    json_object_set_new(probe_obj(in->r, "features"), "pre_tls", features_json(features, mechs));
    json_object_set_new(sasl, "mechanisms_pre_tls", mechs);
    json_object_set_new(st, "offered", json_boolean(tls != NULL));
    json_object_set_new(st, "required", json_boolean(required));
    if (probe_has_string(mechs, "PLAIN"))
        probe_finding(in->r, PROBE_WARNING, "plain-in-clear",
                      "SASL PLAIN is offered before TLS: a client could send its password in clear");
    if (o->tls == XU_TLS_OFF) {
        probe_finding(in->r, PROBE_WARNING, "tls-not-tested", "TLS was not tested (--tls off)");
        json_object_set_new(sasl, "mechanisms", json_copy(mechs));
        *go_tls = 0;
        return;
    }
    *go_tls = tls ? 1 : -1;
    if (tls && !required)
        probe_finding(in->r, PROBE_WARNING, "starttls-optional",
                      "STARTTLS is offered but not required: clients may use the stream in clear");
}

/* After the features before TLS: STARTTLS, TLS, the stream again. */
static int upgrade(struct inspect *in, int go_tls)
{
    xmlNodePtr root, el = NULL;
    char names[1024];
    double t_header, t0;
    int rc;

    if (go_tls < 0)
        return fail(in, "starttls", 0, XU_EX_PROTOCOL, "%s does not offer STARTTLS",
                    in->c->address);
    if (go_tls == 0)
        return 0;
    if ((rc = starttls(in)) != 0 || (rc = do_tls(in, NULL)) != 0)
        return rc;
    t0 = xu_now();
    if ((rc = open_stream(in, "stream_tls", in->cfg->domain, &root, &t_header)) != 0 ||
        (rc = read_features(in, "features_tls", t0, &el)) != 0)
        return rc;
    judge_post_tls(in, el);
    feature_names(json_object_get(probe_obj(in->r, "features"), "post_tls"), names, sizeof names);
    probe_stage(in->r, "features_tls", 1, probe_ms_since(t_header), "%s", names);
    xmlFreeNode(el);
    return 0;
}

static void judge_post_tls(struct inspect *in, xmlNodePtr features)
{
    json_t *mechs = json_array();

    json_object_set_new(probe_obj(in->r, "features"), "post_tls", features_json(features, mechs));
    if (in->cfg->mode == PROBE_C2S && json_array_size(mechs) == 0)
        probe_finding(in->r, PROBE_WARNING, "no-sasl", "no SASL mechanism is offered after TLS");
    json_object_set_new(probe_obj(in->r, "sasl"), "mechanisms", mechs);
    if (in->cfg->mode == PROBE_S2S) {
        /* how another server could authenticate to this one */
        int dialback = probe_child(features, "urn:xmpp:features:dialback", "dialback") != NULL;
        int external = probe_has_string(mechs, "EXTERNAL");
        json_t *s2s = probe_obj(in->r, "s2s");

        json_object_set_new(s2s, "dialback", json_boolean(dialback));
        json_object_set_new(s2s, "sasl_external", json_boolean(external));
        if (!dialback && !external)
            probe_finding(in->r, PROBE_WARNING, "s2s-auth",
                          "neither dialback nor SASL EXTERNAL is offered after TLS");
    }
}

/* c2s and s2s: header, features, STARTTLS or direct TLS, features again. */
static int inspect_stream(struct inspect *in)
{
    xmlNodePtr root, el = NULL;
    char names[1024];
    double t_header;
    int rc, go_tls;

    if (in->t->direct_tls &&
        (rc = do_tls(in, in->cfg->mode == PROBE_S2S ? "xmpp-server" : "xmpp-client")) != 0)
        return rc;
    if ((rc = open_stream(in, "stream", in->cfg->domain, &root, &t_header)) != 0 ||
        (rc = read_features(in, "features", t_header, &el)) != 0)
        return rc;
    if (in->t->direct_tls) {
        json_object_set_new(probe_obj(in->r, "features"), "pre_tls", json_array());
        judge_post_tls(in, el);
        feature_names(json_object_get(probe_obj(in->r, "features"), "post_tls"), names, sizeof names);
        go_tls = 0;
    } else {
        judge_pre_tls(in, el, &go_tls);
        feature_names(json_object_get(probe_obj(in->r, "features"), "pre_tls"), names, sizeof names);
    }
    probe_stage(in->r, "features", 1, probe_ms_since(t_header), "%s", names);
    xmlFreeNode(el);
    return upgrade(in, go_tls);
}

/* ---- component (XEP-0114) and connection manager handshakes ---- */

static void sha1_hex(const char *a, const char *b, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    out[0] = '\0';
    if (!ctx)
        return;
    if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, a, strlen(a)) &&
        EVP_DigestUpdate(ctx, b, strlen(b)) && EVP_DigestFinal_ex(ctx, md, &n))
        for (i = 0; i < n && i < 20; i++)
            snprintf(out + i * 2, 3, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(md, sizeof md);
}

/* Openfire sends the client options as an iq after the handshake. */
static void cm_configuration(struct inspect *in)
{
    struct xu_error e = {0, ""};
    xmlNodePtr el = NULL, conf;
    double t0 = xu_now(), saved = in->c->deadline;
    char reply[600], names[1024], *id;

    if (in->c->deadline > t0 + 5)
        in->c->deadline = t0 + 5;
    while (!e.code && probe_conn_next(in->c, &el, &e) == 0) {
        conf = probe_is(el, NULL, "iq") ? probe_child(el, NS_CM, "configuration") : NULL;
        if (conf) {
            json_object_set_new(probe_obj(in->r, "cm"), "configuration", features_json(conf, NULL));
            id = probe_attr(el, "id");
            if (id && !strpbrk(id, "'<&")) {
                snprintf(reply, sizeof reply, "<iq type='result' id='%s'/>", id);
                probe_conn_send(in->c, reply, &e);
            }
            free(id);
            xmlFreeNode(el);
            feature_names(json_object_get(probe_obj(in->r, "cm"), "configuration"), names,
                          sizeof names);
            probe_stage(in->r, "configuration", 1, probe_ms_since(t0), "%s", names);
            in->c->deadline = saved;
            return;
        }
        xmlFreeNode(el);
        el = NULL;
    }
    in->c->deadline = saved;
    probe_stage(in->r, "configuration", 0, probe_ms_since(t0), "%s", e.msg);
    probe_finding(in->r, PROBE_WARNING, "cm-configuration",
                  "no client configuration from the server after the handshake: %s", e.msg);
}

static int handshake(struct inspect *in)
{
    struct xu_error e = {0, ""};
    xmlNodePtr root, el = NULL;
    json_t *hs = probe_obj(in->r, "handshake");
    char digest[41], msg[128], names[1024], *id;
    double t_header, t0;
    int rc, go_tls = 0;

    if ((rc = open_stream(in, "stream", in->cfg->domain, &root, &t_header)) != 0)
        return rc;
    if (in->cfg->mode == PROBE_CM) {
        /* Openfire: features (perhaps STARTTLS) before the handshake */
        if ((rc = read_features(in, "features", t_header, &el)) != 0)
            return rc;
        judge_pre_tls(in, el, &go_tls);
        feature_names(json_object_get(probe_obj(in->r, "features"), "pre_tls"), names,
                      sizeof names);
        probe_stage(in->r, "features", 1, probe_ms_since(t_header), "%s", names);
        xmlFreeNode(el);
        if (go_tls < 0)
            go_tls = 0; /* STARTTLS is optional for a connection manager */
        if ((rc = upgrade(in, go_tls)) != 0)
            return rc;
        /* the handshake hashes the id of the stream it is sent on */
        if (go_tls)
            root = xmlDocGetRootElement(in->c->xml->myDoc);
    }
    id = probe_attr(root, "id");
    if (!id)
        return fail(in, "handshake", 0, XU_EX_PROTOCOL, "the stream header has no id to hash");
    sha1_hex(id, in->cfg->secret, digest);
    free(id);
    snprintf(msg, sizeof msg, "<handshake>%s</handshake>", digest);
    OPENSSL_cleanse(digest, sizeof digest);
    t0 = xu_now();
    rc = probe_conn_send(in->c, msg, &e) || probe_conn_next(in->c, &el, &e);
    OPENSSL_cleanse(msg, sizeof msg);
    json_object_set_new(hs, "ok", json_false());
    if (rc) {
        json_object_set_new(hs, "error", probe_jstr(e.msg));
        return fail_err(in, "handshake", t0, &e);
    }
    if (probe_is(el, NULL, "handshake")) {
        xmlFreeNode(el);
        json_object_set_new(hs, "ok", json_true());
        json_object_set_new(hs, "ms", probe_jms(probe_ms_since(t0)));
        json_object_set_new(hs, "error", json_null());
        probe_stage(in->r, "handshake", 1, probe_ms_since(t0), "accepted as %s", in->cfg->domain);
        if (in->cfg->mode == PROBE_CM)
            cm_configuration(in);
        return 0;
    }
    if (probe_is(el, NS_STREAMS, "error")) {
        char what[1200];

        snprintf(what, sizeof what, "the handshake for %s was rejected (wrong secret?)",
                 in->cfg->domain);
        rc = stream_error_as(in, "handshake", t0, el, what);
    } else
        rc = fail(in, "handshake", t0, XU_EX_PROTOCOL, "expected <handshake/>, got <%s>",
                  (const char *)el->name);
    json_object_set_new(hs, "error", probe_jstr(in->r->fatal.msg));
    xmlFreeNode(el);
    return rc;
}

int probe_connect_and_inspect(const struct probe_cfg *cfg, struct probe_report *r,
                              struct probe_target *t, int n, int *used)
{
    json_t *arr = json_object_get(r->root, "targets"), *tj;
    struct xu_error e = {0, ""};
    struct probe_conn c;
    struct inspect in = {cfg, r, &c, NULL};
    double t0 = xu_now(), t1;
    int i, rc;

    *used = -1;
    for (i = 0; i < n; i++) {
        tj = json_array_get(arr, (size_t)i);
        probe_conn_init(&c, cfg->trace, cfg->deadline);
        xu_error_clear(&e);
        xu_trace_info(cfg->trace, "target %s:%u (%s)", t[i].host, t[i].port, t[i].source);
        t1 = xu_now();
        rc = probe_conn_connect(&c, t[i].host, t[i].port, cfg->family, &e);
        json_object_set_new(tj, "ms", probe_jms(probe_ms_since(t1)));
        json_object_set_new(tj, "ok", json_boolean(rc == 0));
        json_object_set_new(tj, "address", c.address[0] ? probe_jstr(c.address) : json_null());
        json_object_set_new(tj, "error", rc ? probe_jstr(e.msg) : json_null());
        if (rc) {
            probe_conn_close(&c, 0);
            if (i + 1 < n)
                probe_finding(r, PROBE_WARNING, "target", "target %s:%u: %s", t[i].host,
                              t[i].port, e.msg);
            if (xu_now() >= cfg->deadline)
                break;
            continue;
        }
        *used = i;
        probe_stage(r, "tcp", 1, probe_ms_since(t1), "connected to %s", c.address);
        in.t = &t[i];
        if (cfg->mode == PROBE_COMPONENT || cfg->mode == PROBE_CM)
            rc = handshake(&in);
        else
            rc = inspect_stream(&in);
        probe_conn_close(&c, r->fatal.code == 0 || rc == 0);
        return rc ? rc : r->fatal.code;
    }
    probe_fail(r, "tcp", probe_ms_since(t0), &e);
    return e.code;
}

/* ---- with credentials: a libstrophe session ---- */

struct iq_wait {
    int done;
    xmpp_stanza_t *reply;
};

static int on_iq_reply(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *ud)
{
    struct iq_wait *w = ud;

    (void)conn;
    w->done = 1;
    w->reply = xmpp_stanza_copy(stanza);
    return 0;
}

static int iq_done(void *ud)
{
    return ((struct iq_wait *)ud)->done;
}

/* An iq get with an empty <query xmlns=ns/> to `to`; *reply (caller
 * releases) is the answer, result or error. */
static int iq_query(struct xu_session *s, const char *to, const char *ns, xmpp_stanza_t **reply,
                    struct xu_error *err)
{
    struct iq_wait w = {0, NULL};
    xmpp_stanza_t *iq, *q;
    char *id = xu_session_new_id(s);
    int rc;

    iq = id ? xmpp_iq_new(s->ctx, "get", id) : NULL;
    q = xmpp_stanza_new(s->ctx);
    if (!iq || !q) {
        free(id);
        if (iq)
            xmpp_stanza_release(iq);
        if (q)
            xmpp_stanza_release(q);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    xmpp_stanza_set_name(q, "query");
    xmpp_stanza_set_ns(q, ns);
    xmpp_stanza_add_child(iq, q);
    xmpp_stanza_release(q);
    xmpp_stanza_set_to(iq, to);
    xmpp_id_handler_add(s->conn, on_iq_reply, id, &w);
    xu_session_send(s, iq);
    xmpp_stanza_release(iq);
    rc = xu_session_run(s, iq_done, &w, err);
    if (rc)
        xmpp_id_handler_delete(s->conn, on_iq_reply, id);
    free(id);
    *reply = w.reply;
    return rc;
}

static const char *child_text(xmpp_stanza_t *parent, const char *name, char *buf, size_t len)
{
    xmpp_stanza_t *c = parent ? xmpp_stanza_get_child_by_name(parent, name) : NULL;
    char *t = c ? xmpp_stanza_get_text(c) : NULL;

    if (!t)
        return NULL;
    snprintf(buf, len, "%s", t);
    xmpp_free(xmpp_stanza_get_context(parent), t);
    return buf;
}

static int is_error(xmpp_stanza_t *st)
{
    const char *type = st ? xmpp_stanza_get_type(st) : NULL;

    return !type || strcmp(type, "error") == 0;
}

static void error_text(xmpp_stanza_t *st, char *buf, size_t len)
{
    xmpp_stanza_t *e = st ? xmpp_stanza_get_child_by_name(st, "error") : NULL, *c;
    const char *name;

    snprintf(buf, len, "undefined-condition");
    for (c = e ? xmpp_stanza_get_children(e) : NULL; c; c = xmpp_stanza_get_next(c)) {
        name = xmpp_stanza_get_name(c);
        if (name && xmpp_stanza_is_tag(c) && strcmp(name, "text") != 0) {
            xu_sanitize_terminal(buf, len, name);
            return;
        }
    }
}

static void disco_stage(struct xu_session *s, struct probe_report *r, const char *domain)
{
    struct xu_error e = {0, ""};
    xmpp_stanza_t *reply = NULL, *q, *c;
    json_t *disco = probe_obj(r, "disco"), *ids = json_array(), *feats = json_array(), *id;
    const char *name;
    char why[256];
    double t0 = xu_now();

    if (iq_query(s, domain, "http://jabber.org/protocol/disco#info", &reply, &e)) {
        json_decref(ids);
        json_decref(feats);
        probe_stage(r, "disco", 0, probe_ms_since(t0), "%s", e.msg);
        probe_finding(r, PROBE_WARNING, "disco", "disco#info: %s", e.msg);
        return;
    }
    if (is_error(reply)) {
        error_text(reply, why, sizeof why);
        probe_stage(r, "disco", 0, probe_ms_since(t0), "error: %s", why);
        probe_finding(r, PROBE_WARNING, "disco", "disco#info of %s answered with an error: %s",
                      domain, why);
    } else {
        q = xmpp_stanza_get_child_by_name(reply, "query");
        for (c = q ? xmpp_stanza_get_children(q) : NULL; c; c = xmpp_stanza_get_next(c)) {
            name = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_name(c) : NULL;
            if (name && strcmp(name, "identity") == 0) {
                id = json_object();
                json_object_set_new(id, "category", probe_jstr(xmpp_stanza_get_attribute(c, "category")));
                json_object_set_new(id, "type", probe_jstr(xmpp_stanza_get_attribute(c, "type")));
                json_object_set_new(id, "name", probe_jstr(xmpp_stanza_get_attribute(c, "name")));
                json_array_append_new(ids, id);
            } else if (name && strcmp(name, "feature") == 0 && xmpp_stanza_get_attribute(c, "var")) {
                json_array_append_new(feats, probe_jstr(xmpp_stanza_get_attribute(c, "var")));
            }
        }
        probe_stage(r, "disco", 1, probe_ms_since(t0), "%zu identities, %zu features",
                    json_array_size(ids), json_array_size(feats));
    }
    json_object_set_new(disco, "identities", ids);
    json_object_set_new(disco, "features", feats);
    xmpp_stanza_release(reply);
}

static void version_stage(struct xu_session *s, struct probe_report *r, const char *domain)
{
    struct xu_error e = {0, ""};
    xmpp_stanza_t *reply = NULL, *q;
    json_t *v;
    char name[256], ver[256], os[256], why[256];
    double t0 = xu_now();

    if (iq_query(s, domain, "jabber:iq:version", &reply, &e)) {
        probe_stage(r, "version", 0, probe_ms_since(t0), "%s", e.msg);
        return;
    }
    if (is_error(reply)) {
        error_text(reply, why, sizeof why);
        probe_stage(r, "version", 0, probe_ms_since(t0), "error: %s", why);
        probe_finding(r, PROBE_OK, "version", "the server does not tell its software version (%s)",
                      why);
    } else {
        q = xmpp_stanza_get_child_by_name(reply, "query");
        v = probe_obj(r, "version");
        json_object_set_new(v, "name", probe_jstr(child_text(q, "name", name, sizeof name)));
        json_object_set_new(v, "version", probe_jstr(child_text(q, "version", ver, sizeof ver)));
        json_object_set_new(v, "os", probe_jstr(child_text(q, "os", os, sizeof os)));
        probe_stage(r, "version", 1, probe_ms_since(t0), "%s %s",
                    probe_get_str(v, "name") ? probe_get_str(v, "name") : "?",
                    probe_get_str(v, "version") ? probe_get_str(v, "version") : "");
    }
    xmpp_stanza_release(reply);
}

static void post_auth_features(struct xu_session *s, struct probe_report *r)
{
    static const char pre[] = "<w xmlns:stream='" NS_STREAMS "'>", post[] = "</w>";
    char *doc;
    xmlDocPtr d;
    xmlNodePtr root;

    if (!s->features || asprintf(&doc, "%s%s%s", pre, s->features, post) < 0)
        return;
    d = xmlReadMemory(doc, (int)strlen(doc), NULL, NULL,
                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free(doc);
    root = d ? xmlDocGetRootElement(d) : NULL;
    if (root && root->children)
        json_object_set_new(probe_obj(r, "features"), "post_auth",
                            features_json(probe_child(root, NULL, "features"), NULL));
    xmlFreeDoc(d);
}

static const char *login_stage_name(enum xu_phase p)
{
    switch (p) {
    case XU_PHASE_START:
    case XU_PHASE_TCP: return "login_connect";
    case XU_PHASE_STREAM:
    case XU_PHASE_TLS: return "login_connect";
    case XU_PHASE_AUTH: return "sasl";
    case XU_PHASE_BIND: return "bind";
    default: return "session";
    }
}

static double span_ms(const struct xu_session *s, enum xu_phase a, enum xu_phase b)
{
    return s->phase_at[a] > 0 && s->phase_at[b] >= s->phase_at[a]
               ? (s->phase_at[b] - s->phase_at[a]) * 1000
               : -1;
}

int probe_login(const struct probe_cfg *cfg, struct probe_report *r, const struct probe_target *t)
{
    struct xu_opts lo = *cfg->opts; /* borrowed strings: never freed through lo */
    struct xu_session s;
    struct xu_error e = {0, ""};
    json_t *sasl = probe_obj(r, "sasl");
    char host[256];
    double t0 = xu_now(), rtt = 0, ms;
    int rc;

    snprintf(host, sizeof host, "%s", t->host);
    lo.host = host;
    lo.port = t->port;
    lo.pw_source = XU_PW_CONFIG;
    lo.pw_value = (char *)cfg->password;
    if (t->direct_tls)
        lo.tls = XU_TLS_DIRECT;
    else if (lo.tls == XU_TLS_DIRECT)
        lo.tls = XU_TLS_STARTTLS;
    xu_session_share_trace(cfg->trace);
    xu_trace_info(cfg->trace, "logging in as %s at %s:%u", lo.jid, host, lo.port);
    rc = xu_session_open(&s, &lo, cfg->deadline, &e);
    xu_session_share_trace(NULL);
    if (s.phase_at[XU_PHASE_AUTH] > 0)
        probe_stage(r, "login_connect", 1, (s.phase_at[XU_PHASE_AUTH] - t0) * 1000,
                    "a second connection for the login: TCP, TLS, features");
    json_object_set_new(sasl, "used", s.sasl_mechanism[0] ? json_string(s.sasl_mechanism) : json_null());
    if (rc) {
        enum xu_phase p = s.phase == XU_PHASE_CLOSED ? XU_PHASE_AUTH : s.phase;
        const char *stage = login_stage_name(s.phase_at[XU_PHASE_BIND] > 0 ? XU_PHASE_BIND : p);

        if (s.phase_at[XU_PHASE_AUTH] == 0 && strcmp(stage, "sasl") == 0)
            stage = "login_connect";
        ms = strcmp(stage, "sasl") == 0 ? probe_ms_since(s.phase_at[XU_PHASE_AUTH])
             : strcmp(stage, "bind") == 0 ? probe_ms_since(s.phase_at[XU_PHASE_BIND])
                                          : probe_ms_since(t0);
        if (strcmp(stage, "sasl") == 0 || strcmp(stage, "login_connect") == 0) {
            json_object_set_new(sasl, "ok", json_false());
            json_object_set_new(sasl, "error", probe_jstr(e.msg));
        }
        probe_fail(r, stage, ms, &e);
        xu_session_free(&s);
        return rc;
    }
    json_object_set_new(sasl, "ok", json_true());
    json_object_set_new(sasl, "error", json_null());
    probe_stage(r, "sasl", 1, span_ms(&s, XU_PHASE_AUTH, XU_PHASE_BIND), "%s as %s",
                s.sasl_mechanism[0] ? s.sasl_mechanism : "?", lo.jid);
    probe_stage(r, "bind", 1, span_ms(&s, XU_PHASE_BIND, XU_PHASE_READY), "%s",
                s.bound_jid ? s.bound_jid : "?");
    json_object_set_new(probe_obj(r, "bind"), "jid", probe_jstr(s.bound_jid));
    post_auth_features(&s, r);

    t0 = xu_now();
    if ((rc = xu_session_roundtrip(&s, &rtt, &e)) != 0) {
        probe_fail(r, "ping", probe_ms_since(t0), &e);
    } else {
        probe_stage(r, "ping", 1, rtt, "round trip to %s", cfg->domain);
        json_object_set_new(probe_obj(r, "ping"), "ms", probe_jms(rtt));
        disco_stage(&s, r, cfg->domain);
        if (!s.disconnected)
            version_stage(&s, r, cfg->domain);
        t0 = xu_now();
        xu_session_close(&s);
        probe_stage(r, "close", s.disconnected, probe_ms_since(t0), "%s",
                    s.disconnected ? "the server closed its stream too" : "no answer to our close");
    }
    xu_session_free(&s);
    return rc;
}

/* ---- thresholds and expectations ---- */

static int feature_present(const json_t *root, const char *ns)
{
    static const char *const lists[] = {"pre_tls", "post_tls", "post_auth"};
    const json_t *feats = json_object_get(root, "features"), *f;
    size_t i, j;

    for (i = 0; i < 3; i++)
        json_array_foreach(json_object_get(feats, lists[i]), j, f)
            if (probe_get_str(f, "ns") && strcmp(probe_get_str(f, "ns"), ns) == 0)
                return 1;
    return probe_has_string(json_object_get(json_object_get(root, "disco"), "features"), ns);
}

static void ms_check(struct probe_report *r, const char *what, double ms, double warn, double crit)
{
    if (ms < 0)
        return;
    if (crit > 0 && ms > crit)
        probe_finding(r, PROBE_CRITICAL, "slow", "%s took %.1f ms (critical above %g ms)", what, ms,
                      crit);
    else if (warn > 0 && ms > warn)
        probe_finding(r, PROBE_WARNING, "slow", "%s took %.1f ms (warning above %g ms)", what, ms,
                      warn);
}

void probe_apply_checks(struct probe_report *r, const struct probe_checks *c)
{
    const json_t *root = r->root, *st;
    double days = probe_get_num(root, "tls.cert.days_left", -1e9);
    const char *when = probe_get_str(root, "tls.cert.not_after");
    json_t *mechs = json_object_get(json_object_get(root, "sasl"), "mechanisms");
    json_t *pre = json_object_get(json_object_get(root, "sasl"), "mechanisms_pre_tls");
    size_t j;
    int i;

    if (days > -1e9) {
        if (days < 0)
            probe_finding(r, PROBE_CRITICAL, "cert-expired", "the certificate expired on %s", when);
        else if (c->crit_days && days <= (double)c->crit_days)
            probe_finding(r, PROBE_CRITICAL, "cert-expiry",
                          "the certificate expires in %.0f days (%s; critical at %lu)", days, when,
                          c->crit_days);
        else if (c->warn_days && days <= (double)c->warn_days)
            probe_finding(r, PROBE_WARNING, "cert-expiry",
                          "the certificate expires in %.0f days (%s; warning at %lu)", days, when,
                          c->warn_days);
    }
    ms_check(r, "the probe", probe_ms_since(r->t0), c->warn_ms, c->crit_ms);
    for (i = 0; i < c->nstage; i++)
        json_array_foreach(r->stages, j, st)
            if (strcmp(probe_get_str(st, "name"), c->stage_name[i]) == 0)
                ms_check(r, c->stage_name[i], probe_get_num(st, "ms", -1), c->stage_warn[i],
                         c->stage_crit[i]);
    for (i = 0; i < c->nexpect_mech; i++)
        if (!probe_has_string(mechs, c->expect_mech[i]) && json_is_array(mechs))
            probe_finding(r, PROBE_CRITICAL, "expect-mechanism",
                          "SASL mechanism %s is not offered", c->expect_mech[i]);
    for (i = 0; i < c->nforbid_mech; i++)
        if (probe_has_string(mechs, c->forbid_mech[i]) || probe_has_string(pre, c->forbid_mech[i]))
            probe_finding(r, PROBE_CRITICAL, "forbid-mechanism", "SASL mechanism %s is offered",
                          c->forbid_mech[i]);
    for (i = 0; i < c->nexpect_feature; i++)
        if (!feature_present(root, c->expect_feature[i]))
            probe_finding(r, PROBE_CRITICAL, "expect-feature", "feature %s is not offered",
                          c->expect_feature[i]);
}

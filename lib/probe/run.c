#include "probe/run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "base/msg.h"
#include "probe/conn.h"
#include "probe/tls.h"
#include "xmpp/session.h"
#include "base/trace.h"

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

/* ---- features ---- */

json_t *probe_features_json(xmlNodePtr features, json_t *mechs)
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
             strncmp(cond, "connection-timeout", 18) == 0 ||
             /* the conditions that pass, as lib/xmpp/session_end.c maps them (README) */
             strncmp(cond, "conflict", 8) == 0 || strncmp(cond, "policy-violation", 16) == 0 ||
             strncmp(cond, "remote-connection-failed", 24) == 0)
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

    json_object_set_new(probe_obj(in->r, "features"), "pre_tls", probe_features_json(features, mechs));
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

    json_object_set_new(probe_obj(in->r, "features"), "post_tls", probe_features_json(features, mechs));
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
            json_object_set_new(probe_obj(in->r, "cm"), "configuration", probe_features_json(conf, NULL));
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

/* xmpp-probe's stages with credentials, through the suite's libstrophe
 * session: SASL, bind, features after authentication, ping, disco#info,
 * software version, close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "xmpp/iq.h"
#include "xmpp/message.h"
#include "base/msg.h"
#include "probe/conn.h"
#include "probe/run.h"
#include "xmpp/session.h"
#include "base/trace.h"

#define NS_STREAMS "http://etherx.jabber.org/streams"

/* An iq get with an empty <query xmlns=ns/> to `to`; *reply (caller
 * releases) is the answer, result or error. */
static int iq_query(struct xu_session *s, const char *to, const char *ns, xmpp_stanza_t **reply,
                    struct xu_error *err)
{
    xmpp_stanza_t *iq = xu_iq_new_child(s, "get", "query", ns, NULL);
    int rc;

    *reply = NULL;
    if (!iq)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    xmpp_stanza_set_to(iq, to);
    rc = xu_iq_request(s, iq, s->deadline > 0 ? s->deadline : xu_now() + 86400, reply, err);
    xmpp_stanza_release(iq);
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
        xu_stanza_error_text(reply, why, sizeof why);
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
        xu_stanza_error_text(reply, why, sizeof why);
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
                            probe_features_json(probe_child(root, NULL, "features"), NULL));
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
    /* what the suite's own login (lib/xmpp/negotiate.c) found out */
    json_object_set_new(sasl, "channel_binding", s.cb_type[0] ? json_string(s.cb_type) : json_null());
    json_object_set_new(sasl, "server_signature_verified", json_boolean(s.server_verified));
    json_object_set_new(probe_obj(r, "sm"), "offered", json_boolean(s.sm_offered));
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


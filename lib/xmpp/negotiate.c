/* The client login, one state machine over libstrophe's raw mode (see
 * negotiate.h): each handler below is one step, and every step reads and
 * writes the one struct xu_negotiation. What it keeps between runs is
 * negotiate_cache.c. */
#include "xmpp/negotiate.h"
#include "xmpp/negotiate_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "base/jid.h"
#include "base/msg.h"
#include "xmpp/sasl.h"
#include "xmpp/sm.h"
#include "base/secret.h"
#include "xmpp/state.h"
#include "xmpp/tlsinfo.h"
#include "base/trace.h"
#include "xml/stanza_out.h"
#include "xmpp/iq.h"

static const struct {
    const char *name;
    xmpp_error_type_t type;
} stream_conditions[] = {
    {"bad-format", XMPP_SE_BAD_FORMAT},
    {"bad-namespace-prefix", XMPP_SE_BAD_NS_PREFIX},
    {"conflict", XMPP_SE_CONFLICT},
    {"connection-timeout", XMPP_SE_CONN_TIMEOUT},
    {"host-gone", XMPP_SE_HOST_GONE},
    {"host-unknown", XMPP_SE_HOST_UNKNOWN},
    {"improper-addressing", XMPP_SE_IMPROPER_ADDR},
    {"internal-server-error", XMPP_SE_INTERNAL_SERVER_ERROR},
    {"invalid-from", XMPP_SE_INVALID_FROM},
    {"invalid-namespace", XMPP_SE_INVALID_NS},
    {"invalid-xml", XMPP_SE_INVALID_XML},
    {"not-authorized", XMPP_SE_NOT_AUTHORIZED},
    {"not-well-formed", XMPP_SE_XML_NOT_WELL_FORMED},
    {"policy-violation", XMPP_SE_POLICY_VIOLATION},
    {"remote-connection-failed", XMPP_SE_REMOTE_CONN_FAILED},
    {"resource-constraint", XMPP_SE_RESOURCE_CONSTRAINT},
    {"restricted-xml", XMPP_SE_RESTRICTED_XML},
    {"see-other-host", XMPP_SE_SEE_OTHER_HOST},
    {"system-shutdown", XMPP_SE_SYSTEM_SHUTDOWN},
    {"unsupported-encoding", XMPP_SE_UNSUPPORTED_ENCODING},
    {"unsupported-stanza-type", XMPP_SE_UNSUPPORTED_STANZA_TYPE},
    {"unsupported-version", XMPP_SE_UNSUPPORTED_VERSION},
};

/* ---- helpers ---- */

static void set_phase(struct xu_session *s, enum xu_phase p)
{
    s->phase = p;
    if (p <= XU_PHASE_CLOSED && s->phase_at[p] == 0)
        s->phase_at[p] = xu_now();
}

/* End the connection at once, sending nothing more: shutting the socket
 * down makes libstrophe's next write fail and its read see the end, and
 * its disconnect event then reports the verdict already made. */
static void abort_conn(struct xu_session *s)
{
    if (s->sock >= 0)
        shutdown(s->sock, SHUT_RDWR);
}

static void fail(struct xu_session *s, int code, const char *fmt, ...)
{
    va_list ap;

    if (!s->err.code) {
        va_start(ap, fmt);
        vsnprintf(s->err.msg, sizeof s->err.msg, fmt, ap);
        va_end(ap);
        s->err.code = code;
        xu_trace_info(s->trace, "%s", s->err.msg);
    }
    abort_conn(s);
}

/* libstrophe's lookup by name and ns needs both */
static xmpp_stanza_t *child(xmpp_stanza_t *st, const char *name, const char *ns)
{
    if (!st)
        return NULL;
    return ns ? xmpp_stanza_get_child_by_name_and_ns(st, name, ns)
              : xmpp_stanza_get_child_by_name(st, name);
}

/* The first child element in ns other than <text/>: a condition. */
static const char *condition(xmpp_stanza_t *st, const char *ns)
{
    xmpp_stanza_t *c;
    const char *name, *cns;

    for (c = st ? xmpp_stanza_get_children(st) : NULL; c; c = xmpp_stanza_get_next(c)) {
        name = xmpp_stanza_get_name(c);
        cns = xmpp_stanza_get_ns(c);
        if (name && xmpp_stanza_is_tag(c) && strcmp(name, "text") != 0 &&
            (!ns || (cns && strcmp(cns, ns) == 0)))
            return name;
    }
    return NULL;
}

static void keep_features(struct xu_session *s, xmpp_stanza_t *features)
{
    char *buf = NULL;
    size_t len;

    if (xmpp_stanza_to_text(features, &buf, &len) != XMPP_EOK)
        return;
    free(s->features);
    s->features = strdup(buf);
    xmpp_free(s->ctx, buf);
}

static void open_stream(struct xu_session *s)
{
    if (xmpp_conn_open_stream_default(s->conn) != XMPP_EOK)
        fail(s, XU_EX_SOFTWARE, "cannot open the XMPP stream");
}

/* ---- TLS ---- */

static int start_tls(struct xu_session *s)
{
    int rc;

    set_phase(s, XU_PHASE_TLS);
    xu_tlsinfo_capture_begin();
    rc = xmpp_conn_tls_start(s->conn);
    xu_tlsinfo_capture_end();
    if (rc != XMPP_EOK) {
        /* a matching pin makes the certificate check pass, so with a pin
         * a failed handshake is a pin that did not match */
        if (s->opts->tls_fingerprint && s->cert_failed)
            s->pin_mismatch = 1;
        if (!s->last_error[0])
            snprintf(s->last_error, sizeof s->last_error, "TLS handshake failed");
        abort_conn(s);
        return -1;
    }
    if (xu_session_check_pin(s) != 0)
        return -1;
    s->neg->secured = 1;
    snprintf(s->tls_version, sizeof s->tls_version, "%s",
             xu_tlsinfo_version() ? xu_tlsinfo_version() : "");
    xu_trace_info(s->trace, "TLS established (%s)", s->tls_version[0] ? s->tls_version : "?");
    return 0;
}

/* libstrophe matches a handler's namespace against the stanza's children
 * too (<stream:features> holds <starttls/> and <mechanisms/>): the element
 * itself must be in ns. */
static int own_ns(xmpp_stanza_t *st, const char *ns)
{
    const char *n = xmpp_stanza_get_ns(st);

    return n && strcmp(n, ns) == 0;
}

static int on_tls(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct xu_session *s = ud;
    const char *name = xmpp_stanza_get_name(st);

    (void)conn;
    if (s->neg->secured || !own_ns(st, XMPP_NS_TLS))
        return 1;
    if (name && strcmp(name, "proceed") == 0) {
        if (start_tls(s) == 0)
            open_stream(s);
    } else {
        snprintf(s->last_error, sizeof s->last_error, "the server refused STARTTLS");
        set_phase(s, XU_PHASE_TLS);
        abort_conn(s);
    }
    return 1;
}

/* ---- SASL ---- */

static void send_sasl(struct xu_session *s, const char *elem, const char *mech, const char *b64)
{
    if (mech)
        xmpp_send_raw_string(s->conn, "<auth xmlns='%s' mechanism='%s'>%s</auth>", XMPP_NS_SASL,
                             mech, b64 && *b64 ? b64 : "=");
    else if (b64 && *b64)
        xmpp_send_raw_string(s->conn, "<%s xmlns='%s'>%s</%s>", elem, XMPP_NS_SASL, b64, elem);
    else
        xmpp_send_raw_string(s->conn, "<%s xmlns='%s'/>", elem, XMPP_NS_SASL);
}

/* Downgrade protection: the strongest mechanism that succeeded before for
 * this account on this server must still be offered. (A weaker one chosen
 * by --sasl-mechanisms while it is offered is the user's choice.) */
static int downgraded(struct xu_session *s, const char *const *offered, size_t count,
                      const char *mech)
{
    struct xu_negotiation *n = s->neg;
    size_t i;

    xu_state_get_mech(n->bare, s->connect_target, n->remembered, sizeof n->remembered);
    if (!n->remembered[0] || s->opts->accept_mechanism_change)
        return 0;
    for (i = 0; i < count; i++)
        if (strcmp(offered[i], n->remembered) == 0)
            return 0;
    fail(s, XU_EX_NOPERM,
         "authentication of %s refused: earlier logins to %s used %s, but the server no longer "
         "offers it (now %s would be used): a downgrade by someone on the path? If the server "
         "really changed, accept it with --accept-mechanism-change (config: "
         "accept_mechanism_change on); nothing was sent",
         n->bare, s->connect_target, n->remembered, mech);
    return 1;
}

/* XEP-0440: whether the server advertises channel-binding type (in
 * <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'/>). */
static int cb_advertised(xmpp_stanza_t *features, const char *type)
{
    xmpp_stanza_t *list = child(features, "sasl-channel-binding", "urn:xmpp:sasl-cb:0"), *c;
    const char *t;

    for (c = list ? xmpp_stanza_get_children(list) : NULL; c; c = xmpp_stanza_get_next(c)) {
        t = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_attribute(c, "type") : NULL;
        if (t && strcmp(t, type) == 0)
            return 1;
    }
    return 0;
}

static void start_sasl(struct xu_session *s, xmpp_stanza_t *features, xmpp_stanza_t *mechs)
{
    struct xu_negotiation *n = s->neg;
    const char *offered[32], *who = s->opts->jid;
    char mech[32], why[400], cb_type[16] = "", cb_data[128], *initial = NULL;
    size_t count = 0;
    xmpp_stanza_t *c;
    int have_cb;

    for (c = xmpp_stanza_get_children(mechs); c && count < 32; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        const char *text = name && strcmp(name, "mechanism") == 0 ? NULL : "";

        if (text)
            continue;
        text = xmpp_stanza_get_text_ptr(xmpp_stanza_get_children(c));
        if (text && *text) {
            offered[count++] = text;
            if (strstr(text, "-PLUS"))
                n->offers_plus = 1;
        }
    }
    have_cb = n->secured &&
              xu_tlsinfo_channel_binding(cb_type, sizeof cb_type, cb_data, sizeof cb_data) == 0;
    /* On TLS 1.3 tls-unique is undefined and the default binding of SCRAM
     * is ambiguous: some servers offer -PLUS there yet expect tls-unique
     * (ejabberd 23.01: "Invalid channel binding"). Bind with tls-exporter
     * only where the server says it uses it (XEP-0440); on TLS <= 1.2,
     * tls-unique is the default (RFC 5802). */
    if (have_cb && strcmp(cb_type, "tls-exporter") == 0 && !cb_advertised(features, "tls-exporter"))
        have_cb = 0;
    if (xu_sasl_choose(offered, count, s->opts->sasl_mechanisms, have_cb,
                       n->secured || s->opts->tls == XU_TLS_OFF, n->node[0] == '\0', mech,
                       sizeof mech, why, sizeof why) < 0) {
        set_phase(s, XU_PHASE_AUTH);
        fail(s, XU_EX_NOPERM, "authentication of %s refused: %s", who, why);
        return;
    }
    set_phase(s, XU_PHASE_AUTH);
    if (n->node[0] && downgraded(s, offered, count, mech))
        return;
    if (xu_sasl_start(&n->sasl, mech, n->node, n->password, n->domain,
                      have_cb ? cb_type : NULL, have_cb ? cb_data : NULL, n->offers_plus,
                      &initial, why, sizeof why) < 0) {
        fail(s, XU_EX_SOFTWARE, "authentication of %s: %s", who, why);
        free(initial);
        return;
    }
    if (have_cb && strstr(mech, "-PLUS"))
        snprintf(s->cb_type, sizeof s->cb_type, "%s", cb_type);
    snprintf(s->sasl_mechanism, sizeof s->sasl_mechanism, "%s", mech);
    xu_trace_info(s->trace, "SASL mechanism %s%s%s", mech, s->cb_type[0] ? " with " : "",
                  s->cb_type);
    send_sasl(s, "auth", mech, initial);
    xu_secret_free(initial);
}

static void sasl_succeeded(struct xu_session *s, const char *payload)
{
    struct xu_negotiation *n = s->neg;
    char why[300], *out = NULL;
    int rc = 0;

    if (!n->sasl.complete) {
        rc = xu_sasl_step(&n->sasl, payload ? payload : "", &out, why, sizeof why);
        xu_secret_free(out);
    }
    if (rc != 0 || !n->sasl.complete) {
        xu_negotiate_cache_drop(s);
        /* RFC 5802 5.1: a client MUST verify the server signature; a
         * server that cannot is not the one holding our credentials */
        fail(s, XU_EX_NOPERM,
             "authentication of %s: the server could not prove it knows the password "
             "(%s server signature); nothing more was sent",
             s->opts->jid, payload && *payload ? "wrong" : "missing");
        return;
    }
    s->server_verified = strncmp(n->sasl.mech, "SCRAM-", 6) == 0;
    n->authenticated = 1;
    xu_negotiate_cache_store(s);
    set_phase(s, XU_PHASE_BIND);
    xu_trace_info(s->trace, "SASL %s succeeded%s", n->sasl.mech,
                  s->server_verified ? "; the server's signature verified" : "");
    xu_sasl_free(&n->sasl);
    if (n->password) {
        xu_secret_free(n->password);
        n->password = NULL;
    }
    open_stream(s);
}

static int on_sasl(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct xu_session *s = ud;
    struct xu_negotiation *n = s->neg;
    const char *name = xmpp_stanza_get_name(st), *cond;
    char *text, *out = NULL, why[300];
    int rc;

    (void)conn;
    if (n->authenticated || !name || s->err.code || !own_ns(st, XMPP_NS_SASL))
        return 1;
    text = xmpp_stanza_get_text(st);
    if (strcmp(name, "challenge") == 0) {
        if (n->sasl.sess)
            xu_negotiate_cache_lookup(s, text ? text : "");
        rc = n->sasl.sess ? xu_sasl_step(&n->sasl, text ? text : "", &out, why, sizeof why) : -1;
        if (rc >= 0)
            xu_negotiate_cache_note(s);
        if (rc < 0)
            fail(s, XU_EX_PROTOCOL, "authentication of %s failed: the server's challenge was "
                 "not acceptable (%s)", s->opts->jid, n->sasl.sess ? why : "unexpected");
        else
            send_sasl(s, "response", NULL, out);
        xu_secret_free(out);
    } else if (strcmp(name, "success") == 0) {
        sasl_succeeded(s, text);
    } else if (strcmp(name, "failure") == 0) {
        xu_negotiate_cache_drop(s);
        cond = condition(st, XMPP_NS_SASL);
        snprintf(s->sasl_condition, sizeof s->sasl_condition, "%s", cond ? cond : "failure");
        set_phase(s, XU_PHASE_AUTH);
        abort_conn(s);
    }
    if (text)
        xu_secret_free(text);
    return 1;
}

/* ---- bind, session ---- */

/* Send <iq type='set'><NAME xmlns=NS>[<resource>RES</resource>]</NAME></iq>
 * with handler for its answer. */
static void send_iq_set(struct xu_session *s, const char *ns, const char *name, const char *res,
                        xmpp_handler handler)
{
    xmpp_stanza_t *el, *iq = xu_iq_new_child(s, "set", name, ns, &el);

    if (!iq) {
        fail(s, XU_EX_OSERR, "out of memory");
        return;
    }
    if (res && *res)
        xu_stanza_add_text_el(el, "resource", res);
    xmpp_id_handler_add(s->conn, handler, xmpp_stanza_get_id(iq), s);
    xmpp_send(s->conn, iq);
    xmpp_stanza_release(iq);
}

static void ready(struct xu_session *s)
{
    xu_session_became_ready(s, s->bound_jid);
}

/* bound (and session established): stream management, then ready */
static void bound(struct xu_session *s)
{
    xu_sm_after_bind(s, s->sm_offered, ready);
}

static int on_session(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct xu_session *s = ud;
    const char *type = xmpp_stanza_get_type(st), *cond;

    (void)conn;
    if (type && strcmp(type, "result") == 0) {
        bound(s);
        return 0;
    }
    cond = condition(xmpp_stanza_get_child_by_name(st, "error"), XMPP_NS_STANZAS_IETF);
    fail(s, XU_EX_PROTOCOL, "session establishment refused: %s", cond ? cond : "error");
    return 0;
}

static int on_bind(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct xu_session *s = ud;
    const char *type = xmpp_stanza_get_type(st), *cond;
    xmpp_stanza_t *jid;
    char *text;

    (void)conn;
    if (type && strcmp(type, "result") == 0) {
        jid = child(child(st, "bind", XMPP_NS_BIND), "jid", NULL);
        text = jid ? xmpp_stanza_get_text(jid) : NULL;
        if (!text || !*text) {
            snprintf(s->bind_condition, sizeof s->bind_condition,
                     "the server's answer names no JID");
            if (text)
                xmpp_free(s->ctx, text);
            abort_conn(s);
            return 0;
        }
        free(s->bound_jid);
        s->bound_jid = strdup(text);
        xmpp_free(s->ctx, text);
        if (!s->neg->need_session) {
            bound(s);
            return 0;
        }
        send_iq_set(s, XMPP_NS_SESSION, "session", NULL, on_session);
        return 0;
    }
    cond = condition(xmpp_stanza_get_child_by_name(st, "error"), XMPP_NS_STANZAS_IETF);
    snprintf(s->bind_condition, sizeof s->bind_condition, "%s", cond ? cond : "error");
    abort_conn(s);
    return 0;
}

static void start_bind(struct xu_session *s, xmpp_stanza_t *features)
{
    const char *slash = strchr(s->opts->jid, '/');
    const char *res = slash ? slash + 1 : s->opts->resource;
    xmpp_stanza_t *sess;

    set_phase(s, XU_PHASE_BIND);
    if (!child(features, "bind", XMPP_NS_BIND)) {
        snprintf(s->bind_condition, sizeof s->bind_condition,
                 "the server offers no <bind/> after authentication");
        abort_conn(s);
        return;
    }
    sess = child(features, "session", XMPP_NS_SESSION);
    s->neg->need_session = sess && !xmpp_stanza_get_child_by_name(sess, "optional");
    s->sm_offered = child(features, "sm", XMPP_NS_SM) != NULL;
    send_iq_set(s, XMPP_NS_BIND, "bind", res, on_bind);
}

/* the server no longer has the stream: bind afresh, as after a restart */
static void resume_refused(struct xu_session *s)
{
    free(s->bound_jid);
    s->bound_jid = NULL;
    start_bind(s, s->neg->post_auth);
}

/* ---- features, stream errors ---- */

static int on_features(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct xu_session *s = ud;
    struct xu_negotiation *n = s->neg;
    xmpp_stanza_t *mechs;

    (void)conn;
    if (s->err.code || s->ready || !own_ns(st, XMPP_NS_STREAMS))
        return 1;
    keep_features(s, st);
    if (!n->secured && s->opts->tls != XU_TLS_OFF) {
        if (!child(st, "starttls", XMPP_NS_TLS)) {
            /* stripped or absent: nothing else may be sent (RFC 7590) */
            s->tls_missing = 1;
            abort_conn(s);
            return 1;
        }
        set_phase(s, XU_PHASE_TLS);
        xmpp_send_raw_string(s->conn, "<starttls xmlns='%s'/>", XMPP_NS_TLS);
        return 1;
    }
    if (!n->secured && s->opts->tls == XU_TLS_OFF) {
        xmpp_stanza_t *st_tls = child(st, "starttls", XMPP_NS_TLS);

        if (st_tls && xmpp_stanza_get_child_by_name(st_tls, "required")) {
            abort_conn(s); /* explained from the features kept */
            return 1;
        }
    }
    if (!n->authenticated) {
        mechs = child(st, "mechanisms", XMPP_NS_SASL);
        if (!mechs) {
            set_phase(s, XU_PHASE_AUTH);
            fail(s, XU_EX_PROTOCOL, "%s offers no SASL authentication", s->connect_target);
            return 1;
        }
        start_sasl(s, st, mechs);
        return 1;
    }
    s->sm_offered = child(st, "sm", XMPP_NS_SM) != NULL;
    if (!n->post_auth)
        n->post_auth = xmpp_stanza_clone(st);
    if (xu_sm_try_resume(s, s->sm_offered, ready, resume_refused))
        return 1;
    start_bind(s, st);
    return 1;
}

static int on_stream_error(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct xu_session *s = ud;
    struct xu_negotiation *n = s->neg;

    (void)conn;
    if (!n->stream_error && own_ns(st, XMPP_NS_STREAMS))
        n->stream_error = xmpp_stanza_clone(st);
    return 1;
}

xmpp_stream_error_t *xu_negotiate_stream_error(struct xu_session *s)
{
    struct xu_negotiation *n = s->neg;
    const char *cond;
    xmpp_stanza_t *text;
    size_t i;

    if (!n || !n->stream_error)
        return NULL;
    cond = condition(n->stream_error, XMPP_NS_STREAMS_IETF);
    n->se.type = XMPP_SE_UNDEFINED_CONDITION;
    for (i = 0; cond && i < sizeof stream_conditions / sizeof stream_conditions[0]; i++)
        if (strcmp(cond, stream_conditions[i].name) == 0)
            n->se.type = stream_conditions[i].type;
    text = child(n->stream_error, "text", XMPP_NS_STREAMS_IETF);
    if (n->se.text)
        xmpp_free(s->ctx, n->se.text);
    n->se.text = text ? xmpp_stanza_get_text(text) : NULL;
    n->se.stanza = n->stream_error;
    return &n->se;
}

/* ---- public (to the session: session.c, session_connect.c) ---- */

int xu_negotiate_prepare(struct xu_session *s, struct xu_error *err)
{
    const struct xu_opts *o = s->opts;
    struct xu_negotiation *n = calloc(1, sizeof *n);
    const char *at = strchr(o->jid, '@');
    int rc;

    if (!n)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    s->neg = n;
    xu_jid_domain(o->jid, n->domain, sizeof n->domain);
    if (at)
        snprintf(n->node, sizeof n->node, "%.*s", (int)(at - o->jid), o->jid);
    snprintf(n->bare, sizeof n->bare, "%.*s", (int)strcspn(o->jid, "/"), o->jid);
    if (at && (rc = xu_password_get(o, o->jid, &n->password, err)) != 0)
        return rc;
    return 0;
}

void xu_negotiate_connected(struct xu_session *s)
{
    xmpp_handler_add(s->conn, on_features, XMPP_NS_STREAMS, "features", NULL, s);
    xmpp_handler_add(s->conn, on_stream_error, XMPP_NS_STREAMS, "error", NULL, s);
    xmpp_handler_add(s->conn, on_tls, XMPP_NS_TLS, NULL, NULL, s);
    xmpp_handler_add(s->conn, on_sasl, XMPP_NS_SASL, NULL, NULL, s);
    set_phase(s, XU_PHASE_STREAM);
    if (s->opts->tls == XU_TLS_DIRECT && start_tls(s) != 0)
        return;
    open_stream(s);
}

void xu_negotiate_free(struct xu_session *s)
{
    struct xu_negotiation *n = s->neg;

    if (!n)
        return;
    xu_sasl_free(&n->sasl);
    if (n->password)
        xu_secret_free(n->password);
    OPENSSL_cleanse(n->salted, sizeof n->salted);
    if (n->se.text && s->ctx)
        xmpp_free(s->ctx, n->se.text);
    if (n->stream_error)
        xmpp_stanza_release(n->stream_error);
    if (n->post_auth)
        xmpp_stanza_release(n->post_auth);
    free(n);
    s->neg = NULL;
}

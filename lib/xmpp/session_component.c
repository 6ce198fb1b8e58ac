/* The XEP-0114 component path: libstrophe connects and does the handshake
 * itself (sha1 of the stream id and the secret; no TLS, no SASL), so its
 * phases and failures are read from libstrophe's log here, and its
 * connection is given the state libstrophe 0.12.2 forgets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/jid.h"
#include "base/secret.h"
#include "base/trace.h"
#include "xmpp/session_int.h"

/* Copy the local name of the first child element of the element starting
 * at xml that is in namespace ns (e.g. the condition of a SASL failure). */
static void condition_of(const char *xml, const char *ns, char *out, size_t outlen)
{
    const char *p = xml, *q;
    size_t n;

    out[0] = '\0';
    /* skip the outer element's start tag */
    p = strchr(p, '>');
    while (p && (p = strchr(p, '<')) != NULL) {
        p++;
        if (*p == '/' || *p == '!' || *p == '?')
            continue;
        n = strcspn(p, " \t\r\n/>");
        q = p + n;
        if (!ns || (strstr(q, ns) && (size_t)(strstr(q, ns) - q) < 200 &&
                    memchr(q, '>', (size_t)(strstr(q, ns) - q)) == NULL)) {
            if (n >= outlen)
                n = outlen - 1;
            if (strncmp(p, "text", 4) == 0 && n == 4)
                continue;
            memcpy(out, p, n);
            out[n] = '\0';
            return;
        }
    }
}

/* What the component sends: its handshake starts the auth phase. */
void xu_session_component_sent(struct xu_session *s, const char *data)
{
    char *mech = NULL;

    if (strncmp(data, "<auth", 5) == 0) {
        xu_session_attr_of(data, "mechanism", &mech);
        snprintf(s->sasl_mechanism, sizeof s->sasl_mechanism, "%s", mech ? mech : "");
        free(mech);
    }
    if (strncmp(data, "<starttls", 9) == 0)
        s->phase = XU_PHASE_TLS;
    else if (strncmp(data, "<auth", 5) == 0 || strncmp(data, "<handshake", 10) == 0)
        s->phase = XU_PHASE_AUTH;
    else if (strncmp(data, "<iq", 3) == 0 && s->phase < XU_PHASE_READY &&
             (strstr(data, "xmpp-bind") || strstr(data, "xmpp-session")))
        s->phase = XU_PHASE_BIND;
}

/* What the server sends the component. */
void xu_session_component_recv(struct xu_session *s, const char *data)
{
    if (strncmp(data, "<stream:stream", 14) == 0) {
        if (s->phase < XU_PHASE_STREAM)
            s->phase = XU_PHASE_STREAM;
        xu_session_attr_of(data, "id", &s->stream_id);
    } else if (strncmp(data, "<stream:features", 16) == 0 ||
               (strncmp(data, "<features", 9) == 0 && strstr(data, "etherx.jabber.org/streams"))) {
        free(s->features);
        s->features = strdup(data);
    } else if (strncmp(data, "<proceed", 8) == 0) {
        s->phase = XU_PHASE_TLS;
    } else if (strncmp(data, "<failure", 8) == 0 && strstr(data, "xmpp-sasl")) {
        condition_of(data, NULL, s->sasl_condition, sizeof s->sasl_condition);
        if (!s->sasl_condition[0])
            snprintf(s->sasl_condition, sizeof s->sasl_condition, "failure");
    } else if (strncmp(data, "<failure", 8) == 0 && strstr(data, "xmpp-tls")) {
        snprintf(s->last_error, sizeof s->last_error, "the server refused STARTTLS");
    } else if (strncmp(data, "<success", 8) == 0) {
        s->phase = XU_PHASE_BIND;
    } else if (strncmp(data, "<iq", 3) == 0 && s->phase == XU_PHASE_BIND &&
               strstr(data, "type=\"error\"")) {
        condition_of(strstr(data, "<error"), "urn:ietf:params:xml:ns:xmpp-stanzas",
                     s->bind_condition, sizeof s->bind_condition);
    }
}

/* libstrophe's other log lines: the connect, the handshake's verdict. */
void xu_session_component_event(struct xu_session *s, xmpp_log_level_t level, const char *area,
                                const char *msg)
{
    int n;

    if (strncmp(msg, "parse error", 11) == 0) {
        /* libstrophe answers malformed XML with a stream error but keeps
         * the connection (and its broken parser) until the deadline: end
         * it. (The rest of this message is libstrophe's read buffer,
         * unterminated: read no further.) */
        if (!s->parse_error && s->sock >= 0)
            shutdown(s->sock, SHUT_RDWR);
        if (!s->parse_error)
            xu_trace_info(s->trace, "malformed XML from the server: closing");
        s->parse_error = 1;
        return;
    }
    if (sscanf(msg, "connection failed, error %d", &n) == 1)
        s->tcp_errno = n;
    else if (strcmp(msg, "connection successful") == 0)
        s->phase = XU_PHASE_STREAM;
    else if (strncmp(msg, "Attempting to connect to ", 25) == 0)
        s->phase = XU_PHASE_TCP;
    else if (strstr(msg, "TLS is not supported, but set as mandatory"))
        s->tls_missing = 1;
    else if (strcmp(area, "tls") == 0 && strncmp(msg, "Certificate verification", 24) == 0)
        xu_session_pin_check(s);
    else if (strncmp(msg, "Handshake failed", 16) == 0 ||
             strncmp(msg, "Component authentication failed", 31) == 0)
        snprintf(s->sasl_condition, sizeof s->sasl_condition, "handshake");
    if (level >= XMPP_LEVEL_ERROR && !xu_session_log_sensitive(area, msg))
        snprintf(s->last_error, sizeof s->last_error, "%s", msg);
}

static int refuse_socket(xmpp_conn_t *conn, void *sockp)
{
    (void)conn;
    (void)sockp;
    return -1;
}

/* libstrophe 0.12.2 allocates a connection's stream-management state only in
 * xmpp_connect_client, yet dereferences it for every stanza received or sent
 * and at disconnect on component connections too: a component session
 * crashes at the server's first answer. A client connect that fails before
 * any network traffic (numeric address, socket refused by the socket-option
 * callback) allocates it; the state stays unused (SM is disabled). */
static int give_component_sm_state(struct xu_session *s, struct xu_error *err)
{
    xmpp_conn_set_jid(s->conn, "sm-state@localhost");
    xmpp_conn_set_sockopt_callback(s->conn, refuse_socket);
    xmpp_connect_client(s->conn, "127.0.0.1", 9, xu_session_conn_cb, s);
    xmpp_conn_set_sockopt_callback(s->conn, xu_session_sockopt_cb);
    if (!xmpp_conn_is_disconnected(s->conn))
        return xu_error_set(err, XU_EX_SOFTWARE, "cannot prepare the component connection");
    return 0;
}

int xu_session_start_component(struct xu_session *s, struct xu_error *err)
{
    const struct xu_opts *o = s->opts;
    const char *host = o->host ? o->host : o->component;
    char why[128], *secret = NULL;
    int rc;

    if (xu_jid_check(o->component, 0, why, sizeof why) < 0 || strpbrk(o->component, "@/"))
        return xu_error_set(err, XU_EX_USAGE, "invalid component domain '%s'", o->component);
    if (!o->secret_file)
        return xu_error_set(err, XU_EX_USAGE, "--component needs --secret-file");
    rc = xu_secret_read_file(o->secret_file, "secret", &secret, err);
    if (rc == 0)
        rc = give_component_sm_state(s, err);
    if (rc) {
        xu_secret_free(secret);
        return rc;
    }
    xmpp_conn_set_jid(s->conn, o->component);
    xmpp_conn_set_pass(s->conn, secret);
    xu_secret_free(secret);
    snprintf(s->connect_target, sizeof s->connect_target, "%s:%u", host,
             o->port ? o->port : 5347);
    s->phase = XU_PHASE_TCP;
    if (xmpp_connect_component(s->conn, host, (unsigned short)o->port, xu_session_conn_cb, s) !=
        XMPP_EOK)
        return xu_session_resolve_failure(s, host, err);
    return 0;
}


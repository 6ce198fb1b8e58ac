/* Why a session ended: a disconnect (or a deadline) turned into an exit code
 * and one message, from the phase it died in and what the logger and the
 * login saw; a server's stream error mapped to its sysexits(3) code.
 * libstrophe reports every failure the same way, so this is where they
 * are told apart. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "base/msg.h"
#include "xmpp/session_int.h"

static const char *stream_condition(xmpp_stream_error_t *se, char *buf, size_t len)
{
    xmpp_stanza_t *c;
    const char *name, *ns;

    buf[0] = '\0';
    for (c = se->stanza ? xmpp_stanza_get_children(se->stanza) : NULL; c;
         c = xmpp_stanza_get_next(c)) {
        name = xmpp_stanza_get_name(c);
        ns = xmpp_stanza_get_ns(c);
        if (name && strcmp(name, "text") != 0 && ns && strcmp(ns, XMPP_NS_STREAMS_IETF) == 0) {
            snprintf(buf, len, "%s", name);
            break;
        }
    }
    return buf[0] ? buf : "undefined-condition";
}

static int stream_error_code(xmpp_error_type_t t)
{
    switch (t) {
    case XMPP_SE_HOST_UNKNOWN: return XU_EX_NOHOST;
    case XMPP_SE_NOT_AUTHORIZED: return XU_EX_NOPERM;
    case XMPP_SE_CONFLICT:
    case XMPP_SE_SYSTEM_SHUTDOWN:
    case XMPP_SE_CONN_TIMEOUT:
    case XMPP_SE_RESOURCE_CONSTRAINT:
    case XMPP_SE_POLICY_VIOLATION:
    case XMPP_SE_REMOTE_CONN_FAILED:
    case XMPP_SE_INTERNAL_SERVER_ERROR: return XU_EX_TEMPFAIL;
    case XMPP_SE_SEE_OTHER_HOST:
    case XMPP_SE_HOST_GONE: return XU_EX_UNAVAILABLE;
    default: return XU_EX_PROTOCOL;
    }
}

/* The --timeout a deadline came from, for messages. */
double xu_session_shown_timeout(const struct xu_opts *o)
{
    return o->timeout > 0 ? o->timeout : XU_CONNECT_TIMEOUT;
}

static int has_required_starttls(const char *features)
{
    const char *st = features ? strstr(features, "<starttls") : NULL;

    return st && strstr(st, "<required") != NULL;
}

/* The resource asked for (the JID's, else -r; see session_connect.c), for messages. */
static const char *asked_resource(const struct xu_session *s)
{
    const char *slash = s->opts->jid ? strchr(s->opts->jid, '/') : NULL;

    return slash ? slash + 1 : s->opts->resource ? s->opts->resource : "(server's choice)";
}

/* Turn a disconnect into an exit code and a message, from the phase and
 * what the logger saw: libstrophe reports every failure the same way. */
void xu_session_explain_end(struct xu_session *s, int error, xmpp_stream_error_t *se)
{
    struct xu_error *e = &s->err;
    const char *who = s->is_component ? s->opts->component : s->opts->jid;
    char cond[64], text[300];

    if (e->code)
        return;
    if (s->timed_out || xu_session_alarm_stage) {
        xu_error_set(e, XU_EX_TEMPFAIL, "timed out after %g s during %s%s%s",
                     xu_session_shown_timeout(s->opts), xu_phase_name(s->phase),
                     s->connect_target[0] ? " with " : "", s->connect_target);
        return;
    }
    if (s->pin_mismatch) {
        xu_error_set(e, XU_EX_NOPERM,
                     "server certificate fingerprint %s does not match --tls-fingerprint %s; "
                     "nothing was sent",
                     s->peer_fingerprint[0] ? s->peer_fingerprint : "(none)",
                     s->opts->tls_fingerprint);
        return;
    }
    if (s->cert_failed) {
        xu_error_set(e, XU_EX_NOPERM,
                     "server certificate rejected: %s; no credentials were sent "
                     "(trust its CA with --tls-trust-file, or pin it with --tls-fingerprint)",
                     s->cert_error);
        return;
    }
    if (s->parse_error) {
        xu_error_set(e, XU_EX_PROTOCOL, "%s sent malformed XML during %s; connection closed",
                     s->connect_target, xu_phase_name(s->phase));
        return;
    }
    if (se) {
        snprintf(s->stream_error, sizeof s->stream_error, "%s",
                 stream_condition(se, cond, sizeof cond));
        xu_sanitize_terminal(text, sizeof text, se->text ? se->text : "");
        if (se->type == XMPP_SE_CONFLICT && s->phase == XU_PHASE_READY && !s->is_component) {
            /* RFC 6120 7.7.2.2: another login took our resource */
            xu_error_set(e, XU_EX_TEMPFAIL,
                         "the server replaced this session: another login bound the same "
                         "resource (conflict%s%s)", text[0] ? ": " : "", text);
            return;
        }
        xu_error_set(e, stream_error_code(se->type), "server ended the stream during %s: %s%s%s",
                     xu_phase_name(s->phase), stream_condition(se, cond, sizeof cond),
                     text[0] ? ": " : "", text);
        return;
    }
    if (s->tls_missing && s->features && strstr(s->features, "<starttls")) {
        xu_error_set(e, XU_EX_SOFTWARE, "TLS could not be set up locally%s%s; refusing to continue in clear",
                     s->last_error[0] ? ": " : "", s->last_error);
        return;
    }
    if (s->tls_missing) {
        xu_error_set(e, XU_EX_PROTOCOL,
                     "%s does not offer STARTTLS and TLS is required; refusing to log in in clear",
                     s->connect_target);
        return;
    }
    switch (s->phase) {
    case XU_PHASE_START:
    case XU_PHASE_TCP:
        if (s->tcp_errno == ECONNREFUSED || error == ECONNREFUSED)
            xu_error_set(e, XU_EX_UNAVAILABLE, "connection refused by %s", s->connect_target);
        else if (s->tcp_errno == ETIMEDOUT || error == ETIMEDOUT)
            xu_error_set(e, XU_EX_TEMPFAIL, "connecting to %s timed out", s->connect_target);
        else
            xu_error_set(e, XU_EX_UNAVAILABLE, "cannot connect to %s: %s", s->connect_target,
                         strerror(s->tcp_errno ? s->tcp_errno : error ? error : ECONNABORTED));
        return;
    case XU_PHASE_STREAM:
        if (s->opts->tls == XU_TLS_OFF && has_required_starttls(s->features)) {
            xu_error_set(e, XU_EX_PROTOCOL,
                         "the server requires TLS (starttls <required/>) but --tls off was given");
            return;
        }
        if (s->opts->tls == XU_TLS_DIRECT)
            xu_error_set(e, XU_EX_PROTOCOL,
                         "direct TLS with %s failed%s%s (is it a direct-TLS port?)",
                         s->connect_target, s->last_error[0] ? ": " : "", s->last_error);
        else
            xu_error_set(e, XU_EX_PROTOCOL, "%s closed the connection while opening the stream%s%s",
                         s->connect_target, s->last_error[0] ? ": " : "", s->last_error);
        return;
    case XU_PHASE_TLS:
        if (s->opts->tls == XU_TLS_DIRECT) {
            xu_error_set(e, XU_EX_PROTOCOL, "direct TLS with %s failed%s%s (is it a direct-TLS port?)",
                         s->connect_target, s->last_error[0] ? ": " : "", s->last_error);
            return;
        }
        xu_error_set(e, XU_EX_PROTOCOL, "TLS negotiation with %s failed%s%s",
                     s->connect_target, s->last_error[0] ? ": " : "", s->last_error);
        return;
    case XU_PHASE_AUTH:
        if (s->is_component)
            xu_error_set(e, XU_EX_NOPERM, "component handshake for %s rejected (wrong secret?)",
                         who);
        else if (strcmp(s->sasl_condition, "temporary-auth-failure") == 0)
            xu_error_set(e, XU_EX_TEMPFAIL, "authentication of %s failed: temporary-auth-failure",
                         who);
        else if (s->sasl_condition[0])
            xu_error_set(e, XU_EX_NOPERM, "authentication of %s failed: %s%s", who,
                         s->sasl_condition,
                         strcmp(s->sasl_condition, "not-authorized") == 0
                             ? " (wrong password or unknown user)"
                             : "");
        else
            xu_error_set(e, XU_EX_PROTOCOL, "authentication of %s failed: %s", who,
                         s->last_error[0] ? s->last_error : "connection closed");
        return;
    case XU_PHASE_BIND:
        if (strcmp(s->bind_condition, "conflict") == 0)
            xu_error_set(e, XU_EX_TEMPFAIL,
                         "resource binding refused: conflict: resource '%s' is in use by another "
                         "session (ask for another with -r, or let the server choose)",
                         asked_resource(s));
        else if (strcmp(s->bind_condition, "not-allowed") == 0)
            xu_error_set(e, XU_EX_NOPERM,
                         "resource binding refused: not-allowed: %s may not bind resource '%s'",
                         who, asked_resource(s));
        else if (strcmp(s->bind_condition, "bad-request") == 0)
            xu_error_set(e, XU_EX_DATAERR,
                         "resource binding refused: bad-request: the server does not accept "
                         "resource '%s'", asked_resource(s));
        else if (s->opts->tls == XU_TLS_OFF && s->phase == XU_PHASE_AUTH)
            xu_error_set(e, XU_EX_PROTOCOL, "authentication failed without TLS");
        else
            xu_error_set(e, XU_EX_PROTOCOL, "resource binding failed: %s",
                         s->bind_condition[0] ? s->bind_condition
                         : s->last_error[0]  ? s->last_error
                                             : "connection closed");
        return;
    case XU_PHASE_READY:
        /* over TLS, error is an SSL_get_error() code, not an errno (a close
         * without close_notify read as "Operation not permitted") */
        if (s->opts->tls != XU_TLS_OFF && !s->is_component)
            xu_error_set(e, XU_EX_TEMPFAIL, "connection to %s lost%s", s->connect_target,
                         error == SSL_ERROR_ZERO_RETURN ? ": the server closed the TLS session"
                         : error == SSL_ERROR_SYSCALL   ? ": the connection was reset or closed"
                         : error      ? ": the connection was closed (TLS)"
                                      : "");
        else
            xu_error_set(e, XU_EX_TEMPFAIL, "connection to %s lost%s%s", s->connect_target,
                         error ? ": " : "", error ? strerror(error) : "");
        return;
    default:
        return;
    }
}

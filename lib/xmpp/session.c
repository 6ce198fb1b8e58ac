#include "xmpp/session.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/jid.h"
#include "xmpp/negotiate.h"
#include "base/msg.h"
#include "base/secret.h"
#include "xmpp/sm.h"
#include "xml/stanza_out.h"
#include "xmpp/tlsinfo.h"
#include "base/trace.h"

/* libstrophe's socket-option and certificate-failure callbacks carry no
 * user data, so they find the session here: one session per process. */
static struct xu_session *current;
static struct xu_trace *shared_trace;

/* The deadline alarm may have to break a blocking TLS handshake, which no
 * timer of libstrophe's can: it shuts the socket down, and if even that does
 * not end the run (e.g. stuck in DNS), it exits 75 two seconds later. */
static volatile sig_atomic_t alarm_stage;
static volatile sig_atomic_t alarm_sock = -1;
static char alarm_msg[256];

double xu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *xu_phase_name(enum xu_phase p)
{
    static const char *const names[] = {
        "start", "TCP connect", "stream opening", "TLS negotiation", "authentication",
        "resource binding", "session", "closing", "closed",
    };
    return p <= XU_PHASE_CLOSED ? names[p] : "?";
}

/* ---- memory: libstrophe's buffers are wiped when freed (they held the
 * password, SASL state and message text) ---- */

static void *mem_alloc(size_t size, void *ud)
{
    (void)ud;
    return malloc(size);
}

static void mem_free(void *p, void *ud)
{
    (void)ud;
    if (p) {
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
    }
}

static void *mem_realloc(void *p, size_t size, void *ud)
{
    size_t old;
    void *n;

    (void)ud;
    if (!p)
        return malloc(size);
    old = malloc_usable_size(p);
    if (size <= old)
        return p;
    /* libstrophe grows a stanza's text by the size of each piece it
     * reads: give room to grow, or a 10 MB text costs O(n^2) copying and
     * wiping (10 s instead of 0.1 s) */
    if (size > 4096 && size < ((size_t)-1) / 2)
        size += size / 2;
    n = malloc(size);
    if (!n)
        return NULL;
    memcpy(n, p, old);
    mem_free(p, NULL);
    return n;
}

static xmpp_mem_t wiping_mem = {mem_alloc, mem_free, mem_realloc, NULL};

/* ---- deadline alarm ---- */

static void on_alarm(int sig)
{
    (void)sig;
    if (alarm_stage == 0) {
        struct itimerval again = {{0, 0}, {2, 0}};

        alarm_stage = 1;
        if (alarm_sock >= 0)
            shutdown(alarm_sock, SHUT_RDWR);
        setitimer(ITIMER_REAL, &again, NULL);
    } else {
        ssize_t r = write(2, alarm_msg, strlen(alarm_msg));
        (void)r;
        _exit(XU_EX_TEMPFAIL);
    }
}

static void arm_alarm(double deadline)
{
    struct itimerval it = {{0, 0}, {0, 0}};
    double left;

    alarm_stage = 0;
    if (deadline > 0) {
        left = deadline - xu_now();
        if (left < 0.001)
            left = 0.001;
        /* a little after our own loop's check, which gives the better message */
        left += 0.25;
        it.it_value.tv_sec = (time_t)left;
        it.it_value.tv_usec = (suseconds_t)((left - (double)(time_t)left) * 1e6);
    }
    setitimer(ITIMER_REAL, &it, NULL);
}

void xu_session_share_trace(struct xu_trace *t)
{
    shared_trace = t;
}

void xu_session_set_deadline(struct xu_session *s, double deadline)
{
    s->deadline = deadline;
    arm_alarm(deadline);
}

static volatile sig_atomic_t *interrupt_flag;

void xu_session_set_interrupt(volatile sig_atomic_t *flag)
{
    interrupt_flag = flag;
}

/* ---- what the logger tells us ---- */

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

static void attr_of(const char *tag, const char *name, char **out)
{
    char pat[64];
    const char *p, *e;
    char quote;

    snprintf(pat, sizeof pat, " %s=", name);
    p = strstr(tag, pat);
    if (!p)
        return;
    p += strlen(pat);
    quote = *p++;
    if (quote != '"' && quote != '\'')
        return;
    e = strchr(p, quote);
    if (!e)
        return;
    free(*out);
    *out = strndup(p, (size_t)(e - p));
}

static void check_pin(struct xu_session *s)
{
    xmpp_tlscert_t *cert;
    const char *fp;

    if (!s->opts->tls_fingerprint || s->pin_checked)
        return;
    s->pin_checked = 1;
    cert = xmpp_conn_get_peer_cert(s->conn);
    fp = cert ? xmpp_tlscert_get_string(cert, XMPP_CERT_FINGERPRINT_SHA256) : NULL;
    if (fp || !s->peer_fingerprint[0]) /* else: the one on_certfail saw */
        snprintf(s->peer_fingerprint, sizeof s->peer_fingerprint, "%s", fp ? fp : "");
    if (!fp || strcasecmp(fp, s->opts->tls_fingerprint) != 0) {
        s->pin_mismatch = 1;
        /* Kill the socket before anything else is sent: no credentials
         * go to a server that failed the pin. */
        if (s->sock >= 0)
            shutdown(s->sock, SHUT_RDWR);
    }
    if (cert)
        xmpp_tlscert_free(cert);
}

static void note_phase(struct xu_session *s)
{
    if (s->phase <= XU_PHASE_CLOSED && s->phase_at[s->phase] == 0)
        s->phase_at[s->phase] = xu_now();
}

static void on_sent(struct xu_session *s, const char *data)
{
    char *mech = NULL;

    if (strncmp(data, "<stream:error", 13) == 0 && !s->parse_error && s->phase != XU_PHASE_CLOSING) {
        /* The suite never sends a stream error: libstrophe does when the
         * server's XML does not parse, and then keeps the connection (and
         * its broken parser) until the deadline: end it. */
        s->parse_error = 1;
        if (s->sock >= 0)
            shutdown(s->sock, SHUT_RDWR);
        xu_trace_info(s->trace, "malformed XML from the server: closing");
        return;
    }
    if (!s->is_component)
        return; /* the client login tracks its own phase (lib/xmpp/negotiate.c) */

    if (strncmp(data, "<auth", 5) == 0) {
        attr_of(data, "mechanism", &mech);
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

static void on_recv(struct xu_session *s, const char *data)
{
    if (!s->is_component) {
        if (strncmp(data, "<stream:stream", 14) == 0)
            attr_of(data, "id", &s->stream_id);
        return; /* the client login sees the stanzas themselves */
    }
    if (strncmp(data, "<stream:stream", 14) == 0) {
        if (s->phase < XU_PHASE_STREAM)
            s->phase = XU_PHASE_STREAM;
        attr_of(data, "id", &s->stream_id);
    } else if (strncmp(data, "<stream:features", 16) == 0 ||
               (strncmp(data, "<features", 9) == 0 && strstr(data, "etherx.jabber.org/streams"))) {
        free(s->features);
        s->features = strdup(data);
        if (s->phase == XU_PHASE_BIND && !s->is_component &&
            !strstr(data, "urn:ietf:params:xml:ns:xmpp-bind"))
            snprintf(s->bind_condition, sizeof s->bind_condition,
                     "the server offers no <bind/> after authentication");
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

static int is_sensitive(const char *area, const char *msg)
{
    /* libstrophe logs the component handshake digest in clear */
    return strcmp(area, "auth") == 0 && strncmp(msg, "Digest", 6) == 0;
}

static void on_event(struct xu_session *s, xmpp_log_level_t level, const char *area,
                     const char *msg)
{
    int n;

    if (!s->is_component) {
        /* only for the transcript and for diagnostics: no verdict of the
         * client login comes from libstrophe's log text */
        if (level >= XMPP_LEVEL_ERROR && !is_sensitive(area, msg) && !s->last_error[0] &&
            s->phase < XU_PHASE_READY && strncmp(msg, "parse error", 11) != 0)
            snprintf(s->last_error, sizeof s->last_error, "%s", msg);
        return;
    }
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
        check_pin(s);
    else if (strncmp(msg, "Handshake failed", 16) == 0 ||
             strncmp(msg, "Component authentication failed", 31) == 0)
        snprintf(s->sasl_condition, sizeof s->sasl_condition, "handshake");
    if (level >= XMPP_LEVEL_ERROR && !is_sensitive(area, msg))
        snprintf(s->last_error, sizeof s->last_error, "%s", msg);
}

static void on_log(void *ud, xmpp_log_level_t level, const char *area, const char *msg)
{
    static int depth;
    struct xu_session *s = ud;

    if (depth)
        return; /* libstrophe logging from a call we made while logging */
    depth++;
    if (strncmp(msg, "SENT: ", 6) == 0) {
        on_sent(s, msg + 6);
        xu_trace_sent(s->trace, msg + 6);
    } else if (strncmp(msg, "RECV: ", 6) == 0) {
        on_recv(s, msg + 6);
        xu_trace_recv(s->trace, msg + 6);
    } else {
        on_event(s, level, area, msg);
        if (s->trace && !is_sensitive(area, msg) && strncmp(msg, "parse error", 11) != 0 &&
            (level >= XMPP_LEVEL_INFO || xu_verbosity >= 2 || strcmp(area, "tls") == 0 ||
             strncmp(msg, "Attempting", 10) == 0 || strncmp(msg, "connection", 10) == 0 ||
             strncmp(msg, "SASL", 4) == 0 || strncmp(msg, "Bind", 4) == 0))
            xu_trace_info(s->trace, "%s", msg);
    }
    note_phase(s);
    depth--;
}

static void restore_cert_file(void);

static void (*ready_hook)(struct xu_session *s, void *ud);
static void *ready_hook_ud;

void xu_session_on_ready(void (*fn)(struct xu_session *s, void *ud), void *ud)
{
    ready_hook = fn;
    ready_hook_ud = ud;
}

/* ---- libstrophe callbacks ---- */

static int on_sockopt(xmpp_conn_t *conn, void *sockp)
{
    int fd = *(int *)sockp, one = 1;

    if (current) {
        current->sock = fd;
        alarm_sock = fd;
    }
    /* Small request/response exchanges: never wait for Nagle. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return xmpp_sockopt_cb_keepalive(conn, sockp);
}

static int on_certfail(const xmpp_tlscert_t *cert, const char *const errmsg)
{
    struct xu_session *s = current;
    const char *fp, *subject;

    if (!s)
        return 0;
    fp = xmpp_tlscert_get_string(cert, XMPP_CERT_FINGERPRINT_SHA256);
    /* A pinned certificate is its own trust anchor (e.g. self-signed). */
    if (s->opts->tls_fingerprint && fp && strcasecmp(fp, s->opts->tls_fingerprint) == 0)
        return 1;
    /* a mismatch report names the certificate presented, which a failed
     * verification leaves libstrophe unable to return later */
    if (fp && !s->peer_fingerprint[0] && xmpp_tlscert_get_string(cert, XMPP_CERT_SUBJECT))
        snprintf(s->peer_fingerprint, sizeof s->peer_fingerprint, "%s", fp);
    subject = xmpp_tlscert_get_string(cert, XMPP_CERT_SUBJECT);
    s->cert_failed = 1;
    snprintf(s->cert_error, sizeof s->cert_error, "%s (certificate %s)",
             errmsg ? errmsg : "verification failed", subject ? subject : "?");
    return 0;
}

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
static double shown_timeout(const struct xu_opts *o)
{
    return o->timeout > 0 ? o->timeout : XU_CONNECT_TIMEOUT;
}

static int has_required_starttls(const char *features)
{
    const char *st = features ? strstr(features, "<starttls") : NULL;

    return st && strstr(st, "<required") != NULL;
}

/* The resource asked for (the JID's, else -r; see start_client), for messages. */
static const char *asked_resource(const struct xu_session *s)
{
    const char *slash = s->opts->jid ? strchr(s->opts->jid, '/') : NULL;

    return slash ? slash + 1 : s->opts->resource ? s->opts->resource : "(server's choice)";
}

/* Turn a disconnect into an exit code and a message, from the phase and
 * what the logger saw: libstrophe reports every failure the same way. */
static void explain_disconnect(struct xu_session *s, int error, xmpp_stream_error_t *se)
{
    struct xu_error *e = &s->err;
    const char *who = s->is_component ? s->opts->component : s->opts->jid;
    char cond[64], text[300];

    if (e->code)
        return;
    if (s->timed_out || alarm_stage) {
        xu_error_set(e, XU_EX_TEMPFAIL, "timed out after %g s during %s%s%s", shown_timeout(s->opts),
                     xu_phase_name(s->phase), s->connect_target[0] ? " with " : "",
                     s->connect_target);
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

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
                    xmpp_stream_error_t *se, void *ud)
{
    struct xu_session *s = ud;
    const char *jid;

    (void)conn;
    if (ev == XMPP_CONN_RAW_CONNECT) {
        xu_negotiate_connected(s);
    } else if (ev == XMPP_CONN_CONNECT) {
        /* raw mode: a stream header from the server, nothing more */
        if (!s->is_component)
            return;
        jid = s->opts->component;
        xu_session_became_ready(s, jid);
    } else if (ev == XMPP_CONN_DISCONNECT || ev == XMPP_CONN_FAIL) {
        restore_cert_file();
        s->disconnected = 1;
        if (!se)
            se = xu_negotiate_stream_error(s);
        if (s->phase != XU_PHASE_CLOSING)
            explain_disconnect(s, error, se);
        s->phase = XU_PHASE_CLOSED;
        s->sock = -1;
        alarm_sock = -1;
    }
}

int xu_session_check_pin(struct xu_session *s)
{
    if (!s->opts->tls_fingerprint)
        return 0;
    check_pin(s);
    if (!s->pin_checked || s->pin_mismatch) {
        s->pin_mismatch = 1;
        if (s->sock >= 0)
            shutdown(s->sock, SHUT_RDWR);
        return -1;
    }
    return 0;
}

void xu_session_became_ready(struct xu_session *s, const char *jid)
{
    /* The pin was checked right after the handshake; a session that got
     * here without a check (e.g. TLS off) must not pass. */
    if (xu_session_check_pin(s) != 0)
        return;
    restore_cert_file();
    s->phase = XU_PHASE_READY;
    s->ready = 1;
    note_phase(s);
    if (jid != s->bound_jid) {
        free(s->bound_jid);
        s->bound_jid = jid ? strdup(jid) : NULL;
    }
    if (ready_hook)
        ready_hook(s, ready_hook_ud);
    xu_trace_info(s->trace, "session ready as %s", s->bound_jid ? s->bound_jid : "?");
}

/* ---- public ---- */

static int resolve_failure(struct xu_session *s, const char *host, struct xu_error *err)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (res)
        freeaddrinfo(res);
    if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAIL)
        return xu_error_set(err, XU_EX_NOHOST, "cannot resolve host %s: %s", host, gai_strerror(rc));
    if (rc == EAI_AGAIN)
        return xu_error_set(err, XU_EX_TEMPFAIL, "cannot resolve host %s now: %s", host,
                            gai_strerror(rc));
    return xu_error_set(err, XU_EX_UNAVAILABLE, "cannot connect to %s: %s",
                        s->connect_target, strerror(s->tcp_errno ? s->tcp_errno : ECONNREFUSED));
}

/* libstrophe calls SSL_CTX_set_default_verify_paths() twice per connection,
 * and each call parses the whole CA bundle file (~140 certificates, most of a
 * one-shot run's CPU). The hashed certificate directory holds the same trust
 * anchors and is read lazily, one CA per handshake. So while connecting we
 * point OpenSSL's default file at nothing, leaving the directory, when the
 * directory is really hashed and the bundle is the one generated into that
 * same directory (Debian's update-ca-certificates writes both) or unset. An
 * SSL_CERT_FILE elsewhere is the user's choice and is left alone. */
static int cert_file_hidden;
static char *cert_file_saved;

static int bundle_in_dir(const char *file, const char *dir)
{
    char *f = realpath(file, NULL), *d = realpath(dir, NULL), *slash;
    int same = 0;

    if (f && d && (slash = strrchr(f, '/')) != NULL) {
        *slash = '\0';
        same = strcmp(f, d) == 0;
    }
    free(f);
    free(d);
    return same;
}

static void prefer_cert_dir(void)
{
    const char *env = X509_get_default_cert_file_env();
    const char *file = getenv(env);
    const char *dir = getenv(X509_get_default_cert_dir_env());
    struct dirent *de;
    unsigned x;
    char dot[8];
    DIR *d;

    if (!dir)
        dir = X509_get_default_cert_dir();
    if (file && !bundle_in_dir(file, dir))
        return;
    d = opendir(dir);
    if (!d)
        return;
    while ((de = readdir(d)) != NULL)
        if (strlen(de->d_name) == 10 && sscanf(de->d_name, "%8x%2s", &x, dot) == 2 &&
            strcmp(dot, ".0") == 0)
            break;
    closedir(d);
    if (!de)
        return;
    cert_file_saved = file ? strdup(file) : NULL;
    if (setenv(env, "/dev/null/xmpputils-uses-the-hashed-cert-dir", 1) == 0)
        cert_file_hidden = 1;
}

/* Children (passwordeval, hooks) must see the environment the user gave. */
static void restore_cert_file(void)
{
    if (cert_file_hidden) {
        if (cert_file_saved)
            setenv(X509_get_default_cert_file_env(), cert_file_saved, 1);
        else
            unsetenv(X509_get_default_cert_file_env());
        free(cert_file_saved);
        cert_file_saved = NULL;
        cert_file_hidden = 0;
    }
}

/* libstrophe treats an unusable CA file as "no TLS", which would read as
 * a server fault: check it here and say what is wrong with it. */
static int check_trust_file(const char *path, struct xu_error *err)
{
    FILE *fp = fopen(path, "r");
    X509 *cert;

    if (!fp)
        return xu_error_set(err, XU_EX_CONFIG, "cannot read tls_trust_file %s: %s", path,
                            strerror(errno));
    cert = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    if (!cert)
        return xu_error_set(err, XU_EX_CONFIG,
                            "tls_trust_file %s holds no PEM certificate", path);
    X509_free(cert);
    return 0;
}

static int setup_tls(struct xu_session *s, struct xu_error *err)
{
    const struct xu_opts *o = s->opts;
    long flags = XMPP_CONN_FLAG_DISABLE_SM; /* acknowledgements are ours; see README */

    switch (o->tls) {
    case XU_TLS_STARTTLS: flags |= XMPP_CONN_FLAG_MANDATORY_TLS; break;
    case XU_TLS_DIRECT: flags |= XMPP_CONN_FLAG_LEGACY_SSL | XMPP_CONN_FLAG_MANDATORY_TLS; break;
    case XU_TLS_OFF: flags |= XMPP_CONN_FLAG_DISABLE_TLS; break;
    }
    if (o->tls_insecure && o->tls != XU_TLS_OFF)
        flags |= XMPP_CONN_FLAG_TRUST_TLS;
    if (s->is_component)
        flags = XMPP_CONN_FLAG_DISABLE_SM; /* XEP-0114 has no TLS */
    if (xmpp_conn_set_flags(s->conn, flags) != XMPP_EOK)
        return xu_error_set(err, XU_EX_SOFTWARE, "cannot set connection flags");
    if (o->tls_trust_file && o->tls != XU_TLS_OFF) {
        int rc = check_trust_file(o->tls_trust_file, err);
        if (rc)
            return rc;
        xmpp_conn_set_cafile(s->conn, o->tls_trust_file);
    }
    xmpp_conn_set_certfail_handler(s->conn, on_certfail);
    if (o->tls == XU_TLS_OFF && !s->is_component)
        xu_warn("WARNING: --tls off: the password and all messages cross the network in clear");
    else if (o->tls_insecure && !s->is_component)
        xu_warn("WARNING: --tls-insecure: the server certificate is NOT verified; "
                "anyone on the path can read and change this session");
    return 0;
}

static int start_client(struct xu_session *s, struct xu_error *err)
{
    const struct xu_opts *o = s->opts;
    char why[128], domain[1024], *full = NULL;
    const char *target;
    int rc;

    if (!o->jid)
        return xu_error_set(err, XU_EX_USAGE,
                            "no JID: give -j JID, or -a ACCOUNT with a jid in the config file");
    if (xu_jid_check(o->jid, 0, why, sizeof why) < 0)
        return xu_error_set(err, XU_EX_USAGE, "invalid JID '%s': %s", o->jid, why);
    if (o->resource && !strchr(o->jid, '/')) {
        if (asprintf(&full, "%s/%s", o->jid, o->resource) < 0)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        if (xu_jid_check(full, 0, why, sizeof why) < 0) {
            free(full);
            return xu_error_set(err, XU_EX_USAGE, "invalid resource '%s': %s", o->resource, why);
        }
    }
    xmpp_conn_set_jid(s->conn, full ? full : o->jid);
    free(full);
    rc = xu_negotiate_prepare(s, err);
    if (rc)
        return rc;
    xu_jid_domain(o->jid, domain, sizeof domain);
    target = o->host ? o->host : domain;
    snprintf(s->connect_target, sizeof s->connect_target, "%s:%u", target,
             o->port ? o->port : o->tls == XU_TLS_DIRECT ? 5223 : 5222);
    s->phase = XU_PHASE_TCP;
    if (o->tls != XU_TLS_OFF && !o->tls_insecure)
        prefer_cert_dir();
    if (xmpp_connect_raw(s->conn, o->host, (unsigned short)o->port, on_conn, s) != XMPP_EOK) {
        restore_cert_file();
        return resolve_failure(s, target, err);
    }
    return 0;
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
    xmpp_connect_client(s->conn, "127.0.0.1", 9, on_conn, s);
    xmpp_conn_set_sockopt_callback(s->conn, on_sockopt);
    if (!xmpp_conn_is_disconnected(s->conn))
        return xu_error_set(err, XU_EX_SOFTWARE, "cannot prepare the component connection");
    return 0;
}

static int start_component(struct xu_session *s, struct xu_error *err)
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
    if (xmpp_connect_component(s->conn, host, (unsigned short)o->port, on_conn, s) != XMPP_EOK)
        return resolve_failure(s, host, err);
    return 0;
}

/* Counts what arrives, so that xu_session_step can tell that the turn that
 * only writes (run_once with no wait) also read something. */
static int count_rx(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    (void)conn;
    (void)st;
    ((struct xu_session *)ud)->rx_stanzas++;
    return 1;
}

int xu_session_start(struct xu_session *s, const struct xu_opts *o, double deadline,
                     struct xu_error *err)
{
    static int initialised;
    static xmpp_log_t log;
    struct sigaction sa;
    int rc;

    memset(s, 0, sizeof *s);
    s->opts = o;
    s->sock = -1;
    s->is_component = o->component != NULL;
    current = s;
    xu_sm_take_resume(s);
    if (!initialised) {
        xmpp_initialize();
        signal(SIGPIPE, SIG_IGN);
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        initialised = 1;
    }
    snprintf(alarm_msg, sizeof alarm_msg,
             "%s: timed out after %g s (blocked in name resolution or TLS)\n", xu_progname,
             shown_timeout(o));
    s->trace = shared_trace;
    s->trace_shared = shared_trace != NULL;
    if (!s->trace && o->trace && (rc = xu_trace_open(&s->trace, o->trace, err)) != 0)
        return rc;
    log.handler = on_log;
    log.userdata = s;
    s->ctx = xmpp_ctx_new(&wiping_mem, &log);
    s->conn = s->ctx ? xmpp_conn_new(s->ctx) : NULL;
    if (!s->conn)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    xmpp_conn_set_sockopt_callback(s->conn, on_sockopt);
    xmpp_handler_add(s->conn, count_rx, NULL, NULL, NULL, s);

    xu_session_set_deadline(s, deadline > 0 ? deadline : xu_now() + shown_timeout(o));
    rc = setup_tls(s, err);
    if (rc == 0)
        rc = s->is_component ? start_component(s, err) : start_client(s, err);
    if (rc)
        return rc;
    xu_trace_info(s->trace, "connecting to %s", s->connect_target);
    return 0;
}

int xu_session_open(struct xu_session *s, const struct xu_opts *o, double deadline,
                    struct xu_error *err)
{
    int rc = xu_session_start(s, o, deadline, err);

    if (rc)
        return rc;
    while (!s->ready) {
        rc = xu_session_step(s, 1.0, -1, NULL);
        if (rc)
            return xu_error_set(err, rc, "%s", s->err.msg);
    }
    if (deadline <= 0 && o->timeout == 0)
        xu_session_set_deadline(s, 0); /* --timeout 0: only connecting is bounded */
    return 0;
}

static void quickack(struct xu_session *s)
{
#ifdef TCP_QUICKACK
    int one = 1;

    /* Linux turns quick ACKs off again by itself: re-arm before each read
     * so a server that waits for our ACK (Nagle) is not stalled ~40 ms. */
    if (s->sock >= 0)
        setsockopt(s->sock, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
    (void)s;
#endif
}

static int ended(struct xu_session *s)
{
    if (!s->err.code)
        xu_error_set(&s->err, XU_EX_TEMPFAIL, "connection to %s closed", s->connect_target);
    return s->err.code;
}

int xu_session_step(struct xu_session *s, double max_wait, int extra_fd, int *extra_ready)
{
    unsigned long rx;
    struct pollfd pfd[2];
    double wait, now;
    int i, n;

    if (extra_ready)
        *extra_ready = 0;
    if (s->disconnected)
        return ended(s);
    if (interrupt_flag && *interrupt_flag)
        return xu_error_set(&s->err, XU_EX_TEMPFAIL, "interrupted");
    now = xu_now();
    if (s->deadline > 0 && now >= s->deadline) {
        s->timed_out = 1;
        explain_disconnect(s, 0, NULL);
        return s->err.code;
    }
    wait = max_wait;
    /* While negotiating, a failure inside one of libstrophe's handlers
     * (e.g. the TLS handshake) closes the socket only when the next loop
     * writes; that loop then sleeps its whole wait: keep it short. */
    if (!s->ready && wait > 0.05)
        wait = 0.05;
    if (s->deadline > 0 && s->deadline - now < wait)
        wait = s->deadline - now;
    if (wait < 0)
        wait = 0;

    if (extra_fd < 0 || s->sock < 0 || !s->ready) {
        quickack(s);
        /* libstrophe writes what is queued before it waits; when that
         * write finds the connection gone, it then sleeps the whole wait
         * with no socket left. Its own queue (e.g. a stream error) is not
         * visible to us: always write first, without waiting. */
        rx = s->rx_stanzas;
        xmpp_run_once(s->ctx, 0);
        if (s->disconnected)
            return ended(s);
        /* That turn read something (e.g. the answer the caller waits for):
         * let the caller look before sleeping. And what OpenSSL already
         * holds is invisible to libstrophe's select(), which would sleep the
         * whole wait over it (libstrophe 0.12.2 src/event.c). */
        if (s->rx_stanzas == rx && !xu_tlsinfo_pending())
            xmpp_run_once(s->ctx, (unsigned long)(wait * 1000) + (wait > 0 ? 1 : 0));
        if (extra_fd >= 0 && extra_ready) {
            pfd[0].fd = extra_fd;
            pfd[0].events = POLLIN;
            *extra_ready = poll(pfd, 1, 0) > 0;
        }
    } else {
        /* Wait on the server and on the caller's descriptor at once. */
        pfd[0].fd = s->sock;
        pfd[0].events = POLLIN | (xmpp_conn_send_queue_len(s->conn) > 0 ? POLLOUT : 0);
        pfd[1].fd = extra_fd;
        pfd[1].events = POLLIN;
        n = poll(pfd, 2, (int)(wait * 1000));
        if (n > 0 && extra_ready)
            *extra_ready = (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        quickack(s);
        /* libstrophe reads 4 KiB per turn; a 16 KiB TLS record needs a few
         * turns, and what OpenSSL holds buffered is invisible to poll(). */
        for (i = 0; i < 5 && !s->disconnected; i++)
            xmpp_run_once(s->ctx, 0);
    }
    if (s->disconnected && (s->phase != XU_PHASE_CLOSED || s->err.code))
        return ended(s);
    if (s->disconnected)
        return ended(s);
    return 0;
}

int xu_session_run(struct xu_session *s, int (*done)(void *ud), void *ud, struct xu_error *err)
{
    int rc;

    while (!done(ud)) {
        rc = xu_session_step(s, 1.0, -1, NULL);
        if (rc)
            return xu_error_set(err, rc, "%s", s->err.msg);
    }
    return 0;
}

void xu_session_send(struct xu_session *s, xmpp_stanza_t *stanza)
{
    xu_sm_count_queued(s, stanza);
    xu_send_faithful(s->conn, stanza); /* (stanza_out.h: not xmpp_send) */
}

char *xu_session_new_id(struct xu_session *s)
{
    char *id = xmpp_uuid_gen(s->ctx), *copy;

    if (!id)
        return NULL;
    copy = strdup(id);
    xmpp_free(s->ctx, id);
    return copy;
}

struct ping_wait {
    int answered;
    double sent;
    double rtt_ms;
};

static int on_ping_reply(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *ud)
{
    struct ping_wait *w = ud;

    (void)conn;
    (void)stanza;
    /* result or error: either way the server has worked through everything before it */
    w->answered = 1;
    w->rtt_ms = (xu_now() - w->sent) * 1000;
    return 0;
}

static int ping_done(void *ud)
{
    return ((struct ping_wait *)ud)->answered;
}

char *xu_session_ping(struct xu_session *s, xmpp_handler handler, void *ud)
{
    xmpp_stanza_t *iq, *ping;
    char *id, domain[1024];

    id = xu_session_new_id(s);
    iq = id ? xmpp_iq_new(s->ctx, "get", id) : NULL;
    ping = iq ? xmpp_stanza_new(s->ctx) : NULL;
    if (!ping) {
        if (iq)
            xmpp_stanza_release(iq);
        free(id);
        return NULL;
    }
    xmpp_stanza_set_name(ping, "ping");
    xmpp_stanza_set_ns(ping, "urn:xmpp:ping");
    xmpp_stanza_add_child(iq, ping);
    xmpp_stanza_release(ping);
    if (s->bound_jid && xu_jid_domain(s->bound_jid, domain, sizeof domain))
        xmpp_stanza_set_to(iq, domain);
    xmpp_id_handler_add(s->conn, handler, id, ud);
    xu_session_send(s, iq);
    xmpp_stanza_release(iq);
    return id;
}

int xu_session_roundtrip(struct xu_session *s, double *rtt_ms, struct xu_error *err)
{
    struct ping_wait w = {0, 0, 0};
    char *id;
    int rc;

    w.sent = xu_now();
    id = xu_session_ping(s, on_ping_reply, &w);
    if (!id)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = xu_session_run(s, ping_done, &w, err);
    if (rc)
        xmpp_id_handler_delete(s->conn, on_ping_reply, id);
    free(id);
    if (rc == 0 && rtt_ms)
        *rtt_ms = w.rtt_ms;
    return rc;
}

void xu_session_close(struct xu_session *s)
{
    double until;

    if (!s->conn || s->disconnected || !xmpp_conn_is_connected(s->conn))
        return;
    s->phase = XU_PHASE_CLOSING;
    xmpp_disconnect(s->conn);
    /* Give the server a moment to close its side, within the deadline. */
    until = xu_now() + 2.0;
    if (s->deadline > 0 && s->deadline < until)
        until = s->deadline;
    while (!s->disconnected && xu_now() < until)
        xmpp_run_once(s->ctx, 50);
}

void xu_session_free(struct xu_session *s)
{
    arm_alarm(0);
    restore_cert_file();
    xu_negotiate_free(s); /* before the context its stanzas belong to */
    if (s->conn)
        xmpp_conn_release(s->conn);
    if (s->ctx)
        xmpp_ctx_free(s->ctx);
    xu_negotiate_free(s);
    xu_tlsinfo_reset();
    if (!s->trace_shared)
        xu_trace_close(s->trace);
    free(s->bound_jid);
    free(s->features);
    free(s->stream_id);
    if (current == s)
        current = NULL;
    alarm_sock = -1;
    memset(s, 0, sizeof *s);
    s->sock = -1;
}

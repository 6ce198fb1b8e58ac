/* Connecting a client session, and libstrophe's callbacks for the
 * connection: the socket as it is made, the connection's events (raw
 * connect hands over to the login in lib/xmpp/negotiate.c; a disconnect is
 * explained by session_end.c), and a failed connect told apart from a name
 * that does not resolve. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/jid.h"
#include "xmpp/negotiate.h"
#include "xmpp/session_int.h"

/* ---- libstrophe callbacks ---- */

/* The socket, as libstrophe makes it: the session and the deadline alarm
 * keep it (to shut it down). */
int xu_session_sockopt_cb(xmpp_conn_t *conn, void *sockp)
{
    int fd = *(int *)sockp, one = 1;

    if (xu_session_current) {
        xu_session_current->sock = fd;
        xu_session_alarm_sock = fd;
    }
    /* Small request/response exchanges: never wait for Nagle. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return xmpp_sockopt_cb_keepalive(conn, sockp);
}

void xu_session_conn_cb(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
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
        xu_session_restore_cert_file();
        s->disconnected = 1;
        if (!se)
            se = xu_negotiate_stream_error(s);
        if (s->phase != XU_PHASE_CLOSING)
            xu_session_explain_end(s, error, se);
        s->phase = XU_PHASE_CLOSED;
        s->sock = -1;
        xu_session_alarm_sock = -1;
    }
}

/* xmpp_connect_* failed at once: a name that does not resolve (68, or 75
 * while the resolver is unreachable), else a connect failure (69). */
int xu_session_resolve_failure(struct xu_session *s, const char *host, struct xu_error *err)
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

/* The client: the JID (and -r) checked, the login prepared, the connect
 * started in raw mode (the login is ours). */
int xu_session_start_client(struct xu_session *s, struct xu_error *err)
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
        xu_session_prefer_cert_dir();
    if (xmpp_connect_raw(s->conn, o->host, (unsigned short)o->port, xu_session_conn_cb, s) !=
        XMPP_EOK) {
        xu_session_restore_cert_file();
        return xu_session_resolve_failure(s, target, err);
    }
    return 0;
}

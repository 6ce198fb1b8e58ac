#include "probe/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>

#include "base/msg.h"
#include "xmpp/session.h"
#include "base/trace.h"

/* More than any server's stream header and features need. */
#define STREAM_MAX (1u << 20)

void probe_conn_init(struct probe_conn *c, struct xu_trace *trace, double deadline)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->trace = trace;
    c->deadline = deadline;
}

static int left_ms(const struct probe_conn *c)
{
    double left = c->deadline - xu_now();

    return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static int timed_out(struct probe_conn *c, const char *what, struct xu_error *err)
{
    return xu_error_set(err, XU_EX_TEMPFAIL, "timed out %s%s%s", what,
                        c->address[0] ? " with " : "", c->address);
}

/* Wait until fd is ready for events, within the deadline. 1 ready, 0 timeout. */
static int wait_fd(struct probe_conn *c, short events)
{
    struct pollfd p = {c->fd, events, 0};
    int n, ms;

    for (;;) {
        ms = left_ms(c);
        if (ms == 0)
            return 0;
        n = poll(&p, 1, ms);
        if (n > 0)
            return 1;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return 1; /* let the read or write report it */
    }
}

static void describe(const struct sockaddr *sa, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    unsigned port = 0;

    a[0] = '\0';
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, a, sizeof a);
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
        snprintf(buf, len, "%s:%u", a, port);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, a, sizeof a);
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
        snprintf(buf, len, "[%s]:%u", a, port);
    } else {
        snprintf(buf, len, "?");
    }
}

/* One address: 0 connected, else the errno (ETIMEDOUT for our deadline). */
static int connect_one(struct probe_conn *c, const struct addrinfo *ai, double until)
{
    int fd, e = 0, one = 1;
    socklen_t elen = sizeof e;
    double saved = c->deadline;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return errno;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        c->fd = fd;
        return 0;
    }
    if (errno != EINPROGRESS) {
        e = errno;
        close(fd);
        return e;
    }
    c->fd = fd;
    c->deadline = until;
    if (!wait_fd(c, POLLOUT))
        e = ETIMEDOUT;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
        e = errno;
    c->deadline = saved;
    if (e) {
        close(fd);
        c->fd = -1;
    }
    return e;
}

int probe_conn_connect(struct probe_conn *c, const char *host, unsigned port, int family,
                       struct xu_error *err)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[16], where[300], last[300] = "";
    int rc, e = 0, n = 0, i = 0;
    double now, until;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%u", port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAIL || rc == EAI_ADDRFAMILY)
        return xu_error_set(err, XU_EX_NOHOST, "cannot resolve %s%s: %s", host,
                            family == AF_INET ? " (IPv4)" : family == AF_INET6 ? " (IPv6)" : "",
                            gai_strerror(rc));
    if (rc)
        return xu_error_set(err, XU_EX_TEMPFAIL, "cannot resolve %s now: %s", host,
                            gai_strerror(rc));
    for (ai = res; ai; ai = ai->ai_next)
        n++;
    for (ai = res; ai; ai = ai->ai_next, i++) {
        /* an unanswered address must leave time for the next ones */
        now = xu_now();
        until = i + 1 < n ? now + (c->deadline - now) / 2 : c->deadline;
        describe(ai->ai_addr, where, sizeof where);
        e = connect_one(c, ai, until);
        xu_trace_info(c->trace, "TCP connect to %s: %s", where, e ? strerror(e) : "connected");
        if (e == 0) {
            snprintf(c->address, sizeof c->address, "%s", where);
            break;
        }
        snprintf(last, sizeof last, "%s", where);
    }
    freeaddrinfo(res);
    if (e == 0 && c->fd >= 0)
        return 0;
    if (e == ETIMEDOUT)
        return xu_error_set(err, XU_EX_TEMPFAIL, "connecting to %s timed out", last);
    if (e == ECONNREFUSED)
        return xu_error_set(err, XU_EX_UNAVAILABLE, "connection refused by %s", last);
    return xu_error_set(err, XU_EX_UNAVAILABLE, "cannot connect to %s: %s", last[0] ? last : host,
                        strerror(e ? e : EHOSTUNREACH));
}

static void tls_error(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();

    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "connection closed during the handshake");
    ERR_clear_error();
}

int probe_conn_tls(struct probe_conn *c, SSL_CTX *ctx, const char *sni, const char *alpn,
                   struct xu_error *err)
{
    unsigned char wire[256];
    size_t n;
    char why[256];
    int rc, e;

    c->ssl = SSL_new(ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
        return xu_error_set(err, XU_EX_SOFTWARE, "cannot set up TLS");
    if (sni)
        SSL_set_tlsext_host_name(c->ssl, sni);
    if (alpn) {
        n = strlen(alpn);
        if (n > 0 && n < sizeof wire - 1) {
            wire[0] = (unsigned char)n;
            memcpy(wire + 1, alpn, n);
            SSL_set_alpn_protos(c->ssl, wire, (unsigned)(n + 1));
        }
    }
    for (;;) {
        ERR_clear_error();
        rc = SSL_connect(c->ssl);
        if (rc == 1)
            break;
        e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (!wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT))
                return timed_out(c, "in the TLS handshake", err);
            continue;
        }
        tls_error(why, sizeof why);
        return xu_error_set(err, XU_EX_PROTOCOL, "TLS handshake with %s failed: %s", c->address,
                            why);
    }
    xu_trace_info(c->trace, "TLS established: %s, %s", SSL_get_version(c->ssl),
                  SSL_get_cipher_name(c->ssl));
    return 0;
}

int probe_conn_send(struct probe_conn *c, const char *data, struct xu_error *err)
{
    size_t len = strlen(data), off = 0;
    ssize_t n;
    int e;

    xu_trace_sent(c->trace, data);
    while (off < len) {
        if (c->ssl) {
            ERR_clear_error();
            n = SSL_write(c->ssl, data + off, (int)(len - off));
            if (n <= 0) {
                e = SSL_get_error(c->ssl, (int)n);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    if (!wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT))
                        return timed_out(c, "sending", err);
                    continue;
                }
                return xu_error_set(err, XU_EX_UNAVAILABLE, "connection to %s lost while sending",
                                    c->address);
            }
        } else {
            n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    if (!wait_fd(c, POLLOUT))
                        return timed_out(c, "sending", err);
                    continue;
                }
                return xu_error_set(err, XU_EX_UNAVAILABLE, "connection to %s lost: %s",
                                    c->address, strerror(errno));
            }
        }
        off += (size_t)n;
    }
    return 0;
}

static void free_parser(struct probe_conn *c)
{
    if (!c->xml)
        return;
    if (c->xml->myDoc)
        xmlFreeDoc(c->xml->myDoc);
    xmlFreeParserCtxt(c->xml);
    c->xml = NULL;
}

int probe_conn_open_stream(struct probe_conn *c, const char *header, struct xu_error *err)
{
    free_parser(c);
    c->stream_bytes = 0;
    c->xml = xmlCreatePushParserCtxt(NULL, NULL, NULL, 0, NULL);
    if (!c->xml)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    /* no network, no entities, no DTD: a stream is plain elements */
    xmlCtxtUseOptions(c->xml, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    return probe_conn_send(c, header, err);
}

/* Linux turns quick ACKs off by itself: re-armed before each read, so that
 * a server waiting for our ACK (Nagle) does not stall the measurement by
 * the delayed-ACK time (~40 ms). */
static void quickack(struct probe_conn *c)
{
#ifdef TCP_QUICKACK
    int one = 1;

    setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
    (void)c;
#endif
}

/* One read from the connection into the parser. */
static int read_some(struct probe_conn *c, const char *waiting_for, struct xu_error *err)
{
    char buf[16384], what[128];
    ssize_t n;
    int e;

    snprintf(what, sizeof what, "waiting for %s", waiting_for);
    for (;;) {
        quickack(c);
        if (c->ssl) {
            ERR_clear_error();
            n = SSL_read(c->ssl, buf, sizeof buf - 1);
            if (n <= 0) {
                e = SSL_get_error(c->ssl, (int)n);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    if (!wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT))
                        return timed_out(c, what, err);
                    continue;
                }
                n = 0;
            }
        } else {
            if (!wait_fd(c, POLLIN))
                return timed_out(c, what, err);
            n = recv(c->fd, buf, sizeof buf - 1, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n < 0)
                return xu_error_set(err, XU_EX_UNAVAILABLE, "connection to %s lost %s: %s",
                                    c->address, what, strerror(errno));
        }
        break;
    }
    if (n == 0)
        return xu_error_set(err, XU_EX_UNAVAILABLE, "%s closed the connection while I was %s",
                            c->address, what);
    buf[n] = '\0';
    xu_trace_recv(c->trace, buf);
    c->stream_bytes += (size_t)n;
    if (c->stream_bytes > STREAM_MAX)
        return xu_error_set(err, XU_EX_PROTOCOL, "%s sent more than %u bytes %s", c->address,
                            STREAM_MAX, what);
    if (xmlParseChunk(c->xml, buf, (int)n, 0) != 0) {
        const xmlError *x;
        char msg[256];

        /* after the end of the stream nothing matters, not even junk */
        if (c->xml->myDoc && xmlDocGetRootElement(c->xml->myDoc) && c->xml->nodeNr == 0)
            return 0;
        x = xmlCtxtGetLastError(c->xml);

        xu_sanitize_terminal(msg, sizeof msg, x && x->message ? x->message : "malformed XML");
        msg[strcspn(msg, "\n?")] = '\0';
        return xu_error_set(err, XU_EX_PROTOCOL, "%s sent malformed XML %s: %s", c->address,
                            what, msg);
    }
    return 0;
}

int probe_conn_header(struct probe_conn *c, xmlNodePtr *root, struct xu_error *err)
{
    int rc;

    while (!c->xml->myDoc || !xmlDocGetRootElement(c->xml->myDoc))
        if ((rc = read_some(c, "the stream header", err)) != 0)
            return rc;
    *root = xmlDocGetRootElement(c->xml->myDoc);
    return 0;
}

int probe_conn_next(struct probe_conn *c, xmlNodePtr *el, struct xu_error *err)
{
    xmlNodePtr root, n;
    int rc;

    *el = NULL;
    for (;;) {
        root = c->xml->myDoc ? xmlDocGetRootElement(c->xml->myDoc) : NULL;
        for (n = root ? root->children : NULL; n; n = root->children) {
            /* the last child is still open while the parser is inside it */
            if (n == root->last && c->xml->nodeNr > 1)
                break;
            xmlUnlinkNode(n);
            if (n->type == XML_ELEMENT_NODE) {
                *el = n;
                return 0;
            }
            xmlFreeNode(n); /* whitespace between elements */
        }
        if (root && c->xml->nodeNr == 0)
            return xu_error_set(err, XU_EX_PROTOCOL, "%s closed the stream", c->address);
        if ((rc = read_some(c, "the server's answer", err)) != 0)
            return rc;
    }
}

void probe_conn_close(struct probe_conn *c, int send_close)
{
    struct xu_error ignore = {0, ""};
    double saved = c->deadline, until = xu_now() + 1.0;

    if (c->fd >= 0 && send_close && c->xml) {
        /* a clean close: ours, then (briefly) the server's */
        if (until < c->deadline)
            c->deadline = until;
        if (probe_conn_send(c, "</stream:stream>", &ignore) == 0)
            while (c->xml->nodeNr > 0 && read_some(c, "the server to close", &ignore) == 0)
                ;
        c->deadline = saved;
    }
    if (c->ssl) {
        if (c->fd >= 0)
            SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free_parser(c);
}

/* ---- element helpers ---- */

int probe_is(xmlNodePtr n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0 &&
           (!ns || (n->ns && xmlStrcmp(n->ns->href, BAD_CAST ns) == 0));
}

xmlNodePtr probe_child(xmlNodePtr n, const char *ns, const char *name)
{
    xmlNodePtr c;

    for (c = n ? n->children : NULL; c; c = c->next)
        if (probe_is(c, ns, name))
            return c;
    return NULL;
}

char *probe_text(xmlNodePtr n)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    char *s = strdup(t ? (const char *)t : "");

    xmlFree(t);
    return s;
}

char *probe_attr(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    char *s = v ? strdup((const char *)v) : NULL;

    xmlFree(v);
    return s;
}

void probe_condition(xmlNodePtr n, const char *ns, char *buf, size_t len)
{
    const char *cond = NULL;
    char *text = NULL, raw[512];
    xmlNodePtr c;

    for (c = n ? n->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !c->ns || xmlStrcmp(c->ns->href, BAD_CAST ns) != 0)
            continue;
        if (xmlStrcmp(c->name, BAD_CAST "text") == 0) {
            free(text);
            text = probe_text(c);
        } else if (!cond) {
            cond = (const char *)c->name;
        }
    }
    snprintf(raw, sizeof raw, "%s%s%s", cond ? cond : "undefined-condition",
             text && *text ? ": " : "", text ? text : "");
    free(text);
    xu_sanitize_terminal(buf, len, raw);
}

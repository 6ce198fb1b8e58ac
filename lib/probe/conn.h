/* xmpp-probe's own view of an XMPP stream: a socket, OpenSSL for TLS (so
 * that the protocol version, cipher and certificate chain can be seen), and
 * libxml2's push parser reading the stream, so that the features offered
 * before authentication, which libstrophe hides, can be reported. Every
 * wait is bounded by the deadline; nothing blocks. */
#ifndef XU_PROBE_CONN_H
#define XU_PROBE_CONN_H

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/ssl.h>

#include "base/error.h"

struct xu_trace;

struct probe_conn {
    int fd;
    SSL *ssl;
    xmlParserCtxtPtr xml;
    struct xu_trace *trace;   /* may be NULL */
    double deadline;          /* absolute xu_now() seconds */
    size_t stream_bytes;      /* read on the current stream */
    char address[128];        /* "addr:port" actually connected to */
};

void probe_conn_init(struct probe_conn *c, struct xu_trace *trace, double deadline);

/* TCP connect to host:port (family AF_UNSPEC, AF_INET or AF_INET6), trying
 * each address in turn. Errors: XU_EX_NOHOST (name does not resolve),
 * XU_EX_UNAVAILABLE (refused, unreachable), XU_EX_TEMPFAIL (timed out). */
int probe_conn_connect(struct probe_conn *c, const char *host, unsigned port, int family,
                       struct xu_error *err);

/* TLS client handshake on the connection (SNI and, if alpn is not NULL,
 * ALPN). Certificate checks are left to the caller: the handshake succeeds
 * whatever the certificate, so that it can be reported. */
int probe_conn_tls(struct probe_conn *c, SSL_CTX *ctx, const char *sni, const char *alpn,
                   struct xu_error *err);

/* Send text (traced with "C: "). */
int probe_conn_send(struct probe_conn *c, const char *data, struct xu_error *err);

/* Start a new stream: a fresh parser, then send the header. */
int probe_conn_open_stream(struct probe_conn *c, const char *header, struct xu_error *err);

/* Wait for the server's stream header; *root is its element (owned by the
 * connection, valid until the next stream). */
int probe_conn_header(struct probe_conn *c, xmlNodePtr *root, struct xu_error *err);

/* Wait for the next complete top-level element of the stream (caller frees
 * it with xmlFreeNode). A closed stream or connection is an error. */
int probe_conn_next(struct probe_conn *c, xmlNodePtr *el, struct xu_error *err);

/* Close the stream and wait briefly (within the deadline) for the server's
 * side; then close the connection. Safe to call more than once. */
void probe_conn_close(struct probe_conn *c, int send_close);

/* Helpers for elements of the stream. */
int probe_is(xmlNodePtr n, const char *ns, const char *name);
xmlNodePtr probe_child(xmlNodePtr n, const char *ns, const char *name);
/* Text content of n (caller frees with free()), never NULL unless OOM. */
char *probe_text(xmlNodePtr n);
/* Attribute value (caller frees with free()), NULL if absent. */
char *probe_attr(xmlNodePtr n, const char *name);

/* The condition of a <stream:error/> (or any element carrying a condition
 * child in ns) and its <text/>, as "condition: text". */
void probe_condition(xmlNodePtr n, const char *ns, char *buf, size_t len);

#endif

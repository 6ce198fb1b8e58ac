/* What the probe reports about a TLS connection, read from OpenSSL: the
 * protocol version, cipher, ALPN, and the certificate chain (subject, DNS
 * names and XmppAddr, issuer, validity, days left, SHA-256), and whether
 * the certificate verifies for the XMPP domain. */
#ifndef XU_PROBE_TLS_H
#define XU_PROBE_TLS_H

#include <jansson.h>
#include <openssl/ssl.h>

#include "base/error.h"

/* A client context trusting the system store plus trust_file (may be NULL).
 * The trust store is loaded here, before any timing starts. */
int probe_tls_ctx(SSL_CTX **ctx, const char *trust_file, struct xu_error *err);

struct probe_tls_result {
    int chain_ok;      /* the chain verifies to a trusted CA */
    int name_ok;       /* the certificate names the domain */
    int pin_ok;        /* -1 no pin given, else 0/1 */
    double days_left;  /* of the server certificate (floor), or -1e9 */
    char verify_error[256];
};

/* Fill tls (an object: version, cipher, alpn, cert, chain, verified,
 * verify_error) from the connection. pin: 64 lowercase hex digits or NULL. */
void probe_tls_inspect(SSL *ssl, const char *domain, const char *pin, json_t *tls,
                       struct probe_tls_result *res);

#endif

/* What libstrophe does not tell about its TLS session: the OpenSSL SSL
 * object (for channel binding, RFC 5929 / RFC 9266) and the protocol
 * version. */
#ifndef XU_TLSINFO_H
#define XU_TLSINFO_H

#include <stddef.h>

/* Around xmpp_conn_tls_start(): the SSL object libstrophe creates between
 * begin and end is the one of this connection. */
void xu_tlsinfo_capture_begin(void);
void xu_tlsinfo_capture_end(void);
/* Forget it (the connection ended). */
void xu_tlsinfo_reset(void);

/* Bytes of the captured session that OpenSSL has decrypted and libstrophe
 * has not read yet (SSL_pending); 0 without a session. */
int xu_tlsinfo_pending(void);

/* The captured session's protocol version ("TLSv1.3"), or NULL. */
const char *xu_tlsinfo_version(void);

/* The channel binding of the captured session: tls-exporter (RFC 9266) on
 * TLS 1.3, tls-unique (RFC 5929) on older versions (the negotiation uses
 * tls-exporter only where the server advertises it, XEP-0440). Writes the type name
 * and the data, base64, to the buffers. Returns 0, or -1 when there is no
 * session or no data. */
int xu_tlsinfo_channel_binding(char *type, size_t typelen, char *b64, size_t b64len);

#endif

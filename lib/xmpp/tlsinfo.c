/* The SSL object of libstrophe's TLS session.
 *
 * No libstrophe version exposes it (0.12 to 0.14), yet channel binding needs
 * it: the tls-exporter keying material or the first Finished message. The
 * ways to reach it:
 *  - libstrophe's private struct layout (conn->tls->ssl): breaks silently
 *    on any libstrophe change; rejected.
 *  - an SSL_CTX callback (info/keylog/verify): libstrophe creates its
 *    SSL_CTX itself and installs no hook for us; rejected.
 *  - taking the place of SSL_new(): libstrophe calls OpenSSL through the
 *    PLT, so a definition in the program is found first (the suite already
 *    takes the place of a libstrophe function the same way). It forwards to
 *    the real SSL_new and only remembers the result, and only while the
 *    suite itself is inside xmpp_conn_tls_start(), so no other SSL object
 *    (e.g. xmpp-probe's own inspection connection) can be mistaken for it.
 *    SSL_free() is taken over the same way to forget the object when
 *    libstrophe frees it. Chosen: it reads nothing private and fails safe
 *    (no object seen: no channel binding, and -PLUS is not chosen).
 */
#include "xmpp/tlsinfo.h"

#include <dlfcn.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

static SSL *captured;
static int capturing;

SSL *SSL_new(SSL_CTX *ctx)
{
    static SSL *(*real)(SSL_CTX *);
    SSL *ssl;

    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "SSL_new");
    ssl = real ? real(ctx) : NULL;
    if (capturing && ssl)
        captured = ssl;
    return ssl;
}

void SSL_free(SSL *ssl)
{
    static void (*real)(SSL *);

    if (ssl && ssl == captured)
        captured = NULL;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "SSL_free");
    if (real)
        real(ssl);
}

void xu_tlsinfo_capture_begin(void)
{
    captured = NULL;
    capturing = 1;
}

void xu_tlsinfo_capture_end(void)
{
    capturing = 0;
}

void xu_tlsinfo_reset(void)
{
    captured = NULL;
    capturing = 0;
}

int xu_tlsinfo_pending(void)
{
    return captured ? SSL_pending(captured) : 0;
}

const char *xu_tlsinfo_version(void)
{
    return captured ? SSL_get_version(captured) : NULL;
}

int xu_tlsinfo_channel_binding(char *type, size_t typelen, char *b64, size_t b64len)
{
    unsigned char data[64];
    size_t n = 0;

    if (!captured || !SSL_is_init_finished(captured))
        return -1;
    if (SSL_version(captured) >= TLS1_3_VERSION) {
        if (SSL_export_keying_material(captured, data, 32, "EXPORTER-Channel-Binding", 24, NULL,
                                       0, 0) != 1)
            return -1;
        n = 32;
        snprintf(type, typelen, "tls-exporter");
    } else {
        /* RFC 5929: the first Finished message of the latest handshake;
         * the client sent it on a full handshake (no resumption here) */
        n = SSL_session_reused(captured) ? SSL_get_peer_finished(captured, data, sizeof data)
                                         : SSL_get_finished(captured, data, sizeof data);
        if (n == 0 || n > sizeof data)
            return -1;
        snprintf(type, typelen, "tls-unique");
    }
    if (b64len < 4 * ((n + 2) / 3) + 1)
        return -1;
    EVP_EncodeBlock((unsigned char *)b64, data, (int)n);
    OPENSSL_cleanse(data, sizeof data);
    return 0;
}

/* bench/floor: what the libraries cost before xmpp-send does anything, so the
 * benchmark can say which part of a one-shot run's memory and CPU is ours.
 *
 *   floor LEVEL
 *     0  linked against libstrophe, libssl and libcrypto, nothing called
 *     1  OPENSSL_init_ssl()
 *     2  1 + SSL_CTX_new(TLS_client_method()), as libstrophe does per handshake
 *     3  2 + xmpp_initialize(), a libstrophe context and connection */
#include <stdlib.h>

#include <openssl/ssl.h>
#include <strophe.h>

int main(int argc, char **argv)
{
    int level = argc > 1 ? atoi(argv[1]) : 0;
    SSL_CTX *ssl = NULL;
    xmpp_ctx_t *ctx = NULL;
    xmpp_conn_t *conn = NULL;

    if (level >= 1)
        OPENSSL_init_ssl(0, NULL);
    if (level >= 2 && !(ssl = SSL_CTX_new(TLS_client_method())))
        return 1;
    if (level >= 3) {
        xmpp_initialize();
        ctx = xmpp_ctx_new(NULL, NULL);
        conn = ctx ? xmpp_conn_new(ctx) : NULL;
        if (!conn)
            return 1;
        xmpp_conn_release(conn);
        xmpp_ctx_free(ctx);
        xmpp_shutdown();
    }
    SSL_CTX_free(ssl);
    return 0;
}

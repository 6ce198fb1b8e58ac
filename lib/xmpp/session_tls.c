/* The session's TLS policy: required and verified unless a loudly named
 * flag says otherwise, a trust file checked before use, a SHA-256 pin
 * checked after every handshake (nothing is sent to a server that fails
 * it), and OpenSSL pointed at the hashed CA directory while connecting
 * (a CPU saving; the environment is restored for child commands). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/msg.h"
#include "xmpp/negotiate.h"
#include "xmpp/session_int.h"

void xu_session_pin_check(struct xu_session *s)
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

static int on_certfail(const xmpp_tlscert_t *cert, const char *const errmsg)
{
    struct xu_session *s = xu_session_current;
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

int xu_session_check_pin(struct xu_session *s)
{
    if (!s->opts->tls_fingerprint)
        return 0;
    xu_session_pin_check(s);
    if (!s->pin_checked || s->pin_mismatch) {
        s->pin_mismatch = 1;
        if (s->sock >= 0)
            shutdown(s->sock, SHUT_RDWR);
        return -1;
    }
    return 0;
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

void xu_session_prefer_cert_dir(void)
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
void xu_session_restore_cert_file(void)
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

int xu_session_setup_tls(struct xu_session *s, struct xu_error *err)
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

#include "probe/tls.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "probe/report.h"

int probe_tls_ctx(SSL_CTX **ctx, const char *trust_file, struct xu_error *err)
{
    FILE *fp;
    X509 *cert;

    *ctx = SSL_CTX_new(TLS_client_method());
    if (!*ctx)
        return xu_error_set(err, XU_EX_SOFTWARE, "cannot create a TLS context");
    /* The handshake must succeed whatever the certificate, so that it can
     * be reported; verification is judged afterwards (probe_tls_inspect). */
    SSL_CTX_set_verify(*ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_default_verify_paths(*ctx);
    if (!trust_file)
        return 0;
    fp = fopen(trust_file, "r");
    cert = fp ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
    if (fp)
        fclose(fp);
    if (!cert)
        return xu_error_set(err, XU_EX_CONFIG, "tls_trust_file %s: %s", trust_file,
                            fp ? "holds no PEM certificate" : "cannot be read");
    X509_free(cert);
    if (SSL_CTX_load_verify_locations(*ctx, trust_file, NULL) != 1) {
        ERR_clear_error();
        return xu_error_set(err, XU_EX_CONFIG, "tls_trust_file %s cannot be loaded", trust_file);
    }
    return 0;
}

static json_t *name_str(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long n;
    json_t *j;

    if (!b)
        return json_null();
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
    n = BIO_get_mem_data(b, &data);
    data = strndup(data, n > 0 ? (size_t)n : 0);
    j = probe_jstr(data);
    free(data);
    BIO_free(b);
    return j;
}

/* ISO 8601 (UTC) of an ASN1_TIME; *epoch gets Unix time. */
static json_t *time_str(const ASN1_TIME *t, double *epoch)
{
    struct tm tm;
    char buf[32];

    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return json_null();
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (epoch)
        *epoch = (double)timegm(&tm);
    return json_string(buf);
}

static double days_left(const ASN1_TIME *not_after)
{
    int day = 0, sec = 0;

    if (!not_after || !ASN1_TIME_diff(&day, &sec, NULL, not_after))
        return -1e9;
    return floor(((double)day * 86400.0 + (double)sec) / 86400.0);
}

static json_t *fingerprint(const X509 *cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    char hex[EVP_MAX_MD_SIZE * 3 + 1];

    if (!X509_digest(cert, EVP_sha256(), md, &n))
        return json_null();
    for (i = 0; i < n; i++)
        snprintf(hex + i * 3, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
    return json_string(hex);
}

static json_t *asn1_str(const ASN1_STRING *s)
{
    char *copy;
    json_t *j;

    if (!s)
        return json_null();
    copy = strndup((const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
    j = probe_jstr(copy);
    free(copy);
    return j;
}

/* subjectAltName: DNS names, XmppAddr (id-on-xmppAddr) and SRV-ID. */
static void alt_names(X509 *cert, json_t *out)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    ASN1_OBJECT *xmpp = OBJ_txt2obj("1.3.6.1.5.5.7.8.5", 1);
    ASN1_OBJECT *srv = OBJ_txt2obj("1.3.6.1.5.5.7.8.7", 1);
    json_t *dns = json_array(), *xa = json_array(), *srvs = json_array();
    const GENERAL_NAME *g;
    const ASN1_TYPE *v;
    int i;

    for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS) {
            json_array_append_new(dns, asn1_str(g->d.dNSName));
        } else if (g->type == GEN_OTHERNAME) {
            v = g->d.otherName->value;
            if (xmpp && OBJ_cmp(g->d.otherName->type_id, xmpp) == 0 && v &&
                v->type == V_ASN1_UTF8STRING)
                json_array_append_new(xa, asn1_str(v->value.utf8string));
            else if (srv && OBJ_cmp(g->d.otherName->type_id, srv) == 0 && v &&
                     v->type == V_ASN1_IA5STRING)
                json_array_append_new(srvs, asn1_str(v->value.ia5string));
        }
    }
    json_object_set_new(out, "san", dns);
    json_object_set_new(out, "xmpp_addr", xa);
    json_object_set_new(out, "srv_id", srvs);
    GENERAL_NAMES_free(gens);
    ASN1_OBJECT_free(xmpp);
    ASN1_OBJECT_free(srv);
}

/* The fields every certificate of the chain gets. */
static json_t *cert_json(X509 *cert, double *expiry)
{
    json_t *c = json_object();
    double na = -1;

    json_object_set_new(c, "subject", name_str(X509_get_subject_name(cert)));
    json_object_set_new(c, "issuer", name_str(X509_get_issuer_name(cert)));
    json_object_set_new(c, "not_before", time_str(X509_get0_notBefore(cert), NULL));
    json_object_set_new(c, "not_after", time_str(X509_get0_notAfter(cert), &na));
    if (na >= 0)
        json_object_set_new(c, "expiry_timestamp", json_integer((json_int_t)na));
    json_object_set_new(c, "days_left", json_integer((json_int_t)days_left(X509_get0_notAfter(cert))));
    json_object_set_new(c, "sha256", fingerprint(cert));
    if (expiry)
        *expiry = na;
    return c;
}

static int pin_matches(X509 *cert, const char *pin)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    char hex[EVP_MAX_MD_SIZE * 2 + 1];

    if (!X509_digest(cert, EVP_sha256(), md, &n))
        return 0;
    for (i = 0; i < n; i++)
        snprintf(hex + i * 2, 3, "%02x", md[i]);
    return strcasecmp(hex, pin) == 0;
}

void probe_tls_inspect(SSL *ssl, const char *domain, const char *pin, json_t *tls,
                       struct probe_tls_result *res)
{
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    X509 *leaf = SSL_get1_peer_certificate(ssl);
    json_t *cert, *arr = json_array();
    long vr;
    int i;

    memset(res, 0, sizeof *res);
    res->pin_ok = -1;
    res->days_left = -1e9;
    json_object_set_new(tls, "version", json_string(SSL_get_version(ssl)));
    json_object_set_new(tls, "cipher", json_string(SSL_get_cipher_name(ssl)));
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len) {
        char *a = strndup((const char *)alpn, alpn_len);
        json_object_set_new(tls, "alpn", probe_jstr(a));
        free(a);
    } else {
        json_object_set_new(tls, "alpn", json_null());
    }
    if (!leaf) {
        snprintf(res->verify_error, sizeof res->verify_error, "the server sent no certificate");
        json_object_set_new(tls, "verified", json_false());
        json_object_set_new(tls, "verify_error", json_string(res->verify_error));
        json_decref(arr);
        return;
    }
    cert = cert_json(leaf, NULL);
    alt_names(leaf, cert);
    res->days_left = days_left(X509_get0_notAfter(leaf));

    vr = SSL_get_verify_result(ssl);
    res->chain_ok = vr == X509_V_OK;
    res->name_ok = X509_check_host(leaf, domain, 0, 0, NULL) == 1 ||
                   probe_has_string(json_object_get(cert, "xmpp_addr"), domain);
    if (pin)
        res->pin_ok = pin_matches(leaf, pin);
    if (!res->chain_ok)
        snprintf(res->verify_error, sizeof res->verify_error, "%s",
                 X509_verify_cert_error_string(vr));
    else if (!res->name_ok)
        snprintf(res->verify_error, sizeof res->verify_error,
                 "the certificate is not valid for %s", domain);
    if (res->pin_ok == 0)
        snprintf(res->verify_error, sizeof res->verify_error,
                 "the certificate does not match --tls-fingerprint");
    else if (res->pin_ok == 1)
        res->verify_error[0] = '\0'; /* pinned: the pin is the trust anchor */
    json_object_set_new(cert, "chain_ok", json_boolean(res->chain_ok));
    json_object_set_new(cert, "name_ok", json_boolean(res->name_ok));
    json_object_set_new(cert, "verified",
                        json_boolean(res->pin_ok == 1 || (res->pin_ok != 0 && res->chain_ok &&
                                                          res->name_ok)));
    json_object_set_new(tls, "verified", json_copy(json_object_get(cert, "verified")));
    json_object_set_new(tls, "verify_error",
                        res->verify_error[0] ? json_string(res->verify_error) : json_null());
    json_object_set_new(tls, "cert", cert);
    for (i = 0; chain && i < sk_X509_num(chain); i++)
        json_array_append_new(arr, cert_json(sk_X509_value(chain, i), NULL));
    json_object_set_new(tls, "chain", arr);
    X509_free(leaf);
}

#include "xmpp/sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsasl.h>

#include "base/mechanisms.h"

static int offered_p(const char *const *offered, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (offered[i] && strcmp(offered[i], name) == 0)
            return 1;
    return 0;
}

static void list_offered(const char *const *offered, size_t n, char *buf, size_t len)
{
    size_t i, used = 0;

    buf[0] = '\0';
    for (i = 0; i < n && used + 1 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? " " : "", offered[i]);
    if (!n)
        snprintf(buf, len, "none");
}

int xu_sasl_choose(const char *const *offered, size_t n, const char *allowed, int have_cb,
                   int plain_ok, int anonymous, char *out, size_t outlen, char *why,
                   size_t whylen)
{
    char list[300];
    Gsasl *g = NULL;
    size_t i;
    int found = 0;

    list_offered(offered, n, list, sizeof list);
    if (anonymous) {
        if (!offered_p(offered, n, "ANONYMOUS")) {
            snprintf(why, whylen, "a JID without a user name logs in anonymously, but the "
                     "server does not offer ANONYMOUS (it offers: %s)", list);
            return -1;
        }
        snprintf(out, outlen, "ANONYMOUS");
        return 0;
    }
    if (gsasl_init(&g) != GSASL_OK) {
        snprintf(why, whylen, "cannot initialise GNU SASL");
        return -1;
    }
    for (i = 0; i < XU_SASL_NPREF && !found; i++) {
        const char *m = xu_sasl_preference[i];

        if (!offered_p(offered, n, m) || !gsasl_client_support_p(g, m))
            continue;
        if (allowed ? !xu_sasl_in_list(allowed, m) : strcmp(m, "DIGEST-MD5") == 0)
            continue;
        if (strstr(m, "-PLUS") && !have_cb)
            continue;
        if (strcmp(m, "PLAIN") == 0 && !plain_ok)
            continue;
        snprintf(out, outlen, "%s", m);
        found = 1;
    }
    gsasl_done(g);
    if (found)
        return 0;
    if (allowed)
        snprintf(why, whylen, "the server offers no SASL mechanism that --sasl-mechanisms "
                 "allows (offered: %s; allowed: %s)", list, allowed);
    else if (offered_p(offered, n, "PLAIN") && !plain_ok)
        snprintf(why, whylen, "the server offers only mechanisms that would send the password "
                 "in clear (offered: %s)", list);
    else
        snprintf(why, whylen, "the server offers no SASL mechanism the suite uses (offered: %s)",
                 list);
    return -1;
}

static void gsasl_why(int rc, const char *what, char *why, size_t whylen)
{
    snprintf(why, whylen, "%s: %s", what, gsasl_strerror(rc));
}

int xu_sasl_start(struct xu_sasl *x, const char *mech, const char *authid, const char *password,
                  const char *domain, const char *cb_type, const char *cb_data,
                  int server_offers_plus, char **initial, char *why, size_t whylen)
{
    Gsasl *g = NULL;
    Gsasl_session *sess = NULL;
    char *out = NULL;
    int rc;

    memset(x, 0, sizeof *x);
    *initial = NULL;
    if ((rc = gsasl_init(&g)) != GSASL_OK) {
        gsasl_why(rc, "cannot initialise GNU SASL", why, whylen);
        return -1;
    }
    x->ctx = g;
    if ((rc = gsasl_client_start(g, mech, &sess)) != GSASL_OK) {
        gsasl_why(rc, "cannot start SASL", why, whylen);
        return -1;
    }
    x->sess = sess;
    snprintf(x->mech, sizeof x->mech, "%s", mech);
    if (strcmp(mech, "ANONYMOUS") == 0)
        gsasl_property_set(sess, GSASL_ANONYMOUS_TOKEN, "");
    else {
        gsasl_property_set(sess, GSASL_AUTHID, authid);
        if (password)
            gsasl_property_set(sess, GSASL_PASSWORD, password);
    }
    gsasl_property_set(sess, GSASL_SERVICE, "xmpp");
    gsasl_property_set(sess, GSASL_HOSTNAME, domain);
    /* The 'y' flag (binding supported, not offered) cannot be had: GNU SASL
     * 2.2.0's SCRAM client fails ("Error authenticating user") whenever
     * binding data is given to a non-PLUS mechanism, so a non-PLUS login
     * sends 'n'. */
    (void)server_offers_plus;
    if (cb_data && cb_type && strstr(mech, "-PLUS")) {
        if (strcmp(cb_type, "tls-exporter") == 0)
            gsasl_property_set(sess, GSASL_CB_TLS_EXPORTER, cb_data);
        else
            gsasl_property_set(sess, GSASL_CB_TLS_UNIQUE, cb_data);
    }
    rc = gsasl_step64(sess, "", &out);
    if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
        gsasl_why(rc, mech, why, whylen);
        gsasl_free(out);
        return -1;
    }
    x->complete = rc == GSASL_OK;
    *initial = out ? out : strdup("");
    return *initial ? 0 : -1;
}

int xu_sasl_step(struct xu_sasl *x, const char *in, char **out, char *why, size_t whylen)
{
    char *o = NULL;
    int rc;

    *out = NULL;
    if (!x->sess) {
        snprintf(why, whylen, "no SASL exchange in progress");
        return -1;
    }
    rc = gsasl_step64(x->sess, in ? in : "", &o);
    x->steps++;
    if (rc == GSASL_NEEDS_MORE || rc == GSASL_OK) {
        *out = o;
        x->complete = rc == GSASL_OK;
        return rc == GSASL_OK ? 0 : 1;
    }
    gsasl_free(o);
    gsasl_why(rc, x->mech, why, whylen);
    return -1;
}

const char *xu_sasl_scram_salt(struct xu_sasl *x)
{
    return x->sess ? gsasl_property_fast(x->sess, GSASL_SCRAM_SALT) : NULL;
}

const char *xu_sasl_scram_iter(struct xu_sasl *x)
{
    return x->sess ? gsasl_property_fast(x->sess, GSASL_SCRAM_ITER) : NULL;
}

const char *xu_sasl_scram_salted(struct xu_sasl *x)
{
    return x->sess ? gsasl_property_fast(x->sess, GSASL_SCRAM_SALTED_PASSWORD) : NULL;
}

void xu_sasl_set_salted(struct xu_sasl *x, const char *hex)
{
    if (x->sess)
        gsasl_property_set(x->sess, GSASL_SCRAM_SALTED_PASSWORD, hex);
}

void xu_sasl_free(struct xu_sasl *x)
{
    if (x->sess) {
        /* the password and salted password are in its properties; GNU
         * SASL frees them (a wiping allocator is not available for it) */
        gsasl_property_set(x->sess, GSASL_PASSWORD, NULL);
        gsasl_property_set(x->sess, GSASL_SCRAM_SALTED_PASSWORD, NULL);
        gsasl_finish(x->sess);
    }
    if (x->ctx)
        gsasl_done(x->ctx);
    memset(x, 0, sizeof *x);
}

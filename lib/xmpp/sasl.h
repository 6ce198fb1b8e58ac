/* SASL for the login (RFC 6120 section 6), through GNU SASL: which mechanism
 * to use, and the exchange itself. The XML around it is lib/xmpp/negotiate.c's. */
#ifndef XU_SASL_H
#define XU_SASL_H

#include <stddef.h>

struct xu_sasl {
    void *ctx;              /* Gsasl * */
    void *sess;             /* Gsasl_session * */
    char mech[32];
    int complete;           /* the mechanism returned GSASL_OK */
    int steps;              /* server messages processed */
};

/* Choose the mechanism: the strongest of ours that the server offers
 * (offered: mechanism names, n of them), GNU SASL implements, and `allowed`
 * (a comma/space separated list; NULL = the default set) permits.
 * -PLUS only when have_cb; PLAIN only when plain_ok (inside TLS, or --tls
 * off was given); DIGEST-MD5 only when named in allowed; ANONYMOUS only,
 * and always, for a JID without a node (anonymous). Returns 0 and the name
 * in out, or -1 with the reason in why. */
int xu_sasl_choose(const char *const *offered, size_t n, const char *allowed, int have_cb,
                   int plain_ok, int anonymous, char *out, size_t outlen, char *why,
                   size_t whylen);


/* Start mech. authid: the JID's node; password may be NULL (ANONYMOUS);
 * domain: for DIGEST-MD5. cb_type/cb_data (base64): channel binding of the
 * TLS session, NULL when none; used for a -PLUS mechanism only. (The 'y'
 * flag, "binding supported but not offered", would need it for the others
 * too, and GNU SASL 2.2.0's SCRAM client fails when given it there: a
 * non-PLUS login sends 'n'; server_offers_plus is kept for when it can.)
 * *initial gets the initial response, base64 ("" for an empty one; caller
 * frees). Returns 0 or -1 (why set). */
int xu_sasl_start(struct xu_sasl *x, const char *mech, const char *authid, const char *password,
                  const char *domain, const char *cb_type, const char *cb_data,
                  int server_offers_plus, char **initial, char *why, size_t whylen);

/* One server message (base64, "" for none) → *out (base64, caller frees,
 * may be NULL). Returns 1 when the mechanism needs more, 0 when it
 * completed (for SCRAM: the server's signature verified), -1 on failure
 * (why set). */
int xu_sasl_step(struct xu_sasl *x, const char *in, char **out, char *why, size_t whylen);

/* A SCRAM property after step 1 (the salt, the iteration count, the salted
 * password that GNU SASL computed): NULL when not known. Points into the
 * GNU SASL session: valid until xu_sasl_free. */
const char *xu_sasl_scram_salt(struct xu_sasl *x);
const char *xu_sasl_scram_iter(struct xu_sasl *x);
const char *xu_sasl_scram_salted(struct xu_sasl *x);
/* Give a cached salted password (hex) for the salt/iterations of the
 * server's first message (call between the first step and the second:
 * GNU SASL then skips PBKDF2). */
void xu_sasl_set_salted(struct xu_sasl *x, const char *hex);

void xu_sasl_free(struct xu_sasl *x);

#endif

/* What the files of the client login share (internal to negotiate*.c): its
 * state, and the memory it keeps between runs (negotiate_cache.c). */
#ifndef XU_NEGOTIATE_INT_H
#define XU_NEGOTIATE_INT_H

#include "xmpp/sasl.h"
#include "xmpp/session.h"

struct xu_negotiation {
    char *password;          /* wiped when freed */
    char domain[1024];
    char node[1024];
    int secured;             /* TLS is up */
    int authenticated;       /* SASL succeeded (and the server proved itself) */
    int offers_plus;         /* the server offered a -PLUS mechanism */
    int need_session;        /* legacy session establishment is required */
    struct xu_sasl sasl;
    char bare[1024];         /* the account, for the state files */
    char remembered[32];     /* the strongest mechanism that succeeded before */
    char salt[256], iter[16];
    char salted[256];        /* hex; wiped */
    int cache_hit;
    xmpp_stanza_t *stream_error; /* the server's <stream:error/>, kept */
    xmpp_stanza_t *post_auth;    /* the features after SASL, kept for a refused resumption */
    xmpp_stream_error_t se;
};

/* The SCRAM salted-password cache (in the state files, lib/xmpp/state.c):
 * before GNU SASL reads the server-first-message, a cached salted password
 * spares PBKDF2 (lookup); after that step, what GNU SASL used is noted;
 * a failed login drops the entry. */
void xu_negotiate_cache_lookup(struct xu_session *s, const char *challenge);
void xu_negotiate_cache_note(struct xu_session *s);
void xu_negotiate_cache_drop(struct xu_session *s);
/* The server proved itself: remember the mechanism (the strongest so far,
 * for downgrade protection) and the salted password. */
void xu_negotiate_cache_store(struct xu_session *s);

#endif

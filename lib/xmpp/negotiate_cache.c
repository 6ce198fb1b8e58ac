/* What the client login keeps between runs, in the state files
 * (lib/xmpp/state.c): the SCRAM salted password for this account, server,
 * mechanism, salt and iteration count, which spares PBKDF2 on the next run,
 * and the strongest mechanism that succeeded, which negotiate.c checks
 * against downgrades. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/mechanisms.h"
#include "base/msg.h"
#include "base/trace.h"
#include "xmpp/negotiate_int.h"
#include "xmpp/state.h"

/* The salt and iteration count of a SCRAM server-first-message (base64),
 * to look the salted password up before GNU SASL derives it. */
static void scram_salt_iter(const char *b64, char *salt, size_t saltlen, char *iter,
                            size_t iterlen)
{
    size_t len = strlen(b64);
    unsigned char *msg = malloc(len / 4 * 3 + 4);
    char *field, *save = NULL;
    int n;

    salt[0] = iter[0] = '\0';
    if (!msg)
        return;
    n = EVP_DecodeBlock(msg, (const unsigned char *)b64, (int)len);
    if (n > 0) {
        msg[n] = '\0';
        for (field = strtok_r((char *)msg, ",", &save); field; field = strtok_r(NULL, ",", &save))
            if (strncmp(field, "s=", 2) == 0)
                snprintf(salt, saltlen, "%s", field + 2);
            else if (strncmp(field, "i=", 2) == 0)
                snprintf(iter, iterlen, "%s", field + 2);
    }
    free(msg);
}

static int cache_on(struct xu_session *s)
{
    return !s->opts->no_sasl_cache && s->neg->node[0] && strncmp(s->neg->sasl.mech, "SCRAM-", 6) == 0;
}

/* Before GNU SASL processes the server-first-message: a cached salted
 * password for this salt and iteration count spares PBKDF2. */
void xu_negotiate_cache_lookup(struct xu_session *s, const char *challenge)
{
    struct xu_negotiation *n = s->neg;
    char salt[256], iter[16];

    if (!cache_on(s) || n->sasl.steps != 0)
        return;
    scram_salt_iter(challenge, salt, sizeof salt, iter, sizeof iter);
    if (xu_state_get_salted(n->bare, s->connect_target, n->sasl.mech, salt, iter, n->salted,
                            sizeof n->salted)) {
        xu_sasl_set_salted(&n->sasl, n->salted);
        n->cache_hit = 1;
        xu_trace_info(s->trace, "SCRAM salted password from the cache (%s): PBKDF2 skipped",
                      xu_state_dir());
    }
}

/* After that step: what GNU SASL used, to store once the server has
 * proved itself. */
void xu_negotiate_cache_note(struct xu_session *s)
{
    struct xu_negotiation *n = s->neg;
    const char *salt = xu_sasl_scram_salt(&n->sasl), *iter = xu_sasl_scram_iter(&n->sasl);
    const char *salted = xu_sasl_scram_salted(&n->sasl);

    if (!cache_on(s) || n->sasl.steps != 1 || !salt || !iter || !salted)
        return;
    snprintf(n->salt, sizeof n->salt, "%s", salt);
    snprintf(n->iter, sizeof n->iter, "%s", iter);
    if (!n->cache_hit)
        snprintf(n->salted, sizeof n->salted, "%s", salted);
}

/* The login failed: a cached entry must not be tried again. */
void xu_negotiate_cache_drop(struct xu_session *s)
{
    struct xu_negotiation *n = s->neg;

    if (n->node[0] && n->sasl.mech[0] && strncmp(n->sasl.mech, "SCRAM-", 6) == 0)
        xu_state_drop_salted(n->bare, s->connect_target, n->sasl.mech);
}

/* The server proved itself: remember the mechanism (the strongest so far)
 * and the salted password. */
void xu_negotiate_cache_store(struct xu_session *s)
{
    struct xu_negotiation *n = s->neg;

    if (!n->node[0])
        return;
    if (!n->remembered[0] || xu_sasl_rank(n->sasl.mech) > xu_sasl_rank(n->remembered) ||
        s->opts->accept_mechanism_change)
        if (strcmp(n->remembered, n->sasl.mech) != 0 &&
            xu_state_put_mech(n->bare, s->connect_target, n->sasl.mech) < 0)
            xu_warn("cannot write the login state in %s: %s", xu_state_dir() ? xu_state_dir() : "(no home)",
                    strerror(errno));
    if (cache_on(s) && !n->cache_hit && n->salt[0] && n->salted[0] &&
        xu_state_put_salted(n->bare, s->connect_target, n->sasl.mech, n->salt, n->iter,
                            n->salted) < 0)
        xu_warn("cannot write the SCRAM cache in %s: %s", xu_state_dir() ? xu_state_dir() : "(no home)",
                strerror(errno));
    OPENSSL_cleanse(n->salted, sizeof n->salted);
}

/* xmpp-send --omemo (see omemo_send.h). */
#include <stdlib.h>
#include <string.h>

#include "omemo_send.h"

static int up(struct xu_session *s, void *ud, struct xu_error *err)
{
    struct xu_omemo_send *os = ud;
    int rc = xu_omemo_publish(os->omemo, s, err);

    return rc ? rc : xu_omemo_prepare(os->omemo, s, os->to, os->nto, err);
}

static int wrap(struct xu_session *s, void *ud, xmpp_stanza_t *msg, struct xu_error *err)
{
    struct xu_omemo_send *os = ud;

    return xu_omemo_encrypt(os->omemo, s, msg, err);
}

int xu_omemo_send_setup(struct xu_omemo_send *os, struct xu_deliver_cfg *cfg,
                        const char *account_jid, struct xu_error *err)
{
    char *bare = strdup(account_jid ? account_jid : ""), *p;
    int rc;

    memset(os, 0, sizeof *os);
    if (!bare)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if ((p = strchr(bare, '/')) != NULL)
        *p = '\0';
    for (p = bare; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (!strchr(bare, '@'))
        rc = xu_error_set(err, XU_EX_USAGE, "--omemo needs a user account (user@domain)");
    else
        rc = xu_omemo_open(&os->omemo, bare, err);
    free(bare);
    if (rc)
        return rc;
    os->to = cfg->to;
    os->nto = cfg->nto;
    cfg->up = up;
    cfg->wrap = wrap;
    cfg->hook_ud = os;
    return 0;
}

void xu_omemo_send_free(struct xu_omemo_send *os)
{
    xu_omemo_free(os->omemo);
    os->omemo = NULL;
}

/* xmpp-send --omemo (see omemo_send.h). */
#include <string.h>

#include "send/omemo_encrypt.h"
#include "send/upload.h"

static int up(struct xu_session *s, void *ud, struct xu_error *err)
{
    struct xu_omemo_send *os = ud;
    int rc = xu_omemo_publish(os->omemo, s, err);

    return rc ? rc : xu_omemo_prepare(os->omemo, s, os->to, os->nto, err);
}

static int wrap(struct xu_session *s, void *ud, xmpp_stanza_t *msg, struct xu_error *err)
{
    struct xu_omemo_send *os = ud;

    /* a shared file's URL goes inside the encryption only (XEP-0454): an
     * XEP-0066 element would show it in clear (setup turns it off) */
    if (xmpp_stanza_get_child_by_ns(msg, XU_NS_OOB))
        return xu_error_set(err, XU_EX_SOFTWARE, "an OOB element on an OMEMO message: not sent");
    return xu_omemo_encrypt(os->omemo, s, msg, err);
}

int xu_omemo_send_setup(struct xu_omemo_send *os, struct xu_deliver_cfg *cfg,
                        const char *account_jid, struct xu_error *err)
{
    int rc;

    memset(os, 0, sizeof *os);
    rc = xu_omemo_open_account(&os->omemo, account_jid, err);
    if (rc)
        return rc;
    os->to = cfg->to;
    os->nto = cfg->nto;
    cfg->oob_body_only = 1;
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

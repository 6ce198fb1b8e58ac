/* xmpp-send --omemo: the OMEMO hooks of the delivery engine. */
#ifndef XU_OMEMO_SEND_H
#define XU_OMEMO_SEND_H

#include "send/deliver.h"
#include "omemo/omemo.h"

struct xu_omemo_send {
    struct xu_omemo *omemo;
    char *const *to;
    int nto;
};

/* Open the account's store (account_jid: its JID, a resource is ignored)
 * and set cfg's hooks: on every new session our device is published and the
 * recipients' devices fetched (a recipient without a usable device ends the
 * run before anything is sent), and every message is encrypted. */
int xu_omemo_send_setup(struct xu_omemo_send *os, struct xu_deliver_cfg *cfg,
                        const char *account_jid, struct xu_error *err);
void xu_omemo_send_free(struct xu_omemo_send *os);

#endif

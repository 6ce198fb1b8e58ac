/* xmpp-listen --omemo: OMEMO messages shown decrypted. */
#ifndef XU_OMEMO_LISTEN_H
#define XU_OMEMO_LISTEN_H

#include <strophe.h>

#include "xml/format.h"
#include "omemo/omemo.h"

struct xu_omemo_view {
    xmpp_stanza_t *shown; /* what to filter and print (caller releases): the
                           * message with its body decrypted, or saying why not */
    struct xu_omemo_in in;
};

/* 0: st is not OMEMO-encrypted (print it as it is); 1: v->shown is set;
 * -1: nothing to print (a key transport message, or out of memory). */
int xu_omemo_view(struct xu_omemo *o, struct xu_session *s, xmpp_stanza_t *st,
                  struct xu_omemo_view *v);
void xu_omemo_view_free(struct xu_omemo_view *v);

/* The output line of v->shown (caller frees; NULL: nothing to show): as
 * xu_format_line, and in JSON with "omemo": {"device", "trust", "error"}
 * ("body" null when it could not be decrypted). */
char *xu_omemo_format_line(const struct xu_omemo_view *v, enum xu_format fmt, double received);

#endif

/* Stanzas written by a user or a script (read with stanza_in), made ready
 * for the stream they go out on. */
#ifndef XU_OUTGOING_H
#define XU_OUTGOING_H

#include <strophe.h>

#include "base/error.h"
#include "xmpp/session.h"

/* Prepare st for sending on s:
 *  - a <message/>, <presence/> or <iq/> without an id gets a fresh one;
 *  - an <iq/> must have type get, set, result or error (XU_EX_DATAERR);
 *  - the top element's namespace is dropped when it is jabber:client (the
 *    reader's default) or, on a component stream, jabber:component:accept,
 *    so that the stream's own default namespace applies (XEP-0114 servers
 *    expect stanzas in jabber:component:accept);
 *  - on a component stream a stanza without 'from' gets the component's
 *    domain (XEP-0114 requires a from).
 * Other top-level elements (e.g. XEP-0352 <active/>) are left as they are.
 * Returns 0, XU_EX_DATAERR or XU_EX_OSERR. */
int xu_outgoing_prepare(struct xu_session *s, xmpp_stanza_t *st, struct xu_error *err);

/* 1 if st is a <message/>, <presence/> or <iq/>. */
int xu_is_stanza(xmpp_stanza_t *st);

#endif

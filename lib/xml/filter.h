/* Choosing incoming stanzas: by kind (message, presence, iq), by type, by
 * sender, and by an XPath expression (libxml2) over the stanza. Criteria of
 * different sorts must all match; several values of one sort (two --from,
 * a list of types) match if any does; several XPath expressions must all
 * be true. */
#ifndef XU_FILTER_H
#define XU_FILTER_H

#include <strophe.h>

#include "base/error.h"

/* Namespace prefixes bound for XPath expressions. Names without a prefix
 * match jabber:client elements, unless the expression uses the c: prefix,
 * in which case c: is needed for them. */
#define XU_XPATH_PREFIXES \
    "c=jabber:client, delay=urn:xmpp:delay, muc=http://jabber.org/protocol/muc#user, " \
    "stanzas=urn:ietf:params:xml:ns:xmpp-stanzas"

struct xu_filter;

struct xu_filter *xu_filter_new(void);
void xu_filter_free(struct xu_filter *f);

/* Each takes one value or a comma-separated list and may be called again
 * (repeated options). Errors are usage errors (64). */
int xu_filter_add_kind(struct xu_filter *f, const char *list, struct xu_error *err);
int xu_filter_add_type(struct xu_filter *f, const char *list, struct xu_error *err);
/* A bare JID matches any resource; a full JID only that one. */
int xu_filter_add_from(struct xu_filter *f, const char *jid, struct xu_error *err);
/* Compiled and tried at once: a syntax error, an unknown prefix, function or
 * variable is reported here (64), not at the first stanza. */
int xu_filter_add_xpath(struct xu_filter *f, const char *expr, struct xu_error *err);

/* 1 if the stanza passes every criterion (an empty filter passes all). */
int xu_filter_match(struct xu_filter *f, xmpp_stanza_t *stanza);

/* "message", "presence", "iq", or NULL for anything else. */
const char *xu_stanza_kind(xmpp_stanza_t *stanza);
/* The type with the protocol's defaults filled in: a message without one is
 * "normal", a presence without one "available". */
const char *xu_stanza_type(xmpp_stanza_t *stanza);

#endif

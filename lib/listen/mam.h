/* Message Archive Management (XEP-0313, urn:xmpp:mam:2) queries, one page
 * at a time with Result Set Management (XEP-0059): the account's own archive
 * or a room's (MUC MAM). Each archived message is handed to a callback as it
 * arrives, so that a catch-up of any length holds one stanza at a time. */
#ifndef XU_MAM_H
#define XU_MAM_H

#include <strophe.h>

#include "base/error.h"
#include "xmpp/session.h"

#define XU_NS_MAM "urn:xmpp:mam:2"
#define XU_NS_SID "urn:xmpp:sid:0"
#define XU_NS_RSM "http://jabber.org/protocol/rsm"
#define XU_NS_FORWARD "urn:xmpp:forward:0"

struct xu_mam_query {
    const char *archive;  /* JID of the archive to ask (a room); NULL: the account's */
    const char *after_id; /* page after this archive id; NULL: from `start` or the beginning */
    const char *start;    /* XEP-0082 date-time or NULL */
    int max;              /* page size asked for (the server may give fewer) */
    int newest_only;      /* ask for the newest message only (RSM <before/>, max 1) */
};

/* One archived message, valid during the callback only. */
struct xu_mam_item {
    const char *archive;     /* the archive's JID (the account's bare JID or the room) */
    const char *id;          /* its archive id (XEP-0359 stanza-id) */
    const char *stamp;       /* when the archive got it (XEP-0203 stamp), or NULL */
    xmpp_stanza_t *message;  /* the archived message as the archive forwarded it */
};

/* Return 0 to go on, non-zero to stop handing items (the page still ends). */
typedef int (*xu_mam_item_fn)(const struct xu_mam_item *item, void *ud);

struct xu_mam_page {
    int complete;        /* the server said this is the end of the archive */
    char last[256];      /* RSM <last/>: the id to page after ("" if none) */
    long count;          /* RSM <count/>: messages the query matches, -1 unknown */
    unsigned long items; /* items handed to the callback */
    char condition[64];  /* the stanza error condition when the query failed */
};

/* Send one query and hand each result to fn (in archive order) until the
 * answer arrives or `until` (absolute xu_now()) passes. Returns 0 on a
 * result; XU_EX_UNAVAILABLE with page->condition set when the archive
 * answered with an error (no archive: service-unavailable or
 * feature-not-implemented; an unknown after_id: item-not-found); another
 * code when the session failed or no answer came in time. */
int xu_mam_page(struct xu_session *s, const struct xu_mam_query *q, double until,
                xu_mam_item_fn fn, void *ud, struct xu_mam_page *page, struct xu_error *err);

/* Is this message a MAM result (a <result xmlns='urn:xmpp:mam:2'/> child)
 * from the entity `archive` (NULL: the account's own archive, whose results
 * come without a from or from own_bare)? Such messages belong to a query,
 * never to the live stream. */
int xu_mam_is_result(xmpp_stanza_t *st, const char *archive, const char *own_bare);

/* The XEP-0359 <stanza-id/> that `by` gave this stanza (not copied), or NULL. */
const char *xu_mam_stanza_id(xmpp_stanza_t *st, const char *by);

/* Does the error condition say "this entity keeps no archive"? */
int xu_mam_no_archive(const char *condition);

#endif

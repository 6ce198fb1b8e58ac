/* Iq requests and their answers: whether an incoming iq answers one of our
 * requests (same id, from the entity asked), the set of requests still
 * waiting, and one request sent and waited for. */
#ifndef XU_IQ_H
#define XU_IQ_H

#include <stddef.h>
#include <strophe.h>

#include "base/error.h"
#include "xmpp/session.h"

/* 1 if an answer from reply_from (NULL: no from) can come from the entity a
 * request to req_to (NULL or "": none) was sent to. A request without a
 * 'to' is answered by the server on the account's behalf: no from, the own
 * bare or full JID, or the own domain. own_jid: the bound JID (or the
 * component's domain). JIDs compare case-insensitively except the resource. */
int xu_iq_from_matches(const char *req_to, const char *reply_from, const char *own_jid);

/* Requests still waiting for their answer. */
struct xu_iq_pending;

struct xu_iq_pending *xu_iq_pending_new(void);
void xu_iq_pending_free(struct xu_iq_pending *p);

/* Remember a request (id and to are copied; to may be NULL). internal marks
 * requests of our own whose answers the caller keeps to itself. -1 when out
 * of memory. */
int xu_iq_pending_add(struct xu_iq_pending *p, const char *id, const char *to, int internal);

/* If stanza is an iq result or error answering a waiting request, forget
 * that request and return 1 (*internal set from it, if not NULL); else 0. */
int xu_iq_pending_answer(struct xu_iq_pending *p, xmpp_stanza_t *stanza, const char *own_jid,
                         int *internal);

/* Requests still waiting (internal ones included). */
size_t xu_iq_pending_count(const struct xu_iq_pending *p);

/* "id 'a' to b, id 'c'…" for messages, sanitised, at most len bytes. */
void xu_iq_pending_describe(const struct xu_iq_pending *p, char *buf, size_t len);

/* A new <iq type=TYPE> with a fresh id (xmpp_stanza_get_id), holding one
 * empty <NAME xmlns=NS/>, also returned in *child if not NULL (owned by the
 * iq). NULL when out of memory. Caller releases. */
xmpp_stanza_t *xu_iq_new_child(struct xu_session *s, const char *type, const char *name,
                               const char *ns, xmpp_stanza_t **child);

/* Send the iq request (type get or set, with an id) and wait for its
 * answer until the absolute xu_now() time `until`. On success *reply is the
 * answer (result or error; caller releases). Errors: XU_EX_TEMPFAIL when no
 * answer came in time, or the session's error when the stream ended. */
int xu_iq_request(struct xu_session *s, xmpp_stanza_t *iq, double until, xmpp_stanza_t **reply,
                  struct xu_error *err);

/* The same, with the timeout said as "no answer from TO to WHAT" (e.g.
 * "our request"); what NULL: "to iq 'ID'". */
int xu_iq_ask(struct xu_session *s, xmpp_stanza_t *iq, double until, const char *what,
              xmpp_stanza_t **reply, struct xu_error *err);

#endif

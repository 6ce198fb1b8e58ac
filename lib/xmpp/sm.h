/* XEP-0198 stream management by the suite (libstrophe's is off: it
 * miscounts what is sent right after connect). Internal to lib/. */
#ifndef XU_SM_H
#define XU_SM_H

#include "xmpp/session.h"

/* Whether sessions should enable it (xu_session_want_sm). */
int xu_sm_wanted(void);

/* After bind: send <enable/> if wanted and offered (features kept by the
 * negotiation); done(s) runs once <enabled/> or <failed/> has arrived, or at
 * once when SM is not used. */
void xu_sm_after_bind(struct xu_session *s, int offered, void (*done)(struct xu_session *s));

/* After SASL, instead of bind: a stream to resume? Returns 1 when <resume/>
 * was sent (then resumed(s) runs on <resumed/>, or refused(s) on <failed/>),
 * 0 to bind as usual. */
int xu_sm_try_resume(struct xu_session *s, int offered, void (*resumed)(struct xu_session *s),
                     void (*refused)(struct xu_session *s));

/* Count a stanza being queued (xu_session_send: every stanza of the suite
 * goes through it, so the count is the server's). */
void xu_sm_count_queued(struct xu_session *s, xmpp_stanza_t *st);

/* Before a clean close: tell the server how many stanzas we handled, so
 * that it neither bounces them to their senders nor stores them again. */
void xu_sm_ack_before_close(struct xu_session *s);

/* The resume state handed to the next session (consumed by it). */
void xu_sm_take_resume(struct xu_session *s);
const struct xu_sm_resume *xu_sm_resume_state(void);

#endif

/* The one reconnect policy of the suite: which failures of a session may
 * be followed by another attempt, and how long to wait before it. Every
 * tool that reconnects (xmpp-send's delivery engine, xmpp-listen
 * --reconnect) applies it the same way; what a tool does once connected
 * again (rejoin its rooms, resend what was not counted) is the tool's
 * engine's, driven by these answers. */
#ifndef XU_RECONNECT_H
#define XU_RECONNECT_H

#include "xmpp/session.h"

/* Resource conflicts: a session the server ended with the stream error
 * <conflict/> (another login bound the same resource and replaced this one,
 * RFC 6120 7.7.2.2; Prosody's default) or whose bind it refused with
 * conflict is never retried, in any tool: the two logins would only take
 * turns throwing each other out, a reconnect storm that delivers nothing.
 * The tool ends (exit 75) and says why. */
int xu_reconnect_forbidden(const struct xu_session *s);

/* The words for the message: "" when not forbidden. */
const char *xu_reconnect_forbidden_why(const struct xu_session *s);

/* Stream errors that a stanza we sent causes (too big, a namespace or
 * stanza type the server does not take, bad XML, a bad address): the
 * server ends the stream because of that stanza, so sending it again after
 * a reconnect would only end the next stream too. */
int xu_stream_error_from_stanza(const char *condition);

/* May a session that ended with this exit code be tried again? Temporary
 * failures, an unavailable server and protocol trouble always; an unknown
 * host or an I/O error only once a connection has worked before (then it is
 * an outage, not a typo in the configuration); never a forbidden one. */
int xu_reconnect_retryable(int code, const struct xu_session *s, int ever_connected);

/* The backoff between attempts: 1 s, doubling up to 60 s, each delay
 * jittered by +-25% so that many clients dropped together do not come back
 * together. A connection that stayed up XU_BACKOFF_STABLE seconds, or that
 * the engine saw make progress (xu_backoff_reset: the server acknowledged
 * something), starts the sequence over; one dropped at once does not, so a
 * server that accepts and drops is never hammered. */
#define XU_BACKOFF_FIRST 1.0
#define XU_BACKOFF_CAP 60.0
#define XU_BACKOFF_STABLE 60.0

struct xu_backoff {
    unsigned failures;  /* attempts since the last reset */
    double up_since;    /* when the current connection came up; 0: none */
};

void xu_backoff_init(struct xu_backoff *b);
/* A connection is up (now: xu_now()). */
void xu_backoff_up(struct xu_backoff *b, double now);
/* Progress was made: the next failure waits XU_BACKOFF_FIRST again. */
void xu_backoff_reset(struct xu_backoff *b);
/* The connection dropped or an attempt failed: the delay before the next
 * attempt, jittered; counts the failure. */
double xu_backoff_next(struct xu_backoff *b, double now);
/* Undo the count of the last xu_backoff_next (the attempt was not made). */
void xu_backoff_unnext(struct xu_backoff *b);

#endif

/* The --stdio bridge of xmpp-bind: stanzas read from standard input (one
 * complete element at a time, checked and given an id) go to the server;
 * every stanza the server sends goes to standard output, one per line. At
 * the end of input it waits for the answers to the iq requests it sent, and
 * for a ping that proves the server has handled the rest. SIGINT, SIGTERM
 * and SIGHUP end it cleanly (exit 128 + signal). It owns the reader, the
 * pending requests and the signal handlers; the session is the caller's. */
#ifndef XU_BRIDGE_H
#define XU_BRIDGE_H

#include "base/error.h"
#include "xmpp/session.h"

/* Time left to close the stream after our own deadline. */
#define XU_BIND_CLOSE_MARGIN 2.5

/* Our deadline `until` (absolute xu_now() seconds; 0: none) and the
 * session's, XU_BIND_CLOSE_MARGIN later so that the session can still be
 * closed once ours has passed. */
void xu_bind_deadline(struct xu_session *s, double until);

/* Run the bridge on the ready session s until the end of input and the
 * answers to its iqs, a failure, a signal, or `until` (0: none; then the
 * answers after the end of input are awaited 30 s). presence: send initial
 * presence first. The caller closes the stream. */
int xu_bind_bridge(struct xu_session *s, int presence, double until, struct xu_error *err);

#endif

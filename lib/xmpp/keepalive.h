/* Keeping a long-lived session alive, and noticing when it is not: when
 * nothing has arrived for `interval` seconds, an XEP-0199 ping goes to the
 * server (the traffic keeps NAT and firewall state alive); no stanza at all
 * within another interval means the connection is dead even though TCP has
 * not noticed yet. Components, which have no server to ping, send a
 * whitespace keepalive instead. */
#ifndef XU_KEEPALIVE_H
#define XU_KEEPALIVE_H

#include "base/error.h"
#include "xmpp/session.h"

struct xu_keepalive {
    double interval;  /* seconds; 0 = off */
    double last_rx;   /* xu_now() when the last stanza arrived */
    double ping_sent; /* xu_now() of the outstanding ping; 0 = none */
    unsigned long pings;
};

/* Start on a new session (k must outlive it; call again after a reconnect). */
void xu_keepalive_start(struct xu_keepalive *k, struct xu_session *s, double interval);

/* When xu_keepalive_tick has something to do next (absolute xu_now()
 * seconds), or 0 when off: the caller's loop should not sleep past it. */
double xu_keepalive_due(const struct xu_keepalive *k);

/* Send a ping when it is time; returns 0, or XU_EX_TEMPFAIL (err set) when
 * the server has not answered in time. */
int xu_keepalive_tick(struct xu_keepalive *k, struct xu_session *s, struct xu_error *err);

#endif

/* The client login, driven by the suite over libstrophe's raw mode: stream,
 * features, STARTTLS or direct TLS, restart, SASL (GNU SASL), restart,
 * bind, legacy session when required, ready. libstrophe keeps the socket,
 * TLS, the XML stream and the stanza objects; every decision and every
 * verdict is made here, from what the server sent. Internal to lib/. */
#ifndef XU_NEGOTIATE_H
#define XU_NEGOTIATE_H

#include "xmpp/session.h"

/* Prepare the login of s (the password is read here): 0 or an error. */
int xu_negotiate_prepare(struct xu_session *s, struct xu_error *err);

/* libstrophe connected the socket (XMPP_CONN_RAW_CONNECT). */
void xu_negotiate_connected(struct xu_session *s);

/* The server's <stream:error/>, as libstrophe would report it (raw mode does
 * not), or NULL. Valid until xu_negotiate_free. */
xmpp_stream_error_t *xu_negotiate_stream_error(struct xu_session *s);

/* Free the login's state (wipes the password). */
void xu_negotiate_free(struct xu_session *s);

/* Provided by session.c: the negotiation reached the point where stanzas
 * may flow. */
void xu_session_became_ready(struct xu_session *s, const char *jid);

/* Provided by session_tls.c: the pin check after a TLS handshake (0: passed). */
int xu_session_check_pin(struct xu_session *s);

#endif

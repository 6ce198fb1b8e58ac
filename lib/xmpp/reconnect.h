/* Which failures of a session may be followed by another attempt: rules
 * every tool that reconnects (xmpp-send's delivery engine, xmpp-listen
 * --reconnect) applies the same way. */
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

#endif

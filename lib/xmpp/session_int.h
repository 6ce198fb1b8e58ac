/* What the files of the session share (internal to lib/xmpp/session*.c; the
 * public API is session.h):
 *   session.c            its life: start, open, ready, close, free; the
 *                        deadline alarm; libstrophe's wiping allocator
 *   session_connect.c    the client connect and libstrophe's callbacks
 *   session_component.c  the XEP-0114 component path (phases read from the log)
 *   session_tls.c        TLS policy: flags, trust file, pin, CA directory
 *   session_log.c        libstrophe's logger: the transcript, malformed XML
 *   session_end.c        why it ended: disconnect or stream error -> exit code
 *   session_loop.c       the event loop: step, run, interrupt
 *   session_send.c       send, ids, ping and round trip
 * The client login itself is lib/xmpp/negotiate.c. */
#ifndef XU_SESSION_INT_H
#define XU_SESSION_INT_H

#include <signal.h>

#include "xmpp/session.h"

/* session.c: libstrophe's socket-option and certificate-failure callbacks
 * carry no user data, so they find the session here (one per process). */
extern struct xu_session *xu_session_current;
/* session.c: the deadline alarm; its stage is non-zero once it has fired,
 * and it shuts down this socket (-1: none). */
extern volatile sig_atomic_t xu_session_alarm_stage;
extern volatile sig_atomic_t xu_session_alarm_sock;

/* session_connect.c */
int xu_session_sockopt_cb(xmpp_conn_t *conn, void *sockp);
void xu_session_conn_cb(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
                        xmpp_stream_error_t *se, void *ud);
int xu_session_start_client(struct xu_session *s, struct xu_error *err);
/* An xmpp_connect_* that failed at once, explained (host: the name tried). */
int xu_session_resolve_failure(struct xu_session *s, const char *host, struct xu_error *err);

/* session_component.c */
int xu_session_start_component(struct xu_session *s, struct xu_error *err);
void xu_session_component_sent(struct xu_session *s, const char *data);
void xu_session_component_recv(struct xu_session *s, const char *data);
void xu_session_component_event(struct xu_session *s, xmpp_log_level_t level, const char *area,
                                const char *msg);

/* session_tls.c */
int xu_session_setup_tls(struct xu_session *s, struct xu_error *err);
/* Compare the peer's certificate with --tls-fingerprint, once per
 * connection; on a mismatch the socket is shut down at once. */
void xu_session_pin_check(struct xu_session *s);
/* While connecting, OpenSSL's default CA file is pointed at nothing (the
 * hashed directory is used); restored before children run and at the end. */
void xu_session_prefer_cert_dir(void);
void xu_session_restore_cert_file(void);

/* session_log.c */
void xu_session_log(void *ud, xmpp_log_level_t level, const char *area, const char *msg);
/* The first moment of s's current phase. */
void xu_session_note_phase(struct xu_session *s);
/* Copy attribute name of the start tag tag into *out (freed first), if there. */
void xu_session_attr_of(const char *tag, const char *name, char **out);
/* A log line that must not reach the transcript (a secret in clear). */
int xu_session_log_sensitive(const char *area, const char *msg);

/* session_end.c */
/* Set s->err from how the connection ended (once: a set error stays). */
void xu_session_explain_end(struct xu_session *s, int error, xmpp_stream_error_t *se);
/* The --timeout a deadline came from, for messages. */
double xu_session_shown_timeout(const struct xu_opts *o);

#endif

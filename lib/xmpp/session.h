/* One XMPP session: connect → TLS → SASL → bind (or a XEP-0114 component
 * handshake), driven by libstrophe, with the phase tracked so that a failure
 * gets the right exit code, a deadline on every run, and the TLS policy
 * (required, verified, pinned) applied.
 * A session owns its libstrophe context and connection, the login's state,
 * its transcript (unless shared) and the strings in it; xu_session_free
 * releases them all. One session is live per process at a time (libstrophe's
 * TLS callbacks carry no user data); it owns SIGALRM (the deadline) and
 * ignores SIGPIPE. Built from session.c and session_*.c (map: session_int.h). */
#ifndef XU_SESSION_H
#define XU_SESSION_H

#include <signal.h>
#include <strophe.h>

#include "base/error.h"
#include "base/opts.h"

enum xu_phase {
    XU_PHASE_START,   /* nothing yet / resolving */
    XU_PHASE_TCP,     /* TCP connect */
    XU_PHASE_STREAM,  /* stream open, waiting for features */
    XU_PHASE_TLS,     /* STARTTLS or direct TLS handshake */
    XU_PHASE_AUTH,    /* SASL or component handshake */
    XU_PHASE_BIND,    /* resource binding / session */
    XU_PHASE_READY,   /* stanzas may flow */
    XU_PHASE_CLOSING, /* we sent </stream:stream> */
    XU_PHASE_CLOSED,
};

struct xu_trace;

struct xu_session {
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    const struct xu_opts *opts;
    struct xu_trace *trace;
    enum xu_phase phase;
    int is_component;
    int ready;            /* reached XU_PHASE_READY */
    int disconnected;     /* libstrophe reported the end of the connection */
    int sock;             /* -1 when not connected */
    double deadline;      /* monotonic seconds; 0 = none */
    struct xu_error err;  /* why the session failed or ended unexpectedly */
    char *bound_jid;      /* full JID after bind (component: its domain) */
    char *features;       /* the last <stream:features/> received, serialised */
    char *stream_id;      /* the stream id of the last stream opened */
    /* what the logger saw, to explain a disconnect */
    int tcp_errno;
    int tls_missing;
    int cert_failed;
    int pin_mismatch;
    int pin_checked;
    int timed_out;
    char sasl_condition[64];
    char bind_condition[64];
    char stream_error[64];    /* condition of a stream error that ended the session */
    char last_error[256];
    char cert_error[256];
    char peer_fingerprint[65];
    char connect_target[300]; /* host:port being connected */
    /* for timing and reporting (xmpp-probe): when each phase was first
     * entered (xu_now() seconds, 0 = never), the SASL mechanism used */
    double phase_at[XU_PHASE_CLOSED + 1];
    char sasl_mechanism[32];
    int trace_shared;     /* s->trace belongs to the caller (xu_session_share_trace) */
    int parse_error;      /* the server sent malformed XML */
    unsigned long rx_stanzas; /* top-level elements received (xu_session_step) */
    /* the login (lib/xmpp/negotiate.c): its state, and what it found out */
    struct xu_negotiation *neg;
    char cb_type[16];     /* channel binding used: tls-exporter, tls-unique, "" none */
    char tls_version[16]; /* e.g. TLSv1.3; "" when not known */
    int server_verified;  /* SCRAM: the server proved it knows the password (v= checked) */
    int sm_offered;       /* the server offers XEP-0198 stream management */
    /* XEP-0198 stream management (lib/xmpp/sm.c), when the caller asked for it
     * (xu_session_want_sm) and the server offers it */
    int sm_enabled;       /* <enabled/> received: both sides count */
    int sm_resumable;     /* the server allows resuming this stream */
    char sm_id[256];      /* its stream id for <resume previd=.../> */
    unsigned long sm_out; /* stanzas we sent since <enable/> (mod 2^32) */
    unsigned long sm_in;  /* stanzas we received since <enabled/> */
    unsigned long sm_acked; /* the server's last h */
    int sm_resumed;       /* this session resumed an earlier stream */
    int sm_resume_refused; /* resumption was asked for and refused */
};

/* What a stream needs to be resumed on a new connection (XEP-0198). */
struct xu_sm_resume {
    int valid;
    char id[256];
    char jid[1024];       /* the full JID bound in the stream */
    unsigned long in, out;
};

/* The deadline for connecting when --timeout is 0 (no deadline once
 * connected), in seconds. */
#define XU_CONNECT_TIMEOUT 30.0

/* Make the sessions opened from now on write their transcript to t (still
 * owned by the caller, not closed by the session) instead of opening
 * opts->trace, so that a tool can put its own part in the same transcript.
 * NULL restores the default. */
void xu_session_share_trace(struct xu_trace *t);

/* Monotonic clock in seconds. */
double xu_now(void);

/* Connect and negotiate until stanzas may flow, within the deadline
 * (absolute xu_now() seconds; 0 = now + opts->timeout, and with
 * opts->timeout 0: now + XU_CONNECT_TIMEOUT, then none once connected). On failure the
 * error says what went wrong and in which phase; the session must still be
 * freed. opts must outlive the session. */
int xu_session_open(struct xu_session *s, const struct xu_opts *opts, double deadline,
                    struct xu_error *err);

/* The first half of xu_session_open: starts connecting and returns at once.
 * Drive it with xu_session_step until s->ready (or an error), e.g. while
 * also reading standard input. */
int xu_session_start(struct xu_session *s, const struct xu_opts *opts, double deadline,
                     struct xu_error *err);

/* Call fn(s, ud) inside libstrophe's connect callback of every session opened
 * from now on, the moment it is ready: handlers added there see every stanza,
 * even one that arrives in the same read as the end of negotiation (after
 * xu_session_open returns it may already have been dispatched). NULL: none. */
void xu_session_on_ready(void (*fn)(struct xu_session *s, void *ud), void *ud);

/* Sessions started from now on enable XEP-0198 stream management when the
 * server offers it (with resumption), count stanzas both ways and answer
 * <r/>. fn(s, h, ud) runs whenever the server acknowledges: h stanzas of
 * ours (counted from <enable/>, mod 2^32) have reached it; also on <resumed
 * h/> (before the session is ready). 0: none (the default). */
void xu_session_want_sm(int on, void (*fn)(struct xu_session *s, unsigned long h, void *ud),
                        void *ud);

/* The next session started resumes the stream in *r (copied) if the server
 * still has it; otherwise it binds afresh (s->sm_resume_refused). */
void xu_session_resume_next(const struct xu_sm_resume *r);

/* Save what is needed to resume s's stream (valid = 0 when it cannot be). */
void xu_session_sm_save(const struct xu_session *s, struct xu_sm_resume *r);

/* Ask the server for an acknowledgement (<r/>); 0, or -1 without SM. */
int xu_session_sm_request(struct xu_session *s);

/* Change the deadline (absolute; 0 = none). */
void xu_session_set_deadline(struct xu_session *s, double deadline);

/* A flag the caller's signal handler sets to stop: while it is non-zero,
 * every wait of the library (connecting, round trips, room joins) returns
 * at once with XU_EX_TEMPFAIL "interrupted". NULL: none. */
void xu_session_set_interrupt(volatile sig_atomic_t *flag);

/* Run the event loop once: wait up to max_wait seconds (bounded by the
 * deadline) for network events, or for extra_fd (-1: none) to become
 * readable, which is reported in *extra_ready. Returns 0, or an error code
 * when the session ended (disconnected or deadline passed; s->err says why). */
int xu_session_step(struct xu_session *s, double max_wait, int extra_fd, int *extra_ready);

/* Run until done(ud) returns non-zero (0 is returned), or the session fails
 * or the deadline passes (the error code is returned, err set). */
int xu_session_run(struct xu_session *s, int (*done)(void *ud), void *ud,
                   struct xu_error *err);

/* Send a stanza (not released). Every stanza must go through here (not
 * xmpp_send): it is counted for XEP-0198 stream management. */
void xu_session_send(struct xu_session *s, xmpp_stanza_t *stanza);

/* An XEP-0199 ping to the server, waiting for its answer: proves that the
 * server has processed every stanza sent before it. *rtt_ms gets the
 * round-trip time if not NULL. */
int xu_session_roundtrip(struct xu_session *s, double *rtt_ms, struct xu_error *err);

/* Send an XEP-0199 ping to the server without waiting: handler(conn,
 * reply, ud) runs when the answer (result or error) arrives. Returns the
 * ping's id (caller frees; for xmpp_id_handler_delete), NULL when out of
 * memory. */
char *xu_session_ping(struct xu_session *s, xmpp_handler handler, void *ud);

/* Close the stream cleanly and wait (briefly, within the deadline) for the
 * server to close its side. */
void xu_session_close(struct xu_session *s);

/* Free everything; safe on a session that failed to open. */
void xu_session_free(struct xu_session *s);

/* A new unique stanza id (caller frees with free()). */
char *xu_session_new_id(struct xu_session *s);

/* The name of a phase, for messages. */
const char *xu_phase_name(enum xu_phase p);

#endif

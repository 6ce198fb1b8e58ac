/* The delivery engine's private parts (lib/send/deliver.h says what it
 * does), shared by its files, one job each:
 *   deliver.c        the state machine: the loop, the end, the outcome
 *   deliver_input.c  reading standard input into the outbox
 *   deliver_send.c   sending from the outbox at the pace allowed
 *   deliver_ack.c    acknowledgements: pings, XEP-0198 counts, receipts
 *   deliver_conn.c   connections: up, rooms, failures, outages, backoff
 * Not for other modules: everything here may change with the engine. */
#ifndef XU_DELIVER_INT_H
#define XU_DELIVER_INT_H

#include <stddef.h>

#include <strophe.h>

#include "base/error.h"
#include "base/text.h"
#include "base/trace.h"
#include "send/deliver.h"
#include "send/outbox.h"
#include "xml/stanza_in.h"
#include "xmpp/message.h"
#include "xmpp/muc.h"
#include "xmpp/reconnect.h"
#include "xmpp/session.h"

#define PING_EVERY 64          /* messages between acknowledgement requests, at most */
#define WINDOW 1024            /* messages sent and not yet acknowledged, at most */
#define SENDQ_MAX 32           /* stanzas waiting in libstrophe before we wait for the socket */
#define MAX_PINGS 64           /* acknowledgement requests outstanding */
#define KEEPALIVE 60.0         /* idle seconds before a ping checks the connection */
#define MAX_LINE (4u << 20)    /* input without a newline is cut into lines this long */
#define READ_CHUNK 65536
#define MAX_BUFFER_BYTES (64u << 20) /* bytes held in the outbox, besides --buffer */
#define ACK_TIMEOUT 60.0       /* with --timeout 0: an unanswered ping means a dead connection */
#define NS_RECEIPTS "urn:xmpp:receipts"

enum state { DOWN, CONNECTING, UP };

struct ping {
    char *id;            /* NULL: an XEP-0198 <r/> */
    unsigned long h;     /* for <r/>: our stanza count when it was sent */
    struct xu_pos pos;   /* send position when it was sent */
    unsigned long msgs;  /* messages sent before it on this connection */
    double sent;
};

struct sm_mark {         /* a message, by the stream-management count after it */
    unsigned long h;
    struct xu_pos pos;   /* outbox position after it */
    unsigned long msgs;  /* messages sent on this connection up to it */
};

struct rwait {           /* a message waiting for its delivery receipt */
    char *id;            /* NULL: answered (a hole) */
    int rcpt;            /* index into cfg->to */
    struct xu_pos end;   /* outbox position after the message */
};

struct engine {
    const struct xu_deliver_cfg *c;
    struct xu_session s;
    struct xu_trace *trace;      /* --trace, shared by the sessions */
    enum state state;
    struct xu_outbox ob;
    struct xu_bucket bucket;
    struct xu_muc_room *rooms;   /* per recipient; room != NULL once joined */
    /* input */
    char *in;
    size_t inlen, incap;
    int eof_read;                /* no more reads */
    int input_done;              /* and everything read is in the outbox */
    struct xu_reader *reader;
    xmpp_ctx_t *xctx;            /* the reader's stanzas live here */
    struct xu_session reading;   /* stands in for a session while stanzas are read */
    int xml_failed;
    struct xu_error xml_err;
    struct xu_text_fixes fixes;
    int warned_fixes;
    unsigned long lines_read;
    int drop_warning_shown;      /* during this outage */
    unsigned long dropped_reported;
    /* acknowledgement */
    struct ping pings[MAX_PINGS];
    int npings;
    unsigned long msgs_sent, msgs_acked; /* on this connection */
    unsigned long since_ping;
    unsigned long messages, stanzas;     /* in total */
    double last_activity;
    /* XEP-0198: what the server's counts mean, and what resumes */
    struct sm_mark *marks;
    size_t nmarks, capmarks;
    struct xu_sm_resume resume;
    /* receipts */
    struct rwait *rw;
    size_t nrw, rwhead, rwlive;
    /* bounces and rooms */
    struct xu_bounces bounces;
    unsigned bounces_warned;
    int removed;                 /* 1 + index of a room that removed us */
    char removed_why[300];
    int removed_fatal;
    /* connections */
    struct xu_backoff backoff;   /* the suite's one policy (xmpp/reconnect.h) */
    double retry_at;
    unsigned connections;
    int ever_connected;          /* a session got ready in this run */
    int ended;                   /* the input ended */
    double final_deadline;       /* then everything must be done by this time (0: no limit) */
    char last_err[300];          /* why the last connection failed */
    int busy;                    /* stanzas arrived in the last turn: look again at once */
    int outage;                  /* a connection failed and none is up since */
    int stopping;
    /* a stanza that made the server end the stream (too big, not a type it
     * takes) is found and dropped, never sent again: */
    int isolating;               /* send one at a time, each acknowledged ... */
    struct xu_pos isolate_until; /* ... until everything before this is */
    /* A server that closes the connection at once on a too big stanza may
     * reset it before its stream error is read: then only the place tells,
     * connections lost again and again with nothing acknowledged. */
    struct xu_pos lost_at;       /* acknowledged position at the last such loss */
    int losses_here;             /* consecutive losses there */
    char rejected_first[400];    /* the first refused, for the final message */
};

static inline int streaming(const struct engine *e)
{
    return e->c->input != XU_INPUT_BODY;
}

/* --timeout 0 means no deadline once connected; connecting is always bounded */
static inline double conn_timeout(const struct engine *e)
{
    return e->c->opts->timeout > 0 ? e->c->opts->timeout : XU_CONNECT_TIMEOUT;
}

static inline double ack_timeout(const struct engine *e)
{
    return e->c->opts->timeout > 0 ? e->c->opts->timeout : ACK_TIMEOUT;
}

static inline const char *unit(const struct engine *e, unsigned long n)
{
    if (e->c->input == XU_INPUT_XML)
        return n == 1 ? "stanza" : "stanzas";
    if (e->c->input == XU_INPUT_LINES)
        return n == 1 ? "line" : "lines";
    return n == 1 ? "message" : "messages";
}


/* deliver_input.c: standard input into the outbox */
int xu_dl_drain_input(struct engine *e);   /* what was read into the outbox, as room allows */
int xu_dl_read_input(struct engine *e);    /* one read() (the input was readable) */
int xu_dl_input_fd(const struct engine *e); /* the fd to read now, or -1 */
int xu_dl_read_all_xml(struct engine *e);  /* --strict: all of it, checked, before connecting */

/* deliver_send.c: the outbox onto the connection */
int xu_dl_pump(struct engine *e, double now);         /* send what window and rate allow */
double xu_dl_next_wait(struct engine *e, double now); /* how long the loop may sleep */

/* deliver_ack.c: what the server and the recipients confirmed */
void xu_dl_drop_pings(struct engine *e, int upto, int delete_handlers);
void xu_dl_send_ping(struct engine *e, double now);
int xu_dl_add_mark(struct engine *e);
void xu_dl_on_sm_ack(struct xu_session *s, unsigned long h, void *ud);
int xu_dl_add_rwait(struct engine *e, const char *id, int rcpt, struct xu_pos end);
int xu_dl_on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud);
void xu_dl_prune_rwaits(struct engine *e);

/* deliver_conn.c: connections, rooms, failures */
void xu_dl_drop_session(struct engine *e);
int xu_dl_connection_failed(struct engine *e, int code); /* 0: try again later */
int xu_dl_start_connecting(struct engine *e);
int xu_dl_session_up(struct engine *e);
void xu_dl_free_rooms(struct engine *e);

#endif

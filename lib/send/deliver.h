/* Delivering messages and stanzas so that none is lost: the engine behind
 * xmpp-send (lib/send/send.h prepares its configuration). Input is one
 * message body, a stream of lines, or a stream of stanzas; output goes to
 * users and rooms over one connection at a time, reconnecting with the
 * suite's backoff (xmpp/reconnect.h), rejoining rooms and resending
 * whatever the server had not acknowledged.
 *
 * It owns, for the length of xu_deliver: the sessions, the outbox of what
 * is read and not yet acknowledged, the --trace transcript shared by the
 * sessions, and (streaming only) the SIGINT/SIGTERM/SIGHUP handlers, which
 * it restores. The configuration and its strings stay the caller's.
 *
 * Acknowledgement: an XEP-0199 ping to the server after each burst of
 * messages (at most every 64). The server handles a client's stanzas in
 * order, so its answer proves that every stanza sent before the ping was
 * accepted (or bounced, which we also see). A stream uses XEP-0198 where
 * the server offers it: <a h/> counts per stanza, and resumption after a
 * cut resends only what the server had not counted. Its parts, one job per
 * file, are listed in deliver_int.h. */
#ifndef XU_DELIVER_H
#define XU_DELIVER_H

#include <stddef.h>

#include <strophe.h>

#include "base/error.h"
#include "base/opts.h"
#include "xmpp/session.h"

enum xu_input {
    XU_INPUT_BODY,  /* one message: cfg->body */
    XU_INPUT_LINES, /* each line of cfg->fd is a message */
    XU_INPUT_XML,   /* cfg->fd carries stanzas */
};

struct xu_deliver_cfg {
    const struct xu_opts *opts;
    enum xu_input input;
    const char *body;      /* XU_INPUT_BODY: clean text (xu_text_clean); NULL: only oob */
    /* XU_INPUT_BODY: messages after the body, one per URL of a shared file
     * (xmpp-send --file): body = the URL, plus <x xmlns='jabber:x:oob'> */
    char *const *oob;
    int noob;
    int oob_body_only;     /* no XEP-0066 element (--omemo: the URL is secret, XEP-0454) */
    int fd;                /* XU_INPUT_LINES, XU_INPUT_XML */
    char **to;             /* recipients: JIDs, or bare room JIDs where is_room[i] */
    const int *is_room;
    int nto;
    /* every message */
    const char *type;      /* to users: chat (NULL), normal or headline; rooms get groupchat */
    const char *subject;   /* clean text or NULL */
    char *thread;          /* (char *: an option table stores them; the engine only reads) */
    char *lang;
    int receipt;           /* request XEP-0184 receipts and wait for them */
    /* rooms */
    char *nick;            /* NULL: the account's node */
    const char *room_password;
    int no_create;
    /* flow */
    double rate;           /* messages per second; 0: unlimited */
    double batch;          /* lines: collect for this long before sending (0: no) */
    size_t max_size;       /* body bytes per message; longer text is split */
    int one_per_line;      /* lines: never join lines under backlog */
    size_t buffer;         /* lines or stanzas held at most */
    long retry;            /* consecutive failed connection attempts retried; -1: no limit */
    int strict;            /* XU_INPUT_XML: read and check all input before sending */
    /* optional hooks (e.g. OMEMO): up() runs on every new session once the
     * rooms are joined, wrap() on every text message before it is sent; an
     * error from either ends the run with its code (nothing more is sent) */
    int (*up)(struct xu_session *s, void *ud, struct xu_error *err);
    int (*wrap)(struct xu_session *s, void *ud, xmpp_stanza_t *msg, struct xu_error *err);
    void *hook_ud;
};

/* Deliver everything. Returns 0 only when the server acknowledged every
 * message (and, with receipt, every recipient confirmed it); else an exit
 * code with err set. In XU_INPUT_BODY mode opts->timeout bounds the whole
 * run; in the streaming modes it bounds each connection attempt, each
 * acknowledgement and the final wait at the end of the input. */
int xu_deliver(const struct xu_deliver_cfg *cfg, struct xu_error *err);

#endif

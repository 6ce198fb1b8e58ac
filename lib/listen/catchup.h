/* xmpp-listen's catch-up: every message exactly once across drops and
 * restarts. For the account's archive and each joined room's (XEP-0313),
 * the last archive id seen (XEP-0359) is remembered (in memory, and with
 * --state in a file); after a reconnect or a restart the gap is fetched page
 * by page and printed in archive order before any live stanza. Live stanzas
 * that arrive meanwhile are held back and printed afterwards, minus the ones
 * the catch-up already printed (same archive id). Where there is no archive,
 * one note on stderr and nothing else changes.
 *
 * Use: xu_catchup_new once; per connection xu_catchup_session (in the
 * session's ready callback) and xu_catchup_finish (after the presence and
 * the room joins); every incoming stanza goes through xu_catchup_live. */
#ifndef XU_CATCHUP_H
#define XU_CATCHUP_H

#include <stddef.h>
#include <strophe.h>

#include "base/error.h"
#include "xmpp/session.h"

/* Where a stanza comes from, for the output. */
struct xu_origin {
    const char *archive; /* the archive that gave it an id, or NULL */
    const char *id;      /* its archive id, or NULL */
    int archived;        /* 1: fetched from the archive; 0: live */
};

/* What the output did with a stanza. */
enum { XU_EMIT_PRINTED, XU_EMIT_SKIPPED, XU_EMIT_STOP };

typedef int (*xu_emit_fn)(xmpp_stanza_t *st, const struct xu_origin *o, void *ud);

struct xu_catchup_opts {
    int enabled;            /* catch up after reconnects (--reconnect, --state or --since) */
    const char *state_file; /* --state or NULL */
    const char *since;      /* --since TIME|ID or NULL */
    unsigned long max;      /* --max-catchup, 0: no limit */
    int own;                /* --own: also our own messages from the archive */
    int page;               /* messages per page asked for (0: 250) */
    double deadline;        /* absolute xu_now() time no catch-up runs past; 0: none */
};

struct xu_catchup;

/* 1 if a --since value is a time (XEP-0082 date-time with seconds and a
 * zone, e.g. 2026-12-01T08:00:00Z), 0 if it is to be taken as an archive id. */
int xu_catchup_is_time(const char *s);

/* Check a --since value: a time, or something that can be an archive id
 * (no spaces or markup, at most 200 bytes; what looks like a date must be a
 * whole time). Returns 0, or `code` with err set. */
int xu_catchup_check_since(const char *arg, int code, struct xu_error *err);

/* The wall clock (CLOCK_REALTIME seconds): what the output stamps a stanza
 * with and a new catch-up point is taken from. */
double xu_catchup_wall_now(void);

/* Loads the state file. *out NULL on error. rooms: the bare room JIDs. */
int xu_catchup_new(const struct xu_catchup_opts *o, const char *const *rooms, size_t nrooms,
                   xu_emit_fn emit, void *ud, struct xu_catchup **out, struct xu_error *err);
void xu_catchup_free(struct xu_catchup *cu);

void xu_catchup_session(struct xu_catchup *cu, struct xu_session *s);
int xu_catchup_finish(struct xu_catchup *cu, struct xu_error *err);

/* The room history to ask for when joining `room`: 0 when its catch-up
 * will fetch the gap (history would repeat what was printed before),
 * else `history`. */
int xu_catchup_room_history(const struct xu_catchup *cu, const char *room, int history);

/* One incoming stanza: a result of our archive queries is consumed, a live
 * one held back while a catch-up runs, dropped if already printed, else
 * handed to emit. Returns an XU_EMIT_ value (SKIPPED when consumed). */
int xu_catchup_live(struct xu_catchup *cu, xmpp_stanza_t *st);

#endif

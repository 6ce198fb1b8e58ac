/* The inside of the catch-up (catchup.h), shared by its two files:
 * catchup.c keeps the points, the ids printed last and the live stanzas held
 * back; catchup_fetch.c reads the gap from one archive page by page. Not for
 * use outside lib/listen/catchup*.c. */
#ifndef XU_CATCHUP_IMPL_H
#define XU_CATCHUP_IMPL_H

#include "listen/catchup.h"
#include "listen/catchup_idset.h"
#include "listen/listen_state.h"

#define RING 1024          /* archive ids printed last, kept to drop a repeat */

struct archive {
    char *jid;       /* account: its bare JID (once bound); a room's JID */
    int is_room;
    int have;        /* a point to catch up from: id, or since */
    char *id;
    char *since;
    int none;        /* it said it keeps no archive */
    int cut;         /* --max-catchup cut this session's catch-up */
    unsigned long taken; /* printed from the archive in this session */
};

/* A live stanza held back, serialised: it may outlive its connection (a drop
 * during the catch-up), and is printed after the next one's catch-up. */
struct held {
    char *xml;
    size_t archive; /* index, or (size_t)-1 */
    char *id;
    int dead;       /* the catch-up printed it */
};

struct xu_catchup {
    struct xu_catchup_opts o;
    char *since_time, *since_id;
    xu_emit_fn emit;
    void *ud;
    struct archive *a;
    size_t na;
    struct xu_listen_state state;
    int use_state;
    int started;     /* the first session has taken its points */
    struct xu_session *s;
    int holding;
    struct held *h;
    size_t nh, caph;
    struct xu_idset held_ids, ring_ids;
    char *ring[RING];
    size_t ring_pos;
    int stop;        /* the output said stop */
    int state_error_noted;
    double session_wall;
};

/* "ARCHIVE-JID ID" (caller frees), NULL when out of memory. */
char *xu_catchup_key(const char *archive, const char *id);
/* Was the key printed (or passed over) lately? */
int xu_catchup_seen(struct xu_catchup *cu, const char *key);
/* The archive has been read up to id (printed or passed over): remember it. */
void xu_catchup_record(struct xu_catchup *cu, struct archive *a, const char *id);
/* Nothing seen yet from this archive: catch up from wall time t on. */
void xu_catchup_anchor_now(struct xu_catchup *cu, struct archive *a, double t);

/* Fetch everything after the archive's point, page by page (catchup_fetch.c). */
int xu_catchup_fetch_gap(struct xu_catchup *cu, struct archive *a, struct xu_error *err);
/* Ask for the newest message only: does it keep an archive? */
int xu_catchup_probe(struct xu_catchup *cu, struct archive *a, struct xu_error *err);

#endif

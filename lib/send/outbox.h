/* The outbox: what a streaming sender still owes the server. A bounded
 * queue of items (cleaned text lines, or serialised stanzas) numbered in
 * arrival order, with two cursors: what the server has acknowledged (the
 * items before it are freed) and what was sent on the current connection.
 * After a reconnect the send cursor goes back to the acknowledged one, so
 * everything unacknowledged is sent again, in order.
 *
 * Positions are (item, byte offset): a line longer than the message size is
 * sent in parts, and an acknowledged part is never sent again.
 *
 * Also here: the token bucket that paces messages (--rate). Neither knows
 * anything about XMPP. */
#ifndef XU_OUTBOX_H
#define XU_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

struct xu_pos {
    uint64_t seq; /* item number (the first item pushed is 1) */
    size_t off;   /* bytes of that item before the position */
};

/* <0, 0, >0 as a is before, at, after b. */
int xu_pos_cmp(struct xu_pos a, struct xu_pos b);

struct xu_outbox_item {
    char *data;     /* NUL-terminated, owned by the outbox */
    size_t len;
    double arrived; /* xu_now() when pushed (for --batch) */
    long line;      /* where it started in the input (0: unknown), for messages */
};

struct xu_outbox {
    struct xu_outbox_item *ring;
    size_t cap, head, count;    /* count items from ring[head], item seqs consecutive */
    uint64_t head_seq;          /* seq of ring[head] (or of the next item when empty) */
    size_t head_off;            /* bytes of the head item acknowledged already */
    struct xu_pos sent;         /* everything before was sent on this connection */
    size_t max_items, max_bytes;
    size_t bytes;               /* held in data */
    unsigned long pushed;       /* items ever pushed */
    unsigned long delivered;    /* items fully acknowledged */
    unsigned long dropped;      /* items dropped because the outbox was full */
    unsigned long rejected;     /* items the server refused (xu_outbox_reject_head) */
};

/* max_items, max_bytes: the bounds (at least one item is always held). */
void xu_outbox_init(struct xu_outbox *ob, size_t max_items, size_t max_bytes);
void xu_outbox_free(struct xu_outbox *ob);

/* Would pushing len more bytes exceed a bound? */
int xu_outbox_full(const struct xu_outbox *ob, size_t len);

/* Append an item; the outbox takes data (malloc'd, NUL-terminated at len).
 * When full, the oldest items are dropped (and counted) to make room.
 * Returns how many were dropped, or -1 when out of memory (data is freed). */
long xu_outbox_push(struct xu_outbox *ob, char *data, size_t len, double now);

/* The input line where the last pushed item started; and the first
 * unacknowledged item's line and number (its seq), for messages. */
void xu_outbox_set_line(struct xu_outbox *ob, long line);
long xu_outbox_head_line(const struct xu_outbox *ob);

/* The first unacknowledged item was refused by the server (it ended the
 * stream because of it): drop it, counted as rejected, not delivered, so
 * that it is not sent again. */
void xu_outbox_reject_head(struct xu_outbox *ob);

/* The messages of at most max_size bytes that the unacknowledged rest of
 * the first item is sent as (as xu_outbox_take cuts it), and those of all
 * of it. */
size_t xu_outbox_head_parts(const struct xu_outbox *ob, size_t max_size, size_t *total);

/* Nothing left that was not acknowledged. */
int xu_outbox_empty(const struct xu_outbox *ob);

/* Items (a partly sent one included) and bytes (counted up to limit) not
 * sent yet, and when the oldest of them arrived. */
size_t xu_outbox_unsent_items(const struct xu_outbox *ob);
size_t xu_outbox_unsent_bytes(const struct xu_outbox *ob, size_t limit);
double xu_outbox_unsent_since(const struct xu_outbox *ob);

/* The unsent rest of the item at the send cursor, or NULL. */
const char *xu_outbox_peek(const struct xu_outbox *ob);

/* The next message from the send cursor, which moves past it: the rest of
 * the current item if it fits in max_size bytes, followed by up to
 * max_join - 1 further whole items joined with '\n' while they fit; or, if
 * the rest of the current item does not fit, its longest prefix of at most
 * max_size bytes that ends on a UTF-8 character boundary. NULL when nothing
 * is unsent or out of memory (then *len is 1). *end is the position after
 * the message. Caller frees. */
char *xu_outbox_take(struct xu_outbox *ob, size_t max_size, size_t max_join, size_t *len,
                     struct xu_pos *end);

/* The server acknowledged everything before upto: free it. */
void xu_outbox_ack(struct xu_outbox *ob, struct xu_pos upto);

/* Everything before this was acknowledged. */
struct xu_pos xu_outbox_acked(const struct xu_outbox *ob);

/* A new connection: what was sent but not acknowledged is unsent again. */
void xu_outbox_rewind(struct xu_outbox *ob);

/* Items (partly acknowledged ones included) not yet acknowledged. */
size_t xu_outbox_pending(const struct xu_outbox *ob);

/* A token bucket: rate tokens per second, at most burst of them saved up.
 * rate 0: unlimited. */
struct xu_bucket {
    double rate, burst, tokens, last;
};

void xu_bucket_init(struct xu_bucket *b, double rate, double burst, double now);
/* Tokens available now (refilled). */
double xu_bucket_avail(struct xu_bucket *b, double now);
/* Take one token if there is one: 1, else 0. */
int xu_bucket_take(struct xu_bucket *b, double now);
/* Seconds until a token is available (0: now). */
double xu_bucket_wait(struct xu_bucket *b, double now);

#endif

#include "send/outbox.h"

#include <stdlib.h>
#include <string.h>

#include "base/text.h"

int xu_pos_cmp(struct xu_pos a, struct xu_pos b)
{
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    if (a.off != b.off)
        return a.off < b.off ? -1 : 1;
    return 0;
}

void xu_outbox_init(struct xu_outbox *ob, size_t max_items, size_t max_bytes)
{
    memset(ob, 0, sizeof *ob);
    ob->max_items = max_items ? max_items : 1;
    ob->max_bytes = max_bytes;
    ob->head_seq = 1;
    ob->sent.seq = 1;
}

static struct xu_outbox_item *item_at(const struct xu_outbox *ob, size_t i)
{
    return &ob->ring[(ob->head + i) % ob->cap];
}

/* The item with this seq, or NULL when it is not held. */
static struct xu_outbox_item *item_seq(const struct xu_outbox *ob, uint64_t seq)
{
    if (seq < ob->head_seq || seq - ob->head_seq >= ob->count)
        return NULL;
    return item_at(ob, (size_t)(seq - ob->head_seq));
}

void xu_outbox_free(struct xu_outbox *ob)
{
    size_t i;

    for (i = 0; i < ob->count; i++)
        free(item_at(ob, i)->data);
    free(ob->ring);
    memset(ob, 0, sizeof *ob);
}

int xu_outbox_full(const struct xu_outbox *ob, size_t len)
{
    if (ob->count == 0)
        return 0;
    return ob->count >= ob->max_items || (ob->max_bytes && ob->bytes + len > ob->max_bytes);
}

/* Free the head item (acknowledged or dropped). */
static void pop_head(struct xu_outbox *ob)
{
    struct xu_outbox_item *it = item_at(ob, 0);

    ob->bytes -= it->len;
    free(it->data);
    it->data = NULL;
    ob->head = (ob->head + 1) % ob->cap;
    ob->count--;
    ob->head_seq++;
    ob->head_off = 0;
    if (ob->sent.seq < ob->head_seq) {
        ob->sent.seq = ob->head_seq;
        ob->sent.off = 0;
    }
}

static int grow(struct xu_outbox *ob)
{
    size_t ncap = ob->cap ? ob->cap * 2 : 64, i;
    struct xu_outbox_item *n;

    if (ncap > ob->max_items && ob->max_items >= ob->cap + 1)
        ncap = ob->max_items;
    n = malloc(ncap * sizeof *n);
    if (!n)
        return -1;
    for (i = 0; i < ob->count; i++)
        n[i] = *item_at(ob, i);
    free(ob->ring);
    ob->ring = n;
    ob->cap = ncap;
    ob->head = 0;
    return 0;
}

long xu_outbox_push(struct xu_outbox *ob, char *data, size_t len, double now)
{
    struct xu_outbox_item *it;
    long dropped = 0;

    while (xu_outbox_full(ob, len)) {
        pop_head(ob);
        ob->dropped++;
        dropped++;
    }
    if (ob->count == ob->cap && grow(ob) < 0) {
        free(data);
        return -1;
    }
    it = &ob->ring[(ob->head + ob->count) % ob->cap];
    it->data = data;
    it->len = len;
    it->arrived = now;
    it->line = 0;
    ob->count++;
    ob->bytes += len;
    ob->pushed++;
    return dropped;
}

int xu_outbox_empty(const struct xu_outbox *ob)
{
    return ob->count == 0;
}

size_t xu_outbox_pending(const struct xu_outbox *ob)
{
    return ob->count;
}

size_t xu_outbox_unsent_items(const struct xu_outbox *ob)
{
    uint64_t end = ob->head_seq + ob->count;

    return ob->sent.seq >= end ? 0 : (size_t)(end - ob->sent.seq);
}

size_t xu_outbox_unsent_bytes(const struct xu_outbox *ob, size_t limit)
{
    size_t n = 0, i, first;

    if (xu_outbox_unsent_items(ob) == 0)
        return 0;
    first = (size_t)(ob->sent.seq - ob->head_seq);
    for (i = first; i < ob->count && n < limit + ob->sent.off; i++)
        n += item_at(ob, i)->len;
    n -= ob->sent.off;
    return n < limit ? n : limit;
}

double xu_outbox_unsent_since(const struct xu_outbox *ob)
{
    const struct xu_outbox_item *it = item_seq(ob, ob->sent.seq);

    return it ? it->arrived : 0;
}

const char *xu_outbox_peek(const struct xu_outbox *ob)
{
    const struct xu_outbox_item *it = item_seq(ob, ob->sent.seq);

    return it ? it->data + ob->sent.off : NULL;
}

/* Bytes of s[0..len) that fit in max, ending on a character boundary; at
 * least one character, so that a tiny max still makes progress. */
static size_t cut_utf8(const char *s, size_t len, size_t max)
{
    size_t n = xu_utf8_cut(s, len, max);

    if (n == 0 && len > 0) {
        n = 1;
        while (n < len && ((unsigned char)s[n] & 0xc0) == 0x80)
            n++;
    }
    return n;
}

char *xu_outbox_take(struct xu_outbox *ob, size_t max_size, size_t max_join, size_t *len,
                     struct xu_pos *end)
{
    struct xu_outbox_item *it = item_seq(ob, ob->sent.seq), *next;
    const char *rest;
    size_t restlen, total, n;
    uint64_t seq;
    char *out;

    *len = 0;
    if (!it)
        return NULL;
    rest = it->data + ob->sent.off;
    restlen = it->len - ob->sent.off;
    if (restlen > max_size) {
        n = cut_utf8(rest, restlen, max_size);
        out = malloc(n + 1);
        if (!out) {
            *len = 1;
            return NULL;
        }
        memcpy(out, rest, n);
        out[n] = '\0';
        *len = n;
        ob->sent.off += n;
        *end = ob->sent;
        return out;
    }
    /* how many whole items follow in the same message */
    total = restlen;
    seq = ob->sent.seq + 1;
    while ((uint64_t)(seq - ob->sent.seq) < max_join && (next = item_seq(ob, seq)) != NULL &&
           total + 1 + next->len <= max_size) {
        total += 1 + next->len;
        seq++;
    }
    out = malloc(total + 1);
    if (!out) {
        *len = 1;
        return NULL;
    }
    memcpy(out, rest, restlen);
    n = restlen;
    for (uint64_t q = ob->sent.seq + 1; q < seq; q++) {
        next = item_seq(ob, q);
        out[n++] = '\n';
        memcpy(out + n, next->data, next->len);
        n += next->len;
    }
    out[n] = '\0';
    *len = n;
    ob->sent.seq = seq;
    ob->sent.off = 0;
    *end = ob->sent;
    return out;
}

void xu_outbox_ack(struct xu_outbox *ob, struct xu_pos upto)
{
    while (ob->count > 0 && ob->head_seq < upto.seq) {
        pop_head(ob);
        ob->delivered++;
    }
    if (ob->count > 0 && ob->head_seq == upto.seq && upto.off > ob->head_off)
        ob->head_off = upto.off;
    if (xu_pos_cmp(ob->sent, xu_outbox_acked(ob)) < 0)
        ob->sent = xu_outbox_acked(ob);
}

void xu_outbox_set_line(struct xu_outbox *ob, long line)
{
    if (ob->count > 0)
        ob->ring[(ob->head + ob->count - 1) % ob->cap].line = line;
}

long xu_outbox_head_line(const struct xu_outbox *ob)
{
    return ob->count > 0 ? ob->ring[ob->head].line : 0;
}

static size_t parts(const char *p, size_t len, size_t max_size)
{
    size_t n = 0, k;

    while (len > 0) {
        k = len > max_size ? cut_utf8(p, len, max_size) : len;
        p += k;
        len -= k;
        n++;
    }
    return n;
}

size_t xu_outbox_head_parts(const struct xu_outbox *ob, size_t max_size, size_t *total)
{
    const struct xu_outbox_item *it = ob->count > 0 ? &ob->ring[ob->head] : NULL;

    if (total)
        *total = it ? parts(it->data, it->len, max_size) : 0;
    return it ? parts(it->data + ob->head_off, it->len - ob->head_off, max_size) : 0;
}

void xu_outbox_reject_head(struct xu_outbox *ob)
{
    if (ob->count == 0)
        return;
    pop_head(ob);
    ob->rejected++;
    if (xu_pos_cmp(ob->sent, xu_outbox_acked(ob)) < 0)
        ob->sent = xu_outbox_acked(ob);
}

struct xu_pos xu_outbox_acked(const struct xu_outbox *ob)
{
    struct xu_pos p = {ob->head_seq, ob->count ? ob->head_off : 0};

    return p;
}

void xu_outbox_rewind(struct xu_outbox *ob)
{
    ob->sent = xu_outbox_acked(ob);
}

/* ---- token bucket ---- */

void xu_bucket_init(struct xu_bucket *b, double rate, double burst, double now)
{
    b->rate = rate;
    b->burst = burst < 1 ? 1 : burst;
    b->tokens = b->burst;
    b->last = now;
}

double xu_bucket_avail(struct xu_bucket *b, double now)
{
    if (b->rate <= 0)
        return 1e9;
    if (now > b->last) {
        b->tokens += (now - b->last) * b->rate;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last = now;
    }
    return b->tokens;
}

int xu_bucket_take(struct xu_bucket *b, double now)
{
    if (b->rate <= 0)
        return 1;
    if (xu_bucket_avail(b, now) < 1)
        return 0;
    b->tokens -= 1;
    return 1;
}

double xu_bucket_wait(struct xu_bucket *b, double now)
{
    double have = xu_bucket_avail(b, now);

    if (b->rate <= 0 || have >= 1)
        return 0;
    return (1 - have) / b->rate;
}

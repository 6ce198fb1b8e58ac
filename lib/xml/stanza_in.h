/* Reading a sequence of stanzas (from stdin) with libxml2: no wrapping root,
 * whitespace between stanzas allowed, parsed incrementally so each stanza is
 * available as soon as its end tag arrives. Malformed input is reported with
 * its line and column. Default namespace: jabber:client. */
#ifndef XU_STANZA_IN_H
#define XU_STANZA_IN_H

#include <stddef.h>
#include <strophe.h>

#include "base/error.h"

struct xu_reader;

/* max_stanza: the largest stanza accepted, in bytes (0: 1 MiB). */
struct xu_reader *xu_reader_new(int fd, size_t max_stanza);
void xu_reader_free(struct xu_reader *r);

/* One read() from the descriptor (call when it is readable) and parse it.
 * Returns 0, 1 at end of input (after which pop drains what is left), or an
 * error code (XU_EX_DATAERR with "line L, column C: …" for malformed input,
 * XU_EX_IOERR). Stanzas completed before an error can still be popped. */
int xu_reader_feed(struct xu_reader *r, struct xu_error *err);

/* Feed bytes directly (e.g. --query XML); final = no more input follows. */
int xu_reader_feed_bytes(struct xu_reader *r, const char *buf, size_t len, int final,
                         struct xu_error *err);

/* The next complete stanza as a new libstrophe stanza (caller releases), or
 * NULL when none is complete yet. */
xmpp_stanza_t *xu_reader_pop(struct xu_reader *r, xmpp_ctx_t *ctx);

/* Line (1-based) where the last popped stanza started, for messages. */
long xu_reader_line(const struct xu_reader *r);

/* Parse exactly one stanza from a string; XU_EX_DATAERR if it is not one
 * well-formed element. */
int xu_stanza_from_string(xmpp_ctx_t *ctx, const char *xml, xmpp_stanza_t **out,
                          struct xu_error *err);

#endif

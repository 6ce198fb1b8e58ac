/* xmpp-listen --state FILE: the point each archive (the account's, each
 * room's) was read up to, so that a restart catches up from there. One line
 * per archive:
 *   ARCHIVE-JID id ARCHIVE-ID     the last archived message seen
 *   ARCHIVE-JID since TIME        nothing seen yet since TIME (XEP-0082, UTC)
 * Written atomically (a temporary file in the same directory, then rename),
 * mode 0600; lines for archives not used in this run are kept. */
#ifndef XU_LISTEN_STATE_H
#define XU_LISTEN_STATE_H

#include <stddef.h>

#include "base/error.h"

struct xu_state_entry {
    char *archive;
    char *id;    /* NULL: see since */
    char *since; /* NULL when id is set */
};

struct xu_listen_state {
    char *path;
    struct xu_state_entry *v;
    size_t n;
};

/* Read FILE (a missing file is an empty state). XU_EX_DATAERR for a line
 * that is not one of the above, XU_EX_IOERR when it cannot be read. */
int xu_listen_state_load(struct xu_listen_state *st, const char *path, struct xu_error *err);
/* The entry of an archive, or NULL. */
const struct xu_state_entry *xu_listen_state_get(const struct xu_listen_state *st,
                                                 const char *archive);
/* Set an archive's point: id, or (id NULL) since. -1 when out of memory. */
int xu_listen_state_set(struct xu_listen_state *st, const char *archive, const char *id,
                        const char *since);
/* Write the file atomically, mode 0600. */
int xu_listen_state_save(const struct xu_listen_state *st, struct xu_error *err);
void xu_listen_state_free(struct xu_listen_state *st);

#endif

/* Inside the OMEMO key store: what store.c (the database) gives
 * signal_store.c (libomemo-c's callbacks over it). Not for other callers. */
#ifndef XU_OMEMO_STORE_INT_H
#define XU_OMEMO_STORE_INT_H

#include <stddef.h>

#include <sqlite3.h>

#include "omemo/store.h"

struct key_table {
    struct xu_omemo_store *st;
    const char *name; /* "prekeys" or "signed_prekeys" */
};

struct xu_omemo_store {
    sqlite3 *db;
    char *dir;
    struct key_table prekeys, signed_prekeys; /* user data of the two key stores */
};

/* A prepared statement on the store, or NULL. */
sqlite3_stmt *xu_omemo_sql_prep(struct xu_omemo_store *st, const char *sql);
/* Run (and finalize) a statement that returns no rows; 0 or -1 (s NULL: -1). */
int xu_omemo_sql_done(sqlite3_stmt *s);
/* The first column of the only row as a signal buffer (and finalize): 1,
 * 0 (no row), -1. */
int xu_omemo_sql_row(sqlite3_stmt *s, signal_buffer **out);
/* Bind a name of len bytes (not NUL-terminated) as parameter i. */
void xu_omemo_sql_bind_name(sqlite3_stmt *s, int i, const char *name, size_t len);

#endif

/* The OMEMO key store in SQLite (see omemo/store.h): its directory and
 * permissions, the schema, transactions, and the values and device lists
 * the engine reads and writes. libomemo-c's view of it is in
 * signal_store.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "omemo/store_int.h"

#define BUSY_TIMEOUT_MS 15000

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS prekeys(id INTEGER PRIMARY KEY, rec BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS signed_prekeys(id INTEGER PRIMARY KEY, rec BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sessions(jid TEXT NOT NULL, dev INTEGER NOT NULL,"
    " rec BLOB NOT NULL, urec BLOB, PRIMARY KEY(jid, dev));"
    "CREATE TABLE IF NOT EXISTS identities(jid TEXT NOT NULL, dev INTEGER NOT NULL,"
    " key BLOB NOT NULL, trust INTEGER NOT NULL, PRIMARY KEY(jid, dev));"
    "CREATE TABLE IF NOT EXISTS devices(jid TEXT NOT NULL, dev INTEGER NOT NULL,"
    " PRIMARY KEY(jid, dev));";

const char *xu_omemo_trust_name(int trust)
{
    switch (trust) {
    case XU_TRUST_BLIND: return "blind";
    case XU_TRUST_VERIFIED: return "verified";
    case XU_TRUST_DISTRUSTED: return "distrusted";
    case XU_TRUST_UNDECIDED: return "undecided";
    }
    return "unknown";
}

char *xu_omemo_store_dir(const char *bare_jid, struct xu_error *err)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    char *p;
    size_t i, n;

    if (!bare_jid[0] || bare_jid[0] == '.' || strchr(bare_jid, '/') || strlen(bare_jid) > 1023) {
        xu_error_set(err, XU_EX_DATAERR, "'%s' cannot name an OMEMO store", bare_jid);
        return NULL;
    }
    if (!xdg || xdg[0] != '/') {
        if (!home || home[0] != '/') {
            xu_error_set(err, XU_EX_CONFIG,
                         "neither XDG_DATA_HOME nor HOME is set: nowhere to keep the OMEMO keys");
            return NULL;
        }
        n = strlen(home) + strlen(bare_jid) + 48;
        p = malloc(n);
        if (p)
            snprintf(p, n, "%s/.local/share/xmpputils/omemo/%s", home, bare_jid);
    } else {
        n = strlen(xdg) + strlen(bare_jid) + 32;
        p = malloc(n);
        if (p)
            snprintf(p, n, "%s/xmpputils/omemo/%s", xdg, bare_jid);
    }
    if (!p) {
        xu_error_set(err, XU_EX_OSERR, "out of memory");
        return NULL;
    }
    /* JIDs compare case-insensitively (but for the resource, which a bare JID lacks) */
    for (i = strlen(p) - strlen(bare_jid); p[i]; i++)
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] = (char)(p[i] - 'A' + 'a');
    return p;
}

/* mkdir -p with mode 0700 for what is created. */
static int make_dirs(char *path, struct xu_error *err)
{
    char *s;
    struct stat sb;

    for (s = path + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (stat(path, &sb) < 0) {
            if (errno != ENOENT || (mkdir(path, 0700) < 0 && errno != EEXIST)) {
                xu_error_set(err, XU_EX_IOERR, "cannot create %s: %s", path, strerror(errno));
                *s = c;
                return -1;
            }
        }
        *s = c;
        if (!c)
            return 0;
    }
}

static int check_private(const char *path, const char *what, struct xu_error *err)
{
    struct stat sb;

    if (stat(path, &sb) < 0)
        return xu_error_set(err, XU_EX_IOERR, "cannot use %s: %s", path, strerror(errno));
    if (sb.st_uid != getuid())
        return xu_error_set(err, XU_EX_NOPERM, "%s %s belongs to another user", what, path);
    if (sb.st_mode & 077)
        return xu_error_set(err, XU_EX_NOPERM,
                            "%s %s can be read by others (mode %03o); it holds secret keys: "
                            "chmod %s it", what, path, (unsigned)(sb.st_mode & 0777),
                            S_ISDIR(sb.st_mode) ? "700" : "600");
    return 0;
}

static int exec(struct xu_omemo_store *st, const char *sql, struct xu_error *err)
{
    char *msg = NULL;

    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        xu_error_set(err, XU_EX_IOERR, "OMEMO store %s: %s", st->dir, msg ? msg : "error");
        sqlite3_free(msg);
        return XU_EX_IOERR;
    }
    return 0;
}

int xu_omemo_store_open(struct xu_omemo_store **out, const char *bare_jid, struct xu_error *err)
{
    struct xu_omemo_store *st = calloc(1, sizeof *st);
    char *file = NULL;
    int fd, rc = 0;

    *out = NULL;
    if (!st)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    st->dir = xu_omemo_store_dir(bare_jid, err);
    if (!st->dir)
        rc = err->code;
    if (rc == 0 && make_dirs(st->dir, err) < 0)
        rc = err->code;
    if (rc == 0)
        rc = check_private(st->dir, "the OMEMO key directory", err);
    if (rc == 0 && !(file = malloc(strlen(st->dir) + 16)))
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (rc == 0) {
        sprintf(file, "%s/store.db", st->dir);
        fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            rc = xu_error_set(err, XU_EX_IOERR, "cannot open %s: %s", file, strerror(errno));
        else
            close(fd);
    }
    if (rc == 0)
        rc = check_private(file, "the OMEMO key store", err);
    if (rc == 0 && sqlite3_open_v2(file, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK)
        rc = xu_error_set(err, XU_EX_IOERR, "cannot open %s: %s", file,
                          st->db ? sqlite3_errmsg(st->db) : "out of memory");
    if (rc == 0) {
        sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
        if ((rc = exec(st, "BEGIN IMMEDIATE", err)) == 0) {
            rc = exec(st, SCHEMA, err);
            if (rc == 0)
                rc = exec(st, "COMMIT", err);
            else
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    free(file);
    if (rc) {
        xu_omemo_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void xu_omemo_store_close(struct xu_omemo_store *st)
{
    if (!st)
        return;
    if (st->db)
        sqlite3_close(st->db);
    free(st->dir);
    free(st);
}

int xu_omemo_store_begin(struct xu_omemo_store *st, struct xu_error *err)
{
    return exec(st, "BEGIN IMMEDIATE", err);
}

int xu_omemo_store_commit(struct xu_omemo_store *st, struct xu_error *err)
{
    int rc = exec(st, "COMMIT", err);

    if (rc)
        xu_omemo_store_rollback(st);
    return rc;
}

void xu_omemo_store_rollback(struct xu_omemo_store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- statements ---- */

sqlite3_stmt *xu_omemo_sql_prep(struct xu_omemo_store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;

    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return NULL;
    return s;
}

/* Run a statement that returns no rows; 0 or -1. */
int xu_omemo_sql_done(sqlite3_stmt *s)
{
    int rc = s && sqlite3_step(s) == SQLITE_DONE ? 0 : -1;

    sqlite3_finalize(s);
    return rc;
}

/* The first column of the only row as a signal buffer: 1, 0 (no row), -1. */
int xu_omemo_sql_row(sqlite3_stmt *s, signal_buffer **out)
{
    int rc = -1, r;

    if (!s)
        return -1;
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *out = signal_buffer_create(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        rc = *out ? 1 : -1;
    } else if (r == SQLITE_DONE) {
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

void xu_omemo_sql_bind_name(sqlite3_stmt *s, int i, const char *name, size_t len)
{
    sqlite3_bind_text(s, i, name, (int)len, SQLITE_TRANSIENT);
}

int xu_omemo_store_get(struct xu_omemo_store *st, const char *key, signal_buffer **out)
{
    sqlite3_stmt *s = xu_omemo_sql_prep(st, "SELECT v FROM meta WHERE k = ?");

    if (s)
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    return xu_omemo_sql_row(s, out);
}

int xu_omemo_store_put(struct xu_omemo_store *st, const char *key, const uint8_t *v, size_t len)
{
    sqlite3_stmt *s = xu_omemo_sql_prep(st, "INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)");

    if (s) {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, v, (int)len, SQLITE_STATIC);
    }
    return xu_omemo_sql_done(s);
}

int xu_omemo_store_get_u32(struct xu_omemo_store *st, const char *key, uint32_t *v)
{
    signal_buffer *b = NULL;
    int rc = xu_omemo_store_get(st, key, &b);

    if (rc == 1) {
        if (signal_buffer_len(b) == 4) {
            const uint8_t *d = signal_buffer_data(b);
            *v = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
        } else {
            rc = -1;
        }
        signal_buffer_free(b);
    }
    return rc;
}

int xu_omemo_store_put_u32(struct xu_omemo_store *st, const char *key, uint32_t v)
{
    uint8_t d[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    return xu_omemo_store_put(st, key, d, 4);
}

int xu_omemo_store_prekey_ids(struct xu_omemo_store *st, uint32_t *ids, int max)
{
    sqlite3_stmt *s = xu_omemo_sql_prep(st, "SELECT id FROM prekeys ORDER BY id");
    int n = 0, r;

    if (!s)
        return -1;
    while (n < max && (r = sqlite3_step(s)) == SQLITE_ROW)
        ids[n++] = (uint32_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

int xu_omemo_store_device(struct xu_omemo_store *st, const char *jid, uint32_t dev, int *trust,
                          uint8_t *key, size_t *key_len)
{
    sqlite3_stmt *s = xu_omemo_sql_prep(st, "SELECT trust, key FROM identities WHERE jid = ? AND dev = ?");
    int rc = -1, r;
    size_t n;

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, dev);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        if (trust)
            *trust = sqlite3_column_int(s, 0);
        n = (size_t)sqlite3_column_bytes(s, 1);
        if (key && key_len) {
            if (n > *key_len)
                n = *key_len;
            memcpy(key, sqlite3_column_blob(s, 1), n);
            *key_len = n;
        }
        rc = 1;
    } else if (r == SQLITE_DONE) {
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

int xu_omemo_store_set_trust(struct xu_omemo_store *st, const char *jid, uint32_t dev, int trust)
{
    sqlite3_stmt *s = xu_omemo_sql_prep(st, "UPDATE identities SET trust = ? WHERE jid = ? AND dev = ?");

    if (!s)
        return -1;
    sqlite3_bind_int(s, 1, trust);
    sqlite3_bind_text(s, 2, jid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, dev);
    if (xu_omemo_sql_done(s) < 0)
        return -1;
    return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int xu_omemo_store_has_session(struct xu_omemo_store *st, const char *jid, uint32_t dev)
{
    sqlite3_stmt *s = xu_omemo_sql_prep(st, "SELECT 1 FROM sessions WHERE jid = ? AND dev = ?");
    int rc;

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, dev);
    rc = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return rc;
}

int xu_omemo_store_set_devices(struct xu_omemo_store *st, const char *jid, const uint32_t *devs, int n)
{
    sqlite3_stmt *s = xu_omemo_sql_prep(st, "DELETE FROM devices WHERE jid = ?");
    int i;

    if (s)
        sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
    if (xu_omemo_sql_done(s) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        s = xu_omemo_sql_prep(st, "INSERT OR IGNORE INTO devices(jid, dev) VALUES (?, ?)");
        if (s) {
            sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, devs[i]);
        }
        if (xu_omemo_sql_done(s) < 0)
            return -1;
    }
    return 0;
}

int xu_omemo_store_devices(struct xu_omemo_store *st, const char *jid, uint32_t *devs, int max)
{
    sqlite3_stmt *s = xu_omemo_sql_prep(st, "SELECT dev FROM devices WHERE jid = ? ORDER BY dev");
    int n = 0;

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
    while (n < max && sqlite3_step(s) == SQLITE_ROW)
        devs[n++] = (uint32_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

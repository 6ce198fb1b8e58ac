/* The OMEMO key store in SQLite (see omemo_store.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "omemo/store.h"

#define BUSY_TIMEOUT_MS 15000

struct key_table {
    struct xu_omemo_store *st;
    const char *name; /* "prekeys" or "signed_prekeys" */
};

struct xu_omemo_store {
    sqlite3 *db;
    char *dir;
    struct key_table prekeys, signed_prekeys; /* user data of the two key stores */
};

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

static sqlite3_stmt *prep(struct xu_omemo_store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;

    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return NULL;
    return s;
}

/* Run a statement that returns no rows; 0 or -1. */
static int done(sqlite3_stmt *s)
{
    int rc = s && sqlite3_step(s) == SQLITE_DONE ? 0 : -1;

    sqlite3_finalize(s);
    return rc;
}

/* The first column of the only row as a signal buffer: 1, 0 (no row), -1. */
static int blob_row(sqlite3_stmt *s, signal_buffer **out)
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

static void bind_name(sqlite3_stmt *s, int i, const char *name, size_t len)
{
    sqlite3_bind_text(s, i, name, (int)len, SQLITE_TRANSIENT);
}

int xu_omemo_store_get(struct xu_omemo_store *st, const char *key, signal_buffer **out)
{
    sqlite3_stmt *s = prep(st, "SELECT v FROM meta WHERE k = ?");

    if (s)
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    return blob_row(s, out);
}

int xu_omemo_store_put(struct xu_omemo_store *st, const char *key, const uint8_t *v, size_t len)
{
    sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)");

    if (s) {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, v, (int)len, SQLITE_STATIC);
    }
    return done(s);
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
    sqlite3_stmt *s = prep(st, "SELECT id FROM prekeys ORDER BY id");
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
    sqlite3_stmt *s = prep(st, "SELECT trust, key FROM identities WHERE jid = ? AND dev = ?");
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
    sqlite3_stmt *s = prep(st, "UPDATE identities SET trust = ? WHERE jid = ? AND dev = ?");

    if (!s)
        return -1;
    sqlite3_bind_int(s, 1, trust);
    sqlite3_bind_text(s, 2, jid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, dev);
    if (done(s) < 0)
        return -1;
    return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int xu_omemo_store_has_session(struct xu_omemo_store *st, const char *jid, uint32_t dev)
{
    sqlite3_stmt *s = prep(st, "SELECT 1 FROM sessions WHERE jid = ? AND dev = ?");
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
    sqlite3_stmt *s = prep(st, "DELETE FROM devices WHERE jid = ?");
    int i;

    if (s)
        sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
    if (done(s) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        s = prep(st, "INSERT OR IGNORE INTO devices(jid, dev) VALUES (?, ?)");
        if (s) {
            sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, devs[i]);
        }
        if (done(s) < 0)
            return -1;
    }
    return 0;
}

int xu_omemo_store_devices(struct xu_omemo_store *st, const char *jid, uint32_t *devs, int max)
{
    sqlite3_stmt *s = prep(st, "SELECT dev FROM devices WHERE jid = ? ORDER BY dev");
    int n = 0;

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, jid, -1, SQLITE_STATIC);
    while (n < max && sqlite3_step(s) == SQLITE_ROW)
        devs[n++] = (uint32_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* ---- libomemo-c callbacks ---- */

/* A statement on the session of address a: jid and dev bound as ?1, ?2. */
static sqlite3_stmt *session_stmt(struct xu_omemo_store *st, const char *sql,
                                  const signal_protocol_address *a)
{
    sqlite3_stmt *s = prep(st, sql);

    if (s) {
        bind_name(s, 1, a->name, a->name_len);
        sqlite3_bind_int64(s, 2, (uint32_t)a->device_id);
    }
    return s;
}

static int cb_load_session(signal_buffer **record, signal_buffer **user_record,
                           const signal_protocol_address *a, void *ud)
{
    sqlite3_stmt *s = session_stmt(ud, "SELECT rec FROM sessions WHERE jid = ? AND dev = ?", a);
    int rc;

    *user_record = NULL;
    if (!s)
        return SG_ERR_UNKNOWN;
    rc = blob_row(s, record);
    return rc < 0 ? SG_ERR_UNKNOWN : rc;
}

static int cb_sub_device_sessions(signal_int_list **sessions, const char *name, size_t name_len,
                                  void *ud)
{
    struct xu_omemo_store *st = ud;
    sqlite3_stmt *s = prep(st, "SELECT dev FROM sessions WHERE jid = ?");
    signal_int_list *l = signal_int_list_alloc();
    int n = 0;

    if (!s || !l) {
        sqlite3_finalize(s);
        signal_int_list_free(l);
        return SG_ERR_NOMEM;
    }
    bind_name(s, 1, name, name_len);
    while (sqlite3_step(s) == SQLITE_ROW) {
        signal_int_list_push_back(l, (int)sqlite3_column_int64(s, 0));
        n++;
    }
    sqlite3_finalize(s);
    *sessions = l;
    return n;
}

static int cb_store_session(const signal_protocol_address *a, uint8_t *rec, size_t len,
                            uint8_t *urec, size_t ulen, void *ud)
{
    sqlite3_stmt *s = session_stmt(
        ud, "INSERT OR REPLACE INTO sessions(jid, dev, rec, urec) VALUES (?, ?, ?, ?)", a);

    if (!s)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_blob(s, 3, rec, (int)len, SQLITE_STATIC);
    if (urec)
        sqlite3_bind_blob(s, 4, urec, (int)ulen, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 4);
    return done(s) ? SG_ERR_UNKNOWN : 0;
}

static int cb_contains_session(const signal_protocol_address *a, void *ud)
{
    struct xu_omemo_store *st = ud;
    char name[1024];
    size_t n = a->name_len < sizeof name - 1 ? a->name_len : sizeof name - 1;

    memcpy(name, a->name, n);
    name[n] = '\0';
    return xu_omemo_store_has_session(st, name, (uint32_t)a->device_id) > 0;
}

static int cb_delete_session(const signal_protocol_address *a, void *ud)
{
    struct xu_omemo_store *st = ud;
    sqlite3_stmt *s = session_stmt(st, "DELETE FROM sessions WHERE jid = ? AND dev = ?", a);

    if (!s)
        return SG_ERR_UNKNOWN;
    if (done(s))
        return SG_ERR_UNKNOWN;
    return sqlite3_changes(st->db) > 0;
}

static int cb_delete_all_sessions(const char *name, size_t name_len, void *ud)
{
    struct xu_omemo_store *st = ud;
    sqlite3_stmt *s = prep(st, "DELETE FROM sessions WHERE jid = ?");

    if (!s)
        return SG_ERR_UNKNOWN;
    bind_name(s, 1, name, name_len);
    if (done(s))
        return SG_ERR_UNKNOWN;
    return sqlite3_changes(st->db);
}

/* Prekeys and signed prekeys: the same shape in two tables. Each of
 * libomemo-c's two stores gets its struct key_table as user data, so one
 * set of callbacks serves both. */

/* The statement `fmt` (with one %s: the table) on t, its first parameter id. */
static sqlite3_stmt *key_stmt(const struct key_table *t, const char *fmt, uint32_t id)
{
    char sql[128];
    sqlite3_stmt *s;

    snprintf(sql, sizeof sql, fmt, t->name);
    s = prep(t->st, sql);
    if (s)
        sqlite3_bind_int64(s, 1, id);
    return s;
}

static int cb_load_key(signal_buffer **rec, uint32_t id, void *ud)
{
    int rc = blob_row(key_stmt(ud, "SELECT rec FROM %s WHERE id = ?", id), rec);

    return rc < 0 ? SG_ERR_UNKNOWN : rc == 0 ? SG_ERR_INVALID_KEY_ID : 0;
}

static int cb_store_key(uint32_t id, uint8_t *rec, size_t len, void *ud)
{
    sqlite3_stmt *s = key_stmt(ud, "INSERT OR REPLACE INTO %s(id, rec) VALUES (?, ?)", id);

    if (s)
        sqlite3_bind_blob(s, 2, rec, (int)len, SQLITE_STATIC);
    return done(s) ? SG_ERR_UNKNOWN : 0;
}

static int cb_contains_key(uint32_t id, void *ud)
{
    sqlite3_stmt *s = key_stmt(ud, "SELECT 1 FROM %s WHERE id = ?", id);
    int rc;

    if (!s)
        return 0;
    rc = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return rc;
}

static int cb_remove_key(uint32_t id, void *ud)
{
    return done(key_stmt(ud, "DELETE FROM %s WHERE id = ?", id)) ? SG_ERR_UNKNOWN : 0;
}

static int cb_identity_pair(signal_buffer **pub, signal_buffer **priv, void *ud)
{
    struct xu_omemo_store *st = ud;

    if (xu_omemo_store_get(st, "identity_public", pub) != 1)
        return SG_ERR_UNKNOWN;
    if (xu_omemo_store_get(st, "identity_private", priv) != 1) {
        signal_buffer_free(*pub);
        *pub = NULL;
        return SG_ERR_UNKNOWN;
    }
    return 0;
}

static int cb_registration_id(void *ud, uint32_t *id)
{
    return xu_omemo_store_get_u32(ud, "device_id", id) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int addr_name(const signal_protocol_address *a, char *name, size_t size)
{
    if (a->name_len >= size || memchr(a->name, '\0', a->name_len))
        return -1;
    memcpy(name, a->name, a->name_len);
    name[a->name_len] = '\0';
    return 0;
}

/* A device we see for the first time: blind trust before verification,
 * unless the contact has a verified device already. */
static int cb_save_identity(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
    struct xu_omemo_store *st = ud;
    char name[1024];
    sqlite3_stmt *s;
    int verified, have;

    if (addr_name(a, name, sizeof name) < 0)
        return SG_ERR_INVAL;
    if (!key)
        return 0;
    have = xu_omemo_store_device(st, name, (uint32_t)a->device_id, NULL, NULL, NULL);
    if (have < 0)
        return SG_ERR_UNKNOWN;
    if (have)
        return 0; /* the same key (is_trusted_identity refused another one) */
    s = prep(st, "SELECT COUNT(*) FROM identities WHERE jid = ? AND trust = 1");
    if (!s)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    verified = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    s = prep(st, "INSERT INTO identities(jid, dev, key, trust) VALUES (?, ?, ?, ?)");
    if (!s)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (uint32_t)a->device_id);
    sqlite3_bind_blob(s, 3, key, (int)len, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, verified ? XU_TRUST_UNDECIDED : XU_TRUST_BLIND);
    return done(s) ? SG_ERR_UNKNOWN : 0;
}

/* A device whose identity key changed is not the device we knew: refused
 * (its sessions cannot be built or used) until the user looks at it. */
static int cb_is_trusted(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
    struct xu_omemo_store *st = ud;
    uint8_t known[64];
    size_t n = sizeof known;
    char name[1024];
    int have;

    if (addr_name(a, name, sizeof name) < 0)
        return SG_ERR_INVAL;
    have = xu_omemo_store_device(st, name, (uint32_t)a->device_id, NULL, known, &n);
    if (have < 0)
        return SG_ERR_UNKNOWN;
    return !have || (n == len && memcmp(known, key, len) == 0);
}

int xu_omemo_store_attach(struct xu_omemo_store *st, signal_protocol_store_context *sc)
{
    struct key_table prekeys = {st, "prekeys"}, signed_prekeys = {st, "signed_prekeys"};
    signal_protocol_session_store ss = {
        cb_load_session, cb_sub_device_sessions, cb_store_session, cb_contains_session,
        cb_delete_session, cb_delete_all_sessions, NULL, st,
    };
    signal_protocol_pre_key_store pk = {cb_load_key, cb_store_key, cb_contains_key, cb_remove_key,
                                        NULL, &st->prekeys};
    signal_protocol_signed_pre_key_store spk = {cb_load_key, cb_store_key, cb_contains_key,
                                                cb_remove_key, NULL, &st->signed_prekeys};
    signal_protocol_identity_key_store ik = {cb_identity_pair, cb_registration_id, cb_save_identity,
                                             cb_is_trusted, NULL, st};

    st->prekeys = prekeys;
    st->signed_prekeys = signed_prekeys;
    if (signal_protocol_store_context_set_session_store(sc, &ss) ||
        signal_protocol_store_context_set_pre_key_store(sc, &pk) ||
        signal_protocol_store_context_set_signed_pre_key_store(sc, &spk) ||
        signal_protocol_store_context_set_identity_key_store(sc, &ik))
        return -1;
    return 0;
}

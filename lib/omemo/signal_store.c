/* libomemo-c's session, prekey, signed prekey and identity stores over our
 * SQLite key store (see omemo/store.h): the callbacks it calls, wired in by
 * xu_omemo_store_attach. */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "omemo/store_int.h"

/* ---- libomemo-c callbacks ---- */

/* A statement on the session of address a: jid and dev bound as ?1, ?2. */
static sqlite3_stmt *session_stmt(struct xu_omemo_store *st, const char *sql,
                                  const signal_protocol_address *a)
{
    sqlite3_stmt *s = xu_omemo_sql_prep(st, sql);

    if (s) {
        xu_omemo_sql_bind_name(s, 1, a->name, a->name_len);
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
    rc = xu_omemo_sql_row(s, record);
    return rc < 0 ? SG_ERR_UNKNOWN : rc;
}

static int cb_sub_device_sessions(signal_int_list **sessions, const char *name, size_t name_len,
                                  void *ud)
{
    struct xu_omemo_store *st = ud;
    sqlite3_stmt *s = xu_omemo_sql_prep(st, "SELECT dev FROM sessions WHERE jid = ?");
    signal_int_list *l = signal_int_list_alloc();
    int n = 0;

    if (!s || !l) {
        sqlite3_finalize(s);
        signal_int_list_free(l);
        return SG_ERR_NOMEM;
    }
    xu_omemo_sql_bind_name(s, 1, name, name_len);
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
    return xu_omemo_sql_done(s) ? SG_ERR_UNKNOWN : 0;
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
    if (xu_omemo_sql_done(s))
        return SG_ERR_UNKNOWN;
    return sqlite3_changes(st->db) > 0;
}

static int cb_delete_all_sessions(const char *name, size_t name_len, void *ud)
{
    struct xu_omemo_store *st = ud;
    sqlite3_stmt *s = xu_omemo_sql_prep(st, "DELETE FROM sessions WHERE jid = ?");

    if (!s)
        return SG_ERR_UNKNOWN;
    xu_omemo_sql_bind_name(s, 1, name, name_len);
    if (xu_omemo_sql_done(s))
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
    s = xu_omemo_sql_prep(t->st, sql);
    if (s)
        sqlite3_bind_int64(s, 1, id);
    return s;
}

static int cb_load_key(signal_buffer **rec, uint32_t id, void *ud)
{
    int rc = xu_omemo_sql_row(key_stmt(ud, "SELECT rec FROM %s WHERE id = ?", id), rec);

    return rc < 0 ? SG_ERR_UNKNOWN : rc == 0 ? SG_ERR_INVALID_KEY_ID : 0;
}

static int cb_store_key(uint32_t id, uint8_t *rec, size_t len, void *ud)
{
    sqlite3_stmt *s = key_stmt(ud, "INSERT OR REPLACE INTO %s(id, rec) VALUES (?, ?)", id);

    if (s)
        sqlite3_bind_blob(s, 2, rec, (int)len, SQLITE_STATIC);
    return xu_omemo_sql_done(s) ? SG_ERR_UNKNOWN : 0;
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
    return xu_omemo_sql_done(key_stmt(ud, "DELETE FROM %s WHERE id = ?", id)) ? SG_ERR_UNKNOWN : 0;
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
    s = xu_omemo_sql_prep(st, "SELECT COUNT(*) FROM identities WHERE jid = ? AND trust = 1");
    if (!s)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    verified = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    s = xu_omemo_sql_prep(st, "INSERT INTO identities(jid, dev, key, trust) VALUES (?, ?, ?, ?)");
    if (!s)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (uint32_t)a->device_id);
    sqlite3_bind_blob(s, 3, key, (int)len, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, verified ? XU_TRUST_UNDECIDED : XU_TRUST_BLIND);
    return xu_omemo_sql_done(s) ? SG_ERR_UNKNOWN : 0;
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

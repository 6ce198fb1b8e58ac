/* The catch-up's bookkeeping (catchup.h): the point of each archive, the
 * ids printed last, the live stanzas held back while a catch-up runs and
 * printed after it. Reading a gap from an archive is catchup_fetch.c. */
#include "listen/catchup_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jid.h"
#include "base/msg.h"
#include "listen/mam.h"
#include "xml/stanza_in.h"
#include "xml/stanza_out.h"

#define DEFAULT_PAGE 250

double xu_catchup_wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void iso_utc(double t, char *buf, size_t len)
{
    time_t secs = (time_t)t;
    struct tm tm;

    gmtime_r(&secs, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int xu_catchup_is_time(const char *s)
{
    struct tm tm;
    const char *p;

    memset(&tm, 0, sizeof tm);
    p = strptime(s, "%Y-%m-%dT%H:%M", &tm);
    if (!p || p - s != 16 || *p != ':' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9')
        return 0;
    p += 3;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (*p == 'Z')
        return p[1] == '\0';
    return (*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':';
}

int xu_catchup_check_since(const char *arg, int code, struct xu_error *err)
{
    if (!*arg || strlen(arg) > 200 || strpbrk(arg, " \t\r\n\"'<>&"))
        return xu_error_set(err, code, "--since must be a time (e.g. 2026-12-01T08:00:00Z) or an archive id, not '%s'", arg);
    if (strlen(arg) >= 10 && arg[4] == '-' && arg[7] == '-' && strspn(arg, "0123456789") == 4 &&
        !xu_catchup_is_time(arg))
        return xu_error_set(err, code, "--since: a time needs a date, a time of day and a zone, e.g. 2026-12-01T08:00:00Z or 2026-12-01T09:00:00+01:00, not '%s'", arg);
    return 0;
}

int xu_catchup_new(const struct xu_catchup_opts *o, const char *const *rooms, size_t nrooms,
                   xu_emit_fn emit, void *ud, struct xu_catchup **out, struct xu_error *err)
{
    struct xu_catchup *cu = calloc(1, sizeof *cu);
    size_t i;
    int rc;

    *out = NULL;
    if (!cu || !(cu->a = calloc(nrooms + 1, sizeof *cu->a))) {
        free(cu);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    cu->o = *o;
    cu->o.state_file = NULL;
    cu->o.since = NULL;
    cu->o.page = o->page > 0 ? o->page : DEFAULT_PAGE;
    cu->emit = emit;
    cu->ud = ud;
    cu->na = nrooms + 1;
    for (i = 0; i < nrooms; i++) {
        cu->a[i + 1].jid = strdup(rooms[i]);
        cu->a[i + 1].is_room = 1;
        if (!cu->a[i + 1].jid) {
            xu_catchup_free(cu);
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        }
    }
    if (o->since) {
        if (xu_catchup_is_time(o->since))
            cu->since_time = strdup(o->since);
        else
            cu->since_id = strdup(o->since);
        if (!cu->since_time && !cu->since_id) {
            xu_catchup_free(cu);
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        }
    }
    if (o->state_file) {
        rc = xu_listen_state_load(&cu->state, o->state_file, err);
        /* written once now: a state that cannot be kept is an error at the
         * start, not a warning after the first message */
        if (rc == 0)
            rc = xu_listen_state_save(&cu->state, err);
        if (rc) {
            xu_catchup_free(cu);
            return rc;
        }
        cu->use_state = 1;
    }
    *out = cu;
    return 0;
}

static void drop_held(struct xu_catchup *cu)
{
    size_t i;

    for (i = 0; i < cu->nh; i++) {
        free(cu->h[i].xml);
        free(cu->h[i].id);
    }
    cu->nh = 0;
    xu_idset_clear(&cu->held_ids);
}

void xu_catchup_free(struct xu_catchup *cu)
{
    size_t i;

    if (!cu)
        return;
    drop_held(cu);
    free(cu->h);
    for (i = 0; i < cu->na; i++) {
        free(cu->a[i].jid);
        free(cu->a[i].id);
        free(cu->a[i].since);
    }
    free(cu->a);
    for (i = 0; i < RING; i++)
        free(cu->ring[i]);
    xu_idset_clear(&cu->ring_ids);
    xu_listen_state_free(&cu->state);
    free(cu->since_time);
    free(cu->since_id);
    free(cu);
}

char *xu_catchup_key(const char *archive, const char *id)
{
    size_t la = strlen(archive), li = strlen(id);
    char *k = malloc(la + li + 2);

    if (k) {
        memcpy(k, archive, la);
        k[la] = ' ';
        memcpy(k + la + 1, id, li + 1);
    }
    return k;
}

int xu_catchup_seen(struct xu_catchup *cu, const char *key)
{
    return xu_idset_find(&cu->ring_ids, key, NULL);
}

static void ring_add(struct xu_catchup *cu, char *key /* taken */)
{
    if (xu_catchup_seen(cu, key)) {
        free(key);
        return;
    }
    if (cu->ring[cu->ring_pos]) {
        xu_idset_del(&cu->ring_ids, cu->ring[cu->ring_pos]);
        free(cu->ring[cu->ring_pos]);
    }
    cu->ring[cu->ring_pos] = key;
    if (xu_idset_add(&cu->ring_ids, key, cu->ring_pos) < 0) {
        free(key);
        cu->ring[cu->ring_pos] = NULL;
        return;
    }
    cu->ring_pos = (cu->ring_pos + 1) % RING;
}

static void save_state(struct xu_catchup *cu, struct archive *a)
{
    struct xu_error e = {0, ""};

    if (!cu->use_state || !a->jid)
        return;
    if (xu_listen_state_set(&cu->state, a->jid, a->id, a->since) < 0 ||
        xu_listen_state_save(&cu->state, &e) != 0) {
        if (!cu->state_error_noted)
            xu_warn("%s", e.msg[0] ? e.msg : "out of memory writing the state");
        cu->state_error_noted = 1;
    } else
        cu->state_error_noted = 0;
}

void xu_catchup_record(struct xu_catchup *cu, struct archive *a, const char *id)
{
    char *nid = strdup(id);

    if (!nid)
        return;
    free(a->id);
    free(a->since);
    a->id = nid;
    a->since = NULL;
    a->have = 1;
    ring_add(cu, xu_catchup_key(a->jid, id));
    save_state(cu, a);
}

void xu_catchup_anchor_now(struct xu_catchup *cu, struct archive *a, double t)
{
    char when[40];

    iso_utc(t, when, sizeof when);
    free(a->id);
    free(a->since);
    a->id = NULL;
    a->since = strdup(when);
    a->have = a->since != NULL;
    save_state(cu, a);
}

static void set_point(struct archive *a, const char *id, const char *since)
{
    free(a->id);
    free(a->since);
    a->id = id ? strdup(id) : NULL;
    a->since = !id && since ? strdup(since) : NULL;
    a->have = a->id || a->since;
}

void xu_catchup_session(struct xu_catchup *cu, struct xu_session *s)
{
    char own[1024];
    const struct xu_state_entry *e;
    size_t i;

    cu->s = s;
    cu->holding = 0;
    cu->stop = 0;
    if (s->is_component || !s->bound_jid)
        return;
    snprintf(own, sizeof own, "%s", s->bound_jid);
    own[strcspn(own, "/")] = '\0';
    if (!cu->a[0].jid || !xu_jid_bare_equal(cu->a[0].jid, own)) {
        free(cu->a[0].jid);
        cu->a[0].jid = strdup(own);
    }
    if (!cu->o.enabled)
        return;
    for (i = 0; i < cu->na; i++) {
        cu->a[i].cut = 0;
        cu->a[i].taken = 0;
    }
    if (!cu->started && cu->a[0].jid) {
        cu->started = 1;
        for (i = 0; i < cu->na; i++) {
            e = cu->use_state ? xu_listen_state_get(&cu->state, cu->a[i].jid) : NULL;
            if (e)
                set_point(&cu->a[i], e->id, e->since);
            if (cu->since_time)
                set_point(&cu->a[i], NULL, cu->since_time);
        }
        if (cu->since_id)
            set_point(&cu->a[0], cu->since_id, NULL);
    }
    cu->session_wall = xu_catchup_wall_now();
    cu->holding = 1; /* everything live waits until the gap is printed */
}

static int flush(struct xu_catchup *cu)
{
    size_t i;
    struct held *h;
    struct xu_error e = {0, ""};
    xmpp_stanza_t *st;
    char *key;
    int r = XU_EMIT_SKIPPED;

    cu->holding = 0;
    for (i = 0; i < cu->nh; i++) {
        h = &cu->h[i];
        if (h->dead || cu->stop)
            continue;
        key = h->archive != (size_t)-1 ? xu_catchup_key(cu->a[h->archive].jid, h->id) : NULL;
        if (key && xu_catchup_seen(cu, key)) {
            free(key);
            continue;
        }
        free(key);
        st = NULL;
        if (xu_stanza_from_string(cu->s->ctx, h->xml, &st, &e) != 0 || !st)
            continue; /* cannot happen: we wrote it */
        r = cu->emit(st, &(struct xu_origin){h->archive != (size_t)-1 ? cu->a[h->archive].jid : NULL, h->id, 0}, cu->ud);
        xmpp_stanza_release(st);
        if (h->archive != (size_t)-1)
            xu_catchup_record(cu, &cu->a[h->archive], h->id);
        if (r == XU_EMIT_STOP)
            cu->stop = 1;
    }
    drop_held(cu);
    return 0;
}

int xu_catchup_finish(struct xu_catchup *cu, struct xu_error *err)
{
    size_t i;
    struct archive *a;
    int rc = 0;

    if (!cu->holding)
        return 0;
    for (i = 0; i < cu->na && rc == 0 && !cu->stop; i++) {
        a = &cu->a[i];
        if (a->none)
            continue;
        /* after the presence, also for the account: Prosody sends no offline
         * copies to a session that queried the archive before, and what the
         * account does not archive (its preferences) would then be lost;
         * the offline copies of what it does archive are held back and
         * dropped by archive id */
        if (a->have) {
            rc = xu_catchup_fetch_gap(cu, a, err);
        } else {
            rc = xu_catchup_probe(cu, a, err);
            if (rc == 0 && !a->have && !a->none)
                xu_catchup_anchor_now(cu, a, a->is_room ? xu_catchup_wall_now() : cu->session_wall);
        }
    }
    if (rc == 0)
        flush(cu);
    return rc;
}

int xu_catchup_room_history(const struct xu_catchup *cu, const char *room, int history)
{
    size_t i;

    if (!cu->o.enabled)
        return history;
    for (i = 1; i < cu->na; i++)
        if (xu_jid_bare_equal(cu->a[i].jid, room))
            return cu->a[i].have && !cu->a[i].none ? 0 : history;
    return history;
}

/* ---- live stanzas ---- */

/* The archive that gave this live stanza an id, and the id. */
static size_t live_origin(struct xu_catchup *cu, xmpp_stanza_t *st, const char **id)
{
    const char *name = xmpp_stanza_get_name(st), *from = xmpp_stanza_get_from(st);
    size_t i;

    *id = NULL;
    if (!name || strcmp(name, "message") != 0)
        return (size_t)-1;
    if (cu->a[0].jid && (*id = xu_mam_stanza_id(st, cu->a[0].jid)))
        return 0;
    for (i = 1; from && i < cu->na; i++)
        if (xu_jid_bare_equal(from, cu->a[i].jid) && (*id = xu_mam_stanza_id(st, cu->a[i].jid)))
            return i;
    return (size_t)-1;
}

int xu_catchup_live(struct xu_catchup *cu, xmpp_stanza_t *st)
{
    const char *id = NULL;
    size_t ai, i;
    char *key = NULL;
    struct held *nh;
    int r;

    if (cu->o.enabled) {
        for (i = 0; i < cu->na; i++)
            if (cu->a[i].jid && xu_mam_is_result(st, cu->a[i].is_room ? cu->a[i].jid : NULL,
                                                 cu->a[0].jid))
                return XU_EMIT_SKIPPED; /* belongs to a query */
    }
    if (cu->stop)
        return XU_EMIT_STOP;
    ai = live_origin(cu, st, &id);
    if (id && ai != (size_t)-1) {
        key = xu_catchup_key(cu->a[ai].jid, id);
        if (key && xu_catchup_seen(cu, key)) {
            free(key);
            return XU_EMIT_SKIPPED;
        }
    }
    if (cu->holding) {
        if (cu->nh == cu->caph) {
            nh = realloc(cu->h, (cu->caph ? cu->caph * 2 : 64) * sizeof *nh);
            if (!nh) {
                free(key);
                return XU_EMIT_SKIPPED;
            }
            cu->h = nh;
            cu->caph = cu->caph ? cu->caph * 2 : 64;
        }
        cu->h[cu->nh].xml = xu_stanza_xml_line(st);
        if (!cu->h[cu->nh].xml) {
            free(key);
            return XU_EMIT_SKIPPED;
        }
        cu->h[cu->nh].archive = id ? ai : (size_t)-1;
        cu->h[cu->nh].id = id ? strdup(id) : NULL;
        cu->h[cu->nh].dead = 0;
        if (key)
            xu_idset_add(&cu->held_ids, key, cu->nh);
        cu->nh++;
        free(key);
        return XU_EMIT_SKIPPED;
    }
    free(key);
    r = cu->emit(st, &(struct xu_origin){id ? cu->a[ai].jid : NULL, id, 0}, cu->ud);
    if (id && cu->o.enabled)
        xu_catchup_record(cu, &cu->a[ai], id);
    else if (id)
        ring_add(cu, xu_catchup_key(cu->a[ai].jid, id));
    if (r == XU_EMIT_STOP)
        cu->stop = 1;
    return r;
}

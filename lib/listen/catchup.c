#include "listen/catchup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jid.h"
#include "listen/listen_state.h"
#include "listen/mam.h"
#include "base/msg.h"
#include "xml/stanza_in.h"
#include "xml/stanza_out.h"


#define NS_DELAY "urn:xmpp:delay"
#define RING 1024          /* archive ids printed last, kept to drop a repeat */
#define DEFAULT_PAGE 250
#define PAGE_TIMEOUT 30.0  /* seconds for one page to arrive */

/* ---- a set of strings (archive "JID id" keys) ---- */

struct node {
    struct node *next;
    char *key;
    size_t val;
};

struct idset {
    struct node **b;
    size_t nb, n;
};

static unsigned long hash_str(const char *s)
{
    unsigned long h = 2166136261UL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619UL;
    return h;
}

static struct node **idset_slot(struct idset *set, const char *key)
{
    struct node **p;

    if (!set->nb)
        return NULL;
    for (p = &set->b[hash_str(key) % set->nb]; *p; p = &(*p)->next)
        if (strcmp((*p)->key, key) == 0)
            return p;
    return p;
}

static int idset_find(struct idset *set, const char *key, size_t *val)
{
    struct node **p = idset_slot(set, key);

    if (!p || !*p)
        return 0;
    if (val)
        *val = (*p)->val;
    return 1;
}

static int idset_grow(struct idset *set)
{
    size_t nb = set->nb ? set->nb * 2 : 256, i;
    struct node **b = calloc(nb, sizeof *b), *n, *next;

    if (!b)
        return -1;
    for (i = 0; i < set->nb; i++)
        for (n = set->b[i]; n; n = next) {
            next = n->next;
            n->next = b[hash_str(n->key) % nb];
            b[hash_str(n->key) % nb] = n;
        }
    free(set->b);
    set->b = b;
    set->nb = nb;
    return 0;
}

static int idset_add(struct idset *set, const char *key, size_t val)
{
    struct node **p, *n;

    if ((set->n + 1 > set->nb * 2 || !set->nb) && idset_grow(set) < 0)
        return -1;
    p = idset_slot(set, key);
    if (*p) {
        (*p)->val = val;
        return 0;
    }
    n = malloc(sizeof *n);
    if (!n || !(n->key = strdup(key))) {
        free(n);
        return -1;
    }
    n->next = NULL;
    n->val = val;
    *p = n;
    set->n++;
    return 0;
}

static void idset_del(struct idset *set, const char *key)
{
    struct node **p = idset_slot(set, key), *n;

    if (!p || !*p)
        return;
    n = *p;
    *p = n->next;
    free(n->key);
    free(n);
    set->n--;
}

static void idset_clear(struct idset *set)
{
    size_t i;
    struct node *n, *next;

    for (i = 0; i < set->nb; i++)
        for (n = set->b[i]; n; n = next) {
            next = n->next;
            free(n->key);
            free(n);
        }
    free(set->b);
    memset(set, 0, sizeof *set);
}

/* ---- the engine ---- */

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
    struct idset held_ids, ring_ids;
    char *ring[RING];
    size_t ring_pos;
    int stop;        /* the output said stop */
    int state_error_noted;
    double session_wall;
};

static double wall_now(void)
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
    idset_clear(&cu->held_ids);
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
    idset_clear(&cu->ring_ids);
    xu_listen_state_free(&cu->state);
    free(cu->since_time);
    free(cu->since_id);
    free(cu);
}

static char *make_key(const char *archive, const char *id)
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

static int seen(struct xu_catchup *cu, const char *key)
{
    return idset_find(&cu->ring_ids, key, NULL);
}

static void ring_add(struct xu_catchup *cu, char *key /* taken */)
{
    if (seen(cu, key)) {
        free(key);
        return;
    }
    if (cu->ring[cu->ring_pos]) {
        idset_del(&cu->ring_ids, cu->ring[cu->ring_pos]);
        free(cu->ring[cu->ring_pos]);
    }
    cu->ring[cu->ring_pos] = key;
    if (idset_add(&cu->ring_ids, key, cu->ring_pos) < 0) {
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

/* The archive has been read up to id (printed or passed over): remember it. */
static void record(struct xu_catchup *cu, struct archive *a, const char *id)
{
    char *nid = strdup(id);

    if (!nid)
        return;
    free(a->id);
    free(a->since);
    a->id = nid;
    a->since = NULL;
    a->have = 1;
    ring_add(cu, make_key(a->jid, id));
    save_state(cu, a);
}

/* Nothing seen yet from this archive: from now on. */
static void anchor_now(struct xu_catchup *cu, struct archive *a, double t)
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
    cu->session_wall = wall_now();
    cu->holding = 1; /* everything live waits until the gap is printed */
}

/* ---- one catch-up ---- */

struct item_ctx {
    struct xu_catchup *cu;
    struct archive *a;
    int stopped; /* the callback stopped taking items */
};

static void add_child(xmpp_stanza_t *parent, xmpp_stanza_t *c)
{
    xmpp_stanza_add_child(parent, c);
    xmpp_stanza_release(c);
}

/* The archived message as we print it: its archive id (<stanza-id/>) and,
 * unless it has one, a <delay/> with the archive's stamp, from the archive. */
static xmpp_stanza_t *archived_copy(const struct xu_mam_item *it)
{
    xmpp_stanza_t *m = xmpp_stanza_copy(it->message), *c, *t;
    xmpp_ctx_t *ctx = xmpp_stanza_get_context(it->message);

    if (!m)
        return NULL;
    if (it->stamp && !xmpp_stanza_get_child_by_name_and_ns(m, "delay", NS_DELAY) &&
        (c = xmpp_stanza_new(ctx))) {
        xmpp_stanza_set_name(c, "delay");
        xmpp_stanza_set_ns(c, NS_DELAY);
        xmpp_stanza_set_attribute(c, "from", it->archive);
        xmpp_stanza_set_attribute(c, "stamp", it->stamp);
        if ((t = xmpp_stanza_new(ctx))) {
            xmpp_stanza_set_text(t, "from the archive");
            add_child(c, t);
        }
        add_child(m, c);
    }
    if (!xu_mam_stanza_id(m, it->archive) && (c = xmpp_stanza_new(ctx))) {
        xmpp_stanza_set_name(c, "stanza-id");
        xmpp_stanza_set_ns(c, XU_NS_SID);
        xmpp_stanza_set_attribute(c, "by", it->archive);
        xmpp_stanza_set_attribute(c, "id", it->id);
        add_child(m, c);
    }
    return m;
}

static int on_item(const struct xu_mam_item *it, void *ud)
{
    struct item_ctx *ic = ud;
    struct xu_catchup *cu = ic->cu;
    struct archive *a = ic->a;
    struct xu_origin o = {a->jid, it->id, 1};
    const char *from = xmpp_stanza_get_from(it->message);
    char *key = make_key(a->jid, it->id);
    xmpp_stanza_t *m;
    size_t hi;
    int r = XU_EMIT_SKIPPED;

    if (!key)
        return 1;
    if (idset_find(&cu->held_ids, key, &hi)) {
        cu->h[hi].dead = 1; /* printed now, in archive order, not again later */
        idset_del(&cu->held_ids, key);
    }
    if (!seen(cu, key) &&
        (cu->o.own || a->is_room || !from || !xu_jid_bare_equal(from, a->jid))) {
        m = archived_copy(it);
        if (m) {
            r = cu->emit(m, &o, cu->ud);
            xmpp_stanza_release(m);
        }
        if (r == XU_EMIT_PRINTED)
            a->taken++;
    }
    free(key);
    record(cu, a, it->id);
    if (r == XU_EMIT_STOP) {
        cu->stop = 1;
        ic->stopped = 1;
    } else if (cu->o.max && a->taken >= cu->o.max)
        ic->stopped = 1;
    return ic->stopped;
}

static void note_no_archive(struct archive *a, const char *condition)
{
    char shown[300];

    if (a->none)
        return;
    a->none = 1;
    xu_sanitize_terminal(shown, sizeof shown, a->jid);
    xu_warn("note: %s keeps no message archive (%s): no catch-up for it; what arrives while "
            "disconnected may be missed there", shown, condition);
}

static int catch_up_pages(struct xu_catchup *cu, struct archive *a, struct xu_error *err);

/* Fetch everything after the archive's point, page by page. Each page has
 * its own deadline; the time the catch-up takes is added to the session's
 * deadline for setting up (a long gap is not a slow server). */
static int catch_up(struct xu_catchup *cu, struct archive *a, struct xu_error *err)
{
    double saved = cu->s->deadline, t0 = xu_now();
    int rc = catch_up_pages(cu, a, err);

    if (cu->s->conn)
        xu_session_set_deadline(cu->s, saved > 0 ? saved + (xu_now() - t0) : 0);
    return rc;
}

static int catch_up_pages(struct xu_catchup *cu, struct archive *a, struct xu_error *err)
{
    struct xu_mam_query q;
    struct xu_mam_page page;
    struct item_ctx ic = {cu, a, 0};
    struct xu_error e = {0, ""};
    char shown[300], id[300], after[1024];
    unsigned long before = a->taken;
    double until;
    int rc;

    if (a->none || !a->jid || a->cut)
        return 0;
    xu_sanitize_terminal(shown, sizeof shown, a->jid);
    for (;;) {
        memset(&q, 0, sizeof q);
        /* a copy: the items of the page move a->id on */
        snprintf(after, sizeof after, "%s", a->id ? a->id : "");
        q.archive = a->is_room ? a->jid : NULL;
        q.after_id = a->id ? after : NULL;
        q.start = a->id ? NULL : a->since;
        q.max = cu->o.page;
        xu_error_clear(&e);
        until = xu_now() + PAGE_TIMEOUT;
        if (cu->o.deadline > 0 && cu->o.deadline < until)
            until = cu->o.deadline;
        xu_session_set_deadline(cu->s, until + 1);
        rc = xu_mam_page(cu->s, &q, until, on_item, &ic, &page, &e);
        if (rc == XU_EX_UNAVAILABLE && page.condition[0]) {
            if (strcmp(page.condition, "item-not-found") == 0 && a->id) {
                xu_sanitize_terminal(id, sizeof id, a->id);
                if (cu->since_id && strcmp(cu->since_id, a->id) == 0 && a == &cu->a[0])
                    return xu_error_set(err, XU_EX_DATAERR,
                                        "--since: the archive of %s has no message with id '%s'",
                                        shown, id);
                xu_warn("the archive of %s no longer has id '%s' (expired?): no catch-up there; "
                        "messages since then may be missing", shown, id);
                anchor_now(cu, a, wall_now());
                return 0;
            }
            if (xu_mam_no_archive(page.condition)) {
                note_no_archive(a, page.condition);
                return 0;
            }
            xu_warn("catching up from the archive of %s failed: %s", shown, page.condition);
            return 0;
        }
        if (rc)
            return xu_error_set(err, rc, "catching up from the archive of %s: %s", shown, e.msg);
        if (cu->stop)
            return 0;
        if (ic.stopped) {
            /* --max-catchup */
            a->cut = 1;
            if (page.count >= 0)
                xu_warn("--max-catchup %lu: the catch-up of %s stopped after %lu messages; about "
                        "%ld more in the archive are not printed",
                        cu->o.max, shown, a->taken, page.count > (long)page.items ? page.count - (long)page.items : 0L);
            else
                xu_warn("--max-catchup %lu: the catch-up of %s stopped after %lu messages; the "
                        "rest of the gap is not printed", cu->o.max, shown, a->taken);
            /* the rest is skipped for good: from now on */
            anchor_now(cu, a, wall_now());
            return 0;
        }
        if (page.complete || page.items == 0 || !page.last[0])
            break;
        if (strcmp(after, page.last) == 0) {
            xu_warn("the archive of %s gave the same page twice; catch-up stopped", shown);
            break;
        }
        if (!a->id || strcmp(a->id, page.last) != 0)
            record(cu, a, page.last);
    }
    if (a->taken > before)
        xu_info("caught up with %s: %lu messages from the archive", shown, a->taken - before);
    return 0;
}

/* Ask for the newest message only: does it keep an archive? */
static int probe(struct xu_catchup *cu, struct archive *a, struct xu_error *err)
{
    struct xu_mam_query q;
    struct xu_mam_page page;
    struct xu_error e = {0, ""};
    int rc;

    memset(&q, 0, sizeof q);
    q.archive = a->is_room ? a->jid : NULL;
    q.newest_only = 1;
    rc = xu_mam_page(cu->s, &q, xu_now() + PAGE_TIMEOUT, NULL, NULL, &page, &e);
    if (rc == XU_EX_UNAVAILABLE && page.condition[0]) {
        if (xu_mam_no_archive(page.condition))
            note_no_archive(a, page.condition);
        return 0;
    }
    if (rc)
        return xu_error_set(err, rc, "asking the archive of %s: %s", a->jid, e.msg);
    return 0;
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
        key = h->archive != (size_t)-1 ? make_key(cu->a[h->archive].jid, h->id) : NULL;
        if (key && seen(cu, key)) {
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
            record(cu, &cu->a[h->archive], h->id);
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
            rc = catch_up(cu, a, err);
        } else {
            rc = probe(cu, a, err);
            if (rc == 0 && !a->have && !a->none)
                anchor_now(cu, a, a->is_room ? wall_now() : cu->session_wall);
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
        key = make_key(cu->a[ai].jid, id);
        if (key && seen(cu, key)) {
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
            idset_add(&cu->held_ids, key, cu->nh);
        cu->nh++;
        free(key);
        return XU_EMIT_SKIPPED;
    }
    free(key);
    r = cu->emit(st, &(struct xu_origin){id ? cu->a[ai].jid : NULL, id, 0}, cu->ud);
    if (id && cu->o.enabled)
        record(cu, &cu->a[ai], id);
    else if (id)
        ring_add(cu, make_key(cu->a[ai].jid, id));
    if (r == XU_EMIT_STOP)
        cu->stop = 1;
    return r;
}

/* One catch-up from one archive: the gap after its point, page by page
 * (XEP-0313 with XEP-0059), each message printed in archive order unless it
 * was printed before; or, with no point yet, a probe for whether it keeps
 * an archive at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jid.h"
#include "base/msg.h"
#include "listen/catchup_impl.h"
#include "listen/mam.h"

#define NS_DELAY "urn:xmpp:delay"
#define PAGE_TIMEOUT 30.0  /* seconds for one page to arrive */

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
    char *key = xu_catchup_key(a->jid, it->id);
    xmpp_stanza_t *m;
    size_t hi;
    int r = XU_EMIT_SKIPPED;

    if (!key)
        return 1;
    if (xu_idset_find(&cu->held_ids, key, &hi)) {
        cu->h[hi].dead = 1; /* printed now, in archive order, not again later */
        xu_idset_del(&cu->held_ids, key);
    }
    if (!xu_catchup_seen(cu, key) &&
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
    xu_catchup_record(cu, a, it->id);
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

/* Each page has its own deadline; the time the catch-up takes is added to
 * the session's deadline for setting up (a long gap is not a slow server). */
int xu_catchup_fetch_gap(struct xu_catchup *cu, struct archive *a, struct xu_error *err)
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
                xu_catchup_anchor_now(cu, a, xu_catchup_wall_now());
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
            xu_catchup_anchor_now(cu, a, xu_catchup_wall_now());
            return 0;
        }
        if (page.complete || page.items == 0 || !page.last[0])
            break;
        if (strcmp(after, page.last) == 0) {
            xu_warn("the archive of %s gave the same page twice; catch-up stopped", shown);
            break;
        }
        if (!a->id || strcmp(a->id, page.last) != 0)
            xu_catchup_record(cu, a, page.last);
    }
    if (a->taken > before)
        xu_info("caught up with %s: %lu messages from the archive", shown, a->taken - before);
    return 0;
}

int xu_catchup_probe(struct xu_catchup *cu, struct archive *a, struct xu_error *err)
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

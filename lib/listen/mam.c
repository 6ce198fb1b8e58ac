#include "listen/mam.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp/iq.h"
#include "base/jid.h"
#include "base/msg.h"
#include "xml/stanza_out.h"

#define NS_DATA "jabber:x:data"
#define NS_DELAY "urn:xmpp:delay"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

/* ---- building the query ---- */



static void add_field(xmpp_stanza_t *form, const char *var, const char *type, const char *value)
{
    xmpp_stanza_t *f = xu_stanza_add_el(form, "field", NULL);

    if (!f)
        return;
    xmpp_stanza_set_attribute(f, "var", var);
    if (type)
        xmpp_stanza_set_attribute(f, "type", type);
    xu_stanza_add_text_el(f, "value", value);
}

static xmpp_stanza_t *build_query(struct xu_session *s, const struct xu_mam_query *q,
                                  const char *queryid)
{
    xmpp_stanza_t *iq = xmpp_iq_new(s->ctx, "set", NULL), *query, *form, *set;
    char *id = xu_session_new_id(s), max[16];

    if (!iq || !id) {
        if (iq)
            xmpp_stanza_release(iq);
        free(id);
        return NULL;
    }
    xmpp_stanza_set_id(iq, id);
    free(id);
    if (q->archive)
        xmpp_stanza_set_to(iq, q->archive);
    query = xu_stanza_add_el(iq, "query", XU_NS_MAM);
    if (query)
        xmpp_stanza_set_attribute(query, "queryid", queryid);
    if (query && q->start && !q->after_id && !q->newest_only) {
        form = xu_stanza_add_el(query, "x", NS_DATA);
        if (form) {
            xmpp_stanza_set_type(form, "submit");
            add_field(form, "FORM_TYPE", "hidden", XU_NS_MAM);
            add_field(form, "start", NULL, q->start);
        }
    }
    set = query ? xu_stanza_add_el(query, "set", XU_NS_RSM) : NULL;
    if (set) {
        snprintf(max, sizeof max, "%d", q->newest_only ? 1 : q->max > 0 ? q->max : 100);
        xu_stanza_add_text_el(set, "max", max);
        if (q->newest_only)
            xu_stanza_add_el(set, "before", NULL);
        else if (q->after_id)
            xu_stanza_add_text_el(set, "after", q->after_id);
    }
    if (!query || !set) {
        xmpp_stanza_release(iq);
        return NULL;
    }
    return iq;
}

/* ---- reading the answers ---- */

static xmpp_stanza_t *child_ns(xmpp_stanza_t *st, const char *name, const char *ns)
{
    return st ? xmpp_stanza_get_child_by_name_and_ns(st, name, ns) : NULL;
}

int xu_mam_is_result(xmpp_stanza_t *st, const char *archive, const char *own_bare)
{
    const char *from = xmpp_stanza_get_from(st), *name = xmpp_stanza_get_name(st);

    if (!name || strcmp(name, "message") != 0 || !child_ns(st, "result", XU_NS_MAM))
        return 0;
    if (archive)
        return from && !strchr(from, '/') && xu_jid_bare_equal(from, archive);
    return !from || (own_bare && !strchr(from, '/') && xu_jid_bare_equal(from, own_bare));
}

const char *xu_mam_stanza_id(xmpp_stanza_t *st, const char *by)
{
    xmpp_stanza_t *c;
    const char *ns, *b;

    for (c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c), "stanza-id") != 0)
            continue;
        ns = xmpp_stanza_get_ns(c);
        b = xmpp_stanza_get_attribute(c, "by");
        if (ns && strcmp(ns, XU_NS_SID) == 0 && b && xu_jid_bare_equal(b, by) && !strchr(b, '/'))
            return xmpp_stanza_get_attribute(c, "id");
    }
    return NULL;
}

int xu_mam_no_archive(const char *condition)
{
    return strcmp(condition, "service-unavailable") == 0 ||
           strcmp(condition, "feature-not-implemented") == 0 ||
           strcmp(condition, "not-allowed") == 0 || strcmp(condition, "forbidden") == 0 ||
           strcmp(condition, "not-acceptable") == 0 || strcmp(condition, "recipient-unavailable") == 0;
}

struct active {
    const char *queryid;
    const char *archive;   /* NULL: the account */
    const char *own_bare;
    const char *archive_jid;
    xu_mam_item_fn fn;
    void *ud;
    struct xu_mam_page *page;
    int stopped;
};

static int on_result(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct active *a = ud;
    xmpp_stanza_t *res, *fwd, *delay, *msg;
    const char *qid, *id;
    struct xu_mam_item it;

    (void)conn;
    if (!xu_mam_is_result(st, a->archive, a->own_bare))
        return 1;
    res = child_ns(st, "result", XU_NS_MAM);
    qid = xmpp_stanza_get_attribute(res, "queryid");
    id = xmpp_stanza_get_attribute(res, "id");
    if (!qid || strcmp(qid, a->queryid) != 0 || !id || a->stopped)
        return 1; /* another query's, or after we stopped */
    fwd = child_ns(res, "forwarded", XU_NS_FORWARD);
    delay = child_ns(fwd, "delay", NS_DELAY);
    for (msg = fwd ? xmpp_stanza_get_children(fwd) : NULL; msg; msg = xmpp_stanza_get_next(msg))
        if (xmpp_stanza_is_tag(msg) && strcmp(xmpp_stanza_get_name(msg), "message") == 0)
            break;
    if (!msg)
        return 1;
    it.archive = a->archive_jid;
    it.id = id;
    it.stamp = delay ? xmpp_stanza_get_attribute(delay, "stamp") : NULL;
    it.message = msg;
    a->page->items++;
    if (a->fn && a->fn(&it, a->ud))
        a->stopped = 1;
    return 1;
}

static void error_condition(xmpp_stanza_t *reply, char *buf, size_t len)
{
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(reply, "error"), *c;
    const char *ns;

    snprintf(buf, len, "undefined-condition");
    for (c = e ? xmpp_stanza_get_children(e) : NULL; c; c = xmpp_stanza_get_next(c)) {
        ns = xmpp_stanza_get_ns(c);
        if (xmpp_stanza_is_tag(c) && ns && strcmp(ns, NS_STANZAS) == 0 &&
            strcmp(xmpp_stanza_get_name(c), "text") != 0) {
            snprintf(buf, len, "%s", xmpp_stanza_get_name(c));
            return;
        }
    }
}

static void child_text(xmpp_stanza_t *parent, const char *name, char *buf, size_t len)
{
    xmpp_stanza_t *c = parent ? xmpp_stanza_get_child_by_name(parent, name) : NULL;
    char *t = c ? xmpp_stanza_get_text(c) : NULL;

    buf[0] = '\0';
    if (t) {
        snprintf(buf, len, "%s", t);
        xmpp_free(xmpp_stanza_get_context(c), t);
    }
}

int xu_mam_page(struct xu_session *s, const struct xu_mam_query *q, double until,
                xu_mam_item_fn fn, void *ud, struct xu_mam_page *page, struct xu_error *err)
{
    char *queryid = xu_session_new_id(s), own[512], count[32];
    struct active a;
    xmpp_stanza_t *iq, *reply = NULL, *fin, *set;
    const char *type, *complete;
    int rc;

    memset(page, 0, sizeof *page);
    page->count = -1;
    if (!queryid)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    snprintf(own, sizeof own, "%s", s->bound_jid ? s->bound_jid : "");
    if (strchr(own, '/'))
        *strchr(own, '/') = '\0';
    memset(&a, 0, sizeof a);
    a.queryid = queryid;
    a.archive = q->archive;
    a.own_bare = own;
    a.archive_jid = q->archive ? q->archive : own;
    a.fn = fn;
    a.ud = ud;
    a.page = page;
    iq = build_query(s, q, queryid);
    if (!iq) {
        free(queryid);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    xmpp_handler_add(s->conn, on_result, NULL, "message", NULL, &a);
    rc = xu_iq_ask(s, iq, until, "the archive query", &reply, err);
    if (s->conn)
        xmpp_handler_delete(s->conn, on_result);
    xmpp_stanza_release(iq);
    free(queryid);
    if (rc)
        return rc;
    type = xmpp_stanza_get_type(reply);
    if (type && strcmp(type, "error") == 0) {
        error_condition(reply, page->condition, sizeof page->condition);
        xmpp_stanza_release(reply);
        return xu_error_set(err, XU_EX_UNAVAILABLE, "the archive of %s answered %s", a.archive_jid,
                            page->condition);
    }
    fin = child_ns(reply, "fin", XU_NS_MAM);
    if (!fin) {
        xmpp_stanza_release(reply);
        return xu_error_set(err, XU_EX_PROTOCOL, "the archive of %s answered without <fin/>",
                            a.archive_jid);
    }
    complete = xmpp_stanza_get_attribute(fin, "complete");
    page->complete = complete && (strcmp(complete, "true") == 0 || strcmp(complete, "1") == 0);
    set = child_ns(fin, "set", XU_NS_RSM);
    child_text(set, "last", page->last, sizeof page->last);
    child_text(set, "count", count, sizeof count);
    if (count[0])
        page->count = strtol(count, NULL, 10);
    xmpp_stanza_release(reply);
    return 0;
}

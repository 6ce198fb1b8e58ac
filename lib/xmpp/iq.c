#include "xmpp/iq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/jid.h"
#include "base/msg.h"
#include "xml/stanza_out.h"

/* Same JID: node and domain without regard to case, resource exactly. */
static int jid_equal(const char *a, const char *b)
{
    const char *ra = strchr(a, '/'), *rb = strchr(b, '/');

    if (!xu_jid_bare_equal(a, b) || !ra != !rb)
        return 0;
    return !ra || strcmp(ra, rb) == 0;
}

int xu_iq_from_matches(const char *req_to, const char *reply_from, const char *own_jid)
{
    char domain[1024];

    if (req_to && *req_to)
        return reply_from && jid_equal(reply_from, req_to);
    if (!reply_from || !*reply_from)
        return 1;
    if (!own_jid)
        return 0;
    if (xu_jid_bare_equal(reply_from, own_jid) &&
        (!strchr(reply_from, '/') || jid_equal(reply_from, own_jid)))
        return 1;
    return xu_jid_domain(own_jid, domain, sizeof domain) && strcasecmp(reply_from, domain) == 0;
}

struct pending_req {
    char *id;
    char *to;
    int internal;
};

struct xu_iq_pending {
    struct pending_req *v;
    size_t n, cap;
};

struct xu_iq_pending *xu_iq_pending_new(void)
{
    return calloc(1, sizeof(struct xu_iq_pending));
}

void xu_iq_pending_free(struct xu_iq_pending *p)
{
    size_t i;

    if (!p)
        return;
    for (i = 0; i < p->n; i++) {
        free(p->v[i].id);
        free(p->v[i].to);
    }
    free(p->v);
    free(p);
}

int xu_iq_pending_add(struct xu_iq_pending *p, const char *id, const char *to, int internal)
{
    struct pending_req *nv, r;

    if (p->n == p->cap) {
        nv = realloc(p->v, (p->cap ? p->cap * 2 : 16) * sizeof *nv);
        if (!nv)
            return -1;
        p->v = nv;
        p->cap = p->cap ? p->cap * 2 : 16;
    }
    r.id = strdup(id);
    r.to = to && *to ? strdup(to) : NULL;
    r.internal = internal;
    if (!r.id || (to && *to && !r.to)) {
        free(r.id);
        free(r.to);
        return -1;
    }
    p->v[p->n++] = r;
    return 0;
}

int xu_iq_pending_answer(struct xu_iq_pending *p, xmpp_stanza_t *stanza, const char *own_jid,
                         int *internal)
{
    const char *name = xmpp_stanza_get_name(stanza), *type = xmpp_stanza_get_type(stanza);
    const char *id = xmpp_stanza_get_id(stanza);
    size_t i;

    if (!name || strcmp(name, "iq") != 0 || !type || !id ||
        (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
        return 0;
    for (i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].id, id) != 0 ||
            !xu_iq_from_matches(p->v[i].to, xmpp_stanza_get_from(stanza), own_jid))
            continue;
        if (internal)
            *internal = p->v[i].internal;
        free(p->v[i].id);
        free(p->v[i].to);
        /* keep the order: the oldest are named first in messages */
        memmove(p->v + i, p->v + i + 1, (p->n - i - 1) * sizeof *p->v);
        p->n--;
        return 1;
    }
    return 0;
}

size_t xu_iq_pending_count(const struct xu_iq_pending *p)
{
    return p->n;
}

void xu_iq_pending_describe(const struct xu_iq_pending *p, char *buf, size_t len)
{
    char raw[1024];
    size_t i, used = 0;
    int n;

    raw[0] = '\0';
    for (i = 0; i < p->n && i < 5 && used < sizeof raw; i++) {
        n = snprintf(raw + used, sizeof raw - used, "%sid '%s'%s%s", i ? ", " : "", p->v[i].id,
                     p->v[i].to ? " to " : "", p->v[i].to ? p->v[i].to : "");
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (p->n > 5 && used < sizeof raw)
        snprintf(raw + used, sizeof raw - used, " and %zu more", p->n - 5);
    xu_sanitize_terminal(buf, len, raw);
}

/* ---- one request ---- */

xmpp_stanza_t *xu_iq_new_child(struct xu_session *s, const char *type, const char *name,
                               const char *ns, xmpp_stanza_t **child)
{
    char *id = xu_session_new_id(s);
    xmpp_stanza_t *iq = id ? xmpp_iq_new(s->ctx, type, id) : NULL, *el;

    free(id);
    el = iq ? xu_stanza_add_el(iq, name, ns) : NULL;
    if (!el) {
        if (iq)
            xmpp_stanza_release(iq);
        return NULL;
    }
    if (child)
        *child = el;
    return iq;
}

struct request {
    const char *to;
    const char *own_jid;
    xmpp_stanza_t *reply;
};

static int on_reply(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *ud)
{
    struct request *r = ud;
    const char *type = xmpp_stanza_get_type(stanza), *name = xmpp_stanza_get_name(stanza);

    (void)conn;
    if (!name || strcmp(name, "iq") != 0 || !type ||
        (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
        return 1;
    if (!xu_iq_from_matches(r->to, xmpp_stanza_get_from(stanza), r->own_jid)) {
        xu_info("ignoring an answer with our id from %s",
                xmpp_stanza_get_from(stanza) ? xmpp_stanza_get_from(stanza) : "(no from)");
        return 1;
    }
    r->reply = xmpp_stanza_clone(stanza);
    return 0;
}

int xu_iq_ask(struct xu_session *s, xmpp_stanza_t *iq, double until, const char *what,
              xmpp_stanza_t **reply, struct xu_error *err)
{
    struct request r = {xmpp_stanza_get_to(iq), s->bound_jid, NULL};
    const char *id = xmpp_stanza_get_id(iq);
    char shown[300], to[300];
    double now;
    int rc = 0;

    *reply = NULL;
    if (!id)
        return xu_error_set(err, XU_EX_SOFTWARE, "iq request without an id");
    xmpp_id_handler_add(s->conn, on_reply, id, &r);
    xu_session_send(s, iq);
    while (!r.reply) {
        now = xu_now();
        if (now >= until) {
            xu_sanitize_terminal(to, sizeof to, r.to ? r.to : "the server");
            xu_sanitize_terminal(shown, sizeof shown, id);
            if (what)
                rc = xu_error_set(err, XU_EX_TEMPFAIL, "no answer from %s to %s", to, what);
            else
                rc = xu_error_set(err, XU_EX_TEMPFAIL, "no answer from %s to iq '%s'", to, shown);
            break;
        }
        /* the step returns as soon as a turn read something, and does not
         * sleep over what OpenSSL holds (xu_session_step): the answer is
         * seen when it arrives, however large */
        rc = xu_session_step(s, until - now < 1.0 ? until - now : 1.0, -1, NULL);
        if (rc) {
            rc = xu_error_set(err, rc, "%s", s->err.msg);
            break;
        }
    }
    if (!r.reply && s->conn)
        xmpp_id_handler_delete(s->conn, on_reply, id);
    *reply = r.reply;
    return rc;
}

int xu_iq_request(struct xu_session *s, xmpp_stanza_t *iq, double until, xmpp_stanza_t **reply,
                  struct xu_error *err)
{
    return xu_iq_ask(s, iq, until, NULL, reply, err);
}

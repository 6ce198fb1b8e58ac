#include "xmpp/sm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/trace.h"

#define NS_SM "urn:xmpp:sm:3"

static int wanted;
static void (*ack_fn)(struct xu_session *s, unsigned long h, void *ud);
static void *ack_ud;
static struct xu_sm_resume next_resume, cur_resume;

/* what the negotiation waits for */
static void (*after_enable)(struct xu_session *s);
static void (*on_resumed)(struct xu_session *s);
static void (*on_refused)(struct xu_session *s);

void xu_session_want_sm(int on, void (*fn)(struct xu_session *s, unsigned long h, void *ud),
                        void *ud)
{
    wanted = on;
    ack_fn = fn;
    ack_ud = ud;
}

int xu_sm_wanted(void)
{
    return wanted;
}

void xu_session_resume_next(const struct xu_sm_resume *r)
{
    next_resume = *r;
}

void xu_sm_take_resume(struct xu_session *s)
{
    (void)s;
    after_enable = NULL;
    on_resumed = on_refused = NULL;
    cur_resume = next_resume;
    memset(&next_resume, 0, sizeof next_resume);
}

const struct xu_sm_resume *xu_sm_resume_state(void)
{
    return cur_resume.valid ? &cur_resume : NULL;
}

void xu_session_sm_save(const struct xu_session *s, struct xu_sm_resume *r)
{
    memset(r, 0, sizeof *r);
    if (!s->sm_enabled || !s->sm_resumable || !s->sm_id[0] || !s->bound_jid)
        return;
    r->valid = 1;
    snprintf(r->id, sizeof r->id, "%s", s->sm_id);
    snprintf(r->jid, sizeof r->jid, "%s", s->bound_jid);
    r->in = s->sm_in;
    r->out = s->sm_out;
}

static int is_stanza(const char *name)
{
    return name && (strcmp(name, "message") == 0 || strcmp(name, "presence") == 0 ||
                    strcmp(name, "iq") == 0);
}

void xu_sm_count_queued(struct xu_session *s, xmpp_stanza_t *st)
{
    if (s->sm_enabled && is_stanza(xmpp_stanza_get_name(st)))
        s->sm_out = (s->sm_out + 1) & 0xffffffffUL;
}

/* every stanza received after <enabled/> counts */
static int on_any(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct xu_session *s = ud;
    const char *ns = xmpp_stanza_get_ns(st);

    (void)conn;
    if (s->sm_enabled && is_stanza(xmpp_stanza_get_name(st)) && (!ns || strcmp(ns, NS_SM) != 0))
        s->sm_in = (s->sm_in + 1) & 0xffffffffUL;
    return 1;
}

static void acked(struct xu_session *s, const char *h)
{
    char *end;
    unsigned long v;

    if (!h)
        return;
    v = strtoul(h, &end, 10);
    if (*end || end == h)
        return;
    s->sm_acked = v;
    if (ack_fn)
        ack_fn(s, v, ack_ud);
}

static void start_counting(struct xu_session *s)
{
    s->sm_enabled = 1;
    xmpp_handler_add(s->conn, on_any, NULL, NULL, NULL, s);
}

/* The server keeps every stanza it sent us until we count it; one still
 * uncounted when the stream closes counts as undelivered, although we
 * handled it: ejabberd bounces it to its sender (service-unavailable),
 * Prosody stores it for the account's other clients. A receipt that arrived
 * just before the end would come back to the recipient who sent it: say how
 * many we got before closing, asked or not. */
void xu_sm_ack_before_close(struct xu_session *s)
{
    if (s->sm_enabled)
        xmpp_send_raw_string(s->conn, "<a xmlns='%s' h='%lu'/>", NS_SM, s->sm_in);
}

static int on_sm(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct xu_session *s = ud;
    const char *name = xmpp_stanza_get_name(st), *ns = xmpp_stanza_get_ns(st), *v;
    void (*fn)(struct xu_session *);

    (void)conn;
    if (!name || !ns || strcmp(ns, NS_SM) != 0)
        return 1;
    if (strcmp(name, "r") == 0 && s->sm_enabled && s->phase != XU_PHASE_CLOSING) {
        /* (once closing, nothing may follow our </stream:stream>) */
        xmpp_send_raw_string(s->conn, "<a xmlns='%s' h='%lu'/>", NS_SM, s->sm_in);
    } else if (strcmp(name, "a") == 0 && s->sm_enabled) {
        acked(s, xmpp_stanza_get_attribute(st, "h"));
    } else if (strcmp(name, "enabled") == 0 && after_enable) {
        v = xmpp_stanza_get_attribute(st, "resume");
        s->sm_resumable = v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
        v = xmpp_stanza_get_attribute(st, "id");
        snprintf(s->sm_id, sizeof s->sm_id, "%s", v ? v : "");
        if (!v)
            s->sm_resumable = 0;
        start_counting(s);
        xu_trace_info(s->trace, "stream management enabled%s", s->sm_resumable ? ", resumable" : "");
        fn = after_enable;
        after_enable = NULL;
        fn(s);
    } else if (strcmp(name, "resumed") == 0 && on_resumed) {
        const struct xu_sm_resume *r = xu_sm_resume_state();

        s->sm_resumed = 1;
        s->sm_resumable = 1;
        snprintf(s->sm_id, sizeof s->sm_id, "%s", r ? r->id : "");
        s->sm_in = r ? r->in : 0;
        /* XEP-0198 4: our count goes on from what the server had */
        v = xmpp_stanza_get_attribute(st, "h");
        s->sm_out = v ? strtoul(v, NULL, 10) & 0xffffffffUL : 0;
        start_counting(s);
        xu_trace_info(s->trace, "stream resumed: the server had %lu of our stanzas", s->sm_out);
        acked(s, v);
        fn = on_resumed;
        on_resumed = on_refused = NULL;
        fn(s);
    } else if (strcmp(name, "failed") == 0) {
        if (on_refused) {
            s->sm_resume_refused = 1;
            xu_trace_info(s->trace, "resumption refused: binding afresh");
            fn = on_refused;
            on_resumed = on_refused = NULL;
            fn(s);
        } else if (after_enable) {
            xu_trace_info(s->trace, "the server refused stream management");
            fn = after_enable;
            after_enable = NULL;
            fn(s);
        }
    }
    return 1;
}

static void add_handler(struct xu_session *s)
{
    xmpp_handler_add(s->conn, on_sm, NS_SM, NULL, NULL, s);
}

void xu_sm_after_bind(struct xu_session *s, int offered, void (*done)(struct xu_session *s))
{
    if (!wanted || !offered || s->is_component) {
        done(s);
        return;
    }
    if (!s->sm_resume_refused)
        add_handler(s); /* else added for the resumption already */
    after_enable = done;
    xmpp_send_raw_string(s->conn, "<enable xmlns='%s' resume='true'/>", NS_SM);
}

int xu_sm_try_resume(struct xu_session *s, int offered, void (*resumed)(struct xu_session *s),
                     void (*refused)(struct xu_session *s))
{
    const struct xu_sm_resume *r = xu_sm_resume_state();

    xmpp_stanza_t *el;
    char h[24];

    if (!wanted || !offered || !r)
        return 0;
    free(s->bound_jid);
    s->bound_jid = strdup(r->jid);
    el = xmpp_stanza_new(s->ctx);
    if (!el)
        return 0;
    add_handler(s);
    on_resumed = resumed;
    on_refused = refused;
    snprintf(h, sizeof h, "%lu", r->in);
    /* a stanza, so that the server's id is escaped as XML needs */
    xmpp_stanza_set_name(el, "resume");
    xmpp_stanza_set_ns(el, NS_SM);
    xmpp_stanza_set_attribute(el, "previd", r->id);
    xmpp_stanza_set_attribute(el, "h", h);
    xmpp_send(s->conn, el);
    xmpp_stanza_release(el);
    return 1;
}

int xu_session_sm_request(struct xu_session *s)
{
    if (!s->sm_enabled)
        return -1;
    xmpp_send_raw_string(s->conn, "<r xmlns='%s'/>", NS_SM);
    return 0;
}

/* The XEP-0363 side of an upload, over the XMPP session: finding the
 * upload service and its size limit (disco#items, disco#info), asking it
 * for a slot, and what its refusals mean as exit codes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/jid.h"
#include "base/msg.h"
#include "send/upload_int.h"
#include "xmpp/iq.h"
#include "xmpp/message.h"

#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DATA "jabber:x:data"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define IQ_WAIT 60.0          /* with --timeout 0: an iq answer that does not come */
#define MAX_URL 4096
#define MAX_ITEMS 32          /* disco#items looked at, at most */

static double iq_until(double until)
{
    return until > 0 ? until : xu_now() + IQ_WAIT;
}

/* An iq get to `to` with an empty <child xmlns=ns/>, with a fresh id. */
static xmpp_stanza_t *new_iq(struct xu_session *s, const char *to, const char *child,
                             const char *ns)
{
    xmpp_stanza_t *iq = xu_iq_new_child(s, "get", child, ns, NULL);

    if (iq)
        xmpp_stanza_set_to(iq, to);
    return iq;
}

static int is_tag(xmpp_stanza_t *c, const char *name)
{
    return xmpp_stanza_is_tag(c) && xmpp_stanza_get_name(c) &&
           strcmp(xmpp_stanza_get_name(c), name) == 0;
}

static int is_result(xmpp_stanza_t *reply)
{
    const char *t = xmpp_stanza_get_type(reply);

    return t && strcmp(t, "result") == 0;
}

/* A field's first <value/> text (caller frees with free()), or NULL. */
static char *field_value(xmpp_stanza_t *field)
{
    xmpp_stanza_t *v = xmpp_stanza_get_child_by_name(field, "value");
    char *t = v ? xmpp_stanza_get_text(v) : NULL, *copy;

    if (!t)
        return NULL;
    copy = strdup(t);
    xmpp_free(xmpp_stanza_get_context(field), t);
    return copy;
}

/* disco#info answer: 1 if it has the upload feature; *max from its form. */
static int info_has_upload(xmpp_stanza_t *reply, unsigned long long *max)
{
    xmpp_stanza_t *q = xmpp_stanza_get_child_by_name_and_ns(reply, "query", NS_DISCO_INFO), *c, *f;
    const char *var;
    char *v, *ftype, *end;
    int found = 0, ours;

    *max = 0;
    for (c = q ? xmpp_stanza_get_children(q) : NULL; c; c = xmpp_stanza_get_next(c)) {
        if (is_tag(c, "feature") && (var = xmpp_stanza_get_attribute(c, "var")) &&
            strcmp(var, XU_NS_HTTP_UPLOAD) == 0)
            found = 1;
        if (!is_tag(c, "x") || !xmpp_stanza_get_ns(c) || strcmp(xmpp_stanza_get_ns(c), NS_DATA))
            continue;
        ours = 0;
        v = NULL;
        for (f = xmpp_stanza_get_children(c); f; f = xmpp_stanza_get_next(f)) {
            if (!is_tag(f, "field") || !(var = xmpp_stanza_get_attribute(f, "var")))
                continue;
            if (strcmp(var, "FORM_TYPE") == 0) {
                ftype = field_value(f);
                ours = ftype && strcmp(ftype, XU_NS_HTTP_UPLOAD) == 0;
                free(ftype);
            } else if (strcmp(var, "max-file-size") == 0 && !v) {
                v = field_value(f);
            }
        }
        if (ours && v) {
            errno = 0;
            *max = strtoull(v, &end, 10);
            if (errno || *end || end == v)
                *max = 0;
        }
        free(v);
    }
    return found;
}

/* Ask jid for its disco#info: 1 if it is an upload service. */
static int probe_info(struct xu_session *s, const char *jid, double until,
                      unsigned long long *max, struct xu_error *err)
{
    xmpp_stanza_t *iq = new_iq(s, jid, "query", NS_DISCO_INFO), *reply = NULL;
    int rc, found = 0;

    if (!iq)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = xu_iq_ask(s, iq, iq_until(until), "our request", &reply, err);
    xmpp_stanza_release(iq);
    if (rc)
        return -rc;
    if (is_result(reply))
        found = info_has_upload(reply, max);
    xmpp_stanza_release(reply);
    return found;
}

int xu_upload_discover(struct xu_session *s, double until, struct xu_upload_service *svc,
                       struct xu_error *err)
{
    char domain[1024], *items[MAX_ITEMS];
    xmpp_stanza_t *iq, *reply = NULL, *q, *c;
    const char *jid;
    int n = 0, i, rc = 0, r;
    unsigned long long max = 0;

    svc->jid = NULL;
    svc->max_size = 0;
    if (!s->bound_jid || !xu_jid_domain(s->bound_jid, domain, sizeof domain))
        return xu_error_set(err, XU_EX_SOFTWARE, "no bound JID to find the upload service from");
    iq = new_iq(s, domain, "query", NS_DISCO_ITEMS);
    if (!iq)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = xu_iq_ask(s, iq, iq_until(until), "our request", &reply, err);
    xmpp_stanza_release(iq);
    if (rc)
        return rc;
    q = is_result(reply) ? xmpp_stanza_get_child_by_name_and_ns(reply, "query", NS_DISCO_ITEMS)
                         : NULL;
    for (c = q ? xmpp_stanza_get_children(q) : NULL; c && n < MAX_ITEMS; c = xmpp_stanza_get_next(c))
        if (is_tag(c, "item") && (jid = xmpp_stanza_get_attribute(c, "jid")) &&
            !xmpp_stanza_get_attribute(c, "node") && (items[n] = strdup(jid)) != NULL)
            n++;
    xmpp_stanza_release(reply);
    /* the items first (Prosody: upload.DOMAIN), then the server itself */
    for (i = 0; i <= n && !svc->jid && rc == 0; i++) {
        r = probe_info(s, i < n ? items[i] : domain, until, &max, err);
        if (r < 0)
            rc = -r;
        else if (r > 0 && !(svc->jid = strdup(i < n ? items[i] : domain)))
            rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
        else if (r > 0)
            svc->max_size = max;
    }
    for (i = 0; i < n; i++)
        free(items[i]);
    if (rc == 0 && !svc->jid)
        rc = xu_error_set(err, XU_EX_UNAVAILABLE,
                          "%s offers no HTTP upload service (XEP-0363, %s): cannot share files there",
                          domain, XU_NS_HTTP_UPLOAD);
    return rc;
}

void xu_upload_service_free(struct xu_upload_service *svc)
{
    free(svc->jid);
    svc->jid = NULL;
}

/* ---- the slot ---- */

void xu_upload_slot_free(struct xu_upload_slot *sl)
{
    int i;

    free(sl->put);
    free(sl->get);
    for (i = 0; i < sl->nheaders; i++)
        free(sl->headers[i]);
    memset(sl, 0, sizeof *sl);
}

void xu_upload_human(unsigned long long n, char *buf, size_t len)
{
    if (n < 10000)
        snprintf(buf, len, "%llu bytes", n);
    else if (n < 10000ull * 1024)
        snprintf(buf, len, "%llu bytes (%.1f KiB)", n, (double)n / 1024);
    else if (n < 10000ull * 1024 * 1024)
        snprintf(buf, len, "%llu bytes (%.1f MiB)", n, (double)n / 1048576);
    else
        snprintf(buf, len, "%llu bytes (%.1f GiB)", n, (double)n / 1073741824);
}

/* An URL the service gave: https (http only when the XMPP stream is plain
 * too, --tls off), printable, no spaces. */
static int url_ok(const char *u, const struct xu_opts *o)
{
    size_t i, n = strlen(u);

    if (n < 9 || n > MAX_URL)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
            return 0;
    if (strncasecmp(u, "https://", 8) == 0)
        return 1;
    return o->tls == XU_TLS_OFF && strncasecmp(u, "http://", 7) == 0;
}

static int header_value_ok(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return 0;
    return 1;
}

static int parse_slot(xmpp_stanza_t *reply, const struct xu_opts *o, struct xu_upload_slot *sl,
                      struct xu_error *err)
{
    xmpp_stanza_t *slot = xmpp_stanza_get_child_by_name_and_ns(reply, "slot", XU_NS_HTTP_UPLOAD);
    xmpp_stanza_t *put = slot ? xmpp_stanza_get_child_by_name(slot, "put") : NULL;
    xmpp_stanza_t *get = slot ? xmpp_stanza_get_child_by_name(slot, "get") : NULL, *h;
    const char *pu = put ? xmpp_stanza_get_attribute(put, "url") : NULL;
    const char *gu = get ? xmpp_stanza_get_attribute(get, "url") : NULL, *name;
    char shown[200], *v;
    size_t len;

    if (!pu || !gu)
        return xu_error_set(err, XU_EX_PROTOCOL, "the upload service's answer has no PUT and GET URL");
    if (!url_ok(pu, o) || !url_ok(gu, o)) {
        xu_sanitize_terminal(shown, sizeof shown, url_ok(pu, o) ? gu : pu);
        return xu_error_set(err, XU_EX_PROTOCOL,
                            "the upload service gave an unusable URL '%s' (only https:// is "
                            "accepted%s)", shown, o->tls == XU_TLS_OFF ? ", or http:// with --tls off" : "");
    }
    sl->put = strdup(pu);
    sl->get = strdup(gu);
    if (!sl->put || !sl->get)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (h = xmpp_stanza_get_children(put); h; h = xmpp_stanza_get_next(h)) {
        if (!is_tag(h, "header") || !(name = xmpp_stanza_get_attribute(h, "name")))
            continue;
        /* XEP-0363 §7: only these; anything else is dropped */
        if (strcasecmp(name, "Authorization") && strcasecmp(name, "Cookie") &&
            strcasecmp(name, "Expires"))
            continue;
        if (sl->nheaders == 3)
            break;
        v = xmpp_stanza_get_text(h);
        if (v && !header_value_ok(v)) {
            xmpp_free(xmpp_stanza_get_context(h), v);
            return xu_error_set(err, XU_EX_PROTOCOL,
                                "the upload service's %s header has control characters", name);
        }
        len = strlen(name) + 3 + (v ? strlen(v) : 0);
        sl->headers[sl->nheaders] = malloc(len);
        if (sl->headers[sl->nheaders])
            snprintf(sl->headers[sl->nheaders++], len, "%s: %s", name, v ? v : "");
        if (v)
            xmpp_free(xmpp_stanza_get_context(h), v);
    }
    return 0;
}

/* A slot request's error answer, with the exit code documented in
 * xmpp-send(1): too large / not acceptable 65, quota or rate 75, not
 * allowed 77, anything else 69. */
static int slot_error(xmpp_stanza_t *reply, const struct xu_upload_src *src,
                      const struct xu_upload_service *svc, struct xu_error *err)
{
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(reply, "error"), *c, *m;
    const char *cond = "undefined-condition", *ns, *stamp = NULL;
    char why[400], name[300], limit[80] = "", *t, size[64];
    unsigned long long max = 0;
    int code = XU_EX_UNAVAILABLE, too_large = 0;

    xu_stanza_error_text(reply, why, sizeof why);
    xu_sanitize_terminal(name, sizeof name, src->label);
    for (c = e ? xmpp_stanza_get_children(e) : NULL; c; c = xmpp_stanza_get_next(c)) {
        ns = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_ns(c) : NULL;
        if (ns && strcmp(ns, NS_STANZAS) == 0 && strcmp(xmpp_stanza_get_name(c), "text"))
            cond = xmpp_stanza_get_name(c);
        if (ns && strcmp(ns, XU_NS_HTTP_UPLOAD) == 0 && is_tag(c, "file-too-large")) {
            too_large = 1;
            m = xmpp_stanza_get_child_by_name(c, "max-file-size");
            t = m ? xmpp_stanza_get_text(m) : NULL;
            if (t) {
                max = strtoull(t, NULL, 10);
                xmpp_free(xmpp_stanza_get_context(c), t);
            }
        }
        if (ns && strcmp(ns, XU_NS_HTTP_UPLOAD) == 0 && is_tag(c, "retry"))
            stamp = xmpp_stanza_get_attribute(c, "stamp");
    }
    xu_upload_human(src->size, size, sizeof size);
    if (too_large || strcmp(cond, "not-acceptable") == 0 || strcmp(cond, "bad-request") == 0) {
        code = XU_EX_DATAERR;
        if (too_large && (max || svc->max_size))
            xu_upload_human(max ? max : svc->max_size, limit, sizeof limit);
    } else if (strcmp(cond, "resource-constraint") == 0) {
        code = XU_EX_TEMPFAIL;
    } else if (strcmp(cond, "forbidden") == 0 || strcmp(cond, "not-allowed") == 0 ||
               strcmp(cond, "not-authorized") == 0) {
        code = XU_EX_NOPERM;
    }
    if (limit[0])
        return xu_error_set(err, code, "%s refused %s: %s is larger than its limit of %s: %s",
                            svc->jid, name, size, limit, why);
    if (stamp) {
        char st[64];
        xu_sanitize_terminal(st, sizeof st, stamp);
        return xu_error_set(err, code, "%s refused %s (%s): %s; try again after %s", svc->jid,
                            name, size, why, st);
    }
    return xu_error_set(err, code, "%s refused %s (%s): %s", svc->jid, name, size, why);
}

int xu_upload_request_slot(struct xu_session *s, const struct xu_upload_service *svc,
                           const struct xu_upload_src *src, double until,
                           struct xu_upload_slot *sl, struct xu_error *err)
{
    xmpp_stanza_t *iq = new_iq(s, svc->jid, "request", XU_NS_HTTP_UPLOAD), *reply = NULL, *req;
    char size[32];
    int rc;

    if (!iq)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    req = xmpp_stanza_get_child_by_name(iq, "request");
    snprintf(size, sizeof size, "%llu", src->size);
    xmpp_stanza_set_attribute(req, "filename", src->name);
    xmpp_stanza_set_attribute(req, "size", size);
    if (src->type)
        xmpp_stanza_set_attribute(req, "content-type", src->type);
    rc = xu_iq_ask(s, iq, iq_until(until), "our request", &reply, err);
    xmpp_stanza_release(iq);
    if (rc)
        return rc;
    if (is_result(reply))
        rc = parse_slot(reply, s->opts, sl, err);
    else
        rc = slot_error(reply, src, svc, err);
    xmpp_stanza_release(reply);
    return rc;
}

#include "xml/format.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xml/filter.h"
#include "xml/stanza_out.h"

#define NS_DELAY "urn:xmpp:delay"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

int xu_format_parse(const char *name, enum xu_format *out)
{
    static const struct {
        const char *name;
        enum xu_format f;
    } t[] = {
        {"xml", XU_FORMAT_XML},
        {"json", XU_FORMAT_JSON},
        {"text", XU_FORMAT_TEXT},
        {"body", XU_FORMAT_BODY},
    };
    size_t i;

    for (i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].name) == 0) {
            *out = t[i].f;
            return 0;
        }
    return -1;
}

void xu_iso8601_local(double t, char *buf, size_t len)
{
    time_t secs = (time_t)floor(t);
    int ms = (int)((t - floor(t)) * 1000);
    struct tm tm;
    char date[32], zone[8];

    if (ms > 999)
        ms = 999;
    localtime_r(&secs, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof zone, "%z", &tm); /* +0100 → +01:00 */
    snprintf(buf, len, "%s.%03d%.3s:%.2s", date, ms, zone, zone[0] ? zone + 3 : "00");
}

/* ---- reading the stanza ---- */

static xmpp_stanza_t *child(xmpp_stanza_t *st, const char *name, const char *ns)
{
    const char *own = xmpp_stanza_get_ns(st), *cns;
    xmpp_stanza_t *c;

    for (c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c), name) != 0)
            continue;
        cns = xmpp_stanza_get_ns(c);
        /* ns NULL: a child in the stanza's own namespace (jabber:client, or
         * jabber:component:accept on a component stream) */
        if (ns ? cns && strcmp(cns, ns) == 0
               : !cns || strcmp(cns, XMPP_NS_CLIENT) == 0 || (own && strcmp(cns, own) == 0))
            return c;
    }
    return NULL;
}

/* Text of a jabber:client child element (caller frees with free()), or NULL. */
static char *child_text(xmpp_stanza_t *st, const char *name)
{
    xmpp_stanza_t *c = child(st, name, NULL);
    char *t, *copy;

    if (!c)
        return NULL;
    t = xmpp_stanza_get_text(c);
    copy = strdup(t ? t : "");
    if (t)
        xmpp_free(xmpp_stanza_get_context(st), t);
    return copy;
}

const char *xu_stanza_delay(xmpp_stanza_t *st)
{
    xmpp_stanza_t *d = child(st, "delay", NS_DELAY);

    return d ? xmpp_stanza_get_attribute(d, "stamp") : NULL;
}

/* The defined condition of a stanza error (not copied), or NULL. */
static const char *error_condition(xmpp_stanza_t *st)
{
    xmpp_stanza_t *e = child(st, "error", NULL), *c;
    const char *ns;

    for (c = e ? xmpp_stanza_get_children(e) : NULL; c; c = xmpp_stanza_get_next(c)) {
        ns = xmpp_stanza_get_ns(c);
        if (xmpp_stanza_is_tag(c) && ns && strcmp(ns, NS_STANZAS) == 0 &&
            strcmp(xmpp_stanza_get_name(c), "text") != 0)
            return xmpp_stanza_get_name(c);
    }
    return "undefined-condition";
}

static int is_kind(xmpp_stanza_t *st, const char *kind)
{
    const char *k = xu_stanza_kind(st);

    return k && strcmp(k, kind) == 0;
}

/* ---- json ---- */

static json_t *str_or_null(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;

    return j ? j : json_null();
}

/* The URL of an XEP-0066 out-of-band element (a shared file), caller frees. */
static char *oob_url(xmpp_stanza_t *st)
{
    xmpp_stanza_t *x = child(st, "x", "jabber:x:oob");

    return x ? child_text(x, "url") : NULL;
}

struct origin {
    const char *archive, *id;
    int archived;
};

static char *json_line(xmpp_stanza_t *st, double received, const struct origin *og)
{
    int msg = is_kind(st, "message"), pres = is_kind(st, "presence");
    char *body = msg ? child_text(st, "body") : NULL;
    char *subject = msg ? child_text(st, "subject") : NULL;
    char *thread = msg ? child_text(st, "thread") : NULL;
    char *oob = msg ? oob_url(st) : NULL;
    char *show = pres ? child_text(st, "show") : NULL;
    char *status = pres ? child_text(st, "status") : NULL;
    const char *type = xu_stanza_type(st);
    char *xml = xu_stanza_xml_line(st), *out = NULL, when[40];
    json_t *o = json_object();

    xu_iso8601_local(received, when, sizeof when);
    if (o && xml) {
        json_object_set_new(o, "kind", str_or_null(xu_stanza_kind(st)));
        json_object_set_new(o, "type", str_or_null(type));
        json_object_set_new(o, "from", str_or_null(xmpp_stanza_get_from(st)));
        json_object_set_new(o, "to", str_or_null(xmpp_stanza_get_to(st)));
        json_object_set_new(o, "id", str_or_null(xmpp_stanza_get_id(st)));
        json_object_set_new(o, "body", str_or_null(body));
        json_object_set_new(o, "subject", str_or_null(subject));
        json_object_set_new(o, "thread", str_or_null(thread));
        json_object_set_new(o, "oob_url", str_or_null(oob));
        json_object_set_new(o, "delay", str_or_null(xu_stanza_delay(st)));
        json_object_set_new(o, "received", str_or_null(when));
        json_object_set_new(o, "show", str_or_null(show));
        json_object_set_new(o, "status", str_or_null(status));
        json_object_set_new(o, "error", str_or_null(type && strcmp(type, "error") == 0
                                                        ? error_condition(st)
                                                        : NULL));
        json_object_set_new(o, "xml", str_or_null(xml));
        if (og) {
            json_object_set_new(o, "archive", str_or_null(og->archive));
            json_object_set_new(o, "archive_id", str_or_null(og->id));
            json_object_set_new(o, "archived", json_boolean(og->archived));
        }
        /* compact: JSON escapes newlines inside strings, so one object is one line */
        out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(o);
    free(xml);
    free(oob);
    free(body);
    free(subject);
    free(thread);
    free(show);
    free(status);
    return out;
}

/* ---- body and text ---- */

/* A growing string. */
struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
    char *np;

    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        np = realloc(b->p, b->cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static char *done(struct buf *b)
{
    if (b->failed || !b->p) {
        free(b->p);
        return b->failed ? NULL : strdup("");
    }
    return b->p;
}

/* Reversible escaping for scripts: \ → \\, LF → \n, CR → \r. */
static void put_escaped(struct buf *b, const char *s)
{
    const char *p;

    for (p = s; *p; p++) {
        if (*p == '\\')
            put(b, "\\\\", 2);
        else if (*p == '\n')
            put(b, "\\n", 2);
        else if (*p == '\r')
            put(b, "\\r", 2);
        else
            put(b, p, 1);
    }
}

/* For a terminal: newlines shown as \n, every other C0/C1 control
 * character, DEL and the bidi overrides as '?', so nothing a sender writes
 * can move the cursor, change colours, retitle the window or reorder what
 * is shown. */
static void put_for_terminal(struct buf *b, const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            put(b, "\\n", 2);
        else if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            put(b, "?", 1);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            put(b, "?", 1); /* U+0080..U+009F, e.g. CSI as one character */
            p++;
        } else if (*p == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
                                  (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))) {
            put(b, "?", 1); /* bidi overrides and isolates: text that reads backwards */
            p += 2;
        } else
            put(b, (const char *)p, 1);
    }
}

static char *body_line(xmpp_stanza_t *st)
{
    struct buf b = {NULL, 0, 0, 0};
    char *body = is_kind(st, "message") ? child_text(st, "body") : NULL;

    if (!body)
        return NULL;
    put_escaped(&b, body);
    free(body);
    return done(&b);
}

/* The first child element's namespace and name, e.g. "urn:xmpp:ping ping". */
static void describe_payload(struct buf *b, xmpp_stanza_t *st)
{
    xmpp_stanza_t *c;
    const char *ns;

    for (c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c)) {
            ns = xmpp_stanza_get_ns(c);
            puts_(b, " ");
            put_for_terminal(b, ns ? ns : "");
            puts_(b, ns ? " " : "");
            put_for_terminal(b, xmpp_stanza_get_name(c));
            return;
        }
}

static char *text_line(xmpp_stanza_t *st, double received, int archived)
{
    struct buf b = {NULL, 0, 0, 0};
    const char *kind = xu_stanza_kind(st), *type = xu_stanza_type(st);
    const char *from = xmpp_stanza_get_from(st), *stamp = xu_stanza_delay(st);
    char when[40], *body = NULL, *subject = NULL, *show = NULL, *status = NULL;
    struct tm tm;
    time_t t;

    /* a delayed message (offline storage, room history) shows when it was sent */
    memset(&tm, 0, sizeof tm);
    if (stamp && strptime(stamp, "%Y-%m-%dT%H:%M:%S", &tm)) {
        t = timegm(&tm);
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    } else {
        xu_iso8601_local(received, when, sizeof when);
        when[19] = '\0'; /* seconds are enough for people */
    }
    puts_(&b, when);
    puts_(&b, " ");
    put_for_terminal(&b, from ? from : "(server)");
    puts_(&b, ":");
    if (archived)
        puts_(&b, " [archive]");
    if (kind && strcmp(kind, "message") == 0) {
        body = child_text(st, "body");
        subject = child_text(st, "subject");
        if (strcmp(type, "error") == 0) {
            puts_(&b, " [error] ");
            puts_(&b, error_condition(st));
        } else if (subject && !body) {
            puts_(&b, *subject ? " [subject] " : " [subject]");
            put_for_terminal(&b, subject);
        }
        if (body) {
            puts_(&b, " ");
            put_for_terminal(&b, body);
        } else if (!subject && strcmp(type, "error") != 0) {
            puts_(&b, " [no body]");
        }
    } else if (kind && strcmp(kind, "presence") == 0) {
        show = child_text(st, "show");
        status = child_text(st, "status");
        puts_(&b, " [presence] ");
        put_for_terminal(&b, strcmp(type, "available") == 0 && show ? show : type);
        if (strcmp(type, "error") == 0) {
            puts_(&b, " ");
            puts_(&b, error_condition(st));
        }
        if (status && *status) {
            puts_(&b, " (");
            put_for_terminal(&b, status);
            puts_(&b, ")");
        }
    } else {
        puts_(&b, " [");
        put_for_terminal(&b, kind ? kind : xmpp_stanza_get_name(st));
        if (type) {
            puts_(&b, " ");
            put_for_terminal(&b, type);
        }
        puts_(&b, "]");
        describe_payload(&b, st);
    }
    free(body);
    free(subject);
    free(show);
    free(status);
    return done(&b);
}

char *xu_format_line_from(xmpp_stanza_t *stanza, enum xu_format fmt, double received,
                          const char *archive, const char *archive_id, int archived)
{
    struct origin og = {archive, archive_id, archived};

    switch (fmt) {
    case XU_FORMAT_XML: return xu_stanza_xml_line(stanza);
    case XU_FORMAT_JSON: return json_line(stanza, received, &og);
    case XU_FORMAT_TEXT: return text_line(stanza, received, archived);
    case XU_FORMAT_BODY: return body_line(stanza);
    }
    return NULL;
}

char *xu_format_line(xmpp_stanza_t *stanza, enum xu_format fmt, double received)
{
    switch (fmt) {
    case XU_FORMAT_XML: return xu_stanza_xml_line(stanza);
    case XU_FORMAT_JSON: return json_line(stanza, received, NULL);
    case XU_FORMAT_TEXT: return text_line(stanza, received, 0);
    case XU_FORMAT_BODY: return body_line(stanza);
    }
    return NULL;
}

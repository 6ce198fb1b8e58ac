#include "xml/filter.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "base/jid.h"
#include "xml/stanza_out.h"

struct strlist {
    char **v;
    size_t n;
};

struct xpath {
    char *source;
    xmlXPathCompExprPtr comp;
    int qualified; /* uses the c: prefix: evaluated with jabber:client kept */
};

struct xu_filter {
    struct strlist kinds, types, froms;
    struct xpath *xp;
    size_t nxp;
};

static const struct {
    const char *prefix, *uri;
} prefixes[] = {
    {"c", "jabber:client"},
    {"delay", "urn:xmpp:delay"},
    {"muc", "http://jabber.org/protocol/muc#user"},
    {"stanzas", "urn:ietf:params:xml:ns:xmpp-stanzas"},
};

static const char *const kinds[] = {"message", "presence", "iq", NULL};
static const char *const types[] = {
    "chat", "normal", "headline", "groupchat", "error",                        /* message */
    "available", "unavailable", "subscribe", "subscribed", "unsubscribe",      /* presence */
    "unsubscribed", "probe", "get", "set", "result", NULL,                    /* iq */
};

struct xu_filter *xu_filter_new(void)
{
    return calloc(1, sizeof(struct xu_filter));
}

static void strlist_free(struct strlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

void xu_filter_free(struct xu_filter *f)
{
    size_t i;

    if (!f)
        return;
    strlist_free(&f->kinds);
    strlist_free(&f->types);
    strlist_free(&f->froms);
    for (i = 0; i < f->nxp; i++) {
        free(f->xp[i].source);
        xmlXPathFreeCompExpr(f->xp[i].comp);
    }
    free(f->xp);
    free(f);
}

static int strlist_add(struct strlist *l, const char *s, size_t len)
{
    char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);

    if (!nv)
        return -1;
    l->v = nv;
    l->v[l->n] = strndup(s, len);
    if (!l->v[l->n])
        return -1;
    l->n++;
    return 0;
}

static int one_of(const char *s, size_t len, const char *const *set)
{
    size_t i;

    for (i = 0; set[i]; i++)
        if (strlen(set[i]) == len && strncmp(set[i], s, len) == 0)
            return 1;
    return 0;
}

/* Split a comma-separated list, check each value against set. */
static int add_list(struct strlist *l, const char *list, const char *const *set, const char *what,
                    struct xu_error *err)
{
    const char *p = list, *e;
    size_t n;

    do {
        e = strchr(p, ',');
        n = e ? (size_t)(e - p) : strlen(p);
        if (!one_of(p, n, set)) {
            char allowed[300] = "";
            size_t i;

            for (i = 0; set[i]; i++)
                snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                         i ? ", " : "", set[i]);
            return xu_error_set(err, XU_EX_USAGE, "unknown %s '%.*s' (one of: %s)", what, (int)n,
                                p, allowed);
        }
        if (strlist_add(l, p, n) < 0)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        p = e ? e + 1 : NULL;
    } while (p);
    return 0;
}

int xu_filter_add_kind(struct xu_filter *f, const char *list, struct xu_error *err)
{
    return add_list(&f->kinds, list, kinds, "kind", err);
}

int xu_filter_add_type(struct xu_filter *f, const char *list, struct xu_error *err)
{
    return add_list(&f->types, list, types, "type", err);
}

int xu_filter_add_from(struct xu_filter *f, const char *jid, struct xu_error *err)
{
    char why[128], *prepped;
    int rc;

    /* folded as -j is, so that --from Bob@Example matches bob@example */
    if (xu_jid_from_arg(jid, 0, &prepped, NULL, why, sizeof why) < 0)
        return xu_error_set(err, XU_EX_USAGE, "invalid --from JID '%s': %s", jid, why);
    rc = strlist_add(&f->froms, prepped, strlen(prepped));
    free(prepped);
    if (rc < 0)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    return 0;
}

/* ---- XPath ---- */

static char xpath_msg[256];

/* libxml2 reports through a global handler: keep the first message of an
 * operation for our own error, and never let it print to stderr. */
static void capture_error(void *ud, const xmlError *e)
{
    size_t n;

    (void)ud;
    if (xpath_msg[0] || !e || !e->message)
        return;
    snprintf(xpath_msg, sizeof xpath_msg, "%s", e->message);
    n = strlen(xpath_msg);
    while (n > 0 && (xpath_msg[n - 1] == '\n' || xpath_msg[n - 1] == ' '))
        xpath_msg[--n] = '\0';
}

/* Some XPath errors only go through the generic handler (with a worse
 * message that the structured one also gets). */
static void drop_error(void *ud, const char *fmt, ...)
{
    (void)ud;
    (void)fmt;
}

static void quiet_begin(void)
{
    xpath_msg[0] = '\0';
    xmlSetStructuredErrorFunc(NULL, (xmlStructuredErrorFunc)capture_error);
    xmlSetGenericErrorFunc(NULL, drop_error);
}

static void quiet_end(void)
{
    xmlSetStructuredErrorFunc(NULL, NULL);
    xmlSetGenericErrorFunc(NULL, NULL);
}

/* Does the expression use the c: prefix (outside string literals)? */
static int uses_c_prefix(const char *e)
{
    const char *p;
    char q;

    for (p = e; *p; p++) {
        if (*p == '\'' || *p == '"') {
            q = *p;
            p = strchr(p + 1, q);
            if (!p)
                return 0;
            continue;
        }
        if (p[0] == 'c' && p[1] == ':' && p[2] != ':' &&
            (p == e || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-' ||
                         p[-1] == '.' || (unsigned char)p[-1] >= 0x80)))
            return 1;
    }
    return 0;
}

/* A component's stanzas are in jabber:component:accept: the same
 * expressions apply to them as to a client's. */
static void component_as_client(xmlNodePtr n)
{
    xmlNsPtr ns;

    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        for (ns = n->nsDef; ns; ns = ns->next)
            if (ns->href && xmlStrEqual(ns->href, BAD_CAST "jabber:component:accept")) {
                xmlFree((xmlChar *)ns->href);
                ns->href = xmlStrdup(BAD_CAST "jabber:client");
            }
        component_as_client(n->children);
    }
}

static void strip_client_ns(xmlNodePtr n)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (n->ns && n->ns->href && xmlStrEqual(n->ns->href, BAD_CAST "jabber:client"))
            xmlSetNs(n, NULL);
        strip_client_ns(n->children);
    }
}

/* Evaluate the expressions whose mode is `qualified` against doc: 1 all
 * true, 0 one false, -1 an evaluation error. */
static int eval_all(struct xu_filter *f, xmlDocPtr doc, int qualified)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr res;
    size_t i;
    int ok = 1;

    if (!ctx)
        return -1;
    for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        xmlXPathRegisterNs(ctx, BAD_CAST prefixes[i].prefix, BAD_CAST prefixes[i].uri);
    for (i = 0; ok == 1 && i < f->nxp; i++) {
        if (f->xp[i].qualified != qualified)
            continue;
        ctx->node = xmlDocGetRootElement(doc);
        res = xmlXPathCompiledEval(f->xp[i].comp, ctx);
        if (!res)
            ok = -1;
        else if (!xmlXPathCastToBoolean(res))
            ok = 0;
        xmlXPathFreeObject(res);
    }
    xmlXPathFreeContext(ctx);
    return ok;
}

/* 1 all expressions true, 0 not, -1 error (the stanza cannot be parsed, or
 * an expression fails to evaluate). */
static int eval_xml(struct xu_filter *f, const char *xml)
{
    xmlDocPtr doc;
    int rc;

    doc = xmlReadMemory(xml, (int)strlen(xml), NULL, "UTF-8",
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return -1;
    component_as_client(xmlDocGetRootElement(doc));
    rc = eval_all(f, doc, 1);
    if (rc == 1) {
        strip_client_ns(xmlDocGetRootElement(doc));
        rc = eval_all(f, doc, 0);
    }
    xmlFreeDoc(doc);
    return rc;
}

int xu_filter_add_xpath(struct xu_filter *f, const char *expr, struct xu_error *err)
{
    static const char sample[] =
        "<message xmlns='jabber:client' type='chat' from='a@example.org/r' "
        "to='b@example.org/r' id='x'><body>x</body></message>";
    struct xpath *nx;
    int rc;

    nx = realloc(f->xp, (f->nxp + 1) * sizeof *nx);
    if (!nx)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    f->xp = nx;
    quiet_begin();
    nx[f->nxp].comp = xmlXPathCompile(BAD_CAST expr);
    quiet_end();
    if (!nx[f->nxp].comp)
        return xu_error_set(err, XU_EX_USAGE, "invalid XPath expression '%s': %s", expr,
                            xpath_msg[0] ? xpath_msg : "syntax error");
    nx[f->nxp].source = strdup(expr);
    nx[f->nxp].qualified = uses_c_prefix(expr);
    f->nxp++;
    if (!nx[f->nxp - 1].source)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    /* unknown prefixes, functions and variables only show when evaluated */
    quiet_begin();
    rc = eval_xml(f, sample);
    quiet_end();
    if (rc < 0)
        return xu_error_set(err, XU_EX_USAGE,
                            "invalid XPath expression '%s': %s (bound prefixes: %s)", expr,
                            xpath_msg[0] ? xpath_msg : "cannot be evaluated", XU_XPATH_PREFIXES);
    return 0;
}

/* ---- matching ---- */

const char *xu_stanza_kind(xmpp_stanza_t *st)
{
    const char *name = xmpp_stanza_get_name(st);

    if (name && (strcmp(name, "message") == 0 || strcmp(name, "presence") == 0 ||
                 strcmp(name, "iq") == 0))
        return name;
    return NULL;
}

const char *xu_stanza_type(xmpp_stanza_t *st)
{
    const char *kind = xu_stanza_kind(st), *type = xmpp_stanza_get_type(st);

    if (type)
        return type;
    if (kind && strcmp(kind, "message") == 0)
        return "normal";
    if (kind && strcmp(kind, "presence") == 0)
        return "available";
    return NULL;
}

static int in_list(const struct strlist *l, const char *s)
{
    size_t i;

    if (!s)
        return 0;
    for (i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return 1;
    return 0;
}

static int from_matches(const struct strlist *l, const char *from)
{
    const char *want_res, *res;
    size_t i;

    if (!from)
        return 0;
    res = strchr(from, '/');
    for (i = 0; i < l->n; i++) {
        if (!xu_jid_bare_equal(l->v[i], from))
            continue;
        want_res = strchr(l->v[i], '/');
        if (!want_res || (res && strcmp(want_res, res) == 0))
            return 1;
    }
    return 0;
}

int xu_filter_match(struct xu_filter *f, xmpp_stanza_t *st)
{
    char *xml;
    int rc;

    if (f->kinds.n && !in_list(&f->kinds, xu_stanza_kind(st)))
        return 0;
    if (f->types.n && !in_list(&f->types, xu_stanza_type(st)))
        return 0;
    if (f->froms.n && !from_matches(&f->froms, xmpp_stanza_get_from(st)))
        return 0;
    if (!f->nxp)
        return 1;
    xml = xu_stanza_xml_line(st);
    if (!xml)
        return 0;
    quiet_begin();
    rc = eval_xml(f, xml);
    quiet_end();
    free(xml);
    return rc == 1;
}

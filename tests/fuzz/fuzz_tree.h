/* Build a libstrophe stanza tree from fuzz input: the kind of tree
 * libstrophe's parser hands the tools (element and attribute names are XML
 * names, attribute values and text any XML characters), so that what the
 * writers and the trace see is what a server can make them see. */
#ifndef XU_FUZZ_TREE_H
#define XU_FUZZ_TREE_H

#include <strophe.h>

#include "fuzz.h"
#include "base/text.h"

#pragma GCC diagnostic ignored "-Wunused-function"

static const char *const fuzz_names[] = {
    "message", "iq", "presence", "body", "subject", "thread", "query", "error", "x", "item",
    "auth", "response", "handshake", "password", "digest", "challenge", "success", "username",
    "stream:features", "sasl:auth", "text", "delay", "ping", "bind", "jid", "resource",
};
static const char *const fuzz_nss[] = {
    "jabber:client", "urn:ietf:params:xml:ns:xmpp-sasl", "jabber:iq:auth", "urn:xmpp:ping",
    "jabber:component:accept", "urn:ietf:params:xml:ns:xmpp-stanzas", "urn:x:fuzz",
};
static const char *const fuzz_attrs[] = {"to", "from", "id", "type", "mechanism", "xml:lang",
                                         "lang", "a", "b-c", "_d.e"};

/* 0: element names never carry a prefix (as libstrophe's parser hands them
 * over); 1: names such as "stream:features" occur (as libstrophe logs them). */
static int fuzz_tree_prefixes = 1;
/* A string that fuzz text must never contain (the redaction harness's
 * secret: it may only appear where the harness puts it). */
static const char *fuzz_tree_forbid;

/* Text: valid XML characters only (what any parser hands over). */
static char *fuzz_text(struct fuzz_in *in, size_t max)
{
    char *raw = fuzz_str(in, max), *clean;
    struct xu_text_fixes f = {0, 0, 0};

    clean = xu_text_clean(raw, strlen(raw), NULL, &f);
    free(raw);
    if (!clean)
        abort();
    if (fuzz_tree_forbid)
        for (char *q; (q = strstr(clean, fuzz_tree_forbid)) != NULL;)
            *q = '#';
    return clean;
}

/* An XML name from the input (or from the list). */
static char *fuzz_name(struct fuzz_in *in, const char *const *list, size_t n)
{
    unsigned b = fuzz_byte(in);
    char *s;
    size_t i, len;

    if (b < 200) {
        s = strdup(list[b % n]);
        if (!fuzz_tree_prefixes && list == fuzz_names && strchr(s, ':'))
            memmove(s, strchr(s, ':') + 1, strlen(strchr(s, ':')));
        return s;
    }
    len = 1 + fuzz_byte(in) % 12;
    s = malloc(len + 1);
    if (!s)
        abort();
    for (i = 0; i < len; i++) {
        static const char first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
        static const char rest[] = "abcdefghijklmnopqrstuvwxyz0123456789._-";
        unsigned c = fuzz_byte(in);
        s[i] = i == 0 ? first[c % (sizeof first - 1)] : rest[c % (sizeof rest - 1)];
    }
    s[len] = '\0';
    return s;
}

/* A tree of at most depth levels. secret: text to put inside every
 * element whose name is a credential element (NULL: fuzz text). *budget
 * bounds the number of nodes. */
static int fuzz_is_secret_name(const char *name)
{
    /* as lib/base/trace.c: credentials, and the SCRAM salt/signature */
    static const char *const secret_names[] = {"auth", "response", "challenge", "success",
                                               "handshake", "password", "digest", NULL};
    const char *local = strchr(name, ':') ? strchr(name, ':') + 1 : name;
    int i;

    for (i = 0; secret_names[i]; i++)
        if (strcmp(local, secret_names[i]) == 0)
            return 1;
    return 0;
}

static xmpp_stanza_t *fuzz_tree(xmpp_ctx_t *ctx, struct fuzz_in *in, int depth, int *budget,
                                const char *secret)
{
    int is_secret_el;
    xmpp_stanza_t *st = xmpp_stanza_new(ctx), *child;
    char *name, *v, *a;
    unsigned op, i, nattr, nkids;
    int last_text = 0;

    if (!st)
        abort();
    --*budget;
    name = fuzz_name(in, fuzz_names, sizeof fuzz_names / sizeof *fuzz_names);
    xmpp_stanza_set_name(st, name);
    op = fuzz_byte(in);
    if (op & 1)
        xmpp_stanza_set_ns(st, fuzz_nss[(op >> 1) % (sizeof fuzz_nss / sizeof *fuzz_nss)]);
    nattr = (op >> 4) % 4;
    for (i = 0; i < nattr; i++) {
        a = fuzz_name(in, fuzz_attrs, sizeof fuzz_attrs / sizeof *fuzz_attrs);
        v = fuzz_text(in, 40);
        /* libstrophe's parser drops prefixes: xml:lang arrives as lang */
        if (!fuzz_tree_prefixes && strcmp(a, "xml:lang") == 0)
            xmpp_stanza_set_attribute(st, "lang", v);
        else if (strcmp(a, "xmlns") != 0)
            xmpp_stanza_set_attribute(st, a, v);
        free(a);
        free(v);
    }
    is_secret_el = secret && fuzz_is_secret_name(name);
    nkids = fuzz_byte(in) % 4;
    for (i = 0; i < nkids && *budget > 0 && in->left; i++) {
        op = fuzz_byte(in);
        if ((op & 3) == 0 && depth > 1) {
            child = fuzz_tree(ctx, in, depth - 1, budget, secret);
            last_text = 0;
        } else if (last_text) {
            continue; /* a parser never makes two text nodes in a row */
        } else {
            last_text = 1;
            child = xmpp_stanza_new(ctx);
            if (!child)
                abort();
            v = fuzz_text(in, 64);
            if (!*v) {
                free(v);
                v = strdup(" ");
            }
            xmpp_stanza_set_text(child, v);
            free(v);
            --*budget;
        }
        xmpp_stanza_add_child(st, child);
        xmpp_stanza_release(child);
    }
    if (is_secret_el) {
        child = xmpp_stanza_new(ctx);
        xmpp_stanza_set_text(child, secret);
        xmpp_stanza_add_child(st, child);
        xmpp_stanza_release(child);
    }
    free(name);
    return st;
}

/* ---- a canonical form to compare trees: effective namespaces, sorted
 * attributes, adjacent text merged, empty text dropped ---- */

struct fuzz_buf {
    char *p;
    size_t len, cap;
};

static void fuzz_put(struct fuzz_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void fuzz_put_quoted(struct fuzz_buf *b, const char *s)
{
    char n[32];

    snprintf(n, sizeof n, "%zu:", strlen(s));
    fuzz_put(b, n, strlen(n));
    fuzz_put(b, s, strlen(s));
}

static int fuzz_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void fuzz_canon_rec(xmpp_stanza_t *st, const char *parent_ns, struct fuzz_buf *b)
{
    xmpp_ctx_t *ctx = xmpp_stanza_get_context(st);
    const char *ns = xmpp_stanza_get_ns(st), *name = xmpp_stanza_get_name(st);
    const char **attrs;
    xmpp_stanza_t *c;
    int n, i;
    struct fuzz_buf text = {NULL, 0, 0};

    if (!ns)
        ns = parent_ns;
    fuzz_put(b, "<", 1);
    fuzz_put_quoted(b, name ? name : "?");
    fuzz_put(b, "{", 1);
    fuzz_put_quoted(b, ns);
    fuzz_put(b, "}", 1);
    n = xmpp_stanza_get_attribute_count(st);
    if (n > 0) {
        attrs = calloc((size_t)n * 2, sizeof *attrs);
        if (!attrs)
            abort();
        n = xmpp_stanza_get_attributes(st, attrs, n * 2);
        /* pairs: sort "name\1value" strings */
        {
            char **pairs = calloc((size_t)n / 2 + 1, sizeof *pairs);
            for (i = 0; i + 1 < n; i += 2) {
                if (strcmp(attrs[i], "xmlns") == 0) {
                    pairs[i / 2] = strdup("");
                    continue;
                }
                /* libstrophe's parser hands xml:lang over as lang, and the
                 * writer puts the prefix back: the same attribute */
                const char *an = strcmp(attrs[i], "xml:lang") == 0 ? "lang" : attrs[i];
                pairs[i / 2] = malloc(strlen(an) + strlen(attrs[i + 1]) + 2);
                sprintf(pairs[i / 2], "%s\1%s", an, attrs[i + 1]);
            }
            qsort(pairs, (size_t)n / 2, sizeof *pairs, fuzz_cmp_str);
            for (i = 0; i < n / 2; i++) {
                if (pairs[i][0]) {
                    fuzz_put(b, " ", 1);
                    fuzz_put_quoted(b, pairs[i]);
                }
                free(pairs[i]);
            }
            free(pairs);
        }
        free(attrs);
    }
    fuzz_put(b, ">", 1);
    for (c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c)) {
        if (xmpp_stanza_is_text(c)) {
            char *t = xmpp_stanza_get_text(c);
            if (t) {
                fuzz_put(&text, t, strlen(t));
                xmpp_free(ctx, t);
            }
            continue;
        }
        if (text.len) {
            fuzz_put(b, "T", 1);
            fuzz_put_quoted(b, text.p);
            text.len = 0;
        }
        fuzz_canon_rec(c, ns, b);
    }
    if (text.len) {
        fuzz_put(b, "T", 1);
        fuzz_put_quoted(b, text.p);
    }
    free(text.p);
    fuzz_put(b, "</>", 3);
}

/* Caller frees. A top element without a namespace is in jabber:client. */
static char *fuzz_canon(xmpp_stanza_t *st)
{
    struct fuzz_buf b = {NULL, 0, 0};

    fuzz_canon_rec(st, "jabber:client", &b);
    return b.p;
}

/* The tree read back from line is the tree that was written. */
static void fuzz_check_same(xmpp_stanza_t *st, xmpp_stanza_t *back, const char *line)
{
    char *c1 = fuzz_canon(st), *c2 = fuzz_canon(back);

    FUZZ_CHECK(strcmp(c1, c2) == 0, "changed on the way:\n  %s\n  %s\n  %s", line, c1, c2);
    free(c1);
    free(c2);
}

#endif

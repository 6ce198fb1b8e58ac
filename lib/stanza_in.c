#include "stanza_in.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "msg.h"

/* libxml2 is loaded when the first reader is made, not at program start:
 * linked in, it (with ICU and libstdc++ behind it) costs every run ~2.7 MB
 * of resident memory and ~2 ms of CPU before main(), and most runs of the
 * tools that can read XML never do (bench/RESULTS.md). The names below are
 * libxml2's own, resolved from the loaded library. */
static struct {
    void *lib;
    __typeof__(xmlCreatePushParserCtxt) *CreatePushParserCtxt;
    __typeof__(xmlCtxtUseOptions) *CtxtUseOptions;
    __typeof__(xmlFreeDoc) *FreeDoc;
    __typeof__(xmlFreeParserCtxt) *FreeParserCtxt;
    __typeof__(xmlCtxtGetLastError) *CtxtGetLastError;
    __typeof__(xmlParseChunk) *ParseChunk;
    __typeof__(xmlGetLineNo) *GetLineNo;
    __typeof__(xmlStrcmp) *Strcmp;
    __typeof__(xmlNodeGetContent) *NodeGetContent;
    __typeof__(xmlDocGetRootElement) *DocGetRootElement;
    __typeof__(xmlUnlinkNode) *UnlinkNode;
    __typeof__(xmlFreeNode) *FreeNode;
    xmlFreeFunc *Free;
} X;

static int load_libxml2(void)
{
    void *lib;

    if (X.lib)
        return 0;
    lib = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        xu_warn("cannot load libxml2: %s", dlerror());
        return -1;
    }
#define SYM(f) if (!(X.f = (__typeof__(X.f))dlsym(lib, "xml" #f))) goto missing
    SYM(CreatePushParserCtxt);
    SYM(CtxtUseOptions);
    SYM(FreeDoc);
    SYM(FreeParserCtxt);
    SYM(CtxtGetLastError);
    SYM(ParseChunk);
    SYM(GetLineNo);
    SYM(Strcmp);
    SYM(NodeGetContent);
    SYM(DocGetRootElement);
    SYM(UnlinkNode);
    SYM(FreeNode);
    SYM(Free);
#undef SYM
    X.lib = lib;
    return 0;
missing:
    xu_warn("cannot load libxml2: %s", dlerror());
    dlclose(lib);
    return -1;
}

#define xmlCreatePushParserCtxt X.CreatePushParserCtxt
#define xmlCtxtUseOptions X.CtxtUseOptions
#define xmlFreeDoc X.FreeDoc
#define xmlFreeParserCtxt X.FreeParserCtxt
#define xmlCtxtGetLastError X.CtxtGetLastError
#define xmlParseChunk X.ParseChunk
#define xmlGetLineNo X.GetLineNo
#define xmlStrcmp X.Strcmp
#define xmlNodeGetContent X.NodeGetContent
#define xmlDocGetRootElement X.DocGetRootElement
#define xmlUnlinkNode X.UnlinkNode
#define xmlFreeNode X.FreeNode
#undef xmlFree
#define xmlFree (*X.Free)

/* The input is parsed as the content of a synthetic root element, so that a
 * bare sequence of stanzas is one well-formed document. */
static const char wrapper_open[] = "<xu-stream xmlns='jabber:client'>";
static const char wrapper_close[] = "</xu-stream>";

struct xu_reader {
    int fd;
    size_t max_stanza;
    size_t since_complete; /* bytes fed since the last complete stanza */
    xmlParserCtxtPtr parser;
    int eof;
    int failed;
    long last_line;
    /* A namespace error (an undeclared prefix) does not stop libxml2, so
     * the stanza holding it would still be popped: stop before it. */
    int ns_failed;
    xmlNodePtr keep_last; /* the last node that may still be popped, or NULL */
};

/* Called by libxml2 at each error, before the element in error is added to
 * the tree: remember the last complete stanza before it. */
static void on_xml_error(void *ud, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = ud;
    struct xu_reader *r = ctxt->_private;
    xmlNodePtr root;

    if (!r || r->ns_failed || !e || e->domain != XML_FROM_NAMESPACE || e->level < XML_ERR_ERROR)
        return; /* (a relative namespace URI is only a warning) */
    r->ns_failed = 1;
    root = ctxt->myDoc ? xmlDocGetRootElement(ctxt->myDoc) : NULL;
    r->keep_last = root ? root->last : NULL;
    /* inside a stanza: that stanza is the one in error */
    if (r->keep_last && ctxt->nodeNr > 1)
        r->keep_last = r->keep_last->prev;
}

struct xu_reader *xu_reader_new(int fd, size_t max_stanza)
{
    struct xu_reader *r;

    if (load_libxml2() != 0)
        return NULL;
    r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = fd;
    r->max_stanza = max_stanza ? max_stanza : (1u << 20);
    /* No DTD loading, no network, no entity substitution: stanzas only. */
    r->parser = xmlCreatePushParserCtxt(NULL, NULL, wrapper_open, sizeof wrapper_open - 1, NULL);
    if (!r->parser) {
        free(r);
        return NULL;
    }
    xmlCtxtUseOptions(r->parser, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    r->parser->_private = r;
    r->parser->sax->serror = on_xml_error;
    return r;
}

void xu_reader_free(struct xu_reader *r)
{
    if (!r)
        return;
    if (r->parser) {
        if (r->parser->myDoc)
            xmlFreeDoc(r->parser->myDoc);
        xmlFreeParserCtxt(r->parser);
    }
    free(r);
}

static int parse_error(struct xu_reader *r, struct xu_error *err)
{
    const xmlError *e = xmlCtxtGetLastError(r->parser);
    char msg[256];
    long line = e ? e->line : 0, col = e ? e->int2 : 0;
    size_t n;

    r->failed = 1;
    snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "malformed XML");
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    if (line == 1 && col > (long)(sizeof wrapper_open - 1))
        col -= (long)(sizeof wrapper_open - 1);
    /* the synthetic root is not the user's: say it in their terms */
    if (strstr(msg, "xu-stream"))
        snprintf(msg, sizeof msg, "%s", r->eof ? "input ended inside a stanza"
                                               : "unexpected end tag");
    return xu_error_set(err, XU_EX_DATAERR, "malformed XML at line %ld, column %ld: %s", line,
                        col, msg);
}

int xu_reader_feed_bytes(struct xu_reader *r, const char *buf, size_t len, int final,
                         struct xu_error *err)
{
    if (r->failed)
        return xu_error_set(err, XU_EX_DATAERR, "input already failed to parse");
    if (len && (xmlParseChunk(r->parser, buf, (int)len, 0) != 0 || r->ns_failed))
        return parse_error(r, err);
    r->since_complete += len;
    if (final) {
        r->eof = 1;
        if (r->parser->nodeNr > 1) {
            r->failed = 1;
            return xu_error_set(err, XU_EX_DATAERR,
                                "input ended inside the <%s> stanza that starts at line %ld",
                                (const char *)r->parser->nodeTab[1]->name,
                                (long)xmlGetLineNo(r->parser->nodeTab[1]));
        }
        if (xmlParseChunk(r->parser, wrapper_close, sizeof wrapper_close - 1, 1) != 0 ||
            r->ns_failed)
            return parse_error(r, err);
    }
    return 0;
}

int xu_reader_feed(struct xu_reader *r, struct xu_error *err)
{
    char buf[16384];
    ssize_t n;

    do
        n = read(r->fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return xu_error_set(err, XU_EX_IOERR, "cannot read standard input: %s", strerror(errno));
    if (n == 0)
        return xu_reader_feed_bytes(r, NULL, 0, 1, err) ? err->code : 1;
    if (xu_reader_feed_bytes(r, buf, (size_t)n, 0, err))
        return err->code;
    if (r->parser->nodeNr > 1 && r->since_complete > r->max_stanza) {
        r->failed = 1;
        return xu_error_set(err, XU_EX_DATAERR,
                            "stanza starting near line %ld is larger than %zu bytes", r->last_line + 1,
                            r->max_stanza);
    }
    return 0;
}

/* ---- libxml2 tree → libstrophe stanza ---- */

static xmpp_stanza_t *convert(xmpp_ctx_t *ctx, xmlNodePtr node, const xmlChar *parent_ns)
{
    xmpp_stanza_t *st = xmpp_stanza_new(ctx), *child;
    xmlAttrPtr a;
    xmlNodePtr c;
    xmlChar *v;
    char name[512];
    const xmlChar *ns = node->ns ? node->ns->href : NULL;

    if (!st)
        return NULL;
    if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
        xmpp_stanza_set_text(st, (const char *)node->content);
        return st;
    }
    if (ns && node->ns->prefix && xmlStrcmp(node->ns->prefix, BAD_CAST "xml") == 0) {
        /* xml: is predeclared and its namespace cannot be a default one */
        snprintf(name, sizeof name, "xml:%s", node->name);
        xmpp_stanza_set_name(st, name);
    } else {
        xmpp_stanza_set_name(st, (const char *)node->name);
        if (ns && (!parent_ns || xmlStrcmp(ns, parent_ns) != 0))
            xmpp_stanza_set_ns(st, (const char *)ns);
    }
    for (a = node->properties; a; a = a->next) {
        v = xmlNodeGetContent((xmlNodePtr)a);
        if (a->ns && a->ns->prefix) {
            snprintf(name, sizeof name, "%s:%s", a->ns->prefix, a->name);
            /* declare the prefix here, or the stanza is not well formed
             * once it is cut from its context (xml: is predeclared) */
            if (xmlStrcmp(a->ns->prefix, BAD_CAST "xml") != 0) {
                char decl[512];
                snprintf(decl, sizeof decl, "xmlns:%s", a->ns->prefix);
                xmpp_stanza_set_attribute(st, decl, (const char *)a->ns->href);
            }
        } else
            snprintf(name, sizeof name, "%s", a->name);
        xmpp_stanza_set_attribute(st, name, v ? (const char *)v : "");
        xmlFree(v);
    }
    for (c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE && c->type != XML_TEXT_NODE &&
            c->type != XML_CDATA_SECTION_NODE)
            continue; /* comments, processing instructions */
        child = convert(ctx, c, ns);
        if (child) {
            xmpp_stanza_add_child(st, child);
            xmpp_stanza_release(child);
        }
    }
    return st;
}

xmpp_stanza_t *xu_reader_pop(struct xu_reader *r, xmpp_ctx_t *ctx)
{
    xmlNodePtr root, c;
    xmpp_stanza_t *st;

    if (!r->parser->myDoc)
        return NULL;
    root = xmlDocGetRootElement(r->parser->myDoc);
    if (!root)
        return NULL;
    for (c = root->children; c; c = root->children) {
        if (r->ns_failed && !r->keep_last)
            return NULL; /* nothing before the namespace error is left */
        if (r->ns_failed && c == r->keep_last)
            r->keep_last = NULL; /* pop this one, then stop */
        /* the last child is still open while the parser is inside it */
        if (c == root->last && r->parser->nodeNr > 1 && !r->eof)
            return NULL;
        xmlUnlinkNode(c);
        if (c->type != XML_ELEMENT_NODE) {
            xmlFreeNode(c); /* whitespace between stanzas */
            continue;
        }
        r->last_line = (long)xmlGetLineNo(c);
        st = convert(ctx, c, NULL);
        xmlFreeNode(c);
        if (r->parser->nodeNr <= 1)
            r->since_complete = 0;
        if (st && !xmpp_stanza_get_ns(st))
            xmpp_stanza_set_ns(st, "jabber:client");
        return st;
    }
    return NULL;
}

long xu_reader_line(const struct xu_reader *r)
{
    return r->last_line;
}

int xu_stanza_from_string(xmpp_ctx_t *ctx, const char *xml, xmpp_stanza_t **out,
                          struct xu_error *err)
{
    struct xu_reader *r = xu_reader_new(-1, strlen(xml) + 1);
    xmpp_stanza_t *extra;
    int rc;

    *out = NULL;
    if (!r)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = xu_reader_feed_bytes(r, xml, strlen(xml), 1, err);
    if (rc == 0) {
        *out = xu_reader_pop(r, ctx);
        extra = *out ? xu_reader_pop(r, ctx) : NULL;
        if (!*out)
            rc = xu_error_set(err, XU_EX_DATAERR, "no stanza in the given XML");
        else if (extra) {
            xmpp_stanza_release(extra);
            xmpp_stanza_release(*out);
            *out = NULL;
            rc = xu_error_set(err, XU_EX_DATAERR, "expected exactly one stanza, got more");
        }
    }
    xu_reader_free(r);
    return rc;
}

#include "xml/stanza_in.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "base/msg.h"
#include "xml/xml_errors.h"

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
    __typeof__(xmlStopParser) *StopParser;
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
    SYM(StopParser);
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
#define xmlStopParser X.StopParser
#undef xmlFree
#define xmlFree (*X.Free)

/* The input is parsed as the content of a synthetic root element, so that a
 * bare sequence of stanzas is one well-formed document. */
static const char wrapper_open[] = "<xu-stream xmlns='jabber:client'>";
static const char wrapper_close[] = "</xu-stream>";

#define HEAD_MAX 1024 /* an XML declaration at the start is at most this long */

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
    /* Stanzas whose end tag was parsed and not yet popped: only these are
     * handed out, never one still open when the input ends or breaks. */
    unsigned long complete;
    int halted;           /* our own error stopped the parser: count no more */
    char own_err[200];    /* that error, in the suite's words */
    long mark_line, mark_col; /* where the text between stanzas began */
    /* the start of the input, until we know whether it is a declaration */
    char head[HEAD_MAX];
    size_t headlen;
    int head_done;
    long col_shift;       /* user bytes skipped on line 1 (BOM, declaration) */
    /* libxml2's own SAX handlers, which ours wrap */
    endElementNsSAX2Func orig_end;
    charactersSAXFunc orig_chars, orig_blanks;
    cdataBlockSAXFunc orig_cdata;
};

static long user_col(const struct xu_reader *r, long line, long col)
{
    if (line == 1 && col > (long)(sizeof wrapper_open - 1))
        col -= (long)(sizeof wrapper_open - 1);
    if (line == 1)
        col += r->col_shift;
    return col;
}

/* Stop the parser with our own message (it is reported by the feed). */
static void halt(struct xu_reader *r, xmlParserCtxtPtr ctxt, long line, long col, const char *what)
{
    if (r->halted)
        return;
    r->halted = 1;
    snprintf(r->own_err, sizeof r->own_err, "line %ld, column %ld: %s", line,
             user_col(r, line, col), what);
    xmlStopParser(ctxt);
}

static void on_end(void *ud, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri)
{
    xmlParserCtxtPtr ctxt = ud;
    struct xu_reader *r = ctxt->_private;

    r->orig_end(ud, name, prefix, uri);
    if (ctxt->nodeNr == 1 && !r->halted) {
        r->complete++; /* a stanza's end tag: it may be handed out */
        r->mark_line = ctxt->input ? ctxt->input->line : 0;
        r->mark_col = ctxt->input ? ctxt->input->col : 0;
    }
}

/* Text outside a stanza: whitespace is allowed, anything else is an error
 * (never silently dropped). */
static void top_text(struct xu_reader *r, xmlParserCtxtPtr ctxt, const xmlChar *ch, int len,
                     int cdata)
{
    long line = r->mark_line, col = r->mark_col;
    int i;

    for (i = 0; i < len; i++) {
        if (ch[i] == '\n') {
            line++;
            col = 1;
        } else if (ch[i] == ' ' || ch[i] == '\t' || ch[i] == '\r') {
            col++;
        } else {
            halt(r, ctxt, line, col,
                 cdata ? "a CDATA section outside a stanza (text belongs inside an element)"
                       : "text outside a stanza (only whitespace may come between stanzas)");
            return;
        }
    }
    r->mark_line = line;
    r->mark_col = col;
}

/* Text or CDATA that libxml2 read: checked when it lies between stanzas.
 * Returns the reader, to pass it on to libxml2's own handler, or NULL once
 * our own error has stopped the parser. */
static struct xu_reader *text_seen(void *ud, const xmlChar *ch, int len, int cdata)
{
    xmlParserCtxtPtr ctxt = ud;
    struct xu_reader *r = ctxt->_private;

    if (ctxt->nodeNr == 1)
        top_text(r, ctxt, cdata ? (const xmlChar *)"x" : ch, cdata ? 1 : len, cdata);
    return r->halted ? NULL : r;
}

static void on_chars(void *ud, const xmlChar *ch, int len)
{
    struct xu_reader *r = text_seen(ud, ch, len, 0);

    if (r)
        r->orig_chars(ud, ch, len);
}

static void on_blanks(void *ud, const xmlChar *ch, int len)
{
    struct xu_reader *r = text_seen(ud, ch, len, 0);

    if (r)
        r->orig_blanks(ud, ch, len);
}

static void on_cdata(void *ud, const xmlChar *ch, int len)
{
    struct xu_reader *r = text_seen(ud, ch, len, 1);

    if (r)
        r->orig_cdata(ud, ch, len);
}

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
    r->orig_end = r->parser->sax->endElementNs;
    r->orig_chars = r->parser->sax->characters;
    r->orig_blanks = r->parser->sax->ignorableWhitespace;
    r->orig_cdata = r->parser->sax->cdataBlock;
    if (!r->orig_end || !r->orig_chars || !r->orig_blanks || !r->orig_cdata) {
        xu_reader_free(r);
        return NULL;
    }
    r->parser->sax->endElementNs = on_end;
    r->parser->sax->characters = on_chars;
    r->parser->sax->ignorableWhitespace = on_blanks;
    r->parser->sax->cdataBlock = on_cdata;
    r->mark_line = 1;
    r->mark_col = (long)sizeof wrapper_open;
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

    r->failed = 1;
    if (r->halted)
        return xu_error_set(err, XU_EX_DATAERR, "malformed XML at %s", r->own_err);
    xu_xml_error_describe(e, r->eof, msg, sizeof msg);
    if (e && e->code == XML_ERR_NAME_REQUIRED && e->message && strstr(e->message, "EntityRef") &&
        col > 1)
        col--; /* libxml2 points after the '&' */
    if (e && e->code == XML_ERR_RESERVED_XML_NAME && col > 5)
        col -= 5; /* and after the '<?xml' */
    return xu_error_set(err, XU_EX_DATAERR, "malformed XML at line %ld, column %ld: %s", line,
                        user_col(r, line, col), msg);
}

static int feed_parser(struct xu_reader *r, const char *buf, size_t len, struct xu_error *err)
{
    if (len && (xmlParseChunk(r->parser, buf, (int)len, 0) != 0 || r->ns_failed || r->halted))
        return parse_error(r, err);
    return 0;
}

/* The start of the input: a UTF-8 byte-order mark and an XML declaration
 * (`xmllint --format` writes one) are the user's document's, not a stanza:
 * skip them (libxml2 sees them after our wrapper and refuses). A declared
 * encoding other than UTF-8 is refused. Returns 1 while it needs more
 * bytes, 0 when the head is done (the rest was fed), or an error. */
static int feed_head(struct xu_reader *r, const char *buf, size_t len, int final,
                     struct xu_error *err)
{
    static const char decl[] = "<?xml";
    size_t take = len < HEAD_MAX - r->headlen ? len : HEAD_MAX - r->headlen, off = 0, n;
    const char *end, *enc;
    char name[32];
    int rc;

    memcpy(r->head + r->headlen, buf, take);
    r->headlen += take;
    if (r->headlen >= 3 && memcmp(r->head, "\xef\xbb\xbf", 3) == 0)
        off = 3;
    else if (r->headlen < 3 && memcmp(r->head, "\xef\xbb\xbf", r->headlen) == 0 && !final)
        return 1;
    n = r->headlen - off;
    if (n < sizeof decl && memcmp(r->head + off, decl, n) == 0 && !final && take == len)
        return 1;
    if (n > sizeof decl - 1 && memcmp(r->head + off, decl, sizeof decl - 1) == 0 &&
        strchr(" \t\r\n", r->head[off + sizeof decl - 1])) {
        end = memmem(r->head + off, n, "?>", 2);
        if (!end && !final && take == len && r->headlen < HEAD_MAX)
            return 1;
        if (!end) {
            r->failed = 1;
            return xu_error_set(err, XU_EX_DATAERR, "malformed XML at line 1, column %zu: the "
                                "XML declaration is not closed with '?>'", off + 1);
        }
        /* encoding="…" or '…' */
        enc = memmem(r->head + off, (size_t)(end - (r->head + off)), "encoding", 8);
        if (enc) {
            enc += 8;
            enc += strspn(enc, " \t\r\n=");
            if (*enc == '"' || *enc == '\'') {
                n = strcspn(enc + 1, *enc == '"' ? "\"?" : "'?");
                snprintf(name, sizeof name, "%.*s", (int)(n < 31 ? n : 31), enc + 1);
                if (strcasecmp(name, "UTF-8") != 0 && strcasecmp(name, "UTF8") != 0) {
                    r->failed = 1;
                    return xu_error_set(err, XU_EX_DATAERR, "malformed XML at line 1: the XML "
                                        "declaration says encoding \"%s\": only UTF-8 input is "
                                        "accepted (convert it first, e.g. iconv -f %s -t utf-8)",
                                        name, name);
                }
            }
        }
        if (memchr(r->head + off, '\n', (size_t)(end - (r->head + off)))) {
            r->failed = 1;
            return xu_error_set(err, XU_EX_DATAERR, "malformed XML at line 1: write the XML "
                                "declaration on one line");
        }
        off = (size_t)(end + 2 - r->head);
    }
    r->head_done = 1;
    r->col_shift = (long)off;
    rc = feed_parser(r, r->head + off, r->headlen - off, err);
    if (rc == 0 && take < len)
        rc = feed_parser(r, buf + take, len - take, err);
    return rc;
}

int xu_reader_feed_bytes(struct xu_reader *r, const char *buf, size_t len, int final,
                         struct xu_error *err)
{
    int rc;

    if (r->failed)
        return xu_error_set(err, XU_EX_DATAERR, "input already failed to parse");
    if (!r->head_done && (len || final)) {
        rc = feed_head(r, buf ? buf : "", len, final, err);
        if (rc > 1)
            return rc;
    } else if ((rc = feed_parser(r, buf, len, err)) != 0) {
        return rc;
    }
    r->since_complete += len;
    if (final) {
        r->eof = 1;
        if (r->parser->nodeNr > 1) {
            char name[128];
            long line = (long)xmlGetLineNo(r->parser->nodeTab[1]);
            const xmlError *e;

            /* libxml2 may still hold back bytes it could not decide on
             * (a bare '&' waits for its ';'): end the document to hear its
             * verdict, which names the real error if there is one */
            snprintf(name, sizeof name, "%s", (const char *)r->parser->nodeTab[1]->name);
            if (xmlParseChunk(r->parser, "", 0, 1) != 0 && !r->halted &&
                (e = xmlCtxtGetLastError(r->parser)) != NULL &&
                e->code != XML_ERR_TAG_NOT_FINISHED && e->code != XML_ERR_DOCUMENT_END &&
                e->code != XML_ERR_LTSLASH_REQUIRED && e->code != XML_ERR_GT_REQUIRED &&
                e->code != XML_ERR_DOCUMENT_EMPTY)
                return parse_error(r, err);
            if (r->halted)
                return parse_error(r, err);
            r->failed = 1;
            return xu_error_set(err, XU_EX_DATAERR,
                                "input ended inside the <%s> stanza that starts at line %ld", name,
                                line);
        }
        if (xmlParseChunk(r->parser, wrapper_close, sizeof wrapper_close - 1, 1) != 0 ||
            r->ns_failed || r->halted)
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
        /* only a stanza whose end tag was read: never one still open
         * when the input ended or broke off */
        if (c->type == XML_ELEMENT_NODE && r->complete == 0)
            return NULL;
        /* text is still growing while it is the last child */
        if (c->type != XML_ELEMENT_NODE && c == root->last && !r->eof)
            return NULL;
        xmlUnlinkNode(c);
        if (c->type != XML_ELEMENT_NODE) {
            xmlFreeNode(c); /* whitespace between stanzas */
            continue;
        }
        r->complete--;
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

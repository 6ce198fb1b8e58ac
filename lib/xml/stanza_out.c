#include "xml/stanza_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/stdfds.h"

/* Does the start tag at tag[0..len) have the attribute name (" name=\"")?
 * Only outside values: a value may end in " name=" before its quote. */
static int tag_has_attr(const char *tag, size_t len, const char *pat)
{
    size_t i, n = strlen(pat);
    int in_value = 0;

    for (i = 0; i < len; i++) {
        if (tag[i] == '"')
            in_value = !in_value;
        else if (!in_value && i + n <= len && memcmp(tag + i, pat, n) == 0)
            return 1;
    }
    return 0;
}

static char *one_line(xmpp_stanza_t *stanza, int with_ns)
{
    xmpp_ctx_t *ctx = xmpp_stanza_get_context(stanza);
    const char *ns = xmpp_stanza_get_ns(stanza);
    static const char add_ns[] = " xmlns=\"jabber:client\"";
    static const char lang[] = " lang=\"", xml_lang[] = " xml:lang=\"";
    char *raw = NULL, *out, *o, *p;
    size_t len = 0, extra = 0, name_end;
    int in_tag = 0, in_value = 0;

    if (xmpp_stanza_to_text(stanza, &raw, &len) != XMPP_EOK)
        return NULL;
    for (p = raw; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            extra += 4;
        else if (*p == ' ' && strncmp(p, lang, sizeof lang - 1) == 0)
            extra += sizeof xml_lang - sizeof lang;
    /* libstrophe leaves the stream's default namespace implicit: write it
     * into the top element so the line stands on its own */
    name_end = 0;
    p = strchr(raw, '>');
    /* (libstrophe's parser gives received stanzas the stream's namespace,
     * and its serialiser then leaves jabber:client out) */
    if (with_ns && (!ns || strcmp(ns, XMPP_NS_CLIENT) == 0) && raw[0] == '<' && p &&
        !tag_has_attr(raw, (size_t)(p - raw), " xmlns=\"")) {
        name_end = 1 + strcspn(raw + 1, " \t/>");
        extra += sizeof add_ns - 1;
    }
    out = malloc(len + extra + 1);
    if (!out) {
        xmpp_free(ctx, raw);
        return NULL;
    }
    o = out;
    for (p = raw; *p; p++) {
        /* libstrophe escapes <, > and " in values and text: they delimit
         * tags and values */
        if (*p == '<' || *p == '>')
            in_tag = *p == '<';
        else if (*p == '"' && in_tag)
            in_value = !in_value;
        if (*p == '\t' && in_tag) {
            /* a raw tab in an attribute value would be read back as a space */
            memcpy(o, "&#9;", 4);
            o += 4;
        } else if (*p == '\n') {
            memcpy(o, "&#10;", 5);
            o += 5;
        } else if (*p == '\r') {
            memcpy(o, "&#13;", 5);
            o += 5;
        } else if (*p == ' ' && in_tag && !in_value && strncmp(p, lang, sizeof lang - 1) == 0) {
            /* libstrophe's parser drops attribute prefixes: xml:lang arrives
             * as lang. (Not inside a value, which may end in " lang=".) */
            memcpy(o, xml_lang, sizeof xml_lang - 1);
            o += sizeof xml_lang - 1;
            p += sizeof lang - 2;
            in_value = 1; /* its opening quote was copied with it */
        } else {
            *o++ = *p;
        }
        if (name_end && (size_t)(p - raw) + 1 == name_end) {
            memcpy(o, add_ns, sizeof add_ns - 1);
            o += sizeof add_ns - 1;
        }
    }
    *o = '\0';
    xmpp_free(ctx, raw);
    return out;
}

char *xu_stanza_xml_line(xmpp_stanza_t *stanza)
{
    return one_line(stanza, 1);
}

void xu_send_faithful(xmpp_conn_t *conn, xmpp_stanza_t *stanza)
{
    char *line = one_line(stanza, 0);

    if (!line) {
        xmpp_send(conn, stanza);
        return;
    }
    /* (the _string variant logs it as SENT, so the trace shows it) */
    xmpp_send_raw_string(conn, "%s", line);
    free(line);
}

int xu_write_line(FILE *fp, const char *line, int *closed, struct xu_error *err)
{
    if (fputs(line, fp) == EOF || fputc('\n', fp) == EOF || fflush(fp) == EOF) {
        if (errno == EPIPE) {
            if (closed)
                *closed = 1;
            return xu_error_set(err, XU_EX_IOERR, "standard output was closed");
        }
        if (errno == EBADF && fp == stdout && xu_stdfd_was_closed(1))
            return xu_error_set(err, XU_EX_IOERR, "cannot write the output: standard output is "
                                "closed");
        return xu_error_set(err, XU_EX_IOERR, "cannot write to standard output: %s",
                            strerror(errno));
    }
    return 0;
}

int xu_write_stanza_xml(FILE *fp, xmpp_stanza_t *stanza, int *closed, struct xu_error *err)
{
    char *line = xu_stanza_xml_line(stanza);
    int rc;

    if (!line)
        return xu_error_set(err, XU_EX_OSERR, "cannot serialise a stanza");
    rc = xu_write_line(fp, line, closed, err);
    free(line);
    return rc;
}

xmpp_stanza_t *xu_stanza_add_el(xmpp_stanza_t *parent, const char *name, const char *ns)
{
    xmpp_stanza_t *el = xmpp_stanza_new(xmpp_stanza_get_context(parent));

    if (!el)
        return NULL;
    xmpp_stanza_set_name(el, name);
    if (ns)
        xmpp_stanza_set_ns(el, ns);
    xmpp_stanza_add_child(parent, el);
    xmpp_stanza_release(el); /* the parent holds it */
    return el;
}

void xu_stanza_add_text_el(xmpp_stanza_t *parent, const char *name, const char *text)
{
    xmpp_stanza_t *el = xu_stanza_add_el(parent, name, NULL), *t;

    if (!el)
        return;
    t = xmpp_stanza_new(xmpp_stanza_get_context(parent));
    if (!t)
        return;
    xmpp_stanza_set_text(t, text);
    xmpp_stanza_add_child(el, t);
    xmpp_stanza_release(t);
}

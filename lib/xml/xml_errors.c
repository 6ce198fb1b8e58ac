/* libxml2's parse errors in the suite's words: what is wrong with the
 * user's XML and how to fix it, for the "malformed XML at line L, column C"
 * messages of the stanza reader (stanza_in.c). */
#include "xml/xml_errors.h"

#include <stdio.h>
#include <string.h>

static const char unquoted[] = "an attribute without a quoted value";
static const char bad_ns[] = "a namespace declaration or prefixed name that is not allowed";

/* The errors whose description needs nothing from the error itself. */
static const struct {
    int code;
    const char *what;
} fixed[] = {
    {XML_ERR_ENTITYREF_SEMICOL_MISSING,
     "an entity reference without its ';' (write &amp; for an ampersand)"},
    {XML_ERR_GT_REQUIRED, "a malformed start tag (attribute values must be quoted, contain "
                          "no '<', and be separated by spaces)"},
    {XML_ERR_LT_IN_ATTRIBUTE, "'<' in an attribute value (write &lt;)"},
    {XML_ERR_ATTRIBUTE_NOT_STARTED, unquoted},
    {XML_ERR_ATTRIBUTE_WITHOUT_VALUE, unquoted},
    {XML_ERR_STRING_NOT_STARTED, unquoted},
    {XML_ERR_STRING_NOT_CLOSED, unquoted},
    {XML_ERR_COMMENT_NOT_FINISHED, "a comment that is not closed with '-->'"},
    {XML_ERR_MISPLACED_CDATA_END, "']]>' in text (write ]]&gt;)"},
    {XML_ERR_RESERVED_XML_NAME,
     "an XML declaration (<?xml ...?>) is allowed only at the very start of the input"},
    {XML_NS_ERR_UNDEFINED_NAMESPACE,
     "an undeclared namespace prefix (declare it with xmlns:PREFIX)"},
    {XML_NS_ERR_XML_NAMESPACE, bad_ns},
    {XML_NS_ERR_QNAME, bad_ns},
    {XML_NS_ERR_ATTRIBUTE_REDEFINED, bad_ns},
    {XML_NS_ERR_EMPTY, bad_ns},
    {XML_NS_ERR_COLON, bad_ns},
};

/* What libxml2 found, in the suite's words (its own are about its API:
 * "use XML_PARSE_HUGE option", "indicate encoding !", "internal error"). */
void xu_xml_error_describe(const xmlError *e, int at_eof, char *out, size_t len)
{
    const char *m = e && e->message ? e->message : "";
    const char *s1 = e && e->str1 ? e->str1 : "?", *s2 = e && e->str2 ? e->str2 : "?";
    const char *bytes;
    size_t i;

    for (i = 0; e && i < sizeof fixed / sizeof fixed[0]; i++)
        if (fixed[i].code == e->code) {
            snprintf(out, len, "%s", fixed[i].what);
            return;
        }
    switch (e ? e->code : -1) {
    case XML_ERR_NAME_REQUIRED:
        if (strstr(m, "EntityRef"))
            snprintf(out, len, "a bare '&' (write &amp; for an ampersand)");
        else if (strstr(m, "StartTag"))
            snprintf(out, len, "'<' not followed by an element name (write &lt; for a "
                     "less-than sign)");
        else
            snprintf(out, len, "a name was expected here");
        return;
    case XML_ERR_UNDECLARED_ENTITY:
    case XML_WAR_UNDECLARED_ENTITY:
        snprintf(out, len, "unknown entity '&%s;' (XML has only &amp; &lt; &gt; &quot; &apos; "
                 "and numeric references)", s1);
        return;
    case XML_ERR_INVALID_CHAR:
    case XML_ERR_INVALID_ENCODING:
        if (strstr(m, "UTF-8")) {
            bytes = strstr(m, "Bytes: ");
            snprintf(out, len, "the input is not UTF-8 (byte %.4s here); convert it first, e.g. "
                     "iconv -f latin1 -t utf-8", bytes ? bytes + 7 : "?");
        } else if (strstr(m, "CharRef")) {
            snprintf(out, len, "a character reference to a character XML does not allow");
        } else {
            snprintf(out, len, "a character XML does not allow (a control character?)");
        }
        return;
    case XML_ERR_TAG_NAME_MISMATCH:
        if (strcmp(s1, "xu-stream") == 0)
            snprintf(out, len, "an end tag </%s> with no element open", s2);
        else
            snprintf(out, len, "the end tag </%s> does not match the open element <%s>", s2, s1);
        return;
    case XML_ERR_TAG_NOT_FINISHED:
        snprintf(out, len, "the element <%s> is not closed", s1);
        return;
    case XML_ERR_ATTRIBUTE_REDEFINED:
        snprintf(out, len, "the attribute '%s' is given twice", s1);
        return;
    case XML_ERR_DOCUMENT_END:
        snprintf(out, len, at_eof ? "input ended inside a CDATA section or comment"
                                  : "an end tag with no element open");
        return;
    default:
        break;
    }
    if (strstr(m, "Excessive depth"))
        snprintf(out, len, "elements nested more than 256 deep");
    else if (strstr(m, "element content") || strstr(m, "DOCTYPE"))
        snprintf(out, len, "a DOCTYPE or other '<!' declaration (DTDs are not accepted; only "
                 "comments and CDATA sections start with '<!')");
    else if (strstr(m, "xu-stream"))
        snprintf(out, len, "%s", at_eof ? "input ended inside a stanza" : "an end tag with no "
                 "element open");
    else
        snprintf(out, len, "not well-formed XML (parser error %d)", e ? e->code : 0);
    (void)s2;
}

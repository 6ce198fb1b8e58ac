/* The output writers of xmpp-listen (lib/xml/format.c) on stanzas such as
 * libstrophe's parser hands over. Properties, per format:
 *  - every format: one line (no raw LF or CR); NULL only for --format body
 *    when there is no message body;
 *  - xml: the same line as xu_stanza_xml_line;
 *  - json: one JSON object whose "xml" reads back (lib/xml/stanza_in.c) to the
 *    same tree, and whose "body" is what --format body escapes;
 *  - body: unescaping \\, \n, \r gives the body back exactly;
 *  - text: no C0/C1 control character, DEL or bidi override reaches the
 *    terminal. */
#include <jansson.h>

#include "xml/format.h"
#include "fuzz.h"
#include "fuzz_tree.h"
#include "xml/stanza_in.h"
#include "xml/stanza_out.h"

static xmpp_ctx_t *ctx;

/* Undo --format body's escaping; NULL if an escape is not one it makes. */
static char *unescape_body(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;

    if (!out)
        abort();
    for (; *s; s++) {
        if (*s != '\\') {
            *o++ = *s;
            continue;
        }
        s++;
        if (*s == '\\')
            *o++ = '\\';
        else if (*s == 'n')
            *o++ = '\n';
        else if (*s == 'r')
            *o++ = '\r';
        else {
            free(out);
            return NULL;
        }
    }
    *o = '\0';
    return out;
}

static void check_terminal_safe(const char *line)
{
    const unsigned char *p = (const unsigned char *)line;

    for (; *p; p++) {
        FUZZ_CHECK(!((*p < 0x20 && *p != '\t') || *p == 0x7f), "control byte 0x%02x in: %s", *p,
                   line);
        FUZZ_CHECK(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f), "C1 control in: %s", line);
        FUZZ_CHECK(!(p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
                                      (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))),
                   "bidi control in: %s", line);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const kinds[] = {"message", "presence", "iq", "message"};
    struct fuzz_in in = {data, size};
    struct xu_error err = {0, ""};
    xmpp_stanza_t *st, *back = NULL;
    char *xml, *json, *text, *body, *plain = NULL;
    json_t *o, *jx, *jb;
    int budget = 48;

    if (size > 1 << 16)
        return 0;
    if (!ctx) {
        xmpp_initialize();
        ctx = xmpp_ctx_new(NULL, NULL);
        fuzz_tree_prefixes = 0;
    }
    st = fuzz_tree(ctx, &in, 4, &budget, NULL);
    xmpp_stanza_set_name(st, kinds[fuzz_byte(&in) % 4]);

    xml = xu_format_line(st, XU_FORMAT_XML, 1.5);
    json = xu_format_line(st, XU_FORMAT_JSON, 1.5);
    text = xu_format_line(st, XU_FORMAT_TEXT, 1.5);
    body = xu_format_line(st, XU_FORMAT_BODY, 1.5);
    FUZZ_CHECK(xml && json && text, "a format gave nothing");
    FUZZ_CHECK(!strpbrk(xml, "\r\n") && !strpbrk(json, "\r\n") && !strpbrk(text, "\r\n") &&
                   (!body || !strpbrk(body, "\r\n")),
               "a line holds a raw newline");
    {
        char *line = xu_stanza_xml_line(st);
        FUZZ_CHECK(line && strcmp(line, xml) == 0, "--format xml differs from the writer");
        free(line);
    }
    check_terminal_safe(text);

    o = json_loads(json, 0, NULL);
    FUZZ_CHECK(o && json_is_object(o), "not a JSON object: %s", json);
    jx = json_object_get(o, "xml");
    FUZZ_CHECK(json_is_string(jx), "no xml in %s", json);
    FUZZ_CHECK(xu_stanza_from_string(ctx, json_string_value(jx), &back, &err) == 0,
               "json xml does not read back: %s", err.msg);
    fuzz_check_same(st, back, json_string_value(jx));
    jb = json_object_get(o, "body");
    if (body) {
        plain = unescape_body(body);
        FUZZ_CHECK(plain, "--format body made an escape it does not define: %s", body);
        FUZZ_CHECK(json_is_string(jb) && strcmp(json_string_value(jb), plain) == 0,
                   "body and json disagree: %s / %s", body, json);
    } else {
        FUZZ_CHECK(!json_is_string(jb) || strcmp(xmpp_stanza_get_name(st), "message") != 0,
                   "json has a body but --format body printed nothing: %s", json);
    }
    free(plain);
    json_decref(o);
    xmpp_stanza_release(back);
    free(xml);
    free(json);
    free(text);
    free(body);
    xmpp_stanza_release(st);
    return 0;
}

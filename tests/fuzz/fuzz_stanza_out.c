/* The one-line stanza writer (lib/xml/stanza_out.c) on trees such as
 * libstrophe's parser produces from what a server sends: the line has no
 * raw newline, reads back (lib/xml/stanza_in.c) as exactly one stanza, and that
 * stanza writes the same line again. Also the write path itself. */
#include "fuzz.h"
#include "fuzz_tree.h"
#include "xml/stanza_in.h"
#include "xml/stanza_out.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static xmpp_ctx_t *ctx;
    static FILE *null;
    struct fuzz_in in = {data, size};
    struct xu_error err = {0, ""};
    xmpp_stanza_t *st, *back = NULL;
    char *line, *line2;
    int budget = 64, closed = 0;

    if (size > 1 << 16)
        return 0;
    if (!ctx) {
        xmpp_initialize();
        ctx = xmpp_ctx_new(NULL, NULL);
        null = fopen("/dev/null", "w");
        fuzz_tree_prefixes = 0;
    }
    st = fuzz_tree(ctx, &in, 5, &budget, NULL);
    line = xu_stanza_xml_line(st);
    FUZZ_CHECK(line != NULL, "no line");
    FUZZ_CHECK(!strpbrk(line, "\r\n"), "raw newline: %s", line);
    /* the line stands on its own: its top element names its namespace */
    FUZZ_CHECK(memmem(line, strcspn(line, ">"), " xmlns=\"", 8) != NULL,
               "no namespace on the top element: %s", line);
    FUZZ_CHECK(xu_stanza_from_string(ctx, line, &back, &err) == 0, "does not read back: %s: %s",
               err.msg, line);
    line2 = xu_stanza_xml_line(back);
    FUZZ_CHECK(line2 != NULL, "the stanza read back does not serialise");
    fuzz_check_same(st, back, line);
    FUZZ_CHECK(xu_write_stanza_xml(null, st, &closed, &err) == 0 && !closed, "write: %s",
               err.msg);
    free(line2);
    free(line);
    xmpp_stanza_release(back);
    xmpp_stanza_release(st);
    return 0;
}

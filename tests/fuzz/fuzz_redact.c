/* Trace redaction (lib/base/trace.c). Two inputs:
 *  - raw bytes: no crash, the output is bounded;
 *  - a stanza tree built from the input and serialised by libstrophe, as
 *    libstrophe logs what it sends and receives, with a known secret inside
 *    every <auth>, <response>, <challenge>, <success>, <handshake>,
 *    <password> and <digest>: the
 *    secret must not survive xu_trace_redact, wherever those elements sit,
 *    whatever attributes, prefixes or siblings they have. */
#include "fuzz.h"
#include "fuzz_tree.h"
#include "base/trace.h"

#define SECRET "cGFzc3dvcmQ9aHVudGVyMg=="

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static xmpp_ctx_t *ctx;
    struct fuzz_in in = {data, size};
    xmpp_stanza_t *st;
    char *s, *red, *text = NULL;
    size_t len = 0;
    int budget = 64;

    if (size > 1 << 16)
        return 0;
    if (!ctx) {
        xmpp_initialize();
        ctx = xmpp_ctx_new(NULL, NULL);
    }
    s = fuzz_cstr(data, size);
    red = xu_trace_redact(s);
    FUZZ_CHECK(red != NULL, "NULL");
    FUZZ_CHECK(strlen(red) <= strlen(s) + 10 * (strlen(s) / 8 + 1), "grew from %zu to %zu",
               strlen(s), strlen(red));
    free(red);
    free(s);

    fuzz_tree_forbid = SECRET; /* only where the tree builder puts it */
    st = fuzz_tree(ctx, &in, 5, &budget, SECRET);
    if (xmpp_stanza_to_text(st, &text, &len) == XMPP_EOK) {
        red = xu_trace_redact(text);
        FUZZ_CHECK(red != NULL, "NULL");
        FUZZ_CHECK(!strstr(red, SECRET), "secret left in the trace:\n  in:  %s\n  out: %s",
                   text, red);
        free(red);
        xmpp_free(ctx, text);
    }
    xmpp_stanza_release(st);
    return 0;
}

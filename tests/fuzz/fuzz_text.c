/* Text that becomes XML character data (lib/base/text.c) or reaches a terminal
 * (lib/base/msg.c). Properties, not just "no crash":
 *  - xu_text_clean: the output is valid UTF-8 holding only XML 1.0
 *    characters, has no NUL inside, no ESC, and equals the input when the
 *    input was already clean (no escape sequences); fixes are counted iff
 *    something changed.
 *  - xu_utf8_cut: never longer than asked, never cuts a character.
 *  - xu_sanitize_terminal: no C0/C1 control character or DEL survives, the
 *    result fits and is terminated. */
#include "fuzz.h"
#include "base/msg.h"
#include "base/text.h"

/* An independent strict UTF-8 + XML Char check (not the one under test). */
static int valid_xml_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0, n, k;
    unsigned long c;

    while (i < len) {
        unsigned char b = s[i];
        if (b < 0x80) {
            if (b < 0x20 && b != 0x9 && b != 0xa && b != 0xd)
                return 0;
            i++;
            continue;
        }
        if ((b & 0xe0) == 0xc0)
            n = 2, c = b & 0x1f;
        else if ((b & 0xf0) == 0xe0)
            n = 3, c = b & 0x0f;
        else if ((b & 0xf8) == 0xf0)
            n = 4, c = b & 0x07;
        else
            return 0;
        if (i + n > len)
            return 0;
        for (k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            c = (c << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000))
            return 0; /* overlong */
        if ((c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff || c > 0x10ffff)
            return 0;
        i += n;
    }
    return 1;
}

static void check_clean(const uint8_t *data, size_t size)
{
    struct xu_text_fixes f = {0, 0, 0};
    size_t outlen = (size_t)-1, cut, max;
    char *out = xu_text_clean((const char *)data, size, &outlen, &f);
    int was_clean = valid_xml_utf8(data, size) && !memchr(data, 0x1b, size);
    unsigned long fixes = f.ansi + f.control + f.badutf8;

    FUZZ_CHECK(out != NULL, "NULL");
    FUZZ_CHECK(out[outlen] == '\0' && strlen(out) == outlen, "length %zu vs %zu", outlen,
               strlen(out));
    FUZZ_CHECK(valid_xml_utf8((const unsigned char *)out, outlen),
               "output is not clean XML text");
    FUZZ_CHECK(!memchr(out, 0x1b, outlen), "ESC survived");
    FUZZ_CHECK(xu_text_is_clean(out, outlen), "xu_text_is_clean disagrees on the output");
    FUZZ_CHECK(xu_text_is_clean((const char *)data, size) == valid_xml_utf8(data, size),
               "xu_text_is_clean disagrees with the reference on the input");
    if (was_clean)
        FUZZ_CHECK(outlen == size && memcmp(out, data, size) == 0 && fixes == 0,
                   "clean input was changed");
    else
        FUZZ_CHECK(fixes > 0, "input changed but no fix counted");
    /* cleaning is idempotent */
    {
        struct xu_text_fixes f2 = {0, 0, 0};
        size_t len2;
        char *again = xu_text_clean(out, outlen, &len2, &f2);
        FUZZ_CHECK(again && len2 == outlen && memcmp(again, out, outlen) == 0 &&
                       f2.ansi + f2.control + f2.badutf8 == 0,
                   "clean(clean(x)) != clean(x)");
        free(again);
    }
    /* cut at every few positions */
    for (max = 0; max <= outlen + 1; max += 1 + max / 3) {
        cut = xu_utf8_cut(out, outlen, max);
        FUZZ_CHECK(cut <= max || (cut == outlen && outlen <= max), "cut %zu > max %zu", cut, max);
        FUZZ_CHECK(cut <= outlen, "cut past the end");
        FUZZ_CHECK(valid_xml_utf8((const unsigned char *)out, cut), "cut %zu splits a character",
                   cut);
    }
    free(out);
}

static void check_terminal(const uint8_t *data, size_t size)
{
    char *src = fuzz_cstr(data, size), dst[300];
    size_t dstlen = 1 + (size ? data[0] % sizeof dst : 0), i, n;
    const unsigned char *d = (const unsigned char *)dst;

    memset(dst, 'X', sizeof dst);
    xu_sanitize_terminal(dst, dstlen, src);
    n = strnlen(dst, dstlen);
    FUZZ_CHECK(n < dstlen, "not terminated within %zu bytes", dstlen);
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(!(d[i] < 0x20 && d[i] != '\t') && d[i] != 0x7f, "control byte 0x%02x at %zu",
                   d[i], i);
        /* C1 controls (U+0080..U+009F, e.g. U+009B = CSI) drive terminals too */
        FUZZ_CHECK(!(d[i] == 0xc2 && i + 1 < n && d[i + 1] >= 0x80 && d[i + 1] <= 0x9f),
                   "C1 control U+00%02X at %zu", d[i + 1], i);
    }
    FUZZ_CHECK(dstlen == sizeof dst || dst[dstlen] == 'X', "wrote past dstlen");
    free(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    check_clean(data, size);
    check_terminal(data, size);
    return 0;
}

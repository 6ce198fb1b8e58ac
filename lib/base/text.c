#include "base/text.h"

#include <stdlib.h>
#include <string.h>

/* Decode one UTF-8 sequence strictly (no overlongs, surrogates or values
 * past U+10FFFF). Returns its length, or 0 if s does not start one. */
static size_t utf8_decode(const unsigned char *s, size_t len, unsigned long *cp)
{
    size_t n, i;
    unsigned long c;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        c = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        c = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

static int xml_char(unsigned long c)
{
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
           (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/* Length of an ANSI escape sequence starting at s[0] == ESC, at least 1. */
static size_t ansi_len(const unsigned char *s, size_t len)
{
    size_t i;

    if (len < 2)
        return 1;
    if (s[1] == '[') { /* CSI: parameters and intermediates, then a final byte */
        for (i = 2; i < len; i++)
            if (s[i] >= 0x40 && s[i] <= 0x7e)
                return i + 1;
            else if (s[i] < 0x20 || s[i] > 0x3f)
                return i; /* malformed: drop what we saw */
        return len;
    }
    if (s[1] == ']' || s[1] == 'P' || s[1] == '_' || s[1] == '^') {
        /* OSC/DCS/APC/PM: up to BEL or ST (ESC \) */
        for (i = 2; i < len; i++) {
            if (s[i] == 0x07)
                return i + 1;
            if (s[i] == 0x1b && i + 1 < len && s[i + 1] == '\\')
                return i + 2;
        }
        return len;
    }
    if (s[1] >= 0x40 && s[1] <= 0x5f)
        return 2; /* two-character escape */
    return 1;
}

char *xu_text_clean(const char *in, size_t len, size_t *outlen,
                    struct xu_text_fixes *fixes)
{
    static const char replacement[] = "\xef\xbf\xbd";
    const unsigned char *s = (const unsigned char *)in;
    char *out, *o;
    size_t i = 0, n;
    unsigned long cp;

    /* A replaced byte grows to 3 bytes at most. */
    out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    o = out;
    while (i < len) {
        if (s[i] == 0x1b) {
            i += ansi_len(s + i, len - i);
            fixes->ansi++;
            continue;
        }
        n = utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            memcpy(o, replacement, 3);
            o += 3;
            i++;
            fixes->badutf8++;
        } else if (!xml_char(cp)) {
            memcpy(o, replacement, 3);
            o += 3;
            i += n;
            fixes->control++;
        } else {
            memcpy(o, s + i, n);
            o += n;
            i += n;
        }
    }
    *o = '\0';
    if (outlen)
        *outlen = (size_t)(o - out);
    return out;
}

int xu_text_is_clean(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n;
    unsigned long cp;

    while (i < len) {
        n = utf8_decode(s + i, len - i, &cp);
        if (n == 0 || !xml_char(cp))
            return 0;
        i += n;
    }
    return 1;
}

size_t xu_utf8_cut(const char *str, size_t len, size_t max)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t cut;

    if (len <= max)
        return len;
    cut = max;
    /* step back over continuation bytes to the start of a character */
    while (cut > 0 && (s[cut] & 0xc0) == 0x80)
        cut--;
    return cut;
}

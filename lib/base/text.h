/* Make arbitrary bytes (log lines) sendable as XML 1.0 character data. */
#ifndef XU_TEXT_H
#define XU_TEXT_H

#include <stddef.h>

struct xu_text_fixes {
    unsigned long ansi;     /* ANSI escape sequences removed */
    unsigned long control;  /* forbidden control characters replaced */
    unsigned long badutf8;  /* invalid UTF-8 sequences replaced */
};

/* Returns a NUL-terminated copy of in[0..len) (caller frees) in which ANSI
 * escape sequences (colours, cursor movement) are removed, characters XML
 * forbids (NUL, other C0 controls but TAB/LF/CR, U+FFFE/U+FFFF) and invalid
 * UTF-8 are replaced by U+FFFD. Counts what it changed in *fixes (added to).
 * Returns NULL only when out of memory. */
char *xu_text_clean(const char *in, size_t len, size_t *outlen,
                    struct xu_text_fixes *fixes);

/* Length of the longest prefix of s[0..len) no longer than max bytes that
 * does not end inside a UTF-8 sequence (s must be valid UTF-8). */
size_t xu_utf8_cut(const char *s, size_t len, size_t max);

/* 1 if s[0..len) is valid UTF-8 containing only XML 1.0 characters. */
int xu_text_is_clean(const char *s, size_t len);

#endif

/* Shared bits of the libFuzzer harnesses in tests/fuzz/ (see README there).
 * Each harness is one fuzz_NAME.c defining LLVMFuzzerTestOneInput; built
 * with clang -fsanitize=fuzzer by `make fuzz`, or with standalone.c as a
 * plain program that replays files (`make fuzz-regress`). */
#ifndef XU_FUZZ_H
#define XU_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold: print what broke and abort, so that libFuzzer
 * (or the sanitizer runtime) records the input as a crash. */
#define FUZZ_CHECK(cond, ...)                                                       \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            abort();                                                                \
        }                                                                           \
    } while (0)

/* Consume the fuzz input piece by piece. */
struct fuzz_in {
    const uint8_t *p;
    size_t left;
};

static inline unsigned fuzz_byte(struct fuzz_in *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

/* A NUL-terminated copy of the next bytes up to (not including) a 0 byte
 * or the end; never more than max bytes. Caller frees. */
static inline char *fuzz_str(struct fuzz_in *in, size_t max)
{
    size_t n = 0;
    char *s;

    while (n < in->left && n < max && in->p[n] != 0)
        n++;
    s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, in->p, n);
    s[n] = '\0';
    in->p += n;
    in->left -= n;
    if (in->left && *in->p == 0) {
        in->p++;
        in->left--;
    }
    return s;
}

/* A NUL-terminated copy of all of data (which may itself hold NULs). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif

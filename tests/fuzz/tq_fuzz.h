/* tq_fuzz — what the libFuzzer harnesses in tests/fuzz/ share.
 *
 * Each harness fuzz_<name>.c defines LLVMFuzzerTestOneInput() and nothing else. It is
 * linked two ways (tests/fuzz/CMakeLists.txt):
 *   - with clang's libFuzzer (-fsanitize=fuzzer,address,undefined): the fuzzer itself;
 *   - with tq_fuzz_replay.c (any compiler, the sanitizer build): a plain program that runs
 *     the same function over every file of the directories it is given (the seed corpus and
 *     the regression inputs of tests/fuzz/regress/<name>/).
 * A property that does not hold is a crash: TQ_FUZZ_CHECK prints it and aborts, so
 * libFuzzer saves the input and the replay program fails. */
#ifndef TQ_FUZZ_H
#define TQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TQ_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A malloc'd NUL-terminated copy of data[0..size) (the caller frees it); the string ends
 * at the first NUL byte of data, if any. Aborts on OOM (not an input's fault). */
static inline char *tq_fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* 1 when s is a valid tileset name: 1..63 bytes of [A-Za-z0-9_-] (written here from the
 * documented rule, not from the parsers' own checks). */
static inline int tq_fuzz_tileset_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

#endif

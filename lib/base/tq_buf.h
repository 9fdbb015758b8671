/* tq_buf — a growable byte buffer, always NUL-terminated, for building text and messages.
 *
 * A zeroed struct (TQ_BUF_INIT) is an empty buffer; nothing is allocated until the first
 * append. The buffer owns data until tq_buf_take hands it over or tq_buf_free releases it.
 * Out of memory is reported by the return code (-1) and remembered: once failed, appends do
 * nothing and return -1, and tq_buf_take returns NULL, so a caller may append a whole
 * document and check once at the end. Nothing here aborts.
 *
 *   struct tq_buf b = TQ_BUF_INIT;
 *   tq_buf_append_str(&b, "hello ");
 *   tq_buf_printf(&b, "%d", 42);
 *   char *s = tq_buf_take(&b, NULL);   // "hello 42", the caller frees; NULL after OOM
 */
#ifndef TQ_BUF_H
#define TQ_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct tq_buf {
    char *data; /* len bytes then a NUL; NULL while nothing was ever appended. Read-only. */
    size_t len; /* bytes in data, not counting the NUL. Read-only. */
    size_t cap; /* bytes allocated */
    int failed; /* 1 after an allocation failed (sticky until reset) */
};

#define TQ_BUF_INIT                                                                                \
    {                                                                                              \
        0                                                                                          \
    }

/* Makes room for extra more bytes (plus the NUL). 0, or -1 when out of memory (or failed
 * before). Growth doubles, from 256 bytes. */
int tq_buf_reserve(struct tq_buf *b, size_t extra);

/* Appends n bytes of p (p may hold NULs; the buffer is still terminated after them). */
int tq_buf_append(struct tq_buf *b, const void *p, size_t n);
int tq_buf_append_str(struct tq_buf *b, const char *s);
int tq_buf_append_char(struct tq_buf *b, char c);

/* Appends printf-formatted text. 0, or -1 on OOM or an encoding error. */
int tq_buf_printf(struct tq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tq_buf_vprintf(struct tq_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The text so far: "" when empty (never NULL). Valid until the next call that changes b. */
const char *tq_buf_str(const struct tq_buf *b);

/* 1 when an allocation failed since the last reset. */
int tq_buf_failed(const struct tq_buf *b);

/* Empties b and clears the failure; keeps the allocation for reuse. */
void tq_buf_reset(struct tq_buf *b);

/* Hands the bytes over: a malloc'd NUL-terminated string (also when empty) that the caller
 * frees, its length in *len when len is not NULL. Returns NULL after an OOM (the bytes are
 * freed then). b is empty and reusable afterwards either way. */
char *tq_buf_take(struct tq_buf *b, size_t *len);

/* Frees the bytes; b is empty and reusable afterwards. */
void tq_buf_free(struct tq_buf *b);

#endif

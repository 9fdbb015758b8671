/* tq_buf — see tq_buf.h. */
#include "tq_buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TQ_BUF_MIN_CAP 256

int tq_buf_reserve(struct tq_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > SIZE_MAX - b->len - 1) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : TQ_BUF_MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int tq_buf_append(struct tq_buf *b, const void *p, size_t n)
{
    if (tq_buf_reserve(b, n) != 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int tq_buf_append_str(struct tq_buf *b, const char *s)
{
    return tq_buf_append(b, s, strlen(s));
}

int tq_buf_append_char(struct tq_buf *b, char c)
{
    return tq_buf_append(b, &c, 1);
}

int tq_buf_vprintf(struct tq_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    if (b->failed)
        return -1;
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->failed = 1;
        return -1;
    }
    if (tq_buf_reserve(b, (size_t)n) != 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int tq_buf_printf(struct tq_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = tq_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *tq_buf_str(const struct tq_buf *b)
{
    return b->data ? b->data : "";
}

int tq_buf_failed(const struct tq_buf *b)
{
    return b->failed;
}

void tq_buf_reset(struct tq_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *tq_buf_take(struct tq_buf *b, size_t *len)
{
    char *s = NULL;

    if (b->failed) {
        free(b->data);
    } else if (b->data == NULL) {
        s = strdup("");
    } else {
        s = b->data;
    }
    if (len)
        *len = s ? b->len : 0;
    memset(b, 0, sizeof *b);
    return s;
}

void tq_buf_free(struct tq_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

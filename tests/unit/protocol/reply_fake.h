/* Hand-built hiredis replies for unit tests of reply parsers (no Redis). Every reply is
 * allocated with calloc and freed with freeReplyObject, as hiredis would. */
#ifndef TQ_TEST_REPLY_FAKE_H
#define TQ_TEST_REPLY_FAKE_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

static inline redisReply *fake_str(const char *s)
{
    redisReply *r = calloc(1, sizeof *r);
    r->type = REDIS_REPLY_STRING;
    r->len = strlen(s);
    r->str = strdup(s);
    return r;
}

static inline redisReply *fake_int(long long v)
{
    redisReply *r = calloc(1, sizeof *r);
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

static inline redisReply *fake_nil(void)
{
    redisReply *r = calloc(1, sizeof *r);
    r->type = REDIS_REPLY_NIL;
    return r;
}

/* An array of n replies (taken over). */
static inline redisReply *fake_arr(size_t n, ...)
{
    va_list ap;
    redisReply *r = calloc(1, sizeof *r);
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof *r->element);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

#endif

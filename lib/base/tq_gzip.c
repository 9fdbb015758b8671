/* tq_gzip — see tq_gzip.h. */
#include "tq_gzip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define GZIP_WINDOW_BITS (15 + 16) /* deflate window 2^15, gzip wrapper */

int tq_gzip_is(const void *data, size_t len)
{
    const unsigned char *p = data;
    return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

int tq_gzip_compress(const void *in, size_t len, unsigned char **out, size_t *outlen)
{
    return tq_gzip_compress_level(in, len, 6, out, outlen);
}

int tq_gzip_compress_level(const void *in, size_t len, int level, unsigned char **out,
                           size_t *outlen)
{
    z_stream zs;
    unsigned char *buf = NULL;
    int rc = -1, inited = 0;
    uLong bound;

    *out = NULL;
    *outlen = 0;
    memset(&zs, 0, sizeof zs);
    if (level < 0 || level > 9 ||
        deflateInit2(&zs, level, Z_DEFLATED, GZIP_WINDOW_BITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        goto cleanup;
    inited = 1;
    bound = deflateBound(&zs, (uLong)len) + 32;
    buf = malloc(bound);
    if (buf == NULL)
        goto cleanup;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = buf;
    zs.avail_out = (uInt)bound;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        goto cleanup;
    *out = buf;
    *outlen = zs.total_out;
    buf = NULL;
    rc = 0;
cleanup:
    if (inited)
        deflateEnd(&zs);
    free(buf);
    return rc;
}

int tq_gzip_decompress(const void *in, size_t len, size_t max_out, unsigned char **out,
                       size_t *outlen)
{
    z_stream zs;
    unsigned char *buf = NULL;
    size_t cap = len * 4 + 256;
    int rc = -1, inited = 0, zrc;

    *out = NULL;
    *outlen = 0;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, GZIP_WINDOW_BITS) != Z_OK)
        goto cleanup;
    inited = 1;
    if (cap > max_out + 1)
        cap = max_out + 1;
    buf = malloc(cap ? cap : 1);
    if (buf == NULL)
        goto cleanup;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    for (;;) {
        zs.next_out = buf + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        zrc = inflate(&zs, Z_NO_FLUSH);
        if (zrc == Z_STREAM_END)
            break;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            goto cleanup;
        if (zs.avail_out > 0) /* input ended before the stream did */
            goto cleanup;
        if (cap > max_out)
            goto cleanup;
        size_t ncap = cap * 2 > max_out + 1 ? max_out + 1 : cap * 2;
        unsigned char *nb = realloc(buf, ncap);
        if (nb == NULL)
            goto cleanup;
        buf = nb;
        cap = ncap;
    }
    if (zs.total_out > max_out)
        goto cleanup;
    *out = buf;
    *outlen = zs.total_out;
    buf = NULL;
    rc = 0;
cleanup:
    if (inited)
        inflateEnd(&zs);
    free(buf);
    return rc;
}

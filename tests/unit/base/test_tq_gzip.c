/* Unit tests for tq_gzip: round trips of several sizes, the output limit, truncated and
 * garbage input, the magic-bytes check; whole members (tq_gzip_member) and zlib's members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "tq_gzip.h"

static void test_gzip_round_trip(void **state)
{
    size_t sizes[] = {0, 1, 100, 70000, 1000000};
    (void)state;

    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        unsigned char *in = malloc(n ? n : 1), *gz = NULL, *out = NULL;
        size_t gzlen = 0, outlen = 0;
        uint32_t x = 12345;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            in[i] = (unsigned char)((i % 7 == 0) ? (x >> 24) : 'a' + i % 3);
        }
        for (int level = 0; level <= 9; level += 3) { /* 0 (stored), 3, 6, 9; 1 below */
            unsigned char *g = NULL, *o = NULL;
            size_t glen = 0, olen = 0;
            assert_int_equal(tq_gzip_compress_level(in, n, level, &g, &glen), 0);
            assert_int_equal(tq_gzip_decompress(g, glen, n, &o, &olen), 0);
            assert_int_equal(olen, n);
            assert_memory_equal(o, in, n);
            free(g);
            free(o);
        }
        {
            /* deterministic: the same bytes twice */
            unsigned char *g1 = NULL, *g2 = NULL;
            size_t l1 = 0, l2 = 0;
            assert_int_equal(tq_gzip_compress_level(in, n, 1, &g1, &l1), 0);
            assert_int_equal(tq_gzip_compress_level(in, n, 1, &g2, &l2), 0);
            assert_int_equal(l1, l2);
            assert_memory_equal(g1, g2, l1);
            free(g1);
            free(g2);
        }
        assert_int_equal(tq_gzip_compress(in, n, &gz, &gzlen), 0);
        assert_true(tq_gzip_is(gz, gzlen));
        assert_int_equal(tq_gzip_decompress(gz, gzlen, n + 10, &out, &outlen), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(out, in, n);
        free(out);
        out = NULL;
        if (n > 10) {
            /* too large for the limit; truncated input; garbage */
            assert_int_equal(tq_gzip_decompress(gz, gzlen, n - 1, &out, &outlen), -1);
            assert_null(out);
            assert_int_equal(tq_gzip_decompress(gz, gzlen / 2, n, &out, &outlen), -1);
            assert_null(out);
            assert_int_equal(tq_gzip_decompress(in, n, n, &out, &outlen), -1);
            assert_null(out);
        }
        free(gz);
        free(in);
    }
    {
        unsigned char *g = NULL;
        size_t glen = 0;
        assert_int_equal(tq_gzip_compress_level("x", 1, 10, &g, &glen), -1);
        assert_int_equal(tq_gzip_compress_level("x", 1, -1, &g, &glen), -1);
        assert_null(g);
    }
    assert_false(tq_gzip_is("\x1a\x02", 2)); /* an MVT starts with a layer (field 3) */
    assert_false(tq_gzip_is("\x1f", 1));
}

/* zlib's gzip member of in (what tiles cached before libdeflate hold). */
static unsigned char *zlib_gzip(const unsigned char *in, size_t n, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 32;
    unsigned char *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *outlen = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* tq_gzip_member: one whole member and nothing after it; the CRC-32 it reports is the plain
 * bytes' (zlib's crc32 agrees); a member written by zlib reads the same; a lying length, a
 * flipped CRC, a truncation and trailing bytes are refused. */
static void test_gzip_member(void **state)
{
    (void)state;
    size_t n = 200000, gzlen, zlen, outlen;
    unsigned char *in = malloc(n), *gz, *out = NULL;
    uint32_t crc = 0;
    for (size_t i = 0; i < n; i++)
        in[i] = (unsigned char)(i % 251 < 50 ? i * 7 : 'x');
    uint32_t want = (uint32_t)crc32(crc32(0L, Z_NULL, 0), in, (uInt)n);

    assert_int_equal(tq_gzip_compress_level(in, n, 1, &gz, &gzlen), 0);
    assert_int_equal(tq_gzip_member(gz, gzlen, n, &out, &outlen, &crc), 0);
    assert_int_equal(outlen, n);
    assert_memory_equal(out, in, n);
    assert_int_equal(crc, want);
    free(out);

    unsigned char *z = zlib_gzip(in, n, &zlen);
    crc = 0;
    assert_int_equal(tq_gzip_member(z, zlen, n, &out, &outlen, &crc), 0);
    assert_int_equal(outlen, n);
    assert_memory_equal(out, in, n);
    assert_int_equal(crc, want);
    free(out);
    free(z);

    /* too large for the limit */
    assert_int_equal(tq_gzip_member(gz, gzlen, n - 1, &out, &outlen, &crc), -1);
    assert_null(out);
    /* bytes after the member: refused here, ignored by tq_gzip_decompress */
    unsigned char *tail = malloc(gzlen + 3);
    memcpy(tail, gz, gzlen);
    memcpy(tail + gzlen, "abc", 3);
    assert_int_equal(tq_gzip_member(tail, gzlen + 3, n, &out, &outlen, &crc), -1);
    assert_null(out);
    assert_int_equal(tq_gzip_decompress(tail, gzlen + 3, n, &out, &outlen), 0);
    assert_int_equal(outlen, n);
    free(out);
    out = NULL;
    free(tail);
    /* a trailer that lies: ISIZE smaller and larger, then a flipped CRC */
    unsigned char *bad = malloc(gzlen);
    memcpy(bad, gz, gzlen);
    bad[gzlen - 4] ^= 0x10;
    assert_int_equal(tq_gzip_member(bad, gzlen, n * 2, &out, &outlen, &crc), -1);
    assert_null(out);
    memcpy(bad, gz, gzlen);
    bad[gzlen - 1] = 0x7f; /* ISIZE ~2 GB: the limit still holds */
    assert_int_equal(tq_gzip_member(bad, gzlen, n * 2, &out, &outlen, &crc), -1);
    assert_null(out);
    memcpy(bad, gz, gzlen);
    bad[gzlen - 8] ^= 0x01;
    assert_int_equal(tq_gzip_member(bad, gzlen, n, &out, &outlen, &crc), -1);
    assert_int_equal(tq_gzip_decompress(bad, gzlen, n, &out, &outlen), -1);
    assert_null(out);
    /* truncated; too short to be gzip at all */
    assert_int_equal(tq_gzip_member(gz, gzlen - 1, n, &out, &outlen, &crc), -1);
    assert_int_equal(tq_gzip_member(gz, 10, n, &out, &outlen, &crc), -1);
    assert_null(out);
    free(bad);
    free(gz);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_gzip_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

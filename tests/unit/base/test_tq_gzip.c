/* Unit tests for tq_gzip: round trips of several sizes, the output limit, truncated and
 * garbage input, the magic-bytes check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

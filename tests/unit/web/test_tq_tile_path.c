/* Unit tests for tq_tile_path: the coordinator's strict request-target parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_tile_path.h"

static enum tq_tile_path_result parse(const char *target, struct tq_tile_path *tp)
{
    const char *why = NULL;
    enum tq_tile_path_result r = tq_tile_path_parse(target, tp, &why);
    if (r == TQ_TILE_PATH_OK)
        assert_null(why);
    else
        assert_non_null(why);
    return r;
}

static void test_valid(void **state)
{
    struct tq_tile_path tp;

    assert_int_equal(parse("/demo/0/0/0.mvt", &tp), TQ_TILE_PATH_OK);
    assert_string_equal(tp.tileset, "demo");
    assert_int_equal(tp.tile.z, 0);
    assert_int_equal(tp.tile.x, 0);
    assert_int_equal(tp.tile.y, 0);
    assert_string_equal(tp.ext, "mvt");

    assert_int_equal(parse("/my-Tiles_2/14/8190/5447.pbf", &tp), TQ_TILE_PATH_OK);
    assert_string_equal(tp.tileset, "my-Tiles_2");
    assert_int_equal(tp.tile.z, 14);
    assert_int_equal(tp.tile.x, 8190);
    assert_int_equal(tp.tile.y, 5447);
    assert_string_equal(tp.ext, "pbf");

    /* The largest grid: z=30, x=y=2^30-1. */
    assert_int_equal(parse("/demo/30/1073741823/1073741823.mvt", &tp), TQ_TILE_PATH_OK);
    assert_int_equal(tp.tile.x, 1073741823u);

    /* A query string is ignored. */
    assert_int_equal(parse("/demo/3/1/2.mvt?v=1&x=%20", &tp), TQ_TILE_PATH_OK);
    assert_int_equal(tp.tile.y, 2);
}

static void test_malformed_numbers(void **state)
{
    static const char *const bad[] = {
        "/demo/a/0/0.mvt",
        "/demo/0/a/0.mvt",
        "/demo/0/0/a.mvt",
        "/demo/-1/0/0.mvt",
        "/demo/1/-1/0.mvt",
        "/demo/1/0/-1.mvt",
        "/demo/+1/0/0.mvt",
        "/demo/1/+0/0.mvt",
        "/demo/01/0/0.mvt",
        "/demo/1/00/0.mvt",
        "/demo/ 1/0/0.mvt",
        "/demo/1x/0/0.mvt",
        "/demo/0x1/0/0.mvt",
        "/demo/1e1/0/0.mvt",
        "/demo/31/0/0.mvt",
        "/demo/99999999999999999999/0/0.mvt",
        "/demo/4/18446744073709551617/0.mvt",
        "/demo/4/1/12345678901.mvt",
        "/demo/4/1/.mvt",
        "/demo//1/0.mvt",
        "/demo/1/0/0/0.mvt",
        "/demo/1/0.mvt",
        "/1/0/0.mvt",
        "/demo/1.5/0/0.mvt",
        "/demo/1/0/0.5.mvt",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tq_tile_path tp;
        enum tq_tile_path_result r = tq_tile_path_parse(bad[i], &tp, NULL);
        if (r != TQ_TILE_PATH_MALFORMED)
            fail_msg("%s: expected MALFORMED, got %d", bad[i], (int)r);
    }
}

static void test_malformed_paths(void **state)
{
    static const char *const bad[] = {
        "",
        "demo/0/0/0.mvt",
        "/demo/../0/0/0.mvt",
        "/../etc/passwd",
        "/demo/0/0/0.mvt/..",
        "//demo/0/0/0.mvt",
        "/demo/0//0/0.mvt",
        "/%2e%2e/0/0/0.mvt",
        "/demo/%30/0/0.mvt",
        "/de%6do/0/0/0.mvt",
        "/demo\\0/0/0.mvt",
        "/de.mo/0/0/0.mvt",
        "/de mo/0/0/0.mvt",
        "/d\xc3\xa9mo/0/0/0.mvt",
        "/demo/0/0/0.mvt#x",
        "/health/..",
        "http://host/demo/0/0/0.mvt",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum tq_tile_path_result r = tq_tile_path_parse(bad[i], NULL, NULL);
        if (r != TQ_TILE_PATH_MALFORMED)
            fail_msg("%s: expected MALFORMED, got %d", bad[i], (int)r);
    }
    assert_int_equal(tq_tile_path_parse(NULL, NULL, NULL), TQ_TILE_PATH_MALFORMED);
}

static void test_long_paths(void **state)
{
    const char *why = NULL;
    size_t n = 10 * 1024;
    char *p = malloc(n + 1);

    assert_non_null(p);
    /* 10 KB made of a valid-looking prefix and a long tileset name. */
    memset(p, 'a', n);
    p[0] = '/';
    memcpy(p + n - 10, "/0/0/0.mvt", 10);
    p[n] = '\0';
    assert_int_equal(tq_tile_path_parse(p, NULL, &why), TQ_TILE_PATH_MALFORMED);
    assert_string_equal(why, "path too long");

    /* Exactly at the limit is parsed (and fails on the tileset name instead). */
    memmove(p + 1, p + n - (TQ_TILE_PATH_MAX - 1), TQ_TILE_PATH_MAX);
    assert_int_equal(strlen(p), TQ_TILE_PATH_MAX);
    assert_int_equal(tq_tile_path_parse(p, NULL, &why), TQ_TILE_PATH_MALFORMED);
    assert_string_equal(why, "bad tileset name");

    /* A tileset name of TQ_TILESET_NAME_MAX-1 bytes is fine, one more is not. */
    memset(p, 'b', TQ_TILESET_NAME_MAX + 1);
    p[0] = '/';
    strcpy(p + TQ_TILESET_NAME_MAX, "/1/1/1.mvt");
    assert_int_equal(tq_tile_path_parse(p, NULL, NULL), TQ_TILE_PATH_OK);
    p[TQ_TILESET_NAME_MAX] = 'b';
    strcpy(p + TQ_TILESET_NAME_MAX + 1, "/1/1/1.mvt");
    assert_int_equal(tq_tile_path_parse(p, NULL, NULL), TQ_TILE_PATH_MALFORMED);
    free(p);
}

static void test_outside_grid(void **state)
{
    struct tq_tile_path tp;

    assert_int_equal(parse("/demo/0/1/0.mvt", &tp), TQ_TILE_PATH_OUTSIDE);
    assert_string_equal(tp.tileset, "demo");
    assert_int_equal(tp.tile.z, 0);
    assert_int_equal(parse("/demo/0/0/1.mvt", &tp), TQ_TILE_PATH_OUTSIDE);
    assert_int_equal(parse("/demo/3/8/0.mvt", &tp), TQ_TILE_PATH_OUTSIDE);
    assert_int_equal(parse("/demo/3/7/7.mvt", &tp), TQ_TILE_PATH_OK);
    assert_int_equal(parse("/demo/30/1073741824/0.mvt", &tp), TQ_TILE_PATH_OUTSIDE);
    assert_int_equal(parse("/demo/1/9999999999/0.mvt", &tp), TQ_TILE_PATH_OUTSIDE);
    assert_int_equal(parse("/demo/4/1/4294967296.mvt", &tp), TQ_TILE_PATH_OUTSIDE);
}

static void test_not_tile(void **state)
{
    static const char *const other[] = {
        "/",           "/health",         "/health?x=1",        "/demo.json", "/demo/0/0/0.png",
        "/demo/0/0/0", "/demo/0/0/0.MVT", "/demo/0/0/0.mvt.bak"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        enum tq_tile_path_result r = tq_tile_path_parse(other[i], NULL, NULL);
        if (r != TQ_TILE_PATH_NOT_TILE)
            fail_msg("%s: expected NOT_TILE, got %d", other[i], (int)r);
    }
}

static void test_path_is(void **state)
{
    assert_true(tq_tile_path_is("/health", "/health"));
    assert_true(tq_tile_path_is("/health?verbose", "/health"));
    assert_false(tq_tile_path_is("/healthz", "/health"));
    assert_false(tq_tile_path_is("/health/", "/health"));
    assert_false(tq_tile_path_is("/", "/health"));
    assert_false(tq_tile_path_is(NULL, "/health"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),           cmocka_unit_test(test_malformed_numbers),
        cmocka_unit_test(test_malformed_paths), cmocka_unit_test(test_long_paths),
        cmocka_unit_test(test_outside_grid),    cmocka_unit_test(test_not_tile),
        cmocka_unit_test(test_path_is),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

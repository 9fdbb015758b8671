/* Unit tests for cli/tq_tilelist: tile list lines and files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_tilelist.h"

static char err[512];

static void test_tilelist_line(void **state)
{
    (void)state;
    struct tq_tile t;
    assert_int_equal(tq_tilelist_parse_line("14/8298/5636\n", &t, err, sizeof err), 1);
    assert_true(t.z == 14 && t.x == 8298 && t.y == 5636);
    assert_int_equal(tq_tilelist_parse_line("  3/4/2 \r\n", &t, err, sizeof err), 1);
    assert_int_equal(tq_tilelist_parse_line("\n", &t, err, sizeof err), 0);
    assert_int_equal(tq_tilelist_parse_line("   \r\n", &t, err, sizeof err), 0);
    assert_int_equal(tq_tilelist_parse_line("# comment", &t, err, sizeof err), 0);
    assert_int_equal(tq_tilelist_parse_line("3/8/0", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "outside the grid"));
    assert_int_equal(tq_tilelist_parse_line("31/0/0", &t, err, sizeof err), -1);
    const char *bad[] = {"3/4",   "3/4/2/1", "3/-4/2", "3/4/2x",
                         "z/x/y", "3 4 2",   "3//2",   "99999999999/1/1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tq_tilelist_parse_line(bad[i], &t, err, sizeof err), -1);
}

static void test_tilelist_read(void **state)
{
    (void)state;
    struct tq_tile *tiles;
    char good[] = "3/4/2\n\n1/0/1\n3/4/2\n2/1/1\r\n";
    FILE *f = fmemopen(good, strlen(good), "r");
    long n = tq_tilelist_read(f, "list", &tiles, err, sizeof err);
    fclose(f);
    assert_int_equal(n, 3); /* sorted by zoom, duplicates out */
    assert_true(tiles[0].z == 1 && tiles[1].z == 2 && tiles[2].z == 3);
    free(tiles);

    char bad[] = "3/4/2\n1/0/1\nnot a tile\n";
    f = fmemopen(bad, strlen(bad), "r");
    n = tq_tilelist_read(f, "list", &tiles, err, sizeof err);
    fclose(f);
    assert_int_equal(n, -1);
    assert_null(tiles);
    assert_non_null(strstr(err, "list:3: 'not a tile' is not a tile"));

    n = tq_tilelist_load("/nonexistent/tiles.txt", &tiles, err, sizeof err);
    assert_int_equal(n, -1);
    assert_non_null(strstr(err, "cannot open tile list /nonexistent/tiles.txt"));
    /* A directory opens but does not read: line 1. */
    n = tq_tilelist_load("/", &tiles, err, sizeof err);
    assert_int_equal(n, -1);
    assert_non_null(strstr(err, "/:1: read error"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tilelist_line),
        cmocka_unit_test(test_tilelist_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

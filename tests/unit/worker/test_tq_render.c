/* Unit tests for tq_render's pure parts: the statement's parameters for a metatile (the
 * bounds, the margin, the pad, the tile left out), the margin and the token substitution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_render.h"

static double num(const struct tq_render_params *p, int i)
{
    assert_ptr_equal(p->values[i], p->text[i]);
    return strtod(p->values[i], NULL);
}

static void test_margin(void **state)
{
    /* a tile's width times buffer / extent */
    assert_true(tq_render_margin(0, 64, 4096) == 2 * TQ_MERC_MAX * 64 / 4096);
    assert_true(tq_render_margin(1, 64, 4096) == TQ_MERC_MAX * 64 / 4096);
    assert_true(tq_render_margin(5, 0, 4096) == 0);
}

static void test_params(void **state)
{
    struct tq_tileset_config ts;
    struct tq_render_params p;
    memset(&ts, 0, sizeof ts);
    ts.extent = 4096;
    ts.buffer = 64;

    /* z1: the whole world as one 2x2 metatile */
    struct tq_metatile m = {1, 0, 0, 2, 2};
    double margin = tq_render_margin(1, 64, 4096);
    tq_render_params(&ts, &m, NULL, &p);
    assert_string_equal(p.values[0], "1"); /* zoom */
    assert_string_equal(p.values[1], "0"); /* first column, row, last column, row */
    assert_string_equal(p.values[2], "0");
    assert_string_equal(p.values[3], "1");
    assert_string_equal(p.values[4], "1");
    /* $6..$9: the bounds grown by the margin (and a hair) */
    assert_true(num(&p, 5) == -TQ_MERC_MAX - (margin + 1e-6));
    assert_true(num(&p, 6) == -TQ_MERC_MAX - (margin + 1e-6));
    assert_true(num(&p, 7) == TQ_MERC_MAX + (margin + 1e-6));
    assert_true(num(&p, 8) == TQ_MERC_MAX + (margin + 1e-6));
    assert_true(num(&p, 9) == margin);
    /* $11: more than the margin, by a slack of a few float4 ulps */
    assert_true(num(&p, 10) > margin);
    assert_true(num(&p, 10) < margin + 100);
    /* $12..$15: west, east, north, south */
    assert_true(num(&p, 11) == -TQ_MERC_MAX);
    assert_true(num(&p, 12) == TQ_MERC_MAX);
    assert_true(num(&p, 13) == TQ_MERC_MAX);
    assert_true(num(&p, 14) == -TQ_MERC_MAX);
    /* no tile left out */
    assert_string_equal(p.values[15], "-1");
    assert_string_equal(p.values[16], "-1");

    /* a tile left out: its column and row */
    struct tq_tile skip = {1, 1, 0};
    tq_render_params(&ts, &m, &skip, &p);
    assert_string_equal(p.values[15], "1");
    assert_string_equal(p.values[16], "0");

    /* an 8x8 metatile deeper down: last column and row */
    struct tq_metatile deep = {12, 1000, 1400, 8, 8};
    tq_render_params(&ts, &deep, NULL, &p);
    assert_string_equal(p.values[3], "1007");
    assert_string_equal(p.values[4], "1407");
    assert_true(num(&p, 11) < num(&p, 12)); /* west < east */
    assert_true(num(&p, 14) < num(&p, 13)); /* south < north */
}

static void test_substitute(void **state)
{
    char *s = tq_render_substitute("SELECT geom FROM t WHERE geom && !BBOX! AND !ZOOM! > 3 AND "
                                   "a != '!' AND !BBOX!",
                                   "B", "Z");
    assert_string_equal(s, "SELECT geom FROM t WHERE geom && B AND Z > 3 AND a != '!' AND B");
    free(s);
    s = tq_render_substitute("", "B", "Z");
    assert_string_equal(s, "");
    free(s);
    s = tq_render_substitute("!BBOX", "B", "Z");
    assert_string_equal(s, "!BBOX");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_margin),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_substitute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

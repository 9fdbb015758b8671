/* Unit tests for cli/tq_tilespec: bbox and zoom parsing, tile lists, parent/child expansion,
 * metatile walks, the string set and warm/expire option parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_tilespec.h"

static char err[512];

static void test_bbox(void **state)
{
    (void)state;
    double b[4];
    assert_int_equal(tq_bbox_parse("-10,35.5,30,60", b, err, sizeof err), 0);
    assert_true(b[0] == -10 && b[1] == 35.5 && b[2] == 30 && b[3] == 60);
    assert_int_equal(tq_bbox_parse("2.2, 48.8, 2.5, 48.9", b, err, sizeof err), 0);
    assert_int_equal(tq_bbox_parse("-180,-85.0511,180,85.0511", b, err, sizeof err), 0);
    assert_int_equal(tq_bbox_parse("30,35,-10,60", b, err, sizeof err), -1);
    assert_non_null(strstr(err, "inverted bbox: west 30"));
    assert_int_equal(tq_bbox_parse("-10,60,30,35", b, err, sizeof err), -1);
    assert_non_null(strstr(err, "inverted bbox: south 60"));
    assert_int_equal(tq_bbox_parse("-10,35,30,85.06", b, err, sizeof err), -1);
    assert_non_null(strstr(err, "beyond ±85.0511"));
    assert_int_equal(tq_bbox_parse("-10,-86,30,60", b, err, sizeof err), -1);
    assert_non_null(strstr(err, "south latitude -86"));
    assert_int_equal(tq_bbox_parse("-181,35,30,60", b, err, sizeof err), -1);
    assert_non_null(strstr(err, "longitude"));
    const char *bad[] = {"",         "1,2,3",     "1,2,3,4,5", "a,2,3,4", "1,,3,4",
                         "1,2,3,4x", "nan,2,3,4", "inf,2,3,4", "1;2;3;4"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(tq_bbox_parse(bad[i], b, err, sizeof err), -1);
        assert_non_null(strstr(err, "bad bbox"));
    }
}

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

static void test_expand(void **state)
{
    (void)state;
    struct tq_tile t = {10, 518, 352};
    struct tq_tile_range r = tq_tile_range_at_zoom(t, 10);
    assert_true(r.z == 10 && r.xmin == 518 && r.xmax == 518 && r.ymin == 352 && r.ymax == 352);
    r = tq_tile_range_at_zoom(t, 7); /* parent: >> 3 */
    assert_true(r.z == 7 && r.xmin == 64 && r.xmax == 64 && r.ymin == 44 && r.ymax == 44);
    r = tq_tile_range_at_zoom(t, 0);
    assert_true(r.xmin == 0 && r.xmax == 0 && r.ymin == 0 && r.ymax == 0);
    r = tq_tile_range_at_zoom(t, 12); /* children: 4×4 */
    assert_true(r.z == 12 && r.xmin == 2072 && r.xmax == 2075 && r.ymin == 1408 && r.ymax == 1411);
    struct tq_tile top = {0, 0, 0};
    r = tq_tile_range_at_zoom(top, 30);
    assert_true(r.xmin == 0 && r.xmax == 0x3fffffff && r.ymax == 0x3fffffff);
}

static void test_metatile_iter(void **state)
{
    (void)state;
    struct tq_metatile_iter it;
    struct tq_metatile m;
    /* z6, x 30..41, y 20..22, metatile 8: columns 24, 32, 40; one row 16. */
    struct tq_tile_range r = {6, 30, 20, 41, 22};
    tq_metatile_iter_init(&it, &r, 8);
    uint32_t want[][2] = {{24, 16}, {32, 16}, {40, 16}};
    size_t n = 0;
    while (tq_metatile_iter_next(&it, &m)) {
        assert_true(n < 3);
        assert_true(m.mx == want[n][0] && m.my == want[n][1] && m.w == 8 && m.h == 8);
        n++;
    }
    assert_int_equal(n, 3);
    assert_int_equal(tq_tile_range_metatile_tiles(&r, 8), 3 * 64);
    /* Clamped at z1: one 2×2 metatile. */
    struct tq_tile_range r1 = {1, 0, 0, 1, 1};
    tq_metatile_iter_init(&it, &r1, 8);
    assert_true(tq_metatile_iter_next(&it, &m) && m.w == 2 && m.h == 2);
    assert_false(tq_metatile_iter_next(&it, &m));
    assert_int_equal(tq_tile_range_metatile_tiles(&r1, 8), 4);
    /* The whole z30 grid's last metatile does not wrap around. */
    struct tq_tile_range rl = {30, 0x3ffffff8, 0x3ffffff8, 0x3fffffff, 0x3fffffff};
    tq_metatile_iter_init(&it, &rl, 8);
    assert_true(tq_metatile_iter_next(&it, &m));
    assert_false(tq_metatile_iter_next(&it, &m));
    /* Clip. */
    struct tq_tile_range part;
    struct tq_metatile mm = {6, 32, 16, 8, 8};
    assert_true(tq_tile_range_clip(&r, &mm, &part));
    assert_true(part.xmin == 32 && part.xmax == 39 && part.ymin == 20 && part.ymax == 22);
    struct tq_metatile far = {6, 0, 0, 8, 8};
    assert_false(tq_tile_range_clip(&r, &far, &part));
}

static int parse(int warm, struct tq_area_opts *o, ...)
{
    static char pool[32][128];
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, o);
    snprintf(pool[0], sizeof pool[0], "%s", warm ? "warm" : "expire");
    argv[argc] = pool[argc];
    argc++;
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 31) {
        snprintf(pool[argc], sizeof pool[argc], "%s", a);
        argv[argc] = pool[argc];
        argc++;
    }
    va_end(ap);
    argv[argc] = NULL;
    return warm ? tq_warm_opts_parse(argc, argv, o, err, sizeof err)
                : tq_expire_opts_parse(argc, argv, o, err, sizeof err);
}

static void test_opts(void **state)
{
    (void)state;
    struct tq_area_opts o;
    assert_int_equal(parse(1, &o, "--tileset", "demo", "--bbox", "-10,35,30,60", "--zoom", "0-6",
                           "--wait", "--max-queued", "50", NULL),
                     0);
    assert_true(o.has_bbox && o.wait && !o.force && o.max_queued == 50 && o.zmin == 0 &&
                o.zmax == 6);
    assert_string_equal(o.tileset, "demo");
    assert_int_equal(parse(1, &o, "--tileset=demo", "--tiles", "-", "--zoom=3-5", "--force", NULL),
                     0);
    assert_true(o.force && o.max_queued == TQ_WARM_DEFAULT_MAX_QUEUED);
    assert_string_equal(o.tiles, "-");

    assert_int_equal(parse(1, &o, "--bbox", "1,2,3,4", "--zoom", "1", NULL), -1);
    assert_non_null(strstr(err, "--tileset"));
    assert_int_equal(parse(1, &o, "--tileset", "demo", "--zoom", "1", NULL), -1);
    assert_non_null(strstr(err, "either --bbox"));
    assert_int_equal(
        parse(1, &o, "--tileset", "demo", "--bbox", "1,2,3,4", "--tiles", "f", "--zoom", "1", NULL),
        -1);
    assert_int_equal(parse(1, &o, "--tileset", "demo", "--bbox", "1,2,3,4", NULL), -1);
    assert_non_null(strstr(err, "--zoom"));
    assert_int_equal(parse(1, &o, "--tileset", "demo", "--bbox", "3,2,1,4", "--zoom", "1", NULL),
                     -1);
    assert_non_null(strstr(err, "inverted bbox"));
    assert_int_equal(
        parse(1, &o, "--tileset", "demo", "--bbox", "1,2,3,4", "--zoom", "1", "--rerender", NULL),
        -1);
    assert_non_null(strstr(err, "unknown option '--rerender'"));
    assert_int_equal(parse(1, &o, "--tileset", NULL), -1);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_equal(
        parse(1, &o, "--tileset", "demo", "--bbox", "1,2,3,4", "--zoom", "1", "extra", NULL), -1);
    assert_non_null(strstr(err, "unexpected argument 'extra'"));
    assert_int_equal(parse(1, &o, "--tileset", "demo", "--bbox", "1,2,3,4", "--zoom", "1",
                           "--max-queued", "0", NULL),
                     -1);
    assert_int_equal(parse(1, &o, "--help", NULL), 0);
    assert_true(o.help);

    assert_int_equal(parse(0, &o, "--tileset", "demo", "--tiles", "x", "--min-zoom", "3",
                           "--max-zoom", "9", "--rerender", NULL),
                     0);
    assert_true(o.rerender && o.has_min_zoom && o.min_zoom == 3 && o.max_zoom == 9);
    assert_int_equal(parse(0, &o, "--tileset", "demo", "--bbox", "1,2,3,4", NULL), -1);
    assert_non_null(strstr(err, "--bbox needs --zoom"));
    assert_int_equal(parse(0, &o, "--tileset", "demo", "--tiles", "x", "--min-zoom", "9",
                           "--max-zoom", "3", NULL),
                     -1);
    assert_int_equal(parse(0, &o, "--tileset", "demo", "--tiles", "x", "--wait", NULL), -1);

    /* Zooms against the tileset. */
    struct tq_tileset_config ts = {.name = "demo", .minzoom = 0, .maxzoom = 14, .metatile = 8};
    int lo, hi;
    assert_int_equal(parse(0, &o, "--tileset", "demo", "--tiles", "x", NULL), 0);
    assert_int_equal(tq_area_opts_zooms(&o, &ts, &lo, &hi, err, sizeof err), 0);
    assert_true(lo == 0 && hi == 14);
    assert_int_equal(parse(0, &o, "--tileset", "demo", "--tiles", "x", "--min-zoom", "5", NULL), 0);
    assert_int_equal(tq_area_opts_zooms(&o, &ts, &lo, &hi, err, sizeof err), 0);
    assert_true(lo == 5 && hi == 14);
    assert_int_equal(
        parse(1, &o, "--tileset", "demo", "--bbox", "1,2,3,4", "--zoom", "10-15", NULL), 0);
    assert_int_equal(tq_area_opts_zooms(&o, &ts, &lo, &hi, err, sizeof err), -1);
    assert_string_equal(err, "zoom 15 outside tileset demo's range 0-14");
    ts.minzoom = 2;
    assert_int_equal(parse(1, &o, "--tileset", "demo", "--bbox", "1,2,3,4", "--zoom", "0-5", NULL),
                     0);
    assert_int_equal(tq_area_opts_zooms(&o, &ts, &lo, &hi, err, sizeof err), -1);
    assert_string_equal(err, "zoom 0 outside tileset demo's range 2-14");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bbox),          cmocka_unit_test(test_tilelist_line),
        cmocka_unit_test(test_tilelist_read), cmocka_unit_test(test_expand),
        cmocka_unit_test(test_metatile_iter), cmocka_unit_test(test_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

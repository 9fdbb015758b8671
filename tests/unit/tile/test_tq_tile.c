/* Unit tests for tq_tile: web-mercator tile math. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "tq_tile.h"

static void test_valid(void **state)
{
    assert_int_equal(tq_tile_valid(0, 0, 0), 0);
    assert_int_equal(tq_tile_valid(0, 1, 0), -1);
    assert_int_equal(tq_tile_valid(0, 0, 1), -1);
    assert_int_equal(tq_tile_valid(1, 1, 1), 0);
    assert_int_equal(tq_tile_valid(1, 2, 0), -1);
    assert_int_equal(tq_tile_valid(-1, 0, 0), -1);
    assert_int_equal(tq_tile_valid(31, 0, 0), -1);
    assert_int_equal(tq_tile_valid(30, (1 << 30) - 1, (1 << 30) - 1), 0);
    assert_int_equal(tq_tile_valid(30, 1 << 30, 0), -1);
    assert_int_equal(tq_tile_valid(5, -1, 0), -1);
    assert_int_equal(tq_tile_valid(5, 0, -1), -1);
    assert_int_equal(tq_tile_valid(5, INT64_MAX, 0), -1);
    assert_int_equal(tq_tile_valid(5, INT64_MIN, 0), -1);
    assert_int_equal(tq_tile_grid_size(0), 1);
    assert_int_equal(tq_tile_grid_size(14), 16384);
    assert_int_equal(tq_tile_grid_size(30), 1u << 30);
}

struct envelope {
    int z;
    uint32_t x, y;
    double xmin, ymin, xmax, ymax;
};

/* Values printed by PostGIS 3 (PostgreSQL 15, extra_float_digits=3) for
 * ST_TileEnvelope(z, x, y): the bounds must be bit-identical. */
static const struct envelope postgis[] = {
    {0, 0, 0, -20037508.342789244, -20037508.342789244, 20037508.342789244, 20037508.342789244},
    {1, 1, 0, 0, 0, 20037508.342789244, 20037508.342789244},
    {2, 3, 3, 10018754.17139462, -20037508.342789244, 20037508.342789244, -10018754.17139462},
    {5, 3, 17, -16280475.52851626, -2504688.542848654, -15028131.257091932, -1252344.271424327},
    {14, 8191, 5000, -2445.984905127436, 7805137.8322559185, 0, 7807583.817161044},
    {20, 524287, 1, -38.218514144420624, 20037431.90576096, 0, 20037470.1242751},
    {30, 123456789, 987654321, -15429759.283809733, -16824484.502274517, -15429759.246486966,
     -16824484.464951742},
    {30, 1073741823, 1073741823, 20037508.305466477, -20037508.342789244, 20037508.342789244,
     -20037508.305466477},
};

static void test_bounds_match_postgis(void **state)
{
    for (size_t i = 0; i < sizeof postgis / sizeof postgis[0]; i++) {
        const struct envelope *e = &postgis[i];
        struct tq_tile t = {e->z, e->x, e->y};
        struct tq_bbox b = tq_tile_bounds(t);
        assert_true(b.xmin == e->xmin);
        assert_true(b.ymin == e->ymin);
        assert_true(b.xmax == e->xmax);
        assert_true(b.ymax == e->ymax);
    }
}

static void test_metatile_basic(void **state)
{
    struct tq_tile t = {10, 517, 300};
    struct tq_metatile m = tq_tile_metatile(t, 8);
    assert_int_equal(m.z, 10);
    assert_int_equal(m.mx, 512);
    assert_int_equal(m.my, 296);
    assert_int_equal(m.w, 8);
    assert_int_equal(m.h, 8);
    assert_int_equal(tq_metatile_count(&m), 64);
    assert_true(tq_metatile_contains(&m, t));
    struct tq_tile first = tq_metatile_tile(&m, 0);
    assert_int_equal(first.x, 512);
    assert_int_equal(first.y, 296);
    struct tq_tile ninth = tq_metatile_tile(&m, 9); /* row-major: second row, second column */
    assert_int_equal(ninth.x, 513);
    assert_int_equal(ninth.y, 297);
    struct tq_tile last = tq_metatile_tile(&m, 63);
    assert_int_equal(last.x, 519);
    assert_int_equal(last.y, 303);
    assert_int_equal(last.z, 10);

    struct tq_tile outside = {10, 520, 300};
    assert_false(tq_metatile_contains(&m, outside));
    struct tq_tile other_zoom = {11, 517, 300};
    assert_false(tq_metatile_contains(&m, other_zoom));
    struct tq_tile above = {10, 512, 295};
    assert_false(tq_metatile_contains(&m, above));

    /* every tile of the metatile maps back to the same metatile */
    for (uint32_t i = 0; i < tq_metatile_count(&m); i++) {
        struct tq_metatile back = tq_tile_metatile(tq_metatile_tile(&m, i), 8);
        assert_int_equal(back.mx, m.mx);
        assert_int_equal(back.my, m.my);
    }
}

static void test_metatile_clamped(void **state)
{
    struct tq_tile t = {1, 1, 0};
    struct tq_metatile m = tq_tile_metatile(t, 8);
    assert_int_equal(m.mx, 0);
    assert_int_equal(m.my, 0);
    assert_int_equal(m.w, 2);
    assert_int_equal(m.h, 2);
    assert_int_equal(tq_metatile_count(&m), 4);

    struct tq_tile t0 = {0, 0, 0};
    m = tq_tile_metatile(t0, 64);
    assert_int_equal(tq_metatile_count(&m), 1);
    struct tq_bbox b = tq_metatile_bounds(&m);
    struct tq_bbox tb = tq_tile_bounds(t0);
    assert_true(b.xmin == tb.xmin && b.ymin == tb.ymin && b.xmax == tb.xmax && b.ymax == tb.ymax);

    /* z=3 with size 8: exactly the grid */
    struct tq_tile t3 = {3, 7, 7};
    m = tq_tile_metatile(t3, 8);
    assert_int_equal(m.mx, 0);
    assert_int_equal(m.w, 8);
    assert_int_equal(tq_metatile_count(&m), 64);

    /* size not a power of two: the last metatile of a row is cut at the grid's edge */
    struct tq_tile t4 = {2, 3, 3};
    m = tq_tile_metatile(t4, 3);
    assert_int_equal(m.mx, 3);
    assert_int_equal(m.my, 3);
    assert_int_equal(m.w, 1);
    assert_int_equal(m.h, 1);

    /* size 1: the tile itself */
    struct tq_tile t5 = {12, 100, 200};
    m = tq_tile_metatile(t5, 1);
    assert_int_equal(m.mx, 100);
    assert_int_equal(m.my, 200);
    assert_int_equal(tq_metatile_count(&m), 1);

    /* size 0 behaves as 1 rather than dividing by zero */
    m = tq_tile_metatile(t5, 0);
    assert_int_equal(tq_metatile_count(&m), 1);
}

static void test_metatile_bounds(void **state)
{
    struct tq_tile t = {5, 9, 20};
    struct tq_metatile m = tq_tile_metatile(t, 4);
    struct tq_bbox b = tq_metatile_bounds(&m);
    struct tq_tile tl = {5, 8, 20}, br = {5, 11, 23};
    struct tq_bbox btl = tq_tile_bounds(tl), bbr = tq_tile_bounds(br);
    assert_true(b.xmin == btl.xmin);
    assert_true(b.ymax == btl.ymax);
    assert_true(b.xmax == bbr.xmax);
    assert_true(b.ymin == bbr.ymin);
}

static void test_range_from_lonlat(void **state)
{
    struct tq_tile_range r;

    assert_int_equal(tq_tile_range_from_lonlat(-180, -90, 180, 90, 0, &r), 0);
    assert_int_equal(r.xmin, 0);
    assert_int_equal(r.xmax, 0);
    assert_int_equal(r.ymin, 0);
    assert_int_equal(r.ymax, 0);

    /* whole world at z=3: lat clamped, east edge at 180 is the last column */
    assert_int_equal(tq_tile_range_from_lonlat(-180, -90, 180, 90, 3, &r), 0);
    assert_int_equal(r.z, 3);
    assert_int_equal(r.xmin, 0);
    assert_int_equal(r.xmax, 7);
    assert_int_equal(r.ymin, 0);
    assert_int_equal(r.ymax, 7);

    assert_int_equal(tq_tile_range_from_lonlat(170, -10, 180, 10, 30, &r), 0);
    assert_int_equal(r.xmax, (1u << 30) - 1);

    /* a point: Paris at z=10 is 518/352 */
    assert_int_equal(tq_tile_range_from_lonlat(2.3522, 48.8566, 2.3522, 48.8566, 10, &r), 0);
    assert_int_equal(r.xmin, 518);
    assert_int_equal(r.xmax, 518);
    assert_int_equal(r.ymin, 352);
    assert_int_equal(r.ymax, 352);

    /* north-east quadrant at z=1 */
    assert_int_equal(tq_tile_range_from_lonlat(0.001, 0.001, 179, 80, 1, &r), 0);
    assert_int_equal(r.xmin, 1);
    assert_int_equal(r.xmax, 1);
    assert_int_equal(r.ymin, 0);
    assert_int_equal(r.ymax, 0);

    /* the clamping latitude itself maps to the first / last row */
    assert_int_equal(tq_tile_range_from_lonlat(-1, -TQ_LAT_MAX, 1, TQ_LAT_MAX, 8, &r), 0);
    assert_int_equal(r.ymin, 0);
    assert_int_equal(r.ymax, 255);

    /* invalid input */
    assert_int_equal(tq_tile_range_from_lonlat(10, 0, 5, 1, 3, &r), -1);    /* west > east */
    assert_int_equal(tq_tile_range_from_lonlat(0, 10, 1, 5, 3, &r), -1);    /* south > north */
    assert_int_equal(tq_tile_range_from_lonlat(-181, 0, 1, 1, 3, &r), -1);  /* lon */
    assert_int_equal(tq_tile_range_from_lonlat(0, 0, 180.5, 1, 3, &r), -1); /* lon */
    assert_int_equal(tq_tile_range_from_lonlat(0, -91, 1, 1, 3, &r), -1);   /* lat */
    assert_int_equal(tq_tile_range_from_lonlat(0, 0, 1, 90.1, 3, &r), -1);  /* lat */
    assert_int_equal(tq_tile_range_from_lonlat(NAN, 0, 1, 1, 3, &r), -1);
    assert_int_equal(tq_tile_range_from_lonlat(0, 0, 1, NAN, 3, &r), -1);
    assert_int_equal(tq_tile_range_from_lonlat(-INFINITY, 0, 1, 1, 3, &r), -1);
    assert_int_equal(tq_tile_range_from_lonlat(0, 0, 1, 1, -1, &r), -1);
    assert_int_equal(tq_tile_range_from_lonlat(0, 0, 1, 1, 31, &r), -1);
}

static void test_range_covers_tiles(void **state)
{
    /* each tile's own lon/lat centre maps back into the tile */
    for (int z = 0; z <= 12; z += 3) {
        uint32_t n = tq_tile_grid_size(z);
        for (uint32_t x = 0; x < n; x += (n > 8 ? n / 8 : 1)) {
            for (uint32_t y = 0; y < n; y += (n > 8 ? n / 8 : 1)) {
                struct tq_tile t = {z, x, y};
                struct tq_bbox b = tq_tile_bounds(t);
                double cx = (b.xmin + b.xmax) / 2, cy = (b.ymin + b.ymax) / 2;
                double lon = cx / TQ_MERC_MAX * 180.0;
                double lat = atan(sinh(cy / TQ_MERC_MAX * M_PI)) * 180.0 / M_PI;
                struct tq_tile_range r;
                assert_int_equal(tq_tile_range_from_lonlat(lon, lat, lon, lat, z, &r), 0);
                assert_int_equal(r.xmin, x);
                assert_int_equal(r.ymin, y);
            }
        }
    }
}

static void test_parse(void **state)
{
    struct tq_tile t;

    assert_int_equal(tq_tile_parse("0/0/0", &t), 0);
    assert_int_equal(t.z, 0);
    assert_int_equal(tq_tile_parse("14/8190/5447", &t), 0);
    assert_int_equal(t.z, 14);
    assert_int_equal(t.x, 8190);
    assert_int_equal(t.y, 5447);
    assert_int_equal(tq_tile_parse("30/1073741823/1073741823", &t), 0);
    assert_int_equal(t.x, 1073741823u);

    const char *bad[] = {
        "",
        "0",
        "0/0",
        "0/0/",
        "/0/0",
        "0//0",
        "0/0/0/",
        "0/0/0/0",
        "+1/0/0",
        "-1/0/0",
        "1/-0/0",
        "1/+1/0",
        " 1/0/0",
        "1 /0/0",
        "1/0/0 ",
        "1/0/0\n",
        "1/0/0x",
        "1/0/0.mvt",
        "1/2/0",  /* x >= 2^z */
        "31/0/0", /* z > 30 */
        "30/1073741824/0",
        "4294967296/0/0",           /* overflows 32 bits */
        "99999999999999999999/0/0", /* overflows 64 bits */
        "1/99999999999999999999999999/0",
        "0x1/0/0",
        "1/1e1/0",
        "a/b/c",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (tq_tile_parse(bad[i], &t) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(tq_tile_parse(NULL, &t), -1);
}

static void test_zoom_range(void **state)
{
    (void)state;
    char err[128];
    int a = -1, b = -1;
    assert_int_equal(tq_zoom_range_parse("0-6", &a, &b, err, sizeof err), 0);
    assert_true(a == 0 && b == 6);
    assert_int_equal(tq_zoom_range_parse("12", &a, &b, err, sizeof err), 0);
    assert_true(a == 12 && b == 12);
    assert_int_equal(tq_zoom_range_parse("30-30", &a, &b, NULL, 0), 0);
    assert_true(a == 30 && b == 30);
    assert_int_equal(tq_zoom_range_parse("07-09", &a, &b, NULL, 0), 0);
    assert_true(a == 7 && b == 9);
    assert_int_equal(tq_zoom_range_parse("6-2", &a, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "inverted zoom range"));
    const char *bad[] = {"",      "-",   "1-", "-3", "31", "0-31", "a-b",
                         "1-2-3", "001", "+1", " 1", "1 ", "1-+2", "99"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (tq_zoom_range_parse(bad[i], &a, &b, err, sizeof err) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(err, "bad zoom range"));
    }
    assert_int_equal(tq_zoom_range_parse(NULL, &a, &b, NULL, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_bounds_match_postgis),
        cmocka_unit_test(test_metatile_basic),
        cmocka_unit_test(test_metatile_clamped),
        cmocka_unit_test(test_metatile_bounds),
        cmocka_unit_test(test_range_from_lonlat),
        cmocka_unit_test(test_range_covers_tiles),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_zoom_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

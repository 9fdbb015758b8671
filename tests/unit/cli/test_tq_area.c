/* Unit tests for cli/tq_area: bbox parsing, warm/expire option parsing and zoom resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_area.h"

static char err[512];

static void test_bbox(void **state)
{
    (void)state;
    double b[4];
    assert_int_equal(tq_area_bbox_parse("-10,35.5,30,60", b, err, sizeof err), 0);
    assert_true(b[0] == -10 && b[1] == 35.5 && b[2] == 30 && b[3] == 60);
    assert_int_equal(tq_area_bbox_parse("2.2, 48.8, 2.5, 48.9", b, err, sizeof err), 0);
    assert_int_equal(tq_area_bbox_parse("-180,-85.0511,180,85.0511", b, err, sizeof err), 0);
    assert_int_equal(tq_area_bbox_parse("30,35,-10,60", b, err, sizeof err), -1);
    assert_non_null(strstr(err, "inverted bbox: west 30"));
    assert_int_equal(tq_area_bbox_parse("-10,60,30,35", b, err, sizeof err), -1);
    assert_non_null(strstr(err, "inverted bbox: south 60"));
    assert_int_equal(tq_area_bbox_parse("-10,35,30,85.06", b, err, sizeof err), -1);
    assert_non_null(strstr(err, "beyond ±85.0511"));
    assert_int_equal(tq_area_bbox_parse("-10,-86,30,60", b, err, sizeof err), -1);
    assert_non_null(strstr(err, "south latitude -86"));
    assert_int_equal(tq_area_bbox_parse("-181,35,30,60", b, err, sizeof err), -1);
    assert_non_null(strstr(err, "longitude"));
    const char *bad[] = {"",         "1,2,3",     "1,2,3,4,5", "a,2,3,4", "1,,3,4",
                         "1,2,3,4x", "nan,2,3,4", "inf,2,3,4", "1;2;3;4"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(tq_area_bbox_parse(bad[i], b, err, sizeof err), -1);
        assert_non_null(strstr(err, "bad bbox"));
    }
}

/* warm: 1 warm, 0 expire, 2 export. */
static int parse(int warm, struct tq_area_opts *o, ...)
{
    static char pool[32][128];
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, o);
    snprintf(pool[0], sizeof pool[0], "%s", warm == 2 ? "export" : warm ? "warm" : "expire");
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
    if (warm == 2)
        return tq_area_export_parse(argc, argv, o, err, sizeof err);
    return warm ? tq_area_warm_parse(argc, argv, o, err, sizeof err)
                : tq_area_expire_parse(argc, argv, o, err, sizeof err);
}

/* export: the world by default, waits, -o required, only its own options known. */
static void test_export_opts(void **state)
{
    (void)state;
    struct tq_area_opts o;
    assert_int_equal(parse(2, &o, "--tileset", "demo", "-o", "a.pmtiles", NULL), 0);
    assert_true(o.has_bbox && o.wait && !o.has_zoom && o.max_queued == TQ_WARM_DEFAULT_MAX_QUEUED);
    assert_true(o.bbox[0] == -180 && o.bbox[2] == 180 && o.bbox[1] == -TQ_LAT_MAX &&
                o.bbox[3] == TQ_LAT_MAX);
    assert_string_equal(o.output, "a.pmtiles");
    assert_int_equal(parse(2, &o, "--tileset=demo", "--bbox", "-10,35,30,60", "--zoom", "0-6",
                           "--output", "b.mbtiles", "--max-queued", "9", NULL),
                     0);
    assert_true(o.bbox[0] == -10 && o.zmax == 6 && o.max_queued == 9);
    assert_string_equal(o.output, "b.mbtiles");
    assert_int_equal(parse(2, &o, "--tileset", "demo", NULL), -1);
    assert_string_equal(err, "-o FILE.pmtiles|FILE.mbtiles is required");
    assert_int_equal(parse(2, &o, "-o", "a.pmtiles", NULL), -1);
    assert_string_equal(err, "--tileset NAME is required");
    assert_int_equal(parse(2, &o, "--tileset", "demo", "-o", "a.pmtiles", "--rerender", NULL), -1);
    assert_string_equal(err, "unknown option '--rerender'");
    assert_int_equal(parse(2, &o, "--tileset", "demo", "-o", "a.pmtiles", "--force", NULL), -1);
    assert_string_equal(err, "unknown option '--force'");
    assert_int_equal(parse(2, &o, "--tileset", "demo", "-o", NULL), -1);
    assert_string_equal(err, "-o needs a value");
    /* warm and expire do not know -o */
    assert_int_equal(parse(1, &o, "--tileset", "demo", "-o", "a.pmtiles", NULL), -1);
    assert_string_equal(err, "unknown option '-o'");
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
    assert_int_equal(tq_area_zooms(&o, &ts, &lo, &hi, err, sizeof err), 0);
    assert_true(lo == 0 && hi == 14);
    assert_int_equal(parse(0, &o, "--tileset", "demo", "--tiles", "x", "--min-zoom", "5", NULL), 0);
    assert_int_equal(tq_area_zooms(&o, &ts, &lo, &hi, err, sizeof err), 0);
    assert_true(lo == 5 && hi == 14);
    assert_int_equal(
        parse(1, &o, "--tileset", "demo", "--bbox", "1,2,3,4", "--zoom", "10-15", NULL), 0);
    assert_int_equal(tq_area_zooms(&o, &ts, &lo, &hi, err, sizeof err), -1);
    assert_string_equal(err, "zoom 15 outside tileset demo's range 0-14");
    ts.minzoom = 2;
    assert_int_equal(parse(1, &o, "--tileset", "demo", "--bbox", "1,2,3,4", "--zoom", "0-5", NULL),
                     0);
    assert_int_equal(tq_area_zooms(&o, &ts, &lo, &hi, err, sizeof err), -1);
    assert_string_equal(err, "zoom 0 outside tileset demo's range 2-14");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bbox),
        cmocka_unit_test(test_opts),
        cmocka_unit_test(test_export_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

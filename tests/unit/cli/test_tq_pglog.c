/* Unit tests for tq_pglog: every log format through the report (hand-written fixtures in
 * tests/unit/data/pglog/). The parts: test_tq_pglog_{read,format,prefix,sql}.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tq_pglog.h"
#include "tq_report.h"

#define DATA TQ_TEST_DATA_DIR "/pglog/"

struct run {
    struct tq_report *r;
    struct tq_report_input in;
    struct tq_report_summary s;
};

static void run_file(const char *file, uint32_t metatile, struct run *out)
{
    const char *files[] = {file};
    char err[256];
    struct tq_pglog_options o = {TQ_PGLOG_DEFAULT_BUFFER, metatile};
    struct tq_pglog *p = tq_pglog_open(files, 1, &o);
    assert_non_null(p);
    out->r = tq_report_new(NULL, "test");
    assert_non_null(out->r);
    assert_true(tq_report_consume(out->r, tq_pglog_next, p, err, sizeof err) >= 0);
    tq_pglog_stats(p, &out->in);
    tq_report_summarize(out->r, &out->s);
    tq_pglog_close(p);
}

static void check_stderr_m(const char *file)
{
    struct run x;
    run_file(file, 1, &x);
    assert_int_equal(x.in.lines, 11);
    assert_int_equal(x.in.entries, 9); /* the 3-line query is one entry */
    assert_int_equal(x.in.render_queries, 3);
    assert_int_equal(x.in.skipped, 4);
    assert_int_equal(x.in.unresolved, 1);
    assert_int_equal(x.in.malformed, 1);
    assert_int_equal(x.s.renders, 3);
    assert_int_equal(x.s.tiles, 2);
    assert_int_equal(x.s.duplicates, 1);
    assert_true(x.s.duplicate_ms > 29.999 && x.s.duplicate_ms < 30.001);
    struct tq_tile t = {10, 518, 352};
    assert_int_equal(tq_report_tile_renders(x.r, "-", "public.roads", t), 2);
    struct tq_tile t2 = {14, 8298, 5636};
    assert_int_equal(tq_report_tile_renders(x.r, "-", "public.roads", t2), 1);
    tq_report_free(x.r);
}

static void test_stderr_timestamp_prefix(void **state)
{
    check_stderr_m(DATA "stderr_m.log");
}

static void test_gzip(void **state)
{
    check_stderr_m(DATA "stderr_m.log.gz");
}

static void test_stderr_user_db_prefix(void **state)
{
    struct run x;
    run_file(DATA "stderr_t.log", 1, &x);
    assert_int_equal(x.s.renders, 2);
    assert_int_equal(x.in.skipped, 1);
    struct tq_tile a = {10, 518, 352}, b = {12, 2075, 1409};
    assert_int_equal(tq_report_tile_renders(x.r, "gis", "planet_osm_line", a), 1);
    assert_int_equal(tq_report_tile_renders(x.r, "gis", "planet_osm_line,planet_osm_polygon", b),
                     1);
    tq_report_free(x.r);
}

static void test_extended_protocol(void **state)
{
    struct run x;
    run_file(DATA "stderr_q.log", 1, &x);
    assert_int_equal(x.in.render_queries, 2);
    assert_int_equal(x.in.skipped, 1); /* the connection line */
    assert_int_equal(x.s.renders, 2);
    assert_int_equal(x.s.duplicates, 1);
    /* parse 0.5 + bind 0.25 + execute 49.25, then bind 0.1 + execute 19.9 */
    assert_true(x.s.render_ms > 69.999 && x.s.render_ms < 70.001);
    assert_true(x.s.duplicate_ms > 19.999 && x.s.duplicate_ms < 20.001);
    struct tq_tile t = {10, 518, 352};
    assert_int_equal(tq_report_tile_renders(x.r, "tiledb", "pts", t), 2);
    tq_report_free(x.r);
}

static void test_csvlog(void **state)
{
    struct run x;
    run_file(DATA "csvlog.csv", 1, &x);
    assert_int_equal(x.in.lines, 5);
    assert_int_equal(x.in.entries, 3);
    assert_int_equal(x.in.malformed, 0);
    assert_int_equal(x.s.renders, 2);
    assert_int_equal(x.s.tiles, 1);
    struct tq_tile t = {3, 4, 2};
    assert_int_equal(tq_report_tile_renders(x.r, "tiledb", "Lines,pts", t), 2);
    tq_report_free(x.r);
}

static void test_syslog_multiline(void **state)
{
    struct run x;
    run_file(DATA "syslog.log", 1, &x);
    assert_int_equal(x.in.render_queries, 2);
    assert_int_equal(x.s.renders, 2);
    struct tq_tile a = {7, 64, 44}, b = {10, 518, 352};
    assert_int_equal(tq_report_tile_renders(x.r, "gis", "planet_osm_point", a), 1);
    assert_int_equal(tq_report_tile_renders(x.r, "gis", "planet_osm_point", b), 1);
    tq_report_free(x.r);

    /* the same with --metatile 8: two 8x8 metatile renders of 64 tiles each */
    run_file(DATA "syslog.log", 8, &x);
    assert_int_equal(x.s.renders, 128);
    assert_int_equal(x.s.metatile_renders, 2);
    assert_int_equal(tq_report_tile_renders(x.r, "gis", "planet_osm_point", b), 1);
    struct tq_tile c = {13, 4144 + 7, 2816 + 7};
    assert_int_equal(tq_report_tile_renders(x.r, "gis", "planet_osm_point", c), 1);
    tq_report_free(x.r);
}

static void test_missing_file(void **state)
{
    const char *files[] = {DATA "does-not-exist.log"};
    char err[256] = "";
    struct tq_report_rec rec;
    struct tq_pglog *p = tq_pglog_open(files, 1, NULL);
    assert_int_equal(tq_pglog_next(p, &rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "does-not-exist.log"));
    tq_pglog_close(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stderr_timestamp_prefix),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_stderr_user_db_prefix),
        cmocka_unit_test(test_extended_protocol),
        cmocka_unit_test(test_csvlog),
        cmocka_unit_test(test_syslog_multiline),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

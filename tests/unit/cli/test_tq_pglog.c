/* Unit tests for tq_pglog: every log format through the report (hand-written fixtures in
 * tests/unit/data/pglog/). The parts: test_tq_pglog_{read,format,prefix,sql}.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tq_pglog.h"
#include "tq_pglog_format.h"
#include "tq_report.h"

#define DATA TQ_TEST_DATA_DIR "/pglog/"

struct run {
    struct tq_report *r;
    struct tq_report_input in;
    struct tq_report_summary s;
};

static void run_file_opt(const char *file, uint32_t metatile, int threads, uint64_t chunk,
                         struct run *out)
{
    const char *files[] = {file};
    char err[256];
    struct tq_pglog_options o = {TQ_PGLOG_DEFAULT_BUFFER, metatile, threads, 0, NULL, chunk};
    struct tq_pglog *p = tq_pglog_open(files, 1, &o);
    assert_non_null(p);
    out->r = tq_report_new(NULL, "test");
    assert_non_null(out->r);
    assert_true(tq_report_consume(out->r, tq_pglog_next, p, err, sizeof err) >= 0);
    tq_pglog_stats(p, &out->in);
    tq_report_summarize(out->r, &out->s);
    tq_pglog_close(p);
}

static void run_file(const char *file, uint32_t metatile, struct run *out)
{
    run_file_opt(file, metatile, 1, 0, out);
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

/* ---------------------------------------------------------------- generated logs */

static char *temp_path(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/tq_pglog_test_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return path;
}

/* A log of n renders by 7 interleaved backends in format fmt (0 stderr, 1 syslog, 2 csvlog):
 * simple statements over 3 lines, and the extended protocol (parse, bind, execute, DETAIL)
 * without parse/bind durations, so that chunked reading must give the same figures. */
static void write_log(const char *path, int fmt, int n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        int pid = 100 + i % 7, z = 3 + i % 9;
        unsigned x = (unsigned)(i * 7919) % (1u << z), y = (unsigned)(i * 104729) % (1u << z);
        const char *t = "2024-05-01 10:00:00.000 UTC";
        if (fmt == 0 && i % 2 == 0)
            fprintf(f,
                    "%s [%d] user=u%d,db=gis LOG:  duration: %d.5 ms  statement: SELECT "
                    "ST_AsMVT(q)\n\tFROM (SELECT ST_AsMVTGeom(geom, ST_TileEnvelope(%d, %u, %u)) "
                    "FROM roads\n\tWHERE geom && ST_TileEnvelope(%d, %u, %u)) q\n",
                    t, pid, pid, i % 50, z, x, y, z, x, y);
        else if (fmt == 0)
            fprintf(f,
                    "%s [%d] user=u%d,db=gis LOG:  execute <unnamed>: SELECT 1 FROM pts "
                    "WHERE geom && ST_TileEnvelope($1, $2, $3)\n"
                    "%s [%d] user=u%d,db=gis DETAIL:  parameters: $1 = '%d', $2 = '%u', $3 = "
                    "'%u'\n%s [%d] user=u%d,db=gis LOG:  duration: %d.25 ms\n",
                    t, pid, pid, t, pid, pid, z, x, y, t, pid, pid, i % 30);
        else if (fmt == 1)
            fprintf(f,
                    "May  1 10:00:00 dbhost postgres[%d]: [%d-1] user=u%d,db=gis LOG:  "
                    "duration: %d.5 ms  statement: SELECT ST_AsMVT(q)\n"
                    "May  1 10:00:00 dbhost postgres[%d]: [%d-2] #011FROM (SELECT "
                    "ST_TileEnvelope(%d, %u, %u) FROM roads) q\n",
                    pid, i, pid, i % 50, pid, i, z, x, y);
        else
            fprintf(f,
                    "%s,\"u%d\",\"gis\",%d,\"h:1\",a.1,1,\"SELECT\",%s,1/1,0,LOG,00000,"
                    "\"duration: %d.5 ms  statement: SELECT ST_AsMVT(q)\n FROM (SELECT "
                    "ST_TileEnvelope(%d, %u, %u) FROM \"\"Roads\"\") q\",,,,,,,,,\"psql\"\n",
                    t, pid, pid, t, i % 50, z, x, y);
    }
    fclose(f);
}

/* Chunks read by threads give the same report as one reader, whatever the format. */
static void test_chunks_threads(void **state)
{
    (void)state;
    for (int fmt = 0; fmt < 3; fmt++) {
        char *path = temp_path();
        write_log(path, fmt, 3000);
        struct run one, many;
        run_file_opt(path, 1, 1, 0, &one);
        assert_int_equal(one.s.renders, 3000);
        for (int threads = 2; threads <= 3; threads++) {
            run_file_opt(path, 1, threads, 4096 + (uint64_t)fmt * 1000, &many);
            assert_int_equal(many.s.renders, one.s.renders);
            assert_int_equal(many.s.tiles, one.s.tiles);
            assert_int_equal(many.s.duplicates, one.s.duplicates);
            assert_true(fabs(many.s.render_ms - one.s.render_ms) < 1e-6);
            assert_int_equal(many.in.render_queries, one.in.render_queries);
            assert_int_equal(many.in.lines, one.in.lines);
            assert_int_equal(many.in.malformed, 0);
            tq_report_free(many.r);
        }
        tq_report_free(one.r);
        unlink(path);
    }
}

/* ---------------------------------------------------------------- hostile input */

/* A statement longer than the limit is cut (counted), and its envelope at its start is
 * still read. */
static void test_long_statement_truncated(void **state)
{
    (void)state;
    char *path = temp_path();
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("2024-05-01 10:00:00 UTC [1] LOG:  duration: 5 ms  statement: SELECT "
          "ST_TileEnvelope(4, 3, 2) FROM t WHERE a IN (",
          f);
    for (int i = 0; i < 300000; i++)
        fputs("12345,", f);
    fputs("1)\n2024-05-01 10:00:01 UTC [1] LOG:  duration: 5 ms  statement: SELECT "
          "ST_TileEnvelope(4, 3, 2) FROM t\n",
          f);
    fclose(f);
    struct run x;
    run_file(path, 1, &x);
    assert_int_equal(x.in.truncated, 1);
    assert_int_equal(x.s.renders, 2);
    assert_int_equal(x.s.duplicates, 1);
    tq_report_free(x.r);
    unlink(path);
}

/* A csvlog quote left open ends its record at the limit; the records after it are read. */
static void test_csv_unterminated_quote(void **state)
{
    (void)state;
    char *path = temp_path();
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const char *rec = "2024-05-01 10:00:00.000 UTC,\"u\",\"gis\",7,\"h:1\",a.1,1,\"SELECT\","
                      "2024-05-01 10:00:00 UTC,1/1,0,LOG,00000,\"duration: 1.5 ms  statement: "
                      "SELECT ST_TileEnvelope(2, 1, 1) FROM pts\",,,,,,,,,\"psql\"\n";
    fputs(rec, f);
    fputs("2024-05-01 10:00:00.000 UTC,\"u\",\"gis\",7,\"h:1\",a.1,1,\"SELECT\",2024-05-01 "
          "10:00:00 UTC,1/1,0,LOG,00000,\"duration: 1 ms  statement: SELECT 'never closed\n",
          f);
    for (int i = 0; i < 40000; i++) /* 1.6 MB of lines inside the open quote */
        fputs("filler filler filler filler filler filler\n", f);
    for (int i = 0; i < 3; i++)
        fputs(rec, f);
    fclose(f);
    struct run x;
    run_file(path, 1, &x);
    assert_int_equal(x.in.malformed, 1);
    /* the first record, and those after the limit (some in the swallowed megabyte are
     * lost, never the whole file) */
    assert_true(x.s.renders >= 2);
    assert_int_equal(x.s.renders, 4);
    tq_report_free(x.r);
    unlink(path);
}

/* Absurd numbers: a duration of 1e300 ms, an envelope of 1e300, are counted malformed /
 * off-grid, never a tile, never undefined behaviour (the sanitizer build checks). */
static void test_absurd_numbers(void **state)
{
    (void)state;
    char *path = temp_path();
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("2024-05-01 10:00:00 UTC [1] LOG:  duration: 1e300 ms  statement: SELECT "
          "ST_TileEnvelope(1, 0, 0)\n"
          "2024-05-01 10:00:00 UTC [1] LOG:  duration: -5 ms  statement: SELECT "
          "ST_TileEnvelope(1, 0, 0)\n"
          "2024-05-01 10:00:00 UTC [1] LOG:  duration: nan ms  statement: SELECT "
          "ST_TileEnvelope(1, 0, 0)\n"
          "2024-05-01 10:00:00 UTC [1] LOG:  duration: 1 ms  statement: SELECT "
          "ST_TileEnvelope(1e300, 0, 0)\n"
          "2024-05-01 10:00:00 UTC [1] LOG:  duration: 1 ms  statement: SELECT "
          "ST_TileEnvelope(1, 1e300, -1e300)\n"
          "2024-05-01 10:00:00 UTC [1] LOG:  duration: 1 ms  statement: SELECT "
          "ST_MakeEnvelope(-1e300, -1e300, 1e300, 1e300, 3857)\n"
          "99999999-05-01 10:00:00 UTC [1] LOG:  duration: 1 ms  statement: SELECT "
          "ST_TileEnvelope(1, 1, 1)\n",
          f);
    fclose(f);
    struct run x;
    run_file(path, 1, &x);
    assert_int_equal(x.in.malformed, 3);
    assert_int_equal(x.in.unresolved, 3);
    assert_int_equal(x.s.renders, 1); /* the last one: its odd time is no time */
    tq_report_free(x.r);
    unlink(path);
}

/* $n substitution is bounded: a long value used many times. */
static void test_parameters_bounded(void **state)
{
    (void)state;
    char *path = temp_path();
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("2024-05-01 10:00:00 UTC [1] LOG:  duration: 1 ms  execute S_1: SELECT "
          "ST_TileEnvelope($1, 0, 0)",
          f);
    for (int i = 0; i < 20000; i++)
        fputs(", $2", f);
    fputs("\n2024-05-01 10:00:00 UTC [1] DETAIL:  parameters: $1 = '1', $2 = '", f);
    for (int i = 0; i < 100000; i++)
        fputs("ab''cd", f);
    fputs("'\n", f);
    fclose(f);
    struct run x;
    run_file(path, 1, &x);
    assert_int_equal(x.s.renders, 1);
    assert_int_equal(x.in.truncated, 1);
    tq_report_free(x.r);
    unlink(path);
}

/* More backends than the table holds, each with a statement open: the least recently used
 * are finished early (without their duration, no render), the table stays bounded. */
static void test_many_backends(void **state)
{
    (void)state;
    char *path = temp_path();
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 10000; i++)
        fprintf(f,
                "2024-05-01 10:00:00 UTC [%d] LOG:  execute S_1: SELECT ST_TileEnvelope(5, 1, "
                "1)\n",
                1000 + i);
    for (int i = 10000 - 1; i >= 0; i--) /* the most recent first: those still held pair */
        fprintf(f, "2024-05-01 10:00:00 UTC [%d] LOG:  duration: 1 ms\n", 1000 + i);
    fclose(f);
    struct run x;
    run_file(path, 1, &x);
    assert_int_equal(x.s.renders, TQ_PGLOG_MAX_PIDS);
    assert_int_equal(x.in.malformed, 0);
    tq_report_free(x.r);
    unlink(path);
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
        cmocka_unit_test(test_chunks_threads),
        cmocka_unit_test(test_long_statement_truncated),
        cmocka_unit_test(test_csv_unterminated_quote),
        cmocka_unit_test(test_absurd_numbers),
        cmocka_unit_test(test_parameters_bounded),
        cmocka_unit_test(test_many_backends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_pglog_sql: bounds → tiles, query analysis, parameter substitution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_pglog_sql.h"

static struct tq_bbox tile_bbox(int z, uint32_t x, uint32_t y, uint32_t n, double buf)
{
    double t = 2 * TQ_MERC_MAX / (double)(1u << z);
    struct tq_bbox b = {-TQ_MERC_MAX + x * t - buf * t, TQ_MERC_MAX - (y + n) * t - buf * t,
                        -TQ_MERC_MAX + (x + n) * t + buf * t, TQ_MERC_MAX - y * t + buf * t};
    return b;
}

static void test_bbox_exact(void **state)
{
    struct tq_metatile m;
    int cases[][3] = {{0, 0, 0},          {1, 1, 0},        {3, 4, 2},
                      {10, 518, 352},     {14, 8298, 5636}, {20, 530000, 360000},
                      {30, 1073741823, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tq_bbox b =
            tile_bbox(cases[i][0], (uint32_t)cases[i][1], (uint32_t)cases[i][2], 1, 0);
        assert_int_equal(tq_pglog_sql_bbox_to_metatile(&b, 0.25, 1, &m), 0);
        assert_int_equal(m.z, cases[i][0]);
        assert_int_equal(m.mx, cases[i][1]);
        assert_int_equal(m.my, cases[i][2]);
        assert_int_equal(m.w, 1);
        assert_int_equal(m.h, 1);
    }
}

static void test_bbox_buffer(void **state)
{
    struct tq_metatile m;
    struct tq_bbox b = tile_bbox(10, 518, 352, 1, 0.1);
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&b, 0.25, 1, &m), 0);
    assert_int_equal(m.z, 10);
    assert_int_equal(m.mx, 518);
    assert_int_equal(m.my, 352);
    /* 64/4096 of a tile, the ST_AsMVTGeom default buffer */
    b = tile_bbox(12, 2075, 1409, 1, 64.0 / 4096);
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&b, 0.25, 1, &m), 0);
    assert_int_equal(m.z, 12);
    assert_int_equal(m.mx, 2075);
    /* a margin beyond the allowed buffer is off-grid */
    b = tile_bbox(10, 518, 352, 1, 0.1);
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&b, 0.05, 1, &m), -1);
}

static void test_bbox_metatile(void **state)
{
    struct tq_metatile m;
    struct tq_bbox b = tile_bbox(10, 512, 352, 8, 0.05);
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&b, 0.25, 8, &m), 0);
    assert_int_equal(m.z, 10);
    assert_int_equal(m.mx, 512);
    assert_int_equal(m.my, 352);
    assert_int_equal(m.w, 8);
    assert_int_equal(m.h, 8);
    /* without --metatile the same bounds are one tile three zooms up, with a small buffer */
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&b, 0.25, 1, &m), 0);
    assert_int_equal(m.z, 7);
    assert_int_equal(m.mx, 64);
    assert_int_equal(m.my, 44);
    assert_int_equal(m.w, 1);
    /* a metatile clamped to the grid at z1 (2x2 tiles = the world) reads as z0 */
    b = tile_bbox(0, 0, 0, 1, 0);
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&b, 0.25, 8, &m), 0);
    assert_int_equal(m.z, 0);
    /* 8x8 bounds not starting on a multiple of 8 are neither a metatile nor a tile */
    b = tile_bbox(10, 516, 352, 8, 0);
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&b, 0.25, 8, &m), -1);
}

static void test_bbox_offgrid(void **state)
{
    struct tq_metatile m;
    double t = 2 * TQ_MERC_MAX / 1024;
    struct tq_bbox b = tile_bbox(10, 518, 352, 1, 0);
    b.xmin += 0.3 * t;
    b.xmax += 0.3 * t;
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&b, 0.25, 1, &m), -1);
    b = tile_bbox(10, 518, 352, 1, 0); /* not square */
    b.xmax += 0.5 * t;
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&b, 0.25, 1, &m), -1);
    struct tq_bbox empty = {1, 1, 1, 1};
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&empty, 0.25, 1, &m), -1);
    struct tq_bbox outside = {TQ_MERC_MAX, 0, TQ_MERC_MAX + t, t};
    assert_int_equal(tq_pglog_sql_bbox_to_metatile(&outside, 0.25, 1, &m), -1);
}

static void test_query_tile(void **state)
{
    struct tq_metatile m;
    char tables[256];
    assert_int_equal(tq_pglog_sql_query_tile("SELECT * FROM a.b JOIN \"C\" c ON true WHERE g && "
                                             "ST_TileEnvelope(3::integer, 4, (2))",
                                             0.25, 1, &m, tables, sizeof tables),
                     TQ_PGLOG_SQL_TILE);
    assert_int_equal(m.z, 3);
    assert_int_equal(m.mx, 4);
    assert_int_equal(m.my, 2);
    assert_string_equal(tables, "C,a.b");
    assert_int_equal(tq_pglog_sql_query_tile("SELECT 1 FROM t", 0.25, 1, &m, tables, sizeof tables),
                     TQ_PGLOG_SQL_NONE);
    /* ST_MakeEnvelope in another SRID is not a tile of the grid */
    assert_int_equal(
        tq_pglog_sql_query_tile("SELECT * FROM t WHERE g && ST_MakeEnvelope(0, 0, 1, 1, "
                                "4326)",
                                0.25, 1, &m, tables, sizeof tables),
        TQ_PGLOG_SQL_OFFGRID);
    /* CTEs, subqueries, EXTRACT(... FROM ...) and comma lists */
    assert_int_equal(tq_pglog_sql_query_tile(
                         "WITH m AS MATERIALIZED (SELECT * FROM roads r, rivers WHERE geom && "
                         "ST_TileEnvelope(1,0,0)) SELECT extract(epoch FROM now()) FROM m "
                         "LEFT JOIN LATERAL (SELECT 1 FROM lakes) x ON true",
                         0.25, 1, &m, tables, sizeof tables),
                     TQ_PGLOG_SQL_TILE);
    assert_string_equal(tables, "lakes,rivers,roads");
    /* tileq's own metatile query: ST_TileEnvelope over columns is skipped, the metatile's
     * ST_MakeEnvelope (expanded by the 64/4096 buffer) is used */
    assert_int_equal(tq_pglog_sql_query_tile(
                         "WITH l0 AS MATERIALIZED (SELECT geom FROM demo.areas WHERE geom && "
                         "ST_MakeEnvelope(-1956.7879241005, 5946678.5013414556, "
                         "315042.8557801814, 6263678.1450457396, 3857)), t AS (SELECT "
                         "ST_TileEnvelope($1::integer, tx, ty) AS env FROM generate_series(1, 2) "
                         "tx) SELECT 1 FROM t, l0",
                         0.25, 8, &m, tables, sizeof tables),
                     TQ_PGLOG_SQL_TILE);
    assert_int_equal(m.z, 10);
    assert_int_equal(m.mx, 512);
    assert_int_equal(m.w, 8);
    assert_string_equal(tables, "demo.areas");
}

static void test_substitute(void **state)
{
    (void)state;
    int cut = 0;
    char *q = tq_pglog_sql_substitute("SELECT $1, '$2', $2, $3, $10 FROM t WHERE a$1 = $4",
                                      "parameters: $1 = '12', $2 = 'it''s', $3 = NULL, $4 = '1e3'",
                                      1000, &cut);
    assert_non_null(q);
    assert_string_equal(q, "SELECT 12, '$2', 'it''s', NULL, $10 FROM t WHERE a$1 = 1e3");
    assert_int_equal(cut, 0);
    free(q);
    q = tq_pglog_sql_substitute("SELECT $1", "parameters: nonsense", 1000, &cut);
    assert_non_null(q);
    assert_string_equal(q, "SELECT $1");
    free(q);
}

/* A value used many times cannot grow the query past the bound: it is cut and counted. */
static void test_substitute_bounded(void **state)
{
    (void)state;
    char sql[4096] = "SELECT ST_TileEnvelope(1, 0, 0)";
    for (int i = 0; i < 500; i++)
        strcat(sql, ", $1");
    char detail[1100] = "parameters: $1 = '";
    memset(detail + strlen(detail), 'x', 1000);
    strcat(detail, "'");
    int cut = 0;
    char *q = tq_pglog_sql_substitute(sql, detail, 10000, &cut);
    assert_non_null(q);
    assert_int_equal(cut, 1);
    assert_int_equal(strlen(q), 10000);
    assert_int_equal(strncmp(q, "SELECT ST_TileEnvelope(1, 0, 0), 'xxx", 37), 0);
    free(q);
    cut = 0;
    q = tq_pglog_sql_substitute("SELECT $1, $1", "parameters: $1 = 'ab'", 7, &cut);
    assert_non_null(q);
    assert_string_equal(q, "SELECT ");
    assert_int_equal(cut, 1);
    free(q);
}

/* The shape: queries that differ only in their numbers (of any length, anywhere, also
 * within the first 8 bytes) hash alike; any other difference, or a digit within a name,
 * makes another shape. */
static void test_shape(void **state)
{
    (void)state;
    const char *same[] = {
        "SELECT ST_AsMVT(q) FROM (SELECT ST_TileEnvelope(16, 40629, 50376) FROM planet_osm_line2 "
        "WHERE way && ST_TileEnvelope(16, 40629, 50376, margin => (64.0 / 4096))) AS q",
        "SELECT ST_AsMVT(q) FROM (SELECT ST_TileEnvelope(9, 3, 5) FROM planet_osm_line2 "
        "WHERE way && ST_TileEnvelope(9, 3, 5, margin => (64.0 / 4096))) AS q",
        "SELECT ST_AsMVT(q) FROM (SELECT ST_TileEnvelope(123456789, 1.25, 0) FROM "
        "planet_osm_line2 WHERE way && ST_TileEnvelope(1, 2, 3, margin => (1 / 2))) AS q",
    };
    uint64_t h = tq_pglog_sql_shape(same[0]);
    for (size_t i = 1; i < sizeof same / sizeof same[0]; i++)
        assert_true(tq_pglog_sql_shape(same[i]) == h);
    assert_true(tq_pglog_sql_shape("1 a") == tq_pglog_sql_shape("22 a"));
    assert_true(tq_pglog_sql_shape("") == tq_pglog_sql_shape(""));
    const char *other[] = {
        "SELECT ST_AsMVT(q) FROM (SELECT ST_TileEnvelope(16, 40629, 50376) FROM planet_osm_line3 "
        "WHERE way && ST_TileEnvelope(16, 40629, 50376, margin => (64.0 / 4096))) AS q",
        "SELECT ST_AsMVT(q) FROM (SELECT ST_TileEnvelope(16, 40629, 50376) FROM planet_osm_roads "
        "WHERE way && ST_TileEnvelope(16, 40629, 50376, margin => (64.0 / 4096))) AS q",
        "SELECT ST_AsMVT(q) FROM (SELECT ST_TileEnvelope(16, 40629) FROM planet_osm_line2 "
        "WHERE way && ST_TileEnvelope(16, 40629, 50376, margin => (64.0 / 4096))) AS q",
        "SELECT ST_AsMVT(q) FROM (SELECT ST_TileEnvelope(16, 40629, 50376) FROM planet_osm_line2 "
        "WHERE way && ST_TileEnvelope(16, 40629, 50376, margin => (64.0 / 4096))) AS r",
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        assert_true(tq_pglog_sql_shape(other[i]) != h);
    assert_true(tq_pglog_sql_shape("$1 a") != tq_pglog_sql_shape("$2 a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bbox_exact),         cmocka_unit_test(test_bbox_buffer),
        cmocka_unit_test(test_bbox_metatile),      cmocka_unit_test(test_bbox_offgrid),
        cmocka_unit_test(test_query_tile),         cmocka_unit_test(test_substitute),
        cmocka_unit_test(test_substitute_bounded), cmocka_unit_test(test_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for cli/tq_mbtiles: an archive read back with SQLite: the tiles view in TMS
 * rows, gzip tile data, one images row per distinct content, the metadata. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "tq_gzip.h"
#include "tq_mbtiles.h"

static char err[512];

static long long count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_write_read(void **state)
{
    (void)state;
    char dir[] = "/tmp/tq_mbtiles_testXXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.mbtiles", dir);
    struct tq_mbtiles *m = tq_mbtiles_open(path, err, sizeof err);
    assert_non_null(m);
    const char *contents[] = {"ocean", "land", "ocean", "", "ocean", "city"};
    for (uint32_t i = 0; i < 6; i++) {
        struct tq_tile t = {3, i, 1};
        unsigned char *gz = NULL;
        size_t n = strlen(contents[i]);
        if (i == 4) { /* a gzip tile from the cache is stored as it is */
            assert_int_equal(tq_gzip_compress(contents[i], n, &gz, &n), 0);
        }
        assert_int_equal(
            tq_mbtiles_add(m, t, gz ? (const void *)gz : contents[i], n, err, sizeof err), 0);
        free(gz);
    }
    struct tq_archive_info info = {"demo",
                                   "d",
                                   0,
                                   3,
                                   {-10, 35, 30, 60},
                                   {10, 47.5, 2},
                                   "{\"vector_layers\":[{\"id\":\"roads\",\"fields\":{}}]}"};
    assert_int_equal(tq_mbtiles_finish(m, &info, err, sizeof err), 0);
    struct tq_mbtiles_stats st;
    tq_mbtiles_stats(m, &st);
    tq_mbtiles_free(m);
    assert_int_equal(st.addressed, 5);
    assert_int_equal(st.empty, 1);
    /* ocean, land, city, and ocean again in its gzip form: the index keys the bytes as the
     * cache holds them (a cache holds one form), so the two forms are two images */
    assert_int_equal(st.contents, 4);

    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(count(db, "SELECT count(*) FROM tiles"), 5);
    assert_int_equal(count(db, "SELECT count(*) FROM images"), 4);
    /* TMS: y=1 at z3 is row 8-1-1 = 6 */
    assert_int_equal(count(db, "SELECT count(*) FROM tiles WHERE zoom_level = 3 AND tile_row = 6"),
                     5);
    assert_int_equal(count(db, "SELECT count(*) FROM tiles WHERE tile_column = 3"), 0);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT tile_data FROM tiles WHERE zoom_level = 3 AND "
                                        "tile_column = ? AND tile_row = 6",
                                        -1, &q, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 6; i++) {
        if (i == 3)
            continue;
        sqlite3_reset(q);
        sqlite3_bind_int(q, 1, i);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        const void *blob = sqlite3_column_blob(q, 0);
        size_t n = (size_t)sqlite3_column_bytes(q, 0);
        assert_true(tq_gzip_is(blob, n));
        unsigned char *plain;
        size_t plain_len;
        assert_int_equal(tq_gzip_decompress(blob, n, 1000, &plain, &plain_len), 0);
        assert_int_equal(plain_len, strlen(contents[i]));
        assert_memory_equal(plain, contents[i], plain_len);
        free(plain);
    }
    sqlite3_finalize(q);
    const char *want[][2] = {{"name", "demo"},
                             {"format", "pbf"},
                             {"bounds", "-10.000000,35.000000,30.000000,60.000000"},
                             {"center", "10.000000,47.500000,2"},
                             {"minzoom", "0"},
                             {"maxzoom", "3"},
                             {"json", info.metadata_json}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        assert_int_equal(
            sqlite3_prepare_v2(db, "SELECT value FROM metadata WHERE name = ?", -1, &q, NULL),
            SQLITE_OK);
        sqlite3_bind_text(q, 1, want[i][0], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), want[i][1]);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    unlink(path);
    assert_int_equal(rmdir(dir), 0); /* no partial file left */
}

static void test_abandoned(void **state)
{
    (void)state;
    char dir[] = "/tmp/tq_mbtiles_testXXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/b.mbtiles", dir);
    struct tq_mbtiles *m = tq_mbtiles_open(path, err, sizeof err);
    assert_non_null(m);
    struct tq_tile t = {0, 0, 0};
    assert_int_equal(tq_mbtiles_add(m, t, "x", 1, err, sizeof err), 0);
    assert_int_equal(tq_mbtiles_add(m, t, "x", 1, err, sizeof err), -1); /* the same tile */
    tq_mbtiles_free(m);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_abandoned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

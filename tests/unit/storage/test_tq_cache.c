/* Unit tests for tq_cache: the on-disk tile cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "tq_cache.h"
#include "tq_gzip.h"

static char root[64];

static int make_root(void **state)
{
    snprintf(root, sizeof root, "/tmp/tq-cache-test-XXXXXX");
    return mkdtemp(root) == NULL ? -1 : 0;
}

static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d)
            closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

static int drop_root(void **state)
{
    return remove_tree(root);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* tq_cache_read, inflated when the cache holds gzip (what tq_cache_write stores): the plain
 * tile in *data (malloc'd), as the writer gave it. */
static int read_plain(const char *dir, const char *ts, struct tq_tile t, char **data, size_t *len)
{
    char err[256];
    char *raw = NULL;
    size_t rawlen = 0;
    int rc = tq_cache_read(dir, ts, t, &raw, &rawlen, err, sizeof err);
    if (rc == 1 && tq_gzip_is(raw, rawlen)) {
        unsigned char *plain = NULL;
        assert_int_equal(tq_gzip_decompress(raw, rawlen, 1u << 24, &plain, len), 0);
        free(raw);
        *data = (char *)plain;
        return rc;
    }
    *data = raw;
    *len = rawlen;
    return rc;
}

static uint32_t crc_of(const void *data, size_t len)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)len);
}

static void test_path(void **state)
{
    char buf[128];
    struct tq_tile t = {14, 8190, 5447};
    assert_int_equal(tq_cache_path("/c", "demo", t, buf, sizeof buf), 0);
    assert_string_equal(buf, "/c/demo/14/8190/5447.mvt.gz");
    char small[10];
    assert_int_equal(tq_cache_path("/c", "demo", t, small, sizeof small), -1);
    char exact[sizeof "/c/demo/14/8190/5447.mvt.gz"];
    assert_int_equal(tq_cache_path("/c", "demo", t, exact, sizeof exact), 0);
    assert_int_equal(tq_cache_path("/c", "demo", t, exact, sizeof exact - 1), -1);
}

static void test_write_read_remove(void **state)
{
    struct tq_tile t = {3, 5, 6};
    char err[256] = "";
    char *data = NULL;
    size_t len = 99;

    assert_int_equal(tq_cache_exists(root, "demo", t), 0);
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &len, err, sizeof err), 0);
    assert_null(data);
    assert_int_equal(len, 0);

    /* a layer (field 3) holding version 2 and name "hello\0world" */
    const char payload[] = "\x1a\x0f\x78\x02\x0a\x0bhello\x00world";
    assert_int_equal(tq_cache_write(root, "demo", t, payload, sizeof payload - 1, err, sizeof err),
                     0);
    assert_int_equal(tq_cache_exists(root, "demo", t), 1);
    assert_int_equal(read_plain(root, "demo", t, &data, &len), 1);
    assert_int_equal(len, sizeof payload - 1);
    assert_memory_equal(data, payload, len);
    free(data);

    char path[512];
    struct stat st;
    assert_int_equal(tq_cache_path(root, "demo", t, path, sizeof path), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    /* stored gzip-compressed; the read says so, with the plain length and CRC */
    struct tq_cache_tile tile;
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &tile, err, sizeof err), 1);
    assert_int_equal(tile.gzip, 1);
    assert_true(tq_gzip_is(tile.data, tile.len));
    assert_int_equal(tile.len, (size_t)st.st_size);
    assert_int_equal(tile.plain_len, sizeof payload - 1);
    assert_int_equal(tile.plain_crc, crc_of(payload, sizeof payload - 1));
    /* this process wrote it: remembered as checked, not inflated, no plain bytes */
    assert_null(tile.plain);
    /* the same bytes as a file this process has not seen (a new inode: another writer's,
     * the coordinator's case): checked by inflating it, and the plain bytes come with it */
    char copy[600];
    snprintf(copy, sizeof copy, "%s.copy", path);
    write_file(copy, tile.data, tile.len);
    assert_int_equal(rename(copy, path), 0);
    free(tile.data);
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &tile, err, sizeof err), 1);
    assert_non_null(tile.plain);
    assert_memory_equal(tile.plain, payload, sizeof payload - 1);
    assert_int_equal(tile.plain_len, sizeof payload - 1);
    assert_int_equal(tile.plain_crc, crc_of(payload, sizeof payload - 1));
    free(tile.data);
    free(tile.plain);
    /* read again: remembered now, no plain */
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &tile, err, sizeof err), 1);
    assert_null(tile.plain);
    assert_int_equal(tile.plain_crc, crc_of(payload, sizeof payload - 1));
    free(tile.data);

    /* overwrite with different content: one layer with one big feature (field 2) */
    char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 31);
    const unsigned char head[] = {0x1a, 0x9c, 0x8d, 0x06, 0x12, 0x98, 0x8d, 0x06};
    assert_int_equal(99996, 0x6 << 14 | 0x0d << 7 | 0x1c); /* layer length, varint above */
    assert_int_equal(99992, 0x6 << 14 | 0x0d << 7 | 0x18); /* feature length */
    memcpy(big, head, sizeof head);
    assert_int_equal(tq_cache_write(root, "demo", t, big, sizeof big, err, sizeof err), 0);
    assert_int_equal(read_plain(root, "demo", t, &data, &len), 1);
    assert_int_equal(len, sizeof big);
    assert_memory_equal(data, big, len);
    free(data);

    /* other tilesets and tiles are separate */
    struct tq_tile other = {3, 5, 7};
    assert_int_equal(tq_cache_exists(root, "other", t), 0);
    assert_int_equal(tq_cache_exists(root, "demo", other), 0);

    assert_int_equal(tq_cache_remove(root, "demo", t), 1);
    assert_int_equal(tq_cache_exists(root, "demo", t), 0);
    assert_int_equal(tq_cache_remove(root, "demo", t), 0);
    assert_int_equal(tq_cache_remove(root, "never", t), 0);
}

static void test_empty_tile(void **state)
{
    struct tq_tile t = {0, 0, 0};
    char err[256];
    char *data = NULL;
    size_t len = 99;
    assert_int_equal(tq_cache_write(root, "demo", t, NULL, 0, err, sizeof err), 0);
    assert_int_equal(tq_cache_exists(root, "demo", t), 1);
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &len, err, sizeof err), 1);
    assert_non_null(data); /* non-NULL even for an empty tile */
    assert_int_equal(len, 0);
    free(data);
    /* stored as a zero-byte .empty marker, not as .mvt.gz (nginx tests for it to answer 204) */
    char path[512], marker[512];
    struct stat st;
    tq_cache_path(root, "demo", t, path, sizeof path);
    snprintf(marker, sizeof marker, "%s/demo/0/0/0.empty", root);
    assert_int_equal(stat(marker, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_not_equal(stat(path, &st), 0);

    /* the tile gains features: the marker goes, the .mvt.gz comes; and back again */
    assert_int_equal(tq_cache_write(root, "demo", t, "abc", 3, err, sizeof err), 0);
    assert_int_not_equal(stat(marker, &st), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(tq_cache_write(root, "demo", t, NULL, 0, err, sizeof err), 0);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(tq_cache_remove(root, "demo", t), 1);
    assert_int_equal(tq_cache_exists(root, "demo", t), 0);
}

/* Counts directory entries of dir other than . and .., and those starting with ".tmp". */
static void count_entries(const char *dir, int *total, int *temps)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    *total = *temps = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        (*total)++;
        if (strncmp(e->d_name, ".tmp", 4) == 0)
            (*temps)++;
    }
    closedir(d);
}

static void test_no_temp_files_left(void **state)
{
    char err[256];
    for (uint32_t y = 0; y < 20; y++) {
        struct tq_tile t = {5, 9, y};
        for (int rep = 0; rep < 3; rep++)
            assert_int_equal(tq_cache_write(root, "demo", t, "abc", 3, err, sizeof err), 0);
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/demo/5/9", root);
    int total, temps;
    count_entries(dir, &total, &temps);
    assert_int_equal(total, 20);
    assert_int_equal(temps, 0);

    /* a failed write (the tile's path is a directory, so rename fails) leaves no temp */
    struct tq_tile t = {5, 10, 1};
    char path[512];
    tq_cache_path(root, "demo", t, path, sizeof path);
    assert_int_equal(tq_cache_write(root, "demo", t, "x", 1, err, sizeof err), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/keep", path);
    FILE *f = fopen(inner, "w");
    assert_non_null(f);
    fclose(f);
    err[0] = '\0';
    assert_int_equal(tq_cache_write(root, "demo", t, "x", 1, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    snprintf(dir, sizeof dir, "%s/demo/5/10", root);
    count_entries(dir, &total, &temps);
    assert_int_equal(total, 1); /* only the directory in the tile's place */
    assert_int_equal(temps, 0);

    /* reading a path that is a directory is an error, not a tile */
    char *data = NULL;
    size_t len;
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &len, err, sizeof err), -1);
    assert_null(data);
}

/* A fence that says no: the tile in the cache stays as it was, no temp file is left, and the
 * fence ran after the bytes were written (once per write). */
static int fence_calls;
static int fence_answer;
static int count_fence(void *arg)
{
    (void)arg;
    fence_calls++;
    return fence_answer;
}

static void test_write_fenced(void **state)
{
    struct tq_tile t = {6, 7, 8};
    char err[256], dir[512];
    char *data = NULL;
    size_t len = 0;
    int total, temps;

    (void)state;
    const char v1[] = "\x1a\x02\x78\x02", v2[] = "\x1a\x02\x78\x01";
    fence_calls = 0;
    fence_answer = 0;
    assert_int_equal(
        tq_cache_write_fenced(root, "demo", t, v1, 4, count_fence, NULL, err, sizeof err), 0);
    assert_int_equal(fence_calls, 1);
    fence_answer = 1;
    assert_int_equal(
        tq_cache_write_fenced(root, "demo", t, v2, 4, count_fence, NULL, err, sizeof err), 1);
    assert_int_equal(fence_calls, 2);
    assert_int_equal(read_plain(root, "demo", t, &data, &len), 1);
    assert_int_equal(len, 4);
    assert_memory_equal(data, v1, 4);
    free(data);
    /* fenced off before the first write: nothing appears */
    struct tq_tile u = {6, 7, 9};
    assert_int_equal(
        tq_cache_write_fenced(root, "demo", u, v2, 4, count_fence, NULL, err, sizeof err), 1);
    assert_int_equal(tq_cache_exists(root, "demo", u), 0);
    snprintf(dir, sizeof dir, "%s/demo/6/7", root);
    count_entries(dir, &total, &temps);
    assert_int_equal(total, 1);
    assert_int_equal(temps, 0);
}

static void test_path_too_long(void **state)
{
    static char longdir[5000];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = '\0';
    struct tq_tile t = {1, 0, 0};
    char err[256] = "";
    char *data = (char *)1;
    size_t len = 1;
    assert_int_equal(tq_cache_write(longdir, "demo", t, "x", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "too long"));
    err[0] = '\0';
    assert_int_equal(tq_cache_read(longdir, "demo", t, &data, &len, err, sizeof err), -1);
    assert_null(data);
    assert_non_null(strstr(err, "too long"));
    assert_int_equal(tq_cache_exists(longdir, "demo", t), 0);
    assert_int_equal(tq_cache_remove(longdir, "demo", t), -1);
}

static void test_unwritable_dir(void **state)
{
    /* cache_dir under a regular file: mkdir fails with a message */
    char file[128];
    snprintf(file, sizeof file, "%s/plainfile", root);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    struct tq_tile t = {1, 1, 1};
    char err[256] = "";
    assert_int_equal(tq_cache_write(file, "demo", t, "x", 1, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(tq_cache_exists(file, "demo", t), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(tq_cache_read(file, "demo", t, &data, &len, err, sizeof err), 0);
}

/* ---- tq_cache_check on real tiles ------------------------------------------------------- */

/* Tiles of the demo tileset as the worker wrote them (the integration fixture's data): three
 * layers each (areas, roads, places). */
static const char *const real_tiles[] = {"demo_0_0_0.mvt", "demo_3_4_2.mvt", "demo_10_518_352.mvt"};
#define REAL_TILE_LAYERS 3

static unsigned char *read_data_file(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tiles/%s", TQ_TEST_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Every truncation of a real tile is caught, except a cut exactly between two layers (the
 * next byte is a layer's key, 0x1a: field 3, length-delimited), which leaves whole layers;
 * there are REAL_TILE_LAYERS - 1 such cuts. */
static void test_check_every_truncation(void **state)
{
    for (size_t k = 0; k < sizeof real_tiles / sizeof real_tiles[0]; k++) {
        size_t len;
        unsigned char *tile = read_data_file(real_tiles[k], &len);
        assert_null(tq_cache_check(tile, len));
        assert_string_equal(tq_cache_check(tile, 0), "zero-length tile file");
        size_t missed = 0;
        for (size_t cut = 1; cut < len; cut++) {
            /* a copy of exactly cut bytes, so that ASan sees any read past the end */
            unsigned char *part = malloc(cut);
            assert_non_null(part);
            memcpy(part, tile, cut);
            const char *why = tq_cache_check(part, cut);
            if (why == NULL) {
                missed++;
                assert_int_equal(tile[cut], 0x1a);
            } else {
                assert_string_equal(why, "truncated or malformed MVT");
            }
            free(part);
        }
        assert_int_equal(missed, REAL_TILE_LAYERS - 1);
        free(tile);
    }
}

/* gzip-stored tiles: complete passes; every truncation, a flipped trailer byte and bytes
 * after the member do not. */
static void test_check_gzip(void **state)
{
    for (size_t k = 0; k < sizeof real_tiles / sizeof real_tiles[0]; k++) {
        size_t len, gzlen;
        unsigned char *tile = read_data_file(real_tiles[k], &len), *gz = NULL;
        assert_int_equal(tq_gzip_compress(tile, len, &gz, &gzlen), 0);
        assert_null(tq_cache_check(gz, gzlen));
        for (size_t cut = 1; cut < gzlen; cut++) {
            unsigned char *part = malloc(cut);
            assert_non_null(part);
            memcpy(part, gz, cut);
            const char *why = tq_cache_check(part, cut);
            if (cut < 2) /* not even the magic: checked as MVT, and broken as that */
                assert_non_null(why);
            else
                assert_string_equal(why, "incomplete gzip member");
            free(part);
        }
        unsigned char *bad = malloc(gzlen + 1);
        assert_non_null(bad);
        memcpy(bad, gz, gzlen);
        bad[gzlen - 5] ^= 0x40; /* CRC-32 */
        assert_string_equal(tq_cache_check(bad, gzlen), "incomplete gzip member");
        memcpy(bad, gz, gzlen);
        bad[gzlen] = 0;
        assert_string_equal(tq_cache_check(bad, gzlen + 1), "incomplete gzip member");
        free(bad);
        free(gz);
        free(tile);
    }
}

/* Hand-made messages: what is well formed and what is not. */
static void test_check_wire(void **state)
{
    static const struct {
        const char *bytes;
        size_t len;
        int ok;
    } cases[] = {
        {"\x1a\x00", 2, 1},                         /* an empty layer */
        {"\x1a\x02\x78\x02", 4, 1},                 /* version 2 */
        {"\x1a\x06\x2d\x00\x10\x00\x00\x78", 8, 0}, /* a key without its value at the end */
        {"\x1a\x06\x29\x00\x00\x00\x00\x00", 8, 0}, /* fixed64 cut */
        {"\x1a\x05\x29\x00\x00\x00\x00", 7, 0},     /* fixed64 past the layer's end */
        {"\x1a\x02\x1b\x00", 4, 0},                 /* wire type 3 (group) */
        {"\x1a\x02\x00\x00", 4, 0},                 /* field number 0 */
        {"\x1a\x02\x78\x80", 4, 0},                 /* varint runs off the layer */
        {"\x78\x02\x1a\x00", 4, 1},                 /* a top-level varint field */
        {"\x1a\x80", 2, 0},                         /* length varint cut */
        {"\x1a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, 0},     /* huge length */
        {"\x1a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 12, 0}, /* 11-byte varint */
        {"\x0f", 1, 0},                                              /* wire type 7 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = tq_cache_check(cases[i].bytes, cases[i].len);
        if (cases[i].ok)
            assert_null(why);
        else
            assert_non_null(why);
    }
}

/* ---- reading a broken file ---------------------------------------------------------------- */

/* A zero-length or truncated .mvt is a miss (0) and is removed; the other tiles of the
 * directory stay; an .empty marker stays a valid empty tile. */
static void test_read_broken(void **state)
{
    size_t len;
    unsigned char *tile = read_data_file(real_tiles[2], &len);
    char err[256], path[512];
    char *data = NULL;
    size_t got = 0;
    struct tq_tile t = {10, 518, 352}, u = {10, 518, 353};

    assert_int_equal(tq_cache_write(root, "demo", t, tile, len, err, sizeof err), 0);
    assert_int_equal(tq_cache_write(root, "demo", u, tile, len, err, sizeof err), 0);
    assert_int_equal(read_plain(root, "demo", t, &data, &got), 1);
    assert_int_equal(got, len);
    assert_memory_equal(data, tile, len);
    free(data);

    /* zero-length: not cached, not even for tq_cache_exists; the read removes it */
    tq_cache_path(root, "demo", t, path, sizeof path);
    write_file(path, "", 0);
    assert_int_equal(tq_cache_exists(root, "demo", t), 0);
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &got, err, sizeof err), 0);
    assert_null(data);
    assert_int_equal(got, 0);
    struct stat st;
    assert_int_not_equal(lstat(path, &st), 0);

    /* truncated by one byte (the gzip member), and plain MVT under the .gz name */
    unsigned char *gz = NULL;
    size_t gzlen = 0;
    assert_int_equal(tq_gzip_compress(tile, len, &gz, &gzlen), 0);
    write_file(path, gz, gzlen - 1);
    assert_int_equal(tq_cache_exists(root, "demo", t), 1); /* (exists does not read) */
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &got, err, sizeof err), 0);
    assert_null(data);
    assert_int_not_equal(lstat(path, &st), 0);
    write_file(path, tile, len);
    assert_int_equal(tq_cache_exists(root, "demo", t), 1); /* (exists does not read) */
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &got, err, sizeof err), 0);
    assert_null(data);
    assert_int_not_equal(lstat(path, &st), 0);

    /* the neighbour is untouched, and nothing was left aside in the directory */
    assert_int_equal(read_plain(root, "demo", u, &data, &got), 1);
    assert_int_equal(got, len);
    free(data);
    char dir[512];
    int total, temps;
    snprintf(dir, sizeof dir, "%s/demo/10/518", root);
    count_entries(dir, &total, &temps);
    assert_int_equal(total, 1);
    assert_int_equal(temps, 0);

    /* a rewrite after that is served */
    assert_int_equal(tq_cache_write(root, "demo", t, tile, len, err, sizeof err), 0);
    assert_int_equal(read_plain(root, "demo", t, &data, &got), 1);
    assert_int_equal(got, len);
    free(data);

    /* checked once, remembered: a file put in its place (a new inode), or changed in
     * place to another size, is checked again */
    struct tq_cache_tile ct;
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &ct, err, sizeof err), 1);
    free(ct.data);
    free(ct.plain);
    char aside[600];
    snprintf(aside, sizeof aside, "%s.test", path);
    write_file(aside, gz, gzlen - 3);
    assert_int_equal(rename(aside, path), 0);
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &ct, err, sizeof err), 0);
    assert_int_equal(tq_cache_write(root, "demo", t, tile, len, err, sizeof err), 0);
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &ct, err, sizeof err), 1);
    free(ct.data);
    free(ct.plain);
    write_file(path, gz, gzlen / 2);
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &ct, err, sizeof err), 0);
    free(gz);
    free(tile);
}

/* ---- the legacy form ------------------------------------------------------------------- */

/* A cache written before tiles were compressed holds plain {y}.mvt: read as it is (with the
 * same plain length and CRC as the gzip form would give), counted as cached, replaced by
 * the next write, removed by tq_cache_remove, like every other form. */
static void test_legacy_plain(void **state)
{
    size_t len;
    unsigned char *tile = read_data_file(real_tiles[1], &len);
    char err[256], legacy[512], gzpath[512], marker[512], dir[512];
    struct tq_tile t = {3, 4, 2};
    struct tq_cache_tile ct;
    struct stat st;

    snprintf(dir, sizeof dir, "%s/demo", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(dir, sizeof dir, "%s/demo/3", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(dir, sizeof dir, "%s/demo/3/4", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(legacy, sizeof legacy, "%s/demo/3/4/2.mvt", root);
    snprintf(marker, sizeof marker, "%s/demo/3/4/2.empty", root);
    tq_cache_path(root, "demo", t, gzpath, sizeof gzpath);
    write_file(legacy, tile, len);

    assert_int_equal(tq_cache_exists(root, "demo", t), 1);
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &ct, err, sizeof err), 1);
    assert_int_equal(ct.gzip, 0);
    assert_int_equal(ct.len, len);
    assert_memory_equal(ct.data, tile, len);
    assert_int_equal(ct.plain_len, len);
    assert_int_equal(ct.plain_crc, crc_of(tile, len));
    free(ct.data);
    free(ct.plain);
    /* again (remembered as checked): the same answer */
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &ct, err, sizeof err), 1);
    assert_int_equal(ct.plain_crc, crc_of(tile, len));
    free(ct.data);
    free(ct.plain);

    /* the next write stores .mvt.gz and drops the legacy file; same length and CRC */
    assert_int_equal(tq_cache_write(root, "demo", t, tile, len, err, sizeof err), 0);
    assert_int_not_equal(stat(legacy, &st), 0);
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &ct, err, sizeof err), 1);
    assert_int_equal(ct.gzip, 1);
    assert_int_equal(ct.plain_len, len);
    assert_int_equal(ct.plain_crc, crc_of(tile, len));
    free(ct.data);
    free(ct.plain);

    /* a legacy .mvt holding gzip bytes is read as gzip */
    unsigned char *gz = NULL;
    size_t gzlen;
    assert_int_equal(tq_gzip_compress(tile, len, &gz, &gzlen), 0);
    assert_int_equal(unlink(gzpath), 0);
    write_file(legacy, gz, gzlen);
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &ct, err, sizeof err), 1);
    assert_int_equal(ct.gzip, 1);
    assert_int_equal(ct.plain_crc, crc_of(tile, len));
    free(ct.data);
    free(ct.plain);

    /* a broken legacy file is not served, and is removed */
    write_file(legacy, tile, len - 1);
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &ct, err, sizeof err), 0);
    assert_int_not_equal(stat(legacy, &st), 0);

    /* remove takes every form away */
    write_file(legacy, tile, len);
    write_file(gzpath, gz, gzlen);
    write_file(marker, "", 0);
    assert_int_equal(tq_cache_remove(root, "demo", t), 1);
    assert_int_not_equal(stat(legacy, &st), 0);
    assert_int_not_equal(stat(gzpath, &st), 0);
    assert_int_not_equal(stat(marker, &st), 0);
    assert_int_equal(tq_cache_exists(root, "demo", t), 0);
    /* an empty tile's write drops a legacy file too */
    write_file(legacy, tile, len);
    assert_int_equal(tq_cache_write(root, "demo", t, NULL, 0, err, sizeof err), 0);
    assert_int_not_equal(stat(legacy, &st), 0);
    assert_int_equal(tq_cache_read_tile(root, "demo", t, &ct, err, sizeof err), 1);
    assert_int_equal(ct.len, 0);
    assert_int_equal(ct.plain_len, 0);
    free(ct.data);
    free(ct.plain);
    free(gz);
    free(tile);
}

/* ---- fsync paths ----------------------------------------------------------------------- */

/* A metatile of 8x8 tiles into a fresh cache, every 4th tile empty: 48 file fsyncs (an empty
 * tile's marker has no data), one parent fsync per directory created (tileset, zoom, 8
 * columns), and tq_cache_sync_metatile fsyncs the 8 columns once. Written again: 48 + 8.
 * With fsync off: none, and the tiles are still written. */
static void test_fsync_counts(void **state)
{
    size_t len;
    unsigned char *tile = read_data_file(real_tiles[1], &len);
    char err[256] = "";
    struct tq_metatile m = {12, 2072, 1408, 8, 8};

    tq_cache_set_fsync(1);
    for (int round = 0; round < 2; round++) {
        unsigned long before = tq_cache_fsync_count();
        for (uint32_t i = 0; i < 64; i++)
            assert_int_equal(tq_cache_write(root, "demo", tq_metatile_tile(&m, i), tile,
                                            i % 4 == 0 ? 0 : len, err, sizeof err),
                             0);
        unsigned long writes = tq_cache_fsync_count() - before;
        assert_int_equal(writes, round == 0 ? 48 + 1 + 1 + 8 : 48);
        assert_int_equal(tq_cache_sync_metatile(root, "demo", &m, err, sizeof err), 0);
        assert_int_equal(tq_cache_fsync_count() - before, writes + 8);
    }
    /* one tile: its directory only */
    unsigned long before = tq_cache_fsync_count();
    assert_int_equal(tq_cache_sync_tile(root, "demo", tq_metatile_tile(&m, 9), err, sizeof err), 0);
    assert_int_equal(tq_cache_fsync_count() - before, 1);
    /* columns that received nothing (not there) are skipped */
    struct tq_metatile empty = {12, 0, 0, 8, 8};
    before = tq_cache_fsync_count();
    assert_int_equal(tq_cache_sync_metatile(root, "demo", &empty, err, sizeof err), 0);
    assert_int_equal(tq_cache_fsync_count() - before, 0);

    /* off: no fsync at all, the write still happens */
    tq_cache_set_fsync(0);
    struct tq_metatile m2 = {12, 2080, 1408, 8, 8};
    before = tq_cache_fsync_count();
    for (uint32_t i = 0; i < 64; i++)
        assert_int_equal(
            tq_cache_write(root, "demo", tq_metatile_tile(&m2, i), tile, len, err, sizeof err), 0);
    assert_int_equal(tq_cache_sync_metatile(root, "demo", &m2, err, sizeof err), 0);
    assert_int_equal(tq_cache_fsync_count() - before, 0);
    assert_int_equal(tq_cache_exists(root, "demo", tq_metatile_tile(&m2, 63)), 1);
    tq_cache_set_fsync(1);
    free(tile);
}

/* A column path that is not a directory is an error with a reason. */
static void test_fsync_error(void **state)
{
    char err[256] = "", path[512];
    struct tq_metatile m = {4, 0, 0, 2, 2};
    snprintf(path, sizeof path, "%s/demo", root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/demo/4", root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/demo/4/1", root);
    write_file(path, "x", 1);
    assert_int_equal(tq_cache_sync_metatile(root, "demo", &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "demo/4/1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path),
        cmocka_unit_test_setup_teardown(test_write_read_remove, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_empty_tile, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_no_temp_files_left, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_write_fenced, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_path_too_long, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_unwritable_dir, make_root, drop_root),
        cmocka_unit_test(test_check_every_truncation),
        cmocka_unit_test(test_check_gzip),
        cmocka_unit_test(test_check_wire),
        cmocka_unit_test_setup_teardown(test_read_broken, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_legacy_plain, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_fsync_counts, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_fsync_error, make_root, drop_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

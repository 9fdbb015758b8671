/* Unit tests for cli/tq_pmtiles: tile ids against the spec's examples, the Hilbert walk of a
 * range, directory serialization, and whole archives read back by a small reader written
 * here from the spec (header, gzip directories, leaves, run lengths, offsets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tq_gzip.h"
#include "tq_pmtiles.h"

static char err[512];

static void test_tile_id_spec_examples(void **state)
{
    (void)state;
    /* spec / reference reader tests: z0 -> 0; z1 in Hilbert order; the first tile of z2. */
    assert_int_equal(tq_pmtiles_tile_id(0, 0, 0), 0);
    assert_int_equal(tq_pmtiles_tile_id(1, 0, 0), 1);
    assert_int_equal(tq_pmtiles_tile_id(1, 0, 1), 2);
    assert_int_equal(tq_pmtiles_tile_id(1, 1, 1), 3);
    assert_int_equal(tq_pmtiles_tile_id(1, 1, 0), 4);
    assert_int_equal(tq_pmtiles_tile_id(2, 0, 0), 5);
    /* The last tile of z2 ends the level: 5 + 15; z3 starts at 21. */
    assert_int_equal(tq_pmtiles_tile_id(2, 3, 0), 20);
    assert_int_equal(tq_pmtiles_tile_id(3, 0, 0), 21);
    /* Large zooms: the first tile of z20 is (4^20 - 1) / 3. */
    assert_true(tq_pmtiles_tile_id(20, 0, 0) == ((1ull << 40) - 1) / 3);
    struct tq_tile t = tq_pmtiles_tile_of_id(4);
    assert_true(t.z == 1 && t.x == 1 && t.y == 0);
    t = tq_pmtiles_tile_of_id(0);
    assert_true(t.z == 0 && t.x == 0 && t.y == 0);
}

static void test_tile_id_roundtrip(void **state)
{
    (void)state;
    for (int z = 0; z < 8; z++) {
        uint64_t n = 1u << z, first = tq_pmtiles_tile_id(z, 0, 0);
        char *seen = calloc(n * n, 1);
        for (uint32_t x = 0; x < n; x++)
            for (uint32_t y = 0; y < n; y++) {
                uint64_t id = tq_pmtiles_tile_id(z, x, y);
                assert_true(id >= first && id < first + n * n);
                assert_false(seen[id - first]);
                seen[id - first] = 1;
                struct tq_tile t = tq_pmtiles_tile_of_id(id);
                assert_true(t.z == z && t.x == x && t.y == y);
            }
        free(seen);
    }
    struct tq_tile t = tq_pmtiles_tile_of_id(tq_pmtiles_tile_id(26, 12345678, 50000000));
    assert_true(t.z == 26 && t.x == 12345678 && t.y == 50000000);
}

/* The walk gives every tile of the range once, in strictly ascending id. */
static void check_walk(struct tq_tile_range r)
{
    struct tq_hilbert_iter it;
    struct tq_tile t;
    uint64_t id, last = 0, n = 0;
    tq_hilbert_iter_init(&it, &r);
    while (tq_hilbert_iter_next(&it, &t, &id)) {
        assert_int_equal(t.z, r.z);
        assert_true(t.x >= r.xmin && t.x <= r.xmax && t.y >= r.ymin && t.y <= r.ymax);
        assert_true(id == tq_pmtiles_tile_id(t.z, t.x, t.y));
        if (n > 0)
            assert_true(id > last);
        last = id;
        n++;
    }
    assert_int_equal(n, (uint64_t)(r.xmax - r.xmin + 1) * (r.ymax - r.ymin + 1));
}

static void test_hilbert_walk(void **state)
{
    (void)state;
    check_walk((struct tq_tile_range){0, 0, 0, 0, 0});
    check_walk((struct tq_tile_range){1, 0, 0, 1, 1});
    check_walk((struct tq_tile_range){5, 3, 7, 20, 9});
    check_walk((struct tq_tile_range){7, 0, 0, 127, 127});
    check_walk((struct tq_tile_range){12, 2040, 1300, 2100, 1390});
    check_walk((struct tq_tile_range){18, 131000, 90000, 131000, 90000});
}

static uint64_t read_varint(const unsigned char **p)
{
    uint64_t v = 0;
    int shift = 0;
    while (**p & 0x80) {
        v |= (uint64_t)(**p & 0x7f) << shift;
        shift += 7;
        (*p)++;
    }
    v |= (uint64_t) * *p << shift;
    (*p)++;
    return v;
}

/* Decodes a serialized directory; returns the entry count, entries in a malloc'd *out. */
static size_t dir_decode(const unsigned char *p, struct tq_pmtiles_entry **out)
{
    size_t n = read_varint(&p);
    struct tq_pmtiles_entry *e = calloc(n ? n : 1, sizeof *e);
    uint64_t last = 0;
    for (size_t i = 0; i < n; i++)
        e[i].tile_id = last += read_varint(&p);
    for (size_t i = 0; i < n; i++)
        e[i].run_length = (uint32_t)read_varint(&p);
    for (size_t i = 0; i < n; i++)
        e[i].length = (uint32_t)read_varint(&p);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = read_varint(&p);
        e[i].offset = v == 0 && i > 0 ? e[i - 1].offset + e[i - 1].length : v - 1;
    }
    *out = e;
    return n;
}

static void test_dir_serialize(void **state)
{
    (void)state;
    struct tq_pmtiles_entry e[] = {
        {5, 0, 100, 1}, {6, 100, 50, 3}, {9, 0, 100, 1}, {300, 150, 70000, 1}};
    struct tq_buf b = TQ_BUF_INIT;
    assert_int_equal(tq_pmtiles_dir_serialize(e, 4, &b), 0);
    /* count 4; ids 5 +1 +3 +291 (291 = 0xa3 0x02); runs; lengths (70000 = f0 a2 04);
     * offsets 0+1, 0 (follows the first), 0+1, 150+1 (does not follow the third) */
    const unsigned char want[] = {4,  5,   1,    3,    0xa3, 0x02, 1, 3, 1,    1,   100,
                                  50, 100, 0xf0, 0xa2, 0x04, 1,    0, 1, 0x97, 0x01};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    struct tq_pmtiles_entry *d;
    assert_int_equal(dir_decode((const unsigned char *)b.data, &d), 4);
    assert_memory_equal(d, e, sizeof e);
    free(d);
    tq_buf_free(&b);
}

/* ---- a reader, from the spec ---- */

struct archive {
    unsigned char *buf;
    size_t len;
};

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int32_t le32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

static size_t read_dir(const struct archive *a, uint64_t off, uint64_t len,
                       struct tq_pmtiles_entry **e)
{
    unsigned char *plain;
    size_t plain_len;
    assert_true(off + len <= a->len);
    assert_int_equal(tq_gzip_decompress(a->buf + off, len, 1 << 26, &plain, &plain_len), 0);
    size_t n = dir_decode(plain, e);
    free(plain);
    assert_true(n > 0);
    return n;
}

/* The tile's bytes (decompressed) into *out, or 0 when the archive has no such tile. */
static int read_tile(const struct archive *a, uint64_t id, unsigned char **out, size_t *outlen,
                     int *depth_seen)
{
    const unsigned char *h = a->buf;
    uint64_t dir_off = le64(h + 8), dir_len = le64(h + 16);
    for (int depth = 0; depth < 4; depth++) {
        struct tq_pmtiles_entry *e;
        size_t n = read_dir(a, dir_off, dir_len, &e);
        /* the last entry whose tile id <= id */
        long k = -1;
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                assert_true(e[i].tile_id > e[i - 1].tile_id);
            if (e[i].tile_id <= id)
                k = (long)i;
        }
        if (k < 0) {
            free(e);
            return 0;
        }
        struct tq_pmtiles_entry f = e[k];
        free(e);
        if (f.run_length == 0) { /* a leaf */
            dir_off = le64(h + 40) + f.offset;
            dir_len = f.length;
            *depth_seen = depth + 1;
            continue;
        }
        if (id >= f.tile_id + f.run_length)
            return 0;
        assert_true(f.length > 0);
        uint64_t off = le64(h + 56) + f.offset;
        assert_true(off + f.length <= le64(h + 56) + le64(h + 64));
        assert_int_equal(tq_gzip_decompress(a->buf + off, f.length, 1 << 26, out, outlen), 0);
        return 1;
    }
    fail_msg("directories deeper than 3");
    return 0;
}

static void load(const char *path, struct archive *a)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    a->len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    a->buf = malloc(a->len);
    assert_int_equal(fread(a->buf, 1, a->len, f), a->len);
    fclose(f);
}

/* Tile content of tile number i: few distinct contents (i % kinds), some empty. */
static size_t content_of(uint64_t i, int kinds, char *buf, size_t size)
{
    if (i % 7 == 3)
        return 0;                           /* empty */
    int k = (int)(i / 5 % (uint64_t)kinds); /* runs of 5 equal ids */
    return (size_t)snprintf(buf, size, "tile content %d %.*s", k, k % 50,
                            "xxxxxxxxxxxxxxxxxx"
                            "xxxxxxxxxxxxxxxxxx"
                            "xxxxxxxxxxxxxxxxxx");
}

static void write_and_check(size_t root_max, size_t min_leaf, int kinds, uint64_t ntiles,
                            int gzip_input, int expect_leaves)
{
    char dir[] = "/tmp/tq_pmtiles_testXXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.pmtiles", dir);
    struct tq_pmtiles *w = tq_pmtiles_open(path, err, sizeof err);
    assert_non_null(w);
    if (root_max)
        tq_pmtiles_set_dir_limits(w, root_max, min_leaf);
    char buf[256];
    uint64_t base = tq_pmtiles_tile_id(6, 0, 0), nonempty = 0;
    for (uint64_t i = 0; i < ntiles; i++) {
        size_t n = content_of(i, kinds, buf, sizeof buf);
        nonempty += n > 0;
        unsigned char *gz = NULL;
        size_t gzlen = n;
        if (gzip_input && n > 0)
            assert_int_equal(tq_gzip_compress(buf, n, &gz, &gzlen), 0);
        /* ids with gaps every 11 tiles */
        assert_int_equal(
            tq_pmtiles_add(w, base + i + i / 11, gz ? (void *)gz : buf, gzlen, err, sizeof err), 0);
        free(gz);
    }
    /* ids must ascend */
    assert_int_equal(tq_pmtiles_add(w, base, "x", 1, err, sizeof err), -1);
    struct tq_archive_info info = {"t", "d", 6, 6, {-10, -20.5, 30, 40.25}, {10, 9.875, 6}, "{}"};
    info.metadata_json = "{\"vector_layers\":[{\"id\":\"a\",\"fields\":{}}]}";
    assert_int_equal(tq_pmtiles_finish(w, &info, err, sizeof err), 0);
    struct tq_pmtiles_stats st;
    tq_pmtiles_stats(w, &st);
    tq_pmtiles_free(w);
    assert_int_equal(st.addressed, nonempty);
    assert_true(st.contents <= (uint64_t)kinds);
    assert_true(st.entries < nonempty);                 /* runs merged */
    assert_int_equal(st.leaves > 0, expect_leaves > 0); /* leaves only when asked for */

    struct archive a;
    load(path, &a);
    const unsigned char *h = a.buf;
    assert_memory_equal(h, "PMTiles\x03", 8);
    assert_int_equal(le64(h + 8), 127);
    assert_true(127 + le64(h + 16) <= (root_max ? root_max : 16384));
    assert_int_equal(le64(h + 24), 127 + le64(h + 16));          /* metadata after the root */
    assert_int_equal(le64(h + 40), le64(h + 24) + le64(h + 32)); /* leaves after metadata */
    assert_int_equal(le64(h + 56), le64(h + 40) + le64(h + 48)); /* data after leaves */
    assert_int_equal(le64(h + 56) + le64(h + 64), a.len);
    assert_int_equal(le64(h + 72), nonempty);
    assert_int_equal(le64(h + 80), st.entries);
    assert_int_equal(le64(h + 88), st.contents);
    assert_int_equal(h[96], 1);
    assert_int_equal(h[97], 2);
    assert_int_equal(h[98], 2);
    assert_int_equal(h[99], 1);
    assert_int_equal(h[100], 6);
    assert_int_equal(h[101], 6);
    assert_int_equal(le32(h + 102), -100000000);
    assert_int_equal(le32(h + 106), -205000000);
    assert_int_equal(le32(h + 110), 300000000);
    assert_int_equal(le32(h + 114), 402500000);
    assert_int_equal(h[118], 6);
    assert_int_equal(le32(h + 119), 100000000);
    assert_int_equal(le32(h + 123), 98750000);
    unsigned char *meta;
    size_t meta_len;
    assert_int_equal(
        tq_gzip_decompress(a.buf + le64(h + 24), le64(h + 32), 1 << 20, &meta, &meta_len), 0);
    assert_int_equal(meta_len, strlen(info.metadata_json));
    assert_memory_equal(meta, info.metadata_json, meta_len);
    free(meta);

    int depth = 0;
    for (uint64_t i = 0; i < ntiles; i++) {
        size_t n = content_of(i, kinds, buf, sizeof buf);
        unsigned char *got = NULL;
        size_t got_len = 0;
        int has = read_tile(&a, base + i + i / 11, &got, &got_len, &depth);
        assert_int_equal(has, n > 0);
        if (has) {
            assert_int_equal(got_len, n);
            assert_memory_equal(got, buf, n);
        }
        free(got);
        if (i % 11 == 10) { /* the gap after it: no tile */
            assert_int_equal(read_tile(&a, base + i + i / 11 + 1, &got, &got_len, &depth), 0);
        }
    }
    assert_int_equal(depth > 0, expect_leaves > 0);
    assert_int_equal(read_tile(&a, 0, &(unsigned char *){NULL}, &(size_t){0}, &depth), 0);
    free(a.buf);
    unlink(path);
    rmdir(dir);
}

static void test_archive_root_only(void **state)
{
    (void)state;
    write_and_check(0, 0, 4, 500, 0, 0);
    write_and_check(0, 0, 40, 3000, 1, 0);
}

static void test_archive_leaves(void **state)
{
    (void)state;
    /* A root of at most 300 bytes (header included) cannot hold 2,000 entries. */
    write_and_check(300, 16, 30, 4000, 0, 1);
}

static void test_archive_errors(void **state)
{
    (void)state;
    assert_null(tq_pmtiles_open("/nonexistent-dir/a.pmtiles", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir/a.pmtiles"));
    char dir[] = "/tmp/tq_pmtiles_testXXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/e.pmtiles", dir);
    struct tq_pmtiles *w = tq_pmtiles_open(path, err, sizeof err);
    assert_int_equal(tq_pmtiles_add(w, 1, "", 0, err, sizeof err), 0);
    struct tq_archive_info info = {"t", NULL, 0, 0, {-180, -85, 180, 85}, {0, 0, 0}, NULL};
    assert_int_equal(tq_pmtiles_finish(w, &info, err, sizeof err), -1); /* empty tiles only */
    assert_non_null(strstr(err, "empty"));
    tq_pmtiles_free(w);
    assert_int_equal(access(path, F_OK), -1);
    char partial[600];
    snprintf(partial, sizeof partial, "%s.partial", path);
    assert_int_equal(access(partial, F_OK), -1);
    assert_int_equal(rmdir(dir), 0); /* no temp file left behind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tile_id_spec_examples), cmocka_unit_test(test_tile_id_roundtrip),
        cmocka_unit_test(test_hilbert_walk),          cmocka_unit_test(test_dir_serialize),
        cmocka_unit_test(test_archive_root_only),     cmocka_unit_test(test_archive_leaves),
        cmocka_unit_test(test_archive_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

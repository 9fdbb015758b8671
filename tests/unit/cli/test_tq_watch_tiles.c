/* Unit tests for cli/tq_watch_tiles: extents to tile ranges with the buffer, the per-zoom
 * merge and its bound. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_watch_tiles.h"

#define M TQ_MERC_MAX

static void test_range(void **state)
{
    (void)state;
    struct tq_tile_range r;
    /* A point in the middle of tile 1/1/0 (north-east quarter), no buffer: that tile. */
    double p[4] = {M / 2, M / 2, M / 2, M / 2};
    assert_int_equal(tq_watch_tiles_range(p, 1, 0, 4096, &r), 0);
    assert_true(r.z == 1 && r.xmin == 1 && r.xmax == 1 && r.ymin == 0 && r.ymax == 0);
    /* z0: one tile whatever the buffer. */
    assert_int_equal(tq_watch_tiles_range(p, 0, 64, 4096, &r), 0);
    assert_true(r.xmin == 0 && r.xmax == 0 && r.ymin == 0 && r.ymax == 0);
    /* A point just east of a tile edge at z10: with buffer 64/4096 the tile west of it is
     * in too (its buffer reaches over the edge); without buffer only its own. */
    double size = 2 * M / 1024;
    double e[4] = {-M + 518 * size + size / 1000, M - 352.5 * size, -M + 518 * size + size / 1000,
                   M - 352.5 * size};
    assert_int_equal(tq_watch_tiles_range(e, 10, 0, 4096, &r), 0);
    assert_true(r.xmin == 518 && r.xmax == 518 && r.ymin == 352 && r.ymax == 352);
    assert_int_equal(tq_watch_tiles_range(e, 10, 64, 4096, &r), 0);
    assert_true(r.xmin == 517 && r.xmax == 518 && r.ymin == 352 && r.ymax == 352);
    /* A box over the whole world (and beyond): clamped to the grid. */
    double w[4] = {-2 * M, -2 * M, 2 * M, 2 * M};
    assert_int_equal(tq_watch_tiles_range(w, 3, 64, 4096, &r), 0);
    assert_true(r.xmin == 0 && r.xmax == 7 && r.ymin == 0 && r.ymax == 7);
    /* NaN, inverted, wholly off the world: refused. */
    double bad[4] = {NAN, 0, 0, 0};
    assert_int_equal(tq_watch_tiles_range(bad, 3, 64, 4096, &r), -1);
    double inv[4] = {10, 0, 0, 10};
    assert_int_equal(tq_watch_tiles_range(inv, 3, 64, 4096, &r), -1);
    double off[4] = {3 * M, 0, 4 * M, 1};
    assert_int_equal(tq_watch_tiles_range(off, 3, 0, 4096, &r), -1);
    r = tq_watch_tiles_world(2);
    assert_true(r.z == 2 && r.xmin == 0 && r.xmax == 3 && r.ymax == 3);
    assert_int_equal(tq_watch_tiles_count(&r), 16);
}

struct seen {
    int n, merged;
    struct tq_tile_range last;
    size_t ts;
};

static int collect(size_t ts, const struct tq_tile_range *r, int merged, void *arg)
{
    struct seen *s = arg;
    s->n++;
    s->merged += merged;
    s->last = *r;
    s->ts = ts;
    return 0;
}

static void test_zoomset(void **state)
{
    (void)state;
    struct tq_watch_zoomset *zs = tq_watch_zoomset_new();
    assert_non_null(zs);
    struct tq_tile_range a = {12, 100, 100, 101, 101}, b = {12, 200, 50, 200, 50},
                         c = {13, 5, 5, 5, 5};
    assert_int_equal(tq_watch_zoomset_add(zs, 0, &a), 0);
    assert_int_equal(tq_watch_zoomset_add(zs, 0, &a), 0); /* the same range: once */
    assert_int_equal(tq_watch_zoomset_add(zs, 0, &b), 0);
    assert_int_equal(tq_watch_zoomset_add(zs, 1, &c), 0);
    /* Under the bound: each distinct range. */
    struct seen s = {0};
    assert_int_equal(tq_watch_zoomset_each(zs, 100, collect, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.merged, 0);
    /* Bound 4 tiles: z12 of tileset 0 holds 5 -> one merged bounding range; z13 stays. */
    memset(&s, 0, sizeof s);
    struct seen m = {0};
    assert_int_equal(tq_watch_zoomset_each(zs, 4, collect, &m), 0);
    assert_int_equal(m.n, 2);
    assert_int_equal(m.merged, 1);
    assert_true(m.last.z == 12 && m.last.xmin == 100 && m.last.xmax == 200 && m.last.ymin == 50 &&
                m.last.ymax == 101);
    assert_int_equal(m.ts, 0);
    tq_watch_zoomset_clear(zs);
    memset(&s, 0, sizeof s);
    assert_int_equal(tq_watch_zoomset_each(zs, 4, collect, &s), 0);
    assert_int_equal(s.n, 0);
    tq_watch_zoomset_free(zs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_zoomset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

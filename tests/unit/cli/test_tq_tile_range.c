/* Unit tests for cli/tq_tile_range: parent/child expansion and metatile walks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_tile_range.h"

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
    struct tq_tile_range_iter it;
    struct tq_metatile m;
    /* z6, x 30..41, y 20..22, metatile 8: columns 24, 32, 40; one row 16. */
    struct tq_tile_range r = {6, 30, 20, 41, 22};
    tq_tile_range_iter_init(&it, &r, 8);
    uint32_t want[][2] = {{24, 16}, {32, 16}, {40, 16}};
    size_t n = 0;
    while (tq_tile_range_iter_next(&it, &m)) {
        assert_true(n < 3);
        assert_true(m.mx == want[n][0] && m.my == want[n][1] && m.w == 8 && m.h == 8);
        n++;
    }
    assert_int_equal(n, 3);
    assert_int_equal(tq_tile_range_metatile_tiles(&r, 8), 3 * 64);
    /* Clamped at z1: one 2×2 metatile. */
    struct tq_tile_range r1 = {1, 0, 0, 1, 1};
    tq_tile_range_iter_init(&it, &r1, 8);
    assert_true(tq_tile_range_iter_next(&it, &m) && m.w == 2 && m.h == 2);
    assert_false(tq_tile_range_iter_next(&it, &m));
    assert_int_equal(tq_tile_range_metatile_tiles(&r1, 8), 4);
    /* The whole z30 grid's last metatile does not wrap around. */
    struct tq_tile_range rl = {30, 0x3ffffff8, 0x3ffffff8, 0x3fffffff, 0x3fffffff};
    tq_tile_range_iter_init(&it, &rl, 8);
    assert_true(tq_tile_range_iter_next(&it, &m));
    assert_false(tq_tile_range_iter_next(&it, &m));
    /* Clip. */
    struct tq_tile_range part;
    struct tq_metatile mm = {6, 32, 16, 8, 8};
    assert_true(tq_tile_range_clip(&r, &mm, &part));
    assert_true(part.xmin == 32 && part.xmax == 39 && part.ymin == 20 && part.ymax == 22);
    struct tq_metatile far = {6, 0, 0, 8, 8};
    assert_false(tq_tile_range_clip(&r, &far, &part));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_metatile_iter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

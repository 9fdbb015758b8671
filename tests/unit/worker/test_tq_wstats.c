/* Unit tests for tq_wstats: renders and failures counted into the worker's figures, and
 * those figures as the HSET the coordinators read (tq_wfigures_encode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_wstats.h"

/* The value of field name in an HSET's argv, or NULL. */
static const char *field(const struct tq_wfigures_hset *x, const char *name)
{
    for (int i = 2; i + 1 < x->argc; i += 2)
        if (strcmp(x->argv[i], name) == 0)
            return x->argv[i + 1];
    return NULL;
}

static void test_counts(void **state)
{
    struct tq_wstats s;
    memset(&s, 0, sizeof s);

    tq_wstats_render(&s, 12, 64, 250.0);
    assert_true(s.dirty);
    tq_wstats_render(&s, 12, 1, 750.0);
    tq_wstats_render(&s, 3, 64, 500.0);
    tq_wstats_render(&s, 99, 1, 1.0); /* outside the grid: counted, no histogram */
    tq_wstats_fail(&s, TQ_WFAIL_LOST);
    tq_wstats_fail(&s, TQ_WFAIL_LOST);
    tq_wstats_fail(&s, TQ_WFAIL_WRITE);
    assert_int_equal(s.f.renders, 4);
    assert_int_equal(s.f.tiles, 130);
    assert_true(s.f.sql_seconds > 1.5009 && s.f.sql_seconds < 1.5011);
    assert_int_equal(s.f.fail[TQ_WFAIL_LOST], 2);
    assert_int_equal(s.f.fail[TQ_WFAIL_WRITE], 1);
    assert_int_equal(s.f.fail[TQ_WFAIL_SQL], 0);

    /* 0.25 s and 0.75 s fall in the buckets whose upper bounds are 0.25 and 1 */
    uint64_t total = 0;
    for (int b = 0; b <= TQ_WFIGURES_NBUCKETS; b++)
        total += s.f.hist[12][b];
    assert_int_equal(total, 2);
    for (int b = 0; b < TQ_WFIGURES_NBUCKETS; b++) {
        if (TQ_WFIGURES_BUCKETS[b] == 0.25 || TQ_WFIGURES_BUCKETS[b] == 1)
            assert_int_equal(s.f.hist[12][b], 1);
    }
    assert_true(s.f.hist_sum[12] == 1.0);
    assert_true(s.f.hist_sum[3] == 0.5);
}

static void test_published_fields(void **state)
{
    struct tq_wstats s;
    struct tq_wfigures_hset *x = malloc(sizeof *x);
    memset(&s, 0, sizeof s);

    tq_wstats_render(&s, 3, 64, 500.0);
    tq_wstats_fail(&s, TQ_WFAIL_SQL);
    s.f.updated_ms = 1234;
    assert_int_equal(tq_wfigures_encode(&s.f, "w1", x), 0);
    assert_string_equal(x->argv[0], "HSET");
    assert_string_equal(x->argv[1], TQ_WMETRICS_KEY_PREFIX "w1");
    assert_string_equal(field(x, "renders"), "1");
    assert_string_equal(field(x, "tiles"), "64");
    assert_string_equal(field(x, "fail_sql"), "1");
    assert_string_equal(field(x, "fail_lost"), "0");
    assert_string_equal(field(x, "updated_ms"), "1234");
    assert_non_null(field(x, "z3"));
    assert_null(field(x, "z4"));
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_published_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_wfigures: counting renders and failures, and the hash fields the
 * coordinators' /metrics read (tq_metrics.h, TQ_WMETRICS_*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_wfigures.h"

/* The value of field name, or NULL. */
static const char *field(const struct tq_wfigures_fields *out, const char *name)
{
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->name[i], name) == 0)
            return out->value[i];
    return NULL;
}

static void test_empty(void **state)
{
    struct tq_wfigures f;
    struct tq_wfigures_fields *out = malloc(sizeof *out);
    memset(&f, 0, sizeof f);

    tq_wfigures_encode(&f, 1234, out);
    /* renders tiles sql_seconds updated_ms + 4 failure kinds, no histogram */
    assert_int_equal(out->n, 8);
    assert_string_equal(out->name[0], "renders");
    assert_string_equal(out->name[1], "tiles");
    assert_string_equal(out->name[2], "sql_seconds");
    assert_string_equal(out->name[3], "updated_ms");
    assert_string_equal(field(out, "renders"), "0");
    assert_string_equal(field(out, "updated_ms"), "1234");
    assert_string_equal(field(out, "fail_sql"), "0");
    assert_string_equal(field(out, "fail_write"), "0");
    assert_string_equal(field(out, "fail_invalid"), "0");
    assert_string_equal(field(out, "fail_lost"), "0");
    assert_null(field(out, "z0"));
    free(out);
}

static void test_counts(void **state)
{
    struct tq_wfigures f;
    struct tq_wfigures_fields *out = malloc(sizeof *out);
    uint64_t counts[TQ_METRICS_LATENCY_NBUCKETS + 1];
    double sum = 0;
    memset(&f, 0, sizeof f);

    tq_wfigures_render(&f, 12, 64, 250.0);
    assert_true(f.dirty);
    tq_wfigures_render(&f, 12, 1, 750.0);
    tq_wfigures_render(&f, 3, 64, 500.0);
    tq_wfigures_render(&f, 99, 1, 1.0); /* outside the grid: counted, no histogram */
    tq_wfigures_fail(&f, TQ_WFAIL_LOST);
    tq_wfigures_fail(&f, TQ_WFAIL_LOST);
    tq_wfigures_fail(&f, TQ_WFAIL_WRITE);
    assert_int_equal(f.renders, 4);
    assert_int_equal(f.tiles, 130);

    tq_wfigures_encode(&f, 5, out);
    assert_int_equal(out->n, 8 + 2); /* z3 and z12 */
    assert_string_equal(field(out, "renders"), "4");
    assert_string_equal(field(out, "tiles"), "130");
    assert_string_equal(field(out, "sql_seconds"), "1.501");
    assert_string_equal(field(out, "fail_lost"), "2");
    assert_string_equal(field(out, "fail_write"), "1");
    assert_string_equal(field(out, "fail_sql"), "0");
    assert_null(field(out, "z0"));
    assert_non_null(field(out, "z3"));
    assert_int_equal(
        tq_metrics_hist_decode(field(out, "z12"), counts, TQ_METRICS_LATENCY_NBUCKETS + 1, &sum),
        0);
    uint64_t total = 0;
    for (int b = 0; b <= TQ_METRICS_LATENCY_NBUCKETS; b++)
        total += counts[b];
    assert_int_equal(total, 2);
    assert_true(sum == 1.0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_wfigures: the histogram codec and the worker figures' round trip through
 * the hash a worker writes and a coordinator reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reply_fake.h"
#include "tq_wfigures.h"

static void test_hist_codec(void **state)
{
    (void)state;
    uint64_t counts[4] = {3, 0, 1, 2}, back[4];
    double sum = 0;
    char s[128];

    assert_int_equal(tq_wfigures_hist_encode(counts, 4, 1.25, s, sizeof s), 0);
    assert_string_equal(s, "6 1.25 3 0 1 2");
    assert_int_equal(tq_wfigures_hist_decode(s, back, 4, &sum), 0);
    assert_memory_equal(back, counts, sizeof counts);
    assert_true(sum == 1.25);
    assert_int_equal(tq_wfigures_hist_encode(counts, 4, 1.25, s, 8), -1);
    assert_int_equal(tq_wfigures_hist_encode(counts, 4, 0.1, s, sizeof s), 0);
    assert_int_equal(tq_wfigures_hist_decode(s, back, 4, &sum), 0);
    assert_true(sum == 0.1); /* exactly */

    assert_int_equal(tq_wfigures_hist_decode("6 1.25 3 0 1", back, 4, &sum), -1); /* short */
    assert_int_equal(tq_wfigures_hist_decode("6 1.25 3 0 1 2 9", back, 4, &sum), -1);
    assert_int_equal(tq_wfigures_hist_decode("7 1.25 3 0 1 2", back, 4, &sum), -1); /* total */
    assert_int_equal(tq_wfigures_hist_decode("6 x 3 0 1 2", back, 4, &sum), -1);
    assert_int_equal(tq_wfigures_hist_decode("6 1.25 3 -0 1 2", back, 4, &sum), -1);
    assert_int_equal(tq_wfigures_hist_decode("", back, 4, &sum), -1);
    assert_int_equal(tq_wfigures_hist_decode(NULL, back, 4, &sum), -1);
    assert_int_equal(tq_wfigures_hist_decode("0 0", back, 0, &sum), 0);
}

/* The HSET's field/value pairs as the HGETALL reply a reader gets. */
static redisReply *as_hash(const struct tq_wfigures_hset *x)
{
    redisReply *h = fake_arr(0);
    free(h->element);
    h->elements = (size_t)(x->argc - 2);
    h->element = calloc(h->elements, sizeof *h->element);
    for (int i = 2; i < x->argc; i++)
        h->element[i - 2] = fake_str(x->argv[i]);
    return h;
}

static void test_round_trip(void **state)
{
    (void)state;
    static struct tq_wfigures f, back;
    static struct tq_wfigures_hset x;

    memset(&f, 0, sizeof f);
    f.renders = 12;
    f.tiles = 700;
    f.sql_seconds = 3.375;
    f.updated_ms = 1700000000123;
    f.fail[TQ_WFAIL_SQL] = 2;
    f.fail[TQ_WFAIL_LOST] = 1;
    f.hist[14][3] = 5;
    f.hist[14][TQ_WFIGURES_NBUCKETS] = 1;
    f.hist_sum[14] = 130.5;
    assert_int_equal(tq_wfigures_encode(&f, "host-1-42", &x), 0);
    assert_string_equal(x.argv[0], "HSET");
    assert_string_equal(x.argv[1], "{tq}:wmetrics:host-1-42");
    /* 4 figures, 4 failure kinds, one zoom */
    assert_int_equal(x.argc, 2 + 2 * (4 + TQ_WFAIL_COUNT + 1));

    redisReply *h = as_hash(&x);
    assert_int_equal(tq_wfigures_parse(h, &back), 0);
    freeReplyObject(h);
    assert_memory_equal(&back, &f, sizeof f);

    /* unknown fields and malformed histograms are left out; old float counters read */
    h = fake_arr(8, fake_str("renders"), fake_str("3e+00"), fake_str("z99"), fake_str("1 1 1"),
                 fake_str("z5"), fake_str("2 1 1"), fake_str("future_field"), fake_str("1"));
    assert_int_equal(tq_wfigures_parse(h, &back), 0);
    freeReplyObject(h);
    assert_int_equal(back.renders, 3);
    assert_int_equal(back.hist[5][0], 0);
    h = fake_int(1);
    assert_int_equal(tq_wfigures_parse(h, &back), -1);
    freeReplyObject(h);
    assert_string_equal(tq_wfail_name(TQ_WFAIL_INVALID), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_codec),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

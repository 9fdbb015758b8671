/* Unit tests for tq_backoff: the delay sequence, the cap, reset on ok, readiness, jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tq_backoff.h"

static void test_sequence(void **state)
{
    (void)state;
    struct tq_backoff b;
    tq_backoff_init(&b, 100, 1000);
    assert_true(tq_backoff_ready(&b, 0));
    assert_int_equal(tq_backoff_peek(&b), 100);
    const int64_t want[] = {100, 200, 400, 800, 1000, 1000};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        assert_int_equal(tq_backoff_fail(&b, 5000), want[i]);
    assert_int_equal(b.next_ms, 6000);
    assert_false(tq_backoff_ready(&b, 5999));
    assert_int_equal(tq_backoff_wait_ms(&b, 5500), 500);
    assert_true(tq_backoff_ready(&b, 6000));
    assert_int_equal(tq_backoff_wait_ms(&b, 7000), 0);
    tq_backoff_ok(&b);
    assert_true(tq_backoff_ready(&b, 0));
    assert_int_equal(b.delay_ms, 0);
    assert_int_equal(tq_backoff_fail(&b, 0), 100);
}

static void test_uneven_cap_and_factor(void **state)
{
    (void)state;
    struct tq_backoff b;
    tq_backoff_init(&b, 1000, 30000); /* 1, 2, 4, 8, 16, 30 s */
    int64_t d = 0;
    for (int i = 0; i < 5; i++)
        d = tq_backoff_fail(&b, 0);
    assert_int_equal(d, 16000);
    assert_int_equal(tq_backoff_peek(&b), 30000);
    assert_int_equal(tq_backoff_fail(&b, 0), 30000);
    tq_backoff_init(&b, 10, 10000);
    tq_backoff_set_factor(&b, 10);
    assert_int_equal(tq_backoff_fail(&b, 0), 10);
    assert_int_equal(tq_backoff_fail(&b, 0), 100);
    assert_int_equal(tq_backoff_fail(&b, 0), 1000);
    assert_int_equal(tq_backoff_fail(&b, 0), 10000);
    assert_int_equal(tq_backoff_fail(&b, 0), 10000);
    /* no overflow near the top of int64 */
    tq_backoff_init(&b, INT64_MAX / 3, INT64_MAX / 2);
    tq_backoff_fail(&b, 0);
    assert_int_equal(tq_backoff_fail(&b, 0), INT64_MAX / 2);
    /* nonsense policies are raised to something usable */
    tq_backoff_init(&b, 0, -5);
    assert_int_equal(tq_backoff_fail(&b, 0), 1);
    assert_int_equal(tq_backoff_fail(&b, 0), 1);
}

static void test_jitter(void **state)
{
    (void)state;
    struct tq_backoff b;
    tq_backoff_init(&b, 1000, 1000);
    tq_backoff_set_jitter(&b, 50, 12345);
    int differ = 0;
    for (int i = 0; i < 200; i++) {
        int64_t d = tq_backoff_fail(&b, 0);
        assert_true(d >= 500 && d <= 1000);
        assert_int_equal(b.next_ms, d);
        if (d != 1000)
            differ++;
    }
    assert_true(differ > 100);
    assert_int_equal(b.delay_ms, 1000); /* growth ignores the jitter */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_uneven_cap_and_factor),
        cmocka_unit_test(test_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_lease's arithmetic: the margin a rename needs, the window in which
 * renames need no heartbeat, the render's tick and a job's lease budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tq_lease.h"

static void test_margin(void **state)
{
    assert_int_equal(tq_lease_margin_ms(30000), 15000);
    assert_int_equal(tq_lease_margin_ms(1001), 500);
    assert_int_equal(tq_lease_margin_ms(0), 0);
}

static void test_safe_window(void **state)
{
    double until = -1;

    /* 20 s left, 15 s needed: renames are safe for 5 s from when the heartbeat was sent */
    assert_int_equal(tq_lease_safe_window(1000.5, 20000, 15000, &until), 0);
    assert_true(until == 6000.5);
    /* exactly the margin left: safe now, and only now */
    assert_int_equal(tq_lease_safe_window(1000.0, 15000, 15000, &until), 0);
    assert_true(until == 1000.0);
    /* below the margin, or lost (<= 0): not safe, until untouched */
    until = -1;
    assert_int_equal(tq_lease_safe_window(1000.0, 14999, 15000, &until), -1);
    assert_int_equal(tq_lease_safe_window(1000.0, 0, 15000, &until), -1);
    assert_int_equal(tq_lease_safe_window(1000.0, -5, 15000, &until), -1);
    assert_true(until == -1);
}

static void test_tick(void **state)
{
    assert_int_equal(tq_lease_tick_ms(30000), 1000); /* capped */
    assert_int_equal(tq_lease_tick_ms(1500), 500);   /* a third of the lease */
    assert_int_equal(tq_lease_tick_ms(20), 10);      /* floored */
    assert_int_equal(tq_lease_tick_ms(0), 10);
}

static void test_budget(void **state)
{
    assert_int_equal(tq_lease_budget_ms(30000, 1, 30000), 60000);
    assert_int_equal(tq_lease_budget_ms(1500, 2, 30000), 33000);
    /* no overflow in int for large timeouts */
    assert_int_equal(tq_lease_budget_ms(2000000000, 2, 1000), 4000001000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_margin),
        cmocka_unit_test(test_safe_window),
        cmocka_unit_test(test_tick),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

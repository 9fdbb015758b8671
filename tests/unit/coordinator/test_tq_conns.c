/* Unit tests for tq_conns' pure part: when a request's read deadline is over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tq_conns.h"

#define S 1000000 /* µs */

static void test_overdue(void **state)
{
    struct tq_conn c;
    int req;

    (void)state;
    memset(&c, 0, sizeof c);
    /* Idle (nothing received since the last request): never overdue. */
    assert_int_equal(tq_conns_overdue(&c, 1000 * (int64_t)S, 10 * (int64_t)S), 0);
    /* First byte at 100 s, deadline 10 s: overdue from 110 s on. */
    c.read_start_us = 100 * (int64_t)S;
    assert_int_equal(tq_conns_overdue(&c, 110 * (int64_t)S - 1, 10 * (int64_t)S), 0);
    assert_int_equal(tq_conns_overdue(&c, 110 * (int64_t)S, 10 * (int64_t)S), 1);
    /* A request being answered is not being read. */
    c.req = (struct evhttp_request *)&req;
    assert_int_equal(tq_conns_overdue(&c, 200 * (int64_t)S, 10 * (int64_t)S), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overdue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_report_time: the report's time parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "tq_report.h"

static void test_time_parse(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(tq_report_time_parse("2024-05-01", 0, &t), 0);
    assert_int_equal(t, 1714521600000LL);
    assert_int_equal(tq_report_time_parse("2024-05-01T10:00:00.5Z", 0, &t), 0);
    assert_int_equal(t, 1714557600500LL);
    assert_int_equal(tq_report_time_parse("2024-05-01 12:00+02:00", 0, &t), 0);
    assert_int_equal(t, 1714557600000LL);
    assert_int_equal(tq_report_time_parse("2024-05-01 10:00:00 UTC", 0, &t), 0);
    assert_int_equal(t, 1714557600000LL);
    assert_int_equal(tq_report_time_parse("@1714557600", 0, &t), 0);
    assert_int_equal(t, 1714557600000LL);
    assert_int_equal(tq_report_time_parse("2h", 10000000, &t), 0);
    assert_int_equal(t, 10000000 - 7200000);
    assert_int_equal(tq_report_time_parse("yesterday", 0, &t), -1);
    assert_int_equal(tq_report_time_parse("2024-13-01", 0, &t), -1);
    /* durations and unix times whose milliseconds do not fit an int64_t */
    assert_int_equal(tq_report_time_parse("99999999999999999999d", 0, &t), -1);
    assert_int_equal(tq_report_time_parse("9999999999999999h", 0, &t), -1);
    assert_int_equal(tq_report_time_parse("@1e300", 0, &t), -1);
    char buf[64];
    assert_string_equal(tq_report_time_format(1714557600500LL, buf, sizeof buf),
                        "2024-05-01T10:00:00.500Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_report_time: the report's time parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

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

/* The date arithmetic is timegm's: every day of 1600-2400 (leap centuries, 29 February),
 * days past a month's end (31 April) and a leap second (:60) roll over the same way. */
static void test_time_parse_calendar(void **state)
{
    (void)state;
    static const int DAYS[] = {1, 28, 29, 30, 31};
    for (int y = 1600; y <= 2400; y += (y >= 1890 && y <= 2110) ? 1 : 7) {
        for (int m = 1; m <= 12; m++) {
            for (size_t k = 0; k < sizeof DAYS / sizeof DAYS[0]; k++) {
                char buf[64];
                int d = DAYS[k], sec = (m + d) % 7 == 0 ? 60 : 59;
                snprintf(buf, sizeof buf, "%04d-%02d-%02d 23:%02d:%02d.250", y, m, d, m, sec);
                struct tm tm = {0};
                tm.tm_year = y - 1900;
                tm.tm_mon = m - 1;
                tm.tm_mday = d;
                tm.tm_hour = 23;
                tm.tm_min = m;
                tm.tm_sec = sec;
                int64_t want = (int64_t)timegm(&tm) * 1000 + 250, got;
                assert_int_equal(tq_report_time_parse(buf, 0, &got), 0);
                if (got != want)
                    fail_msg("%s: %lld, timegm %lld", buf, (long long)got, (long long)want);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_parse_calendar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

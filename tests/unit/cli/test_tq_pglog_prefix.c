/* Unit tests for tq_pglog_prefix: severity, time, pid, user and database out of a
 * log_line_prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "tq_pglog_prefix.h"
#include "tq_report.h"

static void test_severity(void **state)
{
    (void)state;
    enum tq_pglog_sev sev;
    const char *body;
    const char *line = "2024-05-01 10:00:00 UTC [12] DETAIL:  parameters: $1 = '1'";
    assert_ptr_equal(tq_pglog_prefix_severity(line, &sev, &body), line + 29);
    assert_int_equal(sev, TQ_PGLOG_SEV_DETAIL);
    assert_string_equal(body, "parameters: $1 = '1'");
    assert_non_null(tq_pglog_prefix_severity("x ERROR:  boom", &sev, &body));
    assert_int_equal(sev, TQ_PGLOG_SEV_OTHER);
    /* a severity word must follow a separator and be followed by ":  " */
    assert_null(tq_pglog_prefix_severity("xLOG:  no", &sev, &body));
    assert_null(tq_pglog_prefix_severity("LOG: one space", &sev, &body));
}

static void test_time(void **state)
{
    (void)state;
    int64_t t;
    const char *s = "2024-05-01 10:00:00.250 UTC [1] LOG:  x";
    assert_int_equal(tq_pglog_prefix_time(s, 28, &t), 0);
    assert_int_equal(t, 1714557600250LL);
    assert_int_equal(tq_pglog_prefix_time("1714557600.5 [1] ", 17, &t), 0); /* %n */
    assert_int_equal(t, 1714557600500LL);
    assert_int_equal(tq_pglog_prefix_time("[1] LOG:  x", 11, &t), -1);
}

static void test_parse(void **state)
{
    (void)state;
    struct tq_pglog_entry e;
    tq_pglog_entry_init(&e);
    assert_int_equal(e.time_ms, TQ_TIME_UNSET);
    assert_int_equal(e.pid, -1);
    assert_int_equal(tq_pglog_prefix_parse("2024-05-01 10:00:00 UTC [4242]: [3-1] "
                                           "user=app,db=gis LOG:  statement: SELECT 1",
                                           &e),
                     0);
    assert_int_equal(e.time_ms, 1714557600000LL);
    assert_int_equal(e.pid, 4242);
    assert_string_equal(e.user, "app");
    assert_string_equal(e.db, "gis");
    assert_int_equal(e.sev, TQ_PGLOG_SEV_LOG);
    assert_string_equal(e.body, "statement: SELECT 1");

    tq_pglog_entry_init(&e);
    assert_int_equal(tq_pglog_prefix_parse("[77] tiler@osm LOG:  duration: 1 ms", &e), 0);
    assert_int_equal(e.pid, 77);
    assert_string_equal(e.user, "tiler");
    assert_string_equal(e.db, "osm");
    assert_int_equal(e.time_ms, TQ_TIME_UNSET);

    tq_pglog_entry_init(&e);
    assert_int_equal(tq_pglog_prefix_parse("no severity here", &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_severity),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_pglog_format: lines of each format → the entries handed on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tq_pglog_format.h"

struct seen {
    int n;
    long pid[8];
    enum tq_pglog_sev sev[8];
    char body[8][128];
};

static void on_entry(void *ctx, const struct tq_pglog_entry *e)
{
    struct seen *s = ctx;
    if (s->n < 8) {
        s->pid[s->n] = e->pid;
        s->sev[s->n] = e->sev;
        snprintf(s->body[s->n], sizeof s->body[0], "%s", e->body);
    }
    s->n++;
}

static int on_pending(void *ctx, long pid)
{
    (void)ctx;
    (void)pid;
    return 1;
}

static struct tq_pglog_format *new_format(struct seen *s, struct tq_report_input *st)
{
    memset(s, 0, sizeof *s);
    memset(st, 0, sizeof *st);
    struct tq_pglog_format_sink sink = {s, on_entry, on_pending, st};
    struct tq_pglog_format *f = tq_pglog_format_new(&sink, NULL);
    assert_non_null(f);
    return f;
}

static void test_stderr(void **state)
{
    (void)state;
    struct seen s;
    struct tq_report_input st;
    struct tq_pglog_format *f = new_format(&s, &st);
    tq_pglog_format_line(f, "2024-05-01 10:00:00 UTC [7] LOG:  statement: SELECT 1", 0, 0);
    tq_pglog_format_line(f, "\tFROM t", 0, 0);
    tq_pglog_format_line(f, "2024-05-01 10:00:01 UTC [8] LOG:  statement: SELECT 2", 0, 0);
    assert_int_equal(s.n, 1); /* the second message is still open */
    tq_pglog_format_end(f);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.body[0], "statement: SELECT 1\n\tFROM t");
    assert_int_equal(s.pid[1], 8);
    assert_int_equal(st.entries, 2);
    tq_pglog_format_free(f);
}

static void test_csvlog(void **state)
{
    (void)state;
    struct seen s;
    struct tq_report_input st;
    struct tq_pglog_format *f = new_format(&s, &st);
    tq_pglog_format_line(f,
                         "2024-05-01 10:00:00.000 UTC,\"app\",\"gis\",9,\"h:1\",a.1,1,"
                         "\"SELECT\",2024-05-01 00:00:00 UTC,3/1,0,LOG,00000,\"duration: 1 ms"
                         "  execute S_1: SELECT",
                         0, 0);
    tq_pglog_format_line(f, "$1\",\"parameters: $1 = '1'\",,,,,,,,,\"psql\"", 0, 0);
    tq_pglog_format_end(f);
    assert_int_equal(s.n, 2); /* the record, then its detail field as a DETAIL entry */
    assert_int_equal(s.pid[0], 9);
    assert_string_equal(s.body[0], "duration: 1 ms  execute S_1: SELECT\n$1");
    assert_int_equal(s.sev[1], TQ_PGLOG_SEV_DETAIL);
    assert_string_equal(s.body[1], "parameters: $1 = '1'");
    tq_pglog_format_free(f);
}

static void test_syslog(void **state)
{
    (void)state;
    struct seen s;
    struct tq_report_input st;
    struct tq_pglog_format *f = new_format(&s, &st);
    tq_pglog_format_line(f, "May  1 10:00:00 h postgres[5]: [3-1] [5] LOG:  statement: SELECT", 0,
                         0);
    tq_pglog_format_line(f, "May  1 10:00:00 h postgres[6]: [1-1] [6] LOG:  statement: x", 0, 0);
    tq_pglog_format_line(f, "May  1 10:00:00 h postgres[5]: [3-2] #0111 FROM t", 0, 0);
    tq_pglog_format_line(f, "May  1 10:00:00 h postgres[5]: [9-2] lost", 0, 0);
    tq_pglog_format_end(f);
    assert_int_equal(s.n, 2);
    assert_int_equal(st.malformed, 1); /* a continuation whose first line was not seen */
    for (int i = 0; i < 2; i++)
        if (s.pid[i] == 5)
            assert_string_equal(s.body[i], "statement: SELECT\n\t1 FROM t");
    tq_pglog_format_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stderr),
        cmocka_unit_test(test_csvlog),
        cmocka_unit_test(test_syslog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

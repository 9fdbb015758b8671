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
    char host[8][64];
    int late[8];
};

static void on_entry(void *ctx, const struct tq_pglog_entry *e)
{
    struct seen *s = ctx;
    if (s->n < 8) {
        s->pid[s->n] = e->pid;
        s->sev[s->n] = e->sev;
        snprintf(s->body[s->n], sizeof s->body[0], "%s", e->body);
        snprintf(s->host[s->n], sizeof s->host[0], "%s", e->host);
        s->late[s->n] = e->late;
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

/* The syslog header's host becomes the entry's host (none in "Mon DD HH:MM:SS ident[pid]"). */
static void test_syslog_host(void **state)
{
    (void)state;
    struct seen s;
    struct tq_report_input st;
    struct tq_pglog_format *f = new_format(&s, &st);
    tq_pglog_format_line(f, "May  1 10:00:00 db-1 postgres[5]: [3-1] LOG:  statement: a", 0, 0);
    tq_pglog_format_line(f, "2024-05-01T10:00:00+02:00 db-2 postgres[6]: [1-1] LOG:  x", 0, 0);
    tq_pglog_format_line(f, "May  1 10:00:00 postgres[7]: [1-1] LOG:  y", 0, 0);
    tq_pglog_format_end(f);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++) /* finished at the end, in no given order */
        assert_string_equal(s.host[i], s.pid[i] == 5 ? "db-1" : s.pid[i] == 6 ? "db-2" : "");
    tq_pglog_format_free(f);
}

/* A chunk from the middle of a syslog file: continuations of messages begun before it are
 * skipped without being counted; entries say whether they began past the chunk's end. */
static void test_chunk_head_late(void **state)
{
    (void)state;
    struct seen s;
    struct tq_report_input st;
    struct tq_pglog_format *f = new_format(&s, &st);
    tq_pglog_format_begin(f, TQ_PGLOG_FMT_SYSLOG, 1);
    tq_pglog_format_line(f, "May  1 10:00:00 h postgres[5]: [3-2] tail of a message", 0, 0);
    tq_pglog_format_line(f, "May  1 10:00:00 h postgres[6]: [1-1] LOG:  a", 0, 0);
    tq_pglog_format_line(f, "May  1 10:00:00 h postgres[7]: [1-1] LOG:  b", 1, 0);
    assert_int_equal(tq_pglog_format_open_early(f), 1); /* pid 6's message */
    tq_pglog_format_line(f, "May  1 10:00:00 h postgres[6]: [2-1] LOG:  c", 1, 0);
    assert_int_equal(tq_pglog_format_open_early(f), 0);
    tq_pglog_format_end(f);
    assert_int_equal(st.malformed, 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.body[0], "a"); /* finished by pid 6's next message */
    assert_int_equal(s.late[0], 0);
    assert_int_equal(s.late[1] + s.late[2], 2);
    tq_pglog_format_free(f);
}

/* Detection and the lines where a chunk may start. */
static void test_detect_starts(void **state)
{
    (void)state;
    const char *csv = "2024-05-01 10:00:00.000 UTC,\"u\",\"d\",1,,,,,,,,LOG,,\"x\"";
    assert_int_equal(tq_pglog_format_detect(csv), TQ_PGLOG_FMT_CSV);
    assert_int_equal(tq_pglog_format_detect("2024-05-01 10:00:00 UTC [1] LOG:  x"),
                     TQ_PGLOG_FMT_STDERR_DIGIT);
    assert_int_equal(tq_pglog_format_detect("[1] LOG:  x"), TQ_PGLOG_FMT_STDERR);
    assert_int_equal(tq_pglog_format_detect("May  1 10:00:00 h postgres[5]: [3-1] LOG:  x"),
                     TQ_PGLOG_FMT_SYSLOG);
    assert_int_equal(tq_pglog_format_detect(""), TQ_PGLOG_FMT_UNKNOWN);
    assert_true(tq_pglog_format_starts(TQ_PGLOG_FMT_STDERR_DIGIT, "2024-05-01 [1] LOG:  x"));
    assert_false(tq_pglog_format_starts(TQ_PGLOG_FMT_STDERR_DIGIT, "\tFROM t"));
    assert_false(tq_pglog_format_starts(TQ_PGLOG_FMT_STDERR_DIGIT, "x [1] LOG:  x"));
    assert_true(tq_pglog_format_starts(TQ_PGLOG_FMT_CSV, csv));
    assert_false(tq_pglog_format_starts(TQ_PGLOG_FMT_CSV, " FROM t\",,,"));
    assert_false(tq_pglog_format_starts(TQ_PGLOG_FMT_SYSLOG, "May  1 h postgres[5]: [3-2] x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stderr),          cmocka_unit_test(test_csvlog),
        cmocka_unit_test(test_syslog),          cmocka_unit_test(test_syslog_host),
        cmocka_unit_test(test_chunk_head_late), cmocka_unit_test(test_detect_starts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_pglog_prefix: severity, time, pid, user and database out of a
 * log_line_prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

/* Parses text (prefix + "LOG:  x") with the log_line_prefix fmt into e. */
static int parse_with(const char *fmt, const char *text, struct tq_pglog_entry *e)
{
    char err[128];
    struct tq_pglog_prefix *pf = tq_pglog_prefix_compile(fmt, err, sizeof err);
    assert_non_null(pf);
    tq_pglog_entry_init(e);
    enum tq_pglog_sev sev;
    const char *body;
    const char *sp = tq_pglog_prefix_severity(text, &sev, &body);
    assert_non_null(sp);
    int rc = tq_pglog_prefix_match(pf, text, (size_t)(sp - text), e);
    tq_pglog_prefix_free(pf);
    return rc;
}

static void test_prefix_compile(void **state)
{
    (void)state;
    char err[128];
    assert_null(tq_pglog_prefix_compile("%t %z ", err, sizeof err));
    assert_non_null(strstr(err, "%z"));
    assert_null(tq_pglog_prefix_compile("no escapes", err, sizeof err));
    assert_null(tq_pglog_prefix_compile("trailing %", err, sizeof err));
    struct tq_pglog_prefix *pf = tq_pglog_prefix_compile("%%%t%%", err, sizeof err);
    assert_non_null(pf);
    tq_pglog_prefix_free(pf);
}

/* The CARTO prefix: time, user, database, application separated by spaces. */
static void test_prefix_carto(void **state)
{
    (void)state;
    struct tq_pglog_entry e;
    assert_int_equal(
        parse_with("%t %u %d %a ", "2024-05-01 10:00:00 UTC tiler gis my app LOG:  x", &e), 0);
    assert_int_equal(e.time_ms, 1714557600000LL);
    assert_string_equal(e.user, "tiler");
    assert_string_equal(e.db, "gis");
    assert_string_equal(e.app, "my app");
    /* empty fields (a background process) */
    assert_int_equal(parse_with("%t %u %d %a ", "2024-05-01 10:00:00 UTC    LOG:  x", &e), 0);
    assert_string_equal(e.user, "");
    assert_string_equal(e.db, "");
}

static void test_prefix_pgbadger_default(void **state)
{
    (void)state;
    struct tq_pglog_entry e;
    assert_int_equal(parse_with("%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
                                "2024-05-01 10:00:00 CEST [4242]: [3-1] user=u1,db=osm,"
                                "app=psql,client=10.1.2.3 LOG:  x",
                                &e),
                     0);
    assert_int_equal(e.pid, 4242);
    assert_string_equal(e.user, "u1");
    assert_string_equal(e.db, "osm");
    assert_string_equal(e.app, "psql");
    assert_string_equal(e.client, "10.1.2.3");
    assert_true(e.time_ms != TQ_TIME_UNSET);
}

static void test_prefix_escapes(void **state)
{
    (void)state;
    struct tq_pglog_entry e;
    /* %m (ms), %r (host and port), %c %v %x %e %l %n %Q %b %i and padding */
    assert_int_equal(parse_with("%m %r %c %v %x %e %l|%-8u|%10d|%b|%i ",
                                "2024-05-01 10:00:00.250 UTC 10.0.0.7(51234) 6630f2a0.1f4 3/17 "
                                "0 00000 12|alice   |       gis|client backend|SELECT LOG:  x",
                                &e),
                     0);
    assert_int_equal(e.time_ms, 1714557600250LL);
    assert_string_equal(e.client, "10.0.0.7");
    assert_string_equal(e.user, "alice");
    assert_string_equal(e.db, "gis");
    assert_int_equal(parse_with("%n [%p] %Q ", "1714557600.5 [9] -123456 LOG:  x", &e), 0);
    assert_int_equal(e.time_ms, 1714557600500LL);
    assert_int_equal(e.pid, 9);
    /* %q: what follows it is absent for non-session processes */
    assert_int_equal(parse_with("%m [%p] %q%u@%d ", "2024-05-01 10:00:00.000 UTC [5] LOG:  x", &e),
                     0);
    assert_int_equal(e.pid, 5);
    assert_string_equal(e.user, "");
    assert_int_equal(
        parse_with("%m [%p] %q%u@%d ", "2024-05-01 10:00:00.000 UTC [5] bob@maps LOG:  x", &e), 0);
    assert_string_equal(e.user, "bob");
    assert_string_equal(e.db, "maps");
    /* a prefix that does not match */
    assert_int_equal(parse_with("[%p] %u ", "2024-05-01 10:00:00 UTC [5] LOG:  x", &e), -1);
    assert_int_equal(parse_with("%t [%p] ", "2024-05-01 10:00:00 UTC [abc] LOG:  x", &e), -1);
}

/* Without a match the guess is used; with one, the prefix wins over the guess. */
static void test_parse_with(void **state)
{
    (void)state;
    char err[128];
    struct tq_pglog_prefix *pf = tq_pglog_prefix_compile("%t %u %d ", err, sizeof err);
    assert_non_null(pf);
    struct tq_pglog_entry e;
    tq_pglog_entry_init(&e);
    assert_int_equal(
        tq_pglog_prefix_parse_with(pf, "2024-05-01 10:00:00 UTC osm gis LOG:  statement: x", &e),
        0);
    assert_string_equal(e.user, "osm");
    assert_string_equal(e.db, "gis");
    assert_string_equal(e.body, "statement: x");
    tq_pglog_entry_init(&e);
    assert_int_equal(tq_pglog_prefix_parse_with(pf, "[7] a@b LOG:  statement: x", &e), 0);
    assert_string_equal(e.user, "a");
    assert_int_equal(e.pid, 7);
    assert_int_equal(tq_pglog_prefix_parse_with(pf, "no severity", &e), -1);
    tq_pglog_prefix_free(pf);
}

/* Without --prefix: CARTO's '%t %u %d %a ' is guessed (two name-like words after the time
 * and its zone); other prefixes are read as before and bare words that are not names are
 * not taken for a user and database. */
static void test_guess_bare_words(void **state)
{
    (void)state;
    static const struct {
        const char *line, *user, *db;
    } cases[] = {
        /* CARTO: application of two words, of none, a zone offset, %m, [%p] before */
        {"2024-05-01 10:00:00 UTC tiler gis_1 my app LOG:  x", "tiler", "gis_1"},
        {"2024-05-01 10:00:00 UTC tiler gis  LOG:  x", "tiler", "gis"},
        {"2024-05-01 10:00:00.125 +03 u.1 d-2 psql LOG:  x", "u.1", "d-2"},
        {"2024-05-01 10:00:00 CEST [42] tiler gis LOG:  x", "tiler", "gis"},
        {"2024-05-01 10:00:00 UTC [42]: [3-1] tiler gis LOG:  x", "tiler", "gis"},
        /* the forms guessed before win */
        {"2024-05-01 10:00:00 UTC [1] user=a,db=b app LOG:  x", "a", "b"},
        {"2024-05-01 10:00:00 UTC [1] a@b tiler gis LOG:  x", "a", "b"},
        /* not names: nothing */
        {"2024-05-01 10:00:00 UTC    LOG:  x", "", ""},                   /* non-session process */
        {"2024-05-01 10:00:00 UTC 4242 tiler LOG:  x", "", ""},           /* %p first */
        {"2024-05-01 10:00:00 UTC psql LOG:  x", "", ""},                 /* one word (%a) */
        {"2024-05-01 10:00:00 UTC 65f1a2b3.1c2d tiler LOG:  x", "", ""},  /* %c */
        {"2024-05-01 10:00:00 UTC a5f1b2c3.4d2 tiler LOG:  x", "", ""},   /* %c */
        {"2024-05-01 10:00:00 UTC 10.0.0.1(5432) tiler LOG:  x", "", ""}, /* %r */
        {"2024-05-01 10:00:00 UTC [unknown] [unknown] LOG:  x", "", ""},
        {"2024-05-01 10:00:00 UTC tiler: gis LOG:  x", "", ""},
        {"1714557600.125 tiler gis LOG:  x", "", ""},      /* %n: no zone to tell it */
        {"tiler gis LOG:  x", "", ""},                     /* no time */
        {"2024-05-01 10:00:00 tiler gis LOG:  x", "", ""}, /* no zone: tiler would be it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tq_pglog_entry e;
        tq_pglog_entry_init(&e);
        assert_int_equal(tq_pglog_prefix_parse(cases[i].line, &e), 0);
        if (strcmp(e.user, cases[i].user) != 0 || strcmp(e.db, cases[i].db) != 0)
            fail_msg("%s: user '%s' db '%s'", cases[i].line, e.user, e.db);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_severity),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_prefix_compile),
        cmocka_unit_test(test_prefix_carto),
        cmocka_unit_test(test_prefix_pgbadger_default),
        cmocka_unit_test(test_prefix_escapes),
        cmocka_unit_test(test_parse_with),
        cmocka_unit_test(test_guess_bare_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

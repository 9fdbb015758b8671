/* Unit tests for tq_log: line format, quoting, levels, one write per line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tq_log.h"

static void test_level_parse(void **state)
{
    enum tq_log_level l = TQ_LOG_ERROR;
    assert_int_equal(tq_log_level_parse("debug", &l), 0);
    assert_int_equal(l, TQ_LOG_DEBUG);
    assert_int_equal(tq_log_level_parse("info", &l), 0);
    assert_int_equal(l, TQ_LOG_INFO);
    assert_int_equal(tq_log_level_parse("warn", &l), 0);
    assert_int_equal(l, TQ_LOG_WARN);
    assert_int_equal(tq_log_level_parse("error", &l), 0);
    assert_int_equal(l, TQ_LOG_ERROR);
    assert_int_equal(tq_log_level_parse("", &l), -1);
    assert_int_equal(tq_log_level_parse("verbose", &l), -1);
    assert_int_equal(tq_log_level_parse("info ", &l), -1);
    assert_int_equal(tq_log_level_parse(NULL, &l), -1);
}

/* Checks "ts=YYYY-MM-DDTHH:MM:SS.mmmZ " at the start of line; returns what follows. */
static const char *skip_ts(const char *line)
{
    const char *pat = "ts=0000-00-00T00:00:00.000Z ";
    for (size_t i = 0; pat[i]; i++) {
        if (pat[i] == '0')
            assert_true(line[i] >= '0' && line[i] <= '9');
        else
            assert_int_equal(line[i], pat[i]);
    }
    return line + strlen(pat);
}

static void test_format(void **state)
{
    char buf[512];
    tq_log_init("tileq-worker", TQ_LOG_INFO);
    size_t n = tq_log_format(buf, sizeof buf, TQ_LOG_INFO, "job_done", "tileset=demo z=3");
    assert_int_equal(n, strlen(buf));
    assert_string_equal(skip_ts(buf),
                        "level=info prog=tileq-worker event=job_done tileset=demo z=3");

    n = tq_log_format(buf, sizeof buf, TQ_LOG_ERROR, "boom", "");
    assert_string_equal(skip_ts(buf), "level=error prog=tileq-worker event=boom");
    n = tq_log_format(buf, sizeof buf, TQ_LOG_WARN, "w", NULL);
    assert_string_equal(skip_ts(buf), "level=warn prog=tileq-worker event=w");
    n = tq_log_format(buf, sizeof buf, TQ_LOG_DEBUG, "d", "a=1");
    assert_string_equal(skip_ts(buf), "level=debug prog=tileq-worker event=d a=1");

    /* truncation: returns bufsize-1 and NUL-terminates */
    char small[20];
    n = tq_log_format(small, sizeof small, TQ_LOG_INFO, "event", "k=v");
    assert_int_equal(n, sizeof small - 1);
    assert_int_equal(strlen(small), sizeof small - 1);
    memset(small, 'x', sizeof small);
    n = tq_log_format(small, 1, TQ_LOG_INFO, "event", "k=v");
    assert_int_equal(n, 0);
    assert_int_equal(small[0], '\0');
}

static void test_quote(void **state)
{
    char buf[64];
    assert_string_equal(tq_log_quote("plain", buf, sizeof buf), "plain");
    assert_string_equal(tq_log_quote("a/b-c_d.e:f", buf, sizeof buf), "a/b-c_d.e:f");
    assert_string_equal(tq_log_quote("back\\slash", buf, sizeof buf), "back\\slash");
    assert_string_equal(tq_log_quote("two words", buf, sizeof buf), "\"two words\"");
    assert_string_equal(tq_log_quote("a=b", buf, sizeof buf), "\"a=b\"");
    assert_string_equal(tq_log_quote("say \"hi\"", buf, sizeof buf), "\"say \\\"hi\\\"\"");
    assert_string_equal(tq_log_quote("x y\\z", buf, sizeof buf), "\"x y\\\\z\"");
    assert_string_equal(tq_log_quote("line1\nline2", buf, sizeof buf), "\"line1\\nline2\"");
    assert_string_equal(tq_log_quote("tab\there", buf, sizeof buf), "\"tab\\there\"");
    assert_string_equal(tq_log_quote("bell\x07", buf, sizeof buf), "\"bell\\x07\"");
    assert_string_equal(tq_log_quote("", buf, sizeof buf), "");
    assert_string_equal(tq_log_quote(NULL, buf, sizeof buf), "");

    /* truncation: stays quoted, never splits an escape, always NUL-terminated */
    char small[8];
    assert_string_equal(tq_log_quote("abcdefghijkl", small, sizeof small), "abcdefg");
    assert_string_equal(tq_log_quote("a b c d e f", small, sizeof small), "\"a b c\"");
    assert_string_equal(tq_log_quote("ab\"\"\"\"", small, sizeof small), "\"ab\\\"\"");
    assert_string_equal(tq_log_quote("a\nb\nc", small, sizeof small), "\"a\\nb\"");
    char tiny[3];
    assert_string_equal(tq_log_quote("a b", tiny, sizeof tiny), "\"\"");
    char two[2];
    assert_string_equal(tq_log_quote("a b", two, sizeof two), "");
    char one[1] = {'x'};
    tq_log_quote("a b", one, sizeof one);
    assert_int_equal(one[0], '\0');
}

/* Runs tq_log with stderr redirected into a pipe and returns what was written. */
static size_t capture(char *out, size_t outsize, void (*fn)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
    close(fds[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    size_t got = 0;
    ssize_t n;
    while ((n = read(fds[0], out + got, outsize - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    out[got] = '\0';
    return got;
}

static void log_some(void)
{
    tq_log_init("tileq-test", TQ_LOG_WARN);
    tq_log_info("hidden", "a=%d", 1);
    tq_log_debug("hidden", "a=%d", 2);
    tq_log_warn("shown", "a=%d b=%s", 3, "x");
    tq_log_error("injected", "msg=%s", "one\ntwo");
    tq_log(TQ_LOG_ERROR, "nofields", NULL);
}

static void test_log_levels_and_lines(void **state)
{
    char out[4096];
    capture(out, sizeof out, log_some);
    assert_null(strstr(out, "hidden"));
    char *l1 = out, *nl = strchr(l1, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_string_equal(skip_ts(l1), "level=warn prog=tileq-test event=shown a=3 b=x");
    char *l2 = nl + 1;
    nl = strchr(l2, '\n');
    assert_non_null(nl);
    *nl = '\0';
    /* a raw newline from the caller does not split the event over two lines */
    assert_string_equal(skip_ts(l2), "level=error prog=tileq-test event=injected msg=one two");
    char *l3 = nl + 1;
    nl = strchr(l3, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_string_equal(skip_ts(l3), "level=error prog=tileq-test event=nofields");
    assert_string_equal(nl + 1, "");
}

static void log_long(void)
{
    static char big[20000];
    memset(big, 'v', sizeof big - 1);
    tq_log_init("tileq-test", TQ_LOG_DEBUG);
    tq_log_info("long", "k=%s", big);
}

static void test_log_long_line(void **state)
{
    static char out[40000];
    size_t n = capture(out, sizeof out, log_long);
    assert_true(n > 1000);
    assert_true(n < 20000); /* truncated */
    assert_int_equal(out[n - 1], '\n');
    assert_ptr_equal(strchr(out, '\n'), out + n - 1); /* exactly one line */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_parse),   cmocka_unit_test(test_format),
        cmocka_unit_test(test_quote),         cmocka_unit_test(test_log_levels_and_lines),
        cmocka_unit_test(test_log_long_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

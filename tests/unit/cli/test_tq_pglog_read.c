/* Unit tests for tq_pglog_read: lines out of a file, "\r\n" ends, a last line without an
 * end, a missing file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tq_pglog_read.h"

static void test_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/tq_pglog_read_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "one\r\n\ntwo\nthree";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);

    char err[256];
    const char *line;
    int cut;
    struct tq_pglog_read *r = tq_pglog_read_open(path, err, sizeof err);
    assert_non_null(r);
    const char *want[] = {"one", "", "two", "three"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tq_pglog_read_line(r, &line, &cut, err, sizeof err), 1);
        assert_string_equal(line, want[i]);
        assert_int_equal(cut, 0);
    }
    assert_int_equal(tq_pglog_read_line(r, &line, &cut, err, sizeof err), 0);
    tq_pglog_read_close(r);
    unlink(path);
}

static void test_missing(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(tq_pglog_read_open("/nonexistent/pg.log", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/pg.log: "));
    tq_pglog_read_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_buf: appends, printf, growth, reset, take, the empty buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_buf.h"

static void test_empty(void **state)
{
    (void)state;
    struct tq_buf b = TQ_BUF_INIT;
    size_t len = 99;
    assert_string_equal(tq_buf_str(&b), "");
    assert_int_equal(tq_buf_failed(&b), 0);
    char *s = tq_buf_take(&b, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    tq_buf_free(&b); /* freeing an empty buffer is fine */
    assert_null(b.data);
}

static void test_append_printf(void **state)
{
    (void)state;
    struct tq_buf b = TQ_BUF_INIT;
    assert_int_equal(tq_buf_append_str(&b, "hello"), 0);
    assert_int_equal(tq_buf_append_char(&b, ' '), 0);
    assert_int_equal(tq_buf_printf(&b, "%d/%s", 42, "x"), 0);
    assert_int_equal(tq_buf_append(&b, "abc", 2), 0);
    assert_string_equal(tq_buf_str(&b), "hello 42/xab");
    assert_int_equal(b.len, strlen("hello 42/xab"));
    assert_int_equal(tq_buf_append(&b, NULL, 0), 0);
    assert_int_equal(b.len, strlen("hello 42/xab"));
    /* embedded NUL: kept, and the buffer is terminated after it */
    assert_int_equal(tq_buf_append(&b, "\0z", 2), 0);
    assert_int_equal(b.len, strlen("hello 42/xab") + 2);
    assert_int_equal(b.data[b.len - 1], 'z');
    assert_int_equal(b.data[b.len], '\0');
    tq_buf_free(&b);
}

static void test_growth(void **state)
{
    (void)state;
    struct tq_buf b = TQ_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        assert_int_equal(tq_buf_printf(&b, "%04d,", i % 10000), 0);
    assert_int_equal(b.len, 50000);
    assert_true(b.cap > b.len);
    assert_memory_equal(b.data, "0000,0001,", 10);
    assert_memory_equal(b.data + 49995, "9999,", 5);
    /* a long printf in one go */
    char big[3000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tq_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(tq_buf_str(&b), "");
    assert_int_equal(tq_buf_printf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, sizeof big + 1);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[b.len - 1], '>');
    tq_buf_free(&b);
}

static void test_reserve(void **state)
{
    (void)state;
    struct tq_buf b = TQ_BUF_INIT;
    assert_int_equal(tq_buf_reserve(&b, 1000), 0);
    assert_true(b.cap >= 1001);
    char *before = b.data;
    for (int i = 0; i < 1000; i++)
        tq_buf_append_char(&b, 'a');
    assert_ptr_equal(b.data, before); /* no move within what was reserved */
    /* an impossible size fails, sticks, and take returns NULL */
    assert_int_equal(tq_buf_reserve(&b, SIZE_MAX), -1);
    assert_int_equal(tq_buf_failed(&b), 1);
    assert_int_equal(tq_buf_append_str(&b, "more"), -1);
    assert_int_equal(tq_buf_printf(&b, "%d", 1), -1);
    size_t len = 7;
    assert_null(tq_buf_take(&b, &len));
    assert_int_equal(len, 0);
    assert_null(b.data);
    assert_int_equal(tq_buf_failed(&b), 0);
    /* reusable after take */
    assert_int_equal(tq_buf_append_str(&b, "again"), 0);
    assert_string_equal(tq_buf_str(&b), "again");
    tq_buf_free(&b);
}

static void test_reset_clears_failure(void **state)
{
    (void)state;
    struct tq_buf b = TQ_BUF_INIT;
    tq_buf_append_str(&b, "x");
    assert_int_equal(tq_buf_reserve(&b, SIZE_MAX - 1), -1);
    tq_buf_reset(&b);
    assert_int_equal(tq_buf_failed(&b), 0);
    assert_int_equal(tq_buf_append_str(&b, "ok"), 0);
    size_t len;
    char *s = tq_buf_take(&b, &len);
    assert_string_equal(s, "ok");
    assert_int_equal(len, 2);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_append_printf),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_reset_clears_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_tileset: the tileset-name rule and the metatile maximum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tq_tileset.h"

static int valid(const char *s)
{
    return tq_tileset_name_valid(s, strlen(s));
}

static void test_name(void **state)
{
    (void)state;
    char max[TQ_TILESET_NAME_MAX + 1];

    assert_true(valid("demo"));
    assert_true(valid("a"));
    assert_true(valid("Roads_2024-v2"));
    assert_true(valid("0-9_AZaz"));
    const char *bad[] = {"", "a b", "a/b", "a.b", "..", "a:b", "é", "a\tb", "{tq}", "a%20"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (valid(bad[i]))
            fail_msg("accepted \"%s\"", bad[i]);
    memset(max, 'x', sizeof max);
    assert_true(tq_tileset_name_valid(max, TQ_TILESET_NAME_MAX - 1));
    assert_false(tq_tileset_name_valid(max, TQ_TILESET_NAME_MAX));
    /* len bytes only: what follows does not count */
    assert_true(tq_tileset_name_valid("demo/3/1/2", 4));
    assert_false(tq_tileset_name_valid("demo/3/1/2", 5));
    assert_false(tq_tileset_name_valid(NULL, 0));
    assert_false(tq_tileset_name_valid("a\0b", 3));
}

static void test_name_char(void **state)
{
    (void)state;
    int n = 0;
    for (int c = -128; c < 128; c++)
        n += tq_tileset_name_char((char)c);
    assert_int_equal(n, 26 + 26 + 10 + 2);
    assert_true(tq_tileset_name_char('_'));
    assert_true(tq_tileset_name_char('-'));
    assert_false(tq_tileset_name_char('.'));
    assert_false(tq_tileset_name_char('\0'));
}

static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(TQ_TILESET_NAME_MAX, 64);
    assert_int_equal(TQ_METATILE_MAX, 64);
    assert_string_equal(TQ_TILESET_NAME_CHARS, "[A-Za-z0-9_-]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_name_char),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

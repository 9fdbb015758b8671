/* Unit tests for tq_map: string keys with integer values (a set of job ids), fixed-size
 * struct keys with record values (a statistics table), pointer keys with pointer values,
 * removal and tombstone churn, iteration, stored keys, clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_map.h"

static void test_string_keys(void **state)
{
    (void)state;
    struct tq_map *m = tq_map_new(0, sizeof(long));
    char key[32];
    int added;
    long *v;

    assert_non_null(m);
    assert_null(tq_map_str_get(m, "absent")); /* empty map, nothing allocated */
    assert_int_equal(tq_map_str_remove(m, "absent", NULL), 0);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "demo/%d", i);
        v = tq_map_str_put(m, key, &added);
        assert_non_null(v);
        assert_int_equal(added, 1);
        assert_int_equal(*v, 0); /* zeroed when inserted */
        *v = i;
    }
    v = tq_map_str_put(m, "demo/7", &added);
    assert_int_equal(added, 0);
    assert_int_equal(*v, 7);
    assert_int_equal(tq_map_count(m), 5000);
    v = tq_map_str_get(m, "demo/4999");
    assert_non_null(v);
    assert_int_equal(*v, 4999);
    /* the stored key is the map's own copy, a C string */
    const char *stored = tq_map_key(m, v, NULL);
    assert_string_equal(stored, "demo/4999");
    assert_ptr_not_equal(stored, key);
    /* removal hands the value back */
    long out = -1;
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof key, "demo/%d", i);
        assert_int_equal(tq_map_str_remove(m, key, &out), 1);
        assert_int_equal(out, i);
    }
    assert_int_equal(tq_map_str_remove(m, "demo/0", NULL), 0);
    assert_null(tq_map_str_get(m, "demo/0"));
    assert_int_equal(tq_map_count(m), 2500);
    /* iteration sees every live entry once */
    size_t pos = 0, seen = 0, klen;
    const void *k;
    while ((v = tq_map_next(m, &pos, &k, &klen)) != NULL) {
        assert_true(*v % 2 == 1);
        assert_int_equal(klen, strlen(k) + 1);
        seen++;
    }
    assert_int_equal(seen, 2500);
    /* churn: tombstones are reclaimed, the table does not fill up */
    for (int r = 0; r < 20; r++)
        for (int i = 0; i < 1000; i++) {
            snprintf(key, sizeof key, "x/%d", i);
            assert_non_null(tq_map_str_put(m, key, NULL));
            assert_int_equal(tq_map_str_remove(m, key, NULL), 1);
        }
    assert_int_equal(tq_map_count(m), 2500);
    v = tq_map_str_get(m, "demo/1");
    assert_non_null(v);
    assert_int_equal(*v, 1);
    tq_map_free(m);
}

static void test_remove_while_iterating(void **state)
{
    (void)state;
    struct tq_map *m = tq_map_new(0, 0); /* a set */
    char key[32];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_non_null(tq_map_str_put(m, key, NULL));
    }
    size_t pos = 0, seen = 0;
    const void *k;
    while (tq_map_next(m, &pos, &k, NULL) != NULL) {
        char copy[32];
        snprintf(copy, sizeof copy, "%s", (const char *)k);
        assert_int_equal(tq_map_str_remove(m, copy, NULL), 1);
        seen++;
    }
    assert_int_equal(seen, 300);
    assert_int_equal(tq_map_count(m), 0);
    tq_map_free(m);
}

/* A statistics table: a struct key (padding zeroed), a record value updated in place. */
struct tkey {
    uint32_t tileset, x, y;
    int8_t z;
};
struct tstat {
    uint64_t renders;
    double ms;
};

static struct tkey tkey_make(uint32_t ts, int z, uint32_t x, uint32_t y)
{
    struct tkey k;
    memset(&k, 0, sizeof k);
    k.tileset = ts;
    k.z = (int8_t)z;
    k.x = x;
    k.y = y;
    return k;
}

static void test_fixed_keys(void **state)
{
    (void)state;
    struct tq_map *m = tq_map_new(sizeof(struct tkey), sizeof(struct tstat));
    int added;

    for (int round = 0; round < 3; round++)
        for (uint32_t x = 0; x < 100; x++)
            for (uint32_t y = 0; y < 50; y++) {
                struct tkey k = tkey_make(1, 12, x, y);
                struct tstat *s = tq_map_put(m, &k, sizeof k, &added);
                assert_non_null(s);
                assert_int_equal(added, round == 0);
                s->renders++;
                s->ms += 1.5;
            }
    assert_int_equal(tq_map_count(m), 5000);
    struct tkey k = tkey_make(1, 12, 42, 7);
    struct tstat *s = tq_map_get(m, &k, sizeof k);
    assert_non_null(s);
    assert_int_equal(s->renders, 3);
    size_t klen = 0;
    const struct tkey *stored = tq_map_key(m, s, &klen);
    assert_int_equal(klen, sizeof k);
    assert_int_equal(stored->x, 42);
    assert_int_equal(stored->y, 7);
    k = tkey_make(2, 12, 42, 7);
    assert_null(tq_map_get(m, &k, sizeof k));
    /* a key of the wrong size is refused */
    assert_null(tq_map_get(m, &k, sizeof k - 1));
    assert_null(tq_map_put(m, &k, sizeof k + 1, &added));
    assert_int_equal(added, 0);
    assert_int_equal(tq_map_remove(m, &k, 3, NULL), 0);
    tq_map_clear(m);
    assert_int_equal(tq_map_count(m), 0);
    k = tkey_make(1, 12, 42, 7);
    assert_null(tq_map_get(m, &k, sizeof k));
    assert_non_null(tq_map_put(m, &k, sizeof k, &added));
    assert_int_equal(added, 1);
    tq_map_free(m);
}

/* Objects that must not move: the pointer is the key (a connection), the value too. */
static void test_pointer_keys(void **state)
{
    (void)state;
    struct tq_map *m = tq_map_new(sizeof(void *), sizeof(void *));
    int objs[64];
    for (int i = 0; i < 64; i++) {
        int *p = &objs[i];
        void **slot = tq_map_put(m, &p, sizeof p, NULL);
        assert_non_null(slot);
        *slot = p;
    }
    for (int i = 0; i < 64; i++) {
        int *p = &objs[i];
        void **slot = tq_map_get(m, &p, sizeof p);
        assert_non_null(slot);
        assert_ptr_equal(*slot, p);
    }
    int *p = &objs[10];
    void *out = NULL;
    assert_int_equal(tq_map_remove(m, &p, sizeof p, &out), 1);
    assert_ptr_equal(out, p);
    assert_null(tq_map_get(m, &p, sizeof p));
    assert_int_equal(tq_map_count(m), 63);
    tq_map_free(m);
    tq_map_free(NULL);
}

/* Byte keys of any length, the empty key included. */
static void test_byte_keys(void **state)
{
    (void)state;
    struct tq_map *m = tq_map_new(0, sizeof(int));
    int *v = tq_map_put(m, "", 0, NULL);
    assert_non_null(v);
    *v = 5;
    v = tq_map_put(m, "a\0b", 3, NULL);
    *v = 6;
    v = tq_map_put(m, "a\0c", 3, NULL);
    *v = 7;
    assert_int_equal(*(int *)tq_map_get(m, "", 0), 5);
    assert_int_equal(*(int *)tq_map_get(m, "a\0b", 3), 6);
    assert_int_equal(*(int *)tq_map_get(m, "a\0c", 3), 7);
    assert_null(tq_map_get(m, "a", 1));
    assert_null(tq_map_str_get(m, "a")); /* "a" with its NUL is 2 bytes */
    assert_int_equal(tq_map_count(m), 3);
    tq_map_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_keys), cmocka_unit_test(test_remove_while_iterating),
        cmocka_unit_test(test_fixed_keys),  cmocka_unit_test(test_pointer_keys),
        cmocka_unit_test(test_byte_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for cli/tq_archive: the dedup index (exact: a hash match is confirmed by the
 * writer's same() callback; a "no" makes a second entry of the same hash and length) and
 * the plain/gzip content comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_archive.h"
#include "tq_gzip.h"

/* A store of contents by id, as a writer would have. */
struct store {
    char items[64][64];
    size_t n;
    int calls, lie; /* lie: same() says "different" for everything */
};

static int same(void *arg, const struct tq_dedup_ref *ref, const void *data, size_t len)
{
    struct store *s = arg;
    s->calls++;
    if (s->lie)
        return 0;
    return strlen(s->items[ref->a]) == len && memcmp(s->items[ref->a], data, len) == 0;
}

static uint64_t put(struct tq_dedup *d, struct store *s, const char *text)
{
    struct tq_dedup_ref ref;
    int r = tq_dedup_find(d, text, strlen(text), &ref);
    assert_true(r >= 0);
    if (r == 1)
        return ref.a;
    snprintf(s->items[s->n], sizeof s->items[0], "%s", text);
    ref.a = s->n++;
    ref.b = 0;
    assert_int_equal(tq_dedup_insert(d, &ref), 0);
    return ref.a;
}

static void test_dedup(void **state)
{
    (void)state;
    struct store s = {0};
    struct tq_dedup *d = tq_dedup_new(same, &s);
    assert_non_null(d);
    assert_int_equal(put(d, &s, "ocean"), 0);
    assert_int_equal(put(d, &s, "land"), 1);
    assert_int_equal(put(d, &s, "ocean"), 0);
    assert_int_equal(put(d, &s, "ocean"), 0);
    assert_int_equal(put(d, &s, "a longer tile of more than eight bytes"), 2);
    assert_int_equal(put(d, &s, "a longer tile of more than eight bytes"), 2);
    assert_int_equal(put(d, &s, "a longer tile of more than eight byteS"), 3);
    assert_int_equal(tq_dedup_count(d), 4);
    /* insert without a find that answered 0 */
    struct tq_dedup_ref ref = {9, 9};
    assert_int_equal(tq_dedup_insert(d, &ref), -1);
    tq_dedup_free(d);
}

static void test_dedup_collision(void **state)
{
    (void)state;
    /* same() answering "different" stands for a hash collision: the equal-hash contents get
     * keys of their own (salts), each one stored. */
    struct store s = {0};
    struct tq_dedup *d = tq_dedup_new(same, &s);
    s.lie = 1;
    assert_int_equal(put(d, &s, "x"), 0);
    assert_int_equal(put(d, &s, "x"), 1);
    assert_int_equal(put(d, &s, "x"), 2);
    assert_int_equal(s.calls, 0 + 1 + 2);
    s.lie = 0;
    s.calls = 0;
    assert_int_equal(put(d, &s, "x"), 0); /* the first salt matches */
    assert_int_equal(s.calls, 1);
    assert_int_equal(tq_dedup_count(d), 3);
    tq_dedup_free(d);
}

static void test_same_content(void **state)
{
    (void)state;
    const char *plain = "some MVT bytes, some MVT bytes";
    unsigned char *gz;
    size_t gzlen;
    assert_int_equal(tq_gzip_compress(plain, strlen(plain), &gz, &gzlen), 0);
    assert_int_equal(tq_archive_same_content(plain, strlen(plain), gz, gzlen), 1);
    assert_int_equal(tq_archive_same_content(gz, gzlen, gz, gzlen), 1);
    assert_int_equal(tq_archive_same_content("some MVT", 8, gz, gzlen), 0);
    assert_int_equal(tq_archive_same_content(plain, strlen(plain), "junk", 4), 0);
    free(gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_dedup_collision),
        cmocka_unit_test(test_same_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

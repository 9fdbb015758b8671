/* Unit tests for tq_renderlog_check: what a render-log stream entry must be before any of it
 * reaches SQL (issue 16 item 7). Each case starts from a good entry and changes one field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tq_renderlog.h"

#define NOW_MS INT64_C(1780000000000) /* 2026-05-28 */

static const char *const names[TQ_RENDERLOG_NFIELDS] = {TQ_RENDERLOG_FIELDS};

/* A good entry; set(f, name, value) changes one field. */
static void good(struct tq_renderlog_fields *f)
{
    static const char *const vals[TQ_RENDERLOG_NFIELDS] = {
        "demo",          "3",   "1",    "2",  "demo/3/0/0", "1", "warm", "host-a:1234",
        "1780000000000", "1.5", "12.0", "100"};
    for (int i = 0; i < TQ_RENDERLOG_NFIELDS; i++) {
        f->val[i] = vals[i];
        f->len[i] = strlen(vals[i]);
    }
}

static int field_index(const char *name)
{
    for (int i = 0; i < TQ_RENDERLOG_NFIELDS; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    fail_msg("no field %s", name);
    return -1;
}

/* The reason (NULL: accepted) for the good entry with name = value[0..len). */
static const char *check_with_len(const char *name, const char *value, size_t len)
{
    struct tq_renderlog_fields f;
    good(&f);
    int i = field_index(name);
    f.val[i] = value;
    f.len[i] = len;
    return tq_renderlog_check(&f, NOW_MS);
}

static const char *check_with(const char *name, const char *value)
{
    return check_with_len(name, value, value ? strlen(value) : 0);
}

/* Asserts that name = value gets a reason starting with want (NULL: accepted). */
static void expect(const char *name, const char *value, const char *want)
{
    const char *got = check_with(name, value);
    if (want == NULL) {
        if (got != NULL)
            fail_msg("%s=\"%s\": rejected (%s), expected accepted", name, value, got);
        return;
    }
    if (got == NULL || strncmp(got, want, strlen(want)) != 0)
        fail_msg("%s=\"%s\": got \"%s\", expected \"%s...\"", name, value ? value : "(missing)",
                 got ? got : "accepted", want);
}

static void test_good_entry(void **state)
{
    struct tq_renderlog_fields f;
    (void)state;
    good(&f);
    assert_null(tq_renderlog_check(&f, NOW_MS));
    expect("bytes", "0", NULL);   /* an empty tile */
    expect("attempt", "0", NULL); /* attempts count from 0 or 1 */
    expect("reason", "request", NULL);
    expect("duration_ms", "0", NULL);
    expect("duration_ms", "86400000", NULL);
}

static void test_missing(void **state)
{
    (void)state;
    for (int i = 0; i < TQ_RENDERLOG_NFIELDS; i++)
        expect(names[i], NULL, "missing field");
}

static void test_nul_byte(void **state)
{
    (void)state;
    assert_string_equal(check_with_len("tileset", "demo\0evil", 9), "NUL byte in a field");
    assert_string_equal(check_with_len("worker", "w\0x", 3), "NUL byte in a field");
    assert_string_equal(check_with_len("started_ms",
                                       "1780000000000\0"
                                       "9",
                                       15),
                        "NUL byte in a field");
}

static void test_tileset(void **state)
{
    char long63[64], long64[65];
    (void)state;
    memset(long63, 'a', 63);
    long63[63] = '\0';
    memset(long64, 'a', 64);
    long64[64] = '\0';
    expect("tileset", "", "bad tileset");
    expect("tileset", "demo\nevent=forged", "bad tileset");
    expect("tileset", "demo'); DROP TABLE tileq.render_log; --", "bad tileset");
    expect("tileset", "../etc", "bad tileset");
    expect("tileset", "de mo", "bad tileset");
    expect("tileset", "d\xc3\xa9mo", "bad tileset");
    expect("tileset", long64, "bad tileset");
    /* the job id must carry the same tileset */
    struct tq_renderlog_fields f;
    good(&f);
    char job[80];
    snprintf(job, sizeof job, "%s/3/0/0", long63);
    f.val[0] = long63;
    f.len[0] = 63;
    f.val[4] = job;
    f.len[4] = strlen(job);
    assert_null(tq_renderlog_check(&f, NOW_MS));
    f.val[0] = "Some_Set-2";
    f.len[0] = strlen(f.val[0]);
    f.val[4] = "Some_Set-2/3/0/0";
    f.len[4] = strlen(f.val[4]);
    assert_null(tq_renderlog_check(&f, NOW_MS));
}

static void test_worker(void **state)
{
    char w255[256], w256[257];
    (void)state;
    memset(w255, 'w', 255);
    w255[255] = '\0';
    memset(w256, 'w', 256);
    w256[256] = '\0';
    expect("worker", w255, NULL);
    expect("worker", "[::1]:8080", NULL);
    expect("worker", w256, "bad worker");
    expect("worker", "", "bad worker");
    expect("worker", "host a", "bad worker");
    expect("worker", "host\nevent=forged", "bad worker");
    expect("worker", "host\r", "bad worker");
    expect("worker", "host\t", "bad worker");
    expect("worker", "host\x1b[31m", "bad worker");
    expect("worker", "host\x7f", "bad worker");
    expect("worker", "w\xc3\xb6rker", "bad worker");
}

static void test_started_ms(void **state)
{
    char s[32];
    (void)state;
    expect("started_ms", "946684800000", NULL); /* 2000-01-01T00:00:00Z */
    expect("started_ms", "946684799999", "bad started_ms");
    snprintf(s, sizeof s, "%lld", (long long)(NOW_MS + TQ_RENDERLOG_STARTED_AHEAD_MS));
    expect("started_ms", s, NULL);
    snprintf(s, sizeof s, "%lld", (long long)(NOW_MS + TQ_RENDERLOG_STARTED_AHEAD_MS + 1));
    expect("started_ms", s, "bad started_ms");
    expect("started_ms", "-1", "bad started_ms");
    expect("started_ms", "0", "bad started_ms");
    expect("started_ms", "4000000000000000000", "bad started_ms");
    expect("started_ms", "9223372036854775807", "bad started_ms");
    expect("started_ms", "9223372036854775808", "bad started_ms");
    expect("started_ms", "99999999999999999999999", "bad started_ms");
    expect("started_ms", "1e300", "bad started_ms");
    expect("started_ms", "1780000000000.5", "bad started_ms");
    expect("started_ms", " 1780000000000", "bad started_ms");
    expect("started_ms", "+1780000000000", "bad started_ms");
    expect("started_ms", "0x19e", "bad started_ms");
    expect("started_ms", "", "bad started_ms");
}

static void test_durations(void **state)
{
    (void)state;
    const char *bad[] = {"1e300",      "nan", "NaN", "inf", "-inf", "-1",
                         "86400000.5", "",    " 1",  "1 ",  "0x10", "1,5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect("duration_ms", bad[i], "bad duration");
        expect("metatile_ms", bad[i], "bad duration");
    }
    expect("duration_ms", ".5", NULL);
    expect("metatile_ms", "1e3", NULL);
}

static void test_tile_and_job(void **state)
{
    (void)state;
    expect("z", "31", "bad z/x/y");
    expect("z", "-1", "bad z/x/y");
    expect("z", "abc", "bad z/x/y");
    expect("x", "8", "bad z/x/y"); /* 2^3 */
    expect("y", "4294967296", "bad z/x/y");
    expect("job", "other/3/0/0", "bad job id");
    expect("job", "demo/4/0/0", "bad job id");
    expect("job", "demo/3/0/0/x", "bad job id");
    expect("job", "demo/3/0", "bad job id");
    expect("job", "demo/3/8/0", "bad job id"); /* mx > x */
    expect("job", "demo/3/0/-1", "bad job id");
    expect("job", "demo/3/0/0\n", "bad job id");
    expect("job", "demo3/0/0", "bad job id");
    expect("job", "demo/3/00/0", NULL);
}

static void test_other_numbers(void **state)
{
    (void)state;
    expect("attempt", "-1", "bad attempt");
    expect("attempt", "2147483648", "bad attempt");
    expect("reason", "because", "bad reason");
    expect("reason", "", "bad reason");
    expect("bytes", "-1", "bad bytes");
    expect("bytes", "9223372036854775808", "bad bytes");
    expect("bytes", "1e3", "bad bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_entry),    cmocka_unit_test(test_missing),
        cmocka_unit_test(test_nul_byte),      cmocka_unit_test(test_tileset),
        cmocka_unit_test(test_worker),        cmocka_unit_test(test_started_ms),
        cmocka_unit_test(test_durations),     cmocka_unit_test(test_tile_and_job),
        cmocka_unit_test(test_other_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

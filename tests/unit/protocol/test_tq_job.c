/* Unit tests for tq_job: job record, msgpack round trip, and decoding hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "tq_job.h"

static void test_names(void **state)
{
    enum tq_job_class c;
    enum tq_job_reason r;
    for (int i = 0; i < TQ_CLASS_COUNT; i++) {
        assert_int_equal(tq_job_class_parse(tq_job_class_name((enum tq_job_class)i), &c), 0);
        assert_int_equal(c, i);
    }
    assert_string_equal(tq_job_class_name(TQ_CLASS_INTERACTIVE), "interactive");
    assert_string_equal(tq_job_class_name(TQ_CLASS_DIRTY), "dirty");
    assert_string_equal(tq_job_class_name(TQ_CLASS_BULK), "bulk");
    assert_int_equal(tq_job_class_parse("urgent", &c), -1);
    assert_int_equal(tq_job_class_parse("", &c), -1);
    assert_int_equal(tq_job_class_parse(NULL, &c), -1);
    for (int i = TQ_REASON_REQUEST; i <= TQ_REASON_CHANGE; i++) {
        assert_int_equal(tq_job_reason_parse(tq_job_reason_name((enum tq_job_reason)i), &r), 0);
        assert_int_equal(r, i);
    }
    assert_string_equal(tq_job_reason_name(TQ_REASON_EXPIRE), "expire");
    assert_string_equal(tq_job_reason_name(TQ_REASON_CHANGE), "change");
    assert_int_equal(tq_job_reason_parse("bored", &r), -1);
}

static void test_init_and_id(void **state)
{
    struct tq_job job;
    char id[TQ_JOB_ID_MAX];
    struct tq_tile t = {10, 517, 300};
    assert_int_equal(tq_job_init(&job, "demo", t, 8, TQ_CLASS_INTERACTIVE, TQ_REASON_REQUEST, 1234),
                     0);
    assert_string_equal(job.tileset, "demo");
    assert_int_equal(job.meta.mx, 512);
    assert_int_equal(job.meta.my, 296);
    assert_int_equal(job.meta.w, 8);
    assert_int_equal(job.size, 8);
    assert_int_equal(job.enqueued_ms, 1234);
    assert_string_equal(tq_job_id(&job, id, sizeof id), "demo/10/512/296");

    /* the longest name and the largest numbers fit TQ_JOB_ID_MAX */
    char longname[TQ_TILESET_NAME_MAX];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    struct tq_tile big = {30, 1073741823, 1073741823};
    assert_int_equal(tq_job_init(&job, longname, big, 1, TQ_CLASS_BULK, TQ_REASON_WARM, 0), 0);
    tq_job_id(&job, id, sizeof id);
    assert_int_equal(strlen(id), 63 + strlen("/30/1073741823/1073741823"));

    /* rejected */
    char toolong[TQ_TILESET_NAME_MAX + 1];
    memset(toolong, 'n', sizeof toolong - 1);
    toolong[sizeof toolong - 1] = '\0';
    assert_int_equal(tq_job_init(&job, toolong, t, 8, TQ_CLASS_BULK, TQ_REASON_WARM, 0), -1);
    assert_int_equal(tq_job_init(&job, "", t, 8, TQ_CLASS_BULK, TQ_REASON_WARM, 0), -1);
    assert_int_equal(tq_job_init(&job, "a/b", t, 8, TQ_CLASS_BULK, TQ_REASON_WARM, 0), -1);
    assert_int_equal(tq_job_init(&job, "demo", t, 0, TQ_CLASS_BULK, TQ_REASON_WARM, 0), -1);
    assert_int_equal(tq_job_init(&job, "demo", t, 65, TQ_CLASS_BULK, TQ_REASON_WARM, 0), -1);
    struct tq_tile bad = {3, 8, 0};
    assert_int_equal(tq_job_init(&job, "demo", bad, 8, TQ_CLASS_BULK, TQ_REASON_WARM, 0), -1);
}

static void roundtrip(const char *ts, struct tq_tile t, uint32_t size, enum tq_job_class c,
                      enum tq_job_reason r, int64_t at)
{
    struct tq_job job, back;
    char *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    assert_int_equal(tq_job_init(&job, ts, t, size, c, r, at), 0);
    assert_int_equal(tq_job_encode(&job, &buf, &len), 0);
    assert_non_null(buf);
    assert_true(len > 0 && len <= TQ_JOB_MAX_ENCODED);
    if (tq_job_decode(buf, len, &back, err, sizeof err) != 0)
        fail_msg("decode failed: %s", err);
    assert_string_equal(back.tileset, job.tileset);
    assert_int_equal(back.meta.z, job.meta.z);
    assert_int_equal(back.meta.mx, job.meta.mx);
    assert_int_equal(back.meta.my, job.meta.my);
    assert_int_equal(back.meta.w, job.meta.w);
    assert_int_equal(back.meta.h, job.meta.h);
    assert_int_equal(back.size, job.size);
    assert_int_equal(back.cls, job.cls);
    assert_int_equal(back.reason, job.reason);
    assert_true(back.enqueued_ms == job.enqueued_ms);
    free(buf);
}

static void test_roundtrip(void **state)
{
    struct tq_tile t0 = {0, 0, 0}, t1 = {1, 1, 1}, t14 = {14, 8190, 5447},
                   t30 = {30, 1073741823, 1073741823};
    roundtrip("demo", t0, 8, TQ_CLASS_INTERACTIVE, TQ_REASON_REQUEST, 0);
    roundtrip("x", t1, 8, TQ_CLASS_DIRTY, TQ_REASON_EXPIRE, 1763700000123LL);
    roundtrip("A-b_9", t14, 64, TQ_CLASS_BULK, TQ_REASON_WARM, -5);
    roundtrip("n", t30, 1, TQ_CLASS_BULK, TQ_REASON_RETRY, INT64_MAX);
    roundtrip("n", t30, 3, TQ_CLASS_BULK, TQ_REASON_RETRY, INT64_MIN);
    roundtrip("n", t30, 2, TQ_CLASS_DIRTY, TQ_REASON_CHANGE, 1);
}

/* A valid encoding to mutate. Caller frees. */
static char *valid_encoding(size_t *len)
{
    struct tq_job job;
    char *buf = NULL;
    struct tq_tile t = {12, 1000, 2000};
    assert_int_equal(tq_job_init(&job, "demo", t, 8, TQ_CLASS_DIRTY, TQ_REASON_EXPIRE, 42), 0);
    assert_int_equal(tq_job_encode(&job, &buf, len), 0);
    return buf;
}

static void test_truncated(void **state)
{
    size_t len;
    char *buf = valid_encoding(&len);
    char err[256];
    struct tq_job job;
    for (size_t n = 0; n < len; n++) {
        /* copy into an exact-size allocation so ASan catches any read past the input */
        char *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        err[0] = '\0';
        assert_int_equal(tq_job_decode(copy, n, &job, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
        free(copy);
    }
    /* trailing garbage after a complete map */
    char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0x00;
    assert_int_equal(tq_job_decode(longer, len + 1, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "trailing"));
    free(longer);
    free(buf);
}

static void test_oversized(void **state)
{
    char *big = calloc(1, TQ_JOB_MAX_ENCODED + 1);
    char err[256];
    struct tq_job job;
    assert_int_equal(tq_job_decode(big, TQ_JOB_MAX_ENCODED + 1, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "limit"));
    assert_int_equal(tq_job_decode(big, SIZE_MAX, &job, err, sizeof err), -1);
    assert_int_equal(tq_job_decode(NULL, 0, &job, err, sizeof err), -1);
    free(big);

    /* containers that announce more elements than the input holds: no giant allocation */
    const char *headers[] = {"\xdf\xff\xff\xff\xff", "\xdd\xff\xff\xff\xff",
                             "\xde\xff\xff",         "\x81\xdf\xff\xff\xff\xff\x00",
                             "\xdb\xff\xff\xff\xff", "\xc6\x7f\xff\xff\xff"};
    size_t lens[] = {5, 5, 3, 7, 5, 5};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        assert_int_equal(tq_job_decode(headers[i], lens[i], &job, err, sizeof err), -1);
    }
}

/* Builds a map from (key, value-kind, value) triples; kind: 'u' uint, 'i' int, 's' string,
 * 'b' bool, 'n' nil, 'f' float, 'a' empty array. */
struct field {
    const char *key;
    char kind;
    int64_t num;
    const char *str;
    size_t strlen_; /* 0 = strlen(str) */
};

static char *build(const struct field *f, size_t n, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str(&pk, strlen(f[i].key));
        msgpack_pack_str_body(&pk, f[i].key, strlen(f[i].key));
        switch (f[i].kind) {
        case 'u':
            msgpack_pack_uint64(&pk, (uint64_t)f[i].num);
            break;
        case 'i':
            msgpack_pack_int64(&pk, f[i].num);
            break;
        case 's': {
            size_t l = f[i].strlen_ ? f[i].strlen_ : strlen(f[i].str);
            msgpack_pack_str(&pk, l);
            msgpack_pack_str_body(&pk, f[i].str, l);
            break;
        }
        case 'b':
            msgpack_pack_true(&pk);
            break;
        case 'n':
            msgpack_pack_nil(&pk);
            break;
        case 'f':
            msgpack_pack_double(&pk, 1.5);
            break;
        case 'a':
            msgpack_pack_array(&pk, 0);
            break;
        }
    }
    *len = sb.size;
    return sb.data; /* caller frees */
}

#define NFIELDS 9
static void base_fields(struct field *f)
{
    struct field base[NFIELDS] = {
        {"v", 'u', 1, NULL, 0},     {"ts", 's', 0, "demo", 0},  {"z", 'u', 3, NULL, 0},
        {"mx", 'u', 0, NULL, 0},    {"my", 'u', 0, NULL, 0},    {"n", 'u', 8, NULL, 0},
        {"cls", 's', 0, "bulk", 0}, {"why", 's', 0, "warm", 0}, {"at", 'u', 99, NULL, 0},
    };
    memcpy(f, base, sizeof base);
}

/* Decodes the base map with field idx replaced by repl; returns decode's result, err set. */
static int decode_with(int idx, struct field repl, struct tq_job *job, char *err, size_t errsize)
{
    struct field f[NFIELDS];
    size_t len;
    base_fields(f);
    if (idx >= 0)
        f[idx] = repl;
    char *buf = build(f, NFIELDS, &len);
    int rc = tq_job_decode(buf, len, job, err, errsize);
    free(buf);
    return rc;
}

static void expect_reject(int idx, struct field repl, const char *needle)
{
    struct tq_job job;
    char err[256] = "";
    if (decode_with(idx, repl, &job, err, sizeof err) != -1)
        fail_msg("accepted replacement of field %d", idx);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_fields(void **state)
{
    struct tq_job job;
    char err[256] = "";
    struct field none = {0};

    assert_int_equal(decode_with(-1, none, &job, err, sizeof err), 0);
    assert_string_equal(job.tileset, "demo");
    assert_int_equal(job.meta.z, 3);
    assert_int_equal(job.meta.w, 8);
    assert_int_equal(job.cls, TQ_CLASS_BULK);
    assert_int_equal(job.reason, TQ_REASON_WARM);
    assert_true(job.enqueued_ms == 99);

    /* clamped metatile at z=1 */
    struct field z1 = {"z", 'u', 1, NULL, 0};
    assert_int_equal(decode_with(2, z1, &job, err, sizeof err), 0);
    assert_int_equal(job.meta.w, 2);
    assert_int_equal(job.meta.h, 2);

    /* unknown keys are ignored */
    struct field extra = {"future", 's', 0, "x", 0};
    struct field f[NFIELDS + 1];
    base_fields(f);
    f[NFIELDS] = extra;
    size_t len;
    char *buf = build(f, NFIELDS + 1, &len);
    assert_int_equal(tq_job_decode(buf, len, &job, err, sizeof err), 0);
    free(buf);

    /* duplicate key */
    base_fields(f);
    f[NFIELDS] = f[2];
    buf = build(f, NFIELDS + 1, &len);
    assert_int_equal(tq_job_decode(buf, len, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "duplicate"));
    free(buf);

    /* each mandatory key missing: replace it with an unknown key */
    for (int i = 0; i < NFIELDS; i++) {
        struct field g[NFIELDS];
        base_fields(g);
        char want[32];
        snprintf(want, sizeof want, "missing key \"%s\"", g[i].key);
        struct field other = {"zz", 'u', 1, NULL, 0};
        expect_reject(i, other, want);
    }

    /* wrong types */
    const char *keys[NFIELDS] = {"v", "ts", "z", "mx", "my", "n", "cls", "why", "at"};
    const char kinds[] = {'b', 'n', 'f', 'a'};
    for (int i = 0; i < NFIELDS; i++) {
        for (size_t k = 0; k < sizeof kinds; k++) {
            struct field w = {keys[i], kinds[k], 0, NULL, 0};
            expect_reject(i, w, keys[i]);
        }
        if (i != 1 && i != 6 && i != 7) {
            struct field s = {keys[i], 's', 0, "1", 0};
            expect_reject(i, s, "integer");
        } else {
            struct field u = {keys[i], 'u', 1, NULL, 0};
            expect_reject(i, u, "string");
        }
    }
    struct field negz = {"z", 'i', -1, NULL, 0};
    expect_reject(2, negz, "non-negative");
    struct field negmx = {"mx", 'i', -8, NULL, 0};
    expect_reject(3, negmx, "non-negative");
    struct field negat = {"at", 'i', -1000, NULL, 0};
    assert_int_equal(decode_with(8, negat, &job, err, sizeof err), 0);
    assert_true(job.enqueued_ms == -1000);
    struct field hugeat = {"at", 'u', -1 /* 2^64-1 */, NULL, 0};
    expect_reject(8, hugeat, "at");

    /* values out of range */
    struct field v2 = {"v", 'u', 2, NULL, 0};
    expect_reject(0, v2, "version");
    struct field v0 = {"v", 'u', 0, NULL, 0};
    expect_reject(0, v0, "version");
    struct field tsempty = {"ts", 's', 0, "", 0};
    expect_reject(1, tsempty, "tileset");
    char name64[65];
    memset(name64, 'a', 64);
    name64[64] = '\0';
    struct field tslong = {"ts", 's', 0, name64, 0};
    expect_reject(1, tslong, "tileset");
    name64[63] = '\0';
    struct field ts63 = {"ts", 's', 0, name64, 0};
    assert_int_equal(decode_with(1, ts63, &job, err, sizeof err), 0);
    const char *badnames[] = {"a b", "a/b", "../x", "dé", "a.b", "a\nb"};
    for (size_t i = 0; i < sizeof badnames / sizeof badnames[0]; i++) {
        struct field b = {"ts", 's', 0, badnames[i], 0};
        expect_reject(1, b, "tileset");
    }
    struct field tsnul = {"ts", 's', 0, "de\0mo", 5};
    expect_reject(1, tsnul, "tileset");
    struct field z31 = {"z", 'u', 31, NULL, 0};
    expect_reject(2, z31, "z=31");
    struct field zhuge = {"z", 'u', (int64_t)1 << 40, NULL, 0};
    expect_reject(2, zhuge, "z=");
    struct field mx8 = {"mx", 'u', 8, NULL, 0}; /* z=3 grid is 8 wide: 8 is outside */
    expect_reject(3, mx8, "outside the grid");
    struct field my4 = {"my", 'u', 4, NULL, 0}; /* inside, but not a multiple of 8 */
    expect_reject(4, my4, "aligned");
    struct field mxhuge = {"mx", 'u', (int64_t)1 << 33, NULL, 0};
    expect_reject(3, mxhuge, "outside");
    struct field n0 = {"n", 'u', 0, NULL, 0};
    expect_reject(5, n0, "size");
    struct field n65 = {"n", 'u', 65, NULL, 0};
    expect_reject(5, n65, "size");
    struct field clsbad = {"cls", 's', 0, "urgent", 0};
    expect_reject(6, clsbad, "class");
    struct field clsnul = {"cls", 's', 0, "bulk\0x", 6};
    expect_reject(6, clsnul, "class");
    struct field clsempty = {"cls", 's', 0, "", 0};
    expect_reject(6, clsempty, "class");
    struct field whybad = {"why", 's', 0, "bored", 0};
    expect_reject(7, whybad, "reason");
}

/* Decodes the base map (z 3, metatile 0/0 of size 8) plus the extra fields. */
static int decode_extra(const struct field *extra, size_t nextra, struct tq_job *job, char *err,
                        size_t errsize)
{
    struct field f[NFIELDS + 2];
    size_t len;
    base_fields(f);
    memcpy(f + NFIELDS, extra, nextra * sizeof *extra);
    char *buf = build(f, NFIELDS + nextra, &len);
    int rc = tq_job_decode(buf, len, job, err, errsize);
    free(buf);
    return rc;
}

/* The optional first tile ("fx", "fy"): round trip, old records without it, rejects. */
static void test_first_tile(void **state)
{
    struct tq_job job, back;
    char err[256] = "", *buf = NULL;
    size_t len = 0;
    (void)state;

    /* An old record (no fx/fy) decodes without a first tile, and encodes without one. */
    assert_int_equal(decode_with(-1, (struct field){0}, &job, err, sizeof err), 0);
    assert_int_equal(job.has_first, 0);
    assert_int_equal(tq_job_encode(&job, &buf, &len), 0);
    assert_int_equal((unsigned char)buf[0], 0x89); /* a fixmap of the 9 keys */
    free(buf);

    /* Round trip with a first tile. */
    struct tq_tile t = {12, 1003, 2005};
    assert_int_equal(tq_job_init(&job, "demo", t, 8, TQ_CLASS_INTERACTIVE, TQ_REASON_REQUEST, 7),
                     0);
    assert_int_equal(job.has_first, 0);
    job.has_first = 1;
    job.first_x = t.x;
    job.first_y = t.y;
    assert_int_equal(tq_job_encode(&job, &buf, &len), 0);
    assert_int_equal((unsigned char)buf[0], 0x8b); /* 11 keys */
    assert_int_equal(tq_job_decode(buf, len, &back, err, sizeof err), 0);
    free(buf);
    assert_int_equal(back.has_first, 1);
    assert_int_equal(back.first_x, 1003);
    assert_int_equal(back.first_y, 2005);
    assert_int_equal(back.meta.mx, 1000);
    assert_int_equal(back.meta.my, 2000);

    /* Corners of the metatile 0/0 (size 8 at z 3) are inside; one past is not. */
    struct field ok[2] = {{"fx", 'u', 7, NULL, 0}, {"fy", 'u', 0, NULL, 0}};
    assert_int_equal(decode_extra(ok, 2, &job, err, sizeof err), 0);
    assert_int_equal(job.has_first, 1);
    assert_int_equal(job.first_x, 7);
    assert_int_equal(job.first_y, 0);
    struct field out[2] = {{"fx", 'u', 8, NULL, 0}, {"fy", 'u', 0, NULL, 0}};
    assert_int_equal(decode_extra(out, 2, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "outside the metatile"));
    assert_int_equal(job.has_first, 0);
    struct field outy[2] = {{"fx", 'u', 0, NULL, 0}, {"fy", 'u', 1ll << 33, NULL, 0}};
    assert_int_equal(decode_extra(outy, 2, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "outside the metatile"));
    /* Only one of the two, or a wrong type. */
    assert_int_equal(decode_extra(ok, 1, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "go together"));
    assert_int_equal(decode_extra(ok + 1, 1, &job, err, sizeof err), -1);
    struct field neg[2] = {{"fx", 'i', -1, NULL, 0}, {"fy", 'u', 0, NULL, 0}};
    assert_int_equal(decode_extra(neg, 2, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"fx\" must be a non-negative integer"));
    struct field str[2] = {{"fx", 'u', 1, NULL, 0}, {"fy", 's', 0, "1", 0}};
    assert_int_equal(decode_extra(str, 2, &job, err, sizeof err), -1);
    /* Duplicate. */
    struct field dup[2] = {{"fx", 'u', 1, NULL, 0}, {"fx", 'u', 1, NULL, 0}};
    assert_int_equal(decode_extra(dup, 2, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "duplicate"));
}

static void test_not_a_map(void **state)
{
    struct tq_job job;
    char err[256];
    /* array, int, string, nil */
    assert_int_equal(tq_job_decode("\x90", 1, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "map"));
    assert_int_equal(tq_job_decode("\x01", 1, &job, err, sizeof err), -1);
    assert_int_equal(tq_job_decode("\xa1x", 2, &job, err, sizeof err), -1);
    assert_int_equal(tq_job_decode("\xc0", 1, &job, err, sizeof err), -1);
    assert_int_equal(tq_job_decode("\xc1", 1, &job, err, sizeof err), -1);
    /* empty map: missing keys */
    assert_int_equal(tq_job_decode("\x80", 1, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "missing"));
    /* non-string key */
    assert_int_equal(tq_job_decode("\x81\x01\x01", 3, &job, err, sizeof err), -1);
    assert_non_null(strstr(err, "key"));
    /* deep nesting inside an unknown key */
    char deep[200];
    size_t n = 0;
    deep[n++] = (char)0x81;
    deep[n++] = (char)0xa1;
    deep[n++] = 'q';
    while (n < sizeof deep - 1)
        deep[n++] = (char)0x91;
    deep[n++] = (char)0xc0;
    assert_int_equal(tq_job_decode(deep, n, &job, err, sizeof err), -1);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void test_random_bytes(void **state)
{
    struct tq_job job;
    char err[256];
    size_t vlen;
    char *valid = valid_encoding(&vlen);

    for (int iter = 0; iter < 200000; iter++) {
        size_t len;
        char *buf;
        if (iter % 2 == 0) {
            /* pure noise, often starting with a map header */
            len = rnd() % 80;
            buf = malloc(len ? len : 1);
            for (size_t i = 0; i < len; i++)
                buf[i] = (char)rnd();
            if (len > 0 && iter % 4 == 0)
                buf[0] = (char)(0x80 | (rnd() % 16));
        } else {
            /* a valid job with a few bytes flipped, cut or grown */
            len = vlen;
            if (rnd() % 4 == 0)
                len = rnd() % (vlen + 8);
            buf = malloc(len ? len : 1);
            for (size_t i = 0; i < len; i++)
                buf[i] = i < vlen ? valid[i] : (char)rnd();
            int flips = 1 + (int)(rnd() % 3);
            for (int k = 0; k < flips && len > 0; k++)
                buf[rnd() % len] ^= (char)(1u << (rnd() % 8));
        }
        int rc = tq_job_decode(buf, len, &job, err, sizeof err);
        if (rc == 0) {
            /* anything accepted must be a valid job */
            assert_int_equal(tq_tile_valid(job.meta.z, job.meta.mx, job.meta.my), 0);
            assert_true(job.size >= 1 && job.size <= 64);
            assert_int_equal(job.meta.mx % job.size, 0);
            assert_true(strlen(job.tileset) > 0 && strlen(job.tileset) < TQ_TILESET_NAME_MAX);
        } else {
            assert_true(strlen(err) > 0);
        }
        free(buf);
    }
    free(valid);
}

/* The reference id a client's 500 names: 8 hex digits, FNV-1a 32 of the id, stable. */
static void test_ref(void **state)
{
    char a[TQ_JOB_REF_LEN], b[TQ_JOB_REF_LEN];

    (void)state;
    assert_string_equal(tq_job_ref("", a), "811c9dc5");  /* FNV-1a 32 offset basis */
    assert_string_equal(tq_job_ref("a", a), "e40c292c"); /* the FNV test vector */
    assert_string_equal(tq_job_ref(NULL, a), "811c9dc5");
    tq_job_ref("demo/10/64/44", a);
    assert_int_equal(strlen(a), 8);
    assert_int_equal(strspn(a, "0123456789abcdef"), 8);
    assert_string_equal(tq_job_ref("demo/10/64/44", b), a);
    assert_string_not_equal(tq_job_ref("demo/10/64/45", b), a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),      cmocka_unit_test(test_init_and_id),
        cmocka_unit_test(test_roundtrip),  cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_oversized),  cmocka_unit_test(test_fields),
        cmocka_unit_test(test_not_a_map),  cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_first_tile), cmocka_unit_test(test_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_report_merge: a report merged from parts is exactly the report of one
 * pass over the same records, whatever record went to which part and in whatever order
 * (tileq report --pglog aggregates one part per thread). Compared field by field (every
 * figure of every tile and metatile, the totals, per zoom, the input counters) and as the
 * written outputs, byte for byte. The records have ties on purpose: renders of one tile
 * started at the same ms with different durations and different users. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_report.h"
#include "tq_report_internal.h"

#define NREC 600

static const char *const TILESETS[] = {"gis", "osm", NULL};
static const char *const TABLES[] = {"roads", "roads,water", NULL};
static const char *const DBS[] = {"gis", "osm", NULL};
static const char *const USERS[] = {"ua", "ub", "uc", NULL};
static const char *const REASONS[] = {"request", "warm", "change", "execute", "statement", NULL};

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Record i of a fixed set (a metatile render of 2x1 gives two records; meta_first on the
 * first): few tiles, coarse times (ties), durations in odd fractions (their float sums
 * would depend on the order). */
static struct tq_report_rec record(int i)
{
    uint64_t s = (uint64_t)i * 2654435761u + 17;
    struct tq_report_rec r;
    memset(&r, 0, sizeof r);
    int render = i / 2;
    uint64_t h = (uint64_t)render * 40503u + 11;
    r.tileset = TILESETS[h % 3];
    r.tables = TABLES[(h / 3) % 3];
    r.database = DBS[(h / 9) % 3];
    r.user = USERS[(h / 27) % 4];
    r.reason = REASONS[(h / 108) % 6];
    int z = 3 + (int)(render % 3);
    r.meta.z = z;
    r.meta.mx = (uint32_t)(2 * (render % 4));
    r.meta.my = (uint32_t)(render % 5);
    r.meta.w = (render % 7) ? 2 : 0; /* 0: size unknown */
    r.meta.h = 1;
    r.tile.z = z;
    r.tile.x = r.meta.mx + (uint32_t)(i % 2);
    r.tile.y = r.meta.my;
    r.meta_first = i % 2 == 0;
    r.started_ms = (render % 11 == 0) ? TQ_TIME_UNSET : 1000 * (int64_t)(render % 6);
    r.metatile_ms = (double)(rng_next(&s) % 1000) / 7.0 + 0.1;
    r.duration_ms = r.metatile_ms / 2;
    if (render % 13 == 0)
        r.duration_ms = 0; /* nothing known */
    r.bytes = -1;
    return r;
}

/* Strings of an id equal in a and b (ids differ between reports). */
static void assert_same_str(const struct tq_report *a, uint32_t ia, const struct tq_report *b,
                            uint32_t ib)
{
    const char *sa = tq_report_str(a, ia, NULL), *sb = tq_report_str(b, ib, NULL);
    if (sa == NULL || sb == NULL)
        assert_ptr_equal(sa, sb);
    else
        assert_string_equal(sa, sb);
}

/* Every entry of ta (of report a) is in tb (of b) with the same figures, and no more. */
static void assert_same_table(const struct tq_report *a, const struct tq_report_table *ta,
                              const struct tq_report *b, const struct tq_report_table *tb)
{
    char ra[256], rb[256];
    assert_int_equal(ta->n, tb->n);
    for (size_t i = 0; i < ta->n; i++) {
        struct tq_report_entry ea, eb;
        memcpy(&ea, &ta->e[i], sizeof ea);
        /* its counterpart: the same key, strings compared */
        size_t j = 0;
        for (; j < tb->n; j++) {
            const struct tq_report_entry *c = &tb->e[j];
            if (c->k.z != ea.k.z || c->k.x != ea.k.x || c->k.y != ea.k.y || c->k.w != ea.k.w ||
                c->k.h != ea.k.h)
                continue;
            const char *x = tq_report_str(a, ea.k.tileset, ""),
                       *y = tq_report_str(b, c->k.tileset, "");
            const char *u = tq_report_str(a, ea.k.tables, ""),
                       *v = tq_report_str(b, c->k.tables, "");
            if (strcmp(x, y) == 0 && strcmp(u, v) == 0)
                break;
        }
        assert_true(j < tb->n);
        memcpy(&eb, &tb->e[j], sizeof eb);
        assert_same_str(a, ea.database, b, eb.database);
        assert_same_str(a, ea.user, b, eb.user);
        assert_string_equal(tq_report_reasons(a, ea.reasons, ra, sizeof ra),
                            tq_report_reasons(b, eb.reasons, rb, sizeof rb));
        /* the rest byte for byte: a field the merge forgets differs here */
        ea.k.tileset = eb.k.tileset = ea.k.tables = eb.k.tables = 0;
        ea.database = eb.database = ea.user = eb.user = ea.reasons = eb.reasons = 0;
        assert_memory_equal(&ea, &eb, sizeof ea);
    }
}

static char *written(struct tq_report *r, enum tq_report_format f)
{
    char *buf = NULL, err[128];
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    assert_int_equal(tq_report_write(r, f, 1000, out, err, sizeof err), 0);
    fclose(out);
    return buf;
}

static void assert_same_report(struct tq_report *a, struct tq_report *b)
{
    assert_int_equal(a->renders, b->renders);
    assert_int_equal(a->meta_renders, b->meta_renders);
    assert_int_equal(a->change_renders, b->change_renders);
    assert_int_equal(a->render_ns, b->render_ns);
    assert_int_equal(a->first_ms, b->first_ms);
    assert_int_equal(a->last_ms, b->last_ms);
    assert_memory_equal(a->zrenders, b->zrenders, sizeof a->zrenders);
    assert_memory_equal(a->zns, b->zns, sizeof a->zns);
    const struct tq_report_input *x = &a->input, *y = &b->input;
    assert_int_equal(x->present, y->present);
    assert_int_equal(x->files, y->files);
    assert_int_equal(x->lines, y->lines);
    assert_int_equal(x->entries, y->entries);
    assert_int_equal(x->render_queries, y->render_queries);
    assert_int_equal(x->skipped, y->skipped);
    assert_int_equal(x->unresolved, y->unresolved);
    assert_int_equal(x->malformed, y->malformed);
    assert_int_equal(x->truncated, y->truncated);
    assert_same_table(a, &a->tiles, b, &b->tiles);
    assert_same_table(a, &a->metas, b, &b->metas);
    assert_same_table(b, &b->tiles, a, &a->tiles);
    enum tq_report_format fmts[] = {TQ_FMT_TEXT, TQ_FMT_CSV, TQ_FMT_JSON, TQ_FMT_HTML};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        char *wa = written(a, fmts[i]), *wb = written(b, fmts[i]);
        assert_string_equal(wa, wb);
        free(wa);
        free(wb);
    }
}

static struct tq_report_input input_of(uint64_t k)
{
    struct tq_report_input in = {1, k, 10 * k, 7 * k, 5 * k, 3 * k, 2 * k, k, 4 * k};
    return in;
}

/* One pass over every record in order, against parts merged: for many assignments of the
 * records to 1-4 parts, each part's records shuffled, the parts merged in any order. */
static void test_merge_any_split(void **state)
{
    (void)state;
    struct tq_report *one = tq_report_new(NULL, "test");
    assert_non_null(one);
    for (int i = 0; i < NREC; i++) {
        struct tq_report_rec r = record(i);
        assert_int_equal(tq_report_add(one, &r), 1);
    }
    struct tq_report_input in = input_of(6); /* = 1 + 2 + 3 below, whatever the parts */
    tq_report_set_input(one, &in);

    uint64_t seed = 42;
    for (int round = 0; round < 40; round++) {
        int nparts = 1 + (int)(rng_next(&seed) % 4);
        struct tq_report *parts[4];
        int order[NREC], part_of[NREC];
        for (int p = 0; p < nparts; p++) {
            parts[p] = tq_report_new(NULL, "test");
            assert_non_null(parts[p]);
        }
        for (int i = 0; i < NREC; i++) {
            order[i] = i;
            part_of[i] = (int)(rng_next(&seed) % (uint64_t)nparts);
        }
        for (int i = NREC - 1; i > 0; i--) { /* shuffled */
            int j = (int)(rng_next(&seed) % (uint64_t)(i + 1)), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int i = 0; i < NREC; i++) {
            struct tq_report_rec r = record(order[i]);
            assert_int_equal(tq_report_add(parts[part_of[order[i]]], &r), 1);
        }
        /* the input counters: 1, 2, 3 on the first parts (the rest to the last) */
        for (int p = 0; p < nparts; p++) {
            uint64_t k = p < nparts - 1 ? (uint64_t)(p + 1) : 0;
            for (int q = p + 1; p == nparts - 1 && q <= 3; q++)
                k += (uint64_t)q;
            struct tq_report_input pin = input_of(k);
            tq_report_set_input(parts[p], &pin);
        }
        /* merged into a new report, or into a part (as tq_pglog_report does) */
        struct tq_report *dst = round % 2 ? tq_report_new_like(parts[0]) : parts[0];
        assert_non_null(dst);
        for (int p = 0; p < nparts; p++) { /* in a rotated order */
            int q = (p + round) % nparts;
            if (dst != parts[q])
                assert_int_equal(tq_report_merge(dst, parts[q]), 0);
        }
        assert_same_report(one, dst);
        if (dst != parts[0])
            tq_report_free(dst);
        for (int p = 0; p < nparts; p++)
            tq_report_free(parts[p]);
    }
    tq_report_free(one);
}

/* The tie rules themselves: of renders of one tile started at the same ms, the longest is
 * the first (not a duplicate), and the database and user are the greatest pair; later
 * renders win whatever order they come in. */
static void test_ties(void **state)
{
    (void)state;
    const char *users[] = {"ub", "uc", "ua"};
    const double ms[] = {2, 3, 1};
    for (int perm = 0; perm < 6; perm++) {
        struct tq_report *r = tq_report_new(NULL, "test");
        int idx[3] = {perm % 3, (perm / 3 + perm + 1) % 3, 0};
        idx[2] = 3 - idx[0] - idx[1];
        for (int k = 0; k < 3; k++) {
            struct tq_report_rec x;
            memset(&x, 0, sizeof x);
            x.tileset = "gis";
            x.database = "gis";
            x.user = users[idx[k]];
            x.tile.z = 5;
            x.meta_first = 1;
            x.started_ms = 5000;
            x.duration_ms = x.metatile_ms = ms[idx[k]];
            assert_int_equal(tq_report_add(r, &x), 1);
        }
        const struct tq_report_entry *e = &r->tiles.e[0];
        assert_int_equal(r->tiles.n, 1);
        assert_string_equal(tq_report_str(r, e->user, "-"), "uc");
        assert_int_equal(tq_report_entry_duplicate_ns(e), 3000000); /* 2 + 1: 3 was first */
        /* a later render without a user keeps them; one with a user takes over */
        struct tq_report_rec y;
        memset(&y, 0, sizeof y);
        y.tileset = "gis";
        y.tile.z = 5;
        y.meta_first = 1;
        y.started_ms = 6000;
        y.duration_ms = 1;
        tq_report_add(r, &y);
        assert_string_equal(tq_report_str(r, r->tiles.e[0].user, "-"), "uc");
        y.user = "ua";
        y.database = "gis";
        tq_report_add(r, &y);
        assert_string_equal(tq_report_str(r, r->tiles.e[0].user, "-"), "ua");
        tq_report_free(r);
    }
}

/* A reason bit and a string only src has, merged into an empty report and into one whose
 * bits mean other names. */
static void test_merge_names(void **state)
{
    (void)state;
    struct tq_report *a = tq_report_new(NULL, "test"), *b = tq_report_new(NULL, "test");
    struct tq_report_rec x;
    memset(&x, 0, sizeof x);
    x.tileset = "gis";
    x.tile.z = 2;
    x.meta_first = 1;
    x.started_ms = 1;
    x.duration_ms = 1;
    x.reason = "warm";
    tq_report_add(a, &x);
    x.reason = "request";
    x.tables = "roads";
    tq_report_add(b, &x);
    x.reason = "warm";
    tq_report_add(b, &x);
    assert_int_equal(tq_report_merge(a, b), 0);
    char buf[64];
    assert_int_equal(a->tiles.n, 2); /* 2/0/0 without tables, 2/0/0 roads */
    for (size_t i = 0; i < 2; i++) {
        const struct tq_report_entry *e = &a->tiles.e[i];
        const char *t = tq_report_str(a, e->k.tables, NULL);
        assert_string_equal(tq_report_reasons(a, e->reasons, buf, sizeof buf),
                            t ? "request,warm" : "warm");
        assert_int_equal(e->renders, t ? 2 : 1);
    }
    tq_report_free(a);
    tq_report_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_any_split),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_merge_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

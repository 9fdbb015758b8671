/* Unit tests for tq_report: duplicate counting, filters, time parsing and the outputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tq_report.h"

static struct tq_report_rec rec(const char *ts, int z, uint32_t x, uint32_t y, int64_t t, double ms,
                                const char *reason)
{
    struct tq_report_rec r;
    memset(&r, 0, sizeof r);
    r.tileset = ts;
    r.tile.z = z;
    r.tile.x = x;
    r.tile.y = y;
    r.meta.z = z;
    r.meta.mx = x;
    r.meta.my = y;
    r.meta.w = r.meta.h = 1;
    r.meta_first = 1;
    r.started_ms = t;
    r.duration_ms = ms;
    r.metatile_ms = ms;
    r.reason = reason;
    r.bytes = 10;
    return r;
}

/* demo 3/4/2 three times (10, 20, 30 ms; the first render at t=1000 took 10 ms),
 * demo 5/1/1 once, other 3/4/2 once. */
static struct tq_report *sample(const struct tq_report_filter *f)
{
    struct tq_report *r = tq_report_new(f, "test");
    struct tq_report_rec v[] = {
        rec("demo", 3, 4, 2, 2000, 20, "request"), rec("demo", 3, 4, 2, 1000, 10, "warm"),
        rec("demo", 3, 4, 2, 3000, 30, "request"), rec("demo", 5, 1, 1, 1500, 5, "expire"),
        rec("other", 3, 4, 2, 2500, 7, "request")};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        tq_report_add(r, &v[i]);
    return r;
}

static void test_duplicates(void **state)
{
    struct tq_report *r = sample(NULL);
    struct tq_report_summary s;
    tq_report_summarize(r, &s);
    assert_int_equal(s.renders, 5);
    assert_int_equal(s.tiles, 3);
    assert_int_equal(s.duplicates, 2);
    assert_true(s.render_ms > 71.99 && s.render_ms < 72.01);
    assert_true(s.duplicate_ms > 49.99 && s.duplicate_ms < 50.01); /* 20 + 30 */
    assert_int_equal(s.first_ms, 1000);
    assert_int_equal(s.last_ms, 3000);
    struct tq_report_zoom z;
    tq_report_zoom_stats(r, 3, &z);
    assert_int_equal(z.renders, 4);
    assert_int_equal(z.tiles, 2);
    assert_int_equal(z.duplicates, 2);
    tq_report_zoom_stats(r, 5, &z);
    assert_int_equal(z.renders, 1);
    assert_int_equal(z.duplicates, 0);
    struct tq_tile t = {3, 4, 2};
    assert_int_equal(tq_report_tile_renders(r, "demo", NULL, t), 3);
    assert_int_equal(tq_report_tile_renders(r, "other", NULL, t), 1);
    assert_int_equal(tq_report_tile_renders(r, "nope", NULL, t), 0);
    tq_report_free(r);
}

/* Renders with reason change (tileq watch) are counted apart, and named in the text. */
static void test_change_renders(void **state)
{
    (void)state;
    struct tq_report *r = sample(NULL);
    struct tq_report_summary s;
    tq_report_summarize(r, &s);
    assert_int_equal(s.change_renders, 0);
    struct tq_report_rec c = rec("demo", 3, 4, 2, 4000, 8, "change");
    assert_int_equal(tq_report_add(r, &c), 1);
    tq_report_summarize(r, &s);
    assert_int_equal(s.renders, 6);
    assert_int_equal(s.change_renders, 1);
    assert_int_equal(s.duplicates, 2); /* a change render is never a duplicate */
    assert_true(s.duplicate_ms > 49.99 && s.duplicate_ms < 50.01);
    tq_report_free(r);
}

static int near(double a, double b)
{
    return a > b - 0.001 && a < b + 0.001;
}

/* The top list of a JSON report, as "z/x/y:renders:duplicates:duplicate_ms" lines. */
static void json_top(const char *json, const char *key, char *buf, size_t n)
{
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    assert_non_null(root);
    json_t *top = json_object_get(root, key);
    size_t len = 0, i;
    json_t *e;
    buf[0] = '\0';
    json_array_foreach(top, i, e)
    {
        len += (size_t)snprintf(buf + len, n - len, "%lld/%lld/%lld:%lld:%lld:%.0f\n",
                                json_integer_value(json_object_get(e, "z")),
                                json_integer_value(json_object_get(e, "x")),
                                json_integer_value(json_object_get(e, "y")),
                                json_integer_value(json_object_get(e, "renders")),
                                json_integer_value(json_object_get(e, "duplicates")),
                                json_real_value(json_object_get(e, "duplicate_ms")));
        assert_true(len < n);
    }
    json_decref(root);
}

static char *render(struct tq_report *r, enum tq_report_format f, size_t top);

/* A known mix: a render with reason change is never a duplicate, and the duplicate time is
 * that of the renders not for a change after the first of them. */
static void test_change_not_duplicate(void **state)
{
    (void)state;
    struct tq_report *r = tq_report_new(NULL, "test");
    struct tq_report_rec v[] = {
        /* 6/10/10: warm, change, change, request: 1 duplicate of 5 ms */
        rec("demo", 6, 10, 10, 1000, 10, "warm"),
        rec("demo", 6, 10, 10, 2000, 20, "change"),
        rec("demo", 6, 10, 10, 3000, 40, "change"),
        rec("demo", 6, 10, 10, 4000, 5, "request"),
        /* 6/11/10: change only: no duplicate */
        rec("demo", 6, 11, 10, 1500, 7, "change"),
        /* 6/12/10: change, then requests at 600 (4 ms) and 700 (6 ms), read out of order:
         * 1 duplicate of 6 ms */
        rec("demo", 6, 12, 10, 700, 6, "request"),
        rec("demo", 6, 12, 10, 500, 3, "change"),
        rec("demo", 6, 12, 10, 600, 4, "request"),
        /* 7/1/1: two requests: 1 duplicate of 9 ms */
        rec("demo", 7, 1, 1, 100, 2, "request"),
        rec("demo", 7, 1, 1, 200, 9, "request"),
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_int_equal(tq_report_add(r, &v[i]), 1);
    struct tq_report_summary s;
    tq_report_summarize(r, &s);
    assert_int_equal(s.renders, 10);
    assert_int_equal(s.tiles, 4);
    assert_int_equal(s.change_renders, 4);
    assert_int_equal(s.duplicates, 3);
    assert_true(near(s.render_ms, 106));
    assert_true(near(s.duplicate_ms, 20)); /* 5 + 6 + 9 */
    assert_true(near(s.share, 20.0 / 106));

    struct tq_report_zoom z;
    tq_report_zoom_stats(r, 6, &z);
    assert_int_equal(z.renders, 8);
    assert_int_equal(z.tiles, 3);
    assert_int_equal(z.duplicates, 2);
    assert_true(near(z.duplicate_ms, 11));
    tq_report_zoom_stats(r, 7, &z);
    assert_int_equal(z.renders, 2);
    assert_int_equal(z.duplicates, 1);
    assert_true(near(z.duplicate_ms, 9));

    /* Ranked by duplicates, then their time: the tile with the most renders (mostly for
     * changes) is not first, the change-only tile last. */
    char *js = render(r, TQ_FMT_JSON, 10), top[512];
    json_top(js, "top_tiles", top, sizeof top);
    assert_string_equal(top, "7/1/1:2:1:9\n6/12/10:3:1:6\n6/10/10:4:1:5\n6/11/10:1:0:0\n");
    free(js);
    char *csv = render(r, TQ_FMT_CSV, 10);
    assert_non_null(strstr(csv, "\ndemo,6,10,10,4,1,75.000,18.750,40.000,"));
    assert_non_null(strstr(csv, "\ndemo,6,11,10,1,0,7.000,"));
    free(csv);
    char *txt = render(r, TQ_FMT_TEXT, 10);
    assert_non_null(strstr(txt, "duplicate renders  3\n"));
    assert_non_null(strstr(txt, "change renders     4 "));
    free(txt);
    tq_report_free(r);

    /* Metatiles (2x1 at 6/20/10): warm, change, request; the metatile took 10, 30, 12 ms. */
    r = tq_report_new(NULL, "test");
    const char *reasons[] = {"warm", "change", "request"};
    const double mms[] = {10, 30, 12};
    for (int k = 0; k < 3; k++)
        for (uint32_t i = 0; i < 2; i++) {
            struct tq_report_rec x =
                rec("demo", 6, 20 + i, 10, 1000 * (k + 1), mms[k] / 2, reasons[k]);
            x.meta.mx = 20;
            x.meta.my = 10;
            x.meta.w = 2;
            x.meta.h = 1;
            x.meta_first = i == 0;
            x.metatile_ms = mms[k];
            assert_int_equal(tq_report_add(r, &x), 1);
        }
    tq_report_summarize(r, &s);
    assert_int_equal(s.renders, 6);
    assert_int_equal(s.metatile_renders, 3);
    assert_int_equal(s.duplicates, 2); /* one per tile: the request */
    assert_true(near(s.duplicate_ms, 12));
    js = render(r, TQ_FMT_JSON, 10);
    json_top(js, "top_metatiles", top, sizeof top);
    assert_string_equal(top, "6/20/10:3:1:12\n");
    free(js);
    tq_report_free(r);
}

static void test_filters(void **state)
{
    struct tq_report_filter f = {1500, 3000, "demo", 0, 30};
    struct tq_report *r = sample(&f);
    struct tq_report_summary s;
    tq_report_summarize(r, &s);
    assert_int_equal(s.renders, 2); /* 3/4/2 at 2000 and 5/1/1 at 1500 */
    tq_report_free(r);
    struct tq_report_filter g = {TQ_TIME_UNSET, TQ_TIME_UNSET, NULL, 5, 5};
    r = sample(&g);
    tq_report_summarize(r, &s);
    assert_int_equal(s.renders, 1);
    tq_report_free(r);
}

static void test_metatiles(void **state)
{
    struct tq_report *r = tq_report_new(NULL, "test");
    /* two renders of a 2x2 metatile: 8 tile records, 2 metatile renders, 4 duplicates */
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < 4; i++) {
            struct tq_report_rec x = rec("demo", 4, 2 + i % 2, 6 + i / 2, 100 * k, 2.5, "request");
            x.meta.mx = 2;
            x.meta.my = 6;
            x.meta.w = x.meta.h = 2;
            x.meta_first = i == 0;
            x.metatile_ms = 10;
            tq_report_add(r, &x);
        }
    struct tq_report_summary s;
    tq_report_summarize(r, &s);
    assert_int_equal(s.renders, 8);
    assert_int_equal(s.tiles, 4);
    assert_int_equal(s.duplicates, 4);
    assert_int_equal(s.metatile_renders, 2);
    assert_true(s.duplicate_ms > 9.99 && s.duplicate_ms < 10.01);
    tq_report_free(r);
}

static char *render(struct tq_report *r, enum tq_report_format f, size_t top)
{
    char *buf = NULL, err[128];
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(tq_report_write(r, f, top, out, err, sizeof err), 0);
    fclose(out);
    return buf;
}

static void test_json(void **state)
{
    struct tq_report *r = sample(NULL);
    char *s = render(r, TQ_FMT_JSON, 2);
    json_error_t jerr;
    json_t *root = json_loads(s, 0, &jerr);
    assert_non_null(root);
    json_t *sum = json_object_get(root, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "renders")), 5);
    assert_int_equal(json_integer_value(json_object_get(sum, "duplicates")), 2);
    json_t *top = json_object_get(root, "top_tiles");
    assert_int_equal(json_array_size(top), 2);
    json_t *first = json_array_get(top, 0);
    assert_string_equal(json_string_value(json_object_get(first, "tileset")), "demo");
    assert_int_equal(json_integer_value(json_object_get(first, "z")), 3);
    assert_int_equal(json_integer_value(json_object_get(first, "renders")), 3);
    assert_int_equal(json_array_size(json_object_get(first, "reasons")), 2);
    assert_int_equal(json_array_size(json_object_get(root, "zooms")), 2);
    json_decref(root);
    free(s);
    tq_report_free(r);
}

static void test_csv_text_html(void **state)
{
    struct tq_report *r = sample(NULL);
    char *s = render(r, TQ_FMT_CSV, 20);
    assert_true(strncmp(s, "tileset,z,x,y,renders,", 22) == 0);
    int lines = 0;
    for (char *c = s; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 4); /* header + 3 tiles */
    assert_non_null(strstr(s, "\ndemo,3,4,2,3,2,60.000,20.000,30.000,"));
    assert_non_null(strstr(s, "\"request,warm\""));
    free(s);
    s = render(r, TQ_FMT_TEXT, 20);
    assert_non_null(strstr(s, "duplicate renders  2"));
    free(s);
    s = render(r, TQ_FMT_HTML, 20);
    assert_non_null(strstr(s, "<svg"));
    assert_null(strstr(s, "src=")); /* self-contained: nothing fetched */
    assert_null(strstr(s, "<script"));
    assert_null(strstr(s, "<th>database</th>"));
    free(s);
    tq_report_free(r);
}

/* The database, user and tables columns are the PostgreSQL logs' (tq_report_set_input):
 * left out for the render log, where they would always be empty. */
static void test_pg_columns(void **state)
{
    struct tq_report *r = sample(NULL);
    char *s = render(r, TQ_FMT_CSV, 20);
    assert_true(strncmp(s,
                        "tileset,z,x,y,renders,duplicates,total_ms,mean_ms,max_ms,first,last,"
                        "reasons\n",
                        76) == 0);
    assert_non_null(strstr(s, "\ndemo,3,4,2,3,2,60.000,20.000,30.000,"));
    free(s);
    s = render(r, TQ_FMT_TEXT, 20);
    assert_null(strstr(s, "database"));
    free(s);
    s = render(r, TQ_FMT_HTML, 20);
    assert_null(strstr(s, "<th>database</th>"));
    free(s);

    struct tq_report_input in;
    memset(&in, 0, sizeof in);
    tq_report_set_input(r, &in);
    s = render(r, TQ_FMT_CSV, 20);
    assert_true(strncmp(s,
                        "tileset,z,x,y,renders,duplicates,total_ms,mean_ms,max_ms,first,last,"
                        "reasons,database,user,tables\n",
                        97) == 0);
    assert_non_null(strstr(s, "\ndemo,3,4,2,3,2,60.000,20.000,30.000,"));
    assert_non_null(strstr(s, "\"request,warm\",,,\n"));
    free(s);
    s = render(r, TQ_FMT_TEXT, 20);
    assert_non_null(strstr(s, "reasons / database user tables"));
    free(s);
    s = render(r, TQ_FMT_HTML, 20);
    assert_non_null(strstr(s, "<th>database</th><th>user</th><th>tables</th>"));
    free(s);
    tq_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicates), cmocka_unit_test(test_change_renders),
        cmocka_unit_test(test_filters),    cmocka_unit_test(test_metatiles),
        cmocka_unit_test(test_json),       cmocka_unit_test(test_csv_text_html),
        cmocka_unit_test(test_pg_columns), cmocka_unit_test(test_change_not_duplicate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

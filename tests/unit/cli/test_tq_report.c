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
    assert_int_equal(s.duplicates, 3);
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
        cmocka_unit_test(test_pg_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_metrics: the Prometheus text exposition format 0.0.4 (HELP/TYPE lines,
 * label and help escaping, histogram buckets/sum/count with +Inf), name validation, value
 * formatting, series reset, and the histogram string codec. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_metrics.h"

static char *render(const struct tq_metrics *m)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(tq_metrics_render(m, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    return out;
}

static void test_counter_gauge_text(void **state)
{
    (void)state;
    struct tq_metrics *m = tq_metrics_new();
    const char *labels[] = {"status", "served"};
    struct tq_metric_family *req =
        tq_metrics_add_family(m, TQ_METRIC_COUNTER, "tileq_http_requests_total",
                              "HTTP requests answered.", 2, labels, 0, NULL);
    struct tq_metric_family *up =
        tq_metrics_add_family(m, TQ_METRIC_GAUGE, "tileq_redis_up", "1 when up.", 0, NULL, 0, NULL);
    assert_non_null(req);
    assert_non_null(up);

    char *text = render(m);
    /* A family without labels shows 0 from the start; one with labels shows no sample. */
    assert_string_equal(text, "# HELP tileq_http_requests_total HTTP requests answered.\n"
                              "# TYPE tileq_http_requests_total counter\n"
                              "# HELP tileq_redis_up 1 when up.\n"
                              "# TYPE tileq_redis_up gauge\n"
                              "tileq_redis_up 0\n");
    free(text);

    const char *hit[] = {"200", "hit"}, *miss[] = {"200", "miss"};
    tq_metric_add(tq_metric_get(req, hit), 1);
    tq_metric_add(tq_metric_get(req, miss), 1);
    tq_metric_add(tq_metric_get(req, hit), 2);
    tq_metric_set(tq_metric_get(up, NULL), 1);
    assert_true(tq_metric_get(req, hit) == tq_metric_get(req, hit));
    assert_true(tq_metric_value(tq_metric_get(req, hit)) == 3);
    text = render(m);
    assert_string_equal(text, "# HELP tileq_http_requests_total HTTP requests answered.\n"
                              "# TYPE tileq_http_requests_total counter\n"
                              "tileq_http_requests_total{status=\"200\",served=\"hit\"} 3\n"
                              "tileq_http_requests_total{status=\"200\",served=\"miss\"} 1\n"
                              "# HELP tileq_redis_up 1 when up.\n"
                              "# TYPE tileq_redis_up gauge\n"
                              "tileq_redis_up 1\n");
    free(text);
    tq_metrics_free(m);
}

static void test_escaping(void **state)
{
    (void)state;
    struct tq_metrics *m = tq_metrics_new();
    const char *labels[] = {"worker"};
    struct tq_metric_family *f = tq_metrics_add_family(
        m, TQ_METRIC_GAUGE, "x", "line one\nback\\slash \"quoted\"", 1, labels, 0, NULL);
    const char *v[] = {"a\"b\\c\nd"};
    tq_metric_set(tq_metric_get(f, v), -2.5);
    char *text = render(m);
    /* HELP: backslash and newline escaped, quotes kept; label values: all three escaped. */
    assert_string_equal(text, "# HELP x line one\\nback\\\\slash \"quoted\"\n"
                              "# TYPE x gauge\n"
                              "x{worker=\"a\\\"b\\\\c\\nd\"} -2.5\n");
    free(text);
    tq_metrics_free(m);
}

static void test_histogram_text(void **state)
{
    (void)state;
    struct tq_metrics *m = tq_metrics_new();
    const double b[] = {0.1, 1, 2.5};
    const char *labels[] = {"zoom"};
    struct tq_metric_family *h =
        tq_metrics_add_family(m, TQ_METRIC_HISTOGRAM, "t_seconds", "Time.", 1, labels, 3, b);
    struct tq_metric_family *h0 =
        tq_metrics_add_family(m, TQ_METRIC_HISTOGRAM, "u_seconds", "U.", 0, NULL, 1, b);
    assert_non_null(h);
    assert_non_null(h0);
    const char *z3[] = {"3"};
    struct tq_metric *s = tq_metric_get(h, z3);
    tq_metric_observe(s, 0.05);
    tq_metric_observe(s, 0.1); /* le is inclusive */
    tq_metric_observe(s, 2);
    tq_metric_observe(s, 7);
    char *text = render(m);
    assert_string_equal(text, "# HELP t_seconds Time.\n"
                              "# TYPE t_seconds histogram\n"
                              "t_seconds_bucket{zoom=\"3\",le=\"0.1\"} 2\n"
                              "t_seconds_bucket{zoom=\"3\",le=\"1\"} 2\n"
                              "t_seconds_bucket{zoom=\"3\",le=\"2.5\"} 3\n"
                              "t_seconds_bucket{zoom=\"3\",le=\"+Inf\"} 4\n"
                              "t_seconds_sum{zoom=\"3\"} 9.15\n"
                              "t_seconds_count{zoom=\"3\"} 4\n"
                              "# HELP u_seconds U.\n"
                              "# TYPE u_seconds histogram\n"
                              "u_seconds_bucket{le=\"0.1\"} 0\n"
                              "u_seconds_bucket{le=\"+Inf\"} 0\n"
                              "u_seconds_sum 0\n"
                              "u_seconds_count 0\n");
    free(text);

    /* Counts kept elsewhere replace the series' state. */
    const uint64_t counts[] = {1, 0, 2, 5};
    assert_int_equal(tq_metric_hist_set(s, counts, 4, 12.5), 0);
    assert_int_equal(tq_metric_hist_set(s, counts, 3, 12.5), -1);
    text = render(m);
    assert_non_null(strstr(text, "t_seconds_bucket{zoom=\"3\",le=\"1\"} 1\n"
                                 "t_seconds_bucket{zoom=\"3\",le=\"2.5\"} 3\n"
                                 "t_seconds_bucket{zoom=\"3\",le=\"+Inf\"} 8\n"
                                 "t_seconds_sum{zoom=\"3\"} 12.5\n"
                                 "t_seconds_count{zoom=\"3\"} 8\n"));
    free(text);
    tq_metrics_free(m);
}

static void test_reset(void **state)
{
    (void)state;
    struct tq_metrics *m = tq_metrics_new();
    const char *labels[] = {"class", "state"};
    struct tq_metric_family *q =
        tq_metrics_add_family(m, TQ_METRIC_GAUGE, "q_jobs", "Q.", 2, labels, 0, NULL);
    struct tq_metric_family *g =
        tq_metrics_add_family(m, TQ_METRIC_GAUGE, "g", "G.", 0, NULL, 0, NULL);
    const char *v[] = {"bulk", "queued"};
    tq_metric_set(tq_metric_get(q, v), 4);
    tq_metric_set(tq_metric_get(g, NULL), 7);
    tq_metric_family_reset(q);
    tq_metric_family_reset(g);
    char *text = render(m);
    assert_string_equal(text, "# HELP q_jobs Q.\n# TYPE q_jobs gauge\n"
                              "# HELP g G.\n# TYPE g gauge\n");
    free(text);
    tq_metric_set(tq_metric_get(g, NULL), 2);
    text = render(m);
    assert_string_equal(text, "# HELP q_jobs Q.\n# TYPE q_jobs gauge\n"
                              "# HELP g G.\n# TYPE g gauge\ng 2\n");
    free(text);
    tq_metrics_free(m);
}

static void test_invalid_families(void **state)
{
    (void)state;
    struct tq_metrics *m = tq_metrics_new();
    const double b[] = {1, 2}, bad[] = {2, 1}, inf[] = {1, INFINITY};
    const char *le[] = {"le"}, *dunder[] = {"__x"}, *dup[] = {"a", "a"}, *digit[] = {"1a"};
    const char *ok[] = {"le"};

    assert_null(tq_metrics_add_family(m, TQ_METRIC_GAUGE, "", "", 0, NULL, 0, NULL));
    assert_null(tq_metrics_add_family(m, TQ_METRIC_GAUGE, "1abc", "", 0, NULL, 0, NULL));
    assert_null(tq_metrics_add_family(m, TQ_METRIC_GAUGE, "a-b", "", 0, NULL, 0, NULL));
    assert_non_null(tq_metrics_add_family(m, TQ_METRIC_GAUGE, "a:b_c9", "", 0, NULL, 0, NULL));
    assert_null(tq_metrics_add_family(m, TQ_METRIC_GAUGE, "a:b_c9", "", 0, NULL, 0, NULL));
    assert_null(tq_metrics_add_family(m, TQ_METRIC_GAUGE, "d", "", 1, dunder, 0, NULL));
    assert_null(tq_metrics_add_family(m, TQ_METRIC_GAUGE, "d", "", 2, dup, 0, NULL));
    assert_null(tq_metrics_add_family(m, TQ_METRIC_GAUGE, "d", "", 1, digit, 0, NULL));
    assert_null(tq_metrics_add_family(m, TQ_METRIC_HISTOGRAM, "h", "", 1, le, 2, b));
    assert_null(tq_metrics_add_family(m, TQ_METRIC_HISTOGRAM, "h", "", 0, NULL, 2, bad));
    assert_null(tq_metrics_add_family(m, TQ_METRIC_HISTOGRAM, "h", "", 0, NULL, 2, inf));
    assert_null(tq_metrics_add_family(m, TQ_METRIC_HISTOGRAM, "h", "", 0, NULL, 0, NULL));
    assert_non_null(tq_metrics_add_family(m, TQ_METRIC_HISTOGRAM, "h", "", 0, NULL, 2, b));
    /* "le" is an ordinary label name for a gauge */
    assert_non_null(tq_metrics_add_family(m, TQ_METRIC_GAUGE, "d", "", 1, ok, 0, NULL));
    tq_metrics_free(m);
}

static void test_format_value(void **state)
{
    (void)state;
    char v[TQ_METRICS_VALUE_MAX];
    struct {
        double in;
        const char *out;
    } cases[] = {
        {0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {42, "42"},
        {1e6, "1000000"},
        {-3, "-3"},
        {0.1, "0.1"},
        {0.005, "0.005"},
        {2.5, "2.5"},
        {1.0 / 3, "0.3333333333333333"},
        {9007199254740992.0, "9007199254740992"},
        {1e300, "1e+300"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tq_metrics_format_value(cases[i].in, v);
        assert_string_equal(v, cases[i].out);
    }
    tq_metrics_format_value(NAN, v);
    assert_string_equal(v, "NaN");
}

static void test_bucket_index(void **state)
{
    (void)state;
    const double b[] = {1, 2};
    assert_int_equal(tq_metrics_bucket_index(b, 2, 0.5), 0);
    assert_int_equal(tq_metrics_bucket_index(b, 2, 1), 0);
    assert_int_equal(tq_metrics_bucket_index(b, 2, 1.5), 1);
    assert_int_equal(tq_metrics_bucket_index(b, 2, 3), 2);
    assert_int_equal(tq_metrics_bucket_index(b, 2, NAN), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge_text), cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram_text),     cmocka_unit_test(test_reset),
        cmocka_unit_test(test_invalid_families),   cmocka_unit_test(test_format_value),
        cmocka_unit_test(test_bucket_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

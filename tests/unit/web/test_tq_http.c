/* Unit tests for tq_http: Accept-Encoding negotiation, entity tags and If-None-Match, and the
 * public base URL of a request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_http.h"

static void test_accept_encoding(void **state)
{
    (void)state;
    assert_int_equal(tq_http_accepts_gzip(NULL), 0);
    assert_int_equal(tq_http_accepts_gzip(""), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip"), 1);
    assert_int_equal(tq_http_accepts_gzip("GZip"), 1);
    assert_int_equal(tq_http_accepts_gzip("x-gzip"), 1);
    assert_int_equal(tq_http_accepts_gzip("gzip, deflate, br"), 1);
    assert_int_equal(tq_http_accepts_gzip("deflate, br"), 0);
    assert_int_equal(tq_http_accepts_gzip("br;q=1.0, gzip;q=0.8, *;q=0.1"), 1);
    assert_int_equal(tq_http_accepts_gzip(" gzip ; q=0.5 "), 1);
    assert_int_equal(tq_http_accepts_gzip("gzip;Q=0.5"), 1);
    /* q=0: not acceptable, in every spelling */
    assert_int_equal(tq_http_accepts_gzip("gzip;q=0"), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip;q=0.0"), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip;q=0.000"), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip;q=0.001"), 1);
    /* the wildcard covers codings not listed */
    assert_int_equal(tq_http_accepts_gzip("*"), 1);
    assert_int_equal(tq_http_accepts_gzip("*;q=0"), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip;q=0, *"), 0);
    assert_int_equal(tq_http_accepts_gzip("*, gzip;q=0"), 0);
    /* identity preferred over gzip */
    assert_int_equal(tq_http_accepts_gzip("identity;q=1, gzip;q=0.5"), 0);
    assert_int_equal(tq_http_accepts_gzip("identity;q=0.5, gzip;q=0.5"), 1);
    assert_int_equal(tq_http_accepts_gzip("identity;q=0, gzip"), 1);
    assert_int_equal(tq_http_accepts_gzip("*;q=0.9, gzip;q=0.5"), 0);
    /* malformed q values drop their entry */
    assert_int_equal(tq_http_accepts_gzip("gzip;q=2"), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip;q=1.5"), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip;q=0.1234"), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip;q=-1"), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip;q="), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip;q"), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip;q=abc, deflate"), 0);
    assert_int_equal(tq_http_accepts_gzip("gzip junk"), 0);
    /* other parameters are ignored; names are whole tokens */
    assert_int_equal(tq_http_accepts_gzip("gzip;level=9"), 1);
    assert_int_equal(tq_http_accepts_gzip("gzipx, xgzip"), 0);
    assert_int_equal(tq_http_accepts_gzip(",,gzip,,"), 1);
}

static void test_etag(void **state)
{
    char a[TQ_HTTP_ETAG_MAX], b[TQ_HTTP_ETAG_MAX], agz[TQ_HTTP_ETAG_MAX], e[TQ_HTTP_ETAG_MAX];
    (void)state;

    tq_http_etag(5, 0x3610a686, 0, a); /* CRC-32 of "hello" */
    tq_http_etag(5, 0x3610a687, 0, b);
    tq_http_etag(5, 0x3610a686, 1, agz);
    tq_http_etag(0, 0, 0, e);
    assert_true(a[0] == '"' && a[strlen(a) - 1] == '"'); /* strong: no W/ */
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, agz);
    assert_int_equal(strncmp(a, agz, strlen(a) - 1), 0); /* same base, "-gz" suffix */
    assert_string_equal(agz + strlen(agz) - 4, "-gz\"");
    assert_string_equal(a, "\"5-3610a686\"");
    assert_string_equal(e, "\"0-00000000\"");
    {
        char other_len[TQ_HTTP_ETAG_MAX];
        tq_http_etag(6, 0x3610a686, 0, other_len);
        assert_string_not_equal(a, other_len);
        /* the largest length still fits, with its quotes, "-gz" and NUL */
        char big[TQ_HTTP_ETAG_MAX];
        tq_http_etag((size_t)-1, 0xffffffffu, 1, big);
        assert_int_equal(big[strlen(big) - 1], '"');
        assert_string_equal(big + strlen(big) - 4, "-gz\"");
    }

    assert_int_equal(tq_http_etag_match(NULL, a), 0);
    assert_int_equal(tq_http_etag_match("", a), 0);
    assert_int_equal(tq_http_etag_match(a, a), 1);
    assert_int_equal(tq_http_etag_match("*", a), 1);
    assert_int_equal(tq_http_etag_match(b, a), 0);
    /* the other representation of the same bytes matches */
    assert_int_equal(tq_http_etag_match(agz, a), 1);
    assert_int_equal(tq_http_etag_match(a, agz), 1);
    {
        char list[200], weak[60];
        snprintf(list, sizeof list, "\"x\", %s , \"y\"", a);
        assert_int_equal(tq_http_etag_match(list, a), 1);
        snprintf(weak, sizeof weak, "W/%s", a);
        assert_int_equal(tq_http_etag_match(weak, a), 1);
        snprintf(list, sizeof list, "\"x\", %s", b);
        assert_int_equal(tq_http_etag_match(list, a), 0);
    }
    /* unquoted or truncated tags never match */
    assert_int_equal(tq_http_etag_match(a + 1, a), 0);
}

static void url(const char *pub, const char *host, const char *xp, const char *xh, const char *xpre,
                const char *expected)
{
    char out[256];
    assert_int_equal(tq_http_base_url(pub, host, xp, xh, xpre, "127.0.0.1:8080", out, sizeof out),
                     0);
    assert_string_equal(out, expected);
}

static void test_base_url(void **state)
{
    char small[10];
    (void)state;

    url(NULL, NULL, NULL, NULL, NULL, "http://127.0.0.1:8080");
    url(NULL, "tiles.example.com", NULL, NULL, NULL, "http://tiles.example.com");
    url(NULL, "h:81", "https", NULL, NULL, "https://h:81");
    url(NULL, "h", "HTTPS, http", NULL, NULL, "https://h");
    url(NULL, "h", "gopher", NULL, NULL, "http://h");
    url(NULL, "h", NULL, "proxy.example.org, inner", NULL, "http://proxy.example.org");
    url(NULL, "h", "https", "p.example", "/tiles/", "https://p.example/tiles");
    url(NULL, "[::1]:8080", NULL, NULL, NULL, "http://[::1]:8080");
    /* junk in headers is ignored */
    url(NULL, "h", NULL, "evil\"/<x>", NULL, "http://h");
    url(NULL, "bad host", NULL, NULL, NULL, "http://127.0.0.1:8080");
    url(NULL, "h", NULL, NULL, "no-slash", "http://h");
    url(NULL, "h", NULL, NULL, "/a\"b", "http://h");
    url(NULL, "h", NULL, NULL, "/", "http://h");
    /* the configured URL wins */
    url("https://maps.example.com/tq/", "h", "http", "x", "/p", "https://maps.example.com/tq");
    assert_int_equal(
        tq_http_base_url(NULL, "a-long-host-name", NULL, NULL, NULL, NULL, small, sizeof small),
        -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_encoding),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_base_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

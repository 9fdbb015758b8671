/* Unit tests for tq_proxy: which peer's X-Forwarded-* count, and who the client is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tq_proxy.h"

static struct tq_cidr_list trusted;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(tq_cidr_list_add(&trusted, "127.0.0.1", NULL, 0), 0);
    assert_int_equal(tq_cidr_list_add(&trusted, "10.0.0.0/8", NULL, 0), 0);
    assert_int_equal(tq_cidr_list_add(&trusted, "fd00::/8", NULL, 0), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tq_cidr_list_free(&trusted);
    return 0;
}

/* "forwarded client" ("-" when the client is unknown) for peer and xff. */
static const char *view(const char *peer, const char *xff)
{
    static char out[80];
    char ip[64];
    struct tq_proxy_view v;

    tq_proxy_view(&trusted, peer, xff, &v);
    snprintf(out, sizeof out, "%d %s", v.forwarded,
             v.client_known ? tq_ip_format(&v.client, ip, sizeof ip) : "-");
    return out;
}

static void test_untrusted_peer(void **state)
{
    (void)state;
    /* a client talking to us directly: its own headers do not count */
    assert_string_equal(view("203.0.113.9", NULL), "0 203.0.113.9");
    assert_string_equal(view("203.0.113.9", "127.0.0.1"), "0 203.0.113.9");
    assert_string_equal(view("203.0.113.9", "garbage, 10.0.0.1"), "0 203.0.113.9");
    assert_string_equal(view("2001:db8::5", "::1"), "0 2001:db8::5");
    /* unknown peers */
    assert_string_equal(view(NULL, "1.2.3.4"), "0 -");
    assert_string_equal(view("", NULL), "0 -");
    assert_string_equal(view("not-an-ip", "1.2.3.4"), "0 -");
}

static void test_trusted_peer(void **state)
{
    (void)state;
    assert_string_equal(view("127.0.0.1", NULL), "1 127.0.0.1");
    assert_string_equal(view("::ffff:127.0.0.1", NULL), "1 127.0.0.1");
    assert_string_equal(view("127.0.0.1", "198.51.100.4"), "1 198.51.100.4");
    /* nginx behind a trusted load balancer: LB's address then nginx's */
    assert_string_equal(view("127.0.0.1", "198.51.100.4, 10.1.2.3"), "1 198.51.100.4");
    /* a client that forged entries: only the rightmost untrusted one counts */
    assert_string_equal(view("127.0.0.1", "127.0.0.1, 198.51.100.4"), "1 198.51.100.4");
    assert_string_equal(view("127.0.0.1", "10.0.0.1,203.0.113.7,10.9.9.9"), "1 203.0.113.7");
    assert_string_equal(view("127.0.0.1", "junk, 203.0.113.7"), "1 203.0.113.7");
    /* every hop trusted: the leftmost */
    assert_string_equal(view("127.0.0.1", "10.0.0.2, 10.0.0.3"), "1 10.0.0.2");
    assert_string_equal(view("10.0.0.5", "fd00::1"), "1 fd00::1");
    assert_string_equal(view("10.0.0.5", "  2001:db8::7\t"), "1 2001:db8::7");
}

static void test_malformed_entries(void **state)
{
    (void)state;
    /* an entry that is not an address before an untrusted one was found: unknown */
    const char *bad[] = {
        "",
        " ",
        "198.51.100.4,",
        "198.51.100.4, ",
        "198.51.100.4:5555",
        "[2001:db8::1]",
        "unknown",
        "evil.example",
        "198.51.100.4, 10.0.0.1, nonsense",
        "1.2.3.4,,10.0.0.1",
        "0000000000000000000000000000000000000000000000000000000000000000001.2.3.4"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct tq_proxy_view v;
        tq_proxy_view(&trusted, "127.0.0.1", bad[i], &v);
        assert_int_equal(v.forwarded, 1);
        if (v.client_known)
            fail_msg("xff \"%s\": client taken as known", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untrusted_peer),
        cmocka_unit_test(test_trusted_peer),
        cmocka_unit_test(test_malformed_entries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

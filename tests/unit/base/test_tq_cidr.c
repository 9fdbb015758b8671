/* Unit tests for tq_cidr: addresses and ranges as written in http.trusted_proxies and
 * http.metrics_allow, peers and X-Forwarded-For entries, and matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tq_cidr.h"

static int in(const char *range, const char *addr)
{
    struct tq_cidr c;
    struct tq_ip ip;
    assert_int_equal(tq_cidr_parse(range, &c, NULL, 0), 0);
    assert_int_equal(tq_ip_parse(addr, &ip), 0);
    return tq_cidr_match(&c, &ip);
}

static void test_ip_parse(void **state)
{
    struct tq_ip ip;
    char buf[64];

    (void)state;
    assert_int_equal(tq_ip_parse("192.0.2.7", &ip), 0);
    assert_int_equal(ip.family, 4);
    assert_string_equal(tq_ip_format(&ip, buf, sizeof buf), "192.0.2.7");
    assert_int_equal(tq_ip_parse("2001:db8::1", &ip), 0);
    assert_int_equal(ip.family, 6);
    assert_string_equal(tq_ip_format(&ip, buf, sizeof buf), "2001:db8::1");
    /* a dual-stack socket's IPv4 peer is the IPv4 address */
    assert_int_equal(tq_ip_parse("::ffff:127.0.0.1", &ip), 0);
    assert_int_equal(ip.family, 4);
    assert_string_equal(tq_ip_format(&ip, buf, sizeof buf), "127.0.0.1");
    /* what is not a numeric address */
    const char *bad[] = {"",          "localhost",  "1.2.3",        "1.2.3.4.5", "256.1.1.1",
                         " 1.2.3.4",  "1.2.3.4 ",   "1.2.3.4:80",   "[::1]",     "fe80::1%eth0",
                         "01.2.3.4x", "1.2.3.4/32", "evil.example", "::1::2",    "unknown",
                         "_hidden"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tq_ip_parse(bad[i], &ip), -1);
    assert_int_equal(tq_ip_parse(NULL, &ip), -1);
}

static void test_cidr_parse(void **state)
{
    struct tq_cidr c;
    char why[100];

    (void)state;
    assert_int_equal(tq_cidr_parse("10.0.0.0/8", &c, why, sizeof why), 0);
    assert_int_equal(c.bits, 8);
    assert_int_equal(tq_cidr_parse("127.0.0.1", &c, why, sizeof why), 0);
    assert_int_equal(c.bits, 32);
    assert_int_equal(tq_cidr_parse("::1", &c, why, sizeof why), 0);
    assert_int_equal(c.bits, 128);
    assert_int_equal(tq_cidr_parse("fd00::/8", &c, why, sizeof why), 0);
    assert_int_equal(c.bits, 8);
    assert_int_equal(tq_cidr_parse("0.0.0.0/0", &c, why, sizeof why), 0);
    assert_int_equal(tq_cidr_parse("::/0", &c, why, sizeof why), 0);
    assert_int_equal(tq_cidr_parse("192.168.1.128/25", &c, why, sizeof why), 0);

    assert_int_equal(tq_cidr_parse("10.0.0.1/8", &c, why, sizeof why), -1);
    assert_non_null(strstr(why, "host bits"));
    assert_int_equal(tq_cidr_parse("10.0.0.0/33", &c, why, sizeof why), -1);
    assert_non_null(strstr(why, "0..32"));
    assert_int_equal(tq_cidr_parse("::/129", &c, why, sizeof why), -1);
    assert_non_null(strstr(why, "0..128"));
    assert_int_equal(tq_cidr_parse("proxy.example/8", &c, why, sizeof why), -1);
    assert_non_null(strstr(why, "no host names"));
    const char *bad[] = {"",
                         "/8",
                         "10.0.0.0/",
                         "10.0.0.0/x",
                         "10.0.0.0/08",
                         "10.0.0.0/-1",
                         "10.0.0.0/8/8",
                         "10.0.0.0/ 8",
                         "10.0.0.0/1000",
                         "::ffff:10.0.0.0/104"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        assert_int_equal(tq_cidr_parse(bad[i], &c, why, sizeof why), -1);
        assert_true(why[0] != '\0');
    }
    assert_int_equal(tq_cidr_parse(NULL, &c, NULL, 0), -1);
}

static void test_match(void **state)
{
    (void)state;
    assert_true(in("10.0.0.0/8", "10.255.1.2"));
    assert_false(in("10.0.0.0/8", "11.0.0.1"));
    assert_true(in("192.168.1.128/25", "192.168.1.200"));
    assert_false(in("192.168.1.128/25", "192.168.1.127"));
    assert_true(in("127.0.0.1", "127.0.0.1"));
    assert_false(in("127.0.0.1", "127.0.0.2"));
    assert_true(in("127.0.0.0/8", "::ffff:127.0.0.9"));
    assert_true(in("0.0.0.0/0", "203.0.113.5"));
    assert_false(in("0.0.0.0/0", "2001:db8::1")); /* families never mix */
    assert_false(in("::/0", "203.0.113.5"));
    assert_true(in("::/0", "2001:db8::1"));
    assert_true(in("fd00::/8", "fdab:1::2"));
    assert_false(in("fd00::/8", "fe80::1"));
    assert_true(in("2001:db8::/33", "2001:db8:7fff::1"));
    assert_false(in("2001:db8::/33", "2001:db8:8000::1"));
    assert_true(in("::1", "::1"));
    assert_false(in("::1", "::2"));
}

static void test_list(void **state)
{
    struct tq_cidr_list l = {0};
    struct tq_ip ip;
    char why[100];

    (void)state;
    assert_int_equal(tq_ip_parse("10.1.2.3", &ip), 0);
    assert_false(tq_cidr_list_match(&l, &ip));
    assert_false(tq_cidr_list_match(NULL, &ip));
    assert_int_equal(tq_cidr_list_add(&l, "127.0.0.1", why, sizeof why), 0);
    assert_false(tq_cidr_list_match(&l, &ip));
    assert_int_equal(tq_cidr_list_add(&l, "10.0.0.0/8", why, sizeof why), 0);
    assert_true(tq_cidr_list_match(&l, &ip));
    assert_int_equal(tq_cidr_list_add(&l, "bad", why, sizeof why), -1);
    assert_int_equal(l.n, 2);
    tq_cidr_list_free(&l);
    assert_int_equal(l.n, 0);
    assert_false(tq_cidr_list_match(&l, &ip));
    tq_cidr_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_parse),
        cmocka_unit_test(test_cidr_parse),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for tq_redis's reply readers (the Sentinel master address, ROLE) and the
 * "reconnect" error classification; the connect itself is tested against real Redis and
 * sentinels in tests/integration/test_sentinel_failover.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tq_redis.h"

static redisReply str_reply(int type, const char *s)
{
    redisReply r;
    memset(&r, 0, sizeof r);
    r.type = type;
    r.str = (char *)(uintptr_t)s;
    r.len = strlen(s);
    return r;
}

static redisReply array_reply(redisReply **elems, size_t n)
{
    redisReply r;
    memset(&r, 0, sizeof r);
    r.type = REDIS_REPLY_ARRAY;
    r.element = elems;
    r.elements = n;
    return r;
}

static void test_reconnect_errors(void **state)
{
    assert_true(
        tq_redis_error_is_reconnect("READONLY You can't write against a read only replica."));
    assert_true(tq_redis_error_is_reconnect("LOADING Redis is loading the dataset in memory"));
    assert_true(tq_redis_error_is_reconnect("MASTERDOWN Link with MASTER is down"));
    assert_true(tq_redis_error_is_reconnect("UNBLOCKED force unblock from blocking operation"));
    assert_true(tq_redis_error_is_reconnect("BUSY Redis is busy running a script."));
    assert_true(tq_redis_error_is_reconnect("CLUSTERDOWN The cluster is down"));
    assert_true(tq_redis_error_is_reconnect("NOREPLICAS Not enough good replicas to write."));
    assert_true(tq_redis_error_is_reconnect("READONLY"));
    assert_false(tq_redis_error_is_reconnect("READONLYX something"));
    assert_false(tq_redis_error_is_reconnect("ERR unknown command"));
    assert_false(tq_redis_error_is_reconnect("WRONGTYPE Operation against a key"));
    assert_false(tq_redis_error_is_reconnect("readonly lower case"));
    assert_false(tq_redis_error_is_reconnect(""));
    assert_false(tq_redis_error_is_reconnect(NULL));

    redisReply e = str_reply(REDIS_REPLY_ERROR, "READONLY You can't write");
    redisReply s = str_reply(REDIS_REPLY_STRING, "READONLY");
    redisReply o = str_reply(REDIS_REPLY_ERROR, "ERR no");
    assert_true(tq_redis_reply_is_reconnect(&e));
    assert_false(tq_redis_reply_is_reconnect(&s)); /* a value, not an error */
    assert_false(tq_redis_reply_is_reconnect(&o));
    assert_false(tq_redis_reply_is_reconnect(NULL));
}

static void test_master_addr_reply(void **state)
{
    char host[64], err[128];
    int port = 0;

    redisReply h = str_reply(REDIS_REPLY_STRING, "127.0.0.1");
    redisReply p = str_reply(REDIS_REPLY_STRING, "6380");
    redisReply *el[2] = {&h, &p};
    redisReply ok = array_reply(el, 2);
    assert_int_equal(tq_redis_master_addr_reply(&ok, host, sizeof host, &port, err, sizeof err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6380);

    redisReply nil;
    memset(&nil, 0, sizeof nil);
    nil.type = REDIS_REPLY_NIL;
    assert_int_equal(tq_redis_master_addr_reply(&nil, host, sizeof host, &port, err, sizeof err),
                     -1);
    assert_string_equal(err, "master name unknown to this sentinel");

    redisReply e = str_reply(REDIS_REPLY_ERROR, "ERR unknown command");
    assert_int_equal(tq_redis_master_addr_reply(&e, host, sizeof host, &port, err, sizeof err), -1);
    assert_string_equal(err, "ERR unknown command");
    assert_int_equal(tq_redis_master_addr_reply(NULL, host, sizeof host, &port, err, sizeof err),
                     -1);

    const char *bad_ports[] = {"0", "65536", "-1", "63x", ""};
    for (size_t i = 0; i < sizeof bad_ports / sizeof bad_ports[0]; i++) {
        redisReply bp = str_reply(REDIS_REPLY_STRING, bad_ports[i]);
        redisReply *bel[2] = {&h, &bp};
        redisReply bad = array_reply(bel, 2);
        assert_int_equal(
            tq_redis_master_addr_reply(&bad, host, sizeof host, &port, err, sizeof err), -1);
        assert_string_equal(err, "bad master address in the sentinel's reply");
    }
    redisReply one = array_reply(el, 1);
    assert_int_equal(tq_redis_master_addr_reply(&one, host, sizeof host, &port, err, sizeof err),
                     -1);
    redisReply i = str_reply(REDIS_REPLY_INTEGER, "");
    redisReply *iel[2] = {&h, &i};
    redisReply ints = array_reply(iel, 2);
    assert_int_equal(tq_redis_master_addr_reply(&ints, host, sizeof host, &port, err, sizeof err),
                     -1);
    /* a host longer than the buffer is refused, not truncated */
    char small[4];
    assert_int_equal(tq_redis_master_addr_reply(&ok, small, sizeof small, &port, err, sizeof err),
                     -1);
}

static void test_role_reply(void **state)
{
    char err[128];
    redisReply m = str_reply(REDIS_REPLY_STRING, "master");
    redisReply s = str_reply(REDIS_REPLY_STRING, "slave");
    redisReply *mel[1] = {&m}, *sel[1] = {&s};
    redisReply master = array_reply(mel, 1), slave = array_reply(sel, 1),
               empty = array_reply(NULL, 0);

    assert_int_equal(tq_redis_role_is_master(&master, err, sizeof err), 1);
    assert_int_equal(tq_redis_role_is_master(&slave, err, sizeof err), 0);
    assert_string_equal(err, "not a master: ROLE says slave");
    assert_int_equal(tq_redis_role_is_master(&empty, err, sizeof err), 0);
    assert_string_equal(err, "ROLE: unexpected reply");
    redisReply e = str_reply(REDIS_REPLY_ERROR, "NOAUTH Authentication required.");
    assert_int_equal(tq_redis_role_is_master(&e, err, sizeof err), 0);
    assert_string_equal(err, "ROLE: NOAUTH Authentication required.");
    assert_int_equal(tq_redis_role_is_master(NULL, err, sizeof err), 0);
}

/* A config without sentinels: the master never "moves", and a connect to a closed port fails
 * with the address in the message (no sentinel is asked). */
static void test_no_sentinels(void **state)
{
    char err[256];
    struct tq_redis_target cfg = {.url = "redis://127.0.0.1:1/0"};
    struct tq_redis_addr addr = {"127.0.0.1", 6379, 0};

    assert_int_equal(tq_redis_master_moved(&cfg, &addr, 100, err, sizeof err), 0);
    assert_null(tq_redis_connect(&cfg, 500, 500, NULL, err, sizeof err));
    assert_non_null(strstr(err, "connect 127.0.0.1:1: "));
    cfg.url = "ftp://x";
    assert_null(tq_redis_connect(&cfg, 500, 500, NULL, err, sizeof err));
    assert_string_equal(err, "bad Redis URL 'ftp://x'");
}

/* Sentinels that do not answer: every one is tried, the last reason is given, and a
 * "has the master moved?" check says it does not know (-1). */
static void test_sentinels_down(void **state)
{
    char err[256], host[64];
    int port = 0;
    struct tq_hostport sentinels[2] = {{(char *)(uintptr_t) "127.0.0.1", 1},
                                       {(char *)(uintptr_t) "127.0.0.1", 2}};
    struct tq_redis_target cfg = {.url = "redis://127.0.0.1:6379/0",
                                  .sentinels = sentinels,
                                  .nsentinels = 2,
                                  .sentinel_master = "tq"};
    struct tq_redis_addr addr = {"127.0.0.1", 6379, 0};
    assert_int_equal(
        tq_redis_sentinel_resolve(&cfg, 500, host, sizeof host, &port, err, sizeof err), -1);
    assert_non_null(strstr(err, "sentinels for master tq: connect 127.0.0.1:2: "));
    assert_int_equal(tq_redis_master_moved(&cfg, &addr, 500, err, sizeof err), -1);
    assert_null(tq_redis_connect(&cfg, 500, 500, NULL, err, sizeof err));
    assert_non_null(strstr(err, "sentinels for master tq: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconnect_errors), cmocka_unit_test(test_master_addr_reply),
        cmocka_unit_test(test_role_reply),       cmocka_unit_test(test_no_sentinels),
        cmocka_unit_test(test_sentinels_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

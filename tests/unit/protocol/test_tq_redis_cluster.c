/* Unit tests for tq_redis's Redis Cluster parts that need no server: the key slot (CRC16 and
 * hash tags), the CLUSTER SLOTS reader and the MOVED/ASK parser. Connecting to a real
 * cluster and following a moved slot is tests/integration/test_redis_cluster.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tq_queue.h"
#include "tq_redis.h"

static unsigned slot_of(const char *key)
{
    return tq_redis_key_slot(key, strlen(key));
}

static void test_key_slot(void **state)
{
    /* Values from Redis (CLUSTER KEYSLOT) and the cluster specification. */
    assert_int_equal(slot_of("somekey"), 11058);
    assert_int_equal(slot_of("hello"), 866);
    assert_int_equal(slot_of("foo{hello}"), 866);
    assert_int_equal(slot_of("123456789"), 0x31C3); /* the CRC16/XMODEM check value */
    assert_int_equal(slot_of("{tq}"), 10795);
    /* Every tileq key shares the slot of the tag "tq". */
    assert_int_equal(slot_of(TQ_QUEUE_PREFIX), slot_of("tq"));
    assert_int_equal(slot_of(TQ_QUEUE_RUNNING_KEY), slot_of("tq"));
    assert_int_equal(slot_of(TQ_QUEUE_JOB_KEY_PREFIX "demo/10/512/352"), slot_of("tq"));
    /* An empty tag "{}" does not count: the whole key is hashed. */
    assert_int_equal(slot_of("{}tq"), tq_redis_key_slot("{}tq", 4));
    assert_int_not_equal(slot_of("{}tq"), slot_of("tq"));
    /* Only the first '{' and the next '}' count. */
    assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
    /* No closing brace: the whole key. */
    assert_int_equal(slot_of("{tq"), tq_redis_key_slot("{tq", 3));
    /* Lengths count, not NUL bytes. */
    assert_int_equal(tq_redis_key_slot("{tq}:x", 4), slot_of("tq"));
    assert_true(slot_of("") < TQ_REDIS_CLUSTER_SLOTS);
}

static redisReply int_reply(long long v)
{
    redisReply r;
    memset(&r, 0, sizeof r);
    r.type = REDIS_REPLY_INTEGER;
    r.integer = v;
    return r;
}

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

/* A CLUSTER SLOTS reply as Redis 7 sends it for 2 masters, the second one with an empty
 * address, and a replica on the first range. */
struct slots_fixture {
    redisReply s0, e0, h0, p0, id0, m0, rh, rp, rid, r0, range0;
    redisReply s1, e1, h1, p1, id1, m1, range1, top;
    redisReply *m0v[3], *r0v[3], *range0v[4], *m1v[3], *range1v[3], *topv[2];
};

static void slots_build(struct slots_fixture *f, const char *host1)
{
    f->s0 = int_reply(0);
    f->e0 = int_reply(8191);
    f->h0 = str_reply(REDIS_REPLY_STRING, "10.0.0.1");
    f->p0 = int_reply(7000);
    f->id0 = str_reply(REDIS_REPLY_STRING, "aaaa");
    f->m0v[0] = &f->h0, f->m0v[1] = &f->p0, f->m0v[2] = &f->id0;
    f->m0 = array_reply(f->m0v, 3);
    f->rh = str_reply(REDIS_REPLY_STRING, "10.0.0.9");
    f->rp = int_reply(7009);
    f->rid = str_reply(REDIS_REPLY_STRING, "rrrr");
    f->r0v[0] = &f->rh, f->r0v[1] = &f->rp, f->r0v[2] = &f->rid;
    f->r0 = array_reply(f->r0v, 3);
    f->range0v[0] = &f->s0, f->range0v[1] = &f->e0, f->range0v[2] = &f->m0;
    f->range0v[3] = &f->r0;
    f->range0 = array_reply(f->range0v, 4);
    f->s1 = int_reply(8192);
    f->e1 = int_reply(16383);
    f->h1 = str_reply(REDIS_REPLY_STRING, host1);
    f->p1 = int_reply(7001);
    f->id1 = str_reply(REDIS_REPLY_STRING, "bbbb");
    f->m1v[0] = &f->h1, f->m1v[1] = &f->p1, f->m1v[2] = &f->id1;
    f->m1 = array_reply(f->m1v, 3);
    f->range1v[0] = &f->s1, f->range1v[1] = &f->e1, f->range1v[2] = &f->m1;
    f->range1 = array_reply(f->range1v, 3);
    f->topv[0] = &f->range0, f->topv[1] = &f->range1;
    f->top = array_reply(f->topv, 2);
}

static void test_cluster_slots_reply(void **state)
{
    struct slots_fixture f;
    char host[64], err[200];
    int port = 0;

    slots_build(&f, "10.0.0.2");
    assert_int_equal(tq_redis_cluster_slot_owner(&f.top, 10795, "seed", host, sizeof host, &port,
                                                 err, sizeof err),
                     0);
    assert_string_equal(host, "10.0.0.2");
    assert_int_equal(port, 7001);
    assert_int_equal(
        tq_redis_cluster_slot_owner(&f.top, 0, "seed", host, sizeof host, &port, err, sizeof err),
        0);
    assert_string_equal(host, "10.0.0.1"); /* the master, not the replica */
    assert_int_equal(port, 7000);
    assert_int_equal(tq_redis_cluster_slot_owner(&f.top, 8191, "seed", host, sizeof host, &port,
                                                 err, sizeof err),
                     0);
    assert_int_equal(port, 7000);

    /* "": the node that was asked. */
    slots_build(&f, "");
    assert_int_equal(tq_redis_cluster_slot_owner(&f.top, 10795, "127.0.0.1", host, sizeof host,
                                                 &port, err, sizeof err),
                     0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7001);
    /* "?": unknown address. */
    slots_build(&f, "?");
    assert_int_equal(tq_redis_cluster_slot_owner(&f.top, 10795, "127.0.0.1", host, sizeof host,
                                                 &port, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "no usable address"));
    /* A host too long for the buffer. */
    slots_build(&f, "10.0.0.2");
    assert_int_equal(
        tq_redis_cluster_slot_owner(&f.top, 10795, "seed", host, 5, &port, err, sizeof err), -1);

    /* A slot no range holds (a cluster being set up). */
    f.top.elements = 1;
    assert_int_equal(tq_redis_cluster_slot_owner(&f.top, 10795, "seed", host, sizeof host, &port,
                                                 err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "not served"));
    /* Empty reply, error replies, no reply, wrong types. */
    f.top.elements = 0;
    assert_int_equal(
        tq_redis_cluster_slot_owner(&f.top, 1, "seed", host, sizeof host, &port, err, sizeof err),
        -1);
    redisReply e = str_reply(REDIS_REPLY_ERROR, "ERR This instance has cluster support disabled");
    assert_int_equal(
        tq_redis_cluster_slot_owner(&e, 1, "seed", host, sizeof host, &port, err, sizeof err), -1);
    assert_non_null(strstr(err, "cluster support disabled"));
    assert_int_equal(
        tq_redis_cluster_slot_owner(NULL, 1, "seed", host, sizeof host, &port, err, sizeof err),
        -1);
    redisReply st = str_reply(REDIS_REPLY_STATUS, "OK");
    assert_int_equal(
        tq_redis_cluster_slot_owner(&st, 1, "seed", host, sizeof host, &port, err, sizeof err), -1);
    slots_build(&f, "10.0.0.2");
    f.p1 = int_reply(0);
    assert_int_equal(tq_redis_cluster_slot_owner(&f.top, 10795, "seed", host, sizeof host, &port,
                                                 err, sizeof err),
                     -1);
    slots_build(&f, "10.0.0.2");
    f.range1.elements = 2; /* no master entry: skipped, so the slot is not served */
    assert_int_equal(tq_redis_cluster_slot_owner(&f.top, 10795, "seed", host, sizeof host, &port,
                                                 err, sizeof err),
                     -1);
}

static void test_redirect_parse(void **state)
{
    char host[64];
    unsigned slot = 0;
    int port = 0;

    assert_int_equal(
        tq_redis_redirect_parse("MOVED 10795 127.0.0.1:7001", &slot, host, sizeof host, &port),
        TQ_REDIS_MOVED);
    assert_int_equal(slot, 10795);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7001);
    assert_int_equal(
        tq_redis_redirect_parse("ASK 0 redis-2.example:6380", &slot, host, sizeof host, &port),
        TQ_REDIS_ASK);
    assert_int_equal(slot, 0);
    assert_string_equal(host, "redis-2.example");
    assert_int_equal(port, 6380);
    /* IPv6, bare (the port after the last ':') or bracketed. */
    assert_int_equal(
        tq_redis_redirect_parse("MOVED 16383 ::1:7002", &slot, host, sizeof host, &port),
        TQ_REDIS_MOVED);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7002);
    assert_int_equal(
        tq_redis_redirect_parse("MOVED 1 [fe80::1]:7003", &slot, host, sizeof host, &port),
        TQ_REDIS_MOVED);
    assert_string_equal(host, "fe80::1");
    assert_int_equal(port, 7003);

    static const char *const bad[] = {
        "MOVED",
        "MOVED ",
        "MOVED 16384 127.0.0.1:7000",
        "MOVED -1 127.0.0.1:7000",
        "MOVED x 127.0.0.1:7000",
        "MOVED 12 127.0.0.1",
        "MOVED 12 127.0.0.1:",
        "MOVED 12 127.0.0.1:0",
        "MOVED 12 127.0.0.1:65536",
        "MOVED 12 127.0.0.1:70x",
        "MOVED 12 :7000",
        "MOVED 12  127.0.0.1:7000",
        "MOVED  12 127.0.0.1:7000",
        "ASKING",
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "CLUSTERDOWN The cluster is down",
        "ERR unknown command",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (tq_redis_redirect_parse(bad[i], &slot, host, sizeof host, &port) !=
            TQ_REDIS_NOT_REDIRECT)
            fail_msg("\"%s\" parsed as a redirect", bad[i]);
    }
    assert_int_equal(tq_redis_redirect_parse(NULL, &slot, host, sizeof host, &port),
                     TQ_REDIS_NOT_REDIRECT);
    /* A host too long for the buffer is no redirect to follow. */
    assert_int_equal(tq_redis_redirect_parse("MOVED 1 127.0.0.1:7000", &slot, host, 9, &port),
                     TQ_REDIS_NOT_REDIRECT);
}

static void test_redirects_reconnect(void **state)
{
    /* MOVED and ASK make a connection go back to asking where the slot is. */
    assert_true(tq_redis_error_is_reconnect("MOVED 10795 127.0.0.1:7001"));
    assert_true(tq_redis_error_is_reconnect("ASK 10795 127.0.0.1:7001"));
    assert_true(tq_redis_error_is_reconnect("TRYAGAIN Multiple keys request during rehashing"));
    assert_true(tq_redis_error_is_reconnect("CLUSTERDOWN The cluster is down"));
    assert_false(tq_redis_error_is_reconnect("ASKING"));
    assert_false(tq_redis_error_is_reconnect("MOVEDX 1 h:1"));
    assert_false(
        tq_redis_error_is_reconnect("CROSSSLOT Keys in request don't hash to the same slot"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_slot),
        cmocka_unit_test(test_cluster_slots_reply),
        cmocka_unit_test(test_redirect_parse),
        cmocka_unit_test(test_redirects_reconnect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

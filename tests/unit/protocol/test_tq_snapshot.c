/* Unit tests for tq_snapshot_parse: the snapshot script's reply into struct tq_snapshot, and
 * odd replies refused (the script itself runs against Redis in queue_semantics). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reply_fake.h"
#include "tq_snapshot.h"

static redisReply *cls(long long len, long long run, redisReply *enq)
{
    return fake_arr(3, fake_int(len), fake_int(run), enq);
}

static void test_parse(void **state)
{
    (void)state;
    struct tq_snapshot s;
    char err[256];
    redisReply *r = fake_arr(
        6,
        fake_arr(3, cls(2, 1, fake_str("1700000000000")), cls(0, 0, fake_nil()),
                 cls(5, 0, fake_str("1700000000500"))),
        fake_arr(3, fake_int(4), fake_int(1), fake_int(0)),
        fake_arr(4, fake_str("w1"), fake_str("host 12 1700000000999"), fake_str("w2"),
                 fake_str("garbage")),
        fake_arr(2,
                 fake_arr(6, fake_str("demo/3/0/0"), fake_str("1700000009000"), fake_str("0"),
                          fake_str("w1"), fake_str("1700000001000"), fake_str("2")),
                 /* a lease whose job hash is gone: class unknown */
                 fake_arr(6, fake_str("demo/3/8/0"), fake_str("1700000009001"), fake_nil(),
                          fake_nil(), fake_nil(), fake_nil())),
        fake_arr(1, fake_arr(2, fake_str("w1"), fake_arr(2, fake_str("renders"), fake_str("3")))),
        fake_arr(1, fake_str("demo/3/0/8")));

    assert_int_equal(tq_snapshot_parse(r, &s, err, sizeof err), 0);
    assert_int_equal(s.cls[0].queued, 2);
    assert_int_equal(s.cls[0].running, 1);
    assert_int_equal(s.cls[0].oldest_enq_ms, 1700000000000);
    assert_int_equal(s.cls[1].oldest_enq_ms, 0);
    assert_int_equal(s.cls[2].queued, 5);
    assert_int_equal(s.dead, 4);
    assert_int_equal(s.running_leases, 1);
    assert_int_equal(s.renderlog_rejected, 0);
    assert_int_equal(s.nworkers, 2);
    assert_string_equal(s.workers[0].hb.host, "host");
    assert_int_equal(s.workers[0].hb.pid, 12);
    assert_string_equal(s.workers[1].hb.host, "?");
    assert_int_equal(s.nleases, 2);
    assert_int_equal(s.leases[0].cls, 0);
    assert_int_equal(s.leases[0].attempts, 2);
    assert_int_equal(s.leases[0].lease_until_ms, 1700000009000);
    assert_int_equal(s.leases[1].cls, -1);
    assert_string_equal(s.leases[1].worker, "");
    assert_int_equal(s.nfigures, 1);
    assert_string_equal(s.figures[0].worker, "w1");
    assert_int_equal(s.ncompleted, 1);
    assert_string_equal(s.completed[0], "demo/3/0/8");
    tq_snapshot_clear(&s);
    freeReplyObject(r);
}

static void test_odd_replies(void **state)
{
    (void)state;
    struct tq_snapshot s;
    char err[256];
    redisReply *odd[] = {
        fake_int(1), fake_arr(0),
        fake_arr(6, fake_arr(0), fake_arr(0), fake_arr(0), fake_arr(0), fake_arr(0), fake_arr(0))};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        assert_int_equal(tq_snapshot_parse(odd[i], &s, err, sizeof err), -1);
        assert_non_null(strstr(err, "unexpected reply"));
        tq_snapshot_clear(&s);
        freeReplyObject(odd[i]);
    }
    assert_int_equal(tq_snapshot_parse(NULL, &s, err, sizeof err), -1);
    tq_snapshot_clear(&s);
    redisReply *e = fake_str("x");
    e->type = REDIS_REPLY_ERROR;
    assert_int_equal(tq_snapshot_parse(e, &s, err, sizeof err), -1);
    assert_string_equal(err, "redis: x");
    tq_snapshot_clear(&s);
    freeReplyObject(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_odd_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

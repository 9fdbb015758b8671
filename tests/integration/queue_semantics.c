/* Queue semantics against a real Redis (the fixture's, database 15 so the fixture's workers
 * never see these jobs): enqueue answers, promotion, claim order and fairness, heartbeats,
 * retries, dead-lettering and lease reaping — the Lua scripts in common/tq_queue.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "tq_job.h"
#include "tq_queue.h"
#include "tq_redis.h"

static const long no_caps[TQ_CLASS_COUNT] = {0, 0, 0};
static char err[512];

static redisContext *connect_test_db(void)
{
    const char *port = getenv("TQ_TEST_REDIS_PORT");
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/15", port ? atoi(port) : 6379);
    struct tq_config cfg = {.redis_url = url};
    redisContext *c = tq_redis_connect(&cfg, 5000, 0, NULL, err, sizeof err);
    if (c == NULL)
        fail_msg("%s", err);
    redisReply *r = redisCommand(c, "FLUSHDB");
    freeReplyObject(r);
    return c;
}

static struct tq_job make_job(uint32_t x, uint32_t y, enum tq_job_class cls)
{
    struct tq_job job;
    struct tq_tile t = {10, x, y};
    assert_int_equal(tq_job_init(&job, "demo", t, 8, cls, TQ_REASON_REQUEST, tq_now_ms()), 0);
    return job;
}

static long long integer_of(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, cmd);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static void test_enqueue_dedups_and_promotes(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job bulk = make_job(3, 5, TQ_CLASS_BULK);
    struct tq_job inter = make_job(4, 6, TQ_CLASS_INTERACTIVE); /* same metatile 0/0 */

    assert_int_equal(tq_queue_enqueue(c, &bulk, 0, TQ_ENQ_MODE_WARM, err, sizeof err), TQ_ENQ_NEW);
    assert_int_equal(tq_queue_enqueue(c, &bulk, 0, TQ_ENQ_MODE_WARM, err, sizeof err),
                     TQ_ENQ_COALESCED);
    assert_int_equal(tq_queue_enqueue(c, &inter, 0, TQ_ENQ_MODE_REQUEST, err, sizeof err),
                     TQ_ENQ_PROMOTED);
    assert_int_equal(integer_of(c, "LLEN {tq}:q:bulk"), 0);
    assert_int_equal(integer_of(c, "LLEN {tq}:q:interactive"), 1);
    /* a lower class never demotes */
    assert_int_equal(tq_queue_enqueue(c, &bulk, 0, TQ_ENQ_MODE_WARM, err, sizeof err),
                     TQ_ENQ_COALESCED);

    struct tq_claimed cl;
    assert_int_equal(tq_queue_claim(c, "w1", 10000, no_caps, 0, &cl, err, sizeof err), 1);
    assert_string_equal(cl.id, "demo/10/0/0");
    assert_int_equal(cl.cls, TQ_CLASS_INTERACTIVE);
    assert_int_equal(cl.attempt, 1);
    struct tq_job decoded;
    assert_int_equal(tq_job_decode(cl.payload, cl.payload_len, &decoded, err, sizeof err), 0);
    assert_int_equal(decoded.meta.mx, 0);

    assert_int_equal(tq_queue_enqueue(c, &inter, 0, TQ_ENQ_MODE_REQUEST, err, sizeof err),
                     TQ_ENQ_RUNNING);
    assert_int_equal(tq_queue_enqueue(c, &inter, 0, TQ_ENQ_MODE_EXPIRE, err, sizeof err),
                     TQ_ENQ_RERUN);

    char res[32];
    /* an expire landed mid-render: the ack re-queues the job instead of finishing it */
    assert_int_equal(
        tq_queue_ack(c, cl.id, "w1", TQ_ACK_OK, NULL, 3, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "requeued");
    tq_claimed_clear(&cl);
    assert_int_equal(tq_queue_claim(c, "w1", 10000, no_caps, 0, &cl, err, sizeof err), 1);
    assert_int_equal(
        tq_queue_ack(c, cl.id, "w1", TQ_ACK_OK, NULL, 3, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "ok");
    tq_claimed_clear(&cl);
    /* finished a moment ago: read the cache, don't render again */
    assert_int_equal(tq_queue_enqueue(c, &inter, 0, TQ_ENQ_MODE_REQUEST, err, sizeof err),
                     TQ_ENQ_DONE);
    /* ...unless the tile is gone again (expired since): a refresh renders it */
    assert_int_equal(tq_queue_enqueue(c, &inter, 0, TQ_ENQ_MODE_REFRESH, err, sizeof err),
                     TQ_ENQ_NEW);
    assert_int_equal(integer_of(c, "XLEN {tq}:events"), 2);
    redisFree(c);
}

static void test_cap_answers_full(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job a = make_job(0, 0, TQ_CLASS_INTERACTIVE);
    struct tq_job b = make_job(8, 0, TQ_CLASS_INTERACTIVE);
    assert_int_equal(tq_queue_enqueue(c, &a, 1, TQ_ENQ_MODE_REQUEST, err, sizeof err), TQ_ENQ_NEW);
    assert_int_equal(tq_queue_enqueue(c, &b, 1, TQ_ENQ_MODE_REQUEST, err, sizeof err), TQ_ENQ_FULL);
    redisFree(c);
}

static void test_claim_priority_and_fairness(void **state)
{
    redisContext *c = connect_test_db();
    for (uint32_t i = 0; i < 4; i++) {
        struct tq_job bulk = make_job(i * 8, 64, TQ_CLASS_BULK);
        struct tq_job inter = make_job(i * 8, 0, TQ_CLASS_INTERACTIVE);
        assert_int_equal(tq_queue_enqueue(c, &bulk, 0, TQ_ENQ_MODE_WARM, err, sizeof err),
                         TQ_ENQ_NEW);
        assert_int_equal(tq_queue_enqueue(c, &inter, 0, TQ_ENQ_MODE_REQUEST, err, sizeof err),
                         TQ_ENQ_NEW);
    }
    /* fair_every 4: claims 1-3 take interactive, claim 4 takes bulk */
    int classes[8];
    for (int i = 0; i < 8; i++) {
        struct tq_claimed cl;
        assert_int_equal(tq_queue_claim(c, "w", 10000, no_caps, 4, &cl, err, sizeof err), 1);
        classes[i] = cl.cls;
        tq_claimed_clear(&cl);
    }
    assert_int_equal(classes[0], TQ_CLASS_INTERACTIVE);
    assert_int_equal(classes[2], TQ_CLASS_INTERACTIVE);
    assert_int_equal(classes[3], TQ_CLASS_BULK);
    assert_int_equal(classes[4], TQ_CLASS_INTERACTIVE);
    struct tq_claimed cl;
    assert_int_equal(tq_queue_claim(c, "w", 10000, no_caps, 4, &cl, err, sizeof err), 0);

    /* with a running cap of 1 on bulk and one bulk job running, the next is not claimed */
    redisFree(c);
    c = connect_test_db();
    for (uint32_t i = 0; i < 2; i++) {
        struct tq_job bulk = make_job(i * 8, 64, TQ_CLASS_BULK);
        tq_queue_enqueue(c, &bulk, 0, TQ_ENQ_MODE_WARM, err, sizeof err);
    }
    const long caps[TQ_CLASS_COUNT] = {0, 0, 1};
    assert_int_equal(tq_queue_claim(c, "w", 10000, caps, 0, &cl, err, sizeof err), 1);
    tq_claimed_clear(&cl);
    assert_int_equal(tq_queue_claim(c, "w", 10000, caps, 0, &cl, err, sizeof err), 0);
    redisFree(c);
}

static void test_retry_then_dead_letter(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job job = make_job(0, 0, TQ_CLASS_INTERACTIVE);
    char res[32];
    assert_int_equal(tq_queue_enqueue(c, &job, 0, TQ_ENQ_MODE_REQUEST, err, sizeof err),
                     TQ_ENQ_NEW);
    for (int attempt = 1; attempt <= 2; attempt++) {
        struct tq_claimed cl;
        assert_int_equal(tq_queue_claim(c, "w", 10000, no_caps, 0, &cl, err, sizeof err), 1);
        assert_int_equal(cl.attempt, attempt);
        assert_int_equal(
            tq_queue_ack(c, cl.id, "w", TQ_ACK_FAIL, "boom", 2, res, sizeof res, err, sizeof err),
            0);
        assert_string_equal(res, attempt < 2 ? "retry" : "dead");
        tq_claimed_clear(&cl);
    }
    assert_int_equal(integer_of(c, "ZCARD {tq}:dead"), 1);
    redisReply *r = redisCommand(c, "XRANGE {tq}:events - +");
    assert_int_equal(r->elements, 1);
    redisReply *fields = r->element[0]->element[1];
    assert_string_equal(fields->element[3]->str, "dead");
    assert_string_equal(fields->element[5]->str, "boom");
    freeReplyObject(r);
    /* a stale ack from a worker that lost its lease changes nothing */
    assert_int_equal(
        tq_queue_ack(c, "demo/10/0/0", "w", TQ_ACK_OK, NULL, 2, res, sizeof res, err, sizeof err),
        0);
    assert_string_equal(res, "stale");
    redisFree(c);
}

static void test_lease_expiry_is_reaped(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job job = make_job(0, 0, TQ_CLASS_BULK);
    struct tq_claimed cl;
    char res[32];
    tq_queue_enqueue(c, &job, 0, TQ_ENQ_MODE_WARM, err, sizeof err);
    assert_int_equal(tq_queue_claim(c, "dead-worker", 1, no_caps, 0, &cl, err, sizeof err), 1);
    tq_claimed_clear(&cl);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL); /* let the 1 ms lease pass */
    assert_int_equal(tq_queue_heartbeat(c, "demo/10/0/0", "other", 1000, err, sizeof err), 0);
    assert_int_equal(tq_queue_reap(c, 3, 100, err, sizeof err), 1);
    assert_int_equal(tq_queue_claim(c, "w2", 10000, no_caps, 0, &cl, err, sizeof err), 1);
    assert_int_equal(cl.attempt, 2);
    assert_int_equal(tq_queue_heartbeat(c, cl.id, "w2", 10000, err, sizeof err), 1);
    /* the crashed worker's late ack is ignored */
    assert_int_equal(
        tq_queue_ack(c, cl.id, "dead-worker", TQ_ACK_OK, NULL, 3, res, sizeof res, err, sizeof err),
        0);
    assert_string_equal(res, "stale");
    assert_int_equal(
        tq_queue_ack(c, cl.id, "w2", TQ_ACK_OK, NULL, 3, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "ok");
    tq_claimed_clear(&cl);
    redisReply *r = redisCommand(c, "HGET {tq}:runcount 2");
    assert_string_equal(r->str, "0");
    freeReplyObject(r);
    redisFree(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enqueue_dedups_and_promotes),
        cmocka_unit_test(test_cap_answers_full),
        cmocka_unit_test(test_claim_priority_and_fairness),
        cmocka_unit_test(test_retry_then_dead_letter),
        cmocka_unit_test(test_lease_expiry_is_reaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

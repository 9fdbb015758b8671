/* Queue semantics against a real Redis (the fixture's, database 15 so the fixture's workers
 * never see these jobs): enqueue answers, promotion, claim order and fairness, heartbeats,
 * retries, dead-lettering and lease reaping — the Lua scripts in lib/protocol/tq_queue.c — and
 * issue 10's: fencing tokens, leases on Redis's clock and their cap, the dead-letter
 * cool-down (retry, expire), releasing abandoned interactive jobs, and every script working
 * on the keys it is given (KEYS) alone; the snapshot of tileq status and /metrics. Waits poll Redis
 * (bounded), never sleep blindly. */
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
#include "tq_queue_check.h"
#include "tq_redis.h"
#include "tq_snapshot.h"
#include "tq_wfigures.h"
#include "tq_time.h"

static const long no_caps[TQ_CLASS_COUNT] = {0, 0, 0};
static char err[512];

#define COOL_MS 300000 /* the default queue.dead_cooldown_seconds */
/* Enqueue without holding (CLI-like), and as a coordinator does (hold). */
#define ENQ(c, job, cap, mode) tq_queue_enqueue(c, &(job), cap, mode, COOL_MS, 0, err, sizeof err)
#define ENQ_HOLD(c, job)                                                                           \
    tq_queue_enqueue(c, &(job), 0, TQ_ENQ_MODE_REQUEST, COOL_MS, 1, err, sizeof err)

static redisContext *connect_test_db(void)
{
    const char *port = getenv("TQ_TEST_REDIS_PORT");
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/15", port ? atoi(port) : 6379);
    struct tq_redis_target target = {.url = url};
    redisContext *c = tq_redis_connect(&target, 5000, 0, NULL, err, sizeof err);
    if (c == NULL)
        fail_msg("%s", err);
    redisReply *r = redisCommand(c, "FLUSHDB");
    freeReplyObject(r);
    return c;
}

/* Every invariant of tq_wire.h holds on c (tq_queue_check); prints the violations if not. */
static void assert_invariants_hold(redisContext *c)
{
    struct tq_check_result res;
    long n = tq_queue_check(c, 0, &res, err, sizeof err);
    if (n < 0)
        fail_msg("tq_queue_check: %s", err);
    for (size_t i = 0; i < res.nissues; i++)
        if (!res.issues[i].warning)
            print_message("violated (%s): %s: %s\n", tq_invariant_name(res.issues[i].inv),
                          res.issues[i].id, res.issues[i].what);
    assert_int_equal(res.truncated, 0);
    tq_check_result_clear(&res);
    assert_int_equal(n, 0);
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

static void hget_str(redisContext *c, const char *key, const char *field, char *out, size_t size);

static void test_enqueue_dedups_and_promotes(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job bulk = make_job(3, 5, TQ_CLASS_BULK);
    struct tq_job inter = make_job(4, 6, TQ_CLASS_INTERACTIVE); /* same metatile 0/0 */

    assert_int_equal(ENQ(c, bulk, 0, TQ_ENQ_MODE_WARM), TQ_ENQ_NEW);
    assert_int_equal(ENQ(c, bulk, 0, TQ_ENQ_MODE_WARM), TQ_ENQ_COALESCED);
    assert_int_equal(ENQ(c, inter, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_PROMOTED);
    assert_int_equal(integer_of(c, "LLEN {tq}:q:bulk"), 0);
    assert_int_equal(integer_of(c, "LLEN {tq}:q:interactive"), 1);
    /* a lower class never demotes */
    assert_int_equal(ENQ(c, bulk, 0, TQ_ENQ_MODE_WARM), TQ_ENQ_COALESCED);

    struct tq_claimed cl;
    assert_int_equal(tq_queue_claim(c, "w1", 10000, no_caps, 0, &cl, err, sizeof err), 1);
    assert_string_equal(cl.id, "demo/10/0/0");
    assert_int_equal(cl.cls, TQ_CLASS_INTERACTIVE);
    assert_int_equal(cl.attempt, 1);
    struct tq_job decoded;
    assert_int_equal(tq_job_decode(cl.payload, cl.payload_len, &decoded, err, sizeof err), 0);
    assert_int_equal(decoded.meta.mx, 0);
    assert_string_equal(cl.rerun_why, ""); /* a first render: the payload's reason */

    assert_int_equal(ENQ(c, inter, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_RUNNING);
    /* the ask that marks it carries reason change (the watcher's): the render again has it */
    struct tq_job change = inter;
    change.reason = TQ_REASON_CHANGE;
    assert_int_equal(ENQ(c, change, 0, TQ_ENQ_MODE_EXPIRE), TQ_ENQ_RERUN);
    char why[32];
    hget_str(c, "{tq}:job:demo/10/0/0", TQ_JOB_F_RERUN_WHY, why, sizeof why);
    assert_string_equal(why, "change");

    char res[32];
    /* an expire landed mid-render: the ack re-queues the job instead of finishing it */
    assert_int_equal(
        tq_queue_ack(c, cl.id, cl.token, TQ_ACK_OK, NULL, 3, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "requeued");
    tq_claimed_clear(&cl);
    assert_int_equal(tq_queue_claim(c, "w1", 10000, no_caps, 0, &cl, err, sizeof err), 1);
    assert_int_equal(cl.attempt, 1);
    assert_string_equal(cl.rerun_why, "change");
    hget_str(c, "{tq}:job:demo/10/0/0", TQ_JOB_F_RERUN_WHY, why, sizeof why);
    assert_string_equal(why, "(nil)"); /* handed out once */
    /* tileq expire marks it again mid-render: this time the reason is expire */
    char before[32];
    assert_int_equal(tq_queue_expire_mark(c, "demo/10/0/0", TQ_REASON_EXPIRE, before, sizeof before,
                                          err, sizeof err),
                     1);
    assert_string_equal(before, "running");
    assert_int_equal(
        tq_queue_ack(c, cl.id, cl.token, TQ_ACK_OK, NULL, 3, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "requeued");
    tq_claimed_clear(&cl);
    assert_int_equal(tq_queue_claim(c, "w1", 10000, no_caps, 0, &cl, err, sizeof err), 1);
    assert_string_equal(cl.rerun_why, "expire");
    assert_int_equal(
        tq_queue_ack(c, cl.id, cl.token, TQ_ACK_OK, NULL, 3, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "ok");
    tq_claimed_clear(&cl);
    /* finished a moment ago: read the cache, don't render again */
    assert_int_equal(ENQ(c, inter, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_DONE);
    /* ...unless the tile is gone again (expired since): a refresh renders it */
    assert_int_equal(ENQ(c, inter, 0, TQ_ENQ_MODE_REFRESH), TQ_ENQ_NEW);
    assert_int_equal(integer_of(c, "XLEN {tq}:events"), 3);
    assert_invariants_hold(c);
    redisFree(c);
}

static void test_cap_answers_full(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job a = make_job(0, 0, TQ_CLASS_INTERACTIVE);
    struct tq_job b = make_job(8, 0, TQ_CLASS_INTERACTIVE);
    assert_int_equal(ENQ(c, a, 1, TQ_ENQ_MODE_REQUEST), TQ_ENQ_NEW);
    assert_int_equal(ENQ(c, b, 1, TQ_ENQ_MODE_REQUEST), TQ_ENQ_FULL);
    assert_invariants_hold(c);
    redisFree(c);
}

static void test_claim_priority_and_fairness(void **state)
{
    redisContext *c = connect_test_db();
    for (uint32_t i = 0; i < 4; i++) {
        struct tq_job bulk = make_job(i * 8, 64, TQ_CLASS_BULK);
        struct tq_job inter = make_job(i * 8, 0, TQ_CLASS_INTERACTIVE);
        assert_int_equal(ENQ(c, bulk, 0, TQ_ENQ_MODE_WARM), TQ_ENQ_NEW);
        assert_int_equal(ENQ(c, inter, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_NEW);
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
        ENQ(c, bulk, 0, TQ_ENQ_MODE_WARM);
    }
    const long caps[TQ_CLASS_COUNT] = {0, 0, 1};
    assert_int_equal(tq_queue_claim(c, "w", 10000, caps, 0, &cl, err, sizeof err), 1);
    tq_claimed_clear(&cl);
    assert_int_equal(tq_queue_claim(c, "w", 10000, caps, 0, &cl, err, sizeof err), 0);
    assert_invariants_hold(c);
    redisFree(c);
}

static void test_retry_then_dead_letter(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job job = make_job(0, 0, TQ_CLASS_INTERACTIVE);
    char res[32];
    assert_int_equal(ENQ(c, job, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_NEW);
    for (int attempt = 1; attempt <= 2; attempt++) {
        struct tq_claimed cl;
        assert_int_equal(tq_queue_claim(c, "w", 10000, no_caps, 0, &cl, err, sizeof err), 1);
        assert_int_equal(cl.attempt, attempt);
        assert_int_equal(tq_queue_ack(c, cl.id, cl.token, TQ_ACK_FAIL, "boom", 2, res, sizeof res,
                                      err, sizeof err),
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
        tq_queue_ack(c, "demo/10/0/0", 1, TQ_ACK_OK, NULL, 2, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "stale");
    assert_invariants_hold(c);
    redisFree(c);
}

/* Polls fn(c) until it returns non-zero, at most ~5 s. Returns the last value. */
static long long poll_until(redisContext *c, long long (*fn)(redisContext *))
{
    long long v = 0;
    for (int i = 0; i < 500 && (v = fn(c)) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return v;
}

static long long reap_once(redisContext *c)
{
    return tq_queue_reap(c, 3, 100, err, sizeof err);
}

static long long redis_time_ms(redisContext *c)
{
    redisReply *r = redisCommand(c, "TIME");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long long ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
    freeReplyObject(r);
    return ms;
}

static long long hget_ll(redisContext *c, const char *key, const char *field)
{
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
    freeReplyObject(r);
    return v;
}

static void hget_str(redisContext *c, const char *key, const char *field, char *out, size_t size)
{
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    assert_non_null(r);
    snprintf(out, size, "%s", r->type == REDIS_REPLY_STRING ? r->str : "(nil)");
    freeReplyObject(r);
}

/* Fencing: A's lease runs out, the job is reaped and B claims it with a newer token; A's
 * heartbeat, partial event and ack are all refused, B's go through. */
static void test_fencing_refuses_the_old_holder(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job job = make_job(0, 0, TQ_CLASS_BULK);
    struct tq_claimed a, b;
    char res[32];
    int64_t left = 0;

    assert_int_equal(ENQ(c, job, 0, TQ_ENQ_MODE_WARM), TQ_ENQ_NEW);
    assert_int_equal(tq_queue_claim(c, "A", 1, no_caps, 0, &a, err, sizeof err), 1);
    assert_true(a.token > 0);
    assert_int_equal(poll_until(c, reap_once), 1); /* A's 1 ms lease ran out on Redis's clock */
    assert_int_equal(tq_queue_claim(c, "B", 10000, no_caps, 0, &b, err, sizeof err), 1);
    assert_int_equal(b.attempt, 2);
    assert_int_equal(b.token, a.token + 1);
    assert_int_equal(hget_ll(c, "{tq}:job:demo/10/0/0", "token"), b.token);

    long long events = integer_of(c, "XLEN {tq}:events");
    assert_int_equal(tq_queue_heartbeat(c, a.id, a.token, 10000, 0, &left, err, sizeof err), 0);
    assert_true(left <= 0);
    assert_int_equal(tq_queue_partial(c, a.id, a.token, err, sizeof err), 0);
    assert_int_equal(integer_of(c, "XLEN {tq}:events"), events);
    assert_int_equal(
        tq_queue_ack(c, a.id, a.token, TQ_ACK_OK, NULL, 3, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "stale");
    assert_int_equal(
        tq_queue_ack(c, a.id, a.token, TQ_ACK_FAIL, "x", 3, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "stale");
    assert_int_equal(hget_ll(c, "{tq}:job:demo/10/0/0", "token"), b.token); /* untouched */

    assert_int_equal(tq_queue_heartbeat(c, b.id, b.token, 10000, 0, &left, err, sizeof err), 1);
    assert_true(left > 9000 && left <= 10000);
    assert_int_equal(tq_queue_partial(c, b.id, b.token, err, sizeof err), 1);
    assert_int_equal(integer_of(c, "XLEN {tq}:events"), events + 1);
    assert_int_equal(
        tq_queue_ack(c, b.id, b.token, TQ_ACK_OK, NULL, 3, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "ok");
    assert_int_equal(hget_ll(c, "{tq}:runcount", "2"), 0);
    /* after the ack no token holds it */
    assert_int_equal(tq_queue_heartbeat(c, b.id, b.token, 10000, 0, NULL, err, sizeof err), 0);
    tq_claimed_clear(&a);
    tq_claimed_clear(&b);
    assert_invariants_hold(c);
    redisFree(c);
}

/* Leases on Redis's clock: started_ms and lease_until come from TIME, lease_until is
 * started + lease; the tokens only grow. */
static void test_leases_use_redis_time(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job j1 = make_job(0, 0, TQ_CLASS_DIRTY), j2 = make_job(8, 0, TQ_CLASS_DIRTY);
    struct tq_claimed a, b;

    assert_int_equal(ENQ(c, j1, 0, TQ_ENQ_MODE_EXPIRE), TQ_ENQ_NEW);
    assert_int_equal(ENQ(c, j2, 0, TQ_ENQ_MODE_EXPIRE), TQ_ENQ_NEW);
    long long t0 = redis_time_ms(c);
    assert_int_equal(tq_queue_claim(c, "w", 7000, no_caps, 0, &a, err, sizeof err), 1);
    long long t1 = redis_time_ms(c);
    long long started = hget_ll(c, "{tq}:job:demo/10/0/0", "started_ms");
    assert_true(started >= t0 && started <= t1);
    assert_int_equal(hget_ll(c, "{tq}:job:demo/10/0/0", "lease_until"), started + 7000);
    long long enq = hget_ll(c, "{tq}:job:demo/10/8/0", "enq_ms");
    assert_true(enq <= t0 && enq > t0 - 5000);
    redisReply *r = redisCommand(c, "ZSCORE {tq}:running demo/10/0/0");
    assert_int_equal(atoll(r->str), started + 7000);
    freeReplyObject(r);
    assert_int_equal(tq_queue_claim(c, "w", 7000, no_caps, 0, &b, err, sizeof err), 1);
    assert_true(b.token > a.token);
    redisReply *f = redisCommand(c, "GET {tq}:fence");
    assert_int_equal(atoll(f->str), b.token);
    freeReplyObject(f);
    tq_claimed_clear(&a);
    tq_claimed_clear(&b);
    assert_invariants_hold(c);
    redisFree(c);
}

/* The lease cap: heartbeats never move the lease past started + budget, so a worker that
 * goes on heartbeating a render that never ends loses its job. */
static void test_lease_cap(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job job = make_job(0, 0, TQ_CLASS_BULK);
    struct tq_claimed a;
    int64_t left = 0;

    assert_int_equal(ENQ(c, job, 0, TQ_ENQ_MODE_WARM), TQ_ENQ_NEW);
    assert_int_equal(tq_queue_claim(c, "w", 10000, no_caps, 0, &a, err, sizeof err), 1);
    long long started = hget_ll(c, "{tq}:job:demo/10/0/0", "started_ms");
    /* a budget beyond the lease: the full lease */
    assert_int_equal(tq_queue_heartbeat(c, a.id, a.token, 10000, 60000, &left, err, sizeof err), 1);
    assert_true(left > 9000 && left <= 10000);
    /* a budget of 300 ms: capped */
    assert_int_equal(tq_queue_heartbeat(c, a.id, a.token, 10000, 300, &left, err, sizeof err), 1);
    assert_true(left > 0 && left <= 300);
    assert_int_equal(hget_ll(c, "{tq}:job:demo/10/0/0", "lease_cap"), started + 300);
    assert_int_equal(hget_ll(c, "{tq}:job:demo/10/0/0", "lease_until"), started + 300);
    /* heartbeating on does not help: the job is reaped once the cap passed */
    assert_int_equal(poll_until(c, reap_once), 1);
    assert_int_equal(tq_queue_heartbeat(c, a.id, a.token, 10000, 300, &left, err, sizeof err), 0);
    char st[32];
    hget_str(c, "{tq}:job:demo/10/0/0", "state", st, sizeof st);
    assert_string_equal(st, "queued");
    tq_claimed_clear(&a);
    assert_invariants_hold(c);
    redisFree(c);
}

/* Kills job (max_attempts 1) with error why. */
static void kill_job(redisContext *c, const char *why)
{
    struct tq_claimed cl;
    char res[32];
    assert_int_equal(tq_queue_claim(c, "w", 10000, no_caps, 0, &cl, err, sizeof err), 1);
    assert_int_equal(
        tq_queue_ack(c, cl.id, cl.token, TQ_ACK_FAIL, why, 1, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "dead");
    tq_claimed_clear(&cl);
}

static long long queued_total(redisContext *c)
{
    return integer_of(c, "LLEN {tq}:q:interactive") + integer_of(c, "LLEN {tq}:q:dirty") +
           integer_of(c, "LLEN {tq}:q:bulk");
}

/* Dead letters stay dead for the cool-down; then, or after a retry or an expire, the next
 * enqueue queues them again with attempts 0. */
static void test_dead_cooldown(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job job = make_job(0, 0, TQ_CLASS_INTERACTIVE);
    const char *jk = "{tq}:job:demo/10/0/0";
    char st[64];

    assert_int_equal(ENQ(c, job, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_NEW);
    kill_job(c, "division by zero");
    long long dead_ms = hget_ll(c, jk, "dead_ms");
    long long events = integer_of(c, "XLEN {tq}:events");
    /* every mode but retry answers dead with the reason, and nothing changes */
    enum tq_enqueue_mode modes[] = {TQ_ENQ_MODE_REQUEST, TQ_ENQ_MODE_WARM, TQ_ENQ_MODE_REFRESH,
                                    TQ_ENQ_MODE_EXPIRE};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        err[0] = '\0';
        assert_int_equal(ENQ(c, job, 0, modes[i]), TQ_ENQ_DEAD);
        assert_string_equal(err, "division by zero");
    }
    assert_int_equal(tq_queue_enqueue(c, &job, 0, TQ_ENQ_MODE_REQUEST, COOL_MS, 1, err, sizeof err),
                     TQ_ENQ_DEAD);
    hget_str(c, jk, "state", st, sizeof st);
    assert_string_equal(st, "dead");
    assert_int_equal(hget_ll(c, jk, "attempts"), 1);
    assert_int_equal(hget_ll(c, jk, "dead_ms"), dead_ms);
    assert_int_equal(queued_total(c), 0);
    assert_int_equal(integer_of(c, "ZCARD {tq}:dead"), 1);
    assert_int_equal(integer_of(c, "XLEN {tq}:events"), events);
    struct tq_claimed cl;
    assert_int_equal(tq_queue_claim(c, "w", 10000, no_caps, 0, &cl, err, sizeof err), 0);
    /* the reply helper */
    redisReply *r = redisCommand(c,
                                 "EVAL %s 7 {tq}:job:demo/10/0/0 {tq}:done:demo/10/0/0 "
                                 "{tq}:q:interactive {tq}:q:dirty {tq}:q:bulk {tq}:dead "
                                 "{tq}:wake demo/10/0/0 0 p 0 request 300000 0",
                                 TQ_LUA_ENQUEUE);
    assert_int_equal(tq_enqueue_result_from_reply(r), TQ_ENQ_DEAD);
    assert_string_equal(tq_enqueue_reply_reason(r), "division by zero");
    freeReplyObject(r);
    assert_string_equal(tq_enqueue_result_name(TQ_ENQ_DEAD), "dead");

    /* the cool-down is over (dead 301 s ago): queued again, attempts from 0 */
    r = redisCommand(c, "HSET %s dead_ms %lld", jk, dead_ms - 301000);
    freeReplyObject(r);
    assert_int_equal(ENQ(c, job, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_NEW);
    assert_int_equal(hget_ll(c, jk, "attempts"), 0);
    assert_int_equal(integer_of(c, "ZCARD {tq}:dead"), 0);
    assert_int_equal(queued_total(c), 1);

    /* tileq deadletter retry: at once */
    kill_job(c, "boom");
    assert_int_equal(ENQ(c, job, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_DEAD);
    assert_int_equal(ENQ(c, job, 0, TQ_ENQ_MODE_RETRY), TQ_ENQ_NEW);
    assert_int_equal(hget_ll(c, jk, "attempts"), 0);

    /* an expire of its tiles ends the cool-down: the next request renders */
    kill_job(c, "boom");
    char before[32];
    assert_int_equal(tq_queue_expire_mark(c, "demo/10/0/0", TQ_REASON_EXPIRE, before, sizeof before,
                                          err, sizeof err),
                     0);
    assert_string_equal(before, "dead");
    assert_int_equal(integer_of(c, "ZCARD {tq}:dead"), 0);
    assert_int_equal(ENQ(c, job, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_NEW);

    /* a cool-down of 0 disables it */
    kill_job(c, "boom");
    assert_int_equal(tq_queue_enqueue(c, &job, 0, TQ_ENQ_MODE_WARM, 0, 0, err, sizeof err),
                     TQ_ENQ_NEW);
    assert_invariants_hold(c);
    redisFree(c);
}

/* Holders: two coordinators hold an interactive job; when both released it, it moves to
 * bulk (still rendered, no longer in the interactive class). */
static void test_release_demotes_abandoned_jobs(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job job = make_job(0, 0, TQ_CLASS_INTERACTIVE);
    const char *jk = "{tq}:job:demo/10/0/0";
    char res[32];

    assert_int_equal(tq_queue_release(c, "demo/10/0/0", res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "none");
    assert_int_equal(ENQ_HOLD(c, job), TQ_ENQ_NEW);
    assert_int_equal(ENQ_HOLD(c, job), TQ_ENQ_COALESCED);
    assert_int_equal(ENQ(c, job, 0, TQ_ENQ_MODE_REFRESH), TQ_ENQ_COALESCED); /* no hold */
    assert_int_equal(hget_ll(c, jk, "holders"), 2);
    assert_int_equal(tq_queue_release(c, "demo/10/0/0", res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "held");
    assert_int_equal(integer_of(c, "LLEN {tq}:q:interactive"), 1);
    long long wakes = integer_of(c, "LLEN {tq}:wake");
    assert_int_equal(tq_queue_release(c, "demo/10/0/0", res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "demoted");
    assert_int_equal(integer_of(c, "LLEN {tq}:q:interactive"), 0);
    assert_int_equal(integer_of(c, "LLEN {tq}:q:bulk"), 1);
    assert_int_equal(integer_of(c, "LLEN {tq}:wake"), wakes + 1);
    assert_int_equal(hget_ll(c, jk, "cls"), TQ_CLASS_BULK);
    /* a release too many never goes below 0 */
    assert_int_equal(tq_queue_release(c, "demo/10/0/0", res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "released");
    assert_int_equal(hget_ll(c, jk, "holders"), 0);
    /* a new request promotes it back and holds it */
    assert_int_equal(ENQ_HOLD(c, job), TQ_ENQ_PROMOTED);
    assert_int_equal(hget_ll(c, jk, "holders"), 1);
    assert_int_equal(integer_of(c, "LLEN {tq}:q:interactive"), 1);
    /* once running, releasing moves nothing */
    struct tq_claimed cl;
    assert_int_equal(tq_queue_claim(c, "w", 10000, no_caps, 0, &cl, err, sizeof err), 1);
    assert_int_equal(cl.cls, TQ_CLASS_INTERACTIVE);
    assert_int_equal(tq_queue_release(c, "demo/10/0/0", res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "released");
    char st[32];
    hget_str(c, jk, "state", st, sizeof st);
    assert_string_equal(st, "running");
    tq_claimed_clear(&cl);

    /* a demoted job is claimed as bulk (so the worker renders it as warming) */
    redisFree(c);
    c = connect_test_db();
    assert_int_equal(ENQ_HOLD(c, job), TQ_ENQ_NEW);
    assert_int_equal(tq_queue_release(c, "demo/10/0/0", res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "demoted");
    assert_int_equal(tq_queue_claim(c, "w", 10000, no_caps, 0, &cl, err, sizeof err), 1);
    assert_int_equal(cl.cls, TQ_CLASS_BULK);
    tq_claimed_clear(&cl);
    assert_invariants_hold(c);
    redisFree(c);
}

/* Runs script with the given KEYS and ARGV (NULL-terminated lists). The caller frees. */
static redisReply *eval(redisContext *c, const char *script, const char *const *keys,
                        const char *const *args)
{
    const char *argv[32];
    char nk[16];
    int argc = 0, n = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = script;
    while (keys[n])
        n++;
    snprintf(nk, sizeof nk, "%d", n);
    argv[argc++] = nk;
    for (int i = 0; keys[i]; i++)
        argv[argc++] = keys[i];
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("script error: %s", r->str);
    return r;
}

static long long alt_reap_list_has_x(redisContext *c)
{
    const char *k[] = {"{alt}:running", NULL}, *a[] = {"10", NULL};
    redisReply *r = eval(c, TQ_LUA_REAP_LIST, k, a);
    long long n = r->type == REDIS_REPLY_ARRAY ? (long long)r->elements : 0;
    freeReplyObject(r);
    return n;
}

/* Every script does its work on the keys it is given and on nothing else: run the whole
 * lifecycle with every key renamed under another hash tag, then no {tq}: key exists. */
static void test_scripts_use_declared_keys_only(void **state)
{
    redisContext *c = connect_test_db();
    char t1[24] = "", t2[24] = ""; /* the two claims' tokens, as the scripts get them */
    const char *job = "{alt}:job:x", *done = "{alt}:done:x", *qi = "{alt}:qi", *qd = "{alt}:qd",
               *qb = "{alt}:qb", *dead = "{alt}:dead", *wake = "{alt}:wake", *ev = "{alt}:ev",
               *run = "{alt}:running", *rc = "{alt}:runcount", *claims = "{alt}:claims",
               *fence = "{alt}:fence";
    const char *enq_k[] = {job, done, qi, qd, qb, dead, wake, NULL};
    const char *enq_a[] = {"x", "2", "payload", "0", "warm", "300000", "0", NULL};
    const char *pick_k[] = {qi, qd, qb, rc, claims, NULL}, *pick_a[] = {"0", "0", "0", "0", NULL};
    const char *claim_k[] = {job, qb, run, rc, fence, NULL};
    const char *claim_a[] = {"x", "2", "10000", "w", "0", NULL};
    const char *hb_k[] = {job, run, NULL}, *hb_a[] = {"x", t1, "10000", "0", NULL};
    const char *part_k[] = {job, ev, NULL}, *part_a[] = {"x", t1, NULL};
    const char *ack_k[] = {job, run, rc, dead, ev, wake, done, qi, qd, qb, NULL};
    const char *ack_a[] = {"x", t1, "fail", "boom", "1", "10000", NULL};
    const char *exp_k[] = {job, done, dead, NULL}, *x_a[] = {"x", NULL};
    const char *rel_k[] = {job, qi, qb, wake, NULL};
    const char *hb2_a[] = {"x", t2, "10000", "1", NULL};
    const char *reap_k[] = {job, run, rc, dead, ev, wake, qi, qd, qb, NULL};
    const char *reap_a[] = {"x", "3", NULL};
    const char *purge_k[] = {job, dead, NULL};
    redisReply *r;

    r = eval(c, TQ_LUA_ENQUEUE, enq_k, enq_a);
    assert_string_equal(r->str, "new");
    freeReplyObject(r);
    r = eval(c, TQ_LUA_CLAIM_PICK, pick_k, pick_a);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->element[0]->integer, 2);
    assert_string_equal(r->element[1]->str, "x");
    freeReplyObject(r);
    r = eval(c, TQ_LUA_CLAIM, claim_k, claim_a);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long long tok1 = r->element[4]->integer; /* a new fence starts at Redis's time x 1000 */
    assert_true(tok1 >= redis_time_ms(c) * 1000 - 60000000 && tok1 <= redis_time_ms(c) * 1000);
    snprintf(t1, sizeof t1, "%lld", tok1);
    snprintf(t2, sizeof t2, "%lld", tok1 + 1);
    freeReplyObject(r);
    r = eval(c, TQ_LUA_HEARTBEAT, hb_k, hb_a);
    assert_true(r->integer > 9000);
    freeReplyObject(r);
    r = eval(c, TQ_LUA_PARTIAL, part_k, part_a);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    r = eval(c, TQ_LUA_ACK, ack_k, ack_a);
    assert_string_equal(r->str, "dead");
    freeReplyObject(r);
    r = eval(c, TQ_LUA_ENQUEUE, enq_k, enq_a);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_string_equal(r->element[1]->str, "boom");
    freeReplyObject(r);
    r = eval(c, TQ_LUA_EXPIRE_MARK, exp_k, x_a);
    assert_string_equal(r->str, "dead");
    freeReplyObject(r);
    r = eval(c, TQ_LUA_ENQUEUE, enq_k, enq_a);
    assert_string_equal(r->str, "new");
    freeReplyObject(r);
    r = eval(c, TQ_LUA_RELEASE, rel_k, x_a);
    assert_string_equal(r->str, "released"); /* bulk: nothing to move */
    freeReplyObject(r);
    r = eval(c, TQ_LUA_CLAIM, claim_k, claim_a);
    assert_int_equal(r->element[4]->integer, tok1 + 1);
    freeReplyObject(r);
    r = eval(c, TQ_LUA_HEARTBEAT, hb_k, hb2_a); /* budget 1 ms: the lease ends at once */
    assert_true(r->integer <= 1);
    freeReplyObject(r);
    assert_int_equal(poll_until(c, alt_reap_list_has_x), 1);
    r = eval(c, TQ_LUA_REAP, reap_k, reap_a);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    r = eval(c, TQ_LUA_DEAD_PURGE, purge_k, x_a);
    assert_int_equal(r->integer, 0); /* queued again, not dead */
    freeReplyObject(r);

    r = redisCommand(c, "KEYS *");
    assert_int_equal(r->elements, 7); /* job qb runcount claims fence ev wake */
    for (size_t i = 0; i < r->elements; i++) {
        if (strncmp(r->element[i]->str, "{alt}:", 6) != 0)
            fail_msg("a script touched %s, which it was not given", r->element[i]->str);
    }
    freeReplyObject(r);
    assert_invariants_hold(c);
    redisFree(c);
}

/* The snapshot tileq status and /metrics read (tq_snapshot): per class queued, running
 * (runcount, equal to the leases of that class while the invariants hold) and the oldest
 * queued job; dead jobs, heartbeats, worker figures and the jobs completed since a time. */
static void test_snapshot(void **state)
{
    redisContext *c = connect_test_db();
    struct tq_job a = make_job(0, 0, TQ_CLASS_INTERACTIVE),
                  b = make_job(8, 0, TQ_CLASS_INTERACTIVE), d = make_job(16, 0, TQ_CLASS_BULK),
                  e = make_job(24, 0, TQ_CLASS_BULK);
    struct tq_claimed cl;
    struct tq_snapshot snap;
    static struct tq_wfigures f, back;
    static struct tq_wfigures_hset hset;
    struct tq_heartbeat hb = {"host-a", 77, 0};
    char res[32], beat[300];
    int64_t t0 = redis_time_ms(c);
    (void)state;

    assert_int_equal(ENQ(c, a, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_NEW);
    assert_int_equal(ENQ(c, b, 0, TQ_ENQ_MODE_REQUEST), TQ_ENQ_NEW);
    assert_int_equal(ENQ(c, d, 0, TQ_ENQ_MODE_WARM), TQ_ENQ_NEW);
    assert_int_equal(ENQ(c, e, 0, TQ_ENQ_MODE_WARM), TQ_ENQ_NEW);
    /* a: done (event ok); b: running; d: dead; e: queued in bulk */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tq_queue_claim(c, "w1", 10000, no_caps, 0, &cl, err, sizeof err), 1);
        if (i == 0)
            assert_int_equal(tq_queue_ack(c, cl.id, cl.token, TQ_ACK_OK, NULL, 3, res, sizeof res,
                                          err, sizeof err),
                             0);
        tq_claimed_clear(&cl);
    }
    long bulk_caps[TQ_CLASS_COUNT] = {0, 0, 0};
    assert_int_equal(tq_queue_claim(c, "w2", 10000, bulk_caps, 0, &cl, err, sizeof err), 1);
    assert_int_equal(cl.cls, TQ_CLASS_BULK);
    assert_int_equal(tq_queue_ack(c, cl.id, cl.token, TQ_ACK_DEAD, "malformed", 3, res, sizeof res,
                                  err, sizeof err),
                     0);
    tq_claimed_clear(&cl);
    hb.last_seen_ms = tq_now_ms();
    assert_int_equal(tq_heartbeat_encode(&hb, beat, sizeof beat), 0);
    freeReplyObject(redisCommand(c, "HSET %s w1 %s", TQ_QUEUE_WORKERS_KEY, beat));
    memset(&f, 0, sizeof f);
    f.renders = 4;
    f.hist[10][2] = 4;
    f.hist_sum[10] = 0.1;
    f.updated_ms = tq_now_ms();
    assert_int_equal(tq_wfigures_encode(&f, "w1", &hset), 0);
    freeReplyObject(redisCommandArgv(c, hset.argc, hset.argv, NULL));
    freeReplyObject(
        redisCommand(c, "ZADD %s %lld w1", TQ_WMETRICS_INDEX_KEY, (long long)f.updated_ms));

    struct tq_snapshot_want want = {.leases_max = 100,
                                    .figures_since_ms = f.updated_ms - 1000,
                                    .figures_max = 10,
                                    .completed_since_ms = t0,
                                    .completed_max = 100};
    assert_int_equal(tq_snapshot_read(c, &want, &snap, err, sizeof err), 0);
    assert_int_equal(snap.cls[TQ_CLASS_INTERACTIVE].queued, 0);
    assert_int_equal(snap.cls[TQ_CLASS_INTERACTIVE].running, 1);
    assert_int_equal(snap.cls[TQ_CLASS_BULK].queued, 1);
    assert_int_equal(snap.cls[TQ_CLASS_BULK].running, 0);
    assert_true(snap.cls[TQ_CLASS_BULK].oldest_enq_ms >= t0);
    assert_int_equal(snap.cls[TQ_CLASS_DIRTY].oldest_enq_ms, 0);
    assert_int_equal(snap.dead, 1);
    assert_int_equal(snap.running_leases, 1);
    assert_int_equal(snap.nleases, 1);
    assert_string_equal(snap.leases[0].id, "demo/10/8/0");
    assert_int_equal(snap.leases[0].cls, TQ_CLASS_INTERACTIVE);
    assert_string_equal(snap.leases[0].worker, "w1");
    assert_int_equal(snap.nworkers, 1);
    assert_string_equal(snap.workers[0].hb.host, "host-a");
    assert_int_equal(snap.workers[0].hb.pid, 77);
    assert_int_equal(snap.ncompleted, 1);
    assert_string_equal(snap.completed[0], "demo/10/0/0");
    assert_int_equal(snap.nfigures, 1);
    assert_string_equal(snap.figures[0].worker, "w1");
    assert_int_equal(tq_wfigures_parse(snap.figures[0].hash, &back), 0);
    assert_memory_equal(&back, &f, sizeof f);
    tq_snapshot_clear(&snap);

    /* what /metrics asks: counts only */
    struct tq_snapshot_want counts = {0};
    assert_int_equal(tq_snapshot_read(c, &counts, &snap, err, sizeof err), 0);
    assert_int_equal(snap.nleases + snap.nfigures + snap.ncompleted, 0);
    assert_int_equal(snap.cls[TQ_CLASS_INTERACTIVE].running, 1);
    tq_snapshot_clear(&snap);
    assert_invariants_hold(c);
    redisFree(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enqueue_dedups_and_promotes),
        cmocka_unit_test(test_cap_answers_full),
        cmocka_unit_test(test_claim_priority_and_fairness),
        cmocka_unit_test(test_retry_then_dead_letter),
        cmocka_unit_test(test_fencing_refuses_the_old_holder),
        cmocka_unit_test(test_leases_use_redis_time),
        cmocka_unit_test(test_lease_cap),
        cmocka_unit_test(test_dead_cooldown),
        cmocka_unit_test(test_release_demotes_abandoned_jobs),
        cmocka_unit_test(test_scripts_use_declared_keys_only),
        cmocka_unit_test(test_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

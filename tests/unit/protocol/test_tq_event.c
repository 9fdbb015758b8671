/* Unit tests for tq_event: status names, one parser for XREAD and XRANGE replies, and the
 * XADD the scripts write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reply_fake.h"
#include "tq_event.h"

static redisReply *entry(const char *sid, const char *id, const char *status, const char *err)
{
    return fake_arr(2, fake_str(sid),
                    fake_arr(6, fake_str(TQ_EVENT_F_ID), fake_str(id), fake_str(TQ_EVENT_F_STATUS),
                             fake_str(status), fake_str(TQ_EVENT_F_ERROR), fake_str(err)));
}

struct seen {
    int n;
    char sid[4][32], id[4][64], err[4][64];
    enum tq_event_status st[4];
};

static void collect(const struct tq_event *ev, void *arg)
{
    struct seen *s = arg;
    if (s->n >= 4)
        return;
    snprintf(s->sid[s->n], sizeof s->sid[0], "%s", ev->stream_id);
    snprintf(s->id[s->n], sizeof s->id[0], "%s", ev->job_id ? ev->job_id : "(null)");
    snprintf(s->err[s->n], sizeof s->err[0], "%s", ev->error);
    s->st[s->n++] = ev->status;
}

static void test_status_names(void **state)
{
    (void)state;
    for (int i = 0; i < TQ_EV_UNKNOWN; i++)
        assert_int_equal(tq_event_status_parse(tq_event_status_name((enum tq_event_status)i)), i);
    assert_string_equal(tq_event_status_name(TQ_EV_OK), "ok");
    assert_string_equal(tq_event_status_name(TQ_EV_PARTIAL), "partial");
    assert_string_equal(tq_event_status_name(TQ_EV_DEAD), "dead");
    assert_int_equal(tq_event_status_parse("done"), TQ_EV_UNKNOWN);
    assert_int_equal(tq_event_status_parse(NULL), TQ_EV_UNKNOWN);
    assert_true(tq_event_is_final(TQ_EV_OK));
    assert_true(tq_event_is_final(TQ_EV_DEAD));
    assert_false(tq_event_is_final(TQ_EV_PARTIAL));
    assert_false(tq_event_is_final(TQ_EV_UNKNOWN));
}

static void test_xread_and_xrange(void **state)
{
    (void)state;
    struct seen s = {0};
    redisReply *xread = fake_arr(
        1, fake_arr(2, fake_str(TQ_QUEUE_EVENTS_KEY),
                    fake_arr(3, entry("1-0", "demo/3/0/0", "ok", ""),
                             entry("2-0", "demo/3/0/0", "dead", "boom"),
                             /* no status field: still seen, to move past it */
                             fake_arr(2, fake_str("3-0"),
                                      fake_arr(2, fake_str("id"), fake_str("demo/1/0/0"))))));
    assert_int_equal(tq_event_each(xread, collect, &s), 3);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.sid[0], "1-0");
    assert_string_equal(s.id[0], "demo/3/0/0");
    assert_int_equal(s.st[0], TQ_EV_OK);
    assert_string_equal(s.err[0], "");
    assert_int_equal(s.st[1], TQ_EV_DEAD);
    assert_string_equal(s.err[1], "boom");
    assert_string_equal(s.sid[2], "3-0");
    assert_int_equal(s.st[2], TQ_EV_UNKNOWN);
    freeReplyObject(xread);

    memset(&s, 0, sizeof s);
    redisReply *xrange =
        fake_arr(2, entry("9-1", "a/0/0/0", "partial", ""), fake_int(7) /* malformed: skipped */);
    assert_int_equal(tq_event_each(xrange, collect, &s), 1);
    assert_string_equal(s.sid[0], "9-1");
    assert_int_equal(s.st[0], TQ_EV_PARTIAL);
    freeReplyObject(xrange);

    redisReply *nil = fake_nil(), *num = fake_int(1), *empty = fake_arr(0);
    assert_int_equal(tq_event_each(nil, collect, &s), 0);  /* XREAD BLOCK timed out */
    assert_int_equal(tq_event_each(num, collect, &s), -1); /* not a stream reply */
    assert_int_equal(tq_event_each(empty, collect, &s), 0);
    assert_int_equal(tq_event_each(NULL, collect, &s), -1);
    freeReplyObject(nil);
    freeReplyObject(num);
    freeReplyObject(empty);
}

static void test_encode_round_trip(void **state)
{
    (void)state;
    struct tq_event_xadd x;
    tq_event_encode("demo/4/0/0", TQ_EV_DEAD, "lease expired", &x);
    assert_int_equal(x.argc, 12);
    assert_string_equal(x.argv[0], "XADD");
    assert_string_equal(x.argv[1], "{tq}:events");
    assert_string_equal(x.argv[4], "100000");
    /* the fields as a reader sees them */
    redisReply *e =
        fake_arr(2, fake_str("5-0"),
                 fake_arr(6, fake_str(x.argv[6]), fake_str(x.argv[7]), fake_str(x.argv[8]),
                          fake_str(x.argv[9]), fake_str(x.argv[10]), fake_str(x.argv[11])));
    struct tq_event ev;
    assert_int_equal(tq_event_parse(e, &ev), 0);
    assert_string_equal(ev.job_id, "demo/4/0/0");
    assert_int_equal(ev.status, TQ_EV_DEAD);
    assert_string_equal(ev.error, "lease expired");
    freeReplyObject(e);
    /* the Lua function the scripts use writes the same fields and trim */
    assert_non_null(strstr(TQ_EVENT_LUA_XADD, "'MAXLEN', '~', 100000, '*', 'id', id, 'status', "
                                              "status, 'error', err or ''"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_xread_and_xrange),
        cmocka_unit_test(test_encode_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

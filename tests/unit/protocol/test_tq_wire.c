/* Unit tests for tq_wire: the contract's names (all keys under the {tq} tag), the heartbeat
 * value and the invariants' texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tq_job.h"
#include "tq_queue.h"
#include "tq_wire.h"

static void test_keys_under_one_tag(void **state)
{
    (void)state;
    const char *keys[] = {TQ_QUEUE_JOB_KEY_PREFIX,    TQ_QUEUE_DONE_KEY_PREFIX,
                          TQ_QUEUE_Q_INTERACTIVE_KEY, TQ_QUEUE_Q_DIRTY_KEY,
                          TQ_QUEUE_Q_BULK_KEY,        TQ_QUEUE_RUNNING_KEY,
                          TQ_QUEUE_RUNCOUNT_KEY,      TQ_QUEUE_FENCE_KEY,
                          TQ_QUEUE_CLAIMS_KEY,        TQ_QUEUE_DEAD_KEY,
                          TQ_QUEUE_EVENTS_KEY,        TQ_QUEUE_WAKE_KEY,
                          TQ_QUEUE_RENDERLOG_KEY,     TQ_QUEUE_RENDERLOG_REJECTED_KEY,
                          TQ_QUEUE_WORKERS_KEY,       TQ_WMETRICS_INDEX_KEY,
                          TQ_WMETRICS_KEY_PREFIX,     TQ_SCHEMA_KEY};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_int_equal(strncmp(keys[i], "{tq}:", 5), 0);
        assert_null(strchr(keys[i], ' ')); /* hiredis formats split on spaces */
    }
    for (int c = 0; c < TQ_CLASS_COUNT; c++) {
        char want[64];
        snprintf(want, sizeof want, "{tq}:q:%s", tq_job_class_name((enum tq_job_class)c));
        assert_string_equal(tq_queue_class_key((enum tq_job_class)c), want);
    }
}

static void test_states(void **state)
{
    (void)state;
    enum tq_job_state s;
    for (int i = 0; i < TQ_JOB_STATE_COUNT; i++) {
        assert_int_equal(tq_job_state_parse(tq_job_state_name((enum tq_job_state)i), &s), 0);
        assert_int_equal(s, i);
    }
    assert_string_equal(tq_job_state_name(TQ_JOB_RUNNING), "running");
    assert_int_equal(tq_job_state_parse("done", &s), -1);
    assert_int_equal(tq_job_state_parse(NULL, &s), -1);
}

static void test_heartbeat(void **state)
{
    (void)state;
    struct tq_heartbeat hb = {"db-host", 4242, 1700000000123}, back;
    char s[300];
    assert_int_equal(tq_heartbeat_encode(&hb, s, sizeof s), 0);
    assert_string_equal(s, "db-host 4242 1700000000123");
    assert_int_equal(tq_heartbeat_parse(s, &back), 0);
    assert_string_equal(back.host, "db-host");
    assert_int_equal(back.pid, 4242);
    assert_int_equal(back.last_seen_ms, 1700000000123);
    assert_int_equal(tq_heartbeat_encode(&hb, s, 8), -1);
    assert_int_equal(tq_heartbeat_parse("garbage", &back), -1);
    assert_string_equal(back.host, "?");
    assert_int_equal(back.last_seen_ms, 0);
    assert_int_equal(tq_heartbeat_parse(NULL, &back), -1);
}

static void test_invariants(void **state)
{
    (void)state;
    for (int i = 0; i < TQ_INV_COUNT; i++) {
        assert_string_not_equal(tq_invariant_name((enum tq_invariant)i), "?");
        assert_true(strlen(tq_invariant_text((enum tq_invariant)i)) > 10);
    }
    assert_string_equal(tq_invariant_name(TQ_INV_COUNT), "?");
    assert_string_equal(tq_invariant_text(TQ_INV_RUNNING), TQ_INV_RUNNING_TEXT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_under_one_tag),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

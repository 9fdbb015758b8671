/* Unit tests for tq_pending: the table (add, find, remove, references and the free hook,
 * iteration with removal), waiters (order, counts), holding (deadlines, counters, the
 * earliest deadline, a waiter joining a held entry), and the admission of a miss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_pending.h"

#define S 1000000 /* µs */

static int freed;

static void on_free(struct tq_pending *p, void *arg)
{
    assert_ptr_equal(arg, &freed);
    assert_int_equal(p->refs, 0);
    freed++;
}

static struct tq_pending *add(struct tq_pending_table *t, const char *id)
{
    static struct tq_tileset_config ts = {.name = "demo", .minzoom = 0, .maxzoom = 14};
    struct tq_job job;

    memset(&job, 0, sizeof job);
    return tq_pending_add(t, &ts, &job, id);
}

static struct tq_tile tile(uint32_t x)
{
    struct tq_tile t = {10, x, 7};
    return t;
}

static void test_table(void **state)
{
    struct tq_pending_table *t = tq_pending_table_new(10, 100, on_free, &freed);
    struct tq_pending *a, *b;

    (void)state;
    freed = 0;
    assert_non_null(t);
    a = add(t, "demo/10/0/0");
    b = add(t, "demo/10/8/0");
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(a->owner, &freed);
    assert_null(add(t, "demo/10/0/0")); /* one entry per job */
    assert_ptr_equal(tq_pending_find(t, "demo/10/0/0"), a);
    assert_ptr_equal(tq_pending_find(t, "demo/10/8/0"), b);
    assert_null(tq_pending_find(t, "demo/10/16/0"));
    assert_int_equal(tq_pending_counts(t).pending, 2);

    /* An outstanding ENQUEUE keeps a removed entry allocated. */
    tq_pending_ref(a);
    tq_pending_remove(a);
    assert_int_equal(a->in_table, 0);
    assert_null(tq_pending_find(t, "demo/10/0/0"));
    assert_int_equal(tq_pending_counts(t).pending, 1);
    assert_int_equal(freed, 0);
    tq_pending_remove(a); /* out already: a no-op */
    tq_pending_unref(a);
    assert_int_equal(freed, 1);

    tq_pending_remove(b);
    assert_int_equal(freed, 2);
    assert_int_equal(tq_pending_counts(t).pending, 0);
    tq_pending_table_free(t);
}

static void test_iterate_remove(void **state)
{
    struct tq_pending_table *t = tq_pending_table_new(10, 100, on_free, &freed);
    struct tq_pending *p;
    char id[64];
    size_t pos = 0, seen = 0;

    (void)state;
    freed = 0;
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "demo/12/%d/0", i * 8);
        assert_non_null(add(t, id));
    }
    /* Every entry seen once, each removed as it is seen (as the drain's 503 does). */
    while ((p = tq_pending_next(t, &pos)) != NULL) {
        seen++;
        tq_pending_remove(p);
    }
    assert_int_equal(seen, 300);
    assert_int_equal(freed, 300);
    assert_int_equal(tq_pending_counts(t).pending, 0);
    pos = 0;
    assert_null(tq_pending_next(t, &pos));
    tq_pending_table_free(t);
}

static void test_waiters(void **state)
{
    struct tq_pending_table *t = tq_pending_table_new(10, 100, NULL, NULL);
    struct tq_pending *p = add(t, "demo/10/0/0");
    struct tq_waiter *w1, *w2, *w3;
    int req;

    (void)state;
    w1 = tq_pending_waiter_add(p, tile(1), 0);
    w2 = tq_pending_waiter_add(p, tile(2), 0);
    w3 = tq_pending_waiter_add(p, tile(3), 0);
    assert_ptr_equal(p->head, w1);
    assert_ptr_equal(p->tail, w3);
    assert_ptr_equal(w1->next, w2);
    assert_ptr_equal(w3->prev, w2);
    assert_string_equal(w2->label, "joined");
    assert_int_equal(w2->tile.x, 2);
    assert_int_equal(w1->hold_until_us, 0); /* not held */
    assert_int_equal(tq_pending_counts(t).waiters, 3);

    w1->req = (struct evhttp_request *)&req; /* only counted, never touched */
    w3->req = (struct evhttp_request *)&req;
    assert_int_equal(tq_pending_requests(p), 2);

    tq_pending_waiter_remove(w2); /* the middle one */
    assert_ptr_equal(w1->next, w3);
    assert_ptr_equal(w3->prev, w1);
    tq_pending_waiter_remove(w1); /* the head */
    assert_ptr_equal(p->head, w3);
    assert_null(w3->prev);
    tq_pending_waiter_remove(w3); /* the last: an empty entry stays in the table */
    assert_null(p->head);
    assert_null(p->tail);
    assert_int_equal(tq_pending_counts(t).waiters, 0);
    assert_int_equal(tq_pending_counts(t).pending, 1);
    tq_pending_remove(p);
    tq_pending_table_free(t);
}

static void test_hold(void **state)
{
    struct tq_pending_table *t = tq_pending_table_new(10, 100, NULL, NULL);
    struct tq_pending *p = add(t, "demo/10/0/0");
    struct tq_waiter *w1, *w2, *w3;

    (void)state;
    assert_int_equal(tq_pending_hold_enabled(t), 1);
    w1 = tq_pending_waiter_add(p, tile(1), 0);
    assert_int_equal(tq_pending_hold_delay_us(p, 0), -1); /* nobody held */

    /* Held at 100 s: the waiter's hold ends at 110 s. */
    assert_int_equal(tq_pending_hold(p, 100 * (int64_t)S), 1);
    assert_int_equal(p->held, 1);
    assert_int_equal(w1->hold_until_us, 110 * (int64_t)S);
    assert_int_equal(tq_pending_counts(t).held, 1);
    /* Held again (another outage reason): a running hold is not extended. */
    assert_int_equal(tq_pending_hold(p, 105 * (int64_t)S), 0);
    assert_int_equal(w1->hold_until_us, 110 * (int64_t)S);
    assert_int_equal(tq_pending_counts(t).held, 1);

    /* A waiter joining a held entry is held from its arrival. */
    w2 = tq_pending_waiter_add(p, tile(2), 104 * (int64_t)S);
    assert_int_equal(w2->hold_until_us, 114 * (int64_t)S);
    assert_int_equal(tq_pending_counts(t).held, 2);

    /* The earliest deadline arms the timer; a passed one fires at once. */
    assert_int_equal(tq_pending_hold_delay_us(p, 106 * (int64_t)S), 4 * (int64_t)S);
    assert_int_equal(tq_pending_hold_delay_us(p, 120 * (int64_t)S), 0);
    assert_int_equal(tq_pending_hold_over(w1, 110 * (int64_t)S - 1), 0);
    assert_int_equal(tq_pending_hold_over(w1, 110 * (int64_t)S), 1);
    assert_int_equal(tq_pending_hold_over(w2, 110 * (int64_t)S), 0);

    /* The first one's hold ran out and it was answered: the next deadline is w2's. */
    tq_pending_waiter_remove(w1);
    assert_int_equal(tq_pending_counts(t).held, 1);
    assert_int_equal(tq_pending_hold_delay_us(p, 110 * (int64_t)S), 4 * (int64_t)S);

    /* An ENQUEUE accepted: nobody is held any more, joiners are not held. */
    assert_int_equal(tq_pending_unhold(p), 1);
    assert_int_equal(p->held, 0);
    assert_int_equal(w2->hold_until_us, 0);
    assert_int_equal(tq_pending_counts(t).held, 0);
    assert_int_equal(tq_pending_hold_over(w2, 200 * (int64_t)S), 0);
    assert_int_equal(tq_pending_unhold(p), 0);
    w3 = tq_pending_waiter_add(p, tile(3), 111 * (int64_t)S);
    assert_int_equal(w3->hold_until_us, 0);
    assert_int_equal(tq_pending_hold_delay_us(p, 0), -1);

    tq_pending_waiter_remove(w2);
    tq_pending_waiter_remove(w3);
    tq_pending_remove(p);
    tq_pending_table_free(t);
}

static void test_admit(void **state)
{
    struct tq_pending_table *t = tq_pending_table_new(10, 2, NULL, NULL);
    struct tq_pending_table *off = tq_pending_table_new(0, 2, NULL, NULL);
    struct tq_pending *p = add(t, "demo/10/0/0");
    struct tq_waiter *w1, *w2;

    (void)state;
    /* Redis up: a new miss makes an entry, a miss of a waiting metatile joins it. */
    assert_int_equal(tq_pending_admit(t, NULL, 1), TQ_ADMIT_NEW);
    assert_int_equal(tq_pending_admit(t, p, 1), TQ_ADMIT_JOIN);
    /* Redis down, holding on and room left: held (a new entry, held when it cannot be
     * enqueued). */
    assert_int_equal(tq_pending_admit(t, NULL, 0), TQ_ADMIT_NEW);
    /* Holding off: 503 at once. */
    assert_int_equal(tq_pending_hold_enabled(off), 0);
    assert_int_equal(tq_pending_admit(off, NULL, 0), TQ_ADMIT_DOWN);
    assert_int_equal(tq_pending_admit(off, NULL, 1), TQ_ADMIT_NEW);

    /* hold_max (2) waiters held: a held entry takes no joiner, and no new entry is made
     * while Redis is down; an entry that is not held still takes joiners. */
    w1 = tq_pending_waiter_add(p, tile(1), 0);
    w2 = tq_pending_waiter_add(p, tile(2), 0);
    tq_pending_hold(p, 0);
    assert_int_equal(tq_pending_counts(t).held, 2);
    assert_int_equal(tq_pending_admit(t, p, 1), TQ_ADMIT_HOLD_FULL);
    assert_int_equal(tq_pending_admit(t, p, 0), TQ_ADMIT_HOLD_FULL);
    assert_int_equal(tq_pending_admit(t, NULL, 0), TQ_ADMIT_HOLD_FULL);
    assert_int_equal(tq_pending_admit(t, NULL, 1), TQ_ADMIT_NEW);
    tq_pending_unhold(p);
    assert_int_equal(tq_pending_admit(t, p, 0), TQ_ADMIT_JOIN);

    tq_pending_waiter_remove(w1);
    tq_pending_waiter_remove(w2);
    tq_pending_remove(p);
    tq_pending_table_free(t);
    tq_pending_table_free(off);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),   cmocka_unit_test(test_iterate_remove),
        cmocka_unit_test(test_waiters), cmocka_unit_test(test_hold),
        cmocka_unit_test(test_admit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

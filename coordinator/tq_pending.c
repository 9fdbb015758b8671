/* tq_pending — see tq_pending.h. */
#include "tq_pending.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_map.h"

struct tq_pending_table {
    struct tq_map *map; /* id (C string) → struct tq_pending * */
    int64_t hold_us;    /* queue.hold_seconds */
    long hold_max;
    size_t nwaiters;
    size_t nheld;
    tq_pending_free_fn on_free;
    void *arg;
};

struct tq_pending_table *tq_pending_table_new(int hold_seconds, long hold_max,
                                              tq_pending_free_fn on_free, void *arg)
{
    struct tq_pending_table *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->map = tq_map_new(0, sizeof(struct tq_pending *));
    if (t->map == NULL) {
        free(t);
        return NULL;
    }
    t->hold_us = (int64_t)hold_seconds * 1000000;
    t->hold_max = hold_max;
    t->on_free = on_free;
    t->arg = arg;
    return t;
}

void tq_pending_table_free(struct tq_pending_table *t)
{
    if (t == NULL)
        return;
    tq_map_free(t->map);
    free(t);
}

struct tq_pending_counts tq_pending_counts(const struct tq_pending_table *t)
{
    struct tq_pending_counts c = {tq_map_count(t->map), t->nwaiters, t->nheld};
    return c;
}

int tq_pending_hold_enabled(const struct tq_pending_table *t)
{
    return t->hold_us > 0 && t->hold_max > 0;
}

struct tq_pending *tq_pending_find(const struct tq_pending_table *t, const char *id)
{
    struct tq_pending **pp = tq_map_str_get(t->map, id);
    return pp ? *pp : NULL;
}

struct tq_pending *tq_pending_next(const struct tq_pending_table *t, size_t *pos)
{
    struct tq_pending **pp = tq_map_next(t->map, pos, NULL, NULL);
    return pp ? *pp : NULL;
}

struct tq_pending *tq_pending_add(struct tq_pending_table *t, const struct tq_tileset_config *ts,
                                  const struct tq_job *job, const char *id)
{
    struct tq_pending *p = calloc(1, sizeof *p);
    struct tq_pending **slot;
    int added = 0;

    if (p == NULL)
        return NULL;
    snprintf(p->id, sizeof p->id, "%s", id);
    slot = tq_map_str_put(t->map, p->id, &added);
    if (slot == NULL || !added) {
        free(p);
        return NULL;
    }
    *slot = p;
    p->table = t;
    p->owner = t->arg;
    p->ts = ts;
    p->job = *job;
    p->in_table = 1;
    p->refs = 1;
    return p;
}

void tq_pending_remove(struct tq_pending *p)
{
    if (!p->in_table)
        return;
    tq_map_str_remove(p->table->map, p->id, NULL);
    p->in_table = 0;
    tq_pending_unref(p);
}

void tq_pending_ref(struct tq_pending *p)
{
    p->refs++;
}

void tq_pending_unref(struct tq_pending *p)
{
    if (--p->refs > 0)
        return;
    if (p->table->on_free)
        p->table->on_free(p, p->table->arg);
    free(p);
}

enum tq_pending_admit tq_pending_admit(const struct tq_pending_table *t, const struct tq_pending *p,
                                       int redis_up)
{
    int full = t->nheld >= (size_t)t->hold_max;

    if (p && p->held && full)
        return TQ_ADMIT_HOLD_FULL;
    if (p)
        return TQ_ADMIT_JOIN;
    if (!redis_up && !tq_pending_hold_enabled(t))
        return TQ_ADMIT_DOWN;
    if (!redis_up && full)
        return TQ_ADMIT_HOLD_FULL;
    return TQ_ADMIT_NEW;
}

/* Starts w's hold: hold_seconds from now_us, unless it runs already. */
static void waiter_hold(struct tq_waiter *w, int64_t now_us)
{
    if (w->hold_until_us != 0)
        return;
    w->hold_until_us = now_us + w->p->table->hold_us;
    w->p->table->nheld++;
}

struct tq_waiter *tq_pending_waiter_add(struct tq_pending *p, struct tq_tile tile, int64_t now_us)
{
    struct tq_waiter *w = calloc(1, sizeof *w);

    if (w == NULL)
        return NULL;
    w->p = p;
    w->tile = tile;
    w->label = "joined";
    w->prev = p->tail;
    if (p->tail)
        p->tail->next = w;
    else
        p->head = w;
    p->tail = w;
    p->table->nwaiters++;
    if (p->held)
        waiter_hold(w, now_us);
    return w;
}

void tq_pending_waiter_remove(struct tq_waiter *w)
{
    struct tq_pending *p = w->p;

    if (w->prev)
        w->prev->next = w->next;
    else
        p->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->tail = w->prev;
    p->table->nwaiters--;
    if (w->hold_until_us != 0)
        p->table->nheld--;
    free(w);
}

size_t tq_pending_requests(const struct tq_pending *p)
{
    size_t n = 0;

    for (const struct tq_waiter *w = p->head; w; w = w->next)
        n += w->req != NULL;
    return n;
}

int tq_pending_hold(struct tq_pending *p, int64_t now_us)
{
    int was = p->held;

    p->held = 1;
    for (struct tq_waiter *w = p->head; w; w = w->next)
        waiter_hold(w, now_us);
    return !was;
}

int tq_pending_unhold(struct tq_pending *p)
{
    int was = p->held;

    p->held = 0;
    for (struct tq_waiter *w = p->head; w; w = w->next) {
        if (w->hold_until_us != 0) {
            w->hold_until_us = 0;
            p->table->nheld--;
        }
    }
    return was;
}

int64_t tq_pending_hold_delay_us(const struct tq_pending *p, int64_t now_us)
{
    int64_t first = 0;

    for (const struct tq_waiter *w = p->head; w; w = w->next) {
        if (w->hold_until_us != 0 && (first == 0 || w->hold_until_us < first))
            first = w->hold_until_us;
    }
    if (first == 0)
        return -1;
    return first > now_us ? first - now_us : 0;
}

int tq_pending_hold_over(const struct tq_waiter *w, int64_t now_us)
{
    return w->hold_until_us != 0 && w->hold_until_us <= now_us;
}

/* tq_expire — see tq_expire.h. */
#include "tq_expire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tq_cache.h"
#include "tq_cache_scan.h"
#include "tq_map.h"
#include "tq_queue.h"
#include "tq_tile_range.h"
#include "tq_time.h"
#include "tq_wire.h"

struct tq_expire {
    const struct tq_config *cfg;
    redisContext *c;
    enum tq_job_reason reason; /* of the re-render of a render in flight it marks */
    /* job ids "tileset/z/mx/my" of the affected metatiles -> tiles deleted in them (owned) */
    struct tq_map *metatiles;
    struct tq_map *deleted; /* single tiles "tileset/z/x/y" already deleted (a set, owned) */
    struct tq_expire_stats st;
    char err[512];
};

struct tq_expire *tq_expire_new(const struct tq_config *cfg, redisContext *c,
                                enum tq_job_reason reason)
{
    struct tq_expire *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->cfg = cfg;
    e->c = c;
    e->reason = reason;
    e->metatiles = tq_map_new(0, sizeof(long long));
    e->deleted = tq_map_new(0, 0);
    if (e->metatiles == NULL || e->deleted == NULL) {
        tq_expire_free(e);
        return NULL;
    }
    return e;
}

void tq_expire_free(struct tq_expire *e)
{
    if (e == NULL)
        return;
    tq_map_free(e->metatiles);
    tq_map_free(e->deleted);
    free(e);
}

void tq_expire_reset(struct tq_expire *e)
{
    tq_map_clear(e->metatiles);
    tq_map_clear(e->deleted);
    memset(&e->st, 0, sizeof e->st);
    e->err[0] = '\0';
}

struct tq_expire_stats tq_expire_stats(const struct tq_expire *e)
{
    struct tq_expire_stats st = e->st;
    st.metatiles = tq_map_count(e->metatiles);
    return st;
}

const char *tq_expire_error(const struct tq_expire *e)
{
    return e->err;
}

/* The entry of metatile m of ts (marked when new). NULL on error (err set). */
static long long *metatile_entry(struct tq_expire *e, const struct tq_tileset_config *ts,
                                 const struct tq_metatile *m)
{
    char id[TQ_JOB_ID_MAX], state[32];
    int added;
    snprintf(id, sizeof id, "%s/%d/%u/%u", ts->name, m->z, m->mx, m->my);
    long long *v = tq_map_str_put(e->metatiles, id, &added);
    if (v == NULL) {
        snprintf(e->err, sizeof e->err, "out of memory");
        return NULL;
    }
    if (added) {
        int mk =
            tq_queue_expire_mark(e->c, id, e->reason, state, sizeof state, e->err, sizeof e->err);
        if (mk < 0) {
            tq_map_str_remove(e->metatiles, id, NULL);
            return NULL;
        }
        e->st.marked += mk;
        v = tq_map_str_get(e->metatiles, id);
    }
    return v;
}

static int delete_tile(struct tq_expire *e, const struct tq_tileset_config *ts, struct tq_tile t,
                       long long *count)
{
    e->st.examined++;
    int rc = tq_cache_remove(e->cfg->cache_dir, ts->name, t);
    if (rc < 0) {
        snprintf(e->err, sizeof e->err, "cannot delete tile %d/%u/%u: %s", t.z, t.x, t.y,
                 strerror(errno));
        return -1;
    }
    e->st.removed += rc;
    *count += rc;
    return 0;
}
/* Walks r tile by tile: marks each metatile meeting it, deletes its tiles inside r. */
static int expire_walk(struct tq_expire *e, const struct tq_tileset_config *ts,
                       const struct tq_tile_range *r)
{
    struct tq_tile_range_iter it;
    struct tq_metatile m;

    if (r->xmin == r->xmax && r->ymin == r->ymax) {
        /* A single tile (the parent of many listed tiles): once is enough. */
        char key[TQ_JOB_ID_MAX];
        int added;
        snprintf(key, sizeof key, "%s/%d/%u/%u", ts->name, r->z, r->xmin, r->ymin);
        if (tq_map_str_put(e->deleted, key, &added) == NULL) {
            snprintf(e->err, sizeof e->err, "out of memory");
            return -1;
        }
        if (!added)
            return 0;
    }
    tq_tile_range_iter_init(&it, r, ts->metatile);
    while (tq_tile_range_iter_next(&it, &m)) {
        struct tq_tile_range part;
        long long *count = metatile_entry(e, ts, &m);
        if (count == NULL)
            return -1;
        if (!tq_tile_range_clip(r, &m, &part))
            continue;
        for (uint32_t y = part.ymin;; y++) {
            for (uint32_t x = part.xmin;; x++) {
                struct tq_tile t = {part.z, x, y};
                if (delete_tile(e, ts, t, count) != 0)
                    return -1;
                if (x == part.xmax)
                    break;
            }
            if (y == part.ymax)
                break;
        }
    }
    return 0;
}

struct scan_ctx {
    struct tq_expire *e;
    const struct tq_tileset_config *ts;
};

static int scan_tile(struct tq_tile t, void *arg)
{
    struct scan_ctx *s = arg;
    struct tq_metatile m = tq_tile_metatile(t, s->ts->metatile);
    long long *count = metatile_entry(s->e, s->ts, &m);
    if (count == NULL)
        return -1;
    return delete_tile(s->e, s->ts, t, count);
}

/* Marks the renders in flight of ts among the metatiles meeting r (the running set's ids). */
static int mark_running(struct tq_expire *e, const struct tq_tileset_config *ts,
                        const struct tq_tile_range *r)
{
    redisReply *rep = redisCommand(e->c, "ZRANGE %s 0 -1", TQ_QUEUE_RUNNING_KEY);
    int rc = -1;
    size_t nlen = strlen(ts->name);

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        snprintf(e->err, sizeof e->err, "Redis: %s",
                 rep ? (rep->type == REDIS_REPLY_ERROR ? rep->str : "odd reply") : e->c->errstr);
        goto cleanup;
    }
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *el = rep->element[i];
        struct tq_tile t;
        if (el->type != REDIS_REPLY_STRING || el->len <= nlen ||
            strncmp(el->str, ts->name, nlen) != 0 || el->str[nlen] != '/' ||
            tq_tile_parse(el->str + nlen + 1, &t) != 0 || t.z != r->z)
            continue;
        struct tq_metatile m = tq_tile_metatile(t, ts->metatile);
        struct tq_tile_range part;
        if (tq_tile_range_clip(r, &m, &part) && metatile_entry(e, ts, &m) == NULL)
            goto cleanup;
    }
    rc = 0;
cleanup:
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int tq_expire_range(struct tq_expire *e, const struct tq_tileset_config *ts,
                    const struct tq_tile_range *r)
{
    uint64_t tiles = (uint64_t)(r->xmax - r->xmin + 1) * (uint64_t)(r->ymax - r->ymin + 1);
    if (r->xmin > r->xmax || r->ymin > r->ymax)
        return 0;
    if (tiles <= TQ_EXPIRE_SCAN_TILES)
        return expire_walk(e, ts, r);
    /* Large: the running renders first (marked before any delete), then what is cached. */
    struct scan_ctx s = {e, ts};
    char err[256];
    if (mark_running(e, ts, r) != 0)
        return -1;
    int rc = tq_cache_scan_range(e->cfg->cache_dir, ts->name, r, scan_tile, &s, err, sizeof err);
    if (rc == -1 && e->err[0] == '\0')
        snprintf(e->err, sizeof e->err, "%s", err);
    return rc == 0 ? 0 : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The dirty class's length, or -1 (err set). */
static long long dirty_len(struct tq_expire *e)
{
    redisReply *r = redisCommand(e->c, "LLEN %s", TQ_QUEUE_Q_DIRTY_KEY);
    long long n = -1;
    if (r != NULL && r->type == REDIS_REPLY_INTEGER)
        n = r->integer;
    else
        snprintf(e->err, sizeof e->err, "Redis: %s",
                 r ? (r->type == REDIS_REPLY_ERROR ? r->str : "odd reply") : e->c->errstr);
    if (r)
        freeReplyObject(r);
    return n;
}

int tq_expire_rerender(struct tq_expire *e, enum tq_job_reason reason, int only_cached,
                       long max_queued, volatile sig_atomic_t *stop)
{
    size_t pos = 0;
    const void *key;
    long long *count;
    long long queued = -1; /* dirty class length as last read, plus what we added since */

    while ((count = tq_map_next(e->metatiles, &pos, &key, NULL)) != NULL) {
        const char *id = key;
        struct tq_tile t;
        struct tq_job job;
        const char *slash = strchr(id, '/');
        char name[TQ_TILESET_NAME_MAX];
        const struct tq_tileset_config *ts = NULL;

        if (only_cached && *count == 0) {
            e->st.skipped_uncached++;
            continue;
        }
        if (slash != NULL && (size_t)(slash - id) < sizeof name) {
            memcpy(name, id, (size_t)(slash - id));
            name[slash - id] = '\0';
            ts = tq_config_tileset(e->cfg, name);
        }
        if (ts == NULL || tq_tile_parse(slash + 1, &t) != 0 ||
            tq_job_init(&job, ts->name, t, ts->metatile, TQ_CLASS_DIRTY, reason, tq_now_ms()) !=
                0) {
            snprintf(e->err, sizeof e->err, "bad metatile id %s", id);
            return -1;
        }
        /* The bound: re-read the class's length only when our own count says it may be
         * reached, so a batch costs one LLEN, not one per job. */
        while (max_queued > 0 && (queued < 0 || queued >= max_queued)) {
            queued = dirty_len(e);
            if (queued < 0)
                return -1;
            if (queued < max_queued)
                break;
            if (stop != NULL && *stop)
                return 1;
            sleep_ms(100);
        }
        for (int waited = 0;; waited++) {
            /* refresh: ignores done markers; a job running now started after the delete
             * or was marked above, so it is not marked again. */
            enum tq_enqueue_result res = tq_queue_enqueue(
                e->c, &job, e->cfg->queue.cap[TQ_CLASS_DIRTY], TQ_ENQ_MODE_REFRESH,
                (int64_t)e->cfg->queue.dead_cooldown_seconds * 1000, 0, e->err, sizeof e->err);
            if (res == TQ_ENQ_ERROR)
                return -1;
            if (res != TQ_ENQ_FULL) {
                e->st.requeued++;
                e->st.enqueued_new += res == TQ_ENQ_NEW;
                queued += res == TQ_ENQ_NEW;
                break;
            }
            if (stop != NULL && *stop)
                return 1;
            if (waited % 100 == 0)
                fprintf(stderr, "tileq: the dirty class is full (%ld jobs); waiting\n",
                        e->cfg->queue.cap[TQ_CLASS_DIRTY]);
            sleep_ms(100);
        }
    }
    return 0;
}

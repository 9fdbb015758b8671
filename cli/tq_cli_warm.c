/* tileq warm — pre-renders an area through the queue's bulk class.
 *
 * The metatiles of the area are generated lazily, zoom by zoom (a bbox is a tile range per
 * zoom; a tile list is expanded to parents and children within the zoom range, deduplicated
 * by metatile id). Metatiles whose tiles are all cached are skipped (unless --force). The
 * feeder keeps the bulk class under --max-queued jobs: when it is there, it blocks on the
 * completion events stream ({tq}:events, XREAD BLOCK) and tops the queue up again as it
 * drains, so warming z0-z16 of a country keeps a few hundred jobs in Redis, not millions.
 * With --wait it follows its own jobs until the last one finished (ok or dead).
 *
 * Interrupted and run again, it skips what is cached; jobs still queued or running from
 * the first run are coalesced by the enqueue script (answers coalesced/running), so no
 * metatile is rendered twice. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_cache.h"
#include "tq_cli.h"
#include "tq_cliutil.h"
#include "tq_event.h"
#include "tq_map.h"
#include "tq_queue.h"
#include "tq_tilespec.h"
#include "tq_time.h"

static const char WARM_USAGE[] =
    "usage: tileq [-c FILE] warm --tileset T (--bbox W,S,E,N | --tiles FILE|-) --zoom A-B\n"
    "                         [--force] [--wait] [--max-queued N]\n"
    "\n"
    "Queues the metatiles of an area in the bulk class (below interactive requests and\n"
    "expired tiles), skipping metatiles whose tiles are all cached.\n"
    "\n"
    "  --tileset T        the tileset (as in the configuration)\n"
    "  --bbox W,S,E,N     lon/lat degrees, latitudes within ±85.0511\n"
    "  --tiles FILE       tiles z/x/y, one per line (osm2pgsql expire format; - = stdin);\n"
    "                     each is expanded to its parents and children within --zoom\n"
    "  --zoom A-B         zoom range (within the tileset's)\n"
    "  --force            render cached metatiles too\n"
    "  --wait             follow progress until every job finished (a progress bar on a\n"
    "                     terminal, a line every 5 s otherwise)\n"
    "  --max-queued N     keep the bulk class under N queued jobs (default 256)\n"
    "\n"
    "Exit status: 0 done, 1 failure (Redis, or with --wait: jobs dead-lettered), 2 bad\n"
    "arguments.\n";

/* ---- the metatile generator ---------------------------------------------------------- */

struct warm_gen {
    const struct tq_area_opts *o;
    const struct tq_tileset_config *ts;
    const struct tq_tile *tiles; /* list mode */
    long ntiles;
    int z, zhi;
    long ti;    /* list mode: the tile whose range is being walked */
    int active; /* it holds a range */
    struct tq_metatile_iter it;
    struct tq_map *seen; /* list mode: metatile ids already given (a set, borrowed) */
};

static void gen_init(struct warm_gen *g, const struct tq_area_opts *o,
                     const struct tq_tileset_config *ts, const struct tq_tile *tiles, long ntiles,
                     int lo, int hi, struct tq_map *seen)
{
    memset(g, 0, sizeof *g);
    g->o = o;
    g->ts = ts;
    g->tiles = tiles;
    g->ntiles = ntiles;
    g->z = lo;
    g->zhi = hi;
    g->seen = seen;
}

/* 1 a metatile in *m, 0 the end, -1 out of memory. */
static int gen_next(struct warm_gen *g, struct tq_metatile *m)
{
    for (;;) {
        if (g->z > g->zhi)
            return 0;
        if (!g->active) {
            struct tq_tile_range r;
            if (g->tiles == NULL) {
                if (tq_tile_range_from_lonlat(g->o->bbox[0], g->o->bbox[1], g->o->bbox[2],
                                              g->o->bbox[3], g->z, &r) != 0) {
                    g->z++;
                    continue;
                }
            } else {
                if (g->ti >= g->ntiles) {
                    g->ti = 0;
                    g->z++;
                    continue;
                }
                r = tq_tile_range_at_zoom(g->tiles[g->ti++], g->z);
            }
            tq_metatile_iter_init(&g->it, &r, g->ts->metatile);
            g->active = 1;
        }
        if (!tq_metatile_iter_next(&g->it, m)) {
            g->active = 0;
            if (g->tiles == NULL)
                g->z++;
            continue;
        }
        if (g->seen != NULL) {
            char key[48];
            int added;
            snprintf(key, sizeof key, "%d/%u/%u", m->z, m->mx, m->my);
            if (tq_map_str_put(g->seen, key, &added) == NULL)
                return -1;
            if (!added)
                continue;
        }
        return 1;
    }
}

/* ---- the feeder ------------------------------------------------------------------------ */

struct warm {
    const struct tq_config *cfg;
    const struct tq_tileset_config *ts;
    const struct tq_area_opts *o;
    redisContext *c;
    struct tq_map *outstanding; /* job id -> tiles (long), ours until their completion event */
    char last_id[64];           /* events stream position */
    long long total_tiles, skipped_tiles, rendered_tiles, failed_tiles;
    long queued_jobs, skipped_jobs, recent_jobs, failed_jobs, done_jobs;
    long dead_jobs; /* answered "dead": dead-lettered, cooling down (counted failed too) */
    long bulk_len;
    int64_t start_ms, last_progress_ms, last_reconcile_ms;
    int tty;
    char err[512];
};

static int all_cached(const struct warm *w, const struct tq_metatile *m)
{
    uint32_t n = tq_metatile_count(m);
    for (uint32_t i = 0; i < n; i++)
        if (!tq_cache_exists(w->cfg->cache_dir, w->ts->name, tq_metatile_tile(m, i)))
            return 0;
    return 1;
}

static int refresh_bulk_len(struct warm *w)
{
    redisReply *r = redisCommand(w->c, "LLEN %s", TQ_QUEUE_Q_BULK_KEY);
    int rc = -1;
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        snprintf(w->err, sizeof w->err, "redis: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : w->c->errstr);
        goto cleanup;
    }
    w->bulk_len = (long)r->integer;
    rc = 0;
cleanup:
    if (r)
        freeReplyObject(r);
    return rc;
}

static void job_finished(struct warm *w, const char *id, int ok)
{
    long tiles;
    if (!tq_map_str_remove(w->outstanding, id, &tiles))
        return;
    if (ok) {
        w->rendered_tiles += tiles;
        w->done_jobs++;
    } else {
        w->failed_tiles += tiles;
        w->failed_jobs++;
    }
}

/* One completion event (tq_event_each): moves past it; a final one (ok or dead; "partial",
 * an interactive job's first tile, is not) finishes its job if it is ours. */
static void on_event(const struct tq_event *ev, void *arg)
{
    struct warm *w = arg;
    snprintf(w->last_id, sizeof w->last_id, "%s", ev->stream_id);
    if (ev->job_id && tq_event_is_final(ev->status))
        job_finished(w, ev->job_id, ev->status == TQ_EV_OK);
}

/* Reads completion events after last_id, waiting up to block_ms (0: do not wait). */
static int read_events(struct warm *w, int block_ms)
{
    redisReply *r;
    int rc = -1;
    if (block_ms > 0)
        r = redisCommand(w->c, "XREAD COUNT 1000 BLOCK %d STREAMS %s %s", block_ms,
                         TQ_QUEUE_EVENTS_KEY, w->last_id);
    else
        r = redisCommand(w->c, "XREAD COUNT 1000 STREAMS %s %s", TQ_QUEUE_EVENTS_KEY, w->last_id);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        snprintf(w->err, sizeof w->err, "redis: reading %s: %s", TQ_QUEUE_EVENTS_KEY,
                 r ? r->str : w->c->errstr);
        goto cleanup;
    }
    tq_event_each(r, on_event, w);
    rc = 0;
cleanup:
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Catches completions whose event was missed (stream trimmed, Redis restarted): a job of
 * ours whose hash is gone finished; one in state dead failed. */
static int reconcile(struct warm *w)
{
    size_t pos = 0, n = 0;
    const void *key;
    char **ids = NULL;
    int rc = -1;

    size_t count = tq_map_count(w->outstanding);
    if (count == 0)
        return 0;
    ids = calloc(count, sizeof *ids);
    if (ids == NULL)
        goto oom;
    while (n < count && tq_map_next(w->outstanding, &pos, &key, NULL) != NULL) {
        const char *id = key;
        ids[n] = strdup(id);
        if (ids[n] == NULL)
            goto oom;
        redisAppendCommand(w->c, "HGET %s%s " TQ_JOB_F_STATE, TQ_QUEUE_JOB_KEY_PREFIX, id);
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(w->c, (void **)&r) != REDIS_OK || r == NULL) {
            snprintf(w->err, sizeof w->err, "redis: %s", w->c->errstr);
            goto cleanup;
        }
        if (r->type == REDIS_REPLY_NIL)
            job_finished(w, ids[i], 1);
        else if (r->type == REDIS_REPLY_STRING && strcmp(r->str, TQ_STATE_DEAD) == 0)
            job_finished(w, ids[i], 0);
        freeReplyObject(r);
    }
    rc = 0;
    goto cleanup;
oom:
    snprintf(w->err, sizeof w->err, "out of memory");
cleanup:
    for (size_t i = 0; ids && i < count; i++)
        free(ids[i]);
    free(ids);
    return rc;
}

static void progress(struct warm *w, int final)
{
    int64_t now = tq_now_ms();
    int interval = w->tty ? 200 : 5000;
    if (!final && now - w->last_progress_ms < interval)
        return;
    if (final && !w->tty && !w->o->wait)
        return;
    w->last_progress_ms = now;
    long long done = w->skipped_tiles + w->rendered_tiles + w->failed_tiles;
    double secs = (double)(now - w->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)w->rendered_tiles / secs : 0;
    char eta[32] = "?";
    if (done >= w->total_tiles)
        snprintf(eta, sizeof eta, "0s");
    else if (rate > 0)
        tq_cli_duration((int64_t)((double)(w->total_tiles - done) / rate * 1000.0), eta,
                        sizeof eta);
    double frac = w->total_tiles > 0 ? (double)done / (double)w->total_tiles : 1.0;
    if (frac > 1)
        frac = 1;
    if (w->tty) {
        char bar[31];
        int filled = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %lld/%lld tiles %5.1f%%  %.1f tiles/s  ETA %s  failed %ld\033[K%s",
                bar, done, w->total_tiles, frac * 100, rate, eta, w->failed_jobs,
                final ? "\n" : "");
    } else {
        fprintf(stderr,
                "warm %s: %lld/%lld tiles (%.1f%%, %lld cached), %.1f tiles/s, ETA %s, "
                "failed %ld, %zu jobs in flight\n",
                w->ts->name, done, w->total_tiles, frac * 100, w->skipped_tiles, rate, eta,
                w->failed_jobs, tq_map_count(w->outstanding));
    }
    fflush(stderr);
}

/* Queues one metatile. 1 queued (or already done), 0 the class is full (try later), -1 error. */
static int enqueue_one(struct warm *w, const struct tq_metatile *m)
{
    struct tq_job job;
    char id[TQ_JOB_ID_MAX];
    struct tq_tile t = {m->z, m->mx, m->my};
    uint32_t tiles = tq_metatile_count(m);

    if (tq_job_init(&job, w->ts->name, t, w->ts->metatile, TQ_CLASS_BULK, TQ_REASON_WARM,
                    tq_now_ms()) != 0) {
        snprintf(w->err, sizeof w->err, "cannot make a job for %d/%u/%u", m->z, m->mx, m->my);
        return -1;
    }
    tq_job_id(&job, id, sizeof id);
    enum tq_enqueue_mode mode = w->o->force ? TQ_ENQ_MODE_REFRESH : TQ_ENQ_MODE_WARM;
    int64_t cool_ms = (int64_t)w->cfg->queue.dead_cooldown_seconds * 1000;
    enum tq_enqueue_result res = tq_queue_enqueue(w->c, &job, w->cfg->queue.cap[TQ_CLASS_BULK],
                                                  mode, cool_ms, 0, w->err, sizeof w->err);
    if (res == TQ_ENQ_DONE && !all_cached(w, m)) {
        /* Finished a moment ago, yet tiles are missing (expired or deleted since): the done
         * marker must not stop this metatile from being rendered again. */
        res = tq_queue_enqueue(w->c, &job, w->cfg->queue.cap[TQ_CLASS_BULK], TQ_ENQ_MODE_REFRESH,
                               cool_ms, 0, w->err, sizeof w->err);
    }
    switch (res) {
    case TQ_ENQ_FULL:
        return 0;
    case TQ_ENQ_ERROR:
        return -1;
    case TQ_ENQ_DEAD: /* dead-lettered, cooling down: nothing is rendered, it failed */
        w->failed_tiles += tiles;
        w->failed_jobs++;
        w->dead_jobs++;
        w->err[0] = '\0';
        return 1;
    case TQ_ENQ_DONE: /* finished a moment ago and its tiles are in the cache */
        w->skipped_tiles += tiles;
        w->recent_jobs++;
        return 1;
    default: {
        int added;
        long *v = tq_map_str_put(w->outstanding, id, &added);
        if (v == NULL) {
            snprintf(w->err, sizeof w->err, "out of memory");
            return -1;
        }
        if (added) /* an id given again keeps its first count */
            *v = (long)tiles;
        w->queued_jobs++;
        if (res == TQ_ENQ_NEW)
            w->bulk_len++;
        return 1;
    }
    }
}

static int warm_run(struct warm *w, struct warm_gen *g)
{
    struct tq_metatile m;
    int have = 0, gen_done = 0;

    for (;;) {
        /* Feed up to the low-water mark. */
        while (!gen_done && w->bulk_len < w->o->max_queued) {
            if (!have) {
                int r = gen_next(g, &m);
                if (r < 0) {
                    snprintf(w->err, sizeof w->err, "out of memory");
                    return -1;
                }
                if (r == 0) {
                    gen_done = 1;
                    break;
                }
                if (!w->o->force && all_cached(w, &m)) {
                    w->skipped_tiles += tq_metatile_count(&m);
                    w->skipped_jobs++;
                    if ((w->skipped_jobs & 1023) == 0)
                        progress(w, 0);
                    continue;
                }
                have = 1;
            }
            int r = enqueue_one(w, &m);
            if (r < 0)
                return -1;
            if (r == 0) { /* over the class's cap: wait for it to drain */
                w->bulk_len = w->o->max_queued;
                break;
            }
            have = 0;
        }
        if (gen_done && (!w->o->wait || tq_map_count(w->outstanding) == 0))
            break;
        if (read_events(w, 1000) != 0)
            return -1;
        if (refresh_bulk_len(w) != 0)
            return -1;
        int64_t now = tq_now_ms();
        if (now - w->last_reconcile_ms >= 5000) {
            w->last_reconcile_ms = now;
            if (reconcile(w) != 0)
                return -1;
        }
        if (w->o->wait || w->tty)
            progress(w, 0);
    }
    return 0;
}

int tq_cli_warm(const char *config_path, int argc, char **argv)
{
    struct tq_area_cmd a;
    struct tq_map *seen = NULL;
    struct warm w;
    struct warm_gen g;
    char err[1024];
    int status;

    memset(&w, 0, sizeof w);
    status = tq_area_cmd_start(&a, "warm", WARM_USAGE, tq_warm_opts_parse, "--zoom: ", config_path,
                               argc, argv);
    if (status >= 0)
        return status;
    status = TQ_EXIT_FAIL;
    const struct tq_area_opts *o = &a.o;
    const struct tq_tileset_config *ts = a.ts;
    const int lo = a.lo, hi = a.hi;

    w.cfg = a.cfg;
    w.ts = ts;
    w.o = o;
    w.tty = isatty(STDERR_FILENO);
    w.outstanding = tq_map_new(0, sizeof(long));
    if (w.outstanding == NULL)
        goto oom;

    /* Total tiles: arithmetic for a bbox, a counting pass for a list. */
    if (o->tiles == NULL) {
        for (int z = lo; z <= hi; z++) {
            struct tq_tile_range r;
            if (tq_tile_range_from_lonlat(o->bbox[0], o->bbox[1], o->bbox[2], o->bbox[3], z, &r) ==
                0)
                w.total_tiles += (long long)tq_tile_range_metatile_tiles(&r, ts->metatile);
        }
    } else {
        struct tq_metatile m;
        int r;
        seen = tq_map_new(0, 0);
        if (seen == NULL)
            goto oom;
        gen_init(&g, o, ts, a.tiles, a.ntiles, lo, hi, seen);
        while ((r = gen_next(&g, &m)) == 1)
            w.total_tiles += tq_metatile_count(&m);
        if (r < 0)
            goto oom;
        tq_map_clear(seen);
    }
    gen_init(&g, o, ts, a.tiles, a.ntiles, lo, hi, seen);

    w.c = tq_cli_redis_connect("warm", a.cfg);
    if (w.c == NULL)
        goto cleanup;
    if (tq_cli_events_last_id(w.c, w.last_id, sizeof w.last_id, err, sizeof err) != 0) {
        fprintf(stderr, "tileq warm: %s\n", err);
        goto cleanup;
    }
    if (refresh_bulk_len(&w) != 0) {
        fprintf(stderr, "tileq warm: %s\n", w.err);
        goto cleanup;
    }
    w.start_ms = w.last_reconcile_ms = tq_now_ms();
    if (warm_run(&w, &g) != 0) {
        if (w.tty)
            fputc('\n', stderr);
        fprintf(stderr, "tileq warm: %s\n", w.err);
        goto cleanup;
    }
    progress(&w, 1);
    double secs = (double)(tq_now_ms() - w.start_ms) / 1000.0;
    printf("warm %s z%d-%d: %lld tiles in %ld metatiles: %ld cached (skipped), %ld queued, "
           "%ld rendered a moment ago, %ld dead-lettered (not rendered)",
           ts->name, lo, hi, w.total_tiles,
           w.skipped_jobs + w.queued_jobs + w.recent_jobs + w.dead_jobs, w.skipped_jobs,
           w.queued_jobs, w.recent_jobs, w.dead_jobs);
    if (o->wait)
        printf("; %lld tiles rendered in %.1f s (%.1f tiles/s), %ld jobs failed\n",
               w.rendered_tiles, secs, secs > 0 ? (double)w.rendered_tiles / secs : 0.0,
               w.failed_jobs);
    else
        printf(" (not waiting for them: --wait follows them to the end)\n");
    fflush(stdout);
    if (w.failed_jobs > 0) {
        fprintf(stderr,
                "tileq warm: %ld jobs failed and were dead-lettered (tileq deadletter "
                "list)\n",
                w.failed_jobs);
        goto cleanup;
    }
    status = TQ_EXIT_OK;
    goto cleanup;
oom:
    fprintf(stderr, "tileq warm: out of memory\n");
cleanup:
    if (w.c)
        redisFree(w.c);
    tq_map_free(w.outstanding);
    tq_map_free(seen);
    tq_area_cmd_free(&a);
    return status;
}

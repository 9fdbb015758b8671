/* tileq expire — deletes cached tiles after the data changed, optionally re-rendering them.
 *
 * Each listed tile (osm2pgsql expire format, or the tiles of a bbox per zoom) is expanded to
 * its parents and children within the zoom range, as tegola's cache purge does. Per affected
 * metatile, in this order:
 *   1. tq_queue_expire_mark: a render in flight is marked to run again when it ends (it may
 *      have read the data before the change), the done marker is dropped, and a
 *      dead-lettered job is dropped (the data it failed on changed: its cool-down ends);
 *   2. the affected tiles are deleted from the cache (only those: a metatile's other tiles
 *      are left alone);
 * marking before deleting means a render that ends in between is re-run, and one writing
 * after the delete is re-run too, so no stale tile survives. With --rerender, once every
 * tile is deleted, each affected metatile is queued in the dirty class (reason expire; a
 * bulk job already queued is promoted), so nothing deleted can be re-rendered before the
 * last delete. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_cache.h"
#include "tq_cli.h"
#include "tq_cliutil.h"
#include "tq_map.h"
#include "tq_queue.h"
#include "tq_tilespec.h"
#include "tq_time.h"

static const char EXPIRE_USAGE[] =
    "usage: tileq [-c FILE] expire --tileset T (--tiles FILE|- | --bbox W,S,E,N --zoom A-B)\n"
    "                           [--min-zoom A] [--max-zoom B] [--rerender]\n"
    "\n"
    "Deletes cached tiles: each listed tile and its parents and children within the zoom\n"
    "range (default: the tileset's; --zoom for a bbox). Renders of affected metatiles in\n"
    "flight are marked to render again; dead-lettered ones are dropped (their cool-down\n"
    "ends: the next request renders them).\n"
    "\n"
    "  --tileset T        the tileset (as in the configuration)\n"
    "  --tiles FILE       tiles z/x/y, one per line (osm2pgsql expire format; - = stdin)\n"
    "  --bbox W,S,E,N     lon/lat degrees, with --zoom A-B\n"
    "  --min-zoom A, --max-zoom B   the zoom range tiles are expanded over\n"
    "  --rerender         queue the affected metatiles in the dirty class\n"
    "\n"
    "Exit status: 0 done, 1 failure (Redis, cache), 2 bad arguments.\n";

struct expire {
    const struct tq_config *cfg;
    const struct tq_tileset_config *ts;
    redisContext *c;
    struct tq_map *metatiles; /* job ids of the affected metatiles (a set, owned) */
    struct tq_map *deleted;   /* single tiles "z/x/y" already deleted (shared parents; a set) */
    long long removed, examined;
    long marked, requeued, enqueued_new;
    char err[512];
};

/* Deletes the tiles of r inside m. */
static int delete_range(struct expire *e, const struct tq_tile_range *r)
{
    for (uint32_t y = r->ymin; y <= r->ymax; y++) {
        for (uint32_t x = r->xmin;; x++) {
            struct tq_tile t = {r->z, x, y};
            e->examined++;
            int rc = tq_cache_remove(e->cfg->cache_dir, e->ts->name, t);
            if (rc < 0) {
                snprintf(e->err, sizeof e->err, "cannot delete tile %d/%u/%u: %s", t.z, x, y,
                         strerror(errno));
                return -1;
            }
            e->removed += rc;
            if (x == r->xmax)
                break;
        }
        if (y == r->ymax)
            break;
    }
    return 0;
}

/* Marks and clears every metatile meeting r. */
static int expire_range(struct expire *e, const struct tq_tile_range *r)
{
    struct tq_metatile_iter it;
    struct tq_metatile m;

    if (r->xmin == r->xmax && r->ymin == r->ymax) {
        char key[48];
        int added;
        snprintf(key, sizeof key, "%d/%u/%u", r->z, r->xmin, r->ymin);
        if (tq_map_str_put(e->deleted, key, &added) == NULL)
            goto oom;
        if (!added)
            return 0;
    }
    tq_metatile_iter_init(&it, r, e->ts->metatile);
    while (tq_metatile_iter_next(&it, &m)) {
        char id[TQ_JOB_ID_MAX], state[32];
        struct tq_tile_range part;
        int added;
        snprintf(id, sizeof id, "%s/%d/%u/%u", e->ts->name, m.z, m.mx, m.my);
        if (tq_map_str_put(e->metatiles, id, &added) == NULL)
            goto oom;
        if (added) {
            int mk = tq_queue_expire_mark(e->c, id, state, sizeof state, e->err, sizeof e->err);
            if (mk < 0)
                return -1;
            e->marked += mk;
        }
        if (tq_tile_range_clip(r, &m, &part) && delete_range(e, &part) != 0)
            return -1;
    }
    return 0;
oom:
    snprintf(e->err, sizeof e->err, "out of memory");
    return -1;
}

static int rerender(struct expire *e)
{
    size_t pos = 0;
    const void *key;
    while (tq_map_next(e->metatiles, &pos, &key, NULL) != NULL) {
        const char *id = key;
        struct tq_tile t;
        struct tq_job job;
        const char *slash = strchr(id, '/');
        if (slash == NULL || tq_tile_parse(slash + 1, &t) != 0 ||
            tq_job_init(&job, e->ts->name, t, e->ts->metatile, TQ_CLASS_DIRTY, TQ_REASON_EXPIRE,
                        tq_now_ms()) != 0) {
            snprintf(e->err, sizeof e->err, "bad metatile id %s", id);
            return -1;
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
                e->requeued++;
                e->enqueued_new += res == TQ_ENQ_NEW;
                break;
            }
            if (waited % 10 == 0)
                fprintf(stderr, "tileq expire: the dirty class is full (%ld jobs); waiting\n",
                        e->cfg->queue.cap[TQ_CLASS_DIRTY]);
            sleep(1);
        }
    }
    return 0;
}

int tq_cli_expire(const char *config_path, int argc, char **argv)
{
    struct tq_area_cmd a;
    struct expire e;
    int status;

    memset(&e, 0, sizeof e);
    /* Reads (and checks) the whole tile list before anything is deleted. */
    status = tq_area_cmd_start(&a, "expire", EXPIRE_USAGE, tq_expire_opts_parse, "", config_path,
                               argc, argv);
    if (status >= 0)
        return status;
    status = TQ_EXIT_FAIL;
    const struct tq_area_opts *o = &a.o;
    const struct tq_tileset_config *ts = a.ts;
    const int lo = a.lo, hi = a.hi;
    e.cfg = a.cfg;
    e.ts = ts;
    e.metatiles = tq_map_new(0, 0);
    e.deleted = tq_map_new(0, 0);
    if (e.metatiles == NULL || e.deleted == NULL) {
        fprintf(stderr, "tileq expire: out of memory\n");
        goto cleanup;
    }
    e.c = tq_cli_redis_connect("expire", a.cfg);
    if (e.c == NULL)
        goto cleanup;

    for (int z = lo; z <= hi; z++) {
        struct tq_tile_range r;
        if (o->tiles == NULL) {
            if (tq_tile_range_from_lonlat(o->bbox[0], o->bbox[1], o->bbox[2], o->bbox[3], z, &r) ==
                    0 &&
                expire_range(&e, &r) != 0)
                goto failed;
            continue;
        }
        for (long i = 0; i < a.ntiles; i++) {
            r = tq_tile_range_at_zoom(a.tiles[i], z);
            if (expire_range(&e, &r) != 0)
                goto failed;
        }
    }
    if (o->rerender && rerender(&e) != 0)
        goto failed;

    printf("expire %s z%d-%d: %lld tiles deleted (%lld looked at) in %zu metatiles; %ld renders "
           "in flight marked to render again",
           ts->name, lo, hi, e.removed, e.examined, tq_map_count(e.metatiles), e.marked);
    if (o->rerender)
        printf("; %ld metatiles queued for re-rendering (dirty class, %ld new)", e.requeued,
               e.enqueued_new);
    printf("\n");
    status = TQ_EXIT_OK;
    goto cleanup;
failed:
    fprintf(stderr, "tileq expire: %s\n", e.err);
cleanup:
    if (e.c)
        redisFree(e.c);
    tq_map_free(e.metatiles);
    tq_map_free(e.deleted);
    tq_area_cmd_free(&a);
    return status;
}

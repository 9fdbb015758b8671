/* tq_expire — expiring cached tiles after a data change, shared by `tileq expire` and
 * `tileq watch run` (one expire, two front ends). Per affected metatile, in this order:
 *   1. tq_queue_expire_mark: a render in flight is marked to run again when it ends (it may
 *      have read the data before the change), the done marker is dropped, and a
 *      dead-lettered job is dropped (the data it failed on changed: its cool-down ends);
 *   2. the affected tiles are deleted from the cache (tq_cache_remove; only those: a
 *      metatile's other tiles are left alone);
 * marking before deleting means a render that ends in between is re-run, and one writing
 * after the delete is re-run too, so no stale tile survives. tq_expire_rerender then queues
 * the affected metatiles in the dirty class (a bulk job already queued is promoted), once
 * every tile is deleted, so nothing deleted can be re-rendered before the last delete.
 *
 * A range of more than TQ_EXPIRE_SCAN_TILES tiles is not walked tile by tile: its cached
 * tiles are found by reading the cache's directories (tq_cache_scan.h) and the renders in
 * flight among its metatiles from the running set, so the cost follows what is cached and
 * running, not the size of the range (a whole zoom of the world). */
#ifndef TQ_EXPIRE_H
#define TQ_EXPIRE_H

#include <signal.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "tq_config.h"
#include "tq_job.h"
#include "tq_tile.h"

#define TQ_EXPIRE_SCAN_TILES 4096

struct tq_expire;

struct tq_expire_stats {
    long long removed, examined; /* tiles deleted, tiles looked at */
    size_t metatiles;            /* metatiles affected */
    long marked;                 /* renders in flight marked to render again */
    long requeued, enqueued_new; /* metatiles queued by tq_expire_rerender, of them new jobs */
    long skipped_uncached;       /* metatiles not queued: nothing of them was cached */
};

/* A new expiry over cfg (borrowed, must outlive it) through Redis connection c (borrowed).
 * reason: what a render in flight it marks carries when it renders again (expire for
 * `tileq expire`, change for the watcher). NULL on OOM. */
struct tq_expire *tq_expire_new(const struct tq_config *cfg, redisContext *c,
                                enum tq_job_reason reason);
void tq_expire_free(struct tq_expire *e);

/* Forgets the affected metatiles and deleted tiles (and the figures), for the next batch. */
void tq_expire_reset(struct tq_expire *e);

/* Marks and clears every metatile of tileset ts meeting r (steps 1 and 2). 0, or -1 (see
 * tq_expire_error). */
int tq_expire_range(struct tq_expire *e, const struct tq_tileset_config *ts,
                    const struct tq_tile_range *r);

/* Queues the affected metatiles in the dirty class with reason. only_cached: only those
 * whose tiles were (partly) cached, i.e. something was deleted. max_queued > 0: waits
 * (polling every 100 ms) while the dirty class holds max_queued jobs or more, so Redis never
 * holds more than that many dirty jobs from this caller; a full class (its cap) is waited
 * on too. *stop (may be NULL) set meanwhile ends the wait: returns 1 then. 0 done, -1 error. */
int tq_expire_rerender(struct tq_expire *e, enum tq_job_reason reason, int only_cached,
                       long max_queued, volatile sig_atomic_t *stop);

struct tq_expire_stats tq_expire_stats(const struct tq_expire *e);
const char *tq_expire_error(const struct tq_expire *e);

#endif

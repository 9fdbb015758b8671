/* tq_watch_run — `tileq watch run`, the watcher: a long-running process that turns the rows
 * of tileq.changes (tq_watch_sql.h) into expired tiles and dirty re-renders.
 *
 * Why a process of its own rather than a leader among the workers: it needs PostgreSQL's
 * LISTEN (a session of its own, outside the render connections' settings and timeouts) and
 * the cache (deletes), and its one-at-a-time rule is PostgreSQL's own: it holds a session
 * advisory lock while it runs, so a second watcher (a standby on another host) waits and
 * takes over the moment the first one's session ends (crash, kill, network loss). A Redis
 * lease would add a second clock and a fencing problem for something the database that
 * holds the changes already answers.
 *
 * Which tileset reads which table is found at start, and again when a change of a table not
 * known then arrives (installed since).
 *
 * The loop: wait for a NOTIFY (or 1 s, in case one was missed while reconnecting); read up
 * to --batch changes in id order; per table, per tileset that reads it and zoom it reads it
 * at, each old and new extent becomes a tile range (with the tileset's buffer,
 * tq_watch_tiles.h); per tileset and zoom the ranges are merged, and past
 * --max-tiles-per-zoom replaced by their bounding range; each range is expired as `tileq
 * expire` does (tq_expire.h: mark renders in flight, delete cached tiles), then every
 * metatile that had cached tiles is queued in the dirty class with reason `change`, never
 * more than --max-queued dirty jobs in Redis at once. Only then, in one transaction, the
 * consumed changes are deleted and tileq.watch_position (last id, count) is updated.
 *
 * Durable position: the changes themselves are the queue. Sequence values commit out of
 * order (a transaction that took id 5 may commit after one that took id 6 was consumed),
 * so "everything above the last id" would skip id 5; instead every row still in
 * tileq.changes is pending, whatever its id, and consuming a row is deleting it in the same
 * transaction that advances the position (kept for status: last id, total consumed). A
 * watcher killed before that commit finds the batch again and expires it once more: at most
 * one extra render per metatile of the batch in flight, never a missed change. */
#ifndef TQ_WATCH_RUN_H
#define TQ_WATCH_RUN_H

#include <hiredis/hiredis.h>

#include "tq_config.h"

struct tq_watch_run_opts {
    long batch;              /* changes read at once, default 1000 */
    long max_tiles_per_zoom; /* per tileset and zoom and batch, default 4096 */
    long max_queued;         /* dirty jobs in Redis at most, default 256 */
    int once;                /* drain the backlog, then exit */
};

/* Runs until SIGTERM/SIGINT (or, with once, until the backlog is empty). cfg is borrowed.
 * Returns the exit status (0 on a signal; 1 when it cannot start: nothing installed). */
int tq_watch_run(const struct tq_config *cfg, const struct tq_watch_run_opts *o);

/* The figures the watcher last wrote into Redis (TQ_WATCH_KEY): backlog, oldest change's age
 * (ms), last id consumed, when written (unix ms). 1 read, 0 none (no watcher ran within
 * TQ_WATCH_TTL_MS), -1 Redis error. For `tileq status`. */
struct tq_watch_figures {
    long long backlog, oldest_ms, last_id, updated_ms;
};
int tq_watch_figures_read(redisContext *c, struct tq_watch_figures *f);

#endif

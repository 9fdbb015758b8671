/* tq_wait — the requests that wait for a render: a miss joins the entry of its metatile
 * (tq_pending.h), the entry's job is enqueued in Redis, and the waiters are answered from
 * the cache when the completion event arrives (tq_events.h).
 *
 *           tq_wait_serve: no entry               ENQUEUE reply new/coalesced/
 *   (request) ─────────────────────▶ pending + ENQUEUE ──promoted/running──▶ waiting
 *       │ tq_wait_serve: entry exists     │ full/error/timeout/disconnect      │ event ok: read
 * cache └──────────▶ joins as waiter      ▼ 503 to all waiters                 │ event dead: 500
 *                                      (removed)  ◀────────────────────────────┘ render timer: 504
 *   ENQUEUE reply done → read the cache now (enqueue once more if a tile is still missing).
 *   "partial" event → the waiters whose tile is cached are answered, the others wait on.
 *
 * While Redis is unreachable (command connection down, or an ENQUEUE failed for a connection
 * reason) an entry is HELD instead of failed (queue.hold_seconds, queue.hold_max):
 *
 *   new miss / ENQUEUE failed / connection lost            connection UP: cache re-read,
 *   ──────────────────────────────────────────▶ HELD ───────────────────────────────────▶ ENQUEUE
 *   (tq_wait_redis_down)  a waiter's hold ran out │ (tq_wait_redis_up)
 *                                                 ▼ its tile from the cache, else 503 + Retry-After
 * The 504 timer (render_timeout_seconds) runs from the last accepted ENQUEUE, never while
 * held: a request waits at most hold_seconds for Redis, then render_timeout_seconds, per
 * outage it meets.
 *
 * A waiter whose client goes away is forgotten (tq_wait_client_gone, or a peek at its
 * socket); an entry left without waiters is removed, and its job released in Redis (the
 * queue may demote it: tq_queue.h, Holders). */
#ifndef TQ_WAIT_H
#define TQ_WAIT_H

#include <stddef.h>

#include <event2/event.h>
#include <event2/http.h>

#include "tq_cmetrics.h"
#include "tq_config.h"
#include "tq_event.h"
#include "tq_pending.h"
#include "tq_rconn.h"
#include "tq_tile.h"
#include "tq_web.h"

struct tq_conn;
struct tq_wait;

/* Called (with arg) whenever an entry leaves the table: whatever waits for the table to
 * empty (the drain) may look. */
typedef void (*tq_wait_change_fn)(void *arg);

/* cfg, web, metrics and cmd (the command connection) are borrowed: they must outlive the
 * requests in flight (cmd until tq_wait_stop). NULL on OOM. */
struct tq_wait *tq_wait_new(struct event_base *base, const struct tq_config *cfg,
                            struct tq_web *web, struct tq_cmetrics *metrics, struct tq_rconn *cmd,
                            tq_wait_change_fn on_change, void *arg);

/* Serves a GET of tile t of ts: from the cache (X-Tileq: hit), else as a waiter of its
 * metatile's entry (joined, or a new entry whose job is enqueued: miss), else 503 (Redis
 * unreachable, holding off or full) or 500 (OOM, or c NULL: no connection to watch). */
void tq_wait_serve(struct tq_wait *wt, struct evhttp_request *req, struct tq_conn *c,
                   const struct tq_tileset_config *ts, struct tq_tile t);

/* evhttp frees w's connection: w forgets its request (frees it when evhttp detached it),
 * never answers it; an entry left without waiters goes. */
void tq_wait_client_gone(struct tq_waiter *w);

/* A completion event: ok → the waiters get their tiles (one more ENQUEUE for a missing one,
 * then 503); partial → those whose tile is cached; dead → 500 with the reason. */
void tq_wait_event(struct tq_wait *wt, const struct tq_event *ev);

/* Answers every waiter whose tile is in the cache now (a completion may have slipped by). */
void tq_wait_recheck_all(struct tq_wait *wt);

/* The command connection came UP (again): Redis may have lost the queue, so every entry
 * not in flight is rechecked (if held) and enqueued once more. */
void tq_wait_redis_up(struct tq_wait *wt);

/* The command connection was lost: every entry is held (with holding on). */
void tq_wait_redis_down(struct tq_wait *wt);

/* Answers every waiter code (with Retry-After when retry_after > 0) and empties the table.
 * Returns the waiters answered. */
size_t tq_wait_fail_all(struct tq_wait *wt, int code, const char *reason, int retry_after);

/* From now on ENQUEUE replies are dropped (the coordinator is closing cmd). */
void tq_wait_stop(struct tq_wait *wt);

struct tq_pending_counts tq_wait_counts(const struct tq_wait *wt);

/* Frees wt (its table must be empty: tq_wait_fail_all, and cmd freed so that every ENQUEUE
 * reply ran). NULL is a no-op. */
void tq_wait_free(struct tq_wait *wt);

#endif

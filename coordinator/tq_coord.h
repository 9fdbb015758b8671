/* tq_coord — the coordinator's HTTP server: serves tiles from the cache, and for a miss
 * enqueues the metatile's render job in Redis and answers when the completion event
 * arrives. One libevent loop; hiredis async connections on the same loop; nothing blocks
 * except reading a tile file from the local cache.
 *
 * A request for an uncached tile becomes a waiter on the pending entry of its job (one
 * entry per metatile id, in process):
 *
 *              serve_tile: no entry                 ENQUEUE reply new/coalesced/
 *   (request) ─────────────────────▶ pending + ENQUEUE ──promoted/running──▶ waiting
 *       │ serve_tile: entry exists        │ full/error/timeout/disconnect      │ event ok: read
 * cache └──────────▶ joins as waiter      ▼ 503 to all waiters                 │ event dead: 500
 *                                      (removed)  ◀────────────────────────────┘ render timer: 504
 *   ENQUEUE reply done → read the cache now (enqueue once more if a tile is still missing).
 *
 * While Redis is unreachable (command connection down, or an ENQUEUE failed for a connection
 * reason) an entry is HELD instead of failed (queue.hold_seconds, queue.hold_max):
 *
 *   new miss / ENQUEUE failed / connection lost            connection UP: cache re-read,
 *   ──────────────────────────────────────────▶ HELD ───────────────────────────────────▶ ENQUEUE
 *                      a waiter's hold ran out │ (reenqueue_all)
 *                                              ▼ its tile from the cache, else 503 + Retry-After
 * The 504 timer (render_timeout_seconds) runs from the last accepted ENQUEUE, never while
 * held: a request waits at most hold_seconds for Redis, then render_timeout_seconds.
 *
 * Client connections: at most http.max_connections (the listener is disabled at the cap
 * until one closes); a request must arrive whole within http.read_deadline_seconds of its
 * first byte (idle kept-alive connections keep evhttp's 30 s idle timeout).
 *
 * Every answered request is counted for GET /metrics (tq_cmetrics.h) when its reply went
 * out. Shutdown is graceful (tq_coord_drain): no new connection, idle ones closed, waiters
 * answered as usual, then the loop ends.
 */
#ifndef TQ_COORD_H
#define TQ_COORD_H

#include <stddef.h>

#include <event2/event.h>

#include "tq_config.h"

struct tq_coord;

/* Creates the coordinator on base: binds the listen address from cfg and starts the two
 * Redis connections (commands, events). cfg must outlive it. Returns NULL with a message in
 * err. The caller frees with tq_coord_free(). */
struct tq_coord *tq_coord_new(struct event_base *base, const struct tq_config *cfg, char *err,
                              size_t errsize);

/* Port actually bound (useful with port 0). */
int tq_coord_port(const struct tq_coord *co);

/* Graceful shutdown: stops accepting connections, closes the idle kept-alive ones, answers
 * every new request 503 + Connection: close, and lets the requests waiting for a render go
 * on (each still bounded by render_timeout_seconds); their replies close their connections.
 * Calls done(arg) once, from the loop, when no request waits and every client connection
 * is closed, or grace_seconds after the call (what still waits then gets 503, given
 * DRAIN_FLUSH_MS to go out). /metrics and /health answer 503 meanwhile. Idempotent; the
 * caller then leaves the loop and calls tq_coord_free. */
void tq_coord_drain(struct tq_coord *co, int grace_seconds, void (*done)(void *arg), void *arg);

/* Stops accepting, answers every pending request 503, closes Redis. The loop can then
 * exit once the replies are flushed. Idempotent. */
void tq_coord_shutdown(struct tq_coord *co);

/* Frees everything (calls tq_coord_shutdown first if needed). */
void tq_coord_free(struct tq_coord *co);

#endif

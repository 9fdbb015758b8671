/* tq_coord — the coordinator's HTTP server: serves tiles from the cache, and for a miss
 * enqueues the metatile's render job in Redis and answers when the completion event
 * arrives. One libevent loop; hiredis async connections on the same loop; nothing blocks
 * except reading a tile file from the local cache.
 *
 * A request for an uncached tile becomes a waiter on the pending entry of its job, held
 * while Redis is unreachable (tq_wait.h has the diagrams; tq_pending.h the table). Client
 * connections are capped and their requests must arrive in time (tq_conns.h); completion
 * events come on a connection of their own (tq_events.h).
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

/* Graceful shutdown: stops accepting connections, closes the idle kept-alive ones, answers
 * every new request 503 + Connection: close, and lets the requests waiting for a render go
 * on (each still bounded by render_timeout_seconds); their replies close their connections.
 * Calls done(arg) once, from the loop, when no request waits and every client connection
 * is closed, or grace_seconds after the call (what still waits then gets 503, given
 * DRAIN_FLUSH_MS to go out). /metrics and /health answer 503 meanwhile. Idempotent; the
 * caller then leaves the loop and calls tq_coord_free. */
void tq_coord_drain(struct tq_coord *co, int grace_seconds, void (*done)(void *arg), void *arg);

/* Stops accepting, answers every request still waiting 503, closes Redis, and frees
 * everything. NULL is a no-op. */
void tq_coord_free(struct tq_coord *co);

#endif

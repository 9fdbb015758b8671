/* tq_upkeep — the worker's periodic duties, each run when due from the main loop (and the
 * registry also from a long render's heartbeats):
 *   every ~5 s  registry entry                       (tq_publish_register)
 *   every ~1 s  tq_queue_reap                        (expired leases of anyone)
 *   every ~2 s  tq_renderlog_flush                   (Redis stream -> PostgreSQL)
 *   every ~1 s while rendering, ~15 s otherwise: figures (tq_publish_figures)
 *   every ~60 s and after every (re)connect: schema  (tq_publish_schema)
 * A new Redis connection makes the registry and the schema due at once, a new PostgreSQL
 * connection the schema (its layers were described again). */
#ifndef TQ_UPKEEP_H
#define TQ_UPKEEP_H

#include <stdint.h>

struct tq_worker;

/* When each duty is next due (unix ms), and the connection epochs it last ran on
 * (tq_wconn.h). A plain value: zero it to start (everything due). */
struct tq_upkeep {
    int64_t next_register, next_reap, next_flush, next_schema;
    unsigned register_redis_epoch, schema_redis_epoch, schema_pg_epoch;
    char flush_err[512]; /* last flush error, logged once until it changes */
};

/* Runs every duty that is due (those that need a connection only while it is up). */
void tq_upkeep_run(struct tq_worker *w);

/* Writes the registry entry when due (also called between heartbeats of a long render). */
void tq_upkeep_register_if_due(struct tq_worker *w);

/* The worker stops: moves its last render-log entries now (rather than leaving them to
 * another worker's next flush), publishes its last figures (kept for their TTL) and leaves
 * the registry. */
void tq_upkeep_stop(struct tq_worker *w);

#endif

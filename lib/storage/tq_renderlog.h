/* tq_renderlog — the per-tile render log.
 *
 * Workers append one entry per rendered tile to the Redis stream {tq}:renderlog (one
 * pipelined round trip per metatile, never slowing a render). tq_renderlog_flush() moves
 * entries into PostgreSQL table tileq.render_log (sql/render_log.sql) in batches through
 * the consumer group "pg": rows are keyed by the stream entry id, inserted with
 * ON CONFLICT DO NOTHING, and acknowledged (XACK + XDEL) only after COMMIT, so nothing is
 * lost while PostgreSQL is away and nothing is written twice when a batch is retried. */
#ifndef TQ_RENDERLOG_H
#define TQ_RENDERLOG_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "tq_job.h"

struct tq_renderlog_entry {
    const char *tileset;
    struct tq_tile tile;
    const char *job_id; /* the metatile id "tileset/z/mx/my" */
    int attempt;
    enum tq_job_reason reason;
    const char *worker;
    int64_t started_ms; /* when the metatile's SQL started, unix ms */
    double duration_ms; /* this tile's share of the metatile's SQL time */
    double metatile_ms; /* the whole metatile's SQL time */
    size_t bytes;       /* 0 for an empty tile */
};

/* Appends n entries in one pipelined round trip. 0, or -1 with err set. */
int tq_renderlog_append(redisContext *c, const struct tq_renderlog_entry *entries, size_t n,
                        char *err, size_t errsize);

/* Moves up to max_entries from the stream into tileq.render_log (creating the consumer
 * group when missing; consumer name = worker). Returns the number of rows moved, or -1
 * with err set (entries stay in the stream to be retried). */
int tq_renderlog_flush(redisContext *c, PGconn *pg, const char *consumer, int max_entries,
                       char *err, size_t errsize);

#endif

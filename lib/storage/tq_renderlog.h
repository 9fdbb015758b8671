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
#include "tq_wire.h"

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

/* An entry as read back from the stream: each field's value and length in
 * TQ_RENDERLOG_FIELDS order (tq_wire.h); val[i] NULL when the field is missing. Values are
 * NUL-terminated (as hiredis replies are) but may hold NUL bytes before len. */
struct tq_renderlog_fields {
    const char *val[TQ_RENDERLOG_NFIELDS];
    size_t len[TQ_RENDERLOG_NFIELDS];
};

/* started_ms is accepted from 2000-01-01T00:00:00Z up to a day past the flushing host's
 * clock (a worker's clock may run a little ahead; entries wait in the stream while
 * PostgreSQL is away, so there is no bound on age but this one). */
#define TQ_RENDERLOG_STARTED_MIN_MS INT64_C(946684800000)
#define TQ_RENDERLOG_STARTED_AHEAD_MS INT64_C(86400000)
/* duration_ms and metatile_ms: 0..a day (a render is cut by statement_timeout long before). */
#define TQ_RENDERLOG_DURATION_MAX_MS 86400000.0

/* Checks an entry before any of it reaches SQL: every field present, without NUL bytes;
 * tileset a tileset name (tq_tileset_name_valid); z/x/y a tile of the grid; job
 * "<tileset>/<z>/<mx>/<my>" with the entry's tileset and z and mx <= x, my <= y; attempt
 * 0..INT32_MAX; reason a tq_job_reason; worker a worker id (tq_worker_id_valid); started_ms
 * in [TQ_RENDERLOG_STARTED_MIN_MS, now_ms + TQ_RENDERLOG_STARTED_AHEAD_MS]; durations finite
 * in 0..TQ_RENDERLOG_DURATION_MAX_MS; bytes 0..INT64_MAX. Returns NULL when fine, else a
 * static reason ("bad started_ms: ..."), which tq_renderlog_flush records with the entry in
 * the rejected stream. */
const char *tq_renderlog_check(const struct tq_renderlog_fields *f, int64_t now_ms);

/* Appends n entries in one pipelined round trip. 0, or -1 with err set. */
int tq_renderlog_append(redisContext *c, const struct tq_renderlog_entry *entries, size_t n,
                        char *err, size_t errsize);

/* Moves up to max_entries from the stream into tileq.render_log (creating the consumer
 * group when missing; consumer name = worker). Returns the number of rows moved, or -1
 * with err set (entries stay in the stream to be retried). */
int tq_renderlog_flush(redisContext *c, PGconn *pg, const char *consumer, int max_entries,
                       char *err, size_t errsize);

#endif

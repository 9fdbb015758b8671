/* tq_wfigures — the figures a worker publishes for the coordinators' /metrics, typed.
 *
 * Workers have no HTTP listener, so their figures travel through Redis: every worker keeps
 * its cumulative counters in the hash TQ_WMETRICS_KEY_PREFIX<worker id> (TTL
 * TQ_WMETRICS_TTL_MS, rewritten about every second while it renders and every 15 s
 * otherwise) and scores its id in the sorted set TQ_WMETRICS_INDEX_KEY with the time of that
 * write (unix ms). Coordinators read every hash whose index entry is younger than the TTL
 * (tq_snapshot) and export them with a worker label. Fields of the hash:
 *   renders       metatiles rendered (SQL succeeded)
 *   tiles         tiles in them
 *   sql_seconds   time spent in the render queries
 *   fail_sql fail_write fail_invalid fail_lost   failures by kind (enum tq_wfail)
 *   updated_ms    time of this write
 *   z<zoom>       render duration histogram of that zoom (only zooms rendered so far):
 *                 "<count> <sum> <c0> ... <cN>", per-bucket counts over TQ_WFIGURES_BUCKETS
 *                 (N = TQ_WFIGURES_NBUCKETS: the last count is above the highest bound)
 * Unknown fields are ignored when parsing (a newer worker may publish more). */
#ifndef TQ_WFIGURES_H
#define TQ_WFIGURES_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "tq_tile.h"
#include "tq_wire.h"

/* Upper bounds (seconds) of the render duration histograms; +Inf is implied. The
 * coordinators export them as they are (tq_metrics: TQ_METRICS_LATENCY_BUCKETS). */
#define TQ_WFIGURES_NBUCKETS 14
extern const double TQ_WFIGURES_BUCKETS[TQ_WFIGURES_NBUCKETS];

/* Why a job did not complete (field fail_<name>). */
enum tq_wfail { TQ_WFAIL_SQL = 0, TQ_WFAIL_WRITE, TQ_WFAIL_INVALID, TQ_WFAIL_LOST, TQ_WFAIL_COUNT };
const char *tq_wfail_name(enum tq_wfail k); /* "sql", "write", "invalid", "lost" ("?") */

struct tq_wfigures {
    uint64_t renders, tiles, fail[TQ_WFAIL_COUNT];
    double sql_seconds;
    int64_t updated_ms;
    /* per zoom: per-bucket counts (not cumulative), [TQ_WFIGURES_NBUCKETS] above the last
     * bound, and the sum of the observations; a zoom with no count is not published */
    uint64_t hist[TQ_TILE_MAX_ZOOM + 1][TQ_WFIGURES_NBUCKETS + 1];
    double hist_sum[TQ_TILE_MAX_ZOOM + 1];
};

/* The HSET of f into TQ_WMETRICS_KEY_PREFIX<worker>, for redisAppendCommandArgv(c, x->argc,
 * x->argv, NULL). Everything argv points to is in x (or is a literal). */
#define TQ_WFIGURES_MAX_ARGS (2 + 2 * (5 + TQ_WFAIL_COUNT + TQ_TILE_MAX_ZOOM + 1))
struct tq_wfigures_hset {
    int argc;
    const char *argv[TQ_WFIGURES_MAX_ARGS];
    char key[300];
    char num[5 + TQ_WFAIL_COUNT][32];
    char zfield[TQ_TILE_MAX_ZOOM + 1][16];
    char hist[TQ_TILE_MAX_ZOOM + 1][(TQ_WFIGURES_NBUCKETS + 3) * 24];
};
/* Fills x with the HSET of f (updated_ms as given in f). Returns 0, or -1 when the worker id
 * is too long. */
int tq_wfigures_encode(const struct tq_wfigures *f, const char *worker, struct tq_wfigures_hset *x);

/* Parses a worker's hash (the HGETALL reply: field, value, ...) into f (zeroed first;
 * fields absent stay 0, malformed histograms are left out). Returns 0, or -1 when h is not
 * an array. */
int tq_wfigures_parse(const redisReply *h, struct tq_wfigures *f);

/* Encodes a histogram as "<count> <sum> <c0> <c1> ... <cn-1>" (per-bucket counts, not
 * cumulative; count = their total) into out. Returns 0, or -1 when it does not fit. */
int tq_wfigures_hist_encode(const uint64_t *counts, size_t n, double sum, char *out, size_t size);

/* Decodes what tq_wfigures_hist_encode wrote, expecting exactly n counts whose total is the
 * count. Returns 0, or -1 (malformed, wrong number of counts, inconsistent total). */
int tq_wfigures_hist_decode(const char *s, uint64_t *counts, size_t n, double *sum);

#endif

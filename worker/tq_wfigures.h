/* tq_wfigures — this worker's cumulative figures (metatiles and tiles rendered, SQL time,
 * failures by kind, a render-duration histogram per zoom) and their encoding as the fields
 * of its Redis hash, read by the coordinators' /metrics (the format: tq_metrics.h,
 * TQ_WMETRICS_*). No I/O: tq_publish writes the fields. */
#ifndef TQ_WFIGURES_H
#define TQ_WFIGURES_H

#include <stddef.h>
#include <stdint.h>

#include "tq_metrics.h"
#include "tq_tile.h"

/* Failure kinds (hash fields fail_<name>). */
enum tq_wfail {
    TQ_WFAIL_SQL = 0, /* the render query failed (its timeout included) */
    TQ_WFAIL_WRITE,   /* a tile could not be written into the cache */
    TQ_WFAIL_INVALID, /* the job could not be rendered at all (dead-lettered) */
    TQ_WFAIL_LOST,    /* the lease was lost: the result was dropped */
    TQ_WFAIL_COUNT
};

/* A plain value: zero it to start. */
struct tq_wfigures {
    uint64_t renders, tiles, fail[TQ_WFAIL_COUNT];
    double sql_seconds;
    uint64_t hist[TQ_TILE_MAX_ZOOM + 1][TQ_METRICS_LATENCY_NBUCKETS + 1];
    double hist_sum[TQ_TILE_MAX_ZOOM + 1];
    int dirty;            /* changed since last published */
    int64_t last_publish; /* unix ms of the last publication */
};

/* Counts a failure of kind. */
void tq_wfigures_fail(struct tq_wfigures *f, enum tq_wfail kind);

/* Counts a rendered metatile of zoom z: ntiles tiles, sql_ms of SQL time. */
void tq_wfigures_render(struct tq_wfigures *f, int z, uint32_t ntiles, double sql_ms);

/* The hash fields: renders, tiles, sql_seconds, updated_ms, fail_<kind>..., then
 * z<zoom> for every zoom that has renders. */
#define TQ_WFIGURES_MAX_FIELDS (4 + TQ_WFAIL_COUNT + TQ_TILE_MAX_ZOOM + 1)
struct tq_wfigures_fields {
    size_t n;                                  /* fields used */
    const char *name[TQ_WFIGURES_MAX_FIELDS];  /* point into this struct or at literals */
    const char *value[TQ_WFIGURES_MAX_FIELDS]; /* point into this struct */
    char num[4 + TQ_WFAIL_COUNT][TQ_METRICS_VALUE_MAX];
    char fail_name[TQ_WFAIL_COUNT][32];
    char zoom_name[TQ_TILE_MAX_ZOOM + 1][16];
    char hist[TQ_TILE_MAX_ZOOM + 1][(TQ_METRICS_LATENCY_NBUCKETS + 3) * 21];
};

/* Fills out with f's fields as of now_ms (updated_ms); out's pointers point into out. */
void tq_wfigures_encode(const struct tq_wfigures *f, int64_t now_ms,
                        struct tq_wfigures_fields *out);

#endif

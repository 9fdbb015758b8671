/* tq_wstats — this worker's running figures: renders and failures counted into a
 * struct tq_wfigures (the figures of the wire contract, tq_wfigures.h, which tq_publish
 * writes for the coordinators' /metrics), and whether they changed since last written.
 * No I/O. */
#ifndef TQ_WSTATS_H
#define TQ_WSTATS_H

#include <stdint.h>

#include "tq_wfigures.h"

/* A plain value: zero it to start. */
struct tq_wstats {
    struct tq_wfigures f; /* cumulative since the worker started */
    int dirty;            /* changed since last published */
    int64_t last_publish; /* unix ms of the last publication */
};

/* Counts a failure of kind. */
void tq_wstats_fail(struct tq_wstats *s, enum tq_wfail kind);

/* Counts a rendered metatile of zoom z: ntiles tiles, sql_ms of SQL time (also into the
 * zoom's render-duration histogram). */
void tq_wstats_render(struct tq_wstats *s, int z, uint32_t ntiles, double sql_ms);

#endif

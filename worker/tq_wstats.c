/* tq_wstats — see tq_wstats.h. */
#include "tq_wstats.h"

#include "tq_metrics.h"

void tq_wstats_fail(struct tq_wstats *s, enum tq_wfail kind)
{
    s->f.fail[kind]++;
    s->dirty = 1;
}

void tq_wstats_render(struct tq_wstats *s, int z, uint32_t ntiles, double sql_ms)
{
    double sec = sql_ms / 1000.0;

    s->f.renders++;
    s->f.tiles += ntiles;
    s->f.sql_seconds += sec;
    if (z >= 0 && z <= TQ_TILE_MAX_ZOOM) {
        s->f.hist[z][tq_metrics_bucket_index(TQ_WFIGURES_BUCKETS, TQ_WFIGURES_NBUCKETS, sec)]++;
        s->f.hist_sum[z] += sec;
    }
    s->dirty = 1;
}

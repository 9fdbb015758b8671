/* tq_wfigures — see tq_wfigures.h. */
#include "tq_wfigures.h"

#include <stdio.h>

static const char *const wfail_names[TQ_WFAIL_COUNT] = {"sql", "write", "invalid", "lost"};

void tq_wfigures_fail(struct tq_wfigures *f, enum tq_wfail kind)
{
    f->fail[kind]++;
    f->dirty = 1;
}

void tq_wfigures_render(struct tq_wfigures *f, int z, uint32_t ntiles, double sql_ms)
{
    double s = sql_ms / 1000.0;

    f->renders++;
    f->tiles += ntiles;
    f->sql_seconds += s;
    if (z >= 0 && z <= TQ_TILE_MAX_ZOOM) {
        f->hist[z][tq_metrics_bucket_index(TQ_METRICS_LATENCY_BUCKETS, TQ_METRICS_LATENCY_NBUCKETS,
                                           s)]++;
        f->hist_sum[z] += s;
    }
    f->dirty = 1;
}

/* Appends a numeric field. */
static void put_num(struct tq_wfigures_fields *out, size_t *nn, const char *name, double v)
{
    tq_metrics_format_value(v, out->num[*nn]);
    out->name[out->n] = name;
    out->value[out->n++] = out->num[(*nn)++];
}

void tq_wfigures_encode(const struct tq_wfigures *f, int64_t now_ms, struct tq_wfigures_fields *out)
{
    size_t nn = 0;

    out->n = 0;
    put_num(out, &nn, "renders", (double)f->renders);
    put_num(out, &nn, "tiles", (double)f->tiles);
    put_num(out, &nn, "sql_seconds", f->sql_seconds);
    put_num(out, &nn, "updated_ms", (double)now_ms);
    for (int k = 0; k < TQ_WFAIL_COUNT; k++) {
        snprintf(out->fail_name[k], sizeof out->fail_name[k], "fail_%s", wfail_names[k]);
        put_num(out, &nn, out->fail_name[k], (double)f->fail[k]);
    }
    for (int z = 0; z <= TQ_TILE_MAX_ZOOM; z++) {
        uint64_t total = 0;
        for (int b = 0; b <= TQ_METRICS_LATENCY_NBUCKETS; b++)
            total += f->hist[z][b];
        if (total == 0 ||
            tq_metrics_hist_encode(f->hist[z], TQ_METRICS_LATENCY_NBUCKETS + 1, f->hist_sum[z],
                                   out->hist[z], sizeof out->hist[z]) != 0)
            continue;
        snprintf(out->zoom_name[z], sizeof out->zoom_name[z], "z%d", z);
        out->name[out->n] = out->zoom_name[z];
        out->value[out->n++] = out->hist[z];
    }
}

/* tq_watch_tiles — see tq_watch_tiles.h. */
#include "tq_watch_tiles.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tq_map.h"

/* A tile index along one axis for coordinate v measured from the grid's edge, clamped. */
static uint32_t index_of(double v, double size, uint32_t n)
{
    double i = floor(v / size);
    if (i < 0)
        return 0;
    if (i >= (double)n)
        return n - 1;
    return (uint32_t)i;
}

int tq_watch_tiles_range(const double box[4], int z, unsigned buffer, unsigned extent,
                         struct tq_tile_range *out)
{
    if (z < 0 || z > TQ_TILE_MAX_ZOOM || extent == 0)
        return -1;
    for (int i = 0; i < 4; i++)
        if (isnan(box[i]))
            return -1;
    if (box[0] > box[2] || box[1] > box[3])
        return -1;
    uint32_t n = tq_tile_grid_size(z);
    double size = 2 * TQ_MERC_MAX / (double)n;
    double margin = size * (double)buffer / (double)extent;
    double xmin = box[0] - margin, xmax = box[2] + margin;
    double ymin = box[1] - margin, ymax = box[3] + margin;
    if (xmax < -TQ_MERC_MAX || xmin > TQ_MERC_MAX || ymax < -TQ_MERC_MAX || ymin > TQ_MERC_MAX)
        return -1;
    out->z = z;
    out->xmin = index_of(xmin + TQ_MERC_MAX, size, n);
    out->xmax = index_of(xmax + TQ_MERC_MAX, size, n);
    out->ymin = index_of(TQ_MERC_MAX - ymax, size, n); /* rows count from the north */
    out->ymax = index_of(TQ_MERC_MAX - ymin, size, n);
    return 0;
}

struct tq_tile_range tq_watch_tiles_world(int z)
{
    uint32_t n = tq_tile_grid_size(z);
    struct tq_tile_range r = {z, 0, 0, n - 1, n - 1};
    return r;
}

uint64_t tq_watch_tiles_count(const struct tq_tile_range *r)
{
    if (r->xmin > r->xmax || r->ymin > r->ymax)
        return 0;
    return (uint64_t)(r->xmax - r->xmin + 1) * (uint64_t)(r->ymax - r->ymin + 1);
}

/* Keys: zeroed before filling (tq_map compares bytes). */
struct range_key {
    size_t ts;
    struct tq_tile_range r;
};
struct zoom_key {
    size_t ts;
    int z;
};
struct zoom_val {
    uint64_t tiles;
    struct tq_tile_range bound;
};

struct tq_watch_zoomset {
    struct tq_map *ranges; /* range_key set */
    struct tq_map *zooms;  /* zoom_key -> zoom_val */
};

struct tq_watch_zoomset *tq_watch_zoomset_new(void)
{
    struct tq_watch_zoomset *zs = calloc(1, sizeof *zs);
    if (zs == NULL)
        return NULL;
    zs->ranges = tq_map_new(sizeof(struct range_key), 0);
    zs->zooms = tq_map_new(sizeof(struct zoom_key), sizeof(struct zoom_val));
    if (zs->ranges == NULL || zs->zooms == NULL) {
        tq_watch_zoomset_free(zs);
        return NULL;
    }
    return zs;
}

void tq_watch_zoomset_free(struct tq_watch_zoomset *zs)
{
    if (zs == NULL)
        return;
    tq_map_free(zs->ranges);
    tq_map_free(zs->zooms);
    free(zs);
}

void tq_watch_zoomset_clear(struct tq_watch_zoomset *zs)
{
    tq_map_clear(zs->ranges);
    tq_map_clear(zs->zooms);
}

int tq_watch_zoomset_add(struct tq_watch_zoomset *zs, size_t ts, const struct tq_tile_range *r)
{
    struct range_key rk;
    struct zoom_key zk;
    int added;
    memset(&rk, 0, sizeof rk);
    memset(&zk, 0, sizeof zk);
    rk.ts = ts;
    rk.r = *r;
    if (tq_map_put(zs->ranges, &rk, sizeof rk, &added) == NULL)
        return -1;
    if (!added)
        return 0;
    zk.ts = ts;
    zk.z = r->z;
    struct zoom_val *v = tq_map_put(zs->zooms, &zk, sizeof zk, &added);
    if (v == NULL) {
        tq_map_remove(zs->ranges, &rk, sizeof rk, NULL);
        return -1;
    }
    if (added) {
        v->bound = *r;
    } else {
        if (r->xmin < v->bound.xmin)
            v->bound.xmin = r->xmin;
        if (r->ymin < v->bound.ymin)
            v->bound.ymin = r->ymin;
        if (r->xmax > v->bound.xmax)
            v->bound.xmax = r->xmax;
        if (r->ymax > v->bound.ymax)
            v->bound.ymax = r->ymax;
    }
    v->tiles += tq_watch_tiles_count(r);
    return 0;
}

int tq_watch_zoomset_each(const struct tq_watch_zoomset *zs, uint64_t max_tiles,
                          tq_watch_range_fn fn, void *arg)
{
    size_t pos = 0;
    const void *key;
    int rc;
    /* The ranges of zooms under the bound, one by one. */
    while (tq_map_next(zs->ranges, &pos, &key, NULL) != NULL) {
        const struct range_key *rk = key;
        struct zoom_key zk;
        memset(&zk, 0, sizeof zk);
        zk.ts = rk->ts;
        zk.z = rk->r.z;
        const struct zoom_val *v = tq_map_get(zs->zooms, &zk, sizeof zk);
        if (v != NULL && v->tiles > max_tiles)
            continue;
        if ((rc = fn(rk->ts, &rk->r, 0, arg)) != 0)
            return rc;
    }
    /* The zooms over it, as their bounding range. */
    pos = 0;
    const struct zoom_val *v;
    while ((v = tq_map_next(zs->zooms, &pos, &key, NULL)) != NULL) {
        const struct zoom_key *zk = key;
        if (v->tiles > max_tiles && (rc = fn(zk->ts, &v->bound, 1, arg)) != 0)
            return rc;
    }
    return 0;
}

/* tq_tile_range — see tq_tile_range.h. */
#include "tq_tile_range.h"

struct tq_tile_range tq_tile_range_at_zoom(struct tq_tile t, int z)
{
    struct tq_tile_range r = {.z = z};
    if (z <= t.z) {
        int d = t.z - z;
        r.xmin = r.xmax = t.x >> d;
        r.ymin = r.ymax = t.y >> d;
    } else {
        int d = z - t.z;
        r.xmin = t.x << d;
        r.ymin = t.y << d;
        r.xmax = r.xmin + ((1u << d) - 1);
        r.ymax = r.ymin + ((1u << d) - 1);
    }
    return r;
}

void tq_tile_range_iter_init(struct tq_tile_range_iter *it, const struct tq_tile_range *r,
                             uint32_t size)
{
    it->r = *r;
    it->size = size ? size : 1;
    it->mx = r->xmin - r->xmin % it->size;
    it->my = r->ymin - r->ymin % it->size;
    it->done = r->xmin > r->xmax || r->ymin > r->ymax;
}

int tq_tile_range_iter_next(struct tq_tile_range_iter *it, struct tq_metatile *m)
{
    if (it->done)
        return 0;
    struct tq_tile t = {it->r.z, it->mx, it->my};
    *m = tq_tile_metatile(t, it->size);
    /* Next column, else next row (64-bit so the last metatile of z30 does not wrap). */
    uint64_t nx = (uint64_t)m->mx + m->w;
    if (nx <= it->r.xmax) {
        it->mx = (uint32_t)nx;
    } else {
        uint64_t ny = (uint64_t)m->my + m->h;
        if (ny > it->r.ymax) {
            it->done = 1;
        } else {
            it->my = (uint32_t)ny;
            it->mx = it->r.xmin - it->r.xmin % it->size;
        }
    }
    return 1;
}

/* Sum of the clamped metatile widths along one axis meeting [lo, hi]. */
static uint64_t axis_tiles(uint32_t lo, uint32_t hi, uint32_t size, uint32_t grid)
{
    if (size > grid)
        size = grid;
    uint64_t first = lo - lo % size;
    uint64_t last = (uint64_t)hi - hi % size + size;
    if (last > grid)
        last = grid;
    return last - first;
}

uint64_t tq_tile_range_metatile_tiles(const struct tq_tile_range *r, uint32_t size)
{
    if (r->xmin > r->xmax || r->ymin > r->ymax)
        return 0;
    uint32_t grid = tq_tile_grid_size(r->z);
    if (size == 0)
        size = 1;
    return axis_tiles(r->xmin, r->xmax, size, grid) * axis_tiles(r->ymin, r->ymax, size, grid);
}

int tq_tile_range_clip(const struct tq_tile_range *r, const struct tq_metatile *m,
                       struct tq_tile_range *out)
{
    if (r->z != m->z)
        return 0;
    uint32_t mxmax = m->mx + m->w - 1, mymax = m->my + m->h - 1;
    out->z = r->z;
    out->xmin = r->xmin > m->mx ? r->xmin : m->mx;
    out->ymin = r->ymin > m->my ? r->ymin : m->my;
    out->xmax = r->xmax < mxmax ? r->xmax : mxmax;
    out->ymax = r->ymax < mymax ? r->ymax : mymax;
    return out->xmin <= out->xmax && out->ymin <= out->ymax;
}

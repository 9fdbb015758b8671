/* tq_tile_range — tile ranges for `tileq warm` and `tileq expire`: a tile's parents and
 * children at another zoom, and the walk over the metatiles of a range. Pure. */
#ifndef TQ_TILE_RANGE_H
#define TQ_TILE_RANGE_H

#include <stdint.h>

#include "tq_tile.h"

/* The tiles at zoom z that are t, its ancestor (z < t.z) or its descendants (z > t.z). */
struct tq_tile_range tq_tile_range_at_zoom(struct tq_tile t, int z);

/* Walks the metatiles (of size a side, clamped to the grid) meeting a tile range, row by
 * row. Usage: tq_tile_range_iter_init(&it, &r, 8); while (tq_tile_range_iter_next(&it, &m)) … */
struct tq_tile_range_iter {
    struct tq_tile_range r;
    uint32_t size, mx, my;
    int done;
};
void tq_tile_range_iter_init(struct tq_tile_range_iter *it, const struct tq_tile_range *r,
                             uint32_t size);
int tq_tile_range_iter_next(struct tq_tile_range_iter *it, struct tq_metatile *m);

/* Tiles in the metatiles meeting r (what rendering them all costs), without walking them. */
uint64_t tq_tile_range_metatile_tiles(const struct tq_tile_range *r, uint32_t size);

/* The part of r inside m; 0 when they do not meet. */
int tq_tile_range_clip(const struct tq_tile_range *r, const struct tq_metatile *m,
                       struct tq_tile_range *out);

#endif

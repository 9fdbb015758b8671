/* tq_watch_tiles — from changed extents to the tile ranges `tileq watch run` expires. Pure.
 *
 * A change's box (EPSG:3857) meets the tiles at zoom z whose area grown by the tileset's
 * buffer (buffer/extent of a tile on each side: what a render reads around a tile) meets
 * the box. A batch's ranges are gathered per tileset and zoom (identical ranges once); a
 * zoom whose ranges add up to more than max_tiles tiles is expired as one range instead,
 * the bounding range of them all (the burst bound: a 1M-row UPDATE is a few ranges per zoom,
 * never millions of tiles listed one by one). */
#ifndef TQ_WATCH_TILES_H
#define TQ_WATCH_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "tq_tile.h"

/* The range at zoom z meeting box {xmin, ymin, xmax, ymax} (EPSG:3857 metres) grown by
 * buffer/extent of a tile. 0, or -1 for a box with NaN, inverted, or wholly off the world. */
int tq_watch_tiles_range(const double box[4], int z, unsigned buffer, unsigned extent,
                         struct tq_tile_range *out);

/* The whole grid at zoom z. */
struct tq_tile_range tq_watch_tiles_world(int z);

struct tq_watch_zoomset;

struct tq_watch_zoomset *tq_watch_zoomset_new(void); /* NULL on OOM */
void tq_watch_zoomset_free(struct tq_watch_zoomset *zs);
void tq_watch_zoomset_clear(struct tq_watch_zoomset *zs);

/* Adds range r of tileset number ts. 0, or -1 on OOM. */
int tq_watch_zoomset_add(struct tq_watch_zoomset *zs, size_t ts, const struct tq_tile_range *r);

/* Calls fn for every range to expire: per (ts, zoom), either each distinct range added, or
 * (merged = 1) their bounding range when they add up to more than max_tiles tiles. A
 * non-zero return of fn stops and is returned; else 0. */
typedef int (*tq_watch_range_fn)(size_t ts, const struct tq_tile_range *r, int merged, void *arg);
int tq_watch_zoomset_each(const struct tq_watch_zoomset *zs, uint64_t max_tiles,
                          tq_watch_range_fn fn, void *arg);

/* Tiles of range r. */
uint64_t tq_watch_tiles_count(const struct tq_tile_range *r);

#endif

/* tq_cache_scan — the cached tiles of a tile range, found by reading the cache's directories
 * instead of asking for every tile of the range: what expiring a large range costs is then
 * bounded by what is cached, not by the size of the grid (z14 of the world is 268 million
 * tiles; a cache holds a small part of them). Used by `tileq watch run` (tq_expire.h) for
 * ranges above a few thousand tiles. The layout comes from tq_cache_path (its {z} directory
 * and file names), so a change of the file names there carries over. */
#ifndef TQ_CACHE_SCAN_H
#define TQ_CACHE_SCAN_H

#include <stddef.h>

#include "tq_tile.h"

/* Called for each cached tile found (either form, .mvt or .empty, once per tile);
 * non-zero stops the scan, and tq_cache_scan_range returns that value. */
typedef int (*tq_cache_scan_fn)(struct tq_tile t, void *arg);

/* Calls fn for every tile of r that has a file in {cache_dir}/{tileset}/{z}/{x}/, in no
 * particular order. A missing directory has no tiles. Temp files and names that are not
 * tiles are skipped. Returns 0, fn's non-zero value, or -1 with a reason in err (a
 * directory that cannot be read). */
int tq_cache_scan_range(const char *cache_dir, const char *tileset, const struct tq_tile_range *r,
                        tq_cache_scan_fn fn, void *arg, char *err, size_t errsize);

#endif

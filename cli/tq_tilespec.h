/* tq_tilespec — the pure parts of `tileq warm` and `tileq expire`: their arguments, lon/lat
 * bboxes (zoom ranges: tq_zoom_range_parse in tq_tile.h), tile lists in osm2pgsql's expire format,
 * the expansion of a tile to its parents and children and the walk over the metatiles of a tile
 * range (sets of ids: tq_map). Nothing here touches Redis, the cache or the network
 * (tests/unit/cli/test_tq_tilespec.c). */
#ifndef TQ_TILESPEC_H
#define TQ_TILESPEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tq_config.h"
#include "tq_tile.h"

/* "W,S,E,N" in degrees into out[4]. Rejects malformed numbers, longitudes outside ±180,
 * latitudes beyond ±TQ_LAT_MAX (Web Mercator's limit, 85.0511), west > east and
 * south > north (an inverted bbox), each with its own message in err. 0 or -1. */
int tq_bbox_parse(const char *s, double out[4], char *err, size_t errsize);

/* One line of a tile list: "z/x/y", surrounding blanks and a trailing CR allowed.
 * Returns 1 a tile (in t), 0 a blank or '#' comment line, -1 malformed or outside the grid
 * (err says why, without file or line). */
int tq_tilelist_parse_line(const char *line, struct tq_tile *t, char *err, size_t errsize);

/* Reads a whole tile list (osm2pgsql expire format) from f, named name in messages.
 * Returns the number of tiles (duplicates kept out) with *tiles a malloc'd array the caller
 * frees, or -1 with "NAME:LINE: reason" (or "NAME: read error: ...") in err. */
long tq_tilelist_read(FILE *f, const char *name, struct tq_tile **tiles, char *err, size_t errsize);

/* Same from a path ("-" = stdin). "cannot open PATH: reason" when it cannot be opened. */
long tq_tilelist_load(const char *path, struct tq_tile **tiles, char *err, size_t errsize);

/* The tiles at zoom z that are t, its ancestor (z < t.z) or its descendants (z > t.z). */
struct tq_tile_range tq_tile_range_at_zoom(struct tq_tile t, int z);

/* Walks the metatiles (of size a side, clamped to the grid) meeting a tile range, row by
 * row. Usage: tq_metatile_iter_init(&it, &r, 8); while (tq_metatile_iter_next(&it, &m)) … */
struct tq_metatile_iter {
    struct tq_tile_range r;
    uint32_t size, mx, my;
    int done;
};
void tq_metatile_iter_init(struct tq_metatile_iter *it, const struct tq_tile_range *r,
                           uint32_t size);
int tq_metatile_iter_next(struct tq_metatile_iter *it, struct tq_metatile *m);

/* Tiles in the metatiles meeting r (what rendering them all costs), without walking them. */
uint64_t tq_tile_range_metatile_tiles(const struct tq_tile_range *r, uint32_t size);

/* The part of r inside m; 0 when they do not meet. */
int tq_tile_range_clip(const struct tq_tile_range *r, const struct tq_metatile *m,
                       struct tq_tile_range *out);

/* Options of `tileq warm` and `tileq expire` (argv[0] = the command name). */
struct tq_area_opts {
    const char *tileset;
    int has_bbox;
    double bbox[4];
    const char *tiles; /* path or "-" */
    int has_zoom, zmin, zmax;
    int has_min_zoom, min_zoom, has_max_zoom, max_zoom;
    int force, wait, rerender;
    long max_queued; /* warm: low-water mark of the bulk class */
    int help;
};
#define TQ_WARM_DEFAULT_MAX_QUEUED 256

/* Parses warm's options (`--tileset T (--bbox W,S,E,N | --tiles FILE|-) --zoom A-B
 * [--force] [--wait] [--max-queued N]`). 0, or -1 with a usage message in err. */
int tq_warm_opts_parse(int argc, char **argv, struct tq_area_opts *o, char *err, size_t errsize);

/* Parses expire's options (`--tileset T (--tiles FILE|- | --bbox W,S,E,N --zoom A-B)
 * [--min-zoom A] [--max-zoom B] [--rerender]`). 0, or -1 with a usage message in err. */
int tq_expire_opts_parse(int argc, char **argv, struct tq_area_opts *o, char *err, size_t errsize);

/* Checks the zooms against the tileset and resolves the zoom range the command works on
 * into *lo..*hi: warm: --zoom; expire: --min-zoom/--max-zoom, else --zoom (bbox), else the
 * tileset's range (tiles). 0, or -1 ("zoom 15 outside tileset demo's range 0-14"). */
int tq_area_opts_zooms(const struct tq_area_opts *o, const struct tq_tileset_config *ts, int *lo,
                       int *hi, char *err, size_t errsize);

#endif

/* tq_area — the area `tileq warm` and `tileq expire` work on: their options (tileset, a
 * lon/lat bbox or a tile list, zooms; zoom ranges: tq_zoom_range_parse in tq_tile.h) and
 * the zoom range resolved against the tileset. Pure: nothing here touches Redis, the cache
 * or the network. The tile lists are tq_tilelist, the ranges and metatile walks
 * tq_tile_range. */
#ifndef TQ_AREA_H
#define TQ_AREA_H

#include <stddef.h>

#include "tq_config.h"

/* "W,S,E,N" in degrees into out[4]. Rejects malformed numbers, longitudes outside ±180,
 * latitudes beyond ±TQ_LAT_MAX (Web Mercator's limit, 85.0511), west > east and
 * south > north (an inverted bbox), each with its own message in err. 0 or -1. */
int tq_area_bbox_parse(const char *s, double out[4], char *err, size_t errsize);

/* Options of `tileq warm` and `tileq expire` (argv[0] = the command name). */
struct tq_area_opts {
    const char *tileset;
    int has_bbox;
    double bbox[4];
    const char *tiles; /* path or "-" */
    int has_zoom, zmin, zmax;
    int has_min_zoom, min_zoom, has_max_zoom, max_zoom;
    int force, wait, rerender;
    long max_queued;    /* warm: low-water mark of the bulk class */
    const char *output; /* export: the archive's path */
    int help;
};
#define TQ_WARM_DEFAULT_MAX_QUEUED 256

/* Parses warm's options (`--tileset T (--bbox W,S,E,N | --tiles FILE|-) --zoom A-B
 * [--force] [--wait] [--max-queued N]`). 0, or -1 with a usage message in err. */
int tq_area_warm_parse(int argc, char **argv, struct tq_area_opts *o, char *err, size_t errsize);

/* Parses expire's options (`--tileset T (--tiles FILE|- | --bbox W,S,E,N --zoom A-B)
 * [--min-zoom A] [--max-zoom B] [--rerender]`). 0, or -1 with a usage message in err. */
int tq_area_expire_parse(int argc, char **argv, struct tq_area_opts *o, char *err, size_t errsize);

/* Parses export's options (`--tileset T [--bbox W,S,E,N] [--zoom A-B] -o FILE
 * [--max-queued N]`): the bbox defaults to the whole world, wait is on. The name of FILE is
 * the caller's to check. 0, or -1 with a usage message in err. */
int tq_area_export_parse(int argc, char **argv, struct tq_area_opts *o, char *err, size_t errsize);

/* Checks the zooms against the tileset and resolves the zoom range the command works on
 * into *lo..*hi: warm: --zoom; expire: --min-zoom/--max-zoom, else --zoom (bbox), else the
 * tileset's range (tiles). 0, or -1 ("zoom 15 outside tileset demo's range 0-14"). */
int tq_area_zooms(const struct tq_area_opts *o, const struct tq_tileset_config *ts, int *lo,
                  int *hi, char *err, size_t errsize);

#endif

/* tq_tile — web-mercator tile math (XYZ scheme, y grows southwards, EPSG:3857).
 *
 * A metatile groups size×size tiles of one zoom; it is named by its top-left tile
 * (mx, my), both multiples of size. Where the zoom's grid (2^z tiles a side) is smaller
 * than size, the metatile is clamped to the grid: at z=1 with size 8 it holds 2×2 tiles. */
#ifndef TQ_TILE_H
#define TQ_TILE_H

#include <stddef.h>
#include <stdint.h>

#define TQ_TILE_MAX_ZOOM 30
/* Half the side of the EPSG:3857 square, the same constant PostGIS's ST_TileEnvelope uses. */
#define TQ_MERC_MAX 20037508.342789244
#define TQ_LAT_MAX 85.0511287798066

struct tq_tile {
    int z;
    uint32_t x, y;
};

struct tq_bbox {
    double xmin, ymin, xmax, ymax;
};

/* A metatile: tiles x in [mx, mx+w), y in [my, my+h) at zoom z. w and h are the clamped size. */
struct tq_metatile {
    int z;
    uint32_t mx, my;
    uint32_t w, h;
};

/* An inclusive rectangle of tiles at one zoom. */
struct tq_tile_range {
    int z;
    uint32_t xmin, ymin, xmax, ymax;
};

/* 0 when z in [0,30] and x,y < 2^z; -1 otherwise. */
int tq_tile_valid(int z, int64_t x, int64_t y);

/* Number of tiles a side at zoom z (2^z). z must be in [0,30]. */
uint32_t tq_tile_grid_size(int z);

/* EPSG:3857 bounds of a tile. */
struct tq_bbox tq_tile_bounds(struct tq_tile t);

/* The metatile holding tile t, for metatiles of size a side (size >= 1). */
struct tq_metatile tq_tile_metatile(struct tq_tile t, uint32_t size);

/* EPSG:3857 bounds of the whole metatile. */
struct tq_bbox tq_metatile_bounds(const struct tq_metatile *m);

/* Number of tiles in the metatile (w*h). */
uint32_t tq_metatile_count(const struct tq_metatile *m);

/* The i-th tile of the metatile, row-major (y outer, x inner); i < tq_metatile_count(m). */
struct tq_tile tq_metatile_tile(const struct tq_metatile *m, uint32_t i);

/* 1 when t is inside m. */
int tq_metatile_contains(const struct tq_metatile *m, struct tq_tile t);

/* The tiles at zoom z covering a lon/lat bbox (degrees). Latitudes are clamped to
 * ±TQ_LAT_MAX. Returns 0, or -1 when the bbox is invalid (west > east, south > north,
 * NaN, |lon| > 180, |lat| > 90) or z outside [0,30]. */
int tq_tile_range_from_lonlat(double west, double south, double east, double north, int z,
                              struct tq_tile_range *out);

/* Parses "z/x/y" (decimal, no sign, nothing after) into t and validates it. 0 or -1. */
int tq_tile_parse(const char *s, struct tq_tile *t);

/* Parses a zoom range "A-B" or a single zoom "A" (1 or 2 decimal digits each, no sign or
 * space, 0 <= A <= B <= TQ_TILE_MAX_ZOOM) into *zmin, *zmax. Returns 0, or -1 with the reason
 * in err (when err is not NULL; "bad zoom range ..." or "inverted zoom range ..."). */
int tq_zoom_range_parse(const char *s, int *zmin, int *zmax, char *err, size_t errsize);

#endif

/* tq_mbtiles — an MBTiles 1.3 writer (mapbox/mbtiles-spec 1.3/spec.md), with SQLite's C
 * library.
 *
 * Schema (the deduplicated layout of mbutil and tippecanoe): tiles are rows of `map`
 * (zoom_level, tile_column, tile_row, tile_id) pointing at `images` (tile_data, tile_id), each
 * distinct content stored once (tq_dedup), read through the view `tiles` (zoom_level,
 * tile_column, tile_row, tile_data) the spec defines. Rows are TMS (tile_row = 2^z - 1 - y).
 * Tiles are stored gzip-compressed (the spec's rule for pbf): a tile given as gzip as it is, a
 * plain one compressed when its content is new. Empty tiles (0 bytes) are left out. The
 * metadata table holds name, format (pbf), bounds, center, minzoom, maxzoom, json (the
 * vector_layers document), and description/type/version.
 *
 * The database is built in PATH.partial, in one transaction, then fsynced and renamed over
 * PATH. Memory: the dedup index (tq_archive.h) plus SQLite's page cache. */
#ifndef TQ_MBTILES_H
#define TQ_MBTILES_H

#include <stddef.h>
#include <stdint.h>

#include "tq_archive.h"
#include "tq_tile.h"

struct tq_mbtiles;

/* Starts an archive to be written at path (PATH.partial replaced if there). NULL, err set. */
struct tq_mbtiles *tq_mbtiles_open(const char *path, char *err, size_t errsize);

/* Adds tile t (XYZ) of len bytes (gzip or plain MVT; 0 = empty, left out). Each tile once.
 * 0, or -1 (err set). */
int tq_mbtiles_add(struct tq_mbtiles *m, struct tq_tile t, const void *data, size_t len, char *err,
                   size_t errsize);

/* Writes the metadata, commits, and renames the archive into place. 0, or -1 (err set;
 * nothing at path then). Free m with tq_mbtiles_free either way. */
int tq_mbtiles_finish(struct tq_mbtiles *m, const struct tq_archive_info *info, char *err,
                      size_t errsize);

/* Frees m; an unfinished archive is abandoned (PATH.partial removed). NULL is a no-op. */
void tq_mbtiles_free(struct tq_mbtiles *m);

struct tq_mbtiles_stats {
    uint64_t addressed; /* map rows */
    uint64_t contents;  /* images rows */
    uint64_t empty;     /* empty tiles left out */
    uint64_t data_bytes;
};
void tq_mbtiles_stats(const struct tq_mbtiles *m, struct tq_mbtiles_stats *st);

#endif

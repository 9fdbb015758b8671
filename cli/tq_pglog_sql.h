/* tq_pglog_sql — what a logged SQL statement renders: the tile or metatile its envelope
 * stands for, the tables it reads, and its text with the extended protocol's parameters
 * put back. Pure functions, no state (see tq_pglog.h for the whole pipeline). */
#ifndef TQ_PGLOG_SQL_H
#define TQ_PGLOG_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "tq_tile.h"

/* Bounds → tiles. buffer: the largest margin around the tile (or metatile) accepted, as a
 * fraction of one tile's side; metatile: the stack's metatile size (1 = single tiles).
 * With metatile > 1 bounds are matched against aligned metatiles (clamped to the zoom's
 * grid) first, then against single tiles; the lowest zoom that fits wins. Bounds that
 * are not square, not aligned to the grid (tolerance 0.1% of a tile) or whose margin
 * exceeds the buffer are off-grid. Returns 0 with *out set (w = h = 1 for one tile), or
 * -1 when off-grid. */
int tq_pglog_sql_bbox_to_metatile(const struct tq_bbox *b, double buffer, uint32_t metatile,
                                  struct tq_metatile *out);

/* What a query renders. */
enum tq_pglog_sql_kind {
    TQ_PGLOG_SQL_NONE = 0,    /* no tile envelope in the query: not a render */
    TQ_PGLOG_SQL_TILE = 1,    /* *out set */
    TQ_PGLOG_SQL_OFFGRID = 2, /* an envelope, but not on the tile grid (or not EPSG:3857) */
};

/* Finds the tile a query renders (ST_TileEnvelope(z, x, y); the bounds of
 * ST_MakeEnvelope(...) or 'BOX3D(...)' through tq_pglog_sql_bbox_to_metatile) and the
 * tables it reads (comma-separated, sorted, distinct, written into tables; "" when none). */
enum tq_pglog_sql_kind tq_pglog_sql_query_tile(const char *sql, double buffer, uint32_t metatile,
                                               struct tq_metatile *out, char *tables,
                                               size_t tablessize);

/* As tq_pglog_sql_query_tile, and *bbox set to the bounds the query asked for: those of
 * ST_MakeEnvelope / BOX3D as written, those of the tile for ST_TileEnvelope. */
enum tq_pglog_sql_kind tq_pglog_sql_query_tile_bbox(const char *sql, double buffer,
                                                    uint32_t metatile, struct tq_metatile *out,
                                                    char *tables, size_t tablessize,
                                                    struct tq_bbox *bbox);

/* A hash of sql's shape: its text without its numbers (runs of digits that do not continue
 * a name). Queries of one shape read the same tables, so the tables found for one can be
 * kept for the others (tq_pglog caches them: reading them costs more than anything else). */
uint64_t tq_pglog_sql_shape(const char *sql);

/* Replaces $n in sql by the values of a "parameters: $1 = '12', $2 = NULL" detail, outside
 * string literals. Numbers are substituted bare, anything else as a quoted literal. The
 * result is kept to max bytes (a query that uses a long value many times could otherwise
 * grow without end): past it, the rest of sql is dropped and *cut set to 1. Returns a
 * malloc'd string the caller frees, or NULL on OOM. */
char *tq_pglog_sql_substitute(const char *sql, const char *detail, size_t max, int *cut);

#endif

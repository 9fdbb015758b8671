/* tq_discover — with no tileset in the config, every table (or view) listed in PostGIS's
 * geometry_columns is published as a one-layer tileset, as martin and pg_tileserv do. The
 * worker and the coordinator both run this at start (blocking libpq), so they agree on the
 * list; restart both after adding tables.
 *
 * One tileset per geometry column, ordered by schema, table, column:
 *   name      the table name; "<schema>_<table>" when two schemas have that table;
 *             "_<column>" appended when the table has several geometry columns; characters
 *             outside [A-Za-z0-9_-] become "_" (an entry whose name still clashes or is too
 *             long is skipped with a warning)
 *   layer     one, named like the tileset, zooms 0..14 (the tileset defaults)
 *   sql       SELECT ST_Transform(<col>, 3857) AS geom, <other columns>
 *             FROM <schema>.<table> WHERE <col> && ST_Transform(!BBOX!, <srid>) ORDER BY <key>
 *             (no transforms when the SRID is 3857). Other columns: every column but the
 *             geometry one, other geometry/geography/raster/bytea columns and a column
 *             named "geom". Key: the primary key, else ctid for tables and materialized
 *             views, else no ORDER BY.
 *   bounds    ST_EstimatedExtent in EPSG:4326 (clamped to the Web Mercator world); the
 *             world when there are no statistics.
 * Columns with SRID 0 (unknown) are skipped with a warning. */
#ifndef TQ_DISCOVER_H
#define TQ_DISCOVER_H

#include <signal.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "tq_config.h"

/* When cfg has no tileset, fills cfg->tilesets (owned by cfg, freed by tq_config_free) from
 * geometry_columns over pg. Returns the number of tilesets added (0 when cfg had tilesets
 * already or none was found), or -1 with a message in err (cfg unchanged). */
int tq_discover_tilesets(struct tq_config *cfg, PGconn *pg, char *err, size_t errsize);

/* At program start: when cfg has no tileset, connects to cfg->pg_conninfo and runs
 * tq_discover_tilesets, retrying with backoff (1 s doubling to 30 s, logged) while
 * PostgreSQL cannot be reached or the query fails, until it succeeds or *stop becomes
 * non-zero (stop may be NULL). prog is the application_name. Returns the number of tilesets
 * added, or -1 (stopped) with a message in err. */
int tq_discover_at_start(struct tq_config *cfg, const char *prog, volatile sig_atomic_t *stop,
                         char *err, size_t errsize);

#endif

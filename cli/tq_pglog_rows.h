/* tq_pglog_rows — `tileq report --pglog --format renders` and `--load`: one row per render
 * read from PostgreSQL logs (not per tile: a metatile render is one row), as CSV or into a
 * PostgreSQL table, for SQL analysis. The columns, in order:
 *   host       the syslog host that logged it ("" for stderr and csvlog)
 *   database, user, tables (comma-separated, sorted), timestamp (when the render started,
 *   ISO 8601 UTC), duration_ms, bbox ("BOX(xmin ymin,xmax ymax)" in EPSG:3857, what the
 *   query asked for: castable to PostGIS's box2d), z, x, y (the render's first tile),
 *   metatile (its side in tiles: 1 for a single tile), query (parameters substituted). */
#ifndef TQ_PGLOG_ROWS_H
#define TQ_PGLOG_ROWS_H

#include <stddef.h>
#include <stdio.h>

#include "tq_buf.h"
#include "tq_pglog.h"
#include "tq_report.h"

#define TQ_PGLOG_ROWS_HEADER                                                                       \
    "host,database,user,tables,timestamp,duration_ms,bbox,z,x,y,metatile,query"

/* Appends the CSV line (with its "\n") of the render whose first record is rec (and whose
 * extra fields are x) to b. 0, or -1 on OOM. */
int tq_pglog_rows_csv(struct tq_buf *b, const struct tq_report_rec *rec,
                      const struct tq_pglog_extra *x);

/* 1 when the render passes the report's filter (time, database as tileset, zoom). */
int tq_pglog_rows_match(const struct tq_report_filter *f, const struct tq_report_rec *rec);

/* A loader into a table of PostgreSQL (created if missing, the columns above), in batches
 * of TQ_PGLOG_LOAD_BATCH rows (COPY, one transaction each). */
#define TQ_PGLOG_LOAD_BATCH 5000
struct tq_pglog_load;

/* Connects and creates the table (name: "name" or "schema.name", quoted as identifiers).
 * NULL with err set. */
struct tq_pglog_load *tq_pglog_load_open(const char *conninfo, const char *table, char *err,
                                         size_t errsize);

/* Adds one CSV line (tq_pglog_rows_csv); sends the batch when full. 0, or -1 (err set). */
int tq_pglog_load_row(struct tq_pglog_load *l, const char *line, size_t len, char *err,
                      size_t errsize);

/* Sends what is left, then closes: rows loaded in *rows. 0, or -1 (err set). Frees l (NULL
 * is a no-op); pass err NULL to only free it. */
int tq_pglog_load_close(struct tq_pglog_load *l, unsigned long long *rows, char *err,
                        size_t errsize);

#endif

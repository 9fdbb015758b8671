/* tq_pglog — render records from PostgreSQL server logs of any tile stack.
 *
 * Input: files (plain or gzip, read through zlib as a stream; "-" = stdin) in any of
 *   stderr  with a log_line_prefix such as '%m [%p] ', '%t [%p]: [%l-1] user=%u,db=%d ',
 *           '%m [%p] %q%u@%d ' (time, pid, user and database are picked out of whatever
 *           prefix precedes "LOG:  "); lines without a severity are continuation lines;
 *   csvlog  (quoted fields may span lines);
 *   syslog  "... postgres[2254]: [7-1] ...", continuation lines [7-2], [7-3] joined with
 *           newlines, "#011" (and any rsyslog #ooo control-character escape) decoded.
 * The format is detected per file from its first line.
 *
 * A render is a "duration: N ms  statement: Q" entry, or an extended-protocol
 * "duration: N ms  execute NAME: Q" entry, whose duration includes the parse and bind
 * entries of the same backend pid logged before it; "DETAIL:  parameters: $1 = '...'" is
 * substituted into Q. (With log_statement + log_duration, a "statement:"/"execute" entry
 * followed by a bare "duration: N ms" entry is one render too.)
 *
 * The tile is recovered from Q: ST_TileEnvelope(z, x, y) directly; the EPSG:3857 bounds of
 * ST_MakeEnvelope(xmin, ymin, xmax, ymax[, 3857]) or of 'BOX3D(xmin ymin, xmax ymax)' in
 * ST_SetSRID(..., 3857) through tq_pglog_sql_bbox_to_metatile(). Bounds covering a metatile
 * count as one render of every tile in it (the render's time split evenly between them,
 * as tileq's own render log does), and once as a render of the metatile.
 *
 * Records carry tileset = the database name, and tables = the tables the query reads; a
 * tile is identified by (database, tables, z/x/y) so a stack that runs one query per
 * layer does not count its layers as duplicates of each other.
 *
 * Memory is bounded: lines are streamed, and per-backend state is kept for at most
 * TQ_PGLOG_MAX_PIDS backends at once (the oldest is finished early beyond that).
 *
 * The modules, in pipeline order: tq_pglog_read (files → lines), tq_pglog_format (lines →
 * entries per format, with tq_pglog_prefix for log_line_prefix), this one (entries →
 * statements → renders → records), tq_pglog_sql (what a statement renders). */
#ifndef TQ_PGLOG_H
#define TQ_PGLOG_H

#include <stddef.h>
#include <stdint.h>

#include "tq_report.h"

#define TQ_PGLOG_DEFAULT_BUFFER 0.25

struct tq_pglog_options {
    double buffer;     /* default TQ_PGLOG_DEFAULT_BUFFER */
    uint32_t metatile; /* default 1 */
};

struct tq_pglog;

/* A reader over files (borrowed array of paths, read in order). NULL on OOM. */
struct tq_pglog *tq_pglog_open(const char *const *files, size_t nfiles,
                               const struct tq_pglog_options *opts);
void tq_pglog_close(struct tq_pglog *p);

/* tq_report_next_fn over the logs: returns 1 with rec filled (strings valid until the next
 * call), 0 at the end, -1 when a file cannot be opened or read (err set). Malformed lines
 * are counted, never an error. */
int tq_pglog_next(void *p, struct tq_report_rec *rec, char *err, size_t errsize);

/* Counters so far. */
void tq_pglog_stats(const struct tq_pglog *p, struct tq_report_input *out);

#endif

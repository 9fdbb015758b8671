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
 * Memory is bounded whatever the log holds: lines are streamed; a line, a message and a
 * statement are kept up to TQ_PGLOG_MAX_LINE bytes (the rest is dropped and counted as
 * truncated), and so is a statement with its $n parameters substituted; per-backend state
 * is kept for at most TQ_PGLOG_MAX_PIDS backends and TQ_PGLOG_MAX_HELD bytes of statements
 * at once (the least recently used backend is finished early beyond that); a csvlog quote
 * left open ends its record at TQ_PGLOG_MAX_LINE bytes.
 *
 * Threads (options.threads): the files are read in chunks of about TQ_PGLOG_CHUNK bytes (a
 * plain file is split at lines that start a message; a gzip file or stdin is one chunk;
 * with one thread too, so that the records do not depend on the number of threads), several
 * chunks at once: tq_pglog_next gives the records in the order of the log, and
 * tq_pglog_report counts them into a report with every thread. A chunk's reader starts at
 * its first message and, past its end, reads on only to finish the statements of backends
 * that were open there (until each one's next statement); the next chunk's reader skips,
 * per backend, what comes before its first statement. What differs from reading a file
 * whole: a parse/bind duration logged in one chunk is not added to its execute logged in
 * the next one, and an entry of a backend with nothing open at a boundary that precedes its
 * first statement in the next chunk (a bind's DETAIL) is not counted as skipped. In order
 * (tq_pglog_next), at most threads + 2 chunks are in flight, each holding at most
 * TQ_PGLOG_MAX_QUEUED renders that are not yet consumed.
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

#define TQ_PGLOG_CHUNK (2u << 20)
#define TQ_PGLOG_MAX_QUEUED 16384
#define TQ_PGLOG_MAX_THREADS 64

struct tq_pglog_prefix; /* tq_pglog_prefix.h */

struct tq_pglog_options {
    double buffer;     /* default TQ_PGLOG_DEFAULT_BUFFER */
    uint32_t metatile; /* default 1 */
    int threads;       /* parsing threads; 0 or 1: none (the caller's thread parses) */
    int keep_query;    /* 1: tq_pglog_extra gives each record's query */
    /* the server's log_line_prefix (tq_pglog_prefix_compile), borrowed; NULL: guessed */
    const struct tq_pglog_prefix *prefix;
    uint64_t chunk; /* chunk size in bytes; 0: TQ_PGLOG_CHUNK (tests use small ones) */
};

/* What a record has beyond struct tq_report_rec (tq_pglog_extra). */
struct tq_pglog_extra {
    const char *host;        /* syslog host, NULL when unknown */
    const char *application; /* %a, NULL when unknown */
    const char *client;      /* %h / %r, NULL when unknown */
    const char *query;       /* with keep_query (parameters substituted), else NULL */
    struct tq_bbox bbox;     /* the bounds the query asked for (EPSG:3857) */
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

/* Counts every record of the logs into r (instead of tq_pglog_next, on a reader that has
 * not been read yet): each thread (the caller's one of them) parses whole chunks and counts
 * their records into a report of its own, merged into r at the end (tq_report_merge), so
 * nothing is serial but the merge. r is then exactly what tq_pglog_next's records, in log
 * order, would have made it (tq_report's figures do not depend on the order of records).
 * 0, or -1 (err set: the error of the first chunk that failed, or out of memory). */
int tq_pglog_report(struct tq_pglog *p, struct tq_report *r, char *err, size_t errsize);

/* The extra fields of the record tq_pglog_next returned last (valid until the next call). */
void tq_pglog_extra(const struct tq_pglog *p, struct tq_pglog_extra *out);

/* Counters so far. */
void tq_pglog_stats(const struct tq_pglog *p, struct tq_report_input *out);

#endif

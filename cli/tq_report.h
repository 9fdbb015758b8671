/* tq_report — the duplicate-render report: aggregation of render records per tile, per
 * metatile and per zoom, and its output as text, csv, json or html.
 *
 * One aggregation serves every source. A source is an iterator of render records
 * (struct tq_report_rec): tileq's own render log (tq_rlsource.h) and PostgreSQL server
 * logs (tq_pglog.h) both feed tq_report_consume(). Memory is one hash entry per distinct
 * tile and per distinct metatile; records themselves are never kept.
 *
 * Definitions (the same for every source and format):
 *   renders            records counted (after filters); one record = one tile rendered
 *   tiles              distinct tiles (tileset, tables, z, x, y)
 *   change renders     records with reason "change" (re-renders a data change required)
 *   duplicates         per tile, max(0, (renders - change renders) - 1): a change render
 *                      is never a duplicate; summed per zoom and overall (without change
 *                      renders: renders - tiles)
 *   render seconds     sum of the records' durations (a tile's share of its metatile's time)
 *   duplicate seconds  per tile, the time of its renders not for a change minus its first
 *                      such render's (of several started at the same ms, the longest); summed
 *   share              duplicate seconds / render seconds
 * A metatile render is counted once, on the record flagged meta_first; its duplicates the
 * same way. The top tiles and metatiles rank by duplicates, then duplicate time, renders.
 * PostgreSQL log records have no reason "change" (the statement kind is there): for them
 * duplicates are renders - tiles.
 *
 * Files: tq_report.c (aggregation, ranking), tq_report_write.c and one writer per format
 * (tq_report_text.c, _csv, _json, _html) over tq_report_internal.h, tq_report_time.c. */
#ifndef TQ_REPORT_H
#define TQ_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tq_tile.h"

/* One rendered tile. Strings are borrowed: valid for the duration of the call they are
 * passed to. NULL strings mean "unknown". */
struct tq_report_rec {
    const char *tileset;  /* tileset (render log) or database (pglog) */
    const char *tables;   /* pglog: tables the query read, comma-separated; else NULL */
    const char *database; /* pglog */
    const char *user;     /* pglog */
    const char *reason;   /* render log: request|warm|expire|retry|change; pglog:
                           * statement kind */
    struct tq_tile tile;
    struct tq_metatile meta; /* the metatile rendered with it; w = h = 0: size unknown;
                              * z != tile.z (e.g. all zero): the tile alone */
    int meta_first;          /* 1 on exactly one record of each metatile render */
    int64_t started_ms;      /* unix ms */
    double duration_ms;      /* this tile's share */
    double metatile_ms;      /* the whole render's time */
    int64_t bytes;           /* -1 when unknown */
};

/* Iterator over a source: 1 = rec filled, 0 = end, -1 = error (err set). */
typedef int (*tq_report_next_fn)(void *src, struct tq_report_rec *rec, char *err, size_t errsize);

#define TQ_TIME_UNSET INT64_MIN

struct tq_report_filter {
    int64_t since_ms, until_ms; /* TQ_TIME_UNSET when absent; since <= t < until */
    const char *tileset;        /* NULL = all; borrowed for the report's lifetime */
    int zmin, zmax;             /* 0..30 */
};

/* What a log source read, shown in the summary (pglog). */
struct tq_report_input {
    int present;
    uint64_t files, lines, entries; /* entries = log messages (multi-line joined) */
    uint64_t render_queries;        /* statements that became renders */
    uint64_t skipped;               /* entries that are not renders */
    uint64_t unresolved;            /* tile queries whose bounds are not on the grid */
    uint64_t malformed;             /* lines or records that could not be parsed */
    uint64_t truncated;             /* lines, messages or statements cut at their limit */
};

enum tq_report_format { TQ_FMT_TEXT = 0, TQ_FMT_CSV, TQ_FMT_JSON, TQ_FMT_HTML };

struct tq_report_summary {
    uint64_t renders, tiles, duplicates, metatile_renders;
    /* Renders with reason "change": queued by `tileq watch run` after a data change, so a
     * tile's re-render the data required: never counted in duplicates. */
    uint64_t change_renders;
    double render_ms, duplicate_ms, share;
    int64_t first_ms, last_ms; /* TQ_TIME_UNSET when empty */
};

struct tq_report_zoom {
    uint64_t renders, tiles, duplicates;
    double render_ms, duplicate_ms;
};

struct tq_report;

/* A new, empty report; f may be NULL (no filter). Free with tq_report_free(). */
struct tq_report *tq_report_new(const struct tq_report_filter *f, const char *source);
void tq_report_free(struct tq_report *r);

/* Counts one record. 1 counted, 0 filtered out, -1 out of memory. */
int tq_report_add(struct tq_report *r, const struct tq_report_rec *rec);

/* A new, empty report with r's filter and source (a part to merge into r later). NULL on
 * OOM. */
struct tq_report *tq_report_new_like(const struct tq_report *r);

/* Adds everything src counted into dst (src is unchanged): the figures of every tile and
 * metatile (strings re-interned, reason names matched by name), the totals, per zoom, and
 * the input counters. dst then holds exactly what one report fed both parts' records would
 * (in any order): each part's records must have passed dst's filter (same filter).
 * 0, or -1 out of memory (dst is then partly merged: free it). */
int tq_report_merge(struct tq_report *dst, const struct tq_report *src);

/* Drains an iterator into the report. Returns records counted, or -1 (err set). */
int64_t tq_report_consume(struct tq_report *r, tq_report_next_fn next, void *src, char *err,
                          size_t errsize);

/* For a PostgreSQL log source: what it read (the summary shows it), and the outputs get the
 * database, user and tables columns, which the render log does not have. */
void tq_report_set_input(struct tq_report *r, const struct tq_report_input *in);

/* Adds the counters of from to to (present is left as it is). */
void tq_report_input_add(struct tq_report_input *to, const struct tq_report_input *from);

void tq_report_summarize(const struct tq_report *r, struct tq_report_summary *out);
/* Per-zoom figures; z in [0, 30]. */
void tq_report_zoom_stats(const struct tq_report *r, int z, struct tq_report_zoom *out);
/* Renders of one tile (tables NULL for the render log), 0 when never rendered. */
uint64_t tq_report_tile_renders(const struct tq_report *r, const char *tileset, const char *tables,
                                struct tq_tile t);

int tq_report_format_parse(const char *s, enum tq_report_format *out); /* 0 or -1 */

/* Writes the report with the top n tiles and metatiles. 0, or -1 (err set). */
int tq_report_write(struct tq_report *r, enum tq_report_format fmt, size_t top, FILE *out,
                    char *err, size_t errsize);

/* "2024-05-01T10:00:00.123Z" into buf. Returns buf. */
const char *tq_report_time_format(int64_t ms, char *buf, size_t bufsize);

/* Parses a time: "2024-05-01", "2024-05-01T10:00[:00[.123]][Z|+hh[:mm]]" (space also
 * accepted for T; no zone = UTC), unix seconds "@1714557600", or a duration before now
 * "90s", "15m", "2h", "7d". 0 and *out set, or -1. */
int tq_report_time_parse(const char *s, int64_t now_ms, int64_t *out);

#endif

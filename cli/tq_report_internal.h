/* tq_report_internal — the report's layout, shared by its aggregation (tq_report.c) and its
 * writers (tq_report_text.c, tq_report_csv.c, tq_report_json.c, tq_report_html.c). Not for
 * the report's users: they have tq_report.h. */
#ifndef TQ_REPORT_INTERNAL_H
#define TQ_REPORT_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "tq_map.h"
#include "tq_report.h"

#define TQ_REPORT_NZOOM (TQ_TILE_MAX_ZOOM + 1)
#define TQ_REPORT_MAX_REASONS 31 /* bit 31 = "other" */

/* A set of strings, each stored once; id 0 is "no string". */
struct tq_report_strings {
    struct tq_map *ids; /* string → uint32_t id; owns the strings */
    const char **str;   /* str[id]: the map's copy, str[0] = NULL */
    uint32_t n, cap;
};

/* A tile (w == h == 0) or a metatile (x, y = top-left; w, h its size). */
struct tq_report_key {
    uint32_t tileset, tables;
    uint32_t x, y;
    uint16_t w, h;
    int8_t z;
};

/* The figures of one tile or metatile (k), the records counted into it.
 *
 * Durations are integer nanoseconds (a record's duration rounded once, when it is added;
 * sums saturate at INT64_MAX, 292 years): integer sums do not depend on the order they are
 * added in, so a report merged from several (tq_report_merge, one per parsing thread) is
 * exactly the report of one pass, bit for bit, whatever records each part counted. Every
 * other figure is order-independent too: counts, minimum and maximum, and the rules for
 * ties below. */
struct tq_report_entry {
    struct tq_report_key k;
    /* The database and user of the latest render (started_ms) that had either, who_ms its
     * start; renders started at the same ms: the greater (database, user) by strcmp. */
    uint32_t database, user;
    uint32_t reasons; /* bit i = reason id i+1 */
    uint64_t renders;
    uint64_t tiles; /* metatiles: tile records seen */
    int64_t total_ns, max_ns;
    int64_t first_ms, last_ms;
    int64_t who_ms;
    /* Renders with reason "change" and their time: required by a data change, so never
     * duplicates (tq_report_entry_duplicates). */
    uint64_t changes;
    int64_t change_ns;
    /* The first render not for a change (when renders > changes) and its time: the one
     * render of the others that is not a duplicate. Several started at the same ms: the
     * longest is that one (the duplicate time is never overstated). */
    int64_t plain_first_ms;
    int64_t plain_first_ns;
};

/* Nanoseconds as milliseconds, for the writers. */
static inline double tq_report_ms(int64_t ns)
{
    return (double)ns / 1e6;
}

/* The entries of the tiles or of the metatiles: a dense array, and an index from key to
 * position. Not a tq_map of entries: its slots would hold a whole entry each (176 bytes)
 * at a load of 35-70 %, and every doubling writes a new table; the index's slots are 64
 * bytes and the array grows by realloc (mremap when large: no copy, only new pages are
 * touched). Growing the tables was most of the report's time (page faults on a VM). */
struct tq_report_table {
    struct tq_map *index;      /* tq_report_key → uint32_t position in e */
    struct tq_report_entry *e; /* e[0..n), entries never removed */
    size_t n, cap;
};

struct tq_report {
    struct tq_report_filter filter;
    int has_filter;
    char *source;
    struct tq_report_strings strings; /* tilesets, tables, databases, users */
    char *reason_names[TQ_REPORT_MAX_REASONS];
    int nreasons;
    struct tq_report_table tiles, metas;
    /* The last strings interned by tq_report_add (tileset, tables, database, user: the
     * map's copies) and their ids: a render's records repeat them, and a strcmp costs less
     * than a lookup. The last metatile entry looked up (position in metas; UINT32_MAX:
     * none): a metatile render's records (64 at 8x8) are one metatile. */
    const char *last_str[4];
    uint32_t last_id[4];
    struct tq_report_key last_meta;
    uint32_t last_meta_pos;
    uint64_t renders, meta_renders;
    uint64_t change_renders; /* records with reason "change" (tileq watch) */
    int64_t render_ns;
    int64_t first_ms, last_ms;
    uint64_t zrenders[TQ_REPORT_NZOOM];
    int64_t zns[TQ_REPORT_NZOOM];
    struct tq_report_input input;
};

/* Duplicates of an entry: its renders not for a change, less one (0 when none);
 * max(0, (renders - changes) - 1). */
uint64_t tq_report_entry_duplicates(const struct tq_report_entry *e);
/* The time of those duplicates: the time of the renders not for a change, less the first
 * one's; in ns, and in ms. */
int64_t tq_report_entry_duplicate_ns(const struct tq_report_entry *e);
double tq_report_entry_duplicate_ms(const struct tq_report_entry *e);

/* The top n entries of t, best first (more duplicates, more duplicate time, more renders,
 * more time, then by key), in a malloc'd
 * array the caller frees (*count set); NULL on OOM or when empty. */
const struct tq_report_entry **
tq_report_top(const struct tq_report *r, const struct tq_report_table *t, size_t n, size_t *count);

/* "request,warm": the names of the reason bits in alphabetical order (the order of the
 * bits is the order the names were first seen in: not the same in every part of a merged
 * report), into buf. Returns buf. */
const char *tq_report_reasons(const struct tq_report *r, uint32_t bits, char *buf, size_t n);

/* The interned string id, or dflt for none. */
const char *tq_report_str(const struct tq_report *r, uint32_t id, const char *dflt);

/* The database, user and tables columns: only a PostgreSQL log source fills them (and only
 * it calls tq_report_set_input); for the render log they would always be empty. */
int tq_report_pg_columns(const struct tq_report *r);

/* The writers: the top tiles tt[0..nt) and metatiles mt[0..nm), best first. 0, or -1 (err
 * set). */
int tq_report_text_write(struct tq_report *r, const struct tq_report_entry **tt, size_t nt,
                         const struct tq_report_entry **mt, size_t nm, FILE *out);
int tq_report_csv_write(struct tq_report *r, const struct tq_report_entry **tt, size_t nt,
                        FILE *out);
int tq_report_json_write(struct tq_report *r, const struct tq_report_entry **tt, size_t nt,
                         const struct tq_report_entry **mt, size_t nm, FILE *out, char *err,
                         size_t errsize);
int tq_report_html_write(struct tq_report *r, const struct tq_report_entry **tt, size_t nt,
                         const struct tq_report_entry **mt, size_t nm, FILE *out);

#endif

/* tq_watch_sql — what `tileq watch install | uninstall | status` do in PostgreSQL: which
 * tables each tileset reads, and the triggers that record their changes.
 *
 * Finding the tables (the plan). A tileset's `watch` list, when set, names them. Otherwise
 * each layer's SQL, with !BBOX! and !ZOOM! replaced by constants, becomes a temporary view
 * inside a transaction that is rolled back, and the tables come from the catalog: the
 * view's rewrite rule depends (pg_depend) on every relation the query reads, through joins,
 * subqueries, CTEs and other views (followed recursively). This is what PostgreSQL itself
 * records to refuse a DROP TABLE under a view, so it is exact for anything the parser sees,
 * with no plan-shape guessing (EXPLAIN would name only the relations the planner kept, and
 * its output differs across versions). What it cannot see: tables read inside a function
 * called by the layer SQL, and the base tables behind a materialized view or a foreign
 * table; list those in the tileset's `watch` list (install warns about the latter).
 * Auto-published tilesets (no tileset configured) are discovered first, so their tables
 * count too.
 *
 * The triggers. On each watched table, three statement-level triggers with transition
 * tables (tileq_watch_ins: NEW TABLE only; tileq_watch_upd: OLD and NEW; tileq_watch_del:
 * OLD only) call tileq.watch_record(geometry columns...), which inserts one row per
 * statement into tileq.changes: the ST_Extent of the old and of the new geometries in
 * EPSG:3857 (grouped by SRID, each box transformed once: tileq.watch_box_3857), then
 * pg_notify('tileq_changes'). A statement that touched no row records nothing. A table with
 * no geometry column (attributes joined to a geometry elsewhere) records a change
 * `everywhere`. Inside the writer's transaction: a rollback leaves nothing. */
#ifndef TQ_WATCH_SQL_H
#define TQ_WATCH_SQL_H

#include <stddef.h>

#include <libpq-fe.h>

#include "tq_config.h"

#define TQ_WATCH_CHANNEL "tileq_changes"

/* A tileset reading a table, at zooms zmin..zmax (its layers' that read it). */
struct tq_watch_reader {
    const struct tq_tileset_config *ts; /* in the config */
    int zmin, zmax;
};

struct tq_watch_table {
    unsigned oid;
    char *name; /* "schema"."table", quoted as PostgreSQL quotes identifiers */
    size_t ncols;
    char **cols; /* its geometry columns (none: changes are everywhere) */
    size_t nreaders;
    struct tq_watch_reader *readers;
};

struct tq_watch_plan {
    size_t n;
    struct tq_watch_table *tables; /* owned, with everything in them */
};

/* Finds the tables the tilesets of cfg read (see above), into *plan (free it with
 * tq_watch_plan_free). Warnings (a materialized view, a foreign table) are printed on
 * stderr prefixed with "tileq watch: ". 0, or -1 with the reason in err (a layer whose SQL
 * PostgreSQL rejects, a watch entry that is no table). */
int tq_watch_plan_find(PGconn *pg, const struct tq_config *cfg, struct tq_watch_plan *plan,
                       char *err, size_t errsize);
void tq_watch_plan_free(struct tq_watch_plan *plan);

/* The table of plan with that oid, or NULL. */
const struct tq_watch_table *tq_watch_plan_table(const struct tq_watch_plan *plan, unsigned oid);

/* Creates what is missing or different, in one transaction: the tileq schema's change
 * table, position row and registry (tileq.watched), the two functions, the three triggers
 * on each table of plan; drops the triggers of tables no longer in plan. Run twice, the
 * second run changes nothing (*changed = 0). 0, or -1 (err set; nothing changed). */
int tq_watch_install(PGconn *pg, const struct tq_watch_plan *plan, int *changed, char *err,
                     size_t errsize);

/* Drops every tileq_watch_* trigger, both functions, tileq.changes, tileq.watch_position and
 * tileq.watched, in one transaction. *dropped: triggers dropped. 0 or -1 (err set). */
int tq_watch_uninstall(PGconn *pg, int *dropped, char *err, size_t errsize);

/* The change backlog: rows in tileq.changes and the age of the oldest in ms (0 when none).
 * 0, 1 when nothing is installed (no tileq.changes), -1 (err set). */
int tq_watch_backlog(PGconn *pg, long long *count, long long *oldest_ms, char *err, size_t errsize);

/* Runs sql (no parameters) expecting no rows or rows; NULL on failure with err set. */
PGresult *tq_watch_exec(PGconn *pg, const char *sql, int nparams, const char *const *params,
                        char *err, size_t errsize);

#endif

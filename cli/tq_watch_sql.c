/* tq_watch_sql — see tq_watch_sql.h. Identifiers reach SQL through format('%I') on the
 * server or PQescapeIdentifier/PQescapeLiteral, never pasted raw; the layer SQL is the
 * operator's own (as the worker runs it). */
#include "tq_watch_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_buf.h"

static const char SCHEMA_SQL[] =
    "CREATE SCHEMA IF NOT EXISTS tileq;"
    "CREATE TABLE IF NOT EXISTS tileq.changes ("
    " id bigserial PRIMARY KEY,"
    " relid oid NOT NULL,"
    " table_name text NOT NULL,"
    " old_extent box2d,"                          /* EPSG:3857 */
    " new_extent box2d,"                          /* EPSG:3857 */
    " everywhere boolean NOT NULL DEFAULT false," /* a table with no geometry column */
    " created_at timestamptz NOT NULL DEFAULT clock_timestamp());"
    /* The watcher's durable position: updated in the transaction that deletes what it
     * consumed (tq_watch_run.c). */
    "CREATE TABLE IF NOT EXISTS tileq.watch_position ("
    " one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    " last_id bigint NOT NULL DEFAULT 0,"
    " consumed bigint NOT NULL DEFAULT 0,"
    " updated_at timestamptz NOT NULL DEFAULT now());"
    "INSERT INTO tileq.watch_position DEFAULT VALUES ON CONFLICT DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS tileq.watched ("
    " relid oid PRIMARY KEY,"
    " table_name text NOT NULL,"
    " geometry_columns text[] NOT NULL,"
    " tilesets text NOT NULL);";

/* A box in srid to EPSG:3857. Geographic SRIDs: clamped to Web Mercator's latitudes first
 * (the poles have no y); others: densified so that curved edges stay inside the envelope.
 * A box PostGIS cannot transform becomes the whole world: expiring too much is safe,
 * failing the writer's statement or missing tiles is not. */
static const char BOX_FN_NAME[] = "watch_box_3857";
static const char BOX_FN_ARGS[] = "b geometry, srid integer";
static const char BOX_FN_BODY[] =
    "\nDECLARE lo float8 := -85.0511287798066; hi float8 := 85.0511287798066;\n"
    "BEGIN\n"
    "  IF b IS NULL THEN RETURN NULL; END IF;\n"
    "  IF srid IN (0, 3857) THEN RETURN ST_SetSRID(b, 3857); END IF;\n"
    "  IF EXISTS (SELECT 1 FROM spatial_ref_sys s WHERE s.srid = watch_box_3857.srid\n"
    "             AND s.proj4text LIKE '%+proj=longlat%') THEN\n"
    "    RETURN ST_Transform(ST_MakeEnvelope(\n"
    "      least(greatest(ST_XMin(b), -180), 180), least(greatest(ST_YMin(b), lo), hi),\n"
    "      least(greatest(ST_XMax(b), -180), 180), least(greatest(ST_YMax(b), lo), hi), srid),\n"
    "      3857);\n"
    "  END IF;\n"
    "  RETURN ST_Envelope(ST_Transform(ST_Segmentize(ST_SetSRID(b, srid),\n"
    "    greatest(ST_XMax(b) - ST_XMin(b), ST_YMax(b) - ST_YMin(b)) / 16 + 1e-9), 3857));\n"
    "EXCEPTION WHEN OTHERS THEN\n"
    "  RETURN ST_MakeEnvelope(-20037508.342789244, -20037508.342789244,\n"
    "                         20037508.342789244, 20037508.342789244, 3857);\n"
    "END\n";

/* The trigger function: TG_ARGV = the table's geometry columns. The transition tables are
 * tq_old / tq_new (REFERENCING in each trigger); dynamic SQL sees them (PL/pgSQL registers
 * them for every query of the function). */
static const char RECORD_FN_NAME[] = "watch_record";
static const char RECORD_FN_ARGS[] = "";
static const char RECORD_FN_BODY[] =
    "\nDECLARE o box2d; n box2d; rel text; q text; c text; any_row boolean;\n"
    "BEGIN\n"
    "  FOREACH rel IN ARRAY ARRAY['tq_old', 'tq_new'] LOOP\n"
    "    CONTINUE WHEN (rel = 'tq_old' AND TG_OP = 'INSERT')\n"
    "               OR (rel = 'tq_new' AND TG_OP = 'DELETE');\n"
    "    IF TG_NARGS = 0 THEN\n"
    "      EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', rel) INTO any_row;\n"
    "      IF any_row THEN\n"
    "        INSERT INTO tileq.changes (relid, table_name, everywhere)\n"
    "          VALUES (TG_RELID, format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME), true);\n"
    "        PERFORM pg_notify('" TQ_WATCH_CHANNEL "', '');\n"
    "        RETURN NULL;\n"
    "      END IF;\n"
    "      CONTINUE;\n"
    "    END IF;\n"
    "    q := NULL;\n"
    "    FOREACH c IN ARRAY TG_ARGV LOOP\n"
    "      q := coalesce(q || ' UNION ALL ', '') || format('SELECT %I::geometry AS g FROM %I', c, "
    "rel);\n"
    "    END LOOP;\n"
    "    q := 'SELECT ST_Extent(tileq.watch_box_3857(e::geometry, s)) FROM (SELECT ST_SRID(g) AS "
    "s,'\n"
    "      || ' ST_Extent(g) AS e FROM (' || q || ') u WHERE g IS NOT NULL GROUP BY 1) t';\n"
    "    IF rel = 'tq_old' THEN EXECUTE q INTO o; ELSE EXECUTE q INTO n; END IF;\n"
    "  END LOOP;\n"
    "  IF o IS NULL AND n IS NULL THEN RETURN NULL; END IF;\n"
    "  INSERT INTO tileq.changes (relid, table_name, old_extent, new_extent)\n"
    "    VALUES (TG_RELID, format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME), o, n);\n"
    "  PERFORM pg_notify('" TQ_WATCH_CHANNEL "', '');\n"
    "  RETURN NULL;\n"
    "END\n";

static const struct {
    const char *name, *event, *referencing;
} TRIGGERS[3] = {
    {"tileq_watch_ins", "INSERT", "NEW TABLE AS tq_new"},
    {"tileq_watch_upd", "UPDATE", "OLD TABLE AS tq_old NEW TABLE AS tq_new"},
    {"tileq_watch_del", "DELETE", "OLD TABLE AS tq_old"},
};

/* The relations a temporary view depends on, views followed down to what they read. */
static const char DEPS_SQL[] =
    "WITH RECURSIVE deps(relid) AS ("
    "  SELECT d.refobjid FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass"
    "   AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass"
    "  WHERE r.ev_class = 'pg_temp.tq_watch_probe'::regclass AND d.refobjid <> r.ev_class"
    " UNION"
    "  SELECT d.refobjid FROM deps JOIN pg_class c ON c.oid = deps.relid AND c.relkind = 'v'"
    "   JOIN pg_rewrite r ON r.ev_class = c.oid"
    "   JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid"
    "   AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> c.oid)"
    " SELECT c.oid, format('%I.%I', n.nspname, c.relname), c.relkind::text"
    " FROM (SELECT DISTINCT relid FROM deps) x JOIN pg_class c ON c.oid = x.relid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p', 'm', 'f') ORDER BY 2";

static const char NAMED_SQL[] =
    "SELECT c.oid, format('%I.%I', n.nspname, c.relname), c.relkind::text"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass";

static const char COLS_SQL[] =
    "SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0"
    " AND NOT a.attisdropped AND a.atttypid = 'geometry'::regtype ORDER BY a.attnum";

PGresult *tq_watch_exec(PGconn *pg, const char *sql, int nparams, const char *const *params,
                        char *err, size_t errsize)
{
    PGresult *r =
        nparams ? PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(pg);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    snprintf(err, errsize, "%.*s", (int)n, msg);
    PQclear(r);
    return NULL;
}

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errsize)
{
    PGresult *r = tq_watch_exec(pg, sql, 0, NULL, err, errsize);
    PQclear(r);
    return r ? 0 : -1;
}

void tq_watch_plan_free(struct tq_watch_plan *plan)
{
    for (size_t i = 0; i < plan->n; i++) {
        struct tq_watch_table *t = &plan->tables[i];
        free(t->name);
        for (size_t j = 0; j < t->ncols; j++)
            free(t->cols[j]);
        free(t->cols);
        free(t->readers);
    }
    free(plan->tables);
    memset(plan, 0, sizeof *plan);
}

static struct tq_watch_table *find_table(const struct tq_watch_plan *plan, unsigned oid)
{
    for (size_t i = 0; i < plan->n; i++)
        if (plan->tables[i].oid == oid)
            return &plan->tables[i];
    return NULL;
}

const struct tq_watch_table *tq_watch_plan_table(const struct tq_watch_plan *plan, unsigned oid)
{
    return find_table(plan, oid);
}

/* Adds (oid, name) read by ts at zmin..zmax to plan (merging the zooms of a tileset seen
 * again), with its geometry columns. 0 or -1 (err set). */
static int plan_add(PGconn *pg, struct tq_watch_plan *plan, unsigned oid, const char *name,
                    const struct tq_tileset_config *ts, int zmin, int zmax, char *err,
                    size_t errsize)
{
    struct tq_watch_table *t = find_table(plan, oid);
    if (t == NULL) {
        struct tq_watch_table *v = realloc(plan->tables, (plan->n + 1) * sizeof *v);
        if (v == NULL)
            goto oom;
        plan->tables = v;
        t = &v[plan->n];
        memset(t, 0, sizeof *t);
        t->oid = oid;
        t->name = strdup(name);
        plan->n++;
        if (t->name == NULL)
            goto oom;
        char oidbuf[16];
        snprintf(oidbuf, sizeof oidbuf, "%u", oid);
        const char *params[1] = {oidbuf};
        PGresult *r = tq_watch_exec(pg, COLS_SQL, 1, params, err, errsize);
        if (r == NULL)
            return -1;
        int n = PQntuples(r);
        t->cols = calloc((size_t)n + 1, sizeof *t->cols);
        if (t->cols == NULL) {
            PQclear(r);
            goto oom;
        }
        for (int i = 0; i < n; i++) {
            t->cols[i] = strdup(PQgetvalue(r, i, 0));
            if (t->cols[i] == NULL) {
                PQclear(r);
                goto oom;
            }
            t->ncols++;
        }
        PQclear(r);
    }
    for (size_t i = 0; i < t->nreaders; i++) {
        if (t->readers[i].ts == ts) {
            if (zmin < t->readers[i].zmin)
                t->readers[i].zmin = zmin;
            if (zmax > t->readers[i].zmax)
                t->readers[i].zmax = zmax;
            return 0;
        }
    }
    struct tq_watch_reader *rv = realloc(t->readers, (t->nreaders + 1) * sizeof *rv);
    if (rv == NULL)
        goto oom;
    t->readers = rv;
    rv[t->nreaders++] = (struct tq_watch_reader){ts, zmin, zmax};
    return 0;
oom:
    snprintf(err, errsize, "out of memory");
    return -1;
}

/* Adds the rows (oid, name, relkind) of r: tables and partitioned tables; warns about the
 * relations triggers cannot follow. */
static int add_rows(PGconn *pg, struct tq_watch_plan *plan, PGresult *r,
                    const struct tq_tileset_config *ts, const char *what, int zmin, int zmax,
                    char *err, size_t errsize)
{
    for (int i = 0; i < PQntuples(r); i++) {
        unsigned oid = (unsigned)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        const char *name = PQgetvalue(r, i, 1), *kind = PQgetvalue(r, i, 2);
        if (strcmp(kind, "r") != 0 && strcmp(kind, "p") != 0) {
            fprintf(stderr,
                    "tileq watch: tileset %s, %s reads %s, a %s: its changes cannot be followed "
                    "by triggers; list its base tables in the tileset's watch list\n",
                    ts->name, what, name,
                    strcmp(kind, "m") == 0   ? "materialized view"
                    : strcmp(kind, "f") == 0 ? "foreign table"
                                             : "relation that is no table");
            continue;
        }
        if (plan_add(pg, plan, oid, name, ts, zmin, zmax, err, errsize) != 0)
            return -1;
    }
    return 0;
}

/* The tables one layer's SQL reads, through a temporary view rolled back at once. */
static int layer_tables(PGconn *pg, struct tq_watch_plan *plan, const struct tq_tileset_config *ts,
                        const struct tq_layer_config *layer, char *err, size_t errsize)
{
    char what[256], msg[1024];
    struct tq_buf b = TQ_BUF_INIT;
    PGresult *r = NULL;
    int rc = -1, in_tx = 0;
    int zmin = layer->minzoom > ts->minzoom ? layer->minzoom : ts->minzoom;
    int zmax = layer->maxzoom < ts->maxzoom ? layer->maxzoom : ts->maxzoom;

    snprintf(what, sizeof what, "layer %s", layer->name);
    if (zmin > zmax)
        return 0; /* never drawn */
    /* The tokens become constants of their types; trailing ';' and blanks go. */
    const char *params[1] = {layer->sql};
    r = tq_watch_exec(pg,
                      "SELECT rtrim(replace(replace($1, '!BBOX!',"
                      " 'ST_MakeEnvelope(0, 0, 1, 1, 3857)'), '!ZOOM!', '0'), E'; \\t\\r\\n')",
                      1, params, msg, sizeof msg);
    if (r == NULL)
        goto failed;
    tq_buf_append_str(&b, "CREATE TEMP VIEW tq_watch_probe AS ");
    tq_buf_append_str(&b, PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    if (tq_buf_failed(&b)) {
        snprintf(msg, sizeof msg, "out of memory");
        goto failed;
    }
    if (exec_ok(pg, "BEGIN", msg, sizeof msg) != 0)
        goto failed;
    in_tx = 1;
    if (exec_ok(pg, tq_buf_str(&b), msg, sizeof msg) != 0)
        goto failed;
    r = tq_watch_exec(pg, DEPS_SQL, 0, NULL, msg, sizeof msg);
    if (r == NULL)
        goto failed;
    if (add_rows(pg, plan, r, ts, what, zmin, zmax, err, errsize) != 0)
        goto cleanup;
    rc = 0;
    goto cleanup;
failed:
    snprintf(err, errsize, "tileset %s, %s: cannot find the tables its SQL reads: %s", ts->name,
             layer->name, msg);
cleanup:
    PQclear(r);
    if (in_tx)
        PQclear(PQexec(pg, "ROLLBACK"));
    tq_buf_free(&b);
    return rc;
}

int tq_watch_plan_find(PGconn *pg, const struct tq_config *cfg, struct tq_watch_plan *plan,
                       char *err, size_t errsize)
{
    memset(plan, 0, sizeof *plan);
    for (size_t i = 0; i < cfg->ntilesets; i++) {
        const struct tq_tileset_config *ts = &cfg->tilesets[i];
        for (size_t j = 0; j < ts->nwatch; j++) {
            char msg[512], what[300];
            const char *params[1] = {ts->watch[j]};
            PGresult *r = tq_watch_exec(pg, NAMED_SQL, 1, params, msg, sizeof msg);
            if (r == NULL) {
                snprintf(err, errsize, "tileset %s, watch \"%s\": %s", ts->name, ts->watch[j], msg);
                goto failed;
            }
            snprintf(what, sizeof what, "its watch list");
            int rc = add_rows(pg, plan, r, ts, what, ts->minzoom, ts->maxzoom, err, errsize);
            PQclear(r);
            if (rc != 0)
                goto failed;
        }
        for (size_t j = 0; ts->nwatch == 0 && j < ts->nlayers; j++)
            if (layer_tables(pg, plan, ts, &ts->layers[j], err, errsize) != 0)
                goto failed;
    }
    return 0;
failed:
    tq_watch_plan_free(plan);
    return -1;
}

/* Creates tileq.NAME(ARGS) unless it exists with this very body. */
static int ensure_function(PGconn *pg, const char *name, const char *args, const char *returns,
                           const char *volatility, const char *body, int *changed, char *err,
                           size_t errsize)
{
    const char *params[2] = {name, body};
    PGresult *r = tq_watch_exec(pg,
                                "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = "
                                "p.pronamespace WHERE n.nspname = 'tileq' AND p.proname = $1"
                                " AND p.prosrc = $2",
                                2, params, err, errsize);
    if (r == NULL)
        return -1;
    int same = PQntuples(r) > 0;
    PQclear(r);
    if (same)
        return 0;
    struct tq_buf b = TQ_BUF_INIT;
    tq_buf_printf(&b, "CREATE OR REPLACE FUNCTION tileq.%s(%s) RETURNS %s LANGUAGE plpgsql %s AS ",
                  name, args, returns, volatility);
    char *lit = PQescapeLiteral(pg, body, strlen(body));
    if (lit == NULL) {
        snprintf(err, errsize, "%s", PQerrorMessage(pg));
        tq_buf_free(&b);
        return -1;
    }
    tq_buf_append_str(&b, lit);
    PQfreemem(lit);
    int rc = tq_buf_failed(&b) ? -1 : exec_ok(pg, tq_buf_str(&b), err, errsize);
    tq_buf_free(&b);
    *changed += rc == 0;
    return rc;
}

/* The three triggers on t, each (re)created unless there with these arguments. */
static int ensure_triggers(PGconn *pg, const struct tq_watch_table *t, int *changed, char *err,
                           size_t errsize)
{
    char oidbuf[16];
    struct tq_buf want = TQ_BUF_INIT, b = TQ_BUF_INIT;
    int rc = -1;

    /* pg_trigger.tgargs: each argument followed by a NUL. */
    for (size_t i = 0; i < t->ncols; i++)
        tq_buf_append(&want, t->cols[i], strlen(t->cols[i]) + 1);
    snprintf(oidbuf, sizeof oidbuf, "%u", t->oid);
    for (int k = 0; k < 3; k++) {
        const char *params[2] = {oidbuf, TRIGGERS[k].name};
        PGresult *r = tq_watch_exec(pg,
                                    "SELECT tgargs, tgnargs FROM pg_trigger WHERE tgrelid = $1::oid"
                                    " AND tgname = $2",
                                    2, params, err, errsize);
        if (r == NULL)
            goto cleanup;
        int same = 0;
        if (PQntuples(r) == 1 && atoi(PQgetvalue(r, 0, 1)) == (int)t->ncols) {
            size_t len = 0;
            unsigned char *args = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &len);
            same = args != NULL && len == want.len &&
                   (len == 0 || memcmp(args, tq_buf_str(&want), len) == 0);
            PQfreemem(args);
        }
        PQclear(r);
        if (same)
            continue;
        tq_buf_free(&b);
        tq_buf_printf(&b,
                      "DROP TRIGGER IF EXISTS %s ON %s; CREATE TRIGGER %s AFTER %s ON %s"
                      " REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION tileq.watch_record(",
                      TRIGGERS[k].name, t->name, TRIGGERS[k].name, TRIGGERS[k].event, t->name,
                      TRIGGERS[k].referencing);
        for (size_t i = 0; i < t->ncols; i++) {
            char *lit = PQescapeLiteral(pg, t->cols[i], strlen(t->cols[i]));
            if (lit == NULL) {
                snprintf(err, errsize, "%s", PQerrorMessage(pg));
                goto cleanup;
            }
            tq_buf_printf(&b, "%s%s", i ? ", " : "", lit);
            PQfreemem(lit);
        }
        tq_buf_append_str(&b, ")");
        if (tq_buf_failed(&b)) {
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
        if (exec_ok(pg, tq_buf_str(&b), err, errsize) != 0)
            goto cleanup;
        (*changed)++;
    }
    rc = 0;
cleanup:
    tq_buf_free(&want);
    tq_buf_free(&b);
    return rc;
}

/* Drops the tileq_watch_* triggers of every table whose oid is not in plan (plan NULL: all).
 * *dropped counts them. */
static int drop_other_triggers(PGconn *pg, const struct tq_watch_plan *plan, int *dropped,
                               char *err, size_t errsize)
{
    PGresult *r = tq_watch_exec(pg,
                                "SELECT t.tgrelid, format('DROP TRIGGER %I ON %I.%I', t.tgname,"
                                " n.nspname, c.relname) FROM pg_trigger t"
                                " JOIN pg_class c ON c.oid = t.tgrelid"
                                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                                " WHERE t.tgname IN ('tileq_watch_ins', 'tileq_watch_upd',"
                                " 'tileq_watch_del') ORDER BY 2",
                                0, NULL, err, errsize);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        unsigned oid = (unsigned)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        if (plan != NULL && tq_watch_plan_table(plan, oid) != NULL)
            continue;
        if (exec_ok(pg, PQgetvalue(r, i, 1), err, errsize) != 0) {
            PQclear(r);
            return -1;
        }
        (*dropped)++;
    }
    PQclear(r);
    return 0;
}

/* tileq.watched as the plan says (rows changed only where they differ). */
static int sync_registry(PGconn *pg, const struct tq_watch_plan *plan, int *changed, char *err,
                         size_t errsize)
{
    struct tq_buf keep = TQ_BUF_INIT;
    int rc = -1;
    tq_buf_append_str(&keep, "{");
    for (size_t i = 0; i < plan->n; i++) {
        const struct tq_watch_table *t = &plan->tables[i];
        char oidbuf[16];
        struct tq_buf cols = TQ_BUF_INIT, tss = TQ_BUF_INIT;
        tq_buf_append_str(&cols, "{");
        for (size_t j = 0; j < t->ncols; j++) {
            tq_buf_append_str(&cols, j ? ",\"" : "\"");
            for (const char *p = t->cols[j]; *p; p++) {
                if (*p == '"' || *p == '\\')
                    tq_buf_append_char(&cols, '\\');
                tq_buf_append_char(&cols, *p);
            }
            tq_buf_append_str(&cols, "\"");
        }
        tq_buf_append_str(&cols, "}");
        for (size_t j = 0; j < t->nreaders; j++)
            tq_buf_printf(&tss, "%s%s z%d-%d", j ? ", " : "", t->readers[j].ts->name,
                          t->readers[j].zmin, t->readers[j].zmax);
        snprintf(oidbuf, sizeof oidbuf, "%u", t->oid);
        tq_buf_printf(&keep, "%s%s", i ? "," : "", oidbuf);
        const char *params[4] = {oidbuf, t->name, tq_buf_str(&cols), tq_buf_str(&tss)};
        PGresult *r = NULL;
        if (!tq_buf_failed(&cols) && !tq_buf_failed(&tss))
            r = tq_watch_exec(pg,
                              "INSERT INTO tileq.watched VALUES ($1::oid, $2, $3::text[], $4)"
                              " ON CONFLICT (relid) DO UPDATE SET table_name = $2,"
                              " geometry_columns = $3::text[], tilesets = $4"
                              " WHERE (tileq.watched.table_name, tileq.watched.geometry_columns,"
                              " tileq.watched.tilesets) IS DISTINCT FROM ($2, $3::text[], $4)",
                              4, params, err, errsize);
        else
            snprintf(err, errsize, "out of memory");
        tq_buf_free(&cols);
        tq_buf_free(&tss);
        if (r == NULL)
            goto cleanup;
        *changed += atoi(PQcmdTuples(r));
        PQclear(r);
    }
    tq_buf_append_str(&keep, "}");
    const char *params[1] = {tq_buf_str(&keep)};
    PGresult *r = tq_watch_exec(pg, "DELETE FROM tileq.watched WHERE relid <> ALL ($1::oid[])", 1,
                                params, err, errsize);
    if (r == NULL)
        goto cleanup;
    *changed += atoi(PQcmdTuples(r));
    PQclear(r);
    rc = 0;
cleanup:
    tq_buf_free(&keep);
    return rc;
}

int tq_watch_install(PGconn *pg, const struct tq_watch_plan *plan, int *changed, char *err,
                     size_t errsize)
{
    *changed = 0;
    /* Quiet: CREATE ... IF NOT EXISTS notices are not news. */
    if (exec_ok(pg, "SET client_min_messages = warning", err, errsize) != 0 ||
        exec_ok(pg, "BEGIN", err, errsize) != 0)
        return -1;
    /* Is it there at all? The schema's DDL runs only when not (so a second run changes
     * nothing, not even a catalog row). */
    PGresult *r = tq_watch_exec(pg,
                                "SELECT to_regclass('tileq.changes') IS NOT NULL AND"
                                " to_regclass('tileq.watch_position') IS NOT NULL AND"
                                " to_regclass('tileq.watched') IS NOT NULL",
                                0, NULL, err, errsize);
    if (r == NULL)
        goto failed;
    int present = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!present) {
        if (exec_ok(pg, SCHEMA_SQL, err, errsize) != 0)
            goto failed;
        (*changed)++;
    }
    if (ensure_function(pg, BOX_FN_NAME, BOX_FN_ARGS, "geometry", "STABLE", BOX_FN_BODY, changed,
                        err, errsize) != 0 ||
        ensure_function(pg, RECORD_FN_NAME, RECORD_FN_ARGS, "trigger", "VOLATILE", RECORD_FN_BODY,
                        changed, err, errsize) != 0)
        goto failed;
    for (size_t i = 0; i < plan->n; i++)
        if (ensure_triggers(pg, &plan->tables[i], changed, err, errsize) != 0)
            goto failed;
    if (drop_other_triggers(pg, plan, changed, err, errsize) != 0 ||
        sync_registry(pg, plan, changed, err, errsize) != 0)
        goto failed;
    if (exec_ok(pg, "COMMIT", err, errsize) != 0)
        return -1;
    return 0;
failed:
    PQclear(PQexec(pg, "ROLLBACK"));
    return -1;
}

int tq_watch_uninstall(PGconn *pg, int *dropped, char *err, size_t errsize)
{
    *dropped = 0;
    if (exec_ok(pg, "SET client_min_messages = warning", err, errsize) != 0 ||
        exec_ok(pg, "BEGIN", err, errsize) != 0)
        return -1;
    if (drop_other_triggers(pg, NULL, dropped, err, errsize) != 0 ||
        exec_ok(pg,
                "DROP FUNCTION IF EXISTS tileq.watch_record();"
                "DROP FUNCTION IF EXISTS tileq.watch_box_3857(geometry, integer);"
                "DROP TABLE IF EXISTS tileq.changes, tileq.watch_position, tileq.watched",
                err, errsize) != 0) {
        PQclear(PQexec(pg, "ROLLBACK"));
        return -1;
    }
    return exec_ok(pg, "COMMIT", err, errsize);
}

int tq_watch_backlog(PGconn *pg, long long *count, long long *oldest_ms, char *err, size_t errsize)
{
    PGresult *r =
        tq_watch_exec(pg, "SELECT to_regclass('tileq.changes') IS NOT NULL", 0, NULL, err, errsize);
    if (r == NULL)
        return -1;
    int present = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    *count = *oldest_ms = 0;
    if (!present)
        return 1;
    r = tq_watch_exec(pg,
                      "SELECT count(*), coalesce((extract(epoch FROM clock_timestamp() -"
                      " min(created_at)) * 1000)::bigint, 0) FROM tileq.changes",
                      0, NULL, err, errsize);
    if (r == NULL)
        return -1;
    *count = atoll(PQgetvalue(r, 0, 0));
    *oldest_ms = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

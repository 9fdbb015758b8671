/* tq_render — one prepared statement per tileset renders every tile of a metatile in one
 * round trip. See tq_render.h for the statement and its parameters. */
#include "tq_render.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tq_buf.h"
#include "tq_log.h"
#include "tq_tilejson.h"
#include "tq_time.h"

#define INT4OID 23
#define FLOAT8OID 701
#define DRAIN_TIMEOUT_MS 5000

/* What the renderer knows about one tileset on the current connection. */
struct ts_state {
    const struct tq_tileset_config *ts; /* borrowed from the config */
    char stmt[32];                      /* prepared statement name */
    int prepared;
    char stmt1[32]; /* metatile > 1: the one-tile (contract) form, for a job's first tile */
    int prepared1;
    json_t *schema; /* the layers' fields as last described (tq_tilejson.h), owned */
    /* The last one-tile render's SQL time at each zoom (0: none yet), for set_jit. */
    float one_ms[TQ_TILE_MAX_ZOOM + 1];
};

/* A one-tile render gets JIT when the last one at its tileset and zoom took at least this
 * long (see want_jit). */
#define JIT_MIN_MS 100.0f

struct tq_renderer {
    const struct tq_config *cfg; /* borrowed */
    size_t n;
    struct ts_state *ts;
    int timeout_ms; /* statement_timeout last SET on the connection; -1 unknown (new one) */
    int jit;        /* jit last SET on the connection: 0 off, 1 on, -1 unknown (new one) */
};

void tq_render_result_clear(struct tq_render_result *r)
{
    if (r->res)
        PQclear(r->res);
    free(r->tiles);
    memset(r, 0, sizeof *r);
}

double tq_render_margin(int z, unsigned buffer, unsigned extent)
{
    return (2 * TQ_MERC_MAX / (double)tq_tile_grid_size(z)) * (double)buffer / (double)extent;
}

char *tq_render_substitute(const char *sql, const char *bbox, const char *zoom)
{
    struct tq_buf b = TQ_BUF_INIT;
    const char *p = sql;
    while (*p) {
        if (strncmp(p, "!BBOX!", 6) == 0) {
            tq_buf_append_str(&b, bbox);
            p += 6;
        } else if (strncmp(p, "!ZOOM!", 6) == 0) {
            tq_buf_append_str(&b, zoom);
            p += 6;
        } else {
            const char *q = p + 1;
            while (*q && *q != '!')
                q++;
            tq_buf_append(&b, p, (size_t)(q - p));
            p = q;
        }
    }
    return tq_buf_take(&b, NULL);
}

/* Layer SQL with tokens replaced and trailing blanks and semicolons removed, so it can be
 * wrapped as a subquery. Malloc'd, NULL on OOM. */
static char *layer_sql(const char *sql, const char *bbox, const char *zoom)
{
    char *s = tq_render_substitute(sql, bbox, zoom);
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ';' || s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                     s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

struct tq_renderer *tq_render_new(const struct tq_config *cfg)
{
    struct tq_renderer *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->cfg = cfg;
    r->n = cfg->ntilesets;
    r->timeout_ms = -1;
    r->jit = -1;
    r->ts = calloc(r->n ? r->n : 1, sizeof *r->ts);
    if (r->ts == NULL) {
        free(r);
        return NULL;
    }
    for (size_t i = 0; i < r->n; i++) {
        r->ts[i].ts = &cfg->tilesets[i];
        snprintf(r->ts[i].stmt, sizeof r->ts[i].stmt, "tq_mt_%zu", i);
        snprintf(r->ts[i].stmt1, sizeof r->ts[i].stmt1, "tq_one_%zu", i);
    }
    return r;
}

void tq_render_free(struct tq_renderer *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        json_decref(r->ts[i].schema);
    }
    free(r->ts);
    free(r);
}

void tq_render_reset(struct tq_renderer *r)
{
    r->timeout_ms = -1;
    r->jit = -1;
    for (size_t i = 0; i < r->n; i++) {
        r->ts[i].prepared = 0;
        r->ts[i].prepared1 = 0;
    }
}

static struct ts_state *find_ts(const struct tq_renderer *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->ts[i].ts->name, name) == 0)
            return &r->ts[i];
    return NULL;
}

char *tq_render_schema_json(const struct tq_renderer *r, const char *tileset)
{
    const struct ts_state *s = find_ts(r, tileset);
    return s && s->prepared && s->schema ? json_dumps(s->schema, JSON_COMPACT) : NULL;
}

/* Status for a failed command: CONN_ERROR when the connection is gone. */
static enum tq_render_status failed(PGconn *pg)
{
    return PQstatus(pg) == CONNECTION_BAD ? TQ_RENDER_CONN_ERROR : TQ_RENDER_SQL_ERROR;
}

/* Copies libpq's message without the trailing newline. */
static void pg_error(PGconn *pg, const PGresult *res, const char *what, char *err, size_t errsize)
{
    const char *m = res ? PQresultErrorMessage(res) : "";
    if (m == NULL || *m == '\0')
        m = PQerrorMessage(pg);
    snprintf(err, errsize, "%s: %s", what, m);
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

/* Appends the attribute list (", c."a", c."b"") of one layer to b and the same list with
 * alias w (", w."a"...") to wb, found by describing the layer's query, and the columns'
 * types to fields (column → type, tq_tilejson.h).
 * Sets rn to a prefix ("tq_", "tq__", ...) that no column name of the layer's query starts
 * with, for the statement's own columns. */
static enum tq_render_status describe_layer(PGconn *pg, const struct tq_tileset_config *ts,
                                            const struct tq_layer_config *layer, struct tq_buf *b,
                                            struct tq_buf *wb, json_t *fields, char *rn,
                                            size_t rnsize, char *err, size_t errsize)
{
    static const Oid types[5] = {FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT4OID};
    enum tq_render_status st = TQ_RENDER_SQL_ERROR;
    PGresult *res = NULL;
    struct tq_buf q = TQ_BUF_INIT;
    char *inner = NULL, *sql = NULL;
    int has_geom = 0;

    inner = layer_sql(layer->sql, "ST_MakeEnvelope($1,$2,$3,$4,3857)", "$5::integer");
    tq_buf_append_str(&q, "SELECT * FROM (");
    tq_buf_append_str(&q, inner ? inner : "");
    tq_buf_append_str(&q, "\n) s");
    sql = tq_buf_take(&q, NULL);
    if (inner == NULL || sql == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    res = PQprepare(pg, "", sql, 5, types);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        st = failed(pg);
        char what[256];
        snprintf(what, sizeof what, "tileset %s layer %s", ts->name, layer->name);
        pg_error(pg, res, what, err, errsize);
        goto cleanup;
    }
    PQclear(res);
    res = PQdescribePrepared(pg, "");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        st = failed(pg);
        pg_error(pg, res, "describe", err, errsize);
        goto cleanup;
    }
    for (int i = 0; i < PQnfields(res); i++) {
        const char *name = PQfname(res, i);
        if (strcmp(name, "geom") == 0) {
            has_geom = 1;
            continue;
        }
        char *id = PQescapeIdentifier(pg, name, strlen(name));
        if (id == NULL) {
            st = failed(pg);
            pg_error(pg, NULL, "escape identifier", err, errsize);
            goto cleanup;
        }
        tq_buf_printf(b, ", c.%s", id);
        tq_buf_printf(wb, ", w.%s", id);
        PQfreemem(id);
        const char *type = tq_tilejson_field_type((unsigned)PQftype(res, i));
        if (type && json_object_set_new(fields, name, json_string(type)) != 0) {
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
    }
    if (!has_geom) {
        snprintf(err, errsize, "tileset %s layer %s: the query has no geom column", ts->name,
                 layer->name);
        goto cleanup;
    }
    /* The statement's own columns (prefix + "rn", "b", "x0", ...) must not shadow one of
     * the layer's: a prefix no column name starts with. */
    snprintf(rn, rnsize, "tq_");
    for (int i = 0; i < PQnfields(res) && strlen(rn) + 2 < rnsize; i++) {
        if (strncmp(PQfname(res, i), rn, strlen(rn)) == 0) {
            strcat(rn, "_");
            i = -1; /* check the new prefix against every column again */
        }
    }
    st = TQ_RENDER_OK;
cleanup:
    if (res)
        PQclear(res);
    free(inner);
    free(sql);
    return st;
}

/* What one layer's part of a statement is made of. */
struct layer_parts {
    char rn[32];  /* prefix of the statement's own columns (describe_layer) */
    char *attrs;  /* ", c."a", c."b"": the layer's attribute columns, malloc'd */
    char *wattrs; /* the same with alias w, malloc'd */
    char *inner;  /* the layer's SQL, its tokens bound to the statement's parameters, malloc'd */
    char *lname;  /* the layer's name as an SQL literal (PQfreemem) */
};

static void layer_parts_clear(struct layer_parts *lp)
{
    free(lp->attrs);
    free(lp->wattrs);
    free(lp->inner);
    if (lp->lname)
        PQfreemem(lp->lname);
    memset(lp, 0, sizeof *lp);
}

/* Describes layer on pg (its columns' types into fields) and fills lp, which the caller
 * clears with layer_parts_clear (also after a failure). */
static enum tq_render_status layer_parts_make(PGconn *pg, const struct tq_tileset_config *ts,
                                              const struct tq_layer_config *layer, json_t *fields,
                                              struct layer_parts *lp, char *err, size_t errsize)
{
    struct tq_buf attrs = TQ_BUF_INIT, wattrs = TQ_BUF_INIT;

    enum tq_render_status st =
        describe_layer(pg, ts, layer, &attrs, &wattrs, fields, lp->rn, sizeof lp->rn, err, errsize);
    lp->attrs = tq_buf_take(&attrs, NULL);
    lp->wattrs = tq_buf_take(&wattrs, NULL);
    if (st != TQ_RENDER_OK)
        return st;
    lp->inner = layer_sql(layer->sql, "ST_MakeEnvelope($6,$7,$8,$9,3857)", "$1::integer");
    lp->lname = PQescapeLiteral(pg, layer->name, strlen(layer->name));
    if (lp->attrs == NULL || lp->wattrs == NULL || lp->inner == NULL || lp->lname == NULL) {
        int pg_failed = lp->lname == NULL && lp->inner != NULL;
        snprintf(err, errsize, "%s", pg_failed ? PQerrorMessage(pg) : "out of memory");
        return pg_failed ? failed(pg) : TQ_RENDER_SQL_ERROR;
    }
    return TQ_RENDER_OK;
}

/* Appends layer i's entry {"fields": {}, "id": name} to slayers (the schema's layer list);
 * *fields is its fields object (owned by slayers). 0, or -1 on OOM. */
static int schema_add_layer(json_t *slayers, const char *name, json_t **fields)
{
    json_t *sl = json_object();
    *fields = json_object();
    if (sl == NULL || *fields == NULL) {
        json_decref(sl);
        json_decref(*fields);
        return -1;
    }
    /* The _new calls take the references, also when they fail: sl owns fields, then slayers
     * owns sl. */
    int bad = json_object_set_new(sl, "fields", *fields) != 0;
    bad |= json_object_set_new(sl, "id", json_string(name)) != 0;
    if (bad) {
        json_decref(sl);
        return -1;
    }
    return json_array_append_new(slayers, sl) != 0 ? -1 : 0;
}

/* The one-tile statement: layer i's term of the SELECT list, the contract's query itself,
 * the layer query run once (a layer gated on the zoom: a one-time filter on $1). */
static void add_tile_layer(struct tq_buf *sel, const struct tq_tileset_config *ts, size_t i,
                           const struct layer_parts *lp)
{
    const struct tq_layer_config *layer = &ts->layers[i];

    tq_buf_printf(sel,
                  "%sCOALESCE((SELECT ST_AsMVT(q, %s, %u, 'geom') FROM (SELECT "
                  "ST_AsMVTGeom(c.geom, ST_TileEnvelope($1::integer, $2::integer, "
                  "$3::integer), %u, %u, true) AS geom%s FROM (%s\n) c WHERE ",
                  i ? " || " : "", lp->lname, ts->extent, ts->extent, ts->buffer, lp->attrs,
                  lp->inner);
    if (layer->minzoom > ts->minzoom || layer->maxzoom < ts->maxzoom)
        tq_buf_printf(sel, "$1::integer BETWEEN %d AND %d AND ", layer->minzoom, layer->maxzoom);
    tq_buf_append_str(sel, "c.geom && ST_Expand(ST_TileEnvelope($1::integer, $2::integer, "
                           "$3::integer), $10::float8)) q), ''::bytea)");
}

/* The metatile statement: layer i's CTEs l<i> (its rows) and r<i> (its tile of each tile)
 * into ctes, and its term of the SELECT list into sel. */
static void add_metatile_layer(struct tq_buf *ctes, struct tq_buf *sel,
                               const struct tq_tileset_config *ts, size_t i,
                               const struct layer_parts *lp)
{
    const struct tq_layer_config *layer = &ts->layers[i];
    const char *rn = lp->rn;

    /* The layer's rows (its query runs once, over the metatile), numbered in the order the
     * query returns them: ST_AsMVT gets each tile's rows in that order, as the per-tile
     * query would. Each row also gets the range of tiles of the metatile its bbox touches
     * (see the header). A layer whose zoom range is narrower than the tileset's is gated on
     * $1: its CTE is then empty (a one-time filter: the layer query does not run). */
    tq_buf_printf(ctes,
                  "%sl%zu AS MATERIALIZED (SELECT "
                  "$2::integer - 1 + greatest(1, width_bucket(ST_XMin(w.%sb) - $11::float8, "
                  "$12::float8, $13::float8, $4::integer - $2::integer + 1)) AS %sx0, "
                  "$2::integer - 1 + least($4::integer - $2::integer + 1, "
                  "width_bucket(ST_XMax(w.%sb) + $11::float8, $12::float8, $13::float8, "
                  "$4::integer - $2::integer + 1)) AS %sx1, "
                  "$3::integer - 1 + greatest(1, width_bucket(ST_YMax(w.%sb) + $11::float8, "
                  "$14::float8, $15::float8, $5::integer - $3::integer + 1)) AS %sy0, "
                  "$3::integer - 1 + least($5::integer - $3::integer + 1, "
                  "width_bucket(ST_YMin(w.%sb) - $11::float8, $14::float8, $15::float8, "
                  "$5::integer - $3::integer + 1)) AS %sy1, w.%srn, w.geom%s"
                  "\n  FROM (SELECT row_number() OVER () AS %srn, box2d(s.geom) AS %sb, s.* FROM "
                  "(%s\n) s",
                  i ? ",\n" : "", i, rn, rn, rn, rn, rn, rn, rn, rn, rn, lp->wattrs, rn, rn,
                  lp->inner);
    if (layer->minzoom > ts->minzoom || layer->maxzoom < ts->maxzoom)
        tq_buf_printf(ctes, " WHERE $1::integer BETWEEN %d AND %d", layer->minzoom, layer->maxzoom);
    tq_buf_append_str(ctes, ") w),\n");
    /* Every row joined to each tile of its range (one set-returning call per row:
     * %sk = 0 .. columns * rows - 1), the contract's exact filter, one ST_AsMVT per tile. */
    tq_buf_printf(ctes,
                  "r%zu AS (SELECT t.tx, t.ty, ST_AsMVT(q, %s, %u, 'geom' ORDER BY c.%srn) AS mvt"
                  "\n  FROM (SELECT c.*, generate_series(0, greatest(0, c.%sx1 - c.%sx0 + 1) * "
                  "greatest(0, c.%sy1 - c.%sy0 + 1) - 1) AS %sk FROM l%zu c) c"
                  "\n  JOIN t ON t.tx = c.%sx0 + c.%sk %% (c.%sx1 - c.%sx0 + 1) AND "
                  "t.ty = c.%sy0 + c.%sk / (c.%sx1 - c.%sx0 + 1)"
                  "\n  CROSS JOIN LATERAL (SELECT ST_AsMVTGeom(c.geom, t.env, %u, %u, true) AS "
                  "geom%s) q"
                  "\n  WHERE c.geom && t.xenv GROUP BY t.tx, t.ty)",
                  i, lp->lname, ts->extent, rn, rn, rn, rn, rn, rn, i, rn, rn, rn, rn, rn, rn, rn,
                  rn, ts->extent, ts->buffer, lp->attrs);
    tq_buf_printf(sel, "%sCOALESCE(r%zu.mvt, ''::bytea)", i ? " || " : "", i);
}

/* The SQL of tileset ts's statement: the metatile form, or with single the one-tile form
 * (the contract's query). Describes every layer on pg, appending its entry to slayers (the
 * schema's layer list). Returns the malloc'd SQL (the caller frees), or NULL with *st and
 * err set. */
static char *statement_sql(PGconn *pg, const struct tq_tileset_config *ts, int single,
                           json_t *slayers, enum tq_render_status *st, char *err, size_t errsize)
{
    struct tq_buf ctes = TQ_BUF_INIT, sel = TQ_BUF_INIT;
    struct layer_parts lp = {0};
    char *sql = NULL, *selsql = NULL;

    *st = TQ_RENDER_SQL_ERROR;
    if (ts->nlayers == 0) {
        snprintf(err, errsize, "tileset %s has no layers", ts->name);
        goto cleanup;
    }
    if (single) {
        tq_buf_append_str(&sel, "SELECT $2::integer AS tx, $3::integer AS ty, ");
    } else {
        /* The tiles of the metatile (but $16/$17, a tile rendered already: its rows still
         * run through the layer CTE, they just join no tile), their envelopes and the
         * envelopes grown by the margin. */
        tq_buf_append_str(
            &ctes, "WITH t AS MATERIALIZED (SELECT tx, ty, ST_TileEnvelope($1::integer, tx, "
                   "ty) AS env, ST_Expand(ST_TileEnvelope($1::integer, tx, ty), $10::float8) "
                   "AS xenv FROM generate_series($2::integer, $4::integer) tx, "
                   "generate_series($3::integer, $5::integer) ty "
                   "WHERE NOT (tx = $16::integer AND ty = $17::integer)),\n");
        tq_buf_append_str(&sel, "\nSELECT t.tx, t.ty, ");
    }
    for (size_t i = 0; i < ts->nlayers; i++) {
        json_t *fields;
        if (schema_add_layer(slayers, ts->layers[i].name, &fields) != 0) {
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
        *st = layer_parts_make(pg, ts, &ts->layers[i], fields, &lp, err, errsize);
        if (*st != TQ_RENDER_OK)
            goto cleanup;
        *st = TQ_RENDER_SQL_ERROR;
        if (single)
            add_tile_layer(&sel, ts, i, &lp);
        else
            add_metatile_layer(&ctes, &sel, ts, i, &lp);
        layer_parts_clear(&lp);
    }
    tq_buf_append_str(&sel, " AS mvt");
    if (!single) {
        tq_buf_append_str(&sel, " FROM t");
        for (size_t i = 0; i < ts->nlayers; i++)
            tq_buf_printf(&sel, " LEFT JOIN r%zu ON r%zu.tx = t.tx AND r%zu.ty = t.ty", i, i, i);
    }
    selsql = tq_buf_take(&sel, NULL);
    if (selsql != NULL) {
        tq_buf_append_str(&ctes, selsql);
        sql = tq_buf_take(&ctes, NULL);
    }
    if (sql == NULL)
        snprintf(err, errsize, "out of memory");
cleanup:
    layer_parts_clear(&lp);
    free(selsql);
    tq_buf_free(&ctes);
    tq_buf_free(&sel);
    return sql;
}

/* The session settings of the render statements, set with them after every (re)connect.
 * JIT off to begin with: set_jit decides it per render. Custom plans always: a generic plan keeps
 * ST_TileEnvelope($1, …) and the envelope parameters as expressions evaluated per row
 * instead of constants folded once, and picks its scan without knowing the bbox.
 * TQ_RENDER_OK, or TQ_RENDER_CONN_ERROR when the connection broke (another failure shows
 * again when the statement is prepared). */
static enum tq_render_status set_session(PGconn *pg, char *err, size_t errsize)
{
    enum tq_render_status st = TQ_RENDER_OK;
    PGresult *res = PQexec(pg, "SET jit = off; SET plan_cache_mode = force_custom_plan");
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQstatus(pg) == CONNECTION_BAD) {
        st = TQ_RENDER_CONN_ERROR;
        pg_error(pg, res, "SET jit", err, errsize);
    }
    PQclear(res);
    return st;
}

/* Whether this render gets JIT, from what it costs:
 * - a metatile statement: never. Its plan holds the expressions of every sub-tile, so LLVM's
 *   compile and optimization of it (PostgreSQL JITs every execution whose estimated cost is
 *   over jit_above_cost, and a render's estimate is high: every row times PostGIS calls) took
 *   longer than running it: 0.5-1 s on the 100,000-point benchmark tile, for a ~300 ms query;
 * - a one-tile statement (a tileset of metatile 1, or a job's first tile rendered alone):
 *   when the last one-tile render of that tileset at that zoom took JIT_MIN_MS or more. A
 *   slow tile is where JIT pays (bench/cold_tile.sh: the 100,000-point tile's query ~10%
 *   faster with it, compile included); on a tile of a few ms the compile would cost more
 *   than the whole query. The first render at a zoom goes without. */
static int want_jit(const struct ts_state *s, int single, int z)
{
    return single && z >= 0 && z <= TQ_TILE_MAX_ZOOM && s->one_ms[z] >= JIT_MIN_MS;
}

/* Sets JIT for this render (only when it changes on the connection: one round trip, ~0.1 ms
 * on a LAN, when a job switches between the two kinds). TQ_RENDER_OK, or as
 * tq_render_set_timeout. */
static enum tq_render_status set_jit(struct tq_renderer *r, PGconn *pg, int on, char *err,
                                     size_t errsize)
{
    enum tq_render_status st = TQ_RENDER_OK;

    if (r->jit == on)
        return TQ_RENDER_OK;
    PGresult *res = PQexec(pg, on ? "SET jit = on" : "SET jit = off");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_error(pg, res, "SET jit", err, errsize);
        st = failed(pg);
        r->jit = -1;
    } else {
        r->jit = on;
    }
    PQclear(res);
    return st;
}

/* Prepares sql as statement stmt of tileset, replacing a statement of that name that is
 * still there (tq_render_reset was called on a live connection). */
static enum tq_render_status prepare_statement(PGconn *pg, const char *tileset, const char *stmt,
                                               const char *sql, char *err, size_t errsize)
{
    static const Oid types[TQ_RENDER_NPARAMS] = {
        INT4OID,   INT4OID,   INT4OID,   INT4OID,   INT4OID,   FLOAT8OID,
        FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
        FLOAT8OID, FLOAT8OID, FLOAT8OID, INT4OID,   INT4OID};
    enum tq_render_status st = TQ_RENDER_OK;
    char what[160], dealloc[64];

    PGresult *res = PQprepare(pg, stmt, sql, TQ_RENDER_NPARAMS, types);
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        goto cleanup;
    st = failed(pg);
    snprintf(what, sizeof what, "tileset %s: prepare", tileset);
    pg_error(pg, res, what, err, errsize);
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (st != TQ_RENDER_SQL_ERROR || code == NULL || strcmp(code, "42P05") != 0)
        goto cleanup;
    /* It exists already (duplicate_prepared_statement): deallocate it and prepare again. */
    PQclear(res);
    snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", stmt);
    res = PQexec(pg, dealloc);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        goto cleanup;
    PQclear(res);
    res = PQprepare(pg, stmt, sql, TQ_RENDER_NPARAMS, types);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        st = TQ_RENDER_OK;
        goto cleanup;
    }
    st = failed(pg);
    pg_error(pg, res, what, err, errsize);
cleanup:
    PQclear(res);
    return st;
}

/* Builds and prepares the metatile statement of one tileset and keeps the layers' schema,
 * or with one = 1 (metatile > 1 only) its one-tile form (s->stmt1, the contract's query; its
 * schema is not kept). */
static enum tq_render_status prepare_ts(PGconn *pg, struct ts_state *s, int one, char *err,
                                        size_t errsize)
{
    const struct tq_tileset_config *ts = s->ts;
    enum tq_render_status st = TQ_RENDER_SQL_ERROR;
    char *sql = NULL;
    json_t *schema = json_object(), *slayers = json_array();

    if (schema == NULL || slayers == NULL || json_object_set(schema, "layers", slayers) != 0) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    sql = statement_sql(pg, ts, ts->metatile == 1 || one, slayers, &st, err, errsize);
    if (sql == NULL)
        goto cleanup;
    st = set_session(pg, err, errsize);
    if (st != TQ_RENDER_OK)
        goto cleanup;
    st = prepare_statement(pg, ts->name, one ? s->stmt1 : s->stmt, sql, err, errsize);
    if (st != TQ_RENDER_OK)
        goto cleanup;
    if (one) {
        s->prepared1 = 1;
        goto cleanup;
    }
    json_decref(s->schema);
    s->schema = schema;
    schema = NULL;
    s->prepared = 1;
cleanup:
    free(sql);
    json_decref(schema);
    json_decref(slayers);
    return st;
}

enum tq_render_status tq_render_prepare(struct tq_renderer *r, PGconn *pg, const char *tileset,
                                        char *err, size_t errsize)
{
    struct ts_state *s = find_ts(r, tileset);
    if (s == NULL) {
        snprintf(err, errsize, "unknown tileset %s", tileset);
        return TQ_RENDER_SQL_ERROR;
    }
    if (!s->prepared) {
        enum tq_render_status st = prepare_ts(pg, s, 0, err, errsize);
        if (st != TQ_RENDER_OK)
            return st;
    }
    if (s->ts->metatile > 1 && !s->prepared1)
        return prepare_ts(pg, s, 1, err, errsize);
    return TQ_RENDER_OK;
}

int tq_render_prepare_all(struct tq_renderer *r, PGconn *pg)
{
    int nfailed = 0;
    for (size_t i = 0; i < r->n; i++) {
        char err[1024], q[1100];
        double t0 = tq_mono_ms();
        enum tq_render_status st = tq_render_prepare(r, pg, r->ts[i].ts->name, err, sizeof err);
        if (st == TQ_RENDER_CONN_ERROR)
            return -1;
        if (st != TQ_RENDER_OK) {
            tq_log_error("prepare_failed", "tileset=%s error=%s", r->ts[i].ts->name,
                         tq_log_quote(err, q, sizeof q));
            nfailed++;
        } else {
            tq_log_debug("prepared", "tileset=%s layers=%zu ms=%.1f", r->ts[i].ts->name,
                         r->ts[i].ts->nlayers, tq_mono_ms() - t0);
        }
    }
    return nfailed;
}

enum tq_render_status tq_render_set_timeout(struct tq_renderer *r, PGconn *pg, int ms, char *err,
                                            size_t errsize)
{
    char set[64];
    enum tq_render_status st = TQ_RENDER_OK;

    if (r->timeout_ms == ms)
        return TQ_RENDER_OK;
    snprintf(set, sizeof set, "SET statement_timeout = %d", ms);
    PGresult *res = PQexec(pg, set);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_error(pg, res, "SET statement_timeout", err, errsize);
        st = failed(pg);
        r->timeout_ms = -1;
    } else {
        r->timeout_ms = ms;
    }
    PQclear(res);
    return st;
}

/* Cancels the running query and reads its results away. 0, or -1 when the connection did
 * not answer in time (the caller should reconnect). */
static int cancel_query(PGconn *pg)
{
    char buf[256];
    PGcancel *c = PQgetCancel(pg);
    if (c) {
        if (!PQcancel(c, buf, sizeof buf))
            tq_log_warn("pg_cancel_failed", "error=%s", buf);
        PQfreeCancel(c);
    }
    double deadline = tq_mono_ms() + DRAIN_TIMEOUT_MS;
    for (;;) {
        if (PQconsumeInput(pg) == 0)
            return -1;
        while (!PQisBusy(pg)) {
            PGresult *res = PQgetResult(pg);
            if (res == NULL)
                return 0;
            PQclear(res);
        }
        double left = deadline - tq_mono_ms();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            return -1;
    }
}

/* Reads the tiles out of a binary result (tx int4, ty int4, mvt bytea): every tile of m but
 * skip (NULL: none), row-major. */
static int parse_result(const struct tq_metatile *m, const struct tq_tile *skip, PGresult *res,
                        struct tq_render_result *out, char *err, size_t errsize)
{
    uint32_t n = tq_metatile_count(m) - (skip ? 1 : 0);
    uint32_t skip_idx = skip ? (skip->y - m->my) * m->w + (skip->x - m->mx) : UINT32_MAX;
    if (PQnfields(res) != 3 || PQntuples(res) != (int)n || PQfformat(res, 0) != 1) {
        snprintf(err, errsize, "unexpected result: %d columns, %d rows for %u tiles",
                 PQnfields(res), PQntuples(res), n);
        return -1;
    }
    out->tiles = calloc(n, sizeof *out->tiles);
    if (out->tiles == NULL) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    out->ntiles = n;
    for (uint32_t i = 0; i < n; i++)
        out->tiles[i].tile = tq_metatile_tile(m, i < skip_idx ? i : i + 1);
    for (int row = 0; row < (int)n; row++) {
        uint32_t v[2];
        for (int c = 0; c < 2; c++) {
            if (PQgetisnull(res, row, c) || PQgetlength(res, row, c) != 4) {
                snprintf(err, errsize, "bad tile coordinate in row %d", row);
                return -1;
            }
            memcpy(&v[c], PQgetvalue(res, row, c), 4);
            v[c] = ntohl(v[c]);
        }
        if (v[0] < m->mx || v[0] >= m->mx + m->w || v[1] < m->my || v[1] >= m->my + m->h) {
            snprintf(err, errsize, "tile %u/%u outside the metatile", v[0], v[1]);
            return -1;
        }
        uint32_t idx = (v[1] - m->my) * m->w + (v[0] - m->mx);
        if (idx == skip_idx) {
            snprintf(err, errsize, "tile %u/%u was to be skipped", v[0], v[1]);
            return -1;
        }
        struct tq_rendered_tile *t = &out->tiles[idx < skip_idx ? idx : idx - 1];
        if (!PQgetisnull(res, row, 2)) {
            t->len = (size_t)PQgetlength(res, row, 2);
            t->data = t->len ? (const unsigned char *)PQgetvalue(res, row, 2) : NULL;
        }
        out->total_bytes += t->len;
    }
    return 0;
}

void tq_render_params(const struct tq_tileset_config *ts, const struct tq_metatile *m,
                      const struct tq_tile *skip, struct tq_render_params *out)
{
    char(*pv)[sizeof out->text[0]] = out->text;
    double margin = tq_render_margin(m->z, ts->buffer, ts->extent);
    struct tq_bbox bb = tq_metatile_bounds(m);

    snprintf(pv[0], sizeof pv[0], "%d", m->z);
    snprintf(pv[1], sizeof pv[1], "%u", m->mx);
    snprintf(pv[2], sizeof pv[2], "%u", m->my);
    snprintf(pv[3], sizeof pv[3], "%u", m->mx + m->w - 1);
    snprintf(pv[4], sizeof pv[4], "%u", m->my + m->h - 1);
    /* The CTE's bbox only has to hold every feature the per-tile filter
     * (l.geom && ST_Expand(ST_TileEnvelope(...), m)) keeps; a hair more than m covers any
     * rounding difference between our bounds and PostGIS's. */
    double mm = margin + 1e-6;
    snprintf(pv[5], sizeof pv[5], "%.17g", bb.xmin - mm);
    snprintf(pv[6], sizeof pv[6], "%.17g", bb.ymin - mm);
    snprintf(pv[7], sizeof pv[7], "%.17g", bb.xmax + mm);
    snprintf(pv[8], sizeof pv[8], "%.17g", bb.ymax + mm);
    snprintf(pv[9], sizeof pv[9], "%.17g", margin);
    /* $11: the pad that decides which tiles a row may touch: the margin plus a slack
     * for the float4 boxes the && operator compares (each rounded outward by at most one
     * float ulp, <= |v| * 2^-23; only coordinates within a pad of the metatile matter, the
     * tile range is clamped to it). */
    double maxabs = fabs(bb.xmin);
    if (fabs(bb.xmax) > maxabs)
        maxabs = fabs(bb.xmax);
    if (fabs(bb.ymin) > maxabs)
        maxabs = fabs(bb.ymin);
    if (fabs(bb.ymax) > maxabs)
        maxabs = fabs(bb.ymax);
    double tilew = 2 * TQ_MERC_MAX / (double)tq_tile_grid_size(m->z);
    snprintf(pv[10], sizeof pv[10], "%.17g", margin + 3e-7 * (maxabs + margin + tilew) + 1e-6);
    /* $12..$15: the metatile's own bounds: west, east, north, south. */
    snprintf(pv[11], sizeof pv[11], "%.17g", bb.xmin);
    snprintf(pv[12], sizeof pv[12], "%.17g", bb.xmax);
    snprintf(pv[13], sizeof pv[13], "%.17g", bb.ymax);
    snprintf(pv[14], sizeof pv[14], "%.17g", bb.ymin);
    /* $16/$17: the tile the metatile statement leaves out (-1: none). */
    snprintf(pv[15], sizeof pv[15], "%lld", skip ? (long long)skip->x : -1LL);
    snprintf(pv[16], sizeof pv[16], "%lld", skip ? (long long)skip->y : -1LL);
    for (int i = 0; i < TQ_RENDER_NPARAMS; i++)
        out->values[i] = pv[i];
}

/* Waits for the result of the query sent on pg, calling tick(arg) every tick_ms (tick may
 * be NULL); a non-zero answer cancels the query. TQ_RENDER_OK when the result is there to
 * read, else the status with err set. */
static enum tq_render_status wait_result(PGconn *pg, int tick_ms, tq_render_tick_fn tick, void *arg,
                                         char *err, size_t errsize)
{
    /* Blocking mode: PQsendQueryPrepared has flushed the whole query. */
    double next_tick = tq_mono_ms() + tick_ms;
    for (;;) {
        if (PQconsumeInput(pg) == 0) {
            pg_error(pg, NULL, "receive", err, errsize);
            return failed(pg);
        }
        if (!PQisBusy(pg))
            return TQ_RENDER_OK;
        double now = tq_mono_ms();
        if (tick && now >= next_tick) {
            next_tick = now + tick_ms;
            if (tick(arg) != 0) {
                snprintf(err, errsize, "cancelled");
                if (cancel_query(pg) != 0) {
                    snprintf(err, errsize, "cancelled; the connection did not answer");
                    return TQ_RENDER_CONN_ERROR;
                }
                return TQ_RENDER_CANCELLED;
            }
            now = tq_mono_ms();
        }
        int timeout = tick ? (int)(next_tick - now) + 1 : -1;
        struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
        if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
            snprintf(err, errsize, "poll: %s", strerror(errno));
            return TQ_RENDER_CONN_ERROR;
        }
    }
}

/* Runs the metatile statement of tileset for m without tile skip (NULL: none), or with
 * one = 1 the one-tile statement for the 1x1 "metatile" m. See tq_render_metatile(). */
static enum tq_render_status render(struct tq_renderer *r, PGconn *pg, const char *tileset,
                                    const struct tq_metatile *m, const struct tq_tile *skip,
                                    int one, int tick_ms, tq_render_tick_fn tick, void *arg,
                                    struct tq_render_result *out, char *err, size_t errsize)
{
    enum tq_render_status st;
    PGresult *res = NULL;
    struct tq_render_params params;

    memset(out, 0, sizeof *out);
    st = tq_render_prepare(r, pg, tileset, err, errsize);
    if (st != TQ_RENDER_OK)
        return st;
    struct ts_state *s = find_ts(r, tileset);
    const struct tq_tileset_config *ts = s->ts;
    const char *stmt = one && ts->metatile > 1 ? s->stmt1 : s->stmt;
    tq_render_params(ts, m, skip, &params);

    /* Bounded renders: PostgreSQL cancels a render statement past the tileset's timeout. */
    int single = ts->metatile == 1 || one;
    st = tq_render_set_timeout(r, pg, ts->statement_timeout_ms, err, errsize);
    if (st == TQ_RENDER_OK)
        st = set_jit(r, pg, want_jit(s, single, m->z), err, errsize);
    if (st != TQ_RENDER_OK)
        return st;
    out->jit = r->jit == 1;
    out->started_ms = tq_now_ms();
    double t0 = tq_mono_ms();
    if (!PQsendQueryPrepared(pg, stmt, TQ_RENDER_NPARAMS, params.values, NULL, NULL, 1)) {
        pg_error(pg, NULL, "send", err, errsize);
        return failed(pg);
    }
    st = wait_result(pg, tick_ms, tick, arg, err, errsize);
    if (st != TQ_RENDER_OK)
        goto fail;
    /* One result for the statement, then NULL. */
    res = PQgetResult(pg);
    for (PGresult *extra; (extra = PQgetResult(pg)) != NULL;)
        PQclear(extra);
    out->sql_ms = tq_mono_ms() - t0;
    if (single && m->z >= 0 && m->z <= TQ_TILE_MAX_ZOOM)
        s->one_ms[m->z] = (float)out->sql_ms;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_error(pg, res, "render", err, errsize);
        st = failed(pg);
        /* A statement that vanished (e.g. DISCARD ALL by a pooler) is prepared again next
         * time. */
        const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (code && strcmp(code, "26000") == 0) {
            s->prepared = 0;
            s->prepared1 = 0;
        }
        if (code && strcmp(code, "57014") == 0) {
            /* query_canceled: our own cancels end as TQ_RENDER_CANCELLED above, so this is
             * the statement timeout; say which. */
            size_t n = strlen(err);
            snprintf(err + n, errsize > n ? errsize - n : 0,
                     " (tileset %s: statement_timeout_ms %d)", ts->name, ts->statement_timeout_ms);
        }
        goto fail;
    }
    if (parse_result(m, skip, res, out, err, errsize) != 0) {
        st = TQ_RENDER_SQL_ERROR;
        goto fail;
    }
    out->res = res;
    return TQ_RENDER_OK;
fail:
    if (res)
        PQclear(res);
    free(out->tiles);
    memset(out, 0, sizeof *out);
    return st;
}

enum tq_render_status tq_render_metatile(struct tq_renderer *r, PGconn *pg, const char *tileset,
                                         const struct tq_metatile *m, int tick_ms,
                                         tq_render_tick_fn tick, void *arg,
                                         struct tq_render_result *out, char *err, size_t errsize)
{
    return render(r, pg, tileset, m, NULL, 0, tick_ms, tick, arg, out, err, errsize);
}

enum tq_render_status tq_render_metatile_except(struct tq_renderer *r, PGconn *pg,
                                                const char *tileset, const struct tq_metatile *m,
                                                struct tq_tile skip, int tick_ms,
                                                tq_render_tick_fn tick, void *arg,
                                                struct tq_render_result *out, char *err,
                                                size_t errsize)
{
    memset(out, 0, sizeof *out);
    if (!tq_metatile_contains(m, skip) || tq_metatile_count(m) < 2) {
        snprintf(err, errsize, "tile %d/%u/%u: not one of several tiles of the metatile", skip.z,
                 skip.x, skip.y);
        return TQ_RENDER_SQL_ERROR;
    }
    return render(r, pg, tileset, m, &skip, 0, tick_ms, tick, arg, out, err, errsize);
}

enum tq_render_status tq_render_tile(struct tq_renderer *r, PGconn *pg, const char *tileset,
                                     struct tq_tile t, int tick_ms, tq_render_tick_fn tick,
                                     void *arg, struct tq_render_result *out, char *err,
                                     size_t errsize)
{
    struct tq_metatile one = {t.z, t.x, t.y, 1, 1};
    memset(out, 0, sizeof *out);
    if (tq_tile_valid(t.z, t.x, t.y) != 0) {
        snprintf(err, errsize, "tile %d/%u/%u outside the grid", t.z, t.x, t.y);
        return TQ_RENDER_SQL_ERROR;
    }
    return render(r, pg, tileset, &one, NULL, 1, tick_ms, tick, arg, out, err, errsize);
}

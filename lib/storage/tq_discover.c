/* tq_discover — see tq_discover.h. The layer SQL is built by PostgreSQL itself (format()
 * with %I), so identifiers are quoted by the server's rules, never by string pasting here. */
#include "tq_discover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_backoff.h"
#include "tq_pgconn.h"
#include "tq_log.h"
#include "tq_tile.h"
#include "tq_tileset.h"

#define DEFAULT_MINZOOM 0
#define DEFAULT_MAXZOOM 14

/* One row per geometry column: schema, table, column, srid, layer sql. */
static const char DISCOVER_SQL[] =
    "SELECT g.f_table_schema::text, g.f_table_name::text, g.f_geometry_column::text, g.srid,"
    " format('SELECT %s AS geom%s FROM %I.%I WHERE %I && %s%s',"
    "   CASE WHEN g.srid = 3857 THEN format('%I', g.f_geometry_column)"
    "        ELSE format('ST_Transform(%I, 3857)', g.f_geometry_column) END,"
    "   coalesce(', ' || attrs.list, ''),"
    "   g.f_table_schema, g.f_table_name, g.f_geometry_column,"
    "   CASE WHEN g.srid = 3857 THEN '!BBOX!' ELSE format('ST_Transform(!BBOX!, %s)', g.srid) END,"
    "   CASE WHEN pk.list IS NOT NULL THEN ' ORDER BY ' || pk.list"
    "        WHEN c.relkind IN ('r', 'm') THEN ' ORDER BY ctid' ELSE '' END)"
    " FROM geometry_columns g"
    " JOIN pg_namespace n ON n.nspname = g.f_table_schema"
    " JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = g.f_table_name"
    " LEFT JOIN LATERAL (SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum)"
    "   AS list FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    "     AND a.attname <> g.f_geometry_column AND a.attname <> 'geom'"
    "     AND t.typname NOT IN ('geometry', 'geography', 'raster', 'bytea', 'box2d', 'box3d'))"
    "   attrs ON true"
    " LEFT JOIN LATERAL (SELECT string_agg(format('%I', a.attname), ', '"
    "     ORDER BY array_position(i.indkey::int2[], a.attnum)) AS list"
    "   FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
    "     AND a.attnum = ANY (i.indkey)"
    "   WHERE i.indrelid = c.oid AND i.indisprimary) pk ON true"
    " WHERE has_table_privilege(c.oid, 'SELECT')"
    " ORDER BY 1, 2, 3";

static const char EXTENT_SQL[] =
    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT"
    " ST_Transform(ST_SetSRID(ST_EstimatedExtent($1, $2, $3)::geometry, $4::integer), 4326)"
    " AS e) s";

struct entry {
    const char *schema, *table, *column, *sql;
    int srid;
    char name[TQ_TILESET_NAME_MAX];
    int skip;
};

/* Makes s a tileset name's characters: any other becomes '_'. */
static void sanitize(char *s)
{
    for (; *s; s++) {
        if (!tq_tileset_name_char(*s))
            *s = '_';
    }
}

/* "schema.table" as a log value: quoted (tq_log_quote), since a table name may hold spaces,
 * quotes or newlines that would otherwise forge log lines or fields. Returns buf. */
static const char *log_table(const struct entry *e, char *buf, size_t bufsize)
{
    char raw[300];
    snprintf(raw, sizeof raw, "%s.%s", e->schema, e->table);
    return tq_log_quote(raw, buf, bufsize);
}

/* Names every entry (see tq_discover.h); marks the ones that cannot be named. */
static void name_entries(struct entry *e, size_t n)
{
    char q[300], qt[700], qn[300];
    for (size_t i = 0; i < n; i++) {
        int same_table = 0, other_schema = 0, len;
        for (size_t j = 0; j < n; j++) {
            if (j == i || strcmp(e[j].table, e[i].table) != 0)
                continue;
            if (strcmp(e[j].schema, e[i].schema) == 0)
                same_table = 1;
            else
                other_schema = 1;
        }
        len = snprintf(e[i].name, sizeof e[i].name, "%s%s%s%s%s", other_schema ? e[i].schema : "",
                       other_schema ? "_" : "", e[i].table, same_table ? "_" : "",
                       same_table ? e[i].column : "");
        sanitize(e[i].name);
        if (len <= 0 || (size_t)len >= sizeof e[i].name) {
            tq_log_warn("discover_skip", "table=%s column=%s reason=name_too_long",
                        log_table(&e[i], qt, sizeof qt), tq_log_quote(e[i].column, q, sizeof q));
            e[i].skip = 1;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (!e[j].skip && strcmp(e[j].name, e[i].name) == 0) {
                tq_log_warn("discover_skip", "table=%s column=%s reason=duplicate_name name=%s",
                            log_table(&e[i], qt, sizeof qt), tq_log_quote(e[i].column, q, sizeof q),
                            tq_log_quote(e[i].name, qn, sizeof qn));
                e[i].skip = 1;
                break;
            }
        }
    }
}

/* ST_EstimatedExtent in degrees, clamped to the Web Mercator world; 0, or -1 (no
 * statistics, a view, an error: the caller keeps the world). */
static int estimated_bounds(PGconn *pg, const struct entry *e, double b[4])
{
    char srid[16];
    const char *values[4] = {e->schema, e->table, e->column, srid};
    PGresult *res;
    int rc = -1;

    snprintf(srid, sizeof srid, "%d", e->srid);
    res = PQexecParams(pg, EXTENT_SQL, 4, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        for (int i = 0; i < 4; i++)
            b[i] = strtod(PQgetvalue(res, 0, i), NULL);
        b[0] = b[0] < -180 ? -180 : b[0];
        b[1] = b[1] < -TQ_LAT_MAX ? -TQ_LAT_MAX : b[1];
        b[2] = b[2] > 180 ? 180 : b[2];
        b[3] = b[3] > TQ_LAT_MAX ? TQ_LAT_MAX : b[3];
        if (b[0] < b[2] && b[1] < b[3])
            rc = 0;
    }
    PQclear(res);
    return rc;
}

int tq_discover_tilesets(struct tq_config *cfg, PGconn *pg, char *err, size_t errsize)
{
    PGresult *res = NULL;
    struct entry *e = NULL;
    struct tq_tileset_config *ts = NULL;
    size_t n = 0, nts = 0;
    int rc = -1;

    if (cfg->ntilesets > 0)
        return 0;
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    res = PQexec(pg, DISCOVER_SQL);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errsize, "geometry_columns: %s", PQresultErrorMessage(res));
        size_t l = strlen(err);
        while (l > 0 && (err[l - 1] == '\n' || err[l - 1] == ' '))
            err[--l] = '\0';
        goto cleanup;
    }
    n = (size_t)PQntuples(res);
    e = calloc(n ? n : 1, sizeof *e);
    ts = calloc(n ? n : 1, sizeof *ts);
    if (e == NULL || ts == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        e[i].schema = PQgetvalue(res, (int)i, 0);
        e[i].table = PQgetvalue(res, (int)i, 1);
        e[i].column = PQgetvalue(res, (int)i, 2);
        e[i].srid = atoi(PQgetvalue(res, (int)i, 3));
        e[i].sql = PQgetvalue(res, (int)i, 4);
        if (e[i].srid <= 0) {
            char qt[700], qc[300];
            tq_log_warn("discover_skip", "table=%s column=%s reason=unknown_srid",
                        log_table(&e[i], qt, sizeof qt), tq_log_quote(e[i].column, qc, sizeof qc));
            e[i].skip = 1;
        }
    }
    name_entries(e, n);
    for (size_t i = 0; i < n && nts < TQ_MAX_TILESETS; i++) {
        struct tq_tileset_config *t = &ts[nts];
        if (e[i].skip)
            continue;
        t->minzoom = DEFAULT_MINZOOM;
        t->maxzoom = DEFAULT_MAXZOOM;
        t->metatile = 8;
        t->extent = 4096;
        t->buffer = 64;
        t->statement_timeout_ms = TQ_STATEMENT_TIMEOUT_MS_DEFAULT;
        t->name = strdup(e[i].name);
        t->layers = calloc(1, sizeof *t->layers);
        nts++; /* from here on freed with the rest on failure */
        if (t->name == NULL || t->layers == NULL) {
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
        t->nlayers = 1;
        t->layers[0].name = strdup(e[i].name);
        t->layers[0].sql = strdup(e[i].sql);
        t->layers[0].minzoom = t->minzoom;
        t->layers[0].maxzoom = t->maxzoom;
        if (t->layers[0].name == NULL || t->layers[0].sql == NULL) {
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
        t->bounds[0] = -180;
        t->bounds[1] = -TQ_LAT_MAX;
        t->bounds[2] = 180;
        t->bounds[3] = TQ_LAT_MAX;
        t->has_bounds = estimated_bounds(pg, &e[i], t->bounds) == 0;
        t->center[0] = (t->bounds[0] + t->bounds[2]) / 2;
        t->center[1] = (t->bounds[1] + t->bounds[3]) / 2;
        t->center[2] = t->minzoom;
        char qn[300], qt[700], qc[300];
        tq_log_info("discovered", "tileset=%s table=%s column=%s srid=%d",
                    tq_log_quote(t->name, qn, sizeof qn), log_table(&e[i], qt, sizeof qt),
                    tq_log_quote(e[i].column, qc, sizeof qc), e[i].srid);
    }
    if (n > TQ_MAX_TILESETS)
        tq_log_warn("discover_limit", "found=%zu published=%d", n, TQ_MAX_TILESETS);
    if (nts > 0) {
        cfg->tilesets = ts;
        cfg->ntilesets = nts;
        ts = NULL;
    }
    rc = (int)nts;
cleanup:
    if (ts) {
        for (size_t i = 0; i < nts; i++) {
            if (ts[i].layers) {
                free(ts[i].layers[0].name);
                free(ts[i].layers[0].sql);
            }
            free(ts[i].layers);
            free(ts[i].name);
        }
        free(ts);
    }
    free(e);
    if (res)
        PQclear(res);
    return rc;
}

int tq_discover_at_start(struct tq_config *cfg, const char *prog, volatile sig_atomic_t *stop,
                         char *err, size_t errsize)
{
    struct tq_backoff bo;
    char q[600];

    if (cfg->ntilesets > 0)
        return 0;
    tq_backoff_init(&bo, 1000, 30000);
    for (;;) {
        PGconn *pg = tq_pg_connect(cfg->pg_conninfo, cfg->pg_password, prog, "10");
        int n = -1;

        if (pg && PQstatus(pg) == CONNECTION_OK)
            n = tq_discover_tilesets(cfg, pg, err, errsize);
        else
            snprintf(err, errsize, "connect: %s", pg ? PQerrorMessage(pg) : "out of memory");
        if (pg)
            PQfinish(pg);
        if (n >= 0) {
            tq_log_info("discover_done", "tilesets=%d", n);
            return n;
        }
        size_t l = strlen(err);
        while (l > 0 && (err[l - 1] == '\n' || err[l - 1] == ' '))
            err[--l] = '\0';
        int64_t delay_ms = tq_backoff_fail(&bo, 0); /* the loop below waits: no clock needed */
        tq_log_warn("discover_failed", "error=%s retry_s=%u", tq_log_quote(err, q, sizeof q),
                    (unsigned)(delay_ms / 1000));
        for (int64_t s = 0; s < delay_ms / 100; s++) {
            if (stop && *stop) {
                snprintf(err, errsize, "stopped before the tilesets were discovered");
                return -1;
            }
            usleep(100 * 1000);
        }
    }
}

/* tq_rlsource — see tq_rlsource.h. */
#include "tq_rlsource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tq_rlsource {
    PGconn *pg;
    const struct tq_config *cfg;
    PGresult *row; /* the current row's result, owned */
    int done;
};

static const char QUERY[] =
    "SELECT tileset, z, x, y, metatile, reason, "
    "(extract(epoch FROM started) * 1000)::bigint, duration_ms, metatile_ms, bytes "
    "FROM tileq.render_log "
    "WHERE ($1::float8 IS NULL OR started >= to_timestamp($1::float8 / 1000)) "
    "AND ($2::float8 IS NULL OR started < to_timestamp($2::float8 / 1000)) "
    "AND ($3::text IS NULL OR tileset = $3) AND z BETWEEN $4::int AND $5::int";

struct tq_rlsource *tq_rlsource_open(PGconn *pg, const struct tq_report_filter *f,
                                     const struct tq_config *cfg, int *missing, char *err,
                                     size_t errsize)
{
    char since[32], until[32], zmin[16], zmax[16];
    const char *params[5] = {NULL, NULL, f ? f->tileset : NULL, zmin, zmax};
    struct tq_rlsource *s = NULL;
    PGresult *res = NULL;

    *missing = 0;
    if (f != NULL && f->since_ms != TQ_TIME_UNSET) {
        snprintf(since, sizeof since, "%lld", (long long)f->since_ms);
        params[0] = since;
    }
    if (f != NULL && f->until_ms != TQ_TIME_UNSET) {
        snprintf(until, sizeof until, "%lld", (long long)f->until_ms);
        params[1] = until;
    }
    snprintf(zmin, sizeof zmin, "%d", f ? f->zmin : 0);
    snprintf(zmax, sizeof zmax, "%d", f ? f->zmax : TQ_TILE_MAX_ZOOM);

    /* Does the table exist? (A fresh install has no render log yet.) */
    res = PQexec(pg, "SELECT to_regclass('tileq.render_log') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errsize, "postgresql: %s", PQerrorMessage(pg));
        goto fail;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        *missing = 1;
    PQclear(res);
    res = NULL;

    s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errsize, "out of memory");
        goto fail;
    }
    s->pg = pg;
    s->cfg = cfg;
    if (*missing) {
        s->done = 1;
        return s;
    }
    if (!PQsendQueryParams(pg, QUERY, 5, NULL, params, NULL, NULL, 0) || !PQsetSingleRowMode(pg)) {
        snprintf(err, errsize, "postgresql: %s", PQerrorMessage(pg));
        goto fail;
    }
    return s;
fail:
    PQclear(res);
    free(s);
    return NULL;
}

static void drain(struct tq_rlsource *s)
{
    PGresult *r;
    while ((r = PQgetResult(s->pg)) != NULL)
        PQclear(r);
    s->done = 1;
}

int tq_rlsource_next(void *self, struct tq_report_rec *rec, char *err, size_t errsize)
{
    struct tq_rlsource *s = self;
    for (;;) {
        PQclear(s->row);
        s->row = NULL;
        if (s->done)
            return 0;
        PGresult *r = PQgetResult(s->pg);
        if (r == NULL) {
            s->done = 1;
            return 0;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK) { /* the end of the rows */
            PQclear(r);
            continue;
        }
        if (st != PGRES_SINGLE_TUPLE) {
            snprintf(err, errsize, "reading tileq.render_log: %s", PQresultErrorMessage(r));
            PQclear(r);
            drain(s);
            return -1;
        }
        s->row = r;
        memset(rec, 0, sizeof *rec);
        rec->tileset = PQgetvalue(r, 0, 0);
        rec->tile.z = atoi(PQgetvalue(r, 0, 1));
        rec->tile.x = (uint32_t)strtoul(PQgetvalue(r, 0, 2), NULL, 10);
        rec->tile.y = (uint32_t)strtoul(PQgetvalue(r, 0, 3), NULL, 10);
        rec->reason = PQgetvalue(r, 0, 5);
        rec->started_ms = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
        rec->duration_ms = strtod(PQgetvalue(r, 0, 7), NULL);
        rec->metatile_ms = strtod(PQgetvalue(r, 0, 8), NULL);
        rec->bytes = strtoll(PQgetvalue(r, 0, 9), NULL, 10);
        /* metatile "z/mx/my"; its size from the config when the tileset is known */
        int mz;
        unsigned mx, my;
        if (sscanf(PQgetvalue(r, 0, 4), "%d/%u/%u", &mz, &mx, &my) == 3 && mz == rec->tile.z) {
            rec->meta.z = mz;
            rec->meta.mx = mx;
            rec->meta.my = my;
            const struct tq_tileset_config *ts =
                s->cfg ? tq_config_tileset(s->cfg, rec->tileset) : NULL;
            if (ts != NULL) {
                struct tq_metatile m = tq_tile_metatile(rec->tile, ts->metatile);
                if (m.mx == mx && m.my == my)
                    rec->meta = m;
            }
            rec->meta_first = rec->tile.x == mx && rec->tile.y == my;
        } else {
            rec->meta.z = -1; /* unknown: the tile alone */
            rec->meta_first = 1;
        }
        return 1;
    }
}

void tq_rlsource_close(struct tq_rlsource *s)
{
    if (s == NULL)
        return;
    PQclear(s->row);
    if (!s->done)
        drain(s);
    free(s);
}

/* tq_pglog_rows — see tq_pglog_rows.h. */
#include "tq_pglog_rows.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

static int csv_field(struct tq_buf *b, const char *s, int last)
{
    int rc = 0;
    if (s == NULL)
        s = "";
    if (strpbrk(s, ",\"\r\n") != NULL) {
        rc |= tq_buf_append(b, "\"", 1);
        for (const char *c = s; *c;) { /* quotes doubled, the runs between at once */
            size_t n = strcspn(c, "\"");
            rc |= tq_buf_append(b, c, n);
            c += n;
            if (*c == '"') {
                rc |= tq_buf_append(b, "\"\"", 2);
                c++;
            }
        }
        rc |= tq_buf_append(b, "\"", 1);
    } else {
        rc |= tq_buf_append_str(b, s);
    }
    rc |= tq_buf_append_char(b, last ? '\n' : ',');
    return rc != 0 ? -1 : 0;
}

int tq_pglog_rows_csv(struct tq_buf *b, const struct tq_report_rec *rec,
                      const struct tq_pglog_extra *x)
{
    char ts[40] = "";
    if (rec->started_ms != TQ_TIME_UNSET)
        tq_report_time_format(rec->started_ms, ts, sizeof ts);
    int rc = csv_field(b, x->host, 0) | csv_field(b, rec->database, 0) |
             csv_field(b, rec->user, 0) | csv_field(b, rec->tables, 0) | csv_field(b, ts, 0);
    rc |= tq_buf_printf(b, "%.3f,\"BOX(%.6f %.6f,%.6f %.6f)\",%d,%u,%u,%u,", rec->metatile_ms,
                        x->bbox.xmin, x->bbox.ymin, x->bbox.xmax, x->bbox.ymax, rec->meta.z,
                        rec->meta.mx, rec->meta.my, rec->meta.w);
    rc |= csv_field(b, x->query, 1);
    return rc != 0 ? -1 : 0;
}

int tq_pglog_rows_match(const struct tq_report_filter *f, const struct tq_report_rec *rec)
{
    if (f->since_ms != TQ_TIME_UNSET && rec->started_ms < f->since_ms)
        return 0;
    if (f->until_ms != TQ_TIME_UNSET && rec->started_ms >= f->until_ms)
        return 0;
    if (f->tileset != NULL && (rec->tileset == NULL || strcmp(f->tileset, rec->tileset) != 0))
        return 0;
    return rec->meta.z >= f->zmin && rec->meta.z <= f->zmax;
}

/* ---------------------------------------------------------------- the loader */

struct tq_pglog_load {
    PGconn *pg;
    char *copy_sql; /* COPY table (...) FROM STDIN (FORMAT csv) */
    struct tq_buf batch;
    size_t nbatch;
    unsigned long long rows;
};

/* "schema.name" or "name" as quoted identifiers, malloc'd; NULL on error (err set). */
static char *quote_table(PGconn *pg, const char *table, char *err, size_t errsize)
{
    const char *dot = strchr(table, '.');
    char *a = NULL, *b = NULL, *out = NULL;
    if (*table == '\0' ||
        (dot != NULL && (dot == table || dot[1] == '\0' || strchr(dot + 1, '.')))) {
        snprintf(err, errsize, "table '%s' is not NAME or SCHEMA.NAME", table);
        return NULL;
    }
    if (dot != NULL) {
        char *schema = strndup(table, (size_t)(dot - table));
        a = schema ? PQescapeIdentifier(pg, schema, strlen(schema)) : NULL;
        free(schema);
        b = PQescapeIdentifier(pg, dot + 1, strlen(dot + 1));
    } else {
        b = PQescapeIdentifier(pg, table, strlen(table));
    }
    if (b == NULL || (dot != NULL && a == NULL)) {
        snprintf(err, errsize, "table name: %s", PQerrorMessage(pg));
        goto cleanup;
    }
    size_t n = (a ? strlen(a) + 1 : 0) + strlen(b) + 1;
    out = malloc(n);
    if (out == NULL)
        snprintf(err, errsize, "out of memory");
    else
        snprintf(out, n, "%s%s%s", a ? a : "", a ? "." : "", b);
cleanup:
    PQfreemem(a);
    PQfreemem(b);
    return out;
}

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errsize)
{
    PGresult *r = PQexec(pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errsize, "PostgreSQL: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

struct tq_pglog_load *tq_pglog_load_open(const char *conninfo, const char *table, char *err,
                                         size_t errsize)
{
    struct tq_pglog_load *l = calloc(1, sizeof *l);
    char *qt = NULL;
    struct tq_buf sql = TQ_BUF_INIT;
    if (l == NULL) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    l->pg = PQconnectdb(conninfo);
    if (PQstatus(l->pg) != CONNECTION_OK) {
        snprintf(err, errsize, "PostgreSQL: %s", PQerrorMessage(l->pg));
        goto fail;
    }
    if ((qt = quote_table(l->pg, table, err, errsize)) == NULL)
        goto fail;
    /* the CSV's columns; bbox as text, castable to box2d where PostGIS is */
    tq_buf_printf(&sql,
                  "SET client_min_messages = warning; "
                  "CREATE TABLE IF NOT EXISTS %s (host text, database text, \"user\" text, "
                  "tables text, started timestamptz, duration_ms double precision, bbox text, "
                  "z integer, x bigint, y bigint, metatile integer, query text)",
                  qt);
    if (tq_buf_failed(&sql) || exec_ok(l->pg, tq_buf_str(&sql), err, errsize) != 0)
        goto fail;
    tq_buf_reset(&sql);
    tq_buf_printf(&sql,
                  "COPY %s (host, database, \"user\", tables, started, duration_ms, bbox, z, x, "
                  "y, metatile, query) FROM STDIN (FORMAT csv)",
                  qt);
    if ((l->copy_sql = tq_buf_take(&sql, NULL)) == NULL) {
        snprintf(err, errsize, "out of memory");
        goto fail;
    }
    free(qt);
    return l;
fail:
    free(qt);
    tq_buf_free(&sql);
    tq_pglog_load_close(l, NULL, NULL, 0);
    return NULL;
}

/* One batch: BEGIN, COPY, COMMIT. */
static int send_batch(struct tq_pglog_load *l, char *err, size_t errsize)
{
    if (l->nbatch == 0)
        return 0;
    PGresult *r = PQexec(l->pg, l->copy_sql);
    int ok = PQresultStatus(r) == PGRES_COPY_IN;
    if (!ok)
        snprintf(err, errsize, "PostgreSQL: %s", PQresultErrorMessage(r));
    PQclear(r);
    if (!ok)
        return -1;
    if (PQputCopyData(l->pg, l->batch.data, (int)l->batch.len) != 1 ||
        PQputCopyEnd(l->pg, NULL) != 1) {
        snprintf(err, errsize, "PostgreSQL: %s", PQerrorMessage(l->pg));
        return -1;
    }
    ok = 1;
    while ((r = PQgetResult(l->pg)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && ok) {
            snprintf(err, errsize, "PostgreSQL: %s", PQresultErrorMessage(r));
            ok = 0;
        }
        PQclear(r);
    }
    if (!ok)
        return -1;
    l->rows += l->nbatch;
    l->nbatch = 0;
    tq_buf_reset(&l->batch);
    return 0;
}

int tq_pglog_load_row(struct tq_pglog_load *l, const char *line, size_t len, char *err,
                      size_t errsize)
{
    if (tq_buf_append(&l->batch, line, len) != 0) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    /* a batch is also sent at 8 MB (queries can be long) */
    if (++l->nbatch >= TQ_PGLOG_LOAD_BATCH || l->batch.len >= (8u << 20))
        return send_batch(l, err, errsize);
    return 0;
}

int tq_pglog_load_close(struct tq_pglog_load *l, unsigned long long *rows, char *err,
                        size_t errsize)
{
    int rc = 0;
    if (l == NULL)
        return 0;
    if (err != NULL)
        rc = send_batch(l, err, errsize);
    if (rows != NULL)
        *rows = l->rows;
    PQfinish(l->pg);
    tq_buf_free(&l->batch);
    free(l->copy_sql);
    free(l);
    return rc;
}

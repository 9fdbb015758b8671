/* tq_renderlog — see tq_renderlog.h.
 *
 * Flow of one entry:
 *
 *   worker ──tq_renderlog_append (XADD, pipelined)──▶ {tq}:renderlog
 *      ──tq_renderlog_flush: XREADGROUP pg <consumer> (own pending "0" first, then
 *        XAUTOCLAIM of entries idle > 60 s at dead consumers, then new ">")──▶ batch
 *      ──BEGIN; INSERT ... ON CONFLICT (stream_id) DO NOTHING; COMMIT──▶ tileq.render_log
 *      ──XACK + XDEL──▶ gone from Redis
 *
 * A crash or a PostgreSQL outage anywhere before XACK leaves the entry pending in the
 * group; the next flush (by the same consumer, or by another after 60 s) inserts it
 * again, and the stream id primary key turns the second insert into a no-op.
 *
 * An entry that cannot go in never jams the rest:
 *
 *   malformed (entry_to_row says why) ─────────────────────────────┐
 *   batch INSERT fails with a data error (SQLSTATE class 22, 23,   │
 *   54) ─ROLLBACK─▶ again entry by entry, SAVEPOINT each: a        │
 *   rejected entry ─ROLLBACK TO SAVEPOINT─▶ ───────────────────────┤
 *                                                                  ▼
 *   after COMMIT: MULTI; XADD {tq}:renderlog:rejected stream_id <id> error <why> <fields>;
 *                 XACK + XDEL (all); EXEC
 *
 * so a rejected entry is set aside with its reason exactly once (the EXEC is atomic: a crash
 * before it rejects the entry again next time; after it, the entry is gone). Any other
 * failure (connection lost, PostgreSQL down) rolls back and leaves the batch pending. */
#include "tq_renderlog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-events.h>

#include "tq_log.h"
#include "tq_queue.h"
#include "tq_renderlog_sql.h"
#include "tq_tileset.h"
#include "tq_time.h"

#define RL_KEY TQ_QUEUE_RENDERLOG_KEY
#define RL_GROUP TQ_RENDERLOG_GROUP
#define RL_MAXLEN "1000000"
#define RL_CLAIM_IDLE_MS "60000"
#define RL_ROWS_PER_INSERT 500
#define RL_NCOLS 15
#define RL_REJECTED_MAXLEN "100000"

/* The fields of an entry, in column order (tq_wire.h). */
static const char *const rl_fields[TQ_RENDERLOG_NFIELDS] = {TQ_RENDERLOG_FIELDS};
enum {
    F_TILESET,
    F_Z,
    F_X,
    F_Y,
    F_JOB,
    F_ATTEMPT,
    F_REASON,
    F_WORKER,
    F_STARTED_MS,
    F_DURATION_MS,
    F_METATILE_MS,
    F_BYTES,
    F_COUNT
};

/* ---------------------------------------------------------------- append */

int tq_renderlog_append(redisContext *c, const struct tq_renderlog_entry *entries, size_t n,
                        char *err, size_t errsize)
{
    size_t sent = 0;
    int rc = -1;

    for (size_t i = 0; i < n; i++) {
        const struct tq_renderlog_entry *e = &entries[i];
        char z[16], x[16], y[16], attempt[16], started[32], dur[48], meta[48], bytes[32];
        snprintf(z, sizeof z, "%d", e->tile.z);
        snprintf(x, sizeof x, "%u", e->tile.x);
        snprintf(y, sizeof y, "%u", e->tile.y);
        snprintf(attempt, sizeof attempt, "%d", e->attempt);
        snprintf(started, sizeof started, "%lld", (long long)e->started_ms);
        snprintf(dur, sizeof dur, "%.3f", e->duration_ms);
        snprintf(meta, sizeof meta, "%.3f", e->metatile_ms);
        snprintf(bytes, sizeof bytes, "%zu", e->bytes);
        const char *argv[] = {"XADD",
                              RL_KEY,
                              "MAXLEN",
                              "~",
                              RL_MAXLEN,
                              "*",
                              rl_fields[F_TILESET],
                              e->tileset,
                              rl_fields[F_Z],
                              z,
                              rl_fields[F_X],
                              x,
                              rl_fields[F_Y],
                              y,
                              rl_fields[F_JOB],
                              e->job_id,
                              rl_fields[F_ATTEMPT],
                              attempt,
                              rl_fields[F_REASON],
                              tq_job_reason_name(e->reason),
                              rl_fields[F_WORKER],
                              e->worker,
                              rl_fields[F_STARTED_MS],
                              started,
                              rl_fields[F_DURATION_MS],
                              dur,
                              rl_fields[F_METATILE_MS],
                              meta,
                              rl_fields[F_BYTES],
                              bytes};
        if (redisAppendCommandArgv(c, (int)(sizeof argv / sizeof argv[0]), argv, NULL) !=
            REDIS_OK) {
            snprintf(err, errsize, "renderlog append: %s", c->errstr);
            goto cleanup;
        }
        sent++;
    }
    rc = 0;
cleanup:
    /* Read every reply we queued, even after an error, so the connection stays in step. */
    for (size_t i = 0; i < sent; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            if (rc == 0)
                snprintf(err, errsize, "renderlog append: %s", c->errstr);
            rc = -1;
            break;
        }
        if (r != NULL && r->type == REDIS_REPLY_ERROR && rc == 0) {
            snprintf(err, errsize, "renderlog XADD: %s", r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    return rc;
}

/* ---------------------------------------------------------------- flush */

/* An entry set aside: its id and fields point into a batch reply; why is owned. */
struct rl_reject {
    const char *id;
    const redisReply *fields;
    char *why;
};

/* A validated stream entry: pointers into a reply (which outlives the row) or into row. */
struct rl_row {
    const char *id;
    const redisReply *fields;  /* the entry's field list, for the rejected stream */
    const char *val[RL_NCOLS]; /* in column order, val[0] = id */
    char metatile[64];
    char empty[2];
};

struct rl_batch {
    redisReply *replies[4]; /* owned; freed by batch_free */
    size_t nreplies;
    struct rl_row *rows; /* valid entries, to insert */
    size_t nrows, cap;
    const char **ack; /* every id to XACK + XDEL (valid, malformed, deleted) */
    size_t nack, ackcap;
    struct rl_reject *rejects; /* entries set aside, to XADD to the rejected stream */
    size_t nrejects, rejcap;
};

static void batch_free(struct rl_batch *b)
{
    for (size_t i = 0; i < b->nreplies; i++)
        freeReplyObject(b->replies[i]);
    free(b->rows);
    free(b->ack);
    for (size_t i = 0; i < b->nrejects; i++)
        free(b->rejects[i].why);
    free(b->rejects);
    memset(b, 0, sizeof *b);
}

/* Makes room for one more element in the array *arr of *cap elements of elem bytes, n of
 * them in use (doubling, from 64). 0, or -1 (out of memory: the array is unchanged). */
static int grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    void **pa = arr;
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*pa, ncap * elem);
    if (p == NULL)
        return -1;
    *pa = p;
    *cap = ncap;
    return 0;
}

static int batch_ack(struct rl_batch *b, const char *id)
{
    if (grow(&b->ack, &b->ackcap, b->nack, sizeof *b->ack) != 0)
        return -1;
    for (size_t i = 0; i < b->nack; i++)
        if (strcmp(b->ack[i], id) == 0)
            return 0; /* seen twice (own pending and claimed): keep one */
    b->ack[b->nack++] = id;
    return 1;
}

/* Sets entry id (fields: its field list) aside with a copy of why, and logs it. 0, or -1
 * (out of memory). */
static int batch_reject(struct rl_batch *b, const char *id, const redisReply *fields,
                        const char *why)
{
    char q[600];
    if (grow(&b->rejects, &b->rejcap, b->nrejects, sizeof *b->rejects) != 0)
        return -1;
    char *copy = strdup(why);
    if (copy == NULL)
        return -1;
    /* PostgreSQL's messages end with a newline: not in the log line or the stream. */
    copy[strcspn(copy, "\n")] = '\0';
    b->rejects[b->nrejects++] = (struct rl_reject){id, fields, copy};
    tq_log_warn("renderlog_rejected", "stream_id=%s reason=%s", id,
                tq_log_quote(copy, q, sizeof q));
    return 0;
}

/* s is a decimal integer in lo..hi: 0 with *out, else -1. */
static int parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    if (s == NULL || *s == '\0' || !((*s >= '0' && *s <= '9') || *s == '-'))
        return -1; /* strtoll would skip blanks and take a '+' */
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* s is a decimal number in 0..TQ_RENDERLOG_DURATION_MAX_MS (what float8 reads back the
 * same: no hex, inf or nan, which strtod takes). */
static int parse_ms(const char *s)
{
    if (s == NULL || *s == '\0' || !((*s >= '0' && *s <= '9') || *s == '.') ||
        s[strspn(s, "0123456789.eE+-")] != '\0')
        return -1;
    char *end;
    double v = strtod(s, &end);
    return (*end == '\0' && isfinite(v) && v >= 0 && v <= TQ_RENDERLOG_DURATION_MAX_MS) ? 0 : -1;
}

/* job "<tileset>/<z>/<mx>/<my>" of the entry's tileset, z, x, y. */
static int job_ok(const char *job, const char *tileset, long long z, long long x, long long y)
{
    size_t tl = strlen(tileset);
    long long v[3];
    if (strncmp(job, tileset, tl) != 0 || job[tl] != '/')
        return 0;
    const char *p = job + tl + 1;
    for (int i = 0; i < 3; i++) {
        char num[16];
        size_t n = strspn(p, "0123456789");
        if (n == 0 || n >= sizeof num || (i < 2 ? p[n] != '/' : p[n] != '\0'))
            return 0;
        memcpy(num, p, n);
        num[n] = '\0';
        if (parse_ll(num, 0, INT32_MAX, &v[i]) != 0)
            return 0;
        p += n + (i < 2);
    }
    return v[0] == z && v[1] <= x && v[2] <= y;
}

const char *tq_renderlog_check(const struct tq_renderlog_fields *f, int64_t now_ms)
{
    long long z, x, y, n;
    for (int j = 0; j < F_COUNT; j++) {
        if (f->val[j] == NULL)
            return "missing field";
        if (strlen(f->val[j]) != f->len[j])
            return "NUL byte in a field";
    }
    if (!tq_tileset_name_valid(f->val[F_TILESET], f->len[F_TILESET]))
        return "bad tileset: must be 1..63 bytes of " TQ_TILESET_NAME_CHARS;
    if (!tq_worker_id_valid(f->val[F_WORKER], f->len[F_WORKER]))
        return "bad worker: must be 1..255 bytes of printable ASCII without blanks";
    if (parse_ll(f->val[F_Z], 0, TQ_TILE_MAX_ZOOM, &z) != 0 ||
        parse_ll(f->val[F_X], 0, INT32_MAX, &x) != 0 ||
        parse_ll(f->val[F_Y], 0, INT32_MAX, &y) != 0 || tq_tile_valid((int)z, x, y) != 0)
        return "bad z/x/y";
    if (!job_ok(f->val[F_JOB], f->val[F_TILESET], z, x, y))
        return "bad job id: must be <tileset>/<z>/<mx>/<my> of the entry's tile";
    if (parse_ll(f->val[F_ATTEMPT], 0, INT32_MAX, &n) != 0)
        return "bad attempt";
    enum tq_job_reason reason;
    if (tq_job_reason_parse(f->val[F_REASON], &reason) != 0)
        return "bad reason";
    if (parse_ll(f->val[F_STARTED_MS], TQ_RENDERLOG_STARTED_MIN_MS,
                 now_ms + TQ_RENDERLOG_STARTED_AHEAD_MS, &n) != 0)
        return "bad started_ms: must be unix ms from 2000-01-01 to a day from now";
    if (parse_ms(f->val[F_DURATION_MS]) != 0 || parse_ms(f->val[F_METATILE_MS]) != 0)
        return "bad duration: must be 0..86400000 ms";
    if (parse_ll(f->val[F_BYTES], 0, INT64_MAX, &n) != 0)
        return "bad bytes";
    return NULL;
}

/* Fills row from an entry's field list (now_ms: the clock tq_renderlog_check compares
 * started_ms with); returns NULL when fine, else what is wrong. */
static const char *entry_to_row(const redisReply *fields, int64_t now_ms, struct rl_row *row)
{
    struct tq_renderlog_fields f;

    memset(&f, 0, sizeof f);
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0)
        return "field list is not key/value pairs";
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return "non-string field";
        for (int j = 0; j < F_COUNT; j++)
            if (strcmp(k->str, rl_fields[j]) == 0) {
                f.val[j] = v->str;
                f.len[j] = v->len;
            }
    }
    const char *why = tq_renderlog_check(&f, now_ms);
    if (why != NULL)
        return why;
    /* job id "tileset/z/mx/my": the metatile is what follows the tileset. */
    const char *slash = strchr(f.val[F_JOB], '/');
    if (slash == NULL || slash[1] == '\0' || strlen(slash + 1) >= sizeof row->metatile)
        return "bad job id";
    snprintf(row->metatile, sizeof row->metatile, "%s", slash + 1);
    row->empty[0] = strcmp(f.val[F_BYTES], "0") == 0 ? 't' : 'f';
    row->empty[1] = '\0';

    const char **v = row->val;
    v[1] = f.val[F_TILESET];
    v[2] = f.val[F_Z];
    v[3] = f.val[F_X];
    v[4] = f.val[F_Y];
    v[5] = NULL; /* row->metatile: see insert_rows */
    v[6] = f.val[F_JOB];
    v[7] = f.val[F_ATTEMPT];
    v[8] = f.val[F_REASON];
    v[9] = f.val[F_WORKER];
    v[10] = f.val[F_STARTED_MS];
    v[11] = f.val[F_DURATION_MS];
    v[12] = f.val[F_METATILE_MS];
    v[13] = f.val[F_BYTES];
    v[14] = NULL; /* row->empty */
    return NULL;
}

/* Adds the entries of an entry list ([id, fields|nil]...) to the batch, up to max rows. */
static int batch_add_entries(struct rl_batch *b, const redisReply *list, size_t max)
{
    int64_t now_ms = tq_now_ms();
    if (list == NULL || list->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < list->elements && b->nack < max; i++) {
        const redisReply *e = list->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *id = e->element[0]->str;
        int fresh = batch_ack(b, id);
        if (fresh < 0)
            return -1;
        if (fresh == 0)
            continue;
        if (e->element[1]->type == REDIS_REPLY_NIL)
            continue; /* deleted while pending: just acknowledge it */
        if (grow(&b->rows, &b->cap, b->nrows, sizeof *b->rows) != 0)
            return -1;
        struct rl_row *row = &b->rows[b->nrows];
        memset(row, 0, sizeof *row);
        const char *why = entry_to_row(e->element[1], now_ms, row);
        if (why != NULL) {
            char msg[200];
            snprintf(msg, sizeof msg, "malformed entry: %s", why);
            if (batch_reject(b, id, e->element[1], msg) != 0)
                return -1;
            continue;
        }
        row->id = id;
        row->fields = e->element[1];
        row->val[0] = id;
        b->nrows++;
    }
    return 0;
}

/* XREADGROUP's reply [[key, [entries]]] → the entry list, or NULL. */
static const redisReply *xread_entries(const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return NULL;
    const redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2)
        return NULL;
    return s->element[1];
}

static int redis_call(redisContext *c, struct rl_batch *b, redisReply **out, char *err,
                      size_t errsize, const char *what, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL) {
        snprintf(err, errsize, "renderlog %s: %s", what, c->errstr);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsize, "renderlog %s: %s", what, r->str);
        freeReplyObject(r);
        return -1;
    }
    if (b != NULL)
        b->replies[b->nreplies++] = r;
    if (out != NULL)
        *out = r;
    else if (b == NULL)
        freeReplyObject(r);
    return 0;
}

static int pg_exec_ok(PGconn *pg, const char *sql, char *err, size_t errsize)
{
    PGresult *res = PQexec(pg, sql);
    int ok = res != NULL &&
             (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK);
    if (!ok)
        snprintf(err, errsize, "%s", PQerrorMessage(pg));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Instance data on the PGconn marks "DDL done on this connection". */
static int ddl_event_proc(PGEventId id, void *info, void *arg)
{
    return 1;
}

static int ensure_table(PGconn *pg, char *err, size_t errsize)
{
    static int done_marker;
    char *sql = NULL;
    int rc = -1;

    if (PQinstanceData(pg, ddl_event_proc) == &done_marker)
        return 0;
    /* Several workers may start at once: serialize the CREATEs with an advisory lock. */
    static const char head[] = "BEGIN; SET LOCAL client_min_messages = warning;\n"
                               "SELECT pg_advisory_xact_lock(7411000001);\n";
    static const char tail[] = "\nCOMMIT;";
    sql = malloc(sizeof head + sizeof TQ_RENDER_LOG_SQL + sizeof tail);
    if (sql == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    strcpy(sql, head);
    strcat(sql, TQ_RENDER_LOG_SQL);
    strcat(sql, tail);
    if (pg_exec_ok(pg, sql, err, errsize) != 0) {
        char tmp[16];
        pg_exec_ok(pg, "ROLLBACK", tmp, sizeof tmp);
        goto cleanup;
    }
    if (PQinstanceData(pg, ddl_event_proc) == NULL &&
        !PQregisterEventProc(pg, ddl_event_proc, "tq_renderlog", NULL))
        goto ok; /* cannot remember it: run the (idempotent) DDL again next time */
    PQsetInstanceData(pg, ddl_event_proc, &done_marker);
ok:
    rc = 0;
cleanup:
    free(sql);
    return rc;
}

/* Inserts rows [from, from+n) with one multi-row INSERT. Returns 0, 1 when PostgreSQL
 * rejected the data (SQLSTATE class 22 data exception, 23 integrity constraint, 54 program
 * limit: something in a row, not the connection or the server), or -1 on any other error;
 * err says why either way. */
static int insert_rows(PGconn *pg, const struct rl_row *rows, size_t n, char *err, size_t errsize)
{
    static const char *const casts[RL_NCOLS] = {
        "", "", "::smallint", "::integer", "::integer", "",         "",         "::integer",
        "", "", "",           "::float8",  "::float8",  "::bigint", "::boolean"};
    const char **params = NULL;
    char *sql = NULL;
    int rc = -1;
    PGresult *res = NULL;

    size_t cap = 512 + n * (RL_NCOLS * 24 + 8);
    sql = malloc(cap);
    params = malloc(n * RL_NCOLS * sizeof *params);
    if (sql == NULL || params == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    size_t len = (size_t)snprintf(sql, cap,
                                  "INSERT INTO tileq.render_log (stream_id, tileset, z, x, y, "
                                  "metatile, job_id, attempt, reason, worker, started, "
                                  "duration_ms, metatile_ms, bytes, empty) VALUES ");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(sql + len, cap - len, "%s(", i ? "," : "");
        for (int j = 0; j < RL_NCOLS; j++) {
            size_t p = i * RL_NCOLS + (size_t)j + 1;
            /* metatile and empty live in the row itself (which realloc may have moved
             * after val[] was filled): take them from there */
            params[p - 1] = j == 5 ? rows[i].metatile : j == 14 ? rows[i].empty : rows[i].val[j];
            if (j == 10)
                len += (size_t)snprintf(sql + len, cap - len, "%sto_timestamp($%zu::float8 / 1000)",
                                        j ? "," : "", p);
            else
                len +=
                    (size_t)snprintf(sql + len, cap - len, "%s$%zu%s", j ? "," : "", p, casts[j]);
        }
        len += (size_t)snprintf(sql + len, cap - len, ")");
    }
    snprintf(sql + len, cap - len, " ON CONFLICT (stream_id) DO NOTHING");
    res = PQexecParams(pg, sql, (int)(n * RL_NCOLS), NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(err, errsize, "render_log insert: %s", PQerrorMessage(pg));
        if (PQstatus(pg) == CONNECTION_OK && state != NULL &&
            (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
             strncmp(state, "54", 2) == 0))
            rc = 1;
        goto cleanup;
    }
    rc = 0;
cleanup:
    PQclear(res);
    free(sql);
    free(params);
    return rc;
}

/* The batch went wrong as a whole with a data error: inserts its rows one by one, each
 * under a SAVEPOINT, setting aside (batch_reject) each row PostgreSQL rejects. Runs inside
 * the caller's transaction. Returns 0, or -1 with err set (any other error). */
static int insert_one_by_one(PGconn *pg, struct rl_batch *b, char *err, size_t errsize)
{
    char why[1024];
    for (size_t i = 0; i < b->nrows; i++) {
        if (pg_exec_ok(pg, "SAVEPOINT rl_entry", err, errsize) != 0)
            return -1;
        int rc = insert_rows(pg, &b->rows[i], 1, why, sizeof why);
        if (rc < 0) {
            snprintf(err, errsize, "%s", why);
            return -1;
        }
        if (rc == 1) {
            if (pg_exec_ok(pg, "ROLLBACK TO SAVEPOINT rl_entry", err, errsize) != 0)
                return -1;
            /* "render_log insert: ERROR:  ..." → the PostgreSQL message */
            const char *m = strstr(why, "ERROR:");
            m = m ? m + 6 : why;
            m += strspn(m, " ");
            if (batch_reject(b, b->rows[i].id, b->rows[i].fields, m) != 0) {
                snprintf(err, errsize, "out of memory");
                return -1;
            }
        }
        if (pg_exec_ok(pg, "RELEASE SAVEPOINT rl_entry", err, errsize) != 0)
            return -1;
    }
    return 0;
}

/* Inserts the batch's rows in one transaction; on a data error, again entry by entry
 * (insert_one_by_one). Returns 0 committed, -1 rolled back (err set). */
static int insert_batch(PGconn *pg, struct rl_batch *b, char *err, size_t errsize)
{
    char tmp[16];
    int rc = 0;

    if (b->nrows == 0)
        return 0;
    if (pg_exec_ok(pg, "BEGIN", err, errsize) != 0)
        return -1;
    for (size_t i = 0; i < b->nrows && rc == 0; i += RL_ROWS_PER_INSERT) {
        size_t n = b->nrows - i < RL_ROWS_PER_INSERT ? b->nrows - i : RL_ROWS_PER_INSERT;
        rc = insert_rows(pg, b->rows + i, n, err, errsize);
    }
    if (rc == 1) {
        char q[600];
        tq_log_warn("renderlog_batch_rejected", "rows=%zu error=%s retry=entry_by_entry", b->nrows,
                    tq_log_quote(err, q, sizeof q));
        if (pg_exec_ok(pg, "ROLLBACK", err, errsize) != 0 ||
            pg_exec_ok(pg, "BEGIN", err, errsize) != 0)
            return -1;
        rc = insert_one_by_one(pg, b, err, errsize);
    }
    if (rc == 0 && pg_exec_ok(pg, "COMMIT", err, errsize) == 0)
        return 0;
    pg_exec_ok(pg, "ROLLBACK", tmp, sizeof tmp);
    return -1;
}

/* XADDs one rejected entry to the rejected stream: stream_id, error, then its fields. */
static int add_rejected(redisContext *c, const struct rl_reject *rj, char *err, size_t errsize)
{
    const redisReply *f = rj->fields;
    size_t nf = f != NULL && f->type == REDIS_REPLY_ARRAY ? f->elements / 2 * 2 : 0;
    const char **argv = malloc((10 + nf) * sizeof *argv);
    size_t *argvlen = malloc((10 + nf) * sizeof *argvlen);
    int argc = 0, rc = -1;

    if (argv == NULL || argvlen == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
#define ARG(s, l) (argv[argc] = (s), argvlen[argc++] = (l))
    ARG("XADD", 4);
    ARG(TQ_QUEUE_RENDERLOG_REJECTED_KEY, strlen(TQ_QUEUE_RENDERLOG_REJECTED_KEY));
    ARG("MAXLEN", 6);
    ARG("~", 1);
    ARG(RL_REJECTED_MAXLEN, strlen(RL_REJECTED_MAXLEN));
    ARG("*", 1);
    ARG(TQ_RENDERLOG_REJECTED_F_STREAM_ID, strlen(TQ_RENDERLOG_REJECTED_F_STREAM_ID));
    ARG(rj->id, strlen(rj->id));
    ARG(TQ_RENDERLOG_REJECTED_F_ERROR, strlen(TQ_RENDERLOG_REJECTED_F_ERROR));
    ARG(rj->why, strlen(rj->why));
    for (size_t i = 0; i + 1 < nf; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        ARG(k->str, k->len);
        ARG(v->str, v->len);
    }
#undef ARG
    redisReply *r = redisCommandArgv(c, argc, argv, argvlen);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsize, "renderlog XADD rejected: %s", r ? r->str : c->errstr);
        freeReplyObject(r);
        goto cleanup;
    }
    freeReplyObject(r);
    rc = 0;
cleanup:
    free(argv);
    free(argvlen);
    return rc;
}

/* Acknowledges and deletes every entry of the batch, after setting the rejected ones aside;
 * with rejects, all in one MULTI/EXEC. */
static int ack_and_delete(redisContext *c, const struct rl_batch *b, char *err, size_t errsize)
{
    const char **argv = NULL;
    int rc = -1, in_multi = 0;
    if (b->nack == 0)
        return 0;
    argv = malloc((b->nack + 3) * sizeof *argv);
    if (argv == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    if (b->nrejects > 0) {
        const char *multi[] = {"MULTI"};
        if (redis_call(c, NULL, NULL, err, errsize, "MULTI", 1, multi) != 0)
            goto cleanup;
        in_multi = 1;
        for (size_t i = 0; i < b->nrejects; i++)
            if (add_rejected(c, &b->rejects[i], err, errsize) != 0)
                goto cleanup;
    }
    argv[0] = "XACK";
    argv[1] = RL_KEY;
    argv[2] = RL_GROUP;
    memcpy(argv + 3, b->ack, b->nack * sizeof *argv);
    if (redis_call(c, NULL, NULL, err, errsize, "XACK", (int)b->nack + 3, argv) != 0)
        goto cleanup;
    argv[1] = "XDEL";
    argv[2] = RL_KEY;
    if (redis_call(c, NULL, NULL, err, errsize, "XDEL", (int)b->nack + 2, argv + 1) != 0)
        goto cleanup;
    if (in_multi) {
        redisReply *r = NULL;
        const char *exec[] = {"EXEC"};
        in_multi = 0;
        if (redis_call(c, NULL, &r, err, errsize, "EXEC", 1, exec) != 0)
            goto cleanup;
        int ok = r->type == REDIS_REPLY_ARRAY;
        for (size_t i = 0; ok && i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_ERROR) {
                snprintf(err, errsize, "renderlog EXEC: %s", r->element[i]->str);
                ok = 0;
            }
        if (ok && r->type != REDIS_REPLY_ARRAY)
            snprintf(err, errsize, "renderlog EXEC: transaction aborted");
        freeReplyObject(r);
        if (!ok)
            goto cleanup;
    }
    rc = 0;
cleanup:
    if (in_multi) {
        const char *discard[] = {"DISCARD"};
        char tmp[256]; /* unused: err already says what failed */
        redis_call(c, NULL, NULL, tmp, sizeof tmp, "DISCARD", 1, discard);
    }
    free(argv);
    return rc;
}

int tq_renderlog_flush(redisContext *c, PGconn *pg, const char *consumer, int max_entries,
                       char *err, size_t errsize)
{
    struct rl_batch b = {0};
    redisReply *r = NULL;
    char count[24];
    int rc = -1;

    if (max_entries <= 0)
        max_entries = 1000;
    size_t max = (size_t)max_entries;

    if (PQstatus(pg) != CONNECTION_OK) {
        PQreset(pg);
        if (PQstatus(pg) != CONNECTION_OK) {
            snprintf(err, errsize, "postgresql: %s", PQerrorMessage(pg));
            goto cleanup;
        }
    }
    if (ensure_table(pg, err, errsize) != 0)
        goto cleanup;

    {
        const char *argv[] = {"XGROUP", "CREATE", RL_KEY, RL_GROUP, "0", "MKSTREAM"};
        r = redisCommandArgv(c, 6, argv, NULL);
        if (r == NULL) {
            snprintf(err, errsize, "renderlog XGROUP: %s", c->errstr);
            goto cleanup;
        }
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
            snprintf(err, errsize, "renderlog XGROUP: %s", r->str);
            goto cleanup;
        }
        freeReplyObject(r);
        r = NULL;
    }

    /* 1. our own pending entries (a flush of ours that failed before XACK). */
    snprintf(count, sizeof count, "%zu", max);
    {
        const char *argv[] = {"XREADGROUP", "GROUP",   RL_GROUP, consumer, "COUNT",
                              count,        "STREAMS", RL_KEY,   "0"};
        if (redis_call(c, &b, &r, err, errsize, "XREADGROUP", 9, argv) != 0)
            goto cleanup;
        if (batch_add_entries(&b, xread_entries(r), max) != 0)
            goto oom;
    }
    /* 2. entries pending at other consumers that have been idle for a minute (dead). */
    if (b.nack < max) {
        snprintf(count, sizeof count, "%zu", max - b.nack);
        const char *argv[] = {"XAUTOCLAIM",     RL_KEY, RL_GROUP, consumer,
                              RL_CLAIM_IDLE_MS, "0-0",  "COUNT",  count};
        if (redis_call(c, &b, &r, err, errsize, "XAUTOCLAIM", 8, argv) != 0)
            goto cleanup;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
            batch_add_entries(&b, r->element[1], max) != 0)
            goto oom;
    }
    /* 3. new entries. */
    if (b.nack < max) {
        snprintf(count, sizeof count, "%zu", max - b.nack);
        const char *argv[] = {"XREADGROUP", "GROUP",   RL_GROUP, consumer, "COUNT",
                              count,        "STREAMS", RL_KEY,   ">"};
        if (redis_call(c, &b, &r, err, errsize, "XREADGROUP", 9, argv) != 0)
            goto cleanup;
        if (batch_add_entries(&b, xread_entries(r), max) != 0)
            goto oom;
    }
    r = NULL; /* owned by the batch */

    if (insert_batch(pg, &b, err, errsize) != 0)
        goto cleanup;
    if (ack_and_delete(c, &b, err, errsize) != 0)
        goto cleanup; /* rows are in; the entries stay pending and re-insert as no-ops */
    rc = (int)b.nack;
    goto cleanup;
oom:
    snprintf(err, errsize, "out of memory");
cleanup:
    if (r != NULL && b.nreplies == 0)
        freeReplyObject(r);
    batch_free(&b);
    return rc;
}

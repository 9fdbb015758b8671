/* tq_watch_run — see tq_watch_run.h. */
#include "tq_watch_run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "tq_backoff.h"
#include "tq_buf.h"
#include "tq_cli.h"
#include "tq_cliutil.h"
#include "tq_expire.h"
#include "tq_log.h"
#include "tq_redis.h"
#include "tq_time.h"
#include "tq_watch_sql.h"
#include "tq_watch_tiles.h"
#include "tq_wire.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* An arbitrary key of the advisory lock every watcher takes ("tqwatch" in ASCII). */
#define WATCH_LOCK_KEY "8390618841216149504" /* 0x7471776174636800 */

struct watcher {
    const struct tq_config *cfg;
    const struct tq_watch_run_opts *o;
    PGconn *pg;
    redisContext *c;
    struct tq_watch_plan plan;
    int have_plan;
    struct tq_expire *e;
    struct tq_watch_zoomset *zs;
    long long last_id;
    char err[1024];
};

static void disconnect(struct watcher *w)
{
    tq_expire_free(w->e);
    w->e = NULL;
    if (w->c)
        redisFree(w->c);
    w->c = NULL;
    if (w->pg)
        PQfinish(w->pg);
    w->pg = NULL;
    if (w->have_plan)
        tq_watch_plan_free(&w->plan);
    w->have_plan = 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Connects PostgreSQL (holding the watchers' lock: waits as a standby while another
 * watcher holds it), finds the tables, LISTENs, connects Redis. 0, 1 stopped, -1 failed
 * (err set), 2 nothing installed. */
static int connect_all(struct watcher *w)
{
    PGresult *r;
    int standby_logged = 0;

    w->pg = PQconnectdb(w->cfg->pg_conninfo);
    if (PQstatus(w->pg) != CONNECTION_OK) {
        snprintf(w->err, sizeof w->err, "PostgreSQL: %s", PQerrorMessage(w->pg));
        return -1;
    }
    PQclear(PQexec(w->pg, "SET application_name = 'tileq-watch'"));
    for (;;) {
        r = tq_watch_exec(w->pg, "SELECT pg_try_advisory_lock(" WATCH_LOCK_KEY ")", 0, NULL, w->err,
                          sizeof w->err);
        if (r == NULL)
            return -1;
        int got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (got)
            break;
        if (!standby_logged)
            tq_log_info("watch_standby", "reason=\"another watcher holds the lock\"");
        standby_logged = 1;
        for (int i = 0; i < 10 && !stop_flag; i++)
            sleep_ms(100);
        if (stop_flag)
            return 1;
    }
    long long count, oldest;
    int st = tq_watch_backlog(w->pg, &count, &oldest, w->err, sizeof w->err);
    if (st < 0)
        return -1;
    if (st == 1) {
        snprintf(w->err, sizeof w->err, "nothing installed (run tileq watch install first)");
        return 2;
    }
    if (tq_watch_plan_find(w->pg, w->cfg, &w->plan, w->err, sizeof w->err) != 0)
        return -1;
    w->have_plan = 1;
    r = tq_watch_exec(w->pg, "LISTEN " TQ_WATCH_CHANNEL, 0, NULL, w->err, sizeof w->err);
    if (r == NULL)
        return -1;
    PQclear(r);
    struct tq_redis_target target = tq_config_redis_target(w->cfg);
    w->c = tq_redis_connect(&target, 5000, 0, NULL, w->err, sizeof w->err);
    if (w->c == NULL)
        return -1;
    w->e = tq_expire_new(w->cfg, w->c, TQ_REASON_CHANGE);
    if (w->e == NULL) {
        snprintf(w->err, sizeof w->err, "out of memory");
        return -1;
    }
    tq_log_info("watch_started", "tables=%zu backlog=%lld oldest_ms=%lld", w->plan.n, count,
                oldest);
    return 0;
}

/* Writes the backlog figures into Redis (status, /metrics). */
static int publish(struct watcher *w)
{
    long long count, oldest;
    if (tq_watch_backlog(w->pg, &count, &oldest, w->err, sizeof w->err) != 0)
        return -1;
    redisReply *r = redisCommand(w->c,
                                 "HSET %s " TQ_WATCH_F_BACKLOG " %lld " TQ_WATCH_F_OLDEST_MS
                                 " %lld " TQ_WATCH_F_LAST_ID " %lld " TQ_WATCH_F_UPDATED_MS " %lld",
                                 TQ_WATCH_KEY, count, oldest, w->last_id, (long long)tq_now_ms());
    int ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    if (ok) {
        r = redisCommand(w->c, "PEXPIRE %s %d", TQ_WATCH_KEY, TQ_WATCH_TTL_MS);
        ok = r != NULL && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
    }
    if (!ok)
        snprintf(w->err, sizeof w->err, "Redis: %s", w->c->err ? w->c->errstr : "HSET failed");
    return ok ? 0 : -1;
}

struct range_ctx {
    struct watcher *w;
    long ranges, merged;
};

static int expire_one(size_t ts, const struct tq_tile_range *r, int merged, void *arg)
{
    struct range_ctx *rc = arg;
    rc->ranges++;
    rc->merged += merged;
    if (tq_expire_range(rc->w->e, &rc->w->cfg->tilesets[ts], r) != 0) {
        snprintf(rc->w->err, sizeof rc->w->err, "%s", tq_expire_error(rc->w->e));
        return -1;
    }
    return 0;
}

/* Adds box (4 numbers as text, or NULL when the extent is NULL) of a change to t's readers. */
static int add_box(struct watcher *w, const struct tq_watch_table *t, PGresult *r, int row, int col,
                   int everywhere)
{
    double box[4];
    if (!everywhere) {
        if (PQgetisnull(r, row, col))
            return 0;
        for (int i = 0; i < 4; i++)
            box[i] = strtod(PQgetvalue(r, row, col + i), NULL);
    }
    for (size_t k = 0; k < t->nreaders; k++) {
        const struct tq_watch_reader *rd = &t->readers[k];
        size_t tsi = (size_t)(rd->ts - w->cfg->tilesets);
        for (int z = rd->zmin; z <= rd->zmax; z++) {
            struct tq_tile_range range;
            if (everywhere)
                range = tq_watch_tiles_world(z);
            else if (tq_watch_tiles_range(box, z, rd->ts->buffer, rd->ts->extent, &range) != 0)
                continue;
            if (tq_watch_zoomset_add(w->zs, tsi, &range) != 0) {
                snprintf(w->err, sizeof w->err, "out of memory");
                return -1;
            }
        }
    }
    return 0;
}

/* One batch. Returns the changes consumed (0: none pending), -1 error (err set), -2 stopped
 * while waiting for room in the queue (nothing consumed). */
static long batch(struct watcher *w)
{
    char limit[32];
    struct tq_buf ids = TQ_BUF_INIT;
    PGresult *r = NULL;
    long n = -1;
    long long first = 0, last = 0;
    int replanned = 0;
    int64_t t0 = tq_now_ms();

    snprintf(limit, sizeof limit, "%ld", w->o->batch);
    const char *params[1] = {limit};
    r = tq_watch_exec(w->pg,
                      "SELECT id, relid, everywhere,"
                      " ST_XMin(old_extent), ST_YMin(old_extent), ST_XMax(old_extent),"
                      " ST_YMax(old_extent), ST_XMin(new_extent), ST_YMin(new_extent),"
                      " ST_XMax(new_extent), ST_YMax(new_extent),"
                      " (extract(epoch FROM clock_timestamp() - created_at) * 1000)::bigint"
                      " FROM tileq.changes ORDER BY id LIMIT $1::bigint",
                      1, params, w->err, sizeof w->err);
    if (r == NULL)
        goto cleanup;
    int rows = PQntuples(r);
    if (rows == 0) {
        n = 0;
        goto cleanup;
    }
    tq_expire_reset(w->e);
    tq_watch_zoomset_clear(w->zs);
    tq_buf_append_str(&ids, "{");
    long long oldest_age = 0;
    for (int i = 0; i < rows; i++) {
        long long id = atoll(PQgetvalue(r, i, 0));
        unsigned relid = (unsigned)strtoul(PQgetvalue(r, i, 1), NULL, 10);
        int everywhere = strcmp(PQgetvalue(r, i, 2), "t") == 0;
        long long age = atoll(PQgetvalue(r, i, 11));
        tq_buf_printf(&ids, "%s%lld", i ? "," : "", id);
        if (i == 0 || id < first)
            first = id;
        if (id > last)
            last = id;
        if (age > oldest_age)
            oldest_age = age;
        const struct tq_watch_table *t = tq_watch_plan_table(&w->plan, relid);
        if (t == NULL && !replanned) {
            /* A table installed after this watcher started: find the tables again. */
            struct tq_watch_plan plan;
            if (tq_watch_plan_find(w->pg, w->cfg, &plan, w->err, sizeof w->err) != 0)
                goto cleanup;
            tq_watch_plan_free(&w->plan);
            w->plan = plan;
            replanned = 1;
            tq_log_info("watch_tables", "tables=%zu reason=\"a change of table %u\"", plan.n,
                        relid);
            t = tq_watch_plan_table(&w->plan, relid);
        }
        if (t == NULL)
            continue; /* no tileset reads it (any more): consumed, nothing to expire */
        if (add_box(w, t, r, i, 3, everywhere) != 0 || (!everywhere && add_box(w, t, r, i, 7, 0)))
            goto cleanup;
    }
    tq_buf_append_str(&ids, "}");
    if (tq_buf_failed(&ids)) {
        snprintf(w->err, sizeof w->err, "out of memory");
        goto cleanup;
    }
    struct range_ctx rc = {w, 0, 0};
    if (tq_watch_zoomset_each(w->zs, (uint64_t)w->o->max_tiles_per_zoom, expire_one, &rc) != 0)
        goto cleanup;
    int rr = tq_expire_rerender(w->e, TQ_REASON_CHANGE, 1, w->o->max_queued, &stop_flag);
    if (rr < 0) {
        snprintf(w->err, sizeof w->err, "%s", tq_expire_error(w->e));
        goto cleanup;
    }
    if (rr == 1) {
        n = -2;
        goto cleanup;
    }
    /* Consumed: deleted with the position's update, in one transaction. */
    char lastbuf[32], countbuf[32];
    snprintf(lastbuf, sizeof lastbuf, "%lld", last);
    snprintf(countbuf, sizeof countbuf, "%d", rows);
    const char *p2[3] = {tq_buf_str(&ids), lastbuf, countbuf};
    PGresult *d = tq_watch_exec(w->pg, "BEGIN", 0, NULL, w->err, sizeof w->err);
    PQclear(d);
    if (d == NULL)
        goto cleanup;
    d = tq_watch_exec(w->pg, "DELETE FROM tileq.changes WHERE id = ANY ($1::bigint[])", 1, p2,
                      w->err, sizeof w->err);
    PQclear(d);
    if (d != NULL)
        d = tq_watch_exec(w->pg,
                          "UPDATE tileq.watch_position SET last_id = greatest(last_id, $1::bigint),"
                          " consumed = consumed + $2::bigint, updated_at = now()",
                          2, p2 + 1, w->err, sizeof w->err);
    PQclear(d);
    if (d != NULL)
        d = tq_watch_exec(w->pg, "COMMIT", 0, NULL, w->err, sizeof w->err);
    PQclear(d);
    if (d == NULL) {
        PQclear(PQexec(w->pg, "ROLLBACK"));
        goto cleanup;
    }
    if (last > w->last_id)
        w->last_id = last;
    struct tq_expire_stats st = tq_expire_stats(w->e);
    tq_log_info("watch_batch",
                "changes=%d first_id=%lld last_id=%lld oldest_age_ms=%lld ranges=%ld merged=%ld "
                "metatiles=%zu tiles_deleted=%lld marked=%ld queued=%ld new=%ld uncached=%ld "
                "ms=%lld",
                rows, first, last, oldest_age, rc.ranges, rc.merged, st.metatiles, st.removed,
                st.marked, st.requeued, st.enqueued_new, st.skipped_uncached,
                (long long)(tq_now_ms() - t0));
    n = rows;
cleanup:
    PQclear(r);
    tq_buf_free(&ids);
    return n;
}

/* Waits up to ms for a NOTIFY on the PostgreSQL connection. 0, or -1 (connection lost). */
static int wait_notify(struct watcher *w, long ms)
{
    int fd = PQsocket(w->pg);
    if (fd < 0) {
        snprintf(w->err, sizeof w->err, "PostgreSQL: no connection");
        return -1;
    }
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (select(fd + 1, &set, NULL, NULL, &tv) < 0 && errno != EINTR) {
        snprintf(w->err, sizeof w->err, "select: %s", strerror(errno));
        return -1;
    }
    if (PQconsumeInput(w->pg) == 0) {
        snprintf(w->err, sizeof w->err, "PostgreSQL: %s", PQerrorMessage(w->pg));
        return -1;
    }
    PGnotify *nf;
    while ((nf = PQnotifies(w->pg)) != NULL)
        PQfreemem(nf);
    return 0;
}

static void log_error(struct watcher *w, int64_t delay, int64_t *out)
{
    char q[1100];
    tq_log_warn("watch_error", "error=%s retry_ms=%lld", tq_log_quote(w->err, q, sizeof q),
                (long long)delay);
    *out = delay;
}

int tq_watch_run(const struct tq_config *cfg, const struct tq_watch_run_opts *o)
{
    struct watcher w;
    struct tq_backoff bo;
    struct sigaction sa;
    int status = TQ_EXIT_FAIL;

    memset(&w, 0, sizeof w);
    w.cfg = cfg;
    w.o = o;
    w.zs = tq_watch_zoomset_new();
    if (w.zs == NULL) {
        fprintf(stderr, "tileq watch: out of memory\n");
        return TQ_EXIT_FAIL;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    stop_flag = 0;
    tq_backoff_init(&bo, 100, 5000);

    while (!stop_flag) {
        int rc = connect_all(&w);
        if (rc == 1)
            break;
        if (rc != 0 && o->once) {
            fprintf(stderr, "tileq watch: %s\n", w.err);
            goto cleanup;
        }
        if (rc != 0) {
            int64_t delay;
            log_error(&w, tq_backoff_fail(&bo, tq_now_ms()), &delay);
            disconnect(&w);
            for (int64_t t = 0; t < delay && !stop_flag; t += 100)
                sleep_ms(100);
            continue;
        }
        int64_t last_publish = 0;
        for (;;) {
            long n = batch(&w);
            if (n == -2 || stop_flag)
                break;
            if (n < 0)
                break;
            tq_backoff_ok(&bo);
            /* The figures: after a batch that ended the backlog, and every second meanwhile
             * (also while full batches follow one another). */
            if ((n > 0 && n < o->batch) || tq_now_ms() - last_publish >= 1000) {
                if (publish(&w) != 0)
                    break;
                last_publish = tq_now_ms();
            }
            if (n >= o->batch)
                continue; /* more pending: no wait */
            if (n == 0 && o->once) {
                status = TQ_EXIT_OK;
                goto cleanup;
            }
            if (n == 0 && wait_notify(&w, 1000) != 0)
                break;
        }
        if (stop_flag)
            break;
        if (o->once) {
            fprintf(stderr, "tileq watch: %s\n", w.err);
            goto cleanup;
        }
        int64_t delay;
        log_error(&w, tq_backoff_fail(&bo, tq_now_ms()), &delay);
        disconnect(&w);
        for (int64_t t = 0; t < delay && !stop_flag; t += 100)
            sleep_ms(100);
    }
    tq_log_info("watch_stopped", "last_id=%lld", w.last_id);
    status = TQ_EXIT_OK;
cleanup:
    disconnect(&w);
    tq_watch_zoomset_free(w.zs);
    return status;
}

int tq_watch_figures_read(redisContext *c, struct tq_watch_figures *f)
{
    redisReply *r = redisCommand(c,
                                 "HMGET %s " TQ_WATCH_F_BACKLOG " " TQ_WATCH_F_OLDEST_MS
                                 " " TQ_WATCH_F_LAST_ID " " TQ_WATCH_F_UPDATED_MS,
                                 TQ_WATCH_KEY);
    int rc = -1;
    memset(f, 0, sizeof *f);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 4)
        goto cleanup;
    rc = 0;
    if (r->element[0]->type != REDIS_REPLY_STRING)
        goto cleanup; /* none */
    long long *v[4] = {&f->backlog, &f->oldest_ms, &f->last_id, &f->updated_ms};
    for (int i = 0; i < 4; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            *v[i] = atoll(r->element[i]->str);
    rc = 1;
cleanup:
    if (r)
        freeReplyObject(r);
    return rc;
}

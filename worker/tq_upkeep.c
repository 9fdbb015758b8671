/* tq_upkeep — see tq_upkeep.h. */
#include "tq_upkeep.h"

#include <stdio.h>
#include <string.h>

#include "tq_log.h"
#include "tq_publish.h"
#include "tq_queue.h"
#include "tq_renderlog.h"
#include "tq_time.h"
#include "tq_worker.h"

#define REGISTER_EVERY_MS 5000
#define REAP_EVERY_MS 1000
#define REAP_LIMIT 100
#define FLUSH_EVERY_MS 2000
#define FLUSH_MAX_ENTRIES 1000
#define FLUSH_STATEMENT_TIMEOUT_MS TQ_STATEMENT_TIMEOUT_MS_DEFAULT
#define SCHEMA_EVERY_MS 60000
#define FIGURES_DIRTY_EVERY_MS 1000
#define FIGURES_EVERY_MS 15000

void tq_upkeep_register_if_due(struct tq_worker *w)
{
    struct tq_upkeep *u = &w->upkeep;
    unsigned epoch = tq_wconn_redis_epoch(w->conn);

    if (!tq_wconn_redis_ok(w->conn) ||
        (tq_now_ms() < u->next_register && epoch == u->register_redis_epoch))
        return;
    tq_publish_register(w);
    u->register_redis_epoch = epoch;
    u->next_register = tq_now_ms() + REGISTER_EVERY_MS;
}

static void schema_if_due(struct tq_worker *w, int64_t now)
{
    struct tq_upkeep *u = &w->upkeep;
    unsigned redis_epoch = tq_wconn_redis_epoch(w->conn), pg_epoch = tq_wconn_pg_epoch(w->conn);

    if (!tq_wconn_redis_ok(w->conn) || !tq_wconn_pg_ok(w->conn))
        return;
    if (now < u->next_schema && redis_epoch == u->schema_redis_epoch &&
        pg_epoch == u->schema_pg_epoch)
        return;
    u->next_schema = tq_now_ms() + SCHEMA_EVERY_MS;
    u->schema_redis_epoch = redis_epoch;
    u->schema_pg_epoch = pg_epoch;
    tq_publish_schema(w);
}

static void reap_if_due(struct tq_worker *w, int64_t now)
{
    char err[512];

    if (!tq_wconn_redis_ok(w->conn) || now < w->upkeep.next_reap)
        return;
    w->upkeep.next_reap = now + REAP_EVERY_MS;
    int n = tq_queue_reap(tq_wconn_redis(w->conn), w->cfg->queue.max_attempts, REAP_LIMIT, err,
                          sizeof err);
    if (n < 0)
        tq_wconn_redis_drop(w->conn, err);
    else if (n > 0)
        tq_log_warn("reaped", "jobs=%d", n);
}

static void flush_if_due(struct tq_worker *w, int64_t now)
{
    struct tq_upkeep *u = &w->upkeep;
    char err[512], q[600];

    if (!tq_wconn_redis_ok(w->conn) || !tq_wconn_pg_ok(w->conn) || now < u->next_flush)
        return;
    u->next_flush = now + FLUSH_EVERY_MS;
    redisContext *redis = tq_wconn_redis(w->conn);
    /* The render connection may carry a tileset's short statement_timeout: the flush runs
     * under its own (no round trip while it is the same as the last render's). */
    int n = tq_render_set_timeout(w->renderer, tq_wconn_pg(w->conn), FLUSH_STATEMENT_TIMEOUT_MS,
                                  err, sizeof err) == TQ_RENDER_OK
                ? tq_renderlog_flush(redis, tq_wconn_pg(w->conn), w->id, FLUSH_MAX_ENTRIES, err,
                                     sizeof err)
                : -1;
    if (n < 0) {
        if (strcmp(err, u->flush_err) != 0)
            tq_log_warn("renderlog_flush_failed", "error=%s", tq_log_quote(err, q, sizeof q));
        snprintf(u->flush_err, sizeof u->flush_err, "%s", err);
        if (redis->err)
            tq_wconn_redis_drop(w->conn, redis->errstr);
        tq_wconn_pg_tidy(w->conn);
    } else {
        if (u->flush_err[0])
            tq_log_info("renderlog_flush_ok", "rows=%d", n);
        u->flush_err[0] = '\0';
        if (n > 0)
            tq_log_debug("renderlog_flushed", "rows=%d", n);
    }
}

void tq_upkeep_run(struct tq_worker *w)
{
    int64_t now = tq_now_ms();
    const struct tq_wstats *f = &w->stats;

    tq_upkeep_register_if_due(w);
    if (tq_wconn_redis_ok(w->conn) &&
        (now >= f->last_publish + FIGURES_EVERY_MS ||
         (f->dirty && now >= f->last_publish + FIGURES_DIRTY_EVERY_MS)))
        tq_publish_figures(w);
    schema_if_due(w, now);
    reap_if_due(w, now);
    flush_if_due(w, now);
}

void tq_upkeep_stop(struct tq_worker *w)
{
    if (tq_wconn_redis_ok(w->conn) && tq_wconn_pg_ok(w->conn)) {
        w->upkeep.next_flush = 0;
        tq_upkeep_run(w);
    }
    tq_publish_figures(w); /* the last figures, kept for the TTL */
    tq_publish_unregister(w);
}

/* tq_wconn — see tq_wconn.h. */
#include "tq_wconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tq_backoff.h"
#include "tq_pgconn.h"
#include "tq_log.h"
#include "tq_redis.h"
#include "tq_time.h"

#define PROG "tileq-worker" /* PostgreSQL's application_name unless the conninfo sets one */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define REDIS_CONNECT_TIMEOUT_MS 2000
#define REDIS_COMMAND_TIMEOUT_MS 5000 /* > the BLPOP timeout */
#define MASTER_CHECK_EVERY_MS 1000    /* with sentinels: has the master moved? */
#define MASTER_CHECK_QUIET_MS 5000    /* ... after no sentinel answered */
#define MASTER_CHECK_TIMEOUT_MS 300
#define PG_CONNECT_TIMEOUT "5"
#define IDLE_MAX_MS 1000

struct tq_wconn {
    const struct tq_config *cfg;         /* borrowed */
    struct tq_renderer *renderer;        /* borrowed */
    redisContext *redis;                 /* owned; NULL while disconnected */
    struct tq_redis_target redis_target; /* cfg's Redis (borrowed from cfg) */
    struct tq_redis_addr redis_addr;     /* where redis is connected */
    int64_t next_master_check;           /* with sentinels (tq_wconn_redis_ensure) */
    PGconn *pg;                          /* owned; NULL while disconnected */
    struct tq_backoff redis_bo, pg_bo;   /* reconnect pacing: 100 ms doubling to 5 s */
    int redis_retry_now; /* the next Redis connect goes ahead whatever the backoff says (the
                            failure after it still waits longer than the last) */
    unsigned redis_epoch, pg_epoch;
};

struct tq_wconn *tq_wconn_new(const struct tq_config *cfg, struct tq_renderer *renderer)
{
    struct tq_wconn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->cfg = cfg;
    c->renderer = renderer;
    c->redis_target = tq_config_redis_target(cfg);
    tq_backoff_init(&c->redis_bo, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    tq_backoff_init(&c->pg_bo, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    return c;
}

void tq_wconn_free(struct tq_wconn *c)
{
    if (c == NULL)
        return;
    if (c->redis)
        redisFree(c->redis);
    if (c->pg)
        PQfinish(c->pg);
    free(c);
}

int tq_wconn_redis_ok(const struct tq_wconn *c)
{
    return c->redis != NULL && c->redis->err == 0;
}

int tq_wconn_pg_ok(const struct tq_wconn *c)
{
    return c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK;
}

redisContext *tq_wconn_redis(const struct tq_wconn *c)
{
    return c->redis;
}

PGconn *tq_wconn_pg(const struct tq_wconn *c)
{
    return c->pg;
}

unsigned tq_wconn_redis_epoch(const struct tq_wconn *c)
{
    return c->redis_epoch;
}

unsigned tq_wconn_pg_epoch(const struct tq_wconn *c)
{
    return c->pg_epoch;
}

void tq_wconn_redis_drop(struct tq_wconn *c, const char *why)
{
    char q[600];
    if (c->redis == NULL)
        return;
    tq_log_warn("redis_error", "error=%s", tq_log_quote(why, q, sizeof q));
    redisFree(c->redis);
    c->redis = NULL;
    tq_backoff_fail(&c->redis_bo, tq_now_ms());
}

void tq_wconn_pg_drop(struct tq_wconn *c, const char *why)
{
    char q[600];
    if (c->pg == NULL)
        return;
    tq_log_warn("pg_error", "error=%s", tq_log_quote(why, q, sizeof q));
    PQfinish(c->pg);
    c->pg = NULL;
    tq_backoff_fail(&c->pg_bo, tq_now_ms());
}

int tq_wconn_redis_simple(struct tq_wconn *c, const char *what, redisReply *r)
{
    char err[300];
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, sizeof err, "%s: %s", what, r ? r->str : c->redis->errstr);
        if (r)
            freeReplyObject(r);
        tq_wconn_redis_drop(c, err);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

void tq_wconn_redis_retry_now(struct tq_wconn *c)
{
    c->redis_retry_now = 1;
}

int tq_wconn_redis_ensure(struct tq_wconn *c)
{
    char err[512], q[600];
    struct tq_redis_addr addr;

    if (tq_wconn_redis_ok(c) &&
        (c->cfg->nredis_sentinels == 0 || tq_now_ms() < c->next_master_check))
        return 0;
    if (tq_wconn_redis_ok(c)) {
        int moved = tq_redis_master_moved(&c->redis_target, &c->redis_addr, MASTER_CHECK_TIMEOUT_MS,
                                          err, sizeof err);
        c->next_master_check =
            tq_now_ms() + (moved < 0 ? MASTER_CHECK_QUIET_MS : MASTER_CHECK_EVERY_MS);
        if (moved <= 0)
            return 0;
        tq_wconn_redis_drop(c, err);
        return -1;
    }
    if (c->redis) {
        tq_wconn_redis_drop(c, c->redis->errstr);
        return -1;
    }
    if (!c->redis_retry_now && !tq_backoff_ready(&c->redis_bo, tq_now_ms()))
        return -1;
    c->redis_retry_now = 0;
    c->redis = tq_redis_connect(&c->redis_target, REDIS_CONNECT_TIMEOUT_MS,
                                REDIS_COMMAND_TIMEOUT_MS, &addr, err, sizeof err);
    if (c->redis == NULL) {
        tq_backoff_fail(&c->redis_bo, tq_now_ms());
        tq_log_warn("redis_error", "error=%s retry_ms=%lld", tq_log_quote(err, q, sizeof q),
                    (long long)c->redis_bo.delay_ms);
        return -1;
    }
    tq_backoff_ok(&c->redis_bo);
    c->redis_epoch++;
    c->redis_addr = addr;
    c->next_master_check = tq_now_ms() + MASTER_CHECK_EVERY_MS;
    tq_log_info("redis_connected", "host=%s port=%d db=%d sentinel_master=%s", addr.host, addr.port,
                addr.db, c->cfg->redis_sentinel_master ? c->cfg->redis_sentinel_master : "-");
    return 0;
}

/* Routes server notices into the log instead of libpq's bare stderr lines. */
static void on_pg_notice(void *arg, const char *message)
{
    char q[600], m[512];
    (void)arg;
    snprintf(m, sizeof m, "%s", message);
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
    tq_log_debug("pg_notice", "message=%s", tq_log_quote(m, q, sizeof q));
}

int tq_wconn_pg_ensure(struct tq_wconn *c)
{
    char q[600];
    if (tq_wconn_pg_ok(c))
        return 0;
    if (c->pg) {
        tq_wconn_pg_drop(c, PQerrorMessage(c->pg));
        return -1;
    }
    if (!tq_backoff_ready(&c->pg_bo, tq_now_ms()))
        return -1;
    PGconn *pg = tq_pg_connect(c->cfg->pg_conninfo, c->cfg->pg_password, PROG, PG_CONNECT_TIMEOUT);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        char err[512];
        snprintf(err, sizeof err, "connect: %s", pg ? PQerrorMessage(pg) : "out of memory");
        size_t n = strlen(err);
        while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = '\0';
        if (pg)
            PQfinish(pg);
        tq_backoff_fail(&c->pg_bo, tq_now_ms());
        tq_log_warn("pg_error", "error=%s retry_ms=%lld", tq_log_quote(err, q, sizeof q),
                    (long long)c->pg_bo.delay_ms);
        return -1;
    }
    c->pg = pg;
    PQsetNoticeProcessor(pg, on_pg_notice, NULL);
    tq_render_reset(c->renderer);
    int failed = tq_render_prepare_all(c->renderer, pg);
    if (failed < 0) {
        tq_wconn_pg_drop(c, PQerrorMessage(pg));
        return -1;
    }
    tq_backoff_ok(&c->pg_bo);
    c->pg_epoch++; /* the layers were described again: the schema is published again */
    tq_log_info("pg_connected", "server_version=%d tilesets=%zu prepare_failed=%d",
                PQserverVersion(pg), c->cfg->ntilesets, failed);
    return 0;
}

void tq_wconn_pg_tidy(struct tq_wconn *c)
{
    if (c->pg == NULL)
        return;
    if (PQstatus(c->pg) != CONNECTION_OK) {
        tq_wconn_pg_drop(c, PQerrorMessage(c->pg));
        return;
    }
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    if (ts == PQTRANS_ACTIVE) {
        tq_wconn_pg_drop(c, "connection busy after a cancelled query");
    } else if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            tq_wconn_pg_drop(c, PQerrorMessage(c->pg));
    }
}

/* Sleeps ms (interrupted early by a signal). */
static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void tq_wconn_idle(struct tq_wconn *c)
{
    int64_t now = tq_now_ms(), wait = IDLE_MAX_MS, due = IDLE_MAX_MS;
    if (!tq_wconn_redis_ok(c))
        due = tq_backoff_wait_ms(&c->redis_bo, now);
    else if (!tq_wconn_pg_ok(c))
        due = tq_backoff_wait_ms(&c->pg_bo, now);
    if (due < wait)
        wait = due;
    sleep_ms(wait < 10 ? 10 : wait);
}

/* tileq-worker — claims render jobs from Redis, renders each metatile with one PostgreSQL
 * round trip (tq_render), writes the tiles into the shared cache, logs every tile and acks.
 *
 *   tileq-worker -c FILE
 *
 * Runs until SIGTERM/SIGINT: the job in hand is finished (rendered, written, acked), then
 * the worker leaves the registry and exits 0. Redis or PostgreSQL going away is never
 * fatal: the worker logs, reconnects with exponential backoff (100 ms .. 5 s) and goes on.
 *
 * Main loop (one thread, blocking calls with timeouts):
 *   every ~5 s  HSET {tq}:workers id "host pid ms"          (registry heartbeat)
 *   every ~1 s  tq_queue_reap                                (expired leases of anyone)
 *   every ~2 s  tq_renderlog_flush                           (Redis stream -> PostgreSQL)
 *   every ~1 s while rendering, ~15 s otherwise:
 *               HSET {tq}:wmetrics:<id> ... + ZADD {tq}:wmetrics (this worker's counters for
 *                                                          the coordinators' /metrics,
 *                                                          tq_metrics.h)
 *   every ~60 s and after every (re)connect:
 *               HSET {tq}:schema <tileset> <layer fields json> (read by coordinators'
 *                                                          TileJSON, tq_tilejson.h)
 *
 * With no tileset in the config, the tilesets are discovered from geometry_columns at start
 * (tq_discover.h; blocking, retried while PostgreSQL is down).
 *   claim: a job  -> process_job, claim again at once
 *          none   -> BLPOP {tq}:wake 1 (a new job wakes us at once)
 *
 * A job (claimed with a fencing token, logged as job_claimed ... token=<n>):
 *   decode -> (bad payload / unknown tileset / zoom out of range: ack dead)
 *   -> render, heartbeating the lease every lease/3 under the token (lost: cancel the
 *      query, drop it); the heartbeat caps the lease at started + the job's budget
 *      (statement_timeout_ms x render statements + one lease), on Redis's clock
 *   -> PostgreSQL gone mid-render: reconnect (lease still heartbeated) and render again
 *   -> SQL error, the statement timeout included: ack fail (re-queued until max_attempts)
 *   -> write every tile (error: ack fail), each only while the lease is known to have at
 *      least half a lease left (job_lease_guard; else log lease_lost and drop the job:
 *      nothing more is written, nothing acked), then log tiles_written job token tiles
 *   -> render log entries -> ack ok under the token ("stale": another claim holds it).
 * An interactive job with a first tile (the tile its first requester asked for) and a
 * metatile of several tiles renders that tile alone first (the one-tile statement), writes
 * it (fenced as above, its own tiles_written line), announces it (tq_queue_partial: the
 * "partial" event, refused for a stale token; the coordinator answers whoever waits for it)
 * and logs it, then renders the other tiles (the metatile statement without that tile) and
 * goes on as above. A failure in either query: ack fail. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "tq_cache.h"
#include "tq_config.h"
#include "tq_discover.h"
#include "tq_job.h"
#include "tq_log.h"
#include "tq_main.h"
#include "tq_metrics.h"
#include "tq_queue.h"
#include "tq_redis.h"
#include "tq_render.h"
#include "tq_renderlog.h"
#include "tq_tilejson.h"
#include "tq_time.h"

#define PROG "tileq-worker"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define REDIS_CONNECT_TIMEOUT_MS 2000
#define REDIS_COMMAND_TIMEOUT_MS 5000 /* > the BLPOP timeout */
#define MASTER_CHECK_EVERY_MS 1000    /* with sentinels: has the master moved? */
#define MASTER_CHECK_QUIET_MS 5000    /* ... after no sentinel answered */
#define MASTER_CHECK_TIMEOUT_MS 300
#define PG_CONNECT_TIMEOUT "5"
#define REGISTER_EVERY_MS 5000
#define REAP_EVERY_MS 1000
#define REAP_LIMIT 100
#define FLUSH_EVERY_MS 2000
#define FLUSH_MAX_ENTRIES 1000
#define FLUSH_STATEMENT_TIMEOUT_MS TQ_STATEMENT_TIMEOUT_MS_DEFAULT
#define SCHEMA_EVERY_MS 60000
#define WAKE_TIMEOUT_S 1
#define ACK_TRIES_WHEN_STOPPING 3
#define MAX_CONN_ERRORS_PER_JOB 3
#define METRICS_DIRTY_EVERY_MS 1000
#define METRICS_EVERY_MS 15000
#define LEASE_SAFETY_DIV 2 /* a tile is renamed only with >= lease/2 of the lease left */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Reconnect pacing: after a failure wait delay_ms (doubling up to BACKOFF_MAX_MS). */
struct backoff {
    int delay_ms;
    int64_t next_ms; /* no attempt before this */
};

static void backoff_fail(struct backoff *b)
{
    b->delay_ms = b->delay_ms ? b->delay_ms * 2 : BACKOFF_MIN_MS;
    if (b->delay_ms > BACKOFF_MAX_MS)
        b->delay_ms = BACKOFF_MAX_MS;
    b->next_ms = tq_now_ms() + b->delay_ms;
}

static void backoff_ok(struct backoff *b)
{
    b->delay_ms = 0;
    b->next_ms = 0;
}

/* Failure kinds counted for /metrics (fields fail_<name> in the worker's metrics hash). */
enum wfail { WFAIL_SQL = 0, WFAIL_WRITE, WFAIL_INVALID, WFAIL_LOST, WFAIL_COUNT };
static const char *const wfail_names[WFAIL_COUNT] = {"sql", "write", "invalid", "lost"};

/* This process's cumulative figures, published to Redis (tq_metrics.h). */
struct wmetrics {
    uint64_t renders, tiles, fail[WFAIL_COUNT];
    double sql_seconds;
    uint64_t hist[TQ_TILE_MAX_ZOOM + 1][TQ_METRICS_LATENCY_NBUCKETS + 1];
    double hist_sum[TQ_TILE_MAX_ZOOM + 1];
    int dirty;
    int64_t last_publish;
};

struct worker {
    struct tq_config *cfg; /* owned */
    char id[256];
    char host[128];
    redisContext *redis;                 /* owned; NULL while disconnected */
    struct tq_redis_target redis_target; /* cfg's Redis (borrowed from cfg) */
    struct tq_redis_addr redis_addr;     /* where redis is connected */
    int64_t next_master_check;           /* with sentinels (redis_ensure) */
    PGconn *pg;                          /* owned; NULL while disconnected */
    struct tq_renderer *renderer;
    struct backoff redis_bo, pg_bo;
    int64_t next_register, next_reap, next_flush, next_schema;
    int lease_ms;
    char flush_err[512]; /* last flush error, logged once until it changes */
    struct wmetrics m;
};

static void metrics_fail(struct worker *w, enum wfail kind)
{
    w->m.fail[kind]++;
    w->m.dirty = 1;
}

static void metrics_render(struct worker *w, int z, uint32_t ntiles, double sql_ms)
{
    double s = sql_ms / 1000.0;

    w->m.renders++;
    w->m.tiles += ntiles;
    w->m.sql_seconds += s;
    if (z >= 0 && z <= TQ_TILE_MAX_ZOOM) {
        w->m.hist[z][tq_metrics_bucket_index(TQ_METRICS_LATENCY_BUCKETS,
                                             TQ_METRICS_LATENCY_NBUCKETS, s)]++;
        w->m.hist_sum[z] += s;
    }
    w->m.dirty = 1;
}

/* Sleeps ms (interrupted early by a signal). */
static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void redis_drop(struct worker *w, const char *why)
{
    char q[600];
    if (w->redis == NULL)
        return;
    tq_log_warn("redis_error", "error=%s", tq_log_quote(why, q, sizeof q));
    redisFree(w->redis);
    w->redis = NULL;
    w->next_schema = 0; /* publish again once reconnected */
    backoff_fail(&w->redis_bo);
}

static void pg_drop(struct worker *w, const char *why)
{
    char q[600];
    if (w->pg == NULL)
        return;
    tq_log_warn("pg_error", "error=%s", tq_log_quote(why, q, sizeof q));
    PQfinish(w->pg);
    w->pg = NULL;
    backoff_fail(&w->pg_bo);
}

static int redis_ok(const struct worker *w)
{
    return w->redis != NULL && w->redis->err == 0;
}

static int pg_ok(const struct worker *w)
{
    return w->pg != NULL && PQstatus(w->pg) == CONNECTION_OK;
}

/* Runs a command whose reply does not matter beyond success. 0, or -1 (Redis dropped). */
static int redis_simple(struct worker *w, const char *what, redisReply *r)
{
    char err[300];
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, sizeof err, "%s: %s", what, r ? r->str : w->redis->errstr);
        if (r)
            freeReplyObject(r);
        redis_drop(w, err);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

/* Connects to Redis (through the sentinels when configured: tq_redis.h) unless connected or
 * backing off; connected, asks the sentinels every second whether the master moved (drops
 * the connection when it did). 0 when connected. */
static int redis_ensure(struct worker *w)
{
    char err[512], q[600];
    struct tq_redis_addr addr;

    if (redis_ok(w) && (w->cfg->nredis_sentinels == 0 || tq_now_ms() < w->next_master_check))
        return 0;
    if (redis_ok(w)) {
        int moved = tq_redis_master_moved(&w->redis_target, &w->redis_addr, MASTER_CHECK_TIMEOUT_MS,
                                          err, sizeof err);
        w->next_master_check =
            tq_now_ms() + (moved < 0 ? MASTER_CHECK_QUIET_MS : MASTER_CHECK_EVERY_MS);
        if (moved <= 0)
            return 0;
        redis_drop(w, err);
        return -1;
    }
    if (w->redis) {
        redis_drop(w, w->redis->errstr);
        return -1;
    }
    if (tq_now_ms() < w->redis_bo.next_ms)
        return -1;
    w->redis = tq_redis_connect(&w->redis_target, REDIS_CONNECT_TIMEOUT_MS,
                                REDIS_COMMAND_TIMEOUT_MS, &addr, err, sizeof err);
    if (w->redis == NULL) {
        backoff_fail(&w->redis_bo);
        tq_log_warn("redis_error", "error=%s retry_ms=%d", tq_log_quote(err, q, sizeof q),
                    w->redis_bo.delay_ms);
        return -1;
    }
    backoff_ok(&w->redis_bo);
    w->next_register = 0;
    w->redis_addr = addr;
    w->next_master_check = tq_now_ms() + MASTER_CHECK_EVERY_MS;
    tq_log_info("redis_connected", "host=%s port=%d db=%d sentinel_master=%s", addr.host, addr.port,
                addr.db, w->cfg->redis_sentinel_master ? w->cfg->redis_sentinel_master : "-");
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

/* Connects to PostgreSQL and prepares every tileset unless connected or backing off.
 * 0 when connected. */
static int pg_ensure(struct worker *w)
{
    char q[600];
    if (pg_ok(w))
        return 0;
    if (w->pg) {
        pg_drop(w, PQerrorMessage(w->pg));
        return -1;
    }
    if (tq_now_ms() < w->pg_bo.next_ms)
        return -1;
    /* Later keywords win: the conninfo (expanded from dbname) overrides our defaults. */
    const char *keys[] = {"fallback_application_name", "connect_timeout", "dbname", NULL};
    const char *vals[] = {PROG, PG_CONNECT_TIMEOUT, w->cfg->pg_conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        char err[512];
        snprintf(err, sizeof err, "connect: %s", pg ? PQerrorMessage(pg) : "out of memory");
        size_t n = strlen(err);
        while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = '\0';
        if (pg)
            PQfinish(pg);
        backoff_fail(&w->pg_bo);
        tq_log_warn("pg_error", "error=%s retry_ms=%d", tq_log_quote(err, q, sizeof q),
                    w->pg_bo.delay_ms);
        return -1;
    }
    w->pg = pg;
    PQsetNoticeProcessor(pg, on_pg_notice, NULL);
    tq_render_reset(w->renderer);
    int failed = tq_render_prepare_all(w->renderer, pg);
    if (failed < 0) {
        pg_drop(w, PQerrorMessage(pg));
        return -1;
    }
    backoff_ok(&w->pg_bo);
    w->next_schema = 0; /* layers were described again: publish */
    tq_log_info("pg_connected", "server_version=%d tilesets=%zu prepare_failed=%d",
                PQserverVersion(pg), w->cfg->ntilesets, failed);
    return 0;
}

/* Leaves a clean session for the next statement (a failed flush may leave a transaction). */
static void pg_tidy(struct worker *w)
{
    if (w->pg == NULL)
        return;
    if (PQstatus(w->pg) != CONNECTION_OK) {
        pg_drop(w, PQerrorMessage(w->pg));
        return;
    }
    PGTransactionStatusType ts = PQtransactionStatus(w->pg);
    if (ts == PQTRANS_ACTIVE) {
        pg_drop(w, "connection busy after a cancelled query");
    } else if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PGresult *r = PQexec(w->pg, "ROLLBACK");
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            pg_drop(w, PQerrorMessage(w->pg));
    }
}

static void worker_register(struct worker *w)
{
    char value[256];
    if (!redis_ok(w))
        return;
    /* One value "host pid last_seen_ms" (hiredis splits the format on spaces, so it is
     * passed as one %s argument). */
    snprintf(value, sizeof value, "%s %ld %lld", w->host, (long)getpid(), (long long)tq_now_ms());
    redis_simple(w, "HSET workers",
                 redisCommand(w->redis, "HSET %s %s %s", TQ_QUEUE_WORKERS_KEY, w->id, value));
    w->next_register = tq_now_ms() + REGISTER_EVERY_MS;
}

/* Publishes the layer schema of every prepared tileset for the coordinators' TileJSON. */
static void worker_publish_schema(struct worker *w)
{
    int n = 0;
    w->next_schema = tq_now_ms() + SCHEMA_EVERY_MS;
    for (size_t i = 0; i < w->cfg->ntilesets && redis_ok(w); i++) {
        const char *name = w->cfg->tilesets[i].name;
        char *json = tq_render_schema_json(w->renderer, name);
        if (json == NULL)
            continue;
        redis_simple(w, "HSET schema",
                     redisCommand(w->redis, "HSET %s %s %s", TQ_SCHEMA_KEY, name, json));
        free(json);
        n++;
    }
    tq_log_debug("schema_published", "tilesets=%d", n);
}

/* Writes this worker's figures to Redis (one pipelined round trip): the hash with every
 * field, its TTL, its index entry, and drops index entries older than the TTL. */
static void worker_publish_metrics(struct worker *w)
{
    enum { MAXF = 2 * (8 + WFAIL_COUNT + TQ_TILE_MAX_ZOOM + 1) };
    char key[300], num[MAXF][TQ_METRICS_VALUE_MAX], fname[TQ_TILE_MAX_ZOOM + 1][16];
    char hist[TQ_TILE_MAX_ZOOM + 1][(TQ_METRICS_LATENCY_NBUCKETS + 3) * 21];
    char fail_field[WFAIL_COUNT][32], ttl[24], now_s[24], old_s[24];
    const char *argv[2 + MAXF];
    int argc = 0, nn = 0;
    int64_t now = tq_now_ms();

    w->m.last_publish = now;
    w->m.dirty = 0;
    snprintf(key, sizeof key, "%s%s", TQ_WMETRICS_KEY_PREFIX, w->id);
    argv[argc++] = "HSET";
    argv[argc++] = key;
#define PUT_NUM(name, v)                                                                           \
    do {                                                                                           \
        argv[argc++] = (name);                                                                     \
        tq_metrics_format_value((double)(v), num[nn]);                                             \
        argv[argc++] = num[nn++];                                                                  \
    } while (0)
    PUT_NUM("renders", w->m.renders);
    PUT_NUM("tiles", w->m.tiles);
    PUT_NUM("sql_seconds", w->m.sql_seconds);
    PUT_NUM("updated_ms", now);
    for (int k = 0; k < WFAIL_COUNT; k++) {
        snprintf(fail_field[k], sizeof fail_field[k], "fail_%s", wfail_names[k]);
        PUT_NUM(fail_field[k], w->m.fail[k]);
    }
#undef PUT_NUM
    for (int z = 0; z <= TQ_TILE_MAX_ZOOM; z++) {
        uint64_t total = 0;
        for (int b = 0; b <= TQ_METRICS_LATENCY_NBUCKETS; b++)
            total += w->m.hist[z][b];
        if (total == 0 || tq_wfigures_hist_encode(w->m.hist[z], TQ_METRICS_LATENCY_NBUCKETS + 1,
                                                  w->m.hist_sum[z], hist[z], sizeof hist[z]) != 0)
            continue;
        snprintf(fname[z], sizeof fname[z], "z%d", z);
        argv[argc++] = fname[z];
        argv[argc++] = hist[z];
    }
    snprintf(ttl, sizeof ttl, "%d", TQ_WMETRICS_TTL_MS);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(old_s, sizeof old_s, "(%lld", (long long)(now - TQ_WMETRICS_TTL_MS));
    redisAppendCommandArgv(w->redis, argc, argv, NULL);
    redisAppendCommand(w->redis, "PEXPIRE %s %s", key, ttl);
    redisAppendCommand(w->redis, "ZADD %s %s %s", TQ_WMETRICS_INDEX_KEY, now_s, w->id);
    redisAppendCommand(w->redis, "ZREMRANGEBYSCORE %s -inf %s", TQ_WMETRICS_INDEX_KEY, old_s);
    for (int i = 0; i < 4 && redis_ok(w); i++) {
        redisReply *r = NULL;
        if (redisGetReply(w->redis, (void **)&r) != REDIS_OK)
            r = NULL;
        redis_simple(w, "publish metrics", r);
    }
}

/* Registry, reaping and render-log flushing, each when due. */
static void worker_periodic(struct worker *w)
{
    char err[512], q[600];
    int64_t now = tq_now_ms();

    if (redis_ok(w) && now >= w->next_register)
        worker_register(w);
    if (redis_ok(w) && (now >= w->m.last_publish + METRICS_EVERY_MS ||
                        (w->m.dirty && now >= w->m.last_publish + METRICS_DIRTY_EVERY_MS)))
        worker_publish_metrics(w);
    if (redis_ok(w) && pg_ok(w) && now >= w->next_schema)
        worker_publish_schema(w);
    if (redis_ok(w) && now >= w->next_reap) {
        w->next_reap = now + REAP_EVERY_MS;
        int n = tq_queue_reap(w->redis, w->cfg->queue.max_attempts, REAP_LIMIT, err, sizeof err);
        if (n < 0)
            redis_drop(w, err);
        else if (n > 0)
            tq_log_warn("reaped", "jobs=%d", n);
    }
    if (redis_ok(w) && pg_ok(w) && now >= w->next_flush) {
        w->next_flush = now + FLUSH_EVERY_MS;
        /* The render connection may carry a tileset's short statement_timeout: the flush
         * runs under its own (no round trip while it is the same as the last render's). */
        int n = tq_render_set_timeout(w->renderer, w->pg, FLUSH_STATEMENT_TIMEOUT_MS, err,
                                      sizeof err) == TQ_RENDER_OK
                    ? tq_renderlog_flush(w->redis, w->pg, w->id, FLUSH_MAX_ENTRIES, err, sizeof err)
                    : -1;
        if (n < 0) {
            if (strcmp(err, w->flush_err) != 0)
                tq_log_warn("renderlog_flush_failed", "error=%s", tq_log_quote(err, q, sizeof q));
            snprintf(w->flush_err, sizeof w->flush_err, "%s", err);
            if (w->redis && w->redis->err)
                redis_drop(w, w->redis->errstr);
            pg_tidy(w);
        } else {
            if (w->flush_err[0])
                tq_log_info("renderlog_flush_ok", "rows=%d", n);
            w->flush_err[0] = '\0';
            if (n > 0)
                tq_log_debug("renderlog_flushed", "rows=%d", n);
        }
    }
}

/* Sleeps until the next reconnect attempt is due, at most 1 s. */
static void worker_idle(struct worker *w)
{
    int64_t now = tq_now_ms(), until = now + 1000;
    if (!redis_ok(w) && w->redis_bo.next_ms < until)
        until = w->redis_bo.next_ms;
    else if (redis_ok(w) && !pg_ok(w) && w->pg_bo.next_ms < until)
        until = w->pg_bo.next_ms;
    sleep_ms(until - now < 10 ? 10 : until - now);
}

/* The job in hand, for the render's tick callback and the fencing checks. */
struct job_ctx {
    struct worker *w;
    const char *id;
    long long token;   /* the claim's fencing token */
    int64_t budget_ms; /* lease cap: statement timeout x render statements + the lease */
    int64_t next_heartbeat;
    double safe_until; /* monotonic ms: until then a tile may be renamed into the cache */
    int lost;
};

/* One heartbeat under the job's token. 1 held (*remaining_ms: lease left on Redis's
 * clock), 0 lost, -1 Redis unavailable (the connection was dropped). */
static int job_heartbeat_now(struct job_ctx *j, int64_t *remaining_ms)
{
    struct worker *w = j->w;
    char err[512];
    int64_t now = tq_now_ms();
    if (redis_ensure(w) != 0)
        return -1;
    int rc = tq_queue_heartbeat(w->redis, j->id, j->token, w->lease_ms, j->budget_ms, remaining_ms,
                                err, sizeof err);
    if (rc < 0) {
        redis_drop(w, err);
        return -1;
    }
    j->next_heartbeat = now + w->lease_ms / 3;
    if (now >= w->next_register)
        worker_register(w);
    if (rc == 0)
        j->lost = 1;
    return rc;
}

/* Heartbeats the lease when due. Returns 1 when it is lost, 0 otherwise (Redis errors
 * only drop the connection: the ack will tell). */
static int job_heartbeat(struct job_ctx *j)
{
    if (tq_now_ms() < j->next_heartbeat)
        return 0;
    return job_heartbeat_now(j, NULL) == 0;
}

/* Fencing, before a tile is renamed into the cache: 0 when this worker still holds the
 * lease with at least LEASE_SAFETY (half the lease) left, -1 when it does not or cannot
 * tell (Redis away): then it must write nothing more. A heartbeat answers the lease left on
 * Redis's clock, r; for the next r - margin ms of this host's monotonic clock (counted from
 * before the heartbeat was sent) at least the margin is left, so the check costs no round
 * trip until then. The margin covers what may pass between this check and the rename (a
 * tile's write and fsync, a stall of this process). */
static int job_lease_guard(struct job_ctx *j)
{
    struct worker *w = j->w;
    int64_t remaining = 0, margin = w->lease_ms / LEASE_SAFETY_DIV;
    double sent = tq_mono_ms();
    char q[300];

    if (sent < j->safe_until)
        return 0;
    int rc = job_heartbeat_now(j, &remaining);
    if (rc < 0) { /* dropped: one reconnect now (no backoff wait), and ask again */
        w->redis_bo.next_ms = 0;
        rc = job_heartbeat_now(j, &remaining);
    }
    if (rc == 1 && remaining >= margin) {
        j->safe_until = sent + (double)(remaining - margin);
        return 0;
    }
    j->lost = 1;
    tq_log_warn("lease_lost",
                "job=%s token=%lld while=writing remaining_ms=%lld margin_ms=%lld "
                "reason=%s",
                j->id, j->token, (long long)remaining, (long long)margin,
                tq_log_quote(rc < 0    ? "redis unavailable"
                             : rc == 0 ? "lost"
                                       : "below margin",
                             q, sizeof q));
    metrics_fail(w, WFAIL_LOST);
    return -1;
}

static int on_tick(void *arg)
{
    return job_heartbeat(arg);
}

/* Acks the job, retrying through Redis outages (gives up only when stopping). The render
 * log entries, when given, are appended first. Fills result ("ok", "retry", "stale"...). */
static void job_ack(struct worker *w, const char *id, long long token, enum tq_ack_outcome outcome,
                    const char *error, const struct tq_render_entry *entries, size_t nentries,
                    char *result, size_t resultsize)
{
    char err[512], q[600];
    int appended = entries == NULL, tries = 0;
    snprintf(result, resultsize, "unacked");
    for (;;) {
        if (redis_ensure(w) == 0) {
            if (!appended) {
                if (tq_renderlog_append(w->redis, entries, nentries, err, sizeof err) == 0) {
                    appended = 1;
                } else if (!redis_ok(w)) {
                    redis_drop(w, err);
                    goto again;
                } else {
                    /* A reply error (not a lost connection): log it, the ack matters more. */
                    tq_log_error("renderlog_append_failed", "job=%s error=%s", id,
                                 tq_log_quote(err, q, sizeof q));
                    appended = 1;
                }
            }
            if (tq_queue_ack(w->redis, id, token, outcome, error, w->cfg->queue.max_attempts,
                             result, resultsize, err, sizeof err) == 0)
                return;
            redis_drop(w, err);
        }
    again:
        tries++;
        if (g_stop && tries >= ACK_TRIES_WHEN_STOPPING) {
            tq_log_error("ack_abandoned", "job=%s reason=%s", id,
                         tq_log_quote("redis unavailable while stopping; the lease will expire", q,
                                      sizeof q));
            return;
        }
        worker_idle(w);
    }
}

static void job_dead(struct worker *w, const struct tq_claimed *c, const char *why)
{
    char result[32], q[600];
    tq_log_error("job_dead", "job=%s attempt=%d error=%s", c->id, c->attempt,
                 tq_log_quote(why, q, sizeof q));
    metrics_fail(w, WFAIL_INVALID);
    job_ack(w, c->id, c->token, TQ_ACK_DEAD, why, NULL, 0, result, sizeof result);
}

static void job_fail(struct worker *w, const struct tq_claimed *c, const char *why)
{
    char result[32], q[600];
    job_ack(w, c->id, c->token, TQ_ACK_FAIL, why, NULL, 0, result, sizeof result);
    tq_log_error("job_failed", "job=%s attempt=%d ack=%s error=%s", c->id, c->attempt, result,
                 tq_log_quote(why, q, sizeof q));
}

/* The fence of each tile's rename (tq_cache_write_fenced): the lease guard, then the time
 * of the rename that follows (a lower bound of it, on this host's clock). */
struct write_fence {
    struct job_ctx *j;
    int64_t renamed_ms;
};

static int write_fence_check(void *arg)
{
    struct write_fence *f = arg;
    if (job_lease_guard(f->j) != 0)
        return 1;
    f->renamed_ms = tq_now_ms();
    return 0;
}

/* Writes a batch of the job's tiles into the cache, each renamed only after the fencing
 * check (job_lease_guard, right before the rename), and logs how many were renamed into it
 * (tiles_written, with the claim's token). Returns 0 when all were written, 1 when the lease was
 * lost (the rest is not written; the job is dropped, not acked), -1 when a write failed (acked
 * fail). */
static int job_write_tiles(struct worker *w, const struct tq_claimed *c, struct job_ctx *j,
                           const struct tq_job *job, const struct tq_rendered_tile *tiles,
                           uint32_t n)
{
    char err[512], msg[600];
    struct write_fence fence = {.j = j};
    uint32_t written = 0;
    int rc = 0;

    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const struct tq_rendered_tile *t = &tiles[i];
        int wr = tq_cache_write_fenced(w->cfg->cache_dir, job->tileset, t->tile, t->data, t->len,
                                       write_fence_check, &fence, err, sizeof err);
        if (wr == 1) {
            rc = 1; /* lease lost: job_lease_guard logged it */
        } else if (wr != 0) {
            snprintf(msg, sizeof msg, "cache write %d/%u/%u: %s", t->tile.z, t->tile.x, t->tile.y,
                     err);
            rc = -1;
        } else {
            written++;
        }
    }
    /* Durable before announced: the directories that received the batch, once each. */
    if (rc == 0 && written > 0 &&
        (n == 1
             ? tq_cache_sync_tile(w->cfg->cache_dir, job->tileset, tiles[0].tile, err, sizeof err)
             : tq_cache_sync_metatile(w->cfg->cache_dir, job->tileset, &job->meta, err,
                                      sizeof err)) != 0) {
        snprintf(msg, sizeof msg, "cache sync: %s", err);
        rc = -1;
    }
    /* renamed_ms: the last rename happened at or after it; done_ms: every rename of the batch
     * happened before it. Together they order batches of different workers (the fault test's
     * stale-write check) even when a process is stopped between a rename and this line. */
    if (written > 0)
        tq_log_info("tiles_written", "job=%s token=%lld tiles=%u renamed_ms=%lld done_ms=%lld",
                    c->id, c->token, written, (long long)fence.renamed_ms, (long long)tq_now_ms());
    if (rc < 0) {
        metrics_fail(w, WFAIL_WRITE);
        job_fail(w, c, msg);
    }
    return rc;
}

/* Writes the tiles, logs them and acks. first (NULL: none) is the job's first tile,
 * already written and announced: its figures go into the job_done line, and its render-log
 * entry goes with the others when first_unlogged. */
static void job_finish(struct worker *w, const struct tq_claimed *c, struct job_ctx *j,
                       const struct tq_job *job, const struct tq_render_result *res,
                       const struct tq_render_result *first, int first_unlogged)
{
    uint32_t nentries = res->ntiles + (first && first_unlogged ? 1 : 0);
    char result[32];
    struct tq_render_entry *entries = NULL;

    double t0 = tq_mono_ms();
    if (job_write_tiles(w, c, j, job, res->tiles, res->ntiles) != 0)
        goto cleanup;
    double write_ms = tq_mono_ms() - t0;

    entries = calloc(nentries, sizeof *entries);
    if (entries == NULL) {
        tq_log_error("renderlog_append_failed", "job=%s error=out_of_memory", c->id);
    } else {
        for (uint32_t i = 0; i < res->ntiles; i++) {
            entries[i] = (struct tq_render_entry){
                .tileset = job->tileset,
                .tile = res->tiles[i].tile,
                .job_id = c->id,
                .attempt = c->attempt,
                .reason = c->attempt > 1 ? TQ_REASON_RETRY : job->reason,
                .worker = w->id,
                .started_ms = res->started_ms,
                .duration_ms = res->sql_ms / res->ntiles,
                .metatile_ms = res->sql_ms,
                .bytes = res->tiles[i].len,
            };
        }
        if (nentries > res->ntiles)
            entries[res->ntiles] = (struct tq_render_entry){
                .tileset = job->tileset,
                .tile = first->tiles[0].tile,
                .job_id = c->id,
                .attempt = c->attempt,
                .reason = c->attempt > 1 ? TQ_REASON_RETRY : job->reason,
                .worker = w->id,
                .started_ms = first->started_ms,
                .duration_ms = first->sql_ms,
                .metatile_ms = first->sql_ms,
                .bytes = first->tiles[0].len,
            };
    }
    job_ack(w, c->id, c->token, TQ_ACK_OK, NULL, entries, entries ? nentries : 0, result,
            sizeof result);
    if (first)
        tq_log_info("job_done",
                    "job=%s attempt=%d tiles=%u bytes=%zu sql_ms=%.1f write_ms=%.1f ack=%s "
                    "first_sql_ms=%.1f rest_sql_ms=%.1f",
                    c->id, c->attempt, res->ntiles + first->ntiles,
                    res->total_bytes + first->total_bytes, res->sql_ms + first->sql_ms, write_ms,
                    result, first->sql_ms, res->sql_ms);
    else
        tq_log_info("job_done",
                    "job=%s attempt=%d tiles=%u bytes=%zu sql_ms=%.1f write_ms=%.1f ack=%s", c->id,
                    c->attempt, res->ntiles, res->total_bytes, res->sql_ms, write_ms, result);
cleanup:
    free(entries);
}

/* The job's first tile (one tile in res) is rendered: writes it (under the fencing check),
 * appends its render-log entry and announces it with a "partial" event (a script that
 * checks the token). Returns 0, 1 when the render-log entry could not be appended (Redis
 * away: job_finish appends it with the others), or -1 when the job was dealt with here (the
 * write failed: acked fail; the lease was lost: dropped). A lost or refused event is logged
 * only: the waiters get the tile with the "ok" event then. */
static int job_first_tile(struct worker *w, const struct tq_claimed *c, struct job_ctx *j,
                          const struct tq_job *job, const struct tq_render_result *res)
{
    char err[512], q[600];
    const struct tq_rendered_tile *t = &res->tiles[0];

    if (job_write_tiles(w, c, j, job, t, 1) != 0)
        return -1;
    if (redis_ensure(w) != 0) {
        tq_log_warn("partial_not_sent", "job=%s error=redis_unavailable", c->id);
        return 1;
    }
    struct tq_render_entry e = {
        .tileset = job->tileset,
        .tile = t->tile,
        .job_id = c->id,
        .attempt = c->attempt,
        .reason = c->attempt > 1 ? TQ_REASON_RETRY : job->reason,
        .worker = w->id,
        .started_ms = res->started_ms,
        .duration_ms = res->sql_ms,
        .metatile_ms = res->sql_ms,
        .bytes = t->len,
    };
    if (tq_renderlog_append(w->redis, &e, 1, err, sizeof err) != 0) {
        tq_log_error("renderlog_append_failed", "job=%s error=%s", c->id,
                     tq_log_quote(err, q, sizeof q));
        if (!redis_ok(w)) {
            redis_drop(w, err);
            return 1;
        }
    }
    tq_log_info("job_partial", "job=%s tile=%d/%u/%u bytes=%zu sql_ms=%.1f", c->id, t->tile.z,
                t->tile.x, t->tile.y, t->len, res->sql_ms);
    int sent = tq_queue_partial(w->redis, c->id, c->token, err, sizeof err);
    if (sent < 0) {
        tq_log_warn("partial_not_sent", "job=%s error=%s", c->id, tq_log_quote(err, q, sizeof q));
        if (!redis_ok(w))
            redis_drop(w, err);
    } else if (sent == 0) {
        tq_log_warn("partial_not_sent", "job=%s token=%lld error=stale_token", c->id, c->token);
    }
    return 0;
}

/* Which part of a job job_render renders. */
enum job_part { PART_ALL, PART_FIRST, PART_REST };

/* Renders one part of a job, reconnecting to PostgreSQL while the lease holds. Returns 1
 * when the job was already dealt with (acked fail while stopping, or its lease lost while
 * waiting for PostgreSQL), 0 otherwise with *st set (TQ_RENDER_OK: res is filled). */
static int job_render_part(struct worker *w, const struct tq_claimed *c, struct job_ctx *j,
                           const char *tileset, const struct tq_metatile *m, struct tq_tile first,
                           enum job_part part, enum tq_render_status *st,
                           struct tq_render_result *res, char *err, size_t errsize)
{
    int tick_ms = w->lease_ms / 3 < 1000 ? w->lease_ms / 3 : 1000;
    int conn_errors = 0;

    if (tick_ms < 10)
        tick_ms = 10;
    for (;;) {
        /* PostgreSQL away: keep the lease while reconnecting (unless asked to stop). */
        while (pg_ensure(w) != 0) {
            if (g_stop) {
                metrics_fail(w, WFAIL_SQL);
                job_fail(w, c, "postgresql unavailable and the worker is stopping");
                return 1;
            }
            if (job_heartbeat(j)) {
                tq_log_warn("lease_lost", "job=%s token=%lld while=waiting_for_postgresql", c->id,
                            c->token);
                metrics_fail(w, WFAIL_LOST);
                return 1;
            }
            worker_idle(w);
        }
        if (part == PART_FIRST)
            *st = tq_render_tile(w->renderer, w->pg, tileset, first, tick_ms, on_tick, j, res, err,
                                 errsize);
        else if (part == PART_REST)
            *st = tq_render_metatile_except(w->renderer, w->pg, tileset, m, first, tick_ms, on_tick,
                                            j, res, err, errsize);
        else
            *st = tq_render_metatile(w->renderer, w->pg, tileset, m, tick_ms, on_tick, j, res, err,
                                     errsize);
        if (*st == TQ_RENDER_CONN_ERROR || (*st != TQ_RENDER_OK && !pg_ok(w))) {
            pg_drop(w, err);
            if (j->lost)
                break;
            /* A query that takes the server down with it (a crashing backend) must not
             * be retried forever under one lease: after a few, it fails like an SQL
             * error and the attempts run out. */
            if (++conn_errors < MAX_CONN_ERRORS_PER_JOB)
                continue;
            *st = TQ_RENDER_SQL_ERROR;
        }
        break;
    }
    pg_tidy(w);
    return 0;
}

/* Renders one part of a job, reconnecting to PostgreSQL while the lease holds. Returns 0
 * when res is filled, or 1 when the job was dealt with here: acked fail (an SQL error, or
 * PostgreSQL away while stopping) or dropped (its lease lost). */
static int job_render(struct worker *w, const struct tq_claimed *c, struct job_ctx *j,
                      const char *tileset, const struct tq_metatile *m, struct tq_tile first,
                      enum job_part part, struct tq_render_result *res, char *err, size_t errsize)
{
    enum tq_render_status st;
    if (job_render_part(w, c, j, tileset, m, first, part, &st, res, err, errsize))
        return 1;
    if (j->lost || st == TQ_RENDER_CANCELLED) {
        tq_log_warn("lease_lost", "job=%s token=%lld while=rendering result=dropped", c->id,
                    c->token);
        metrics_fail(w, WFAIL_LOST);
        return 1;
    }
    if (st != TQ_RENDER_OK) {
        metrics_fail(w, WFAIL_SQL);
        job_fail(w, c, err);
        return 1;
    }
    return 0;
}

/* Renders a claimed job from start to ack. */
static void process_job(struct worker *w, const struct tq_claimed *c)
{
    char err[1024], msg[1200], idbuf[TQ_JOB_ID_MAX];
    struct tq_job job;
    struct tq_render_result res = {0}, res1 = {0}; /* res1: the first tile, rendered alone */

    if (tq_job_decode(c->payload ? c->payload : "", c->payload_len, &job, err, sizeof err) != 0) {
        snprintf(msg, sizeof msg, "bad payload: %s", err);
        job_dead(w, c, msg);
        return;
    }
    const struct tq_tileset_config *ts = tq_config_tileset(w->cfg, job.tileset);
    if (ts == NULL) {
        snprintf(msg, sizeof msg, "unknown tileset %s", job.tileset);
        job_dead(w, c, msg);
        return;
    }
    if (job.meta.z < ts->minzoom || job.meta.z > ts->maxzoom) {
        snprintf(msg, sizeof msg, "zoom %d outside %s's range %d..%d", job.meta.z, ts->name,
                 ts->minzoom, ts->maxzoom);
        job_dead(w, c, msg);
        return;
    }
    struct tq_tile top = {job.meta.z, job.meta.mx, job.meta.my};
    struct tq_metatile m = tq_tile_metatile(top, job.size ? job.size : ts->metatile);
    tq_job_id(&job, idbuf, sizeof idbuf);
    if (strcmp(idbuf, c->id) != 0 || m.mx != job.meta.mx || m.my != job.meta.my) {
        snprintf(msg, sizeof msg, "payload names metatile %s (size %u), not the job id", idbuf,
                 job.size);
        job_dead(w, c, msg);
        return;
    }
    tq_log_info("job_claimed", "job=%s attempt=%d class=%s reason=%s tiles=%u token=%lld", c->id,
                c->attempt, tq_job_class_name(c->cls), tq_job_reason_name(job.reason),
                tq_metatile_count(&m), c->token);

    struct tq_tile first = {m.z, job.first_x, job.first_y};
    int split = c->cls == TQ_CLASS_INTERACTIVE && job.has_first && tq_metatile_count(&m) > 1 &&
                tq_metatile_contains(&m, first);
    int first_unlogged = 0;
    /* The lease cap: every render statement of the job may take the tileset's timeout, plus
     * one lease for the rest (connecting, writing, acking). */
    struct job_ctx j = {.w = w,
                        .id = c->id,
                        .token = c->token,
                        .budget_ms =
                            (int64_t)ts->statement_timeout_ms * (split ? 2 : 1) + w->lease_ms,
                        .next_heartbeat = tq_now_ms() + w->lease_ms / 3};

    if (split) {
        if (job_render(w, c, &j, ts->name, &m, first, PART_FIRST, &res1, err, sizeof err))
            goto cleanup;
        first_unlogged = job_first_tile(w, c, &j, &job, &res1);
        if (first_unlogged < 0)
            goto cleanup;
    }
    if (job_render(w, c, &j, ts->name, &m, first, split ? PART_REST : PART_ALL, &res, err,
                   sizeof err))
        goto cleanup;
    metrics_render(w, m.z, res.ntiles + res1.ntiles, res.sql_ms + res1.sql_ms);
    job_finish(w, c, &j, &job, &res, split ? &res1 : NULL, first_unlogged);
cleanup:
    tq_render_result_clear(&res1);
    tq_render_result_clear(&res);
}

/* Waits up to WAKE_TIMEOUT_S for a wake token. */
static void worker_wait_wake(struct worker *w)
{
    redisReply *r = redisCommand(w->redis, "BLPOP %s %d", TQ_QUEUE_WAKE_KEY, WAKE_TIMEOUT_S);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        char err[300];
        snprintf(err, sizeof err, "BLPOP: %s", r ? r->str : w->redis->errstr);
        redis_drop(w, err);
    }
    if (r)
        freeReplyObject(r);
}

static void worker_run(struct worker *w)
{
    char err[512];
    while (!g_stop) {
        if (redis_ensure(w) != 0) {
            worker_idle(w);
            continue;
        }
        worker_periodic(w);
        if (pg_ensure(w) != 0) {
            worker_idle(w);
            continue;
        }
        if (!redis_ok(w) || g_stop)
            continue;
        struct tq_claimed c;
        int rc = tq_queue_claim(w->redis, w->id, w->lease_ms, w->cfg->queue.running_cap,
                                w->cfg->queue.fair_every, &c, err, sizeof err);
        if (rc < 0) {
            redis_drop(w, err);
        } else if (rc == 0) {
            worker_wait_wake(w);
        } else {
            process_job(w, &c);
        }
        tq_claimed_clear(&c);
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " -c FILE\n"
               "Renders tileq jobs from Redis until SIGTERM/SIGINT.\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    char err[1024];
    int rc = 1;
    struct worker w;

    memset(&w, 0, sizeof w);
    w.cfg = tq_main_load_config(argc, argv, PROG, usage, &path, &rc);
    if (w.cfg == NULL)
        return rc;
    rc = 1;
    w.redis_target = tq_config_redis_target(w.cfg);
    tq_cache_set_fsync(w.cfg->cache_fsync);

    if (gethostname(w.host, sizeof w.host) != 0)
        snprintf(w.host, sizeof w.host, "unknown");
    w.host[sizeof w.host - 1] = '\0';
    if (w.cfg->worker_id && w.cfg->worker_id[0])
        snprintf(w.id, sizeof w.id, "%s", w.cfg->worker_id);
    else
        snprintf(w.id, sizeof w.id, "%s:%ld", w.host, (long)getpid());
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: sleeps and polls return early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (tq_discover_at_start(w.cfg, PROG, &g_stop, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto cleanup;
    }
    w.lease_ms = w.cfg->queue.lease_seconds * 1000;
    w.renderer = tq_render_new(w.cfg);
    if (w.renderer == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        goto cleanup;
    }

    char q[300];
    tq_log_info("worker_start", "worker=%s tilesets=%zu lease_ms=%d cache_dir=%s",
                tq_log_quote(w.id, q, sizeof q), w.cfg->ntilesets, w.lease_ms, w.cfg->cache_dir);
    worker_run(&w);

    if (redis_ok(&w) && pg_ok(&w)) {
        /* Move this worker's last render-log entries now rather than leaving them to
         * another worker's next flush. */
        w.next_flush = 0;
        worker_periodic(&w);
    }
    if (redis_ok(&w))
        worker_publish_metrics(&w); /* the last figures, kept for the TTL */
    if (redis_ok(&w)) {
        redisReply *r = redisCommand(w.redis, "HDEL %s %s", TQ_QUEUE_WORKERS_KEY, w.id);
        if (r)
            freeReplyObject(r);
    }
    tq_log_info("worker_stop", "worker=%s", tq_log_quote(w.id, q, sizeof q));
    rc = 0;
cleanup:
    if (w.redis)
        redisFree(w.redis);
    if (w.pg)
        PQfinish(w.pg);
    tq_render_free(w.renderer);
    tq_config_free(w.cfg);
    return rc;
}

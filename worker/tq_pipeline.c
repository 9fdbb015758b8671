/* tq_pipeline — see tq_pipeline.h. */
#include "tq_pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "tq_cache.h"
#include "tq_jobplan.h"
#include "tq_lease.h"
#include "tq_log.h"
#include "tq_queue.h"
#include "tq_render.h"
#include "tq_renderlog.h"
#include "tq_time.h"
#include "tq_worker.h"

#define WAKE_TIMEOUT_S 1
#define ACK_TRIES_WHEN_STOPPING 3
#define MAX_CONN_ERRORS_PER_JOB 3

/* Acks the job, retrying through Redis outages (gives up only when stopping). The render
 * log entries, when given, are appended first. Fills result ("ok", "retry", "stale"...). */
static void job_ack(struct tq_worker *w, const char *id, long long token,
                    enum tq_ack_outcome outcome, const char *error,
                    const struct tq_renderlog_entry *entries, size_t nentries, char *result,
                    size_t resultsize)
{
    char err[512], q[600];
    int appended = entries == NULL, tries = 0;
    snprintf(result, resultsize, "unacked");
    for (;;) {
        if (tq_wconn_redis_ensure(w->conn) == 0) {
            redisContext *redis = tq_wconn_redis(w->conn);
            if (!appended) {
                if (tq_renderlog_append(redis, entries, nentries, err, sizeof err) == 0) {
                    appended = 1;
                } else if (!tq_wconn_redis_ok(w->conn)) {
                    tq_wconn_redis_drop(w->conn, err);
                    goto again;
                } else {
                    /* A reply error (not a lost connection): log it, the ack matters more. */
                    tq_log_error("renderlog_append_failed", "job=%s error=%s", id,
                                 tq_log_quote(err, q, sizeof q));
                    appended = 1;
                }
            }
            if (tq_queue_ack(redis, id, token, outcome, error, w->cfg->queue.max_attempts, result,
                             resultsize, err, sizeof err) == 0)
                return;
            tq_wconn_redis_drop(w->conn, err);
        }
    again:
        tries++;
        if (*w->stop && tries >= ACK_TRIES_WHEN_STOPPING) {
            tq_log_error("ack_abandoned", "job=%s reason=%s", id,
                         tq_log_quote("redis unavailable while stopping; the lease will expire", q,
                                      sizeof q));
            return;
        }
        tq_wconn_idle(w->conn);
    }
}

static void job_dead(struct tq_worker *w, const struct tq_claimed *c, const char *why)
{
    char result[32], q[600];
    tq_log_error("job_dead", "job=%s attempt=%d error=%s", c->id, c->attempt,
                 tq_log_quote(why, q, sizeof q));
    tq_wstats_fail(&w->stats, TQ_WFAIL_INVALID);
    job_ack(w, c->id, c->token, TQ_ACK_DEAD, why, NULL, 0, result, sizeof result);
}

static void job_fail(struct tq_worker *w, const struct tq_claimed *c, const char *why)
{
    char result[32], q[600];
    job_ack(w, c->id, c->token, TQ_ACK_FAIL, why, NULL, 0, result, sizeof result);
    tq_log_error("job_failed", "job=%s attempt=%d ack=%s error=%s", c->id, c->attempt, result,
                 tq_log_quote(why, q, sizeof q));
}

/* The fence of each tile's rename (tq_cache_write_fenced): the lease guard, then the time
 * of the rename that follows (a lower bound of it, on this host's clock). */
struct write_fence {
    struct tq_lease *lease;
    int64_t renamed_ms;
};

static int write_fence_check(void *arg)
{
    struct write_fence *f = arg;
    if (tq_lease_guard(f->lease) != 0)
        return 1;
    f->renamed_ms = tq_now_ms();
    return 0;
}

/* Writes a batch of the job's tiles into the cache, each fsynced and renamed only after the
 * fencing check (tq_lease_guard, right before the rename), and logs how many were renamed
 * into it (tiles_written, with the claim's token). The directories' fsync is job_sync_dirs's,
 * before the ack. Returns 0 when all were written, 1 when the lease was lost (the rest is not
 * written; the job is dropped, not acked), -1 when a write failed (acked fail). */
static int job_write_tiles(struct tq_worker *w, const struct tq_claimed *c, struct tq_lease *lease,
                           const struct tq_job *job, const struct tq_rendered_tile *tiles,
                           uint32_t n)
{
    char err[512], msg[600];
    struct write_fence fence = {.lease = lease};
    uint32_t written = 0;
    int rc = 0;

    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const struct tq_rendered_tile *t = &tiles[i];
        int wr = tq_cache_write_fenced(w->cfg->cache_dir, job->tileset, t->tile, t->data, t->len,
                                       write_fence_check, &fence, err, sizeof err);
        if (wr == 1) {
            rc = 1; /* lease lost: tq_lease_guard logged it */
        } else if (wr != 0) {
            snprintf(msg, sizeof msg, "cache write %d/%u/%u: %s", t->tile.z, t->tile.x, t->tile.y,
                     err);
            rc = -1;
        } else {
            written++;
        }
    }
    /* renamed_ms: the last rename happened at or after it; done_ms: every rename of the batch
     * happened before it. Together they order batches of different workers (the fault test's
     * stale-write check) even when a process is stopped between a rename and this line. */
    if (written > 0)
        tq_log_info("tiles_written", "job=%s token=%lld tiles=%u renamed_ms=%lld done_ms=%lld",
                    c->id, c->token, written, (long long)fence.renamed_ms, (long long)tq_now_ms());
    if (rc < 0) {
        tq_wstats_fail(&w->stats, TQ_WFAIL_WRITE);
        job_fail(w, c, msg);
    }
    return rc;
}

/* Durable before acked: fsyncs the directories that received the job's tiles, once each (the
 * metatile's columns, so the first tile's too; a one-tile metatile is its tile's column).
 * Each tile was fsynced before its rename (a name never points at data not on disk); what
 * this adds is the renames themselves. The waiters may have been answered before it (the
 * partial event): were the host to crash before it, a rename could be lost, but the job is
 * not acked yet, so it is claimed again and rendered again: a tile can go missing for a
 * while, never be wrong. Returns 0, or -1 (acked fail). */
static int job_sync_dirs(struct tq_worker *w, const struct tq_claimed *c, const struct tq_job *job)
{
    char err[512], msg[600];
    if (tq_cache_sync_metatile(w->cfg->cache_dir, job->tileset, &job->meta, err, sizeof err) != 0) {
        snprintf(msg, sizeof msg, "cache sync: %s", err);
        tq_wstats_fail(&w->stats, TQ_WFAIL_WRITE);
        job_fail(w, c, msg);
        return -1;
    }
    return 0;
}

/* Sends the partial event: the tiles renamed so far are in the cache, the waiters for those
 * are answered now. A lost or refused event is logged only: the waiters get the tile with the
 * "ok" event then. */
static void job_announce(struct tq_worker *w, const struct tq_claimed *c)
{
    char err[512], q[600];
    int sent = tq_queue_partial(tq_wconn_redis(w->conn), c->id, c->token, err, sizeof err);
    if (sent < 0) {
        tq_log_warn("partial_not_sent", "job=%s error=%s", c->id, tq_log_quote(err, q, sizeof q));
        if (!tq_wconn_redis_ok(w->conn))
            tq_wconn_redis_drop(w->conn, err);
    } else if (sent == 0) {
        tq_log_warn("partial_not_sent", "job=%s token=%lld error=stale_token", c->id, c->token);
    }
}

/* Writes the tiles, logs them and acks. first (NULL: none) is the job's first tile,
 * already written and announced: its figures go into the job_done line, and its render-log
 * entry goes with the others when first_unlogged. A one-tile job somebody waits for is
 * announced (partial event) right after its rename, before the directory's fsync: with
 * cache_fsync that fsync is a journal commit the requester need not wait for. */
static void job_finish(struct tq_worker *w, const struct tq_claimed *c, struct tq_lease *lease,
                       const struct tq_jobplan *p, const struct tq_render_result *res,
                       const struct tq_render_result *first, int first_unlogged)
{
    uint32_t nentries = res->ntiles + (first && first_unlogged ? 1 : 0);
    char result[32];
    struct tq_renderlog_entry *entries = NULL;

    double t0 = tq_mono_ms();
    if (job_write_tiles(w, c, lease, &p->job, res->tiles, res->ntiles) != 0)
        goto cleanup;
    double write_ms = tq_mono_ms() - t0;
    if (first == NULL && w->cfg->cache_fsync && c->cls == TQ_CLASS_INTERACTIVE &&
        res->ntiles == 1 && tq_wconn_redis_ensure(w->conn) == 0)
        job_announce(w, c);
    t0 = tq_mono_ms();
    if (job_sync_dirs(w, c, &p->job) != 0)
        goto cleanup;
    double sync_ms = tq_mono_ms() - t0;

    entries = calloc(nentries, sizeof *entries);
    if (entries == NULL) {
        tq_log_error("renderlog_append_failed", "job=%s error=out_of_memory", c->id);
    } else {
        tq_jobplan_log_entries(p, c, w->id, res, entries);
        if (nentries > res->ntiles)
            tq_jobplan_log_entries(p, c, w->id, first, entries + res->ntiles);
    }
    job_ack(w, c->id, c->token, TQ_ACK_OK, NULL, entries, entries ? nentries : 0, result,
            sizeof result);
    if (first)
        tq_log_info("job_done",
                    "job=%s attempt=%d tiles=%u bytes=%zu sql_ms=%.1f write_ms=%.1f sync_ms=%.1f "
                    "ack=%s first_sql_ms=%.1f rest_sql_ms=%.1f jit=%d",
                    c->id, c->attempt, res->ntiles + first->ntiles,
                    res->total_bytes + first->total_bytes, res->sql_ms + first->sql_ms, write_ms,
                    sync_ms, result, first->sql_ms, res->sql_ms, res->jit);
    else
        tq_log_info("job_done",
                    "job=%s attempt=%d tiles=%u bytes=%zu sql_ms=%.1f write_ms=%.1f sync_ms=%.1f "
                    "ack=%s jit=%d",
                    c->id, c->attempt, res->ntiles, res->total_bytes, res->sql_ms, write_ms,
                    sync_ms, result, res->jit);
cleanup:
    free(entries);
}

/* The job's first tile (one tile in res) is rendered: writes it (under the fencing check),
 * appends its render-log entry and announces it with a "partial" event (a script that
 * checks the token). Returns 0, 1 when the render-log entry could not be appended (Redis
 * away: job_finish appends it with the others), or -1 when the job was dealt with here (the
 * write failed: acked fail; the lease was lost: dropped). A lost or refused event is logged
 * only: the waiters get the tile with the "ok" event then. */
static int job_first_tile(struct tq_worker *w, const struct tq_claimed *c, struct tq_lease *lease,
                          const struct tq_jobplan *p, const struct tq_render_result *res)
{
    char err[512], q[600];
    const struct tq_rendered_tile *t = &res->tiles[0];
    struct tq_renderlog_entry e;

    double t0 = tq_mono_ms();
    if (job_write_tiles(w, c, lease, &p->job, t, 1) != 0)
        return -1;
    double write_ms = tq_mono_ms() - t0;
    if (tq_wconn_redis_ensure(w->conn) != 0) {
        tq_log_warn("partial_not_sent", "job=%s error=redis_unavailable", c->id);
        return 1;
    }
    tq_jobplan_log_entries(p, c, w->id, res, &e);
    if (tq_renderlog_append(tq_wconn_redis(w->conn), &e, 1, err, sizeof err) != 0) {
        tq_log_error("renderlog_append_failed", "job=%s error=%s", c->id,
                     tq_log_quote(err, q, sizeof q));
        if (!tq_wconn_redis_ok(w->conn)) {
            tq_wconn_redis_drop(w->conn, err);
            return 1;
        }
    }
    tq_log_info("job_partial", "job=%s tile=%d/%u/%u bytes=%zu sql_ms=%.1f write_ms=%.1f jit=%d",
                c->id, t->tile.z, t->tile.x, t->tile.y, t->len, res->sql_ms, write_ms, res->jit);
    job_announce(w, c);
    return 0;
}

/* Which part of a job job_render renders. */
enum job_part { PART_ALL, PART_FIRST, PART_REST };

/* Renders one part of a job, reconnecting to PostgreSQL while the lease holds. Returns 1
 * when the job was already dealt with (acked fail while stopping, or its lease lost while
 * waiting for PostgreSQL), 0 otherwise with *st set (TQ_RENDER_OK: res is filled). */
static int job_render_part(struct tq_worker *w, const struct tq_claimed *c, struct tq_lease *lease,
                           const struct tq_jobplan *p, enum job_part part,
                           enum tq_render_status *st, struct tq_render_result *res, char *err,
                           size_t errsize)
{
    int tick_ms = tq_lease_tick_ms(w->lease_ms);
    int conn_errors = 0;
    const char *tileset = p->ts->name;

    for (;;) {
        /* PostgreSQL away: keep the lease while reconnecting (unless asked to stop). */
        while (tq_wconn_pg_ensure(w->conn) != 0) {
            if (*w->stop) {
                tq_wstats_fail(&w->stats, TQ_WFAIL_SQL);
                job_fail(w, c, "postgresql unavailable and the worker is stopping");
                return 1;
            }
            if (tq_lease_keep(lease)) {
                tq_log_warn("lease_lost", "job=%s token=%lld while=waiting_for_postgresql", c->id,
                            c->token);
                tq_wstats_fail(&w->stats, TQ_WFAIL_LOST);
                return 1;
            }
            tq_wconn_idle(w->conn);
        }
        PGconn *pg = tq_wconn_pg(w->conn);
        if (part == PART_FIRST)
            *st = tq_render_tile(w->renderer, pg, tileset, p->first, tick_ms, tq_lease_tick, lease,
                                 res, err, errsize);
        else if (part == PART_REST)
            *st = tq_render_metatile_except(w->renderer, pg, tileset, &p->m, p->first, tick_ms,
                                            tq_lease_tick, lease, res, err, errsize);
        else
            *st = tq_render_metatile(w->renderer, pg, tileset, &p->m, tick_ms, tq_lease_tick, lease,
                                     res, err, errsize);
        if (*st == TQ_RENDER_CONN_ERROR || (*st != TQ_RENDER_OK && !tq_wconn_pg_ok(w->conn))) {
            tq_wconn_pg_drop(w->conn, err);
            if (lease->lost)
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
    tq_wconn_pg_tidy(w->conn);
    return 0;
}

/* Renders one part of a job, reconnecting to PostgreSQL while the lease holds. Returns 0
 * when res is filled, or 1 when the job was dealt with here: acked fail (an SQL error, or
 * PostgreSQL away while stopping) or dropped (its lease lost). */
static int job_render(struct tq_worker *w, const struct tq_claimed *c, struct tq_lease *lease,
                      const struct tq_jobplan *p, enum job_part part, struct tq_render_result *res,
                      char *err, size_t errsize)
{
    enum tq_render_status st;
    if (job_render_part(w, c, lease, p, part, &st, res, err, errsize))
        return 1;
    if (lease->lost || st == TQ_RENDER_CANCELLED) {
        tq_log_warn("lease_lost", "job=%s token=%lld while=rendering result=dropped", c->id,
                    c->token);
        tq_wstats_fail(&w->stats, TQ_WFAIL_LOST);
        return 1;
    }
    if (st != TQ_RENDER_OK) {
        tq_wstats_fail(&w->stats, TQ_WFAIL_SQL);
        job_fail(w, c, err);
        return 1;
    }
    return 0;
}

/* Renders a claimed job from start to ack. */
static void job_process(struct tq_worker *w, const struct tq_claimed *c)
{
    char err[1024], why[1200];
    struct tq_jobplan p;
    struct tq_lease lease;
    struct tq_render_result res = {0}, res1 = {0}; /* res1: the first tile, rendered alone */
    int first_unlogged = 0;

    if (tq_jobplan_make(&p, w->cfg, c, w->lease_ms, why, sizeof why) != 0) {
        job_dead(w, c, why);
        return;
    }
    /* queued_ms: from the job's creation (the coordinator's or CLI's clock) to this claim. */
    tq_log_info("job_claimed",
                "job=%s attempt=%d class=%s reason=%s tiles=%u token=%lld queued_ms=%lld", c->id,
                c->attempt, tq_job_class_name(c->cls), tq_job_reason_name(p.job.reason),
                tq_metatile_count(&p.m), c->token, (long long)(tq_now_ms() - p.job.enqueued_ms));
    tq_lease_start(&lease, w, c, p.budget_ms);
    if (p.split) {
        if (job_render(w, c, &lease, &p, PART_FIRST, &res1, err, sizeof err))
            goto cleanup;
        first_unlogged = job_first_tile(w, c, &lease, &p, &res1);
        if (first_unlogged < 0)
            goto cleanup;
    }
    if (job_render(w, c, &lease, &p, p.split ? PART_REST : PART_ALL, &res, err, sizeof err))
        goto cleanup;
    tq_wstats_render(&w->stats, p.m.z, res.ntiles + res1.ntiles, res.sql_ms + res1.sql_ms);
    job_finish(w, c, &lease, &p, &res, p.split ? &res1 : NULL, first_unlogged);
cleanup:
    tq_render_result_clear(&res1);
    tq_render_result_clear(&res);
}

/* Waits up to WAKE_TIMEOUT_S for a wake token. */
static void wait_wake(struct tq_worker *w)
{
    redisContext *redis = tq_wconn_redis(w->conn);
    redisReply *r = redisCommand(redis, "BLPOP %s %d", TQ_QUEUE_WAKE_KEY, WAKE_TIMEOUT_S);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        char err[300];
        snprintf(err, sizeof err, "BLPOP: %s", r ? r->str : redis->errstr);
        tq_wconn_redis_drop(w->conn, err);
    }
    if (r)
        freeReplyObject(r);
}

void tq_pipeline_step(struct tq_worker *w)
{
    char err[512];
    struct tq_claimed c;

    int rc = tq_queue_claim(tq_wconn_redis(w->conn), w->id, w->lease_ms, w->cfg->queue.running_cap,
                            w->cfg->queue.fair_every, &c, err, sizeof err);
    if (rc < 0)
        tq_wconn_redis_drop(w->conn, err);
    else if (rc == 0)
        wait_wake(w);
    else
        job_process(w, &c);
    tq_claimed_clear(&c);
}

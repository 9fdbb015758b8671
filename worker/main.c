/* tileq-worker — claims render jobs from Redis, renders each metatile with one PostgreSQL
 * round trip (tq_render), writes the tiles into the shared cache, logs every tile and acks.
 *
 *   tileq-worker -c FILE
 *
 * Runs until SIGTERM/SIGINT: the job in hand is finished (rendered, written, acked), then
 * the worker leaves the registry and exits 0. Redis or PostgreSQL going away is never
 * fatal: the worker logs, reconnects with exponential backoff and goes on (tq_wconn).
 *
 * With no tileset in the config, the tilesets are discovered from geometry_columns at start
 * (tq_discover.h; blocking, retried while PostgreSQL is down).
 *
 * Main loop (one thread, blocking calls with timeouts):
 *   Redis, then the periodic duties when due (tq_upkeep: registry, figures, schema, reaping,
 *   render-log flushing), then PostgreSQL; each connection down: sleep until its next
 *   reconnect attempt. Then tq_pipeline_step:
 *   claim: a job  -> render, write, ack it (tq_pipeline), claim again at once
 *          none   -> BLPOP {tq}:wake 1 (a new job wakes us at once) */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tq_cache.h"
#include "tq_cache_tmp.h"
#include "tq_config.h"
#include "tq_discover.h"
#include "tq_log.h"
#include "tq_main.h"
#include "tq_pipeline.h"
#include "tq_render.h"
#include "tq_upkeep.h"
#include "tq_wconn.h"
#include "tq_worker.h"

#define PROG "tileq-worker"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void worker_run(struct tq_worker *w)
{
    while (!g_stop) {
        if (tq_wconn_redis_ensure(w->conn) != 0) {
            tq_wconn_idle(w->conn);
            continue;
        }
        tq_upkeep_run(w);
        if (tq_wconn_pg_ensure(w->conn) != 0) {
            tq_wconn_idle(w->conn);
            continue;
        }
        if (!tq_wconn_redis_ok(w->conn) || g_stop)
            continue;
        tq_pipeline_step(w);
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " -c FILE\n"
               "Renders tileq jobs from Redis until SIGTERM/SIGINT.\n");
}

/* The registry's name for this worker: worker_id, or host:pid. */
static void worker_name(struct tq_worker *w)
{
    if (gethostname(w->host, sizeof w->host) != 0)
        snprintf(w->host, sizeof w->host, "unknown");
    w->host[sizeof w->host - 1] = '\0';
    if (w->cfg->worker_id && w->cfg->worker_id[0])
        snprintf(w->id, sizeof w->id, "%s", w->cfg->worker_id);
    else
        snprintf(w->id, sizeof w->id, "%s:%ld", w->host, (long)getpid());
}

/* Removes the temp files crashed writers left in the cache (tq_cache_tmp.h), within a time
 * budget, and logs what it did. A sweep that fails is logged and the worker goes on: stale
 * temp files waste space, they are never served. */
static void sweep_cache_tmp(const char *cache_dir)
{
    struct tq_cache_sweep_stats st;
    char err[512], q[600];
    if (tq_cache_tmp_sweep(cache_dir, TQ_CACHE_TMP_MAX_AGE_S, TQ_CACHE_TMP_SWEEP_BUDGET_MS, &st,
                           err, sizeof err) != 0) {
        tq_log_warn("cache_tmp_sweep_failed", "error=%s", tq_log_quote(err, q, sizeof q));
        return;
    }
    tq_log_info("cache_tmp_sweep",
                "removed=%lu young=%lu skipped=%lu failed=%lu tmp=%lu dirs=%lu complete=%d "
                "elapsed_ms=%lld max_age_s=%d",
                st.removed, st.young, st.skipped, st.failed, st.tmp, st.dirs, st.complete,
                (long long)st.elapsed_ms, TQ_CACHE_TMP_MAX_AGE_S);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    char err[1024], q[300];
    int rc = 1;
    struct tq_worker w;
    struct sigaction sa;

    memset(&w, 0, sizeof w);
    w.stop = &g_stop;
    w.cfg = tq_main_load_config(argc, argv, PROG, usage, &path, &rc);
    if (w.cfg == NULL)
        return rc;
    rc = 1;
    tq_cache_set_fsync(w.cfg->cache_fsync);
    worker_name(&w);
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
    w.conn = w.renderer ? tq_wconn_new(w.cfg, w.renderer) : NULL;
    if (w.conn == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        goto cleanup;
    }

    sweep_cache_tmp(w.cfg->cache_dir);
    tq_log_info("worker_start", "worker=%s tilesets=%zu lease_ms=%d cache_dir=%s",
                tq_log_quote(w.id, q, sizeof q), w.cfg->ntilesets, w.lease_ms, w.cfg->cache_dir);
    worker_run(&w);
    tq_upkeep_stop(&w);
    tq_log_info("worker_stop", "worker=%s", tq_log_quote(w.id, q, sizeof q));
    rc = 0;
cleanup:
    tq_wconn_free(w.conn);
    tq_render_free(w.renderer);
    tq_config_free(w.cfg);
    return rc;
}

/* tq_cmetrics — see tq_cmetrics.h.
 *
 * Ownership: the registry and its families are cm's. A struct scrape (a /metrics request
 * waiting for the Redis script) is owned by the command's callback, which answers its
 * request and frees it whatever the outcome (reply, timeout, disconnect, shutdown). A client
 * that leaves meanwhile makes evhttp detach the request; evhttp_send_reply then frees it. */
#include "tq_cmetrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "tq_job.h"
#include "tq_log.h"
#include "tq_metrics.h"
#include "tq_snapshot.h"
#include "tq_time.h"
#include "tq_wfigures.h"
#include "tq_time.h"

#define SCRAPE_TIMEOUT_MS 1000
#define MAX_WORKERS 1000 /* exported per scrape */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct tq_cmetrics {
    struct tq_metrics *reg;
    struct tq_metric_family *requests, *wait, *enqueue, *reconnects, *waiters, *pending;
    struct tq_metric_family *dead_answers;
    struct tq_metric_family *redis_up, *queue_jobs, *dead_jobs, *workers;
    struct tq_metric_family *held, *hold_out, *connections, *cut_off; /* Redis away, clients */
    struct tq_metric_family *w_renders, *w_tiles, *w_sql, *w_failures, *w_duration;
    struct tq_metric_family *rl_rejected;
    struct tq_metric_family *watch_backlog, *watch_oldest, *watch_figures_age; /* tileq watch */
};

struct scrape {
    struct tq_cmetrics *cm;
    struct tq_web *web;
    struct evhttp_request *req;
};

struct tq_cmetrics *tq_cmetrics_new(void)
{
    struct tq_cmetrics *cm = calloc(1, sizeof *cm);
    const char *status_served[] = {"status", "served"}, *served[] = {"served"};
    const char *result[] = {"result"}, *connection[] = {"connection"}, *how[] = {"how"};
    const char *class_state[] = {"class", "state"}, *worker[] = {"worker"};
    const char *worker_reason[] = {"worker", "reason"}, *worker_zoom[] = {"worker", "zoom"};
    const double *lb = TQ_METRICS_LATENCY_BUCKETS;
    const size_t nlb = TQ_METRICS_LATENCY_NBUCKETS;

    if (cm == NULL)
        return NULL;
    cm->reg = tq_metrics_new();
    if (cm->reg == NULL)
        goto fail;
#define FAMILY(field, type, name, help, nl, labels, nb, b)                                         \
    do {                                                                                           \
        cm->field = tq_metrics_add_family(cm->reg, type, name, help, nl, labels, nb, b);           \
        if (cm->field == NULL)                                                                     \
            goto fail;                                                                             \
    } while (0)
    FAMILY(requests, TQ_METRIC_COUNTER, "tileq_http_requests_total",
           "HTTP requests answered, by status code and by how a tile was served (hit: from the "
           "cache, miss: rendered for this request, joined: waited for a render another request "
           "started; none: not a tile answer, or an error).",
           2, status_served, 0, NULL);
    FAMILY(wait, TQ_METRIC_HISTOGRAM, "tileq_render_wait_seconds",
           "Seconds from a tile request to its answer, for tiles that had to be rendered "
           "(served miss or joined).",
           1, served, nlb, lb);
    FAMILY(waiters, TQ_METRIC_GAUGE, "tileq_waiters",
           "Tile requests waiting for a render in this coordinator.", 0, NULL, 0, NULL);
    FAMILY(pending, TQ_METRIC_GAUGE, "tileq_pending_metatiles",
           "Metatiles this coordinator's waiting requests wait for.", 0, NULL, 0, NULL);
    FAMILY(held, TQ_METRIC_GAUGE, "tileq_held_requests",
           "Tile requests held in this coordinator while Redis is unreachable (they are "
           "enqueued when it is back, or answered 503 when queue.hold_seconds runs out).",
           0, NULL, 0, NULL);
    FAMILY(hold_out, TQ_METRIC_COUNTER, "tileq_hold_expired_total",
           "Tile requests answered 503 because Redis stayed unreachable (how: timeout, the "
           "request's queue.hold_seconds ran out; full, queue.hold_max requests were held "
           "already).",
           1, how, 0, NULL);
    FAMILY(connections, TQ_METRIC_GAUGE, "tileq_http_connections",
           "Client connections open on this coordinator (it stops accepting at "
           "http.max_connections).",
           0, NULL, 0, NULL);
    FAMILY(cut_off, TQ_METRIC_COUNTER, "tileq_http_read_deadline_total",
           "Client connections closed because a request did not arrive whole within "
           "http.read_deadline_seconds of its first byte.",
           0, NULL, 0, NULL);
    FAMILY(enqueue, TQ_METRIC_COUNTER, "tileq_enqueue_total",
           "Render jobs this coordinator enqueued, by the queue's answer (new, coalesced, "
           "promoted, running, rerun, done, full, dead, error).",
           1, result, 0, NULL);
    FAMILY(dead_answers, TQ_METRIC_COUNTER, "tileq_dead_answers_total",
           "Tile requests this coordinator answered 500 at once because their metatile is "
           "dead-lettered and cooling down (queue.dead_cooldown_seconds): nothing was rendered.",
           0, NULL, 0, NULL);
    if (tq_metric_get(cm->dead_answers, NULL) == NULL) /* exported from 0 */
        goto fail;
    FAMILY(reconnects, TQ_METRIC_COUNTER, "tileq_redis_reconnects_total",
           "Times a Redis connection of this coordinator came back after being lost (command: "
           "enqueues and reads, events: the completion stream).",
           1, connection, 0, NULL);
    FAMILY(redis_up, TQ_METRIC_GAUGE, "tileq_redis_up",
           "1 when Redis answered this scrape's queue read, else 0 (the queue and worker "
           "figures are then left out).",
           0, NULL, 0, NULL);
    FAMILY(queue_jobs, TQ_METRIC_GAUGE, "tileq_queue_jobs",
           "Render jobs in the queue (all coordinators), by class and state (queued: waiting "
           "for a worker, running: being rendered).",
           2, class_state, 0, NULL);
    FAMILY(dead_jobs, TQ_METRIC_GAUGE, "tileq_queue_dead_jobs",
           "Dead-lettered render jobs (tileq deadletter lists them).", 0, NULL, 0, NULL);
    FAMILY(workers, TQ_METRIC_GAUGE, "tileq_workers_reporting",
           "Workers whose figures were published in Redis within the last minute.", 0, NULL, 0,
           NULL);
    FAMILY(w_renders, TQ_METRIC_COUNTER, "tileq_worker_renders_total",
           "Metatiles a worker rendered (render query succeeded).", 1, worker, 0, NULL);
    FAMILY(w_tiles, TQ_METRIC_COUNTER, "tileq_worker_tiles_total",
           "Tiles in the metatiles a worker rendered.", 1, worker, 0, NULL);
    FAMILY(w_sql, TQ_METRIC_COUNTER, "tileq_worker_sql_seconds_total",
           "Seconds a worker spent in render queries.", 1, worker, 0, NULL);
    FAMILY(w_failures, TQ_METRIC_COUNTER, "tileq_worker_render_failures_total",
           "Render jobs a worker did not complete, by reason (sql: the query or PostgreSQL "
           "failed, write: the cache write failed, invalid: malformed job dead-lettered, lost: "
           "the lease was lost and the result dropped).",
           2, worker_reason, 0, NULL);
    FAMILY(w_duration, TQ_METRIC_HISTOGRAM, "tileq_worker_render_duration_seconds",
           "Seconds of one metatile's render query, by worker and zoom.", 2, worker_zoom, nlb, lb);
    FAMILY(rl_rejected, TQ_METRIC_GAUGE, "tileq_renderlog_rejected",
           "Render-log entries set aside because PostgreSQL rejected them or they were "
           "malformed: the length of the stream " TQ_QUEUE_RENDERLOG_REJECTED_KEY
           " (each entry holds the reason).",
           0, NULL, 0, NULL);
    FAMILY(watch_backlog, TQ_METRIC_GAUGE, "tileq_watch_backlog",
           "Changes recorded by the triggers of tileq watch and not consumed yet (rows of "
           "tileq.changes), as the watcher last wrote it (absent when no watcher runs).",
           0, NULL, 0, NULL);
    FAMILY(watch_oldest, TQ_METRIC_GAUGE, "tileq_watch_backlog_oldest_seconds",
           "Age of the oldest change not consumed yet (0 when none), as the watcher last wrote "
           "it.",
           0, NULL, 0, NULL);
    FAMILY(watch_figures_age, TQ_METRIC_GAUGE, "tileq_watch_figures_age_seconds",
           "How old the watcher's figures are (it writes them every second).", 0, NULL, 0, NULL);
#undef FAMILY
    /* Series that are 0 until something happens are shown from the start. */
    const char *hows[] = {"timeout", "full"};
    for (int i = 0; i < 2; i++) {
        if (tq_metric_get(cm->hold_out, &hows[i]) == NULL)
            goto fail;
    }
    if (tq_metric_get(cm->cut_off, NULL) == NULL)
        goto fail;
    return cm;
fail:
    tq_cmetrics_free(cm);
    return NULL;
}

void tq_cmetrics_free(struct tq_cmetrics *cm)
{
    if (cm == NULL)
        return;
    tq_metrics_free(cm->reg);
    free(cm);
}

void tq_cmetrics_request(struct tq_cmetrics *cm, int status, const char *served, double seconds)
{
    char code[16];
    const char *label = "none";
    const char *values[2];

    if (status < 400 && served &&
        (strcmp(served, "hit") == 0 || strcmp(served, "miss") == 0 ||
         strcmp(served, "joined") == 0))
        label = served;
    snprintf(code, sizeof code, "%d", status);
    values[0] = code;
    values[1] = label;
    tq_metric_add(tq_metric_get(cm->requests, values), 1);
    if (strcmp(label, "miss") == 0 || strcmp(label, "joined") == 0)
        tq_metric_observe(tq_metric_get(cm->wait, &label), seconds);
}

void tq_cmetrics_hold_expired(struct tq_cmetrics *cm, int full)
{
    const char *how = full ? "full" : "timeout";
    tq_metric_add(tq_metric_get(cm->hold_out, &how), 1);
}

void tq_cmetrics_read_deadline(struct tq_cmetrics *cm)
{
    tq_metric_add(tq_metric_get(cm->cut_off, NULL), 1);
}

void tq_cmetrics_enqueue(struct tq_cmetrics *cm, enum tq_enqueue_result r)
{
    const char *name = tq_enqueue_result_name(r);
    tq_metric_add(tq_metric_get(cm->enqueue, &name), 1);
}

void tq_cmetrics_dead_answers(struct tq_cmetrics *cm, size_t n)
{
    tq_metric_add(tq_metric_get(cm->dead_answers, NULL), (double)n);
}

/* ---- the scrape ------------------------------------------------------------------------ */

/* One worker's figures (its hash, parsed by tq_wfigures) into the worker families. */
static void add_worker(struct tq_cmetrics *cm, const char *id, const redisReply *h)
{
    static struct tq_wfigures f; /* large; one event loop owns cm */
    const char *wl[1] = {id};

    tq_wfigures_parse(h, &f);
    tq_metric_set(tq_metric_get(cm->w_renders, wl), (double)f.renders);
    tq_metric_set(tq_metric_get(cm->w_tiles, wl), (double)f.tiles);
    tq_metric_set(tq_metric_get(cm->w_sql, wl), f.sql_seconds);
    for (int k = 0; k < TQ_WFAIL_COUNT; k++) {
        const char *v[2] = {id, tq_wfail_name((enum tq_wfail)k)};
        tq_metric_set(tq_metric_get(cm->w_failures, v), (double)f.fail[k]);
    }
    for (int z = 0; z <= TQ_TILE_MAX_ZOOM; z++) {
        uint64_t total = 0;
        char zs[16];
        for (int b = 0; b <= TQ_WFIGURES_NBUCKETS; b++)
            total += f.hist[z][b];
        if (total == 0)
            continue; /* not published: no render at that zoom */
        snprintf(zs, sizeof zs, "%d", z);
        const char *lv[2] = {id, zs};
        tq_metric_hist_set(tq_metric_get(cm->w_duration, lv), f.hist[z], TQ_WFIGURES_NBUCKETS + 1,
                           f.hist_sum[z]);
    }
}

/* Rebuilds the Redis-backed families from the snapshot (NULL: Redis did not answer). */
static void apply_scrape(struct tq_cmetrics *cm, const struct tq_snapshot *snap)
{
    struct tq_metric_family *rebuilt[] = {
        cm->queue_jobs,  cm->dead_jobs,     cm->workers,      cm->w_renders,
        cm->w_tiles,     cm->w_sql,         cm->w_failures,   cm->w_duration,
        cm->rl_rejected, cm->watch_backlog, cm->watch_oldest, cm->watch_figures_age};

    for (size_t i = 0; i < sizeof rebuilt / sizeof rebuilt[0]; i++)
        tq_metric_family_reset(rebuilt[i]);
    if (snap == NULL) {
        tq_metric_set(tq_metric_get(cm->redis_up, NULL), 0);
        return;
    }
    tq_metric_set(tq_metric_get(cm->redis_up, NULL), 1);
    for (int c = 0; c < TQ_CLASS_COUNT; c++) {
        const char *q[2] = {tq_job_class_name((enum tq_job_class)c), "queued"};
        const char *run[2] = {q[0], "running"};
        tq_metric_set(tq_metric_get(cm->queue_jobs, q), (double)snap->cls[c].queued);
        tq_metric_set(tq_metric_get(cm->queue_jobs, run),
                      snap->cls[c].running > 0 ? (double)snap->cls[c].running : 0);
    }
    tq_metric_set(tq_metric_get(cm->dead_jobs, NULL), (double)snap->dead);
    for (size_t i = 0; i < snap->nfigures; i++)
        add_worker(cm, snap->figures[i].worker, snap->figures[i].hash);
    tq_metric_set(tq_metric_get(cm->workers, NULL), (double)snap->nfigures);
    tq_metric_set(tq_metric_get(cm->rl_rejected, NULL), (double)snap->renderlog_rejected);
    if (snap->watch_present) {
        tq_metric_set(tq_metric_get(cm->watch_backlog, NULL), (double)snap->watch_backlog);
        tq_metric_set(tq_metric_get(cm->watch_oldest, NULL), (double)snap->watch_oldest_ms / 1000);
        tq_metric_set(tq_metric_get(cm->watch_figures_age, NULL),
                      (double)(tq_now_ms() - snap->watch_updated_ms) / 1000);
    }
}

/* Renders the registry into req's reply; gives req back to evhttp. */
static void send_metrics(struct tq_cmetrics *cm, struct tq_web *web, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evbuffer_new();
    char *text = NULL;
    size_t len = 0;
    int code = 200;

    tq_web_add_cors(web, req);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (tq_metrics_render(cm->reg, &text, &len) != 0) {
        code = 500;
        evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
        if (buf)
            evbuffer_add(buf, "out of memory\n", 14);
    } else {
        evhttp_add_header(h, "Content-Type", CONTENT_TYPE);
        if (buf)
            evbuffer_add(buf, text, len);
    }
    evhttp_send_reply(req, code, NULL, buf);
    if (buf)
        evbuffer_free(buf);
    free(text);
}

static void on_scrape_reply(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    struct scrape *s = arg;
    struct tq_snapshot snap;
    char why[256], q[300];
    int ok;

    (void)rc;
    memset(&snap, 0, sizeof snap);
    if (reply == NULL)
        snprintf(why, sizeof why, "%s", err);
    ok = reply != NULL && tq_snapshot_parse(reply, &snap, why, sizeof why) == 0;
    if (!ok)
        tq_log_warn("metrics_redis_failed", "error=%s", tq_log_quote(why, q, sizeof q));
    apply_scrape(s->cm, ok ? &snap : NULL);
    tq_snapshot_clear(&snap);
    send_metrics(s->cm, s->web, s->req);
    free(s);
}

void tq_cmetrics_serve(struct tq_cmetrics *cm, struct evhttp_request *req, struct tq_rconn *cmd,
                       struct tq_web *web, const struct tq_cmetrics_state *st)
{
    const char *cmd_l = "command", *events_l = "events";
    struct scrape *s;

    tq_metric_set(tq_metric_get(cm->waiters, NULL), (double)st->waiters);
    tq_metric_set(tq_metric_get(cm->held, NULL), (double)st->held);
    tq_metric_set(tq_metric_get(cm->connections, NULL), (double)st->connections);
    tq_metric_set(tq_metric_get(cm->pending, NULL), (double)st->pending);
    tq_metric_set(tq_metric_get(cm->reconnects, &cmd_l), (double)st->reconnects_cmd);
    tq_metric_set(tq_metric_get(cm->reconnects, &events_l), (double)st->reconnects_events);
    if (cmd == NULL || !tq_rconn_is_up(cmd))
        goto without_redis;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        goto without_redis;
    s->cm = cm;
    s->web = web;
    s->req = req;
    /* the same snapshot as tileq status, without leases and completions */
    if (tq_rconn_command(cmd, SCRAPE_TIMEOUT_MS, on_scrape_reply, s, TQ_SNAPSHOT_FMT,
                         TQ_LUA_SNAPSHOT, 0LL, (long long)(tq_now_ms() - TQ_WMETRICS_TTL_MS),
                         (long long)MAX_WORKERS, 0LL, 0LL) == 0)
        return; /* on_scrape_reply answers */
    free(s);
without_redis:
    apply_scrape(cm, NULL);
    send_metrics(cm, web, req);
}

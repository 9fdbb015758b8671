/* tq_wait — see tq_wait.h.
 *
 * Ownership:
 * - The entries and their waiters are the table's (tq_pending.h). An outstanding ENQUEUE
 *   holds a reference on its entry (pending_enqueue takes it, on_enqueue_reply drops it). The
 *   entry's two timers are made here (pending_new) and freed by the table's free hook.
 * - w->req is evhttp's until we answer it (evhttp_send_reply hands it back) or, when evhttp
 *   detached it on a client close, ours to free in tq_wait_client_gone.
 * - Nothing here frees a hiredis object; tq_rconn owns those. Callbacks from tq_rconn may
 *   answer and free our own objects, never the connection. */
#include "tq_wait.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http_struct.h> /* the request's HTTP version (major, minor) */

#include "tq_cache.h"
#include "tq_conns.h"
#include "tq_job.h"
#include "tq_log.h"
#include "tq_peer.h"
#include "tq_queue.h"
#include "tq_redis.h"
#include "tq_time.h"

#define CMD_TIMEOUT_MS 2000
/* A half-closed client's socket is looked at this often: the reset that answers the probe
 * of a closed socket comes within a round trip. */
#define HALF_CLOSED_LOOK_MS 200

struct tq_wait {
    struct event_base *base;
    const struct tq_config *cfg;
    struct tq_web *web;
    struct tq_cmetrics *metrics;
    struct tq_rconn *cmd; /* ENQUEUE, RELEASE */
    struct tq_pending_table *table;
    tq_wait_change_fn on_change;
    void *arg;
    int stopping;
};

enum recheck_mode {
    RECHECK_WAIT,    /* tiles still missing keep waiting */
    RECHECK_RENDERED /* the job finished: a missing tile means enqueue once more, then 503 */
};

static const char *q(const char *s, char *buf, size_t size)
{
    return tq_log_quote(s ? s : "", buf, size);
}

/* A plain-text error (or status) reply: the reason and a newline; label goes into X-Tileq
 * for a 200 or 204 only. */
static void send_text(struct tq_wait *wt, struct evhttp_request *req, int code, const char *label,
                      const char *reason, int retry_after)
{
    tq_web_send_text(wt->web, req, code, code == 200 || code == 204 ? label : NULL, reason,
                     retry_after);
}

static void waiter_release_conn(struct tq_waiter *w);

/* Answers req from the cache. Returns 1 answered (200/204, or 500 on a read error), 0 when
 * the tile is not cached (req untouched). When req belongs to waiter w, w lets go of the
 * connection's close callback before the reply is sent. */
static int answer_from_cache(struct tq_wait *wt, struct evhttp_request *req, const char *tileset,
                             struct tq_tile t, const char *label, struct tq_waiter *w)
{
    struct tq_cache_tile tile;
    char err[256], qe[300];
    int rc = tq_cache_read_tile(wt->cfg->cache_dir, tileset, t, &tile, err, sizeof err);

    if (rc != 0 && w)
        waiter_release_conn(w);
    if (rc == 1)
        tq_web_send_tile(wt->web, req, label, &tile);
    else if (rc < 0) {
        tq_log_error("cache_read_failed", "tileset=%s z=%d x=%" PRIu32 " y=%" PRIu32 " error=%s",
                     tileset, t.z, t.x, t.y, q(err, qe, sizeof qe));
        send_text(wt, req, 500, label, "cache read failed", 0);
    }
    free(tile.data);
    free(tile.plain);
    return rc != 0;
}

/* The body of a 500 for the dead-lettered job id: a short message and its reference id
 * (tq_job_ref). The reason (a PostgreSQL error: table, column and query text) is for the
 * operator only: the log line, `tileq deadletter list` and `tileq status` show it with the
 * same reference. Written into buf; returns buf. */
static const char *dead_body(const char *id, char *buf, size_t size)
{
    char ref[TQ_JOB_REF_LEN];

    snprintf(buf, size, "render failed (ref %s)", tq_job_ref(id, ref));
    return buf;
}

/* ---- entries --------------------------------------------------------------------------- */

static void on_render_timeout(evutil_socket_t fd, short what, void *arg);
static void on_hold_timeout(evutil_socket_t fd, short what, void *arg);

/* The table's free hook: p's timers. */
static void pending_free_timers(struct tq_pending *p, void *arg)
{
    (void)arg;
    if (p->timer)
        event_free(p->timer);
    if (p->hold_ev)
        event_free(p->hold_ev);
}

/* A new entry, in the table, with no waiter; its render timer starts when an ENQUEUE is
 * accepted (pending_accepted). NULL on OOM. */
static struct tq_pending *pending_new(struct tq_wait *wt, const struct tq_tileset_config *ts,
                                      const struct tq_job *job, const char *id)
{
    struct tq_pending *p = tq_pending_add(wt->table, ts, job, id);

    if (p == NULL)
        return NULL;
    p->timer = evtimer_new(wt->base, on_render_timeout, p);
    p->hold_ev = evtimer_new(wt->base, on_hold_timeout, p);
    if (p->timer == NULL || p->hold_ev == NULL) {
        tq_pending_remove(p); /* frees the one made */
        return NULL;
    }
    return p;
}

/* Takes p out of the table (dropping the table's reference). Its waiters must be gone. */
static void pending_remove(struct tq_pending *p)
{
    struct tq_wait *wt = p->owner;

    if (!p->in_table)
        return;
    evtimer_del(p->timer);
    evtimer_del(p->hold_ev);
    tq_pending_remove(p);
    if (wt->on_change)
        wt->on_change(wt->arg);
}

/* ---- waiters --------------------------------------------------------------------------- */

static void on_release_reply(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    char qe[256];

    (void)rc;
    (void)arg;
    if (reply && reply->type == REDIS_REPLY_STRING)
        tq_log_debug("job_released", "answer=%s", reply->str);
    else
        tq_log_warn("release_failed", "error=%s",
                    q(reply && reply->type == REDIS_REPLY_ERROR ? reply->str : err, qe, sizeof qe));
}

/* p lost its last waiter to clients going away: this coordinator no longer holds the job
 * (tq_queue.h, Holders), so the queue may demote it. Best effort: a release that cannot be
 * sent leaves the job where it is. */
static void pending_release(struct tq_pending *p)
{
    struct tq_wait *wt = p->owner;
    struct tq_job_keys k;

    if (p->head != NULL || p->enqueues == 0 || !p->in_table)
        return;
    tq_queue_job_keys(p->id, &k);
    tq_rconn_command(wt->cmd, CMD_TIMEOUT_MS, on_release_reply, NULL, TQ_RELEASE_FMT,
                     TQ_LUA_RELEASE, k.job, p->id);
}

/* Stops watching w's connection: call before answering w->req (the connection may carry
 * the client's next request, which is not ours). */
static void waiter_release_conn(struct tq_waiter *w)
{
    if (w->peek) {
        event_free(w->peek);
        w->peek = NULL;
    }
    if (w->conn && w->conn->w == w)
        w->conn->w = NULL;
    w->conn = NULL;
    w->evcon = NULL;
}

/* Unlinks and frees w (its request was answered or is gone). Does not touch p otherwise. */
static void waiter_finish(struct tq_waiter *w)
{
    waiter_release_conn(w);
    tq_pending_waiter_remove(w);
}

/* The last waiter of p went away: release its job and remove it. */
static void pending_abandon(struct tq_pending *p)
{
    if (p->head != NULL)
        return;
    pending_release(p);
    pending_remove(p);
}

static void on_peek(evutil_socket_t fd, short what, void *arg);

/* w's client sent FIN (tq_peer.h): it shut down its write side and waits for its tile, or
 * it closed the socket. Its reply will close the connection (no next request can come);
 * an HTTP/1.1 client gets the probe ("100 Continue"), which a closed socket answers with a
 * reset, and the socket is looked at again every HALF_CLOSED_LOOK_MS instead of on
 * readability (EOF stays readable). An HTTP/1.0 client cannot be probed (a 1xx is not
 * allowed there): it is taken as half-closed and waits on, seen gone only on a reset. 0, or
 * -1 when the probe was refused (gone). */
static int waiter_half_close(struct tq_waiter *w, evutil_socket_t fd)
{
    const struct timeval again = {0, HALF_CLOSED_LOOK_MS * 1000};
    struct bufferevent *bev = evhttp_connection_get_bufferevent(w->evcon);
    int http11 = w->req->major > 1 || (w->req->major == 1 && w->req->minor >= 1);
    struct event_base *base = event_get_base(w->peek);

    /* The probe goes straight to the socket: only when evhttp has nothing queued on it
     * (it never has while the request waits; if it had, the probe would interleave). */
    int probe = http11 && bev != NULL && evbuffer_get_length(bufferevent_get_output(bev)) == 0;
    struct evkeyvalq *out = evhttp_request_get_output_headers(w->req);

    if (probe && tq_peer_probe(fd) != 0)
        return -1;
    w->half_closed = 1;
    if (evhttp_find_header(out, "Connection") == NULL)
        evhttp_add_header(out, "Connection", "close");
    tq_log_debug("client_half_closed", "id=%s probed=%d", w->p->id, probe);
    /* From now on a timer (events 0: the fd is only passed along), freed like the peek. */
    event_free(w->peek);
    w->peek = event_new(base, fd, 0, on_peek, w);
    if (w->peek && event_add(w->peek, &again) != 0) {
        event_free(w->peek);
        w->peek = NULL;
    }
    return 0;
}

/* libevent 2.1 stops reading a connection while its request is being answered, so a
 * client that leaves is not noticed until we write. Look at the socket instead (tq_peer.h):
 * a reset or an error means the client is gone, and freeing the connection runs
 * tq_wait_client_gone. A FIN is a half-close until a probe is answered with a reset
 * (waiter_half_close): the client gets its tile. Data (a pipelined request) means it is
 * still there; stop watching and leave it to evhttp. */
static void on_peek(evutil_socket_t fd, short what, void *arg)
{
    const struct timeval again = {0, HALF_CLOSED_LOOK_MS * 1000};
    struct tq_waiter *w = arg;
    struct tq_pending *p = w->p;
    struct evhttp_connection *evcon = w->evcon;
    enum tq_peer_state st;

    (void)what;
    if (evcon == NULL)
        return;
    st = tq_peer_look(fd);
    if (st == TQ_PEER_DATA)
        return;
    if (st == TQ_PEER_OPEN || (st == TQ_PEER_HALF_CLOSED && w->half_closed)) {
        event_add(w->peek, w->half_closed ? &again : NULL);
        return;
    }
    if (st == TQ_PEER_HALF_CLOSED && waiter_half_close(w, fd) == 0)
        return;
    tq_log_debug("client_gone", "id=%s how=%s", p->id, tq_peer_state_name(st));
    w->req = NULL;    /* evhttp frees it with the connection */
    waiter_finish(w); /* clears the close callback, frees this (non-persistent) event and w */
    evhttp_connection_free(evcon);
    pending_abandon(p);
}

static void waiter_watch(struct tq_wait *wt, struct tq_waiter *w)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(w->evcon);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

    if (fd < 0)
        return;
    w->peek = event_new(wt->base, fd, EV_READ, on_peek, w);
    if (w->peek && event_add(w->peek, NULL) != 0) {
        event_free(w->peek);
        w->peek = NULL;
    }
}

static void hold_arm(struct tq_pending *p);

/* Adds a waiter for req (arriving on tracked connection c) to p. NULL on OOM. */
static struct tq_waiter *waiter_add(struct tq_wait *wt, struct tq_pending *p,
                                    struct evhttp_request *req, struct tq_conn *c, struct tq_tile t)
{
    struct tq_waiter *w = tq_pending_waiter_add(p, t, tq_mono_us());

    if (w == NULL)
        return NULL;
    w->req = req;
    w->conn = c;
    w->evcon = c->evcon;
    c->w = w;
    waiter_watch(wt, w);
    if (p->held)
        hold_arm(p);
    return w;
}

void tq_wait_client_gone(struct tq_waiter *w)
{
    struct tq_pending *p = w->p;

    if (w->req && evhttp_request_get_connection(w->req) == NULL)
        evhttp_request_free(w->req);
    w->req = NULL;
    if (w->conn && w->conn->w == w)
        w->conn->w = NULL;
    w->conn = NULL;
    w->evcon = NULL; /* being freed: waiter_finish must not touch it */
    tq_log_debug("client_gone", "id=%s", p->id);
    waiter_finish(w);
    pending_abandon(p);
}

/* Answers every waiter of p with an error and removes p. */
static void pending_fail(struct tq_pending *p, int code, const char *reason, int retry_after)
{
    struct tq_wait *wt = p->owner;
    struct tq_waiter *w, *next;

    for (w = p->head; w; w = next) {
        next = w->next;
        waiter_release_conn(w);
        if (w->req)
            send_text(wt, w->req, code, w->label, reason, retry_after);
        waiter_finish(w);
    }
    pending_remove(p);
}

static int pending_enqueue(struct tq_pending *p);

/* ---- holding while Redis is unreachable -------------------------------------------------
 *
 *   (miss, Redis unreachable) ──▶ HELD ──(Redis back: tq_wait_redis_up; ENQUEUE accepted)──▶
 *   waiting ──(command connection lost: tq_wait_redis_down; ENQUEUE failed for a connection
 *              reason: on_enqueue_reply)──▶ HELD
 *   HELD ──(a waiter's hold_until_us passes: on_hold_timeout)──▶ its tile from the cache, else
 *          503 + Retry-After (the others stay held)
 * A held entry has no render timer; each accepted ENQUEUE starts render_timeout_seconds
 * afresh (pending_accepted), so a request waits at most hold_seconds for Redis, then
 * render_timeout_seconds for its render, per outage it meets. */

/* Arms p's hold timer for the earliest deadline of its held waiters. */
static void hold_arm(struct tq_pending *p)
{
    int64_t delay = tq_pending_hold_delay_us(p, tq_mono_us());
    struct timeval tv;

    if (delay < 0) {
        evtimer_del(p->hold_ev);
        return;
    }
    tv.tv_sec = (time_t)(delay / 1000000);
    tv.tv_usec = (suseconds_t)(delay % 1000000);
    evtimer_add(p->hold_ev, &tv);
}

/* p waits for Redis: its render timer stops, each waiter's hold starts (if not running). */
static void pending_hold(struct tq_pending *p, const char *why)
{
    struct tq_wait *wt = p->owner;

    if (!p->held)
        tq_log_info("hold", "id=%s reason=%s seconds=%d", p->id, why, wt->cfg->queue.hold_seconds);
    tq_pending_hold(p, tq_mono_us());
    evtimer_del(p->timer);
    hold_arm(p);
}

/* An ENQUEUE of p was accepted: its waiters are held no more, and the render timer starts
 * (again, after a hold) from now. */
static void pending_accepted(struct tq_pending *p)
{
    struct tq_wait *wt = p->owner;
    struct timeval tv = {wt->cfg->queue.render_timeout_seconds, 0};

    if (!p->held && evtimer_pending(p->timer, NULL))
        return;
    if (tq_pending_unhold(p))
        tq_log_info("hold_end", "id=%s", p->id);
    evtimer_del(p->hold_ev);
    evtimer_add(p->timer, &tv);
}

/* The holds that ran out: such a waiter gets its tile if it is in the cache now, else 503
 * with Retry-After. */
static void on_hold_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct tq_pending *p = arg;
    struct tq_wait *wt = p->owner;
    struct tq_waiter *w, *next;
    int64_t now = tq_mono_us();
    int expired = 0;

    (void)fd;
    (void)what;
    for (w = p->head; w; w = next) {
        next = w->next;
        if (!tq_pending_hold_over(w, now) || w->req == NULL)
            continue;
        if (!answer_from_cache(wt, w->req, p->ts->name, w->tile, w->label, w)) {
            waiter_release_conn(w);
            send_text(wt, w->req, 503, w->label, "queue unavailable", 1);
            tq_cmetrics_hold_expired(wt->metrics, 0);
            expired++;
        }
        waiter_finish(w);
    }
    if (expired > 0)
        tq_log_warn("hold_expired", "id=%s answered_503=%d seconds=%d", p->id, expired,
                    wt->cfg->queue.hold_seconds);
    if (p->head == NULL) {
        pending_remove(p);
        return;
    }
    hold_arm(p);
}

/* Sends p's ENQUEUE; when it cannot be sent (Redis unreachable) p is held, or, with holding
 * off, answered 503. */
static void pending_enqueue_or_hold(struct tq_pending *p)
{
    if (pending_enqueue(p) == 0)
        return;
    if (tq_pending_hold_enabled(p->table))
        pending_hold(p, "redis_down");
    else
        pending_fail(p, 503, "queue unavailable", 1);
}

void tq_wait_redis_down(struct tq_wait *wt)
{
    struct tq_pending *p;
    size_t pos = 0;

    if (!tq_pending_hold_enabled(wt->table))
        return;
    /* Every entry waits for Redis (its job may be lost with it). */
    while ((p = tq_pending_next(wt->table, &pos)) != NULL)
        pending_hold(p, "redis_down");
}

/* An ENQUEUE that failed because Redis is (or was) unreachable or cannot take writes now,
 * rather than for something wrong with the job: no reply (timeout, disconnected) or an
 * error reply of that kind. */
static int enqueue_error_is_transient(const redisReply *reply, const char *err)
{
    if (reply == NULL)
        return err != NULL && strcmp(err, "shutdown") != 0;
    return tq_redis_reply_is_reconnect(reply);
}

/* Answers the waiters whose tile is in the cache now. With RECHECK_RENDERED, the rest get
 * one more ENQUEUE, then 503. Removes p when no waiter is left. */
static void pending_recheck(struct tq_pending *p, enum recheck_mode mode)
{
    struct tq_wait *wt = p->owner;
    struct tq_waiter *w, *next;

    for (w = p->head; w; w = next) {
        next = w->next;
        if (w->req && answer_from_cache(wt, w->req, p->ts->name, w->tile, w->label, w))
            waiter_finish(w);
    }
    if (p->head == NULL) {
        pending_remove(p);
        return;
    }
    if (mode != RECHECK_RENDERED || p->inflight)
        return;
    if (!p->refresh) {
        p->refresh = 1;
        pending_enqueue_or_hold(p);
        return;
    }
    tq_log_warn("rendered_tile_missing", "id=%s", p->id);
    pending_fail(p, 503, "tile rendered but not in the cache", 1);
}

static void on_render_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct tq_pending *p = arg;
    struct tq_wait *wt = p->owner;

    (void)fd;
    (void)what;
    tq_log_warn("render_timeout", "id=%s seconds=%d", p->id, wt->cfg->queue.render_timeout_seconds);
    pending_fail(p, 504, "render timed out", 0);
}

/* ---- ENQUEUE --------------------------------------------------------------------------- */

static void on_enqueue_reply(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    struct tq_pending *p = arg;
    struct tq_wait *wt = p->owner;
    enum tq_enqueue_result res;
    char qe[256], ref[TQ_JOB_REF_LEN], body[64];

    p->inflight = 0;
    if (!p->in_table || p->head == NULL || wt->stopping)
        goto cleanup;
    res = reply ? tq_enqueue_result_from_reply(reply) : TQ_ENQ_ERROR;
    tq_cmetrics_enqueue(wt->metrics, res);
    switch (res) {
    case TQ_ENQ_NEW:
        for (struct tq_waiter *w = p->head; w; w = w->next) {
            if (w->req) {
                w->label = "miss";
                break;
            }
        }
        pending_accepted(p);
        break;
    case TQ_ENQ_COALESCED:
    case TQ_ENQ_PROMOTED:
    case TQ_ENQ_RUNNING:
    case TQ_ENQ_RERUN:
        pending_accepted(p);
        break;
    case TQ_ENQ_DONE:
        pending_accepted(p);
        pending_recheck(p, RECHECK_RENDERED);
        break;
    case TQ_ENQ_FULL:
        tq_log_warn("queue_full", "id=%s class=interactive", p->id);
        pending_fail(p, 503, "render queue full", 1);
        break;
    case TQ_ENQ_DEAD: {
        /* Dead-lettered and cooling down: nothing was queued; answer with its reason. */
        const char *why = tq_enqueue_reply_reason(reply);
        size_t n = tq_pending_requests(p);
        tq_cmetrics_dead_answers(wt->metrics, n);
        tq_log_info("job_dead_cooling", "id=%s ref=%s requests=%zu error=%s", p->id,
                    tq_job_ref(p->id, ref), n, q(why, qe, sizeof qe));
        pending_fail(p, 500, dead_body(p->id, body, sizeof body), 0);
        break;
    }
    case TQ_ENQ_ERROR:
    default:
        tq_log_error(
            "enqueue_failed", "id=%s error=%s", p->id,
            q(reply ? (reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply") : err,
              qe, sizeof qe));
        if (tq_pending_hold_enabled(p->table) && enqueue_error_is_transient(reply, err)) {
            /* Held until the command connection is UP (again): drop it when it still
             * looks UP (a stuck connection, a replica, a loading server), so that it
             * reconnects and tq_wait_redis_up sends the job. */
            pending_hold(p, reply ? "redis_error" : err);
            if (tq_rconn_is_up(rc))
                tq_rconn_reset(rc);
            break;
        }
        pending_fail(p, 503, "queue unavailable", 1);
        break;
    }
cleanup:
    tq_pending_unref(p);
}

/* Sends the ENQUEUE script for p. Returns 0, or -1 when it could not be sent. */
static int pending_enqueue(struct tq_pending *p)
{
    struct tq_wait *wt = p->owner;
    char *payload = NULL;
    size_t len = 0;
    int rv = -1;
    struct tq_job_keys k;

    p->job.enqueued_ms = tq_now_ms();
    if (tq_job_encode(&p->job, &payload, &len) != 0)
        goto cleanup;
    tq_queue_job_keys(p->id, &k);
    if (tq_rconn_command(
            wt->cmd, CMD_TIMEOUT_MS, on_enqueue_reply, p, TQ_ENQUEUE_FMT, TQ_LUA_ENQUEUE, k.job,
            k.done, p->id, (int)TQ_CLASS_INTERACTIVE, payload, len,
            wt->cfg->queue.cap[TQ_CLASS_INTERACTIVE],
            /* a second enqueue follows "done" with the tile missing (re-sending the job after
             * Redis was away is not one: a "done" marker then still answers) */
            tq_enqueue_mode_name(p->refresh ? TQ_ENQ_MODE_REFRESH : TQ_ENQ_MODE_REQUEST),
            (long long)wt->cfg->queue.dead_cooldown_seconds * 1000,
            /* hold: the first enqueue of this entry counts this coordinator as a holder */
            p->enqueues == 0) != 0)
        goto cleanup;
    tq_pending_ref(p);
    p->inflight = 1;
    p->enqueues++;
    rv = 0;
cleanup:
    free(payload);
    return rv;
}

/* ---- the table as a whole ---------------------------------------------------------------- */

void tq_wait_recheck_all(struct tq_wait *wt)
{
    struct tq_pending *p;
    size_t pos = 0;

    while ((p = tq_pending_next(wt->table, &pos)) != NULL)
        pending_recheck(p, RECHECK_WAIT);
}

/* After an outage Redis may have lost the queue (a restart without persistence): answer
 * the waiters whose tile reached the cache meanwhile, then enqueue every entry still
 * waiting once more. "coalesced"/"running" when the job is still there, "new" when it was
 * lost. An entry whose ENQUEUE cannot be sent stays held (or waits, with holding off). */
void tq_wait_redis_up(struct tq_wait *wt)
{
    struct tq_pending *p;
    size_t pos = 0;

    while ((p = tq_pending_next(wt->table, &pos)) != NULL) {
        if (p->inflight)
            continue;
        tq_pending_ref(p); /* pending_recheck may remove it */
        if (p->held)
            pending_recheck(p, RECHECK_WAIT);
        if (p->in_table && pending_enqueue(p) != 0 && tq_pending_hold_enabled(wt->table))
            pending_hold(p, "redis_down");
        tq_pending_unref(p);
    }
}

void tq_wait_event(struct tq_wait *wt, const struct tq_event *ev)
{
    struct tq_pending *p = tq_pending_find(wt->table, ev->job_id);
    char qe[300], ref[TQ_JOB_REF_LEN], body[64];

    if (p == NULL)
        return;
    switch (ev->status) {
    case TQ_EV_OK:
        pending_recheck(p, RECHECK_RENDERED);
        break;
    case TQ_EV_PARTIAL:
        /* The job's first tile is in the cache, the rest is still rendering: answer whoever
         * waits for a tile that is there; the others wait on for "ok"/"dead" (the entry
         * goes only when nobody is left, as when clients leave). */
        pending_recheck(p, RECHECK_WAIT);
        break;
    case TQ_EV_DEAD:
        tq_log_warn("job_dead", "id=%s ref=%s error=%s", ev->job_id, tq_job_ref(ev->job_id, ref),
                    q(ev->error, qe, sizeof qe));
        pending_fail(p, 500, dead_body(ev->job_id, body, sizeof body), 0);
        break;
    default:
        break;
    }
}

size_t tq_wait_fail_all(struct tq_wait *wt, int code, const char *reason, int retry_after)
{
    struct tq_pending *p;
    size_t pos = 0, answered = 0;

    while ((p = tq_pending_next(wt->table, &pos)) != NULL) {
        for (struct tq_waiter *w = p->head; w; w = w->next)
            answered++;
        pending_fail(p, code, reason, retry_after);
    }
    return answered;
}

/* ---- a request ------------------------------------------------------------------------- */

void tq_wait_serve(struct tq_wait *wt, struct evhttp_request *req, struct tq_conn *c,
                   const struct tq_tileset_config *ts, struct tq_tile t)
{
    struct tq_job job;
    char id[TQ_JOB_ID_MAX];
    struct tq_pending *p;

    if (answer_from_cache(wt, req, ts->name, t, "hit", NULL))
        return;
    if (c == NULL) { /* no connection to watch (OOM): cannot wait safely */
        send_text(wt, req, 500, NULL, "out of memory", 0);
        return;
    }
    if (tq_job_init(&job, ts->name, t, ts->metatile, TQ_CLASS_INTERACTIVE, TQ_REASON_REQUEST,
                    tq_now_ms()) != 0) {
        send_text(wt, req, 500, NULL, "cannot make a job", 0);
        return;
    }
    tq_job_id(&job, id, sizeof id);
    p = tq_pending_find(wt->table, id);
    /* Redis unreachable: hold the request (pending_hold) unless holding is off or full. */
    switch (tq_pending_admit(wt->table, p, tq_rconn_is_up(wt->cmd))) {
    case TQ_ADMIT_HOLD_FULL:
        tq_cmetrics_hold_expired(wt->metrics, 1);
        send_text(wt, req, 503, NULL, "queue unavailable", 1);
        return;
    case TQ_ADMIT_DOWN:
        send_text(wt, req, 503, NULL, "queue unavailable", 1);
        return;
    case TQ_ADMIT_JOIN:
        if (waiter_add(wt, p, req, c, t) == NULL)
            send_text(wt, req, 500, NULL, "out of memory", 0);
        return;
    case TQ_ADMIT_NEW:
    default:
        break;
    }
    /* The worker renders (and announces) this request's tile first. */
    job.has_first = 1;
    job.first_x = t.x;
    job.first_y = t.y;
    p = pending_new(wt, ts, &job, id);
    if (p == NULL) {
        send_text(wt, req, 500, NULL, "out of memory", 0);
        return;
    }
    if (waiter_add(wt, p, req, c, t) == NULL) {
        send_text(wt, req, 500, NULL, "out of memory", 0);
        pending_remove(p);
        return;
    }
    pending_enqueue_or_hold(p);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

struct tq_wait *tq_wait_new(struct event_base *base, const struct tq_config *cfg,
                            struct tq_web *web, struct tq_cmetrics *metrics, struct tq_rconn *cmd,
                            tq_wait_change_fn on_change, void *arg)
{
    struct tq_wait *wt = calloc(1, sizeof *wt);

    if (wt == NULL)
        return NULL;
    wt->base = base;
    wt->cfg = cfg;
    wt->web = web;
    wt->metrics = metrics;
    wt->cmd = cmd;
    wt->on_change = on_change;
    wt->arg = arg;
    wt->table =
        tq_pending_table_new(cfg->queue.hold_seconds, cfg->queue.hold_max, pending_free_timers, wt);
    if (wt->table == NULL) {
        free(wt);
        return NULL;
    }
    return wt;
}

void tq_wait_stop(struct tq_wait *wt)
{
    wt->stopping = 1;
}

struct tq_pending_counts tq_wait_counts(const struct tq_wait *wt)
{
    return tq_pending_counts(wt->table);
}

void tq_wait_free(struct tq_wait *wt)
{
    if (wt == NULL)
        return;
    tq_pending_table_free(wt->table);
    free(wt);
}

/* tq_coord — see tq_coord.h.
 *
 * Ownership:
 * - struct conn: one per client connection that sent a request, owned by the table
 *   co->conns; created by handle_request, freed by on_conn_close (evhttp's close callback,
 *   run while evhttp frees the connection) or by drain_connections just before it frees an
 *   idle connection itself. c->req is the request being answered on it (evhttp's), cleared
 *   by on_req_complete once the reply went out.
 * - struct waiter: owned by its pending entry's list; freed by waiter_finish() once the
 *   request was answered or its client went away. w->req is evhttp's until we answer it
 *   (evhttp_send_reply hands it back) or, when evhttp detached it on a client close, ours to
 *   free in on_conn_close.
 * - struct pending: reference counted. The table holds one reference while the entry is in
 *   it; an outstanding ENQUEUE holds one, so a reply that comes after the entry was removed
 *   (answered, timed out) finds it still allocated and just drops it.
 * - Nothing here frees a hiredis object; tq_rconn owns those. Callbacks from tq_rconn may
 *   answer and free our own objects, never the connection. */
#include "tq_coord.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "tq_cache.h"
#include "tq_cmetrics.h"
#include "tq_event.h"
#include "tq_job.h"
#include "tq_log.h"
#include "tq_queue.h"
#include "tq_rconn.h"
#include "tq_redis.h"
#include "tq_tile_path.h"
#include "tq_web.h"
#include "tq_time.h"

#define CMD_TIMEOUT_MS 2000
#define XREAD_BLOCK_MS 5000
#define XREAD_TIMEOUT_MS (XREAD_BLOCK_MS + 3000)
#define TABLE_SIZE 4096
#define MAX_HEADERS_SIZE (64 * 1024)
#define MAX_BODY_SIZE (64 * 1024)
#define HTTP_TIMEOUT_S 30    /* idle keep-alive connection, and a stall while reading */
#define DEADLINE_SCAN_MS 250 /* how often the read deadline is checked */
#define CONN_TABLE_SIZE 1024
#define DRAIN_FLUSH_MS 500 /* after the grace: time for the last 503s to go out */

struct pending;
struct waiter;

/* A client connection (see Ownership). */
struct conn {
    struct tq_coord *co;
    struct evhttp_connection *evcon; /* NULL until adopted (conn_adopt) */
    struct bufferevent *bev;         /* evcon's, made by on_new_bev; NULL when not ours */
    struct evbuffer_cb_entry *incb;  /* on_conn_input on bev's input buffer */
    struct evhttp_request *req;      /* being answered; NULL between requests */
    struct waiter *w;                /* the waiter holding req, if any */
    int64_t started_us;              /* monotonic time req was dispatched */
    int64_t read_start_us;           /* first byte of the request being read; 0: none */
    int in_table;                    /* in co->conns (else on co->adopt) */
    struct conn *hnext;
};

struct waiter {
    struct pending *p;
    struct evhttp_request *req;
    struct conn *conn; /* req's connection while we watch it; NULL once released */
    struct evhttp_connection *evcon;
    struct tq_tile tile;
    int64_t hold_until_us; /* held (Redis unreachable): 503 after this; 0 when not held */
    const char *label;     /* "miss" or "joined" */
    struct event *peek;    /* watches the client socket for EOF while we wait */
    struct waiter *prev, *next;
};

struct pending {
    struct tq_coord *co;
    char id[TQ_JOB_ID_MAX];
    const struct tq_tileset_config *ts;
    struct tq_job job;
    struct pending *hnext;
    int in_table;
    int refs;
    int enqueues; /* ENQUEUE commands sent */
    int refresh;  /* "done" came with a tile missing: the one refresh ENQUEUE was sent */
    int inflight; /* one is outstanding */
    int held;     /* no ENQUEUE accepted since Redis was last unreachable (pending_hold) */
    struct waiter *head, *tail;
    struct event *timer;   /* render_timeout_seconds, from the last accepted ENQUEUE */
    struct event *hold_ev; /* the earliest hold_until_us of its waiters */
};

struct tq_coord {
    struct event_base *base;
    const struct tq_config *cfg;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    int port;
    struct tq_rconn *cmd;    /* ENQUEUE */
    struct tq_rconn *events; /* XREAD loop on the completion stream */
    struct tq_web *web;      /* TileJSON, catalog, pages, tile response headers */
    struct tq_cmetrics *metrics;
    struct pending *table[TABLE_SIZE];
    size_t npending;
    size_t nwaiters;
    struct conn *conns[CONN_TABLE_SIZE];
    size_t nconns;             /* struct conn allocated (adopted or not) */
    struct conn *adopt;        /* connections accepted, not adopted yet (on_new_bev) */
    struct event *adopt_ev;    /* runs conn_adopt_all */
    int accept_paused;         /* listener disabled: nconns reached http.max_connections */
    struct event *deadline_ev; /* every DEADLINE_SCAN_MS: http.read_deadline_seconds */
    size_t nheld;              /* waiters with hold_until_us set */
    char last_id[64];          /* last completion event seen */
    int have_last_id;
    int draining;           /* tq_coord_drain: 503 + close to new requests, waiters go on */
    int drain_phase;        /* 0 waiting, 1 grace over (flushing the last 503s), 2 done */
    struct event *drain_ev; /* activated whenever something that may end the drain ends */
    struct event *grace_ev;
    void (*drained_cb)(void *arg);
    void *drained_arg;
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

/* Lets the drain check run from the loop (never inside the caller's callback). */
static void drain_poke(struct tq_coord *co)
{
    if (co->draining && co->drain_ev)
        event_active(co->drain_ev, EV_TIMEOUT, 0);
}

/* ---- connections ----------------------------------------------------------------------- */

static size_t conn_hash(const struct evhttp_connection *evcon)
{
    uintptr_t v = (uintptr_t)evcon;
    return (size_t)((v >> 4) ^ (v >> 14)) % CONN_TABLE_SIZE;
}

static struct conn *conn_find(struct tq_coord *co, const struct evhttp_connection *evcon)
{
    struct conn *c = co->conns[conn_hash(evcon)];
    while (c && c->evcon != evcon)
        c = c->hnext;
    return c;
}

/* Accepting again once a connection closed below http.max_connections. */
static void accept_resume(struct tq_coord *co)
{
    struct evconnlistener *lev = co->bound ? evhttp_bound_socket_get_listener(co->bound) : NULL;

    if (!co->accept_paused || co->nconns >= (size_t)co->cfg->http.max_connections)
        return;
    co->accept_paused = 0;
    if (lev && evconnlistener_enable(lev) == 0)
        tq_log_info("accept_resumed", "connections=%zu", co->nconns);
}

/* Takes c out of the table (or the adoption list) and frees it. Its waiter must be gone;
 * c->bev, when set, must still be allocated (it is during evhttp's close callback). */
static void conn_free(struct conn *c)
{
    struct tq_coord *co = c->co;
    struct conn **pp;

    pp = c->in_table ? &co->conns[conn_hash(c->evcon)] : &co->adopt;
    for (; *pp; pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    }
    if (c->incb)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->incb);
    co->nconns--;
    free(c);
    accept_resume(co);
    drain_poke(co);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg);

/* Puts c (with c->evcon set) into the table and installs our close callback. */
static void conn_insert(struct conn *c)
{
    size_t b = conn_hash(c->evcon);

    c->hnext = c->co->conns[b];
    c->co->conns[b] = c;
    c->in_table = 1;
    evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
}

/* The tracked connection of evcon, created when new (a connection on_new_bev did not see).
 * NULL on OOM. Our close callback is (re)installed every time, so a connection is never
 * tracked without it. */
static struct conn *conn_get(struct tq_coord *co, struct evhttp_connection *evcon)
{
    struct conn *c = conn_find(co, evcon);

    if (c) {
        evhttp_connection_set_closecb(evcon, on_conn_close, c);
        return c;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->co = co;
    c->evcon = evcon;
    co->nconns++;
    conn_insert(c);
    return c;
}

/* Bytes arrived on a connection: the first byte of a request starts its read deadline. */
static void on_conn_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;

    (void)buf;
    if (info->n_added > 0 && c->read_start_us == 0 && c->req == NULL)
        c->read_start_us = tq_mono_us();
}

/* evhttp_set_bevcb: evhttp accepted a connection and asks for its bufferevent. We make it,
 * count the connection (stopping accepting at http.max_connections: the listener is
 * disabled before evhttp accepts the next one), watch its input for the read deadline, and
 * adopt it from the loop once evhttp made its evhttp_connection (conn_adopt_all). Until
 * then we hold a reference on bev, so it outlives a failed connection setup. */
static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
    struct tq_coord *co = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct conn *c = bev ? calloc(1, sizeof *c) : NULL;
    struct evconnlistener *lev;

    if (c == NULL)
        return bev; /* evhttp goes on with it; the connection is adopted by conn_get */
    c->co = co;
    c->bev = bev;
    c->incb = evbuffer_add_cb(bufferevent_get_input(bev), on_conn_input, c);
    bufferevent_incref(bev);
    c->hnext = co->adopt;
    co->adopt = c;
    co->nconns++;
    event_active(co->adopt_ev, EV_TIMEOUT, 0);
    if (co->nconns >= (size_t)co->cfg->http.max_connections && !co->accept_paused && co->bound) {
        lev = evhttp_bound_socket_get_listener(co->bound);
        if (lev && evconnlistener_disable(lev) == 0) {
            co->accept_paused = 1;
            tq_log_warn("accept_paused", "connections=%zu max_connections=%d", co->nconns,
                        co->cfg->http.max_connections);
        }
    }
    return bev;
}

/* From the loop, right after on_new_bev (before any read on the new connections): evhttp
 * set each bufferevent's callback argument to its evhttp_connection; track it under it. A
 * bufferevent whose callbacks were cleared was freed by evhttp already (setup failed). */
static void conn_adopt_all(evutil_socket_t fd, short what, void *arg)
{
    struct tq_coord *co = arg;
    struct conn *c;

    (void)fd;
    (void)what;
    while ((c = co->adopt) != NULL) {
        struct bufferevent *bev = c->bev;
        void *cbarg = NULL;
        co->adopt = c->hnext;
        bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
        if (cbarg == NULL) {
            conn_free(c); /* already off the list */
            bufferevent_decref(bev);
            continue;
        }
        c->evcon = cbarg;
        conn_insert(c);
        bufferevent_decref(bev);
    }
}

/* Every DEADLINE_SCAN_MS: closes the connections whose request started arriving more than
 * http.read_deadline_seconds ago and is still not whole (a request being answered, and an
 * idle kept-alive connection, are not concerned: evhttp's idle timeout covers the latter). */
static void on_deadline_scan(evutil_socket_t fd, short what, void *arg)
{
    struct tq_coord *co = arg;
    int64_t now = tq_mono_us(), limit = (int64_t)co->cfg->http.read_deadline_seconds * 1000000;

    (void)fd;
    (void)what;
    for (size_t b = 0; b < CONN_TABLE_SIZE; b++) {
        struct conn *c, *next;
        for (c = co->conns[b]; c; c = next) {
            next = c->hnext;
            if (c->req || c->read_start_us == 0 || now - c->read_start_us < limit)
                continue;
            tq_log_warn("read_deadline", "seconds=%d after_ms=%" PRId64,
                        co->cfg->http.read_deadline_seconds, (now - c->read_start_us) / 1000);
            tq_cmetrics_read_deadline(co->metrics);
            struct evhttp_connection *evcon = c->evcon;
            /* Forget it first (no request, so no waiter), then let evhttp free it. */
            evhttp_connection_set_closecb(evcon, NULL, NULL);
            conn_free(c);
            evhttp_connection_free(evcon);
        }
    }
}

/* The reply to c->req went out (evhttp_send_done): count it. */
static void on_req_complete(struct evhttp_request *req, void *arg)
{
    struct conn *c = arg;
    struct tq_coord *co = c->co;
    const char *label = evhttp_find_header(evhttp_request_get_output_headers(req), "X-Tileq");

    tq_cmetrics_request(co->metrics, evhttp_request_get_response_code(req), label,
                        (double)(tq_mono_us() - c->started_us) / 1e6);
    if (c->req == req) {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
        c->req = NULL;
        /* A pipelined request that arrived meanwhile starts its read deadline now. */
        c->read_start_us =
            bev && evbuffer_get_length(bufferevent_get_input(bev)) > 0 ? tq_mono_us() : 0;
    }
    drain_poke(co);
}

/* ---- HTTP replies ---------------------------------------------------------------------- */

/* A plain-text error (or status) reply: the reason and a newline; label goes into X-Tileq
 * for a 200 or 204 only. */
static void send_text(struct tq_coord *co, struct evhttp_request *req, int code, const char *label,
                      const char *reason, int retry_after)
{
    tq_web_send_text(co->web, req, code, code == 200 || code == 204 ? label : NULL, reason,
                     retry_after);
}

static void waiter_release_conn(struct waiter *w);

/* Answers req from the cache. Returns 1 answered (200/204, or 500 on a read error), 0 when
 * the tile is not cached (req untouched). When req belongs to waiter w, w lets go of the
 * connection's close callback before the reply is sent. */
static int answer_from_cache(struct tq_coord *co, struct evhttp_request *req, const char *tileset,
                             struct tq_tile t, const char *label, struct waiter *w)
{
    char *data = NULL;
    size_t len = 0;
    char err[256], qe[300];
    int rc = tq_cache_read(co->cfg->cache_dir, tileset, t, &data, &len, err, sizeof err);

    if (rc != 0 && w)
        waiter_release_conn(w);
    if (rc == 1)
        tq_web_send_tile(co->web, req, label, data, len);
    else if (rc < 0) {
        tq_log_error("cache_read_failed", "tileset=%s z=%d x=%" PRIu32 " y=%" PRIu32 " error=%s",
                     tileset, t.z, t.x, t.y, q(err, qe, sizeof qe));
        send_text(co, req, 500, label, "cache read failed", 0);
    }
    free(data);
    return rc != 0;
}

/* ---- pending table --------------------------------------------------------------------- */

static size_t hash_id(const char *id)
{
    uint32_t h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % TABLE_SIZE;
}

static struct pending *pending_find(struct tq_coord *co, const char *id)
{
    struct pending *p = co->table[hash_id(id)];
    while (p && strcmp(p->id, id) != 0)
        p = p->hnext;
    return p;
}

static void pending_unref(struct pending *p)
{
    if (--p->refs > 0)
        return;
    if (p->timer)
        event_free(p->timer);
    if (p->hold_ev)
        event_free(p->hold_ev);
    free(p);
}

/* Takes p out of the table (dropping the table's reference). Its waiters must be gone. */
static void pending_remove(struct pending *p)
{
    struct pending **pp;

    if (!p->in_table)
        return;
    for (pp = &p->co->table[hash_id(p->id)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == p) {
            *pp = p->hnext;
            break;
        }
    }
    p->in_table = 0;
    p->co->npending--;
    evtimer_del(p->timer);
    evtimer_del(p->hold_ev);
    drain_poke(p->co);
    pending_unref(p);
}

static void on_render_timeout(evutil_socket_t fd, short what, void *arg);
static void on_hold_timeout(evutil_socket_t fd, short what, void *arg);

/* A new entry, in the table, with no waiter; its render timer starts when an ENQUEUE is
 * accepted (pending_accepted). NULL on OOM. */
static struct pending *pending_new(struct tq_coord *co, const struct tq_tileset_config *ts,
                                   const struct tq_job *job, const char *id)
{
    struct pending *p = calloc(1, sizeof *p);
    size_t b;

    if (p == NULL)
        return NULL;
    p->co = co;
    p->ts = ts;
    p->job = *job;
    snprintf(p->id, sizeof p->id, "%s", id);
    p->timer = evtimer_new(co->base, on_render_timeout, p);
    p->hold_ev = evtimer_new(co->base, on_hold_timeout, p);
    if (p->timer == NULL || p->hold_ev == NULL) {
        if (p->timer)
            event_free(p->timer);
        if (p->hold_ev)
            event_free(p->hold_ev);
        free(p);
        return NULL;
    }
    b = hash_id(id);
    p->hnext = co->table[b];
    co->table[b] = p;
    p->in_table = 1;
    p->refs = 1;
    co->npending++;
    return p;
}

/* ---- waiters --------------------------------------------------------------------------- */

static void waiter_finish(struct waiter *w);
static void hold_arm(struct pending *p);

/* Holding is on (queue.hold_seconds and queue.hold_max both above 0). */
static int hold_enabled(const struct tq_coord *co)
{
    return co->cfg->queue.hold_seconds > 0 && co->cfg->queue.hold_max > 0;
}

/* Starts w's hold: a 503 at now + hold_seconds unless Redis takes its job before. */
static void waiter_hold(struct waiter *w, int64_t now)
{
    if (w->hold_until_us != 0)
        return;
    w->hold_until_us = now + (int64_t)w->p->co->cfg->queue.hold_seconds * 1000000;
    w->p->co->nheld++;
}

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
static void pending_release(struct pending *p)
{
    struct tq_job_keys k;

    if (p->head != NULL || p->enqueues == 0 || !p->in_table)
        return;
    tq_queue_job_keys(p->id, &k);
    tq_rconn_command(p->co->cmd, CMD_TIMEOUT_MS, on_release_reply, NULL, TQ_RELEASE_FMT,
                     TQ_LUA_RELEASE, k.job, p->id);
}

/* libevent 2.1 stops reading a connection while its request is being answered, so a
 * client that leaves is not noticed until we write. Peek at the socket instead: EOF or an
 * error means the client is gone, and freeing the connection runs on_client_close. Data (a
 * pipelined request) means it is still there; stop watching and leave it to evhttp. */
static void on_peek(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;
    struct pending *p = w->p;
    struct evhttp_connection *evcon = w->evcon;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n > 0 || evcon == NULL)
        return;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        event_add(w->peek, NULL);
        return;
    }
    tq_log_debug("client_gone", "id=%s", p->id);
    w->req = NULL;    /* evhttp frees it with the connection */
    waiter_finish(w); /* clears the close callback, frees this (non-persistent) event and w */
    evhttp_connection_free(evcon);
    if (p->head == NULL) {
        pending_release(p);
        pending_remove(p);
    }
}

static void waiter_watch(struct tq_coord *co, struct waiter *w)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(w->evcon);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

    if (fd < 0)
        return;
    w->peek = event_new(co->base, fd, EV_READ, on_peek, w);
    if (w->peek && event_add(w->peek, NULL) != 0) {
        event_free(w->peek);
        w->peek = NULL;
    }
}

/* Adds a waiter for req (arriving on tracked connection c) to p. NULL on OOM. */
static struct waiter *waiter_add(struct pending *p, struct evhttp_request *req, struct conn *c,
                                 struct tq_tile t)
{
    struct waiter *w = calloc(1, sizeof *w);

    if (w == NULL)
        return NULL;
    w->p = p;
    w->req = req;
    w->tile = t;
    w->label = "joined";
    w->conn = c;
    w->evcon = c->evcon;
    c->w = w;
    waiter_watch(p->co, w);
    w->prev = p->tail;
    if (p->tail)
        p->tail->next = w;
    else
        p->head = w;
    p->tail = w;
    p->co->nwaiters++;
    if (p->held) {
        waiter_hold(w, tq_mono_us());
        hold_arm(p);
    }
    return w;
}

/* Stops watching w's connection: call before answering w->req (the connection may carry
 * the client's next request, which is not ours). */
static void waiter_release_conn(struct waiter *w)
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
static void waiter_finish(struct waiter *w)
{
    struct pending *p = w->p;

    waiter_release_conn(w);
    if (w->prev)
        w->prev->next = w->next;
    else
        p->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->tail = w->prev;
    p->co->nwaiters--;
    if (w->hold_until_us != 0)
        p->co->nheld--;
    free(w);
}

/* evhttp frees a client connection (closed by the client, timed out, or by us). A waiter
 * on it forgets its request, never answers it: when evhttp detached the request from the
 * connection (a client close while we held it), the request is ours to free; otherwise
 * evhttp frees it next. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct conn *c = arg;
    struct waiter *w = c->w;

    (void)evcon;
    if (w) {
        struct pending *p = w->p;
        if (w->req && evhttp_request_get_connection(w->req) == NULL)
            evhttp_request_free(w->req);
        w->req = NULL;
        c->w = NULL;
        w->conn = NULL;
        w->evcon = NULL; /* being freed: waiter_finish must not touch it */
        tq_log_debug("client_gone", "id=%s", p->id);
        waiter_finish(w);
        if (p->head == NULL) {
            pending_release(p);
            pending_remove(p);
        }
    }
    conn_free(c);
}

/* Answers every waiter of p with an error and removes p. */
static void pending_fail(struct pending *p, int code, const char *reason, int retry_after)
{
    struct waiter *w, *next;

    for (w = p->head; w; w = next) {
        next = w->next;
        waiter_release_conn(w);
        if (w->req)
            send_text(p->co, w->req, code, w->label, reason, retry_after);
        waiter_finish(w);
    }
    pending_remove(p);
}

static int pending_enqueue(struct pending *p);

/* ---- holding while Redis is unreachable -------------------------------------------------
 *
 *   (miss, Redis unreachable) ──▶ HELD ──(Redis back: reenqueue_all; ENQUEUE accepted)──▶ waiting
 *   waiting ──(command connection lost: hold_all; ENQUEUE failed for a connection reason:
 *              on_enqueue_reply)──▶ HELD
 *   HELD ──(a waiter's hold_until_us passes: on_hold_timeout)──▶ its tile from the cache, else
 *          503 + Retry-After (the others stay held)
 * A held entry has no render timer; each accepted ENQUEUE starts render_timeout_seconds
 * afresh (pending_accepted), so a request waits at most hold_seconds for Redis, then
 * render_timeout_seconds for its render, per outage it meets. */

/* Arms p's hold timer for the earliest deadline of its held waiters. */
static void hold_arm(struct pending *p)
{
    int64_t first = 0, now = tq_mono_us();
    struct timeval tv;

    for (struct waiter *w = p->head; w; w = w->next) {
        if (w->hold_until_us != 0 && (first == 0 || w->hold_until_us < first))
            first = w->hold_until_us;
    }
    if (first == 0) {
        evtimer_del(p->hold_ev);
        return;
    }
    first = first > now ? first - now : 0;
    tv.tv_sec = (time_t)(first / 1000000);
    tv.tv_usec = (suseconds_t)(first % 1000000);
    evtimer_add(p->hold_ev, &tv);
}

/* p waits for Redis: its render timer stops, each waiter's hold starts (if not running). */
static void pending_hold(struct pending *p, const char *why)
{
    int64_t now = tq_mono_us();

    if (!p->held)
        tq_log_info("hold", "id=%s reason=%s seconds=%d", p->id, why,
                    p->co->cfg->queue.hold_seconds);
    p->held = 1;
    evtimer_del(p->timer);
    for (struct waiter *w = p->head; w; w = w->next)
        waiter_hold(w, now);
    hold_arm(p);
}

/* An ENQUEUE of p was accepted: its waiters are held no more, and the render timer starts
 * (again, after a hold) from now. */
static void pending_accepted(struct pending *p)
{
    struct timeval tv = {p->co->cfg->queue.render_timeout_seconds, 0};

    if (!p->held && evtimer_pending(p->timer, NULL))
        return;
    if (p->held)
        tq_log_info("hold_end", "id=%s", p->id);
    p->held = 0;
    for (struct waiter *w = p->head; w; w = w->next) {
        if (w->hold_until_us != 0) {
            w->hold_until_us = 0;
            p->co->nheld--;
        }
    }
    evtimer_del(p->hold_ev);
    evtimer_add(p->timer, &tv);
}

/* The holds that ran out: such a waiter gets its tile if it is in the cache now, else 503
 * with Retry-After. */
static void on_hold_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct pending *p = arg;
    struct tq_coord *co = p->co;
    struct waiter *w, *next;
    int64_t now = tq_mono_us();
    int expired = 0;

    (void)fd;
    (void)what;
    for (w = p->head; w; w = next) {
        next = w->next;
        if (w->hold_until_us == 0 || w->hold_until_us > now || w->req == NULL)
            continue;
        if (!answer_from_cache(co, w->req, p->ts->name, w->tile, w->label, w)) {
            waiter_release_conn(w);
            send_text(co, w->req, 503, w->label, "queue unavailable", 1);
            tq_cmetrics_hold_expired(co->metrics, 0);
            expired++;
        }
        waiter_finish(w);
    }
    if (expired > 0)
        tq_log_warn("hold_expired", "id=%s answered_503=%d seconds=%d", p->id, expired,
                    co->cfg->queue.hold_seconds);
    if (p->head == NULL) {
        pending_remove(p);
        return;
    }
    hold_arm(p);
}

/* Sends p's ENQUEUE; when it cannot be sent (Redis unreachable) p is held, or, with holding
 * off, answered 503. */
static void pending_enqueue_or_hold(struct pending *p)
{
    if (pending_enqueue(p) == 0)
        return;
    if (hold_enabled(p->co))
        pending_hold(p, "redis_down");
    else
        pending_fail(p, 503, "queue unavailable", 1);
}

/* Command connection lost: every entry waits for Redis (its job may be lost with it). */
static void hold_all(struct tq_coord *co)
{
    for (size_t b = 0; b < TABLE_SIZE; b++) {
        for (struct pending *p = co->table[b]; p; p = p->hnext)
            pending_hold(p, "redis_down");
    }
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
static void pending_recheck(struct pending *p, enum recheck_mode mode)
{
    struct waiter *w, *next;

    for (w = p->head; w; w = next) {
        next = w->next;
        if (w->req && answer_from_cache(p->co, w->req, p->ts->name, w->tile, w->label, w))
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
    struct pending *p = arg;

    tq_log_warn("render_timeout", "id=%s seconds=%d", p->id,
                p->co->cfg->queue.render_timeout_seconds);
    pending_fail(p, 504, "render timed out", 0);
}

/* ---- ENQUEUE --------------------------------------------------------------------------- */

static void on_enqueue_reply(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    struct pending *p = arg;
    enum tq_enqueue_result res;
    char qe[256];

    p->inflight = 0;
    if (!p->in_table || p->head == NULL || p->co->stopping)
        goto cleanup;
    res = reply ? tq_enqueue_result_from_reply(reply) : TQ_ENQ_ERROR;
    tq_cmetrics_enqueue(p->co->metrics, res);
    switch (res) {
    case TQ_ENQ_NEW:
        for (struct waiter *w = p->head; w; w = w->next) {
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
        size_t n = 0;
        for (struct waiter *w = p->head; w; w = w->next)
            n += w->req != NULL;
        tq_cmetrics_dead_answers(p->co->metrics, n);
        tq_log_info("job_dead_cooling", "id=%s requests=%zu error=%s", p->id, n,
                    q(why, qe, sizeof qe));
        pending_fail(p, 500, why && *why ? why : "render failed", 0);
        break;
    }
    case TQ_ENQ_ERROR:
    default:
        tq_log_error(
            "enqueue_failed", "id=%s error=%s", p->id,
            q(reply ? (reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply") : err,
              qe, sizeof qe));
        if (hold_enabled(p->co) && enqueue_error_is_transient(reply, err)) {
            /* Held until the command connection is UP (again): drop it when it still
             * looks UP (a stuck connection, a replica, a loading server), so that it
             * reconnects and reenqueue_all sends the job. */
            pending_hold(p, reply ? "redis_error" : err);
            if (tq_rconn_is_up(rc))
                tq_rconn_reset(rc);
            break;
        }
        pending_fail(p, 503, "queue unavailable", 1);
        break;
    }
cleanup:
    pending_unref(p);
}

/* Sends the ENQUEUE script for p. Returns 0, or -1 when it could not be sent. */
static int pending_enqueue(struct pending *p)
{
    struct tq_coord *co = p->co;
    char *payload = NULL;
    size_t len = 0;
    int rv = -1;
    struct tq_job_keys k;

    p->job.enqueued_ms = tq_now_ms();
    if (tq_job_encode(&p->job, &payload, &len) != 0)
        goto cleanup;
    tq_queue_job_keys(p->id, &k);
    if (tq_rconn_command(
            co->cmd, CMD_TIMEOUT_MS, on_enqueue_reply, p, TQ_ENQUEUE_FMT, TQ_LUA_ENQUEUE, k.job,
            k.done, p->id, (int)TQ_CLASS_INTERACTIVE, payload, len,
            co->cfg->queue.cap[TQ_CLASS_INTERACTIVE],
            /* a second enqueue follows "done" with the tile missing (re-sending the job after
             * Redis was away is not one: a "done" marker then still answers) */
            tq_enqueue_mode_name(p->refresh ? TQ_ENQ_MODE_REFRESH : TQ_ENQ_MODE_REQUEST),
            (long long)co->cfg->queue.dead_cooldown_seconds * 1000,
            /* hold: the first enqueue of this entry counts this coordinator as a holder */
            p->enqueues == 0) != 0)
        goto cleanup;
    p->refs++;
    p->inflight = 1;
    p->enqueues++;
    rv = 0;
cleanup:
    free(payload);
    return rv;
}

/* ---- completion events ----------------------------------------------------------------- */

static void events_read(struct tq_coord *co);

static void recheck_all(struct tq_coord *co)
{
    for (size_t b = 0; b < TABLE_SIZE; b++) {
        struct pending *p, *next;
        for (p = co->table[b]; p; p = next) {
            next = p->hnext;
            pending_recheck(p, RECHECK_WAIT);
        }
    }
}

/* After an outage Redis may have lost the queue (a restart without persistence): answer
 * the waiters whose tile reached the cache meanwhile, then enqueue every entry still
 * waiting once more. "coalesced"/"running" when the job is still there, "new" when it was
 * lost. An entry whose ENQUEUE cannot be sent stays held (or waits, with holding off). */
static void reenqueue_all(struct tq_coord *co)
{
    for (size_t b = 0; b < TABLE_SIZE; b++) {
        struct pending *p, *next;
        for (p = co->table[b]; p; p = next) {
            next = p->hnext;
            if (p->inflight)
                continue;
            p->refs++; /* pending_recheck may remove it */
            if (p->held)
                pending_recheck(p, RECHECK_WAIT);
            if (p->in_table && pending_enqueue(p) != 0 && hold_enabled(co))
                pending_hold(p, "redis_down");
            pending_unref(p);
        }
    }
}

/* One completion event (tq_event_each): moves past it and answers its waiters. */
static void handle_event(const struct tq_event *ev, void *arg)
{
    struct tq_coord *co = arg;
    const char *id = ev->job_id, *error = ev->error;
    struct pending *p;
    char qe[300];

    snprintf(co->last_id, sizeof co->last_id, "%s", ev->stream_id);
    p = id ? pending_find(co, id) : NULL;
    if (p == NULL)
        return;
    if (ev->status == TQ_EV_OK) {
        pending_recheck(p, RECHECK_RENDERED);
    } else if (ev->status == TQ_EV_PARTIAL) {
        /* The job's first tile is in the cache, the rest is still rendering: answer whoever
         * waits for a tile that is there; the others wait on for "ok"/"dead" (the entry
         * goes only when nobody is left, as when clients leave). */
        pending_recheck(p, RECHECK_WAIT);
    } else if (ev->status == TQ_EV_DEAD) {
        tq_log_warn("job_dead", "id=%s error=%s", id, q(error, qe, sizeof qe));
        pending_fail(p, 500, error && *error ? error : "render failed", 0);
    }
}

static void on_events(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    struct tq_coord *co = arg;
    char qe[256];

    if (co->stopping)
        return;
    if (reply == NULL) {
        /* "disconnected": the UP callback restarts the loop; a timeout means the connection
         * is stuck, so drop it. */
        if (strcmp(err, "timeout") == 0) {
            tq_log_warn("events_timeout", "after_ms=%d", XREAD_TIMEOUT_MS);
            tq_rconn_reset(rc);
        }
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        tq_log_error("events_read_failed", "error=%s", q(reply->str, qe, sizeof qe));
        tq_rconn_reset(rc);
        return;
    }
    tq_event_each(reply, handle_event, co);
    events_read(co); /* nil reply: BLOCK timed out with nothing new */
}

static void events_read(struct tq_coord *co)
{
    if (co->stopping)
        return;
    /* -1 means the connection is down; the UP callback restarts the loop. */
    tq_rconn_command(co->events, XREAD_TIMEOUT_MS, on_events, co,
                     "XREAD BLOCK %d COUNT 100 STREAMS %s %s", XREAD_BLOCK_MS, TQ_QUEUE_EVENTS_KEY,
                     co->last_id);
}

static void on_last_id(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    struct tq_coord *co = arg;
    char qe[256];

    if (co->stopping)
        return;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        tq_log_error(
            "events_last_id_failed", "error=%s",
            q(reply ? (reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply") : err,
              qe, sizeof qe));
        tq_rconn_reset(rc);
        return;
    }
    snprintf(co->last_id, sizeof co->last_id, "0-0");
    if (reply->elements > 0) {
        const redisReply *ent = reply->element[0];
        if (ent->type == REDIS_REPLY_ARRAY && ent->elements > 0 &&
            ent->element[0]->type == REDIS_REPLY_STRING)
            snprintf(co->last_id, sizeof co->last_id, "%s", ent->element[0]->str);
    }
    co->have_last_id = 1;
    tq_log_info("events_start", "stream=%s from=%s", TQ_QUEUE_EVENTS_KEY, co->last_id);
    recheck_all(co);
    events_read(co);
}

static void on_events_state(struct tq_rconn *rc, int up, void *arg)
{
    struct tq_coord *co = arg;

    if (!up || co->stopping)
        return;
    if (!co->have_last_id) {
        if (tq_rconn_command(rc, CMD_TIMEOUT_MS, on_last_id, co, "XREVRANGE %s + - COUNT 1",
                             TQ_QUEUE_EVENTS_KEY) != 0)
            tq_rconn_reset(rc);
        return;
    }
    /* Reconnected: continue after the last event seen, and look at the cache for every
     * waiter in case a completion slipped by while the connection was down. */
    tq_log_info("events_resume", "stream=%s from=%s pending=%zu", TQ_QUEUE_EVENTS_KEY, co->last_id,
                co->npending);
    recheck_all(co);
    events_read(co);
}

static void on_cmd_state(struct tq_rconn *rc, int up, void *arg)
{
    struct tq_coord *co = arg;

    if (co->stopping)
        return;
    if (up)
        reenqueue_all(co);
    else if (hold_enabled(co))
        hold_all(co);
}

/* ---- request handling ------------------------------------------------------------------ */

static void serve_tile(struct tq_coord *co, struct evhttp_request *req, struct conn *c,
                       const struct tq_tileset_config *ts, struct tq_tile t)
{
    struct tq_job job;
    char id[TQ_JOB_ID_MAX];
    struct pending *p;

    if (answer_from_cache(co, req, ts->name, t, "hit", NULL))
        return;
    if (c == NULL) { /* no connection to watch (OOM): cannot wait safely */
        send_text(co, req, 500, NULL, "out of memory", 0);
        return;
    }
    if (tq_job_init(&job, ts->name, t, ts->metatile, TQ_CLASS_INTERACTIVE, TQ_REASON_REQUEST,
                    tq_now_ms()) != 0) {
        send_text(co, req, 500, NULL, "cannot make a job", 0);
        return;
    }
    tq_job_id(&job, id, sizeof id);
    p = pending_find(co, id);
    if (p && p->held && co->nheld >= (size_t)co->cfg->queue.hold_max) {
        tq_cmetrics_hold_expired(co->metrics, 1);
        send_text(co, req, 503, NULL, "queue unavailable", 1);
        return;
    }
    if (p) {
        if (waiter_add(p, req, c, t) == NULL)
            send_text(co, req, 500, NULL, "out of memory", 0);
        return;
    }
    /* Redis unreachable: hold the request (pending_hold) unless holding is off or full. */
    if (!tq_rconn_is_up(co->cmd) &&
        (!hold_enabled(co) || co->nheld >= (size_t)co->cfg->queue.hold_max)) {
        if (hold_enabled(co))
            tq_cmetrics_hold_expired(co->metrics, 1);
        send_text(co, req, 503, NULL, "queue unavailable", 1);
        return;
    }
    /* The worker renders (and announces) this request's tile first. */
    job.has_first = 1;
    job.first_x = t.x;
    job.first_y = t.y;
    p = pending_new(co, ts, &job, id);
    if (p == NULL) {
        send_text(co, req, 500, NULL, "out of memory", 0);
        return;
    }
    if (waiter_add(p, req, c, t) == NULL) {
        send_text(co, req, 500, NULL, "out of memory", 0);
        pending_remove(p);
        return;
    }
    pending_enqueue_or_hold(p);
}

static void handle_request(struct evhttp_request *req, void *arg)
{
    struct tq_coord *co = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct conn *c = evcon ? conn_get(co, evcon) : NULL;
    struct tq_tile_path tp;
    const struct tq_tileset_config *ts;
    const char *why = NULL;

    if (c) {
        c->req = req;
        c->read_start_us = 0; /* read whole */
        c->started_us = tq_mono_us();
        evhttp_request_set_on_complete_cb(req, on_req_complete, c);
    }
    if (co->draining || co->stopping) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        send_text(co, req, 503, NULL, "shutting down", 1);
        return;
    }
    /* Length before anything else. */
    if (uri == NULL || strnlen(uri, TQ_TILE_PATH_MAX + 1) > TQ_TILE_PATH_MAX) {
        send_text(co, req, 400, NULL, "path too long", 0);
        return;
    }
    if (method == EVHTTP_REQ_OPTIONS) {
        tq_web_send_preflight(co->web, req);
        return;
    }
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD, OPTIONS");
        send_text(co, req, 405, NULL, "method not allowed", 0);
        return;
    }
    switch (tq_tile_path_parse(uri, &tp, &why)) {
    case TQ_TILE_PATH_OK:
        break;
    case TQ_TILE_PATH_MALFORMED:
        send_text(co, req, 400, NULL, why, 0);
        return;
    case TQ_TILE_PATH_OUTSIDE:
        send_text(co, req, 404, NULL, why, 0);
        return;
    case TQ_TILE_PATH_NOT_TILE:
    default:
        if (tq_tile_path_is(uri, "/metrics")) {
            struct tq_cmetrics_state st = {
                .waiters = co->nwaiters,
                .pending = co->npending,
                .held = co->nheld,
                .connections = co->nconns,
                .reconnects_cmd = tq_rconn_reconnects(co->cmd),
                .reconnects_events = tq_rconn_reconnects(co->events),
            };
            tq_cmetrics_serve(co->metrics, req, co->cmd, co->web, &st);
        } else if (tq_tile_path_is(uri, "/health")) {
            if (tq_rconn_is_up(co->cmd))
                send_text(co, req, 200, NULL, "ok", 0);
            else
                send_text(co, req, 503, NULL, "redis unavailable", 1);
        } else if (tq_web_route(co->web, req, uri)) {
            /* answered (or will be) */
        } else {
            send_text(co, req, 404, NULL, "not found", 0);
        }
        return;
    }
    ts = tq_config_tileset(co->cfg, tp.tileset);
    if (ts == NULL) {
        send_text(co, req, 404, NULL, "unknown tileset", 0);
        return;
    }
    if (tp.tile.z < ts->minzoom || tp.tile.z > ts->maxzoom) {
        send_text(co, req, 404, NULL, "zoom outside the tileset's range", 0);
        return;
    }
    serve_tile(co, req, c, ts, tp.tile);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void drain_finish(struct tq_coord *co, const char *how)
{
    if (co->drain_phase == 2)
        return;
    co->drain_phase = 2;
    evtimer_del(co->grace_ev);
    tq_log_info("drained", "how=%s waiters=%zu connections=%zu", how, co->nwaiters, co->nconns);
    if (co->drained_cb)
        co->drained_cb(co->drained_arg);
}

/* Run from the loop after anything that may end the drain. */
static void on_drain_check(evutil_socket_t fd, short what, void *arg)
{
    struct tq_coord *co = arg;

    (void)fd;
    (void)what;
    if (co->draining && co->npending == 0 && co->nconns == 0)
        drain_finish(co, "done");
}

static void on_drain_grace(evutil_socket_t fd, short what, void *arg)
{
    struct tq_coord *co = arg;
    struct timeval flush = {0, DRAIN_FLUSH_MS * 1000};
    size_t failed = co->nwaiters;

    (void)fd;
    (void)what;
    if (co->drain_phase == 1) {
        drain_finish(co, "grace_over");
        return;
    }
    /* Grace over: what still waits gets 503 (a load balancer retries it elsewhere); the
     * replies get a moment to go out. */
    co->drain_phase = 1;
    tq_log_warn("drain_grace_over", "waiters=%zu pending=%zu connections=%zu", failed, co->npending,
                co->nconns);
    for (size_t b = 0; b < TABLE_SIZE; b++) {
        while (co->table[b])
            pending_fail(co->table[b], 503, "shutting down", 1);
    }
    evtimer_add(co->grace_ev, &flush);
    drain_poke(co);
}

/* Closes the connections that wait for a next request with nothing received yet, and
 * marks the requests in progress to close their connection after the reply. */
static void drain_connections(struct tq_coord *co)
{
    size_t closed = 0, marked = 0;

    for (size_t b = 0; b < CONN_TABLE_SIZE; b++) {
        struct conn *c = co->conns[b], *next;
        for (; c; c = next) {
            next = c->hnext;
            if (c->req) {
                struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
                if (evhttp_find_header(h, "Connection") == NULL)
                    evhttp_add_header(h, "Connection", "close");
                marked++;
                continue;
            }
            struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
            if (bev && evbuffer_get_length(bufferevent_get_input(bev)) > 0)
                continue; /* a request is arriving: it gets 503 + close */
            struct evhttp_connection *evcon = c->evcon;
            /* Forget it first, so evhttp's close callback does not run on a freed conn. */
            evhttp_connection_set_closecb(evcon, NULL, NULL);
            conn_free(c);
            evhttp_connection_free(evcon);
            closed++;
        }
    }
    tq_log_info("draining", "idle_closed=%zu busy=%zu waiters=%zu pending=%zu", closed, marked,
                co->nwaiters, co->npending);
}

void tq_coord_drain(struct tq_coord *co, int grace_seconds, void (*done)(void *arg), void *arg)
{
    struct timeval grace = {grace_seconds > 0 ? grace_seconds : 0, 0};

    if (co->draining || co->stopping)
        return;
    co->draining = 1;
    co->drained_cb = done;
    co->drained_arg = arg;
    if (co->http && co->bound) {
        evhttp_del_accept_socket(co->http, co->bound);
        co->bound = NULL;
    }
    drain_connections(co);
    evtimer_add(co->grace_ev, &grace);
    drain_poke(co);
}

static int bound_port(struct evhttp_bound_socket *bound)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

struct tq_coord *tq_coord_new(struct event_base *base, const struct tq_config *cfg, char *err,
                              size_t errsize)
{
    struct tq_coord *co = calloc(1, sizeof *co);
    char *host = NULL, *password = NULL;
    int port = 0, db = 0, ok = 0;

    if (co == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    co->base = base;
    co->cfg = cfg;
    snprintf(co->last_id, sizeof co->last_id, "$");
    co->metrics = tq_cmetrics_new();
    co->drain_ev = event_new(base, -1, 0, on_drain_check, co);
    co->grace_ev = evtimer_new(base, on_drain_grace, co);
    co->adopt_ev = event_new(base, -1, 0, conn_adopt_all, co);
    co->deadline_ev = event_new(base, -1, EV_PERSIST, on_deadline_scan, co);
    if (co->metrics == NULL || co->drain_ev == NULL || co->grace_ev == NULL ||
        co->adopt_ev == NULL || co->deadline_ev == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    if (tq_redis_url_parse(cfg->redis_url, &host, &port, &password, &db) != 0) {
        snprintf(err, errsize, "bad redis_url: %s", cfg->redis_url);
        goto cleanup;
    }
    co->http = evhttp_new(base);
    if (co->http == NULL) {
        snprintf(err, errsize, "evhttp_new failed");
        goto cleanup;
    }
    /* Let every method through to handle_request (405 there); a request line or headers up
     * to 64 KB reach us too, so a long path gets our 400 rather than evhttp's 413. */
    evhttp_set_allowed_methods(co->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                             EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(co->http, MAX_HEADERS_SIZE);
    evhttp_set_max_body_size(co->http, MAX_BODY_SIZE);
    evhttp_set_timeout(co->http, HTTP_TIMEOUT_S);
    evhttp_set_gencb(co->http, handle_request, co);
    /* Every connection is counted from its accept (http.max_connections) and its requests
     * timed from their first byte (http.read_deadline_seconds). */
    evhttp_set_bevcb(co->http, on_new_bev, co);
    {
        struct timeval scan = {0, DEADLINE_SCAN_MS * 1000};
        if (event_add(co->deadline_ev, &scan) != 0) {
            snprintf(err, errsize, "event_add failed");
            goto cleanup;
        }
    }
    co->bound = evhttp_bind_socket_with_handle(co->http, cfg->listen_host, cfg->listen_port);
    if (co->bound == NULL) {
        snprintf(err, errsize, "cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port,
                 strerror(errno));
        goto cleanup;
    }
    co->port = bound_port(co->bound);
    co->cmd = tq_rconn_new(base, "command", cfg, on_cmd_state, co);
    co->events = tq_rconn_new(base, "events", cfg, on_events_state, co);
    if (co->cmd == NULL || co->events == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    co->web = tq_web_new(cfg, co->cmd);
    if (co->web == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    tq_rconn_start(co->cmd);
    tq_rconn_start(co->events);
    tq_log_info("listening", "host=%s port=%d redis=%s:%d db=%d cache_dir=%s tilesets=%zu",
                cfg->listen_host, co->port, host, port, db, cfg->cache_dir, cfg->ntilesets);
    ok = 1;
cleanup:
    free(host);
    free(password);
    if (!ok && co) {
        tq_coord_free(co);
        co = NULL;
    }
    return co;
}

int tq_coord_port(const struct tq_coord *co)
{
    return co->port;
}

void tq_coord_shutdown(struct tq_coord *co)
{
    size_t answered = 0;

    if (co->stopping)
        return;
    co->stopping = 1;
    if (co->http && co->bound) {
        evhttp_del_accept_socket(co->http, co->bound);
        co->bound = NULL;
    }
    for (size_t b = 0; b < TABLE_SIZE; b++) {
        while (co->table[b]) {
            struct pending *p = co->table[b];
            for (struct waiter *w = p->head; w; w = w->next)
                answered++;
            pending_fail(p, 503, "shutting down", 1);
        }
    }
    /* Outstanding commands fail with "shutdown" now; their callbacks see co->stopping (held
     * TileJSON requests are answered from what is known). */
    tq_web_detach(co->web);
    tq_rconn_free(co->cmd);
    co->cmd = NULL;
    tq_rconn_free(co->events);
    co->events = NULL;
    tq_log_info("shutdown", "answered_503=%zu", answered);
}

void tq_coord_free(struct tq_coord *co)
{
    if (co == NULL)
        return;
    tq_coord_shutdown(co);
    if (co->http)
        evhttp_free(co->http); /* runs on_conn_close for every connection left */
    for (size_t b = 0; b < CONN_TABLE_SIZE; b++) {
        while (co->conns[b]) {
            co->conns[b]->incb = NULL; /* its bufferevent may be gone */
            conn_free(co->conns[b]);
        }
    }
    while (co->adopt) { /* accepted in the last loop turn: we still hold its bufferevent */
        struct conn *c = co->adopt;
        struct bufferevent *bev = c->bev;
        conn_free(c);
        bufferevent_decref(bev);
    }
    tq_web_free(co->web);
    tq_cmetrics_free(co->metrics);
    if (co->drain_ev)
        event_free(co->drain_ev);
    if (co->grace_ev)
        event_free(co->grace_ev);
    if (co->adopt_ev)
        event_free(co->adopt_ev);
    if (co->deadline_ev)
        event_free(co->deadline_ev);
    free(co);
}

/* tq_coord — see tq_coord.h.
 *
 * The parts, each in a file of its own:
 *   tq_conns    client connections: the cap, the read deadline, request accounting
 *   tq_wait     the requests waiting for a render: ENQUEUE, holds, timers, answers
 *   tq_pending  its table of entries and waiters (pure data)
 *   tq_events   the completion-event reader (its own Redis connection)
 *   tq_rconn    the Redis connections; tq_web the non-tile routes; tq_cmetrics /metrics
 * This file routes the requests, follows the command connection's state, and runs the
 * server's lifecycle: start, graceful drain, shutdown.
 *
 * Ownership: the coordinator owns every part above; the parts call back into it only
 * through the hooks set here (a connection closing with a waiter, something the drain
 * waits for ending, a completion event, a connection state change). */
#include "tq_coord.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/http.h>
#include <event2/listener.h>

#include "tq_access.h"
#include "tq_cmetrics.h"
#include "tq_conns.h"
#include "tq_events.h"
#include "tq_log.h"
#include "tq_rconn.h"
#include "tq_redis.h"
#include "tq_secret.h"
#include "tq_tile_path.h"
#include "tq_wait.h"
#include "tq_web.h"

#define MAX_HEADERS_SIZE (64 * 1024)
#define MAX_BODY_SIZE (64 * 1024)
#define HTTP_TIMEOUT_S 30  /* idle keep-alive connection, and a stall while reading */
#define DRAIN_FLUSH_MS 500 /* after the grace: time for the last 503s to go out */

struct tq_coord {
    struct event_base *base;
    const struct tq_config *cfg;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct tq_rconn *cmd;     /* ENQUEUE, RELEASE, schema and /metrics reads */
    struct tq_events *events; /* XREAD loop on the completion stream */
    struct tq_web *web;       /* TileJSON, catalog, pages, tile response headers */
    struct tq_cmetrics *metrics;
    struct tq_conns *conns; /* client connections */
    struct tq_wait *wait;   /* requests waiting for a render */
    int draining;           /* tq_coord_drain: 503 + close to new requests, waiters go on */
    int drain_phase;        /* 0 waiting, 1 grace over (flushing the last 503s), 2 done */
    struct event *drain_ev; /* activated whenever something that may end the drain ends */
    struct event *grace_ev;
    void (*drained_cb)(void *arg);
    void *drained_arg;
    int stopping;
};

static void send_text(struct tq_coord *co, struct evhttp_request *req, int code, const char *reason,
                      int retry_after)
{
    tq_web_send_text(co->web, req, code, NULL, reason, retry_after);
}

/* Lets the drain check run from the loop (never inside the caller's callback). */
static void drain_poke(void *arg)
{
    struct tq_coord *co = arg;

    if (co->draining && co->drain_ev)
        event_active(co->drain_ev, EV_TIMEOUT, 0);
}

/* ---- the parts' hooks ------------------------------------------------------------------ */

static void on_conn_close(struct tq_conn *c, void *arg)
{
    (void)arg;
    tq_wait_client_gone(c->w);
}

static void on_event(const struct tq_event *ev, void *arg)
{
    struct tq_coord *co = arg;

    if (!co->stopping)
        tq_wait_event(co->wait, ev);
}

static void on_events_resync(void *arg)
{
    struct tq_coord *co = arg;

    if (!co->stopping)
        tq_wait_recheck_all(co->wait);
}

static size_t events_waiting(void *arg)
{
    struct tq_coord *co = arg;

    return tq_wait_counts(co->wait).pending;
}

static void on_cmd_state(struct tq_rconn *rc, int up, void *arg)
{
    struct tq_coord *co = arg;

    (void)rc;
    if (co->stopping)
        return;
    if (up)
        tq_wait_redis_up(co->wait);
    else
        tq_wait_redis_down(co->wait);
}

/* ---- request handling ------------------------------------------------------------------ */

static void handle_request(struct evhttp_request *req, void *arg)
{
    struct tq_coord *co = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    struct tq_conn *c = tq_conns_begin(co->conns, req);
    struct tq_tile_path tp;
    const struct tq_tileset_config *ts;
    const char *why = NULL;

    if (co->draining || co->stopping) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        send_text(co, req, 503, "shutting down", 1);
        return;
    }
    /* Length before anything else. */
    if (uri == NULL || strnlen(uri, TQ_TILE_PATH_MAX + 1) > TQ_TILE_PATH_MAX) {
        send_text(co, req, 400, "path too long", 0);
        return;
    }
    if (method == EVHTTP_REQ_OPTIONS) {
        tq_web_send_preflight(co->web, req);
        return;
    }
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD, OPTIONS");
        send_text(co, req, 405, "method not allowed", 0);
        return;
    }
    switch (tq_tile_path_parse(uri, &tp, &why)) {
    case TQ_TILE_PATH_OK:
        break;
    case TQ_TILE_PATH_MALFORMED:
        send_text(co, req, 400, why, 0);
        return;
    case TQ_TILE_PATH_OUTSIDE:
        send_text(co, req, 404, why, 0);
        return;
    case TQ_TILE_PATH_NOT_TILE:
    default:
        /* Queue state and worker names: for http.metrics_allow only (tq_access.h). */
        if ((tq_tile_path_is(uri, "/metrics") || tq_tile_path_is(uri, "/health")) &&
            !tq_access_private_ok(co->cfg, req)) {
            send_text(co, req, 403, "forbidden", 0);
            return;
        }
        if (tq_tile_path_is(uri, "/metrics")) {
            struct tq_pending_counts n = tq_wait_counts(co->wait);
            struct tq_cmetrics_state st = {
                .waiters = n.waiters,
                .pending = n.pending,
                .held = n.held,
                .connections = tq_conns_count(co->conns),
                .reconnects_cmd = tq_rconn_reconnects(co->cmd),
                .reconnects_events = tq_events_reconnects(co->events),
            };
            tq_cmetrics_serve(co->metrics, req, co->cmd, co->web, &st);
        } else if (tq_tile_path_is(uri, "/health")) {
            if (tq_rconn_is_up(co->cmd))
                send_text(co, req, 200, "ok", 0);
            else
                send_text(co, req, 503, "redis unavailable", 1);
        } else if (tq_web_route(co->web, req, uri)) {
            /* answered (or will be) */
        } else {
            send_text(co, req, 404, "not found", 0);
        }
        return;
    }
    ts = tq_config_tileset(co->cfg, tp.tileset);
    if (ts == NULL) {
        send_text(co, req, 404, "unknown tileset", 0);
        return;
    }
    if (tp.tile.z < ts->minzoom || tp.tile.z > ts->maxzoom) {
        send_text(co, req, 404, "zoom outside the tileset's range", 0);
        return;
    }
    tq_wait_serve(co->wait, req, c, ts, tp.tile);
}

/* ---- drain ----------------------------------------------------------------------------- */

static void drain_finish(struct tq_coord *co, const char *how)
{
    if (co->drain_phase == 2)
        return;
    co->drain_phase = 2;
    evtimer_del(co->grace_ev);
    tq_log_info("drained", "how=%s waiters=%zu connections=%zu", how,
                tq_wait_counts(co->wait).waiters, tq_conns_count(co->conns));
    if (co->drained_cb)
        co->drained_cb(co->drained_arg);
}

/* Run from the loop after anything that may end the drain. */
static void on_drain_check(evutil_socket_t fd, short what, void *arg)
{
    struct tq_coord *co = arg;

    (void)fd;
    (void)what;
    if (co->draining && tq_wait_counts(co->wait).pending == 0 && tq_conns_count(co->conns) == 0)
        drain_finish(co, "done");
}

static void on_drain_grace(evutil_socket_t fd, short what, void *arg)
{
    struct tq_coord *co = arg;
    struct timeval flush = {0, DRAIN_FLUSH_MS * 1000};
    struct tq_pending_counts n = tq_wait_counts(co->wait);

    (void)fd;
    (void)what;
    if (co->drain_phase == 1) {
        drain_finish(co, "grace_over");
        return;
    }
    /* Grace over: what still waits gets 503 (a load balancer retries it elsewhere); the
     * replies get a moment to go out. */
    co->drain_phase = 1;
    tq_log_warn("drain_grace_over", "waiters=%zu pending=%zu connections=%zu", n.waiters, n.pending,
                tq_conns_count(co->conns));
    tq_wait_fail_all(co->wait, 503, "shutting down", 1);
    evtimer_add(co->grace_ev, &flush);
    drain_poke(co);
}

/* Stops accepting: the listener goes (and with it the connection cap's pausing). */
static void stop_accepting(struct tq_coord *co)
{
    if (co->http && co->bound) {
        evhttp_del_accept_socket(co->http, co->bound);
        co->bound = NULL;
        tq_conns_set_listener(co->conns, NULL);
    }
}

void tq_coord_drain(struct tq_coord *co, int grace_seconds, void (*done)(void *arg), void *arg)
{
    struct timeval grace = {grace_seconds > 0 ? grace_seconds : 0, 0};
    struct tq_pending_counts n;
    size_t closed, busy;

    if (co->draining || co->stopping)
        return;
    co->draining = 1;
    co->drained_cb = done;
    co->drained_arg = arg;
    stop_accepting(co);
    /* Closes the idle connections, marks the requests in progress to close theirs. */
    tq_conns_drain(co->conns, &closed, &busy);
    n = tq_wait_counts(co->wait);
    tq_log_info("draining", "idle_closed=%zu busy=%zu waiters=%zu pending=%zu", closed, busy,
                n.waiters, n.pending);
    evtimer_add(co->grace_ev, &grace);
    drain_poke(co);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

/* Binds the listen address with SO_REUSEPORT (http.processes > 1: every process of the
 * coordinator binds the same port, and the kernel spreads new connections over them) and
 * hands the socket to evhttp. NULL with errno set when it cannot. */
static struct evhttp_bound_socket *bind_reuseport(struct event_base *base, struct evhttp *http,
                                                  const char *host, int port)
{
    struct evutil_addrinfo hints, *ai = NULL;
    struct evconnlistener *l;
    struct evhttp_bound_socket *bound = NULL;
    char service[16];

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG;
    snprintf(service, sizeof service, "%d", port);
    if (evutil_getaddrinfo(host && host[0] ? host : NULL, service, &hints, &ai) != 0 || !ai) {
        errno = EADDRNOTAVAIL;
        return NULL;
    }
    l = evconnlistener_new_bind(base, NULL, NULL,
                                LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC |
                                    LEV_OPT_CLOSE_ON_FREE,
                                -1, ai->ai_addr, (int)ai->ai_addrlen);
    if (l != NULL) {
        bound = evhttp_bind_listener(http, l); /* owns l from here */
        if (bound == NULL)
            evconnlistener_free(l);
    }
    evutil_freeaddrinfo(ai);
    return bound;
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
    static const struct tq_events_handlers events_handlers = {
        .on_event = on_event, .on_resync = on_events_resync, .waiting = events_waiting};
    char *host = NULL, *password = NULL;
    int port = 0, db = 0, ok = 0;

    if (co == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    co->base = base;
    co->cfg = cfg;
    co->metrics = tq_cmetrics_new();
    co->drain_ev = event_new(base, -1, 0, on_drain_check, co);
    co->grace_ev = evtimer_new(base, on_drain_grace, co);
    if (co->metrics == NULL || co->drain_ev == NULL || co->grace_ev == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    if (tq_redis_url_parse(cfg->redis_url, &host, &port, &password, &db) != 0) {
        char shown[512];
        snprintf(err, errsize, "bad redis_url: %s",
                 tq_secret_redact_url(cfg->redis_url, shown, sizeof shown));
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
    co->conns = tq_conns_new(base, co->http, cfg, co->metrics, on_conn_close, drain_poke, co);
    if (co->conns == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    co->bound = cfg->http.processes > 1
                    ? bind_reuseport(base, co->http, cfg->listen_host, cfg->listen_port)
                    : evhttp_bind_socket_with_handle(co->http, cfg->listen_host, cfg->listen_port);
    if (co->bound == NULL) {
        snprintf(err, errsize, "cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port,
                 strerror(errno));
        goto cleanup;
    }
    tq_conns_set_listener(co->conns, co->bound);
    co->cmd = tq_rconn_new(base, "command", cfg, on_cmd_state, co);
    co->events = tq_events_new(base, cfg, &events_handlers, co);
    if (co->cmd == NULL || co->events == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    co->web = tq_web_new(cfg, co->cmd);
    co->wait =
        co->web ? tq_wait_new(base, cfg, co->web, co->metrics, co->cmd, drain_poke, co) : NULL;
    if (co->web == NULL || co->wait == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    tq_rconn_start(co->cmd);
    tq_events_start(co->events);
    tq_log_info("listening", "host=%s port=%d redis=%s:%d db=%d cache_dir=%s tilesets=%zu",
                cfg->listen_host, bound_port(co->bound), host, port, db, cfg->cache_dir,
                cfg->ntilesets);
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

/* Stops accepting, answers every request still waiting 503, closes Redis (the replies
 * still go out if the loop runs on). Idempotent. */
static void coord_shutdown(struct tq_coord *co)
{
    size_t answered = 0;

    if (co->stopping)
        return;
    co->stopping = 1;
    stop_accepting(co);
    if (co->wait) {
        tq_wait_stop(co->wait);
        answered = tq_wait_fail_all(co->wait, 503, "shutting down", 1);
    }
    /* Outstanding commands fail with "shutdown" now; their callbacks see that we stop (held
     * TileJSON requests are answered from what is known). */
    tq_web_detach(co->web);
    tq_rconn_free(co->cmd);
    co->cmd = NULL;
    tq_events_free(co->events);
    co->events = NULL;
    tq_log_info("shutdown", "answered_503=%zu", answered);
}

void tq_coord_free(struct tq_coord *co)
{
    if (co == NULL)
        return;
    coord_shutdown(co);
    if (co->http)
        evhttp_free(co->http); /* closes every connection left (tq_conns' close callback) */
    tq_conns_free(co->conns);
    tq_wait_free(co->wait);
    tq_web_free(co->web);
    tq_cmetrics_free(co->metrics);
    if (co->drain_ev)
        event_free(co->drain_ev);
    if (co->grace_ev)
        event_free(co->grace_ev);
    free(co);
}

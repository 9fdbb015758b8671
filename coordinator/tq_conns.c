/* tq_conns — see tq_conns.h. */
#include "tq_conns.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "tq_log.h"
#include "tq_map.h"
#include "tq_time.h"

#define DEADLINE_SCAN_MS 250 /* how often the read deadline is checked */

struct tq_conns {
    const struct tq_config *cfg;
    struct tq_cmetrics *metrics;
    struct tq_map *table;              /* evhttp_connection * → struct tq_conn *, adopted */
    size_t n;                          /* struct tq_conn allocated (adopted or not) */
    struct tq_conn *adopt;             /* accepted, not adopted yet (on_new_bev) */
    struct event *adopt_ev;            /* runs conn_adopt_all */
    struct event *deadline_ev;         /* every DEADLINE_SCAN_MS: http.read_deadline_seconds */
    struct evhttp_bound_socket *bound; /* the listener, paused at the cap; NULL once gone */
    int accept_paused;                 /* listener disabled: n reached http.max_connections */
    tq_conns_close_fn on_close;
    tq_conns_change_fn on_change;
    void *arg;
};

static struct tq_conn *conn_find(struct tq_conns *cs, const struct evhttp_connection *evcon)
{
    struct tq_conn **cp = tq_map_get(cs->table, &evcon, sizeof evcon);
    return cp ? *cp : NULL;
}

/* Accepting again once a connection closed below http.max_connections. */
static void accept_resume(struct tq_conns *cs)
{
    struct evconnlistener *lev = cs->bound ? evhttp_bound_socket_get_listener(cs->bound) : NULL;

    if (!cs->accept_paused || cs->n >= (size_t)cs->cfg->http.max_connections)
        return;
    cs->accept_paused = 0;
    if (lev && evconnlistener_enable(lev) == 0)
        tq_log_info("accept_resumed", "connections=%zu", cs->n);
}

/* Takes c out of the table (or the adoption list) and frees it. Its waiter must be gone;
 * c->bev, when set, must still be allocated (it is during evhttp's close callback). */
static void conn_free(struct tq_conn *c)
{
    struct tq_conns *cs = c->cs;

    if (c->in_table) {
        tq_map_remove(cs->table, &c->evcon, sizeof c->evcon, NULL);
    } else {
        for (struct tq_conn **pp = &cs->adopt; *pp; pp = &(*pp)->next) {
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        }
    }
    if (c->incb)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->incb);
    if (c->outcb)
        evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->outcb);
    if (c->hold_read)
        event_free(c->hold_read);
    cs->n--;
    free(c);
    accept_resume(cs);
    if (cs->on_change)
        cs->on_change(cs->arg);
}

/* evhttp frees a client connection (closed by the client, timed out, or by us): the waiter
 * on it forgets its request (the close hook), then c goes. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct tq_conn *c = arg;

    (void)evcon;
    if (c->w && c->cs->on_close)
        c->cs->on_close(c, c->cs->arg);
    conn_free(c);
}

/* Puts c (with c->evcon set) into the table and installs our close callback. -1 on OOM. */
static int conn_insert(struct tq_conn *c)
{
    struct tq_conn **slot = tq_map_put(c->cs->table, &c->evcon, sizeof c->evcon, NULL);

    if (slot == NULL)
        return -1;
    *slot = c;
    c->in_table = 1;
    evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
    return 0;
}

/* The tracked connection of evcon, created when new (a connection on_new_bev did not see).
 * NULL on OOM. Our close callback is (re)installed every time, so a connection is never
 * tracked without it. */
static struct tq_conn *conn_get(struct tq_conns *cs, struct evhttp_connection *evcon)
{
    struct tq_conn *c = conn_find(cs, evcon);

    if (c) {
        evhttp_connection_set_closecb(evcon, on_conn_close, c);
        return c;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->cs = cs;
    c->evcon = evcon;
    if (conn_insert(c) != 0) {
        free(c);
        return NULL;
    }
    cs->n++;
    return c;
}

/* Bytes arrived on a connection: the first byte of a request starts its read deadline. */
static void on_conn_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct tq_conn *c = arg;

    (void)buf;
    if (info->n_added > 0 && c->read_start_us == 0 && c->req == NULL)
        c->read_start_us = tq_mono_us();
}

/* From the loop, right after a reply (or part of one) went into c's output buffer, before
 * the loop polls again: evhttp_send_reply has just enabled reading, to notice a close while
 * it writes, and would free the connection at the client's FIN with the reply half
 * written. Reading stays off while output is pending; evhttp turns it on again once the
 * reply is out (next request, or the EOF that closes the connection). */
static void on_hold_read(evutil_socket_t fd, short what, void *arg)
{
    struct tq_conn *c = arg;

    (void)fd;
    (void)what;
    if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
        bufferevent_disable(c->bev, EV_READ);
}

/* Bytes went into c's output buffer (evhttp writing a reply): hold reading (on_hold_read,
 * made active now, runs in this loop turn after the current callback returns). */
static void on_conn_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct tq_conn *c = arg;

    (void)buf;
    if (info->n_added > 0 && c->hold_read)
        event_active(c->hold_read, EV_TIMEOUT, 0);
}

/* evhttp_set_bevcb: evhttp accepted a connection and asks for its bufferevent. We make it,
 * count the connection (stopping accepting at http.max_connections: the listener is
 * disabled before evhttp accepts the next one), watch its input for the read deadline, and
 * adopt it from the loop once evhttp made its evhttp_connection (conn_adopt_all). Until
 * then we hold a reference on bev, so it outlives a failed connection setup. */
static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
    struct tq_conns *cs = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct tq_conn *c = bev ? calloc(1, sizeof *c) : NULL;
    struct evconnlistener *lev;

    if (c == NULL)
        return bev; /* evhttp goes on with it; the connection is adopted by conn_get */
    c->cs = cs;
    c->bev = bev;
    c->incb = evbuffer_add_cb(bufferevent_get_input(bev), on_conn_input, c);
    c->outcb = evbuffer_add_cb(bufferevent_get_output(bev), on_conn_output, c);
    c->hold_read = event_new(base, -1, 0, on_hold_read, c);
    bufferevent_incref(bev);
    c->next = cs->adopt;
    cs->adopt = c;
    cs->n++;
    event_active(cs->adopt_ev, EV_TIMEOUT, 0);
    if (cs->n >= (size_t)cs->cfg->http.max_connections && !cs->accept_paused && cs->bound) {
        lev = evhttp_bound_socket_get_listener(cs->bound);
        if (lev && evconnlistener_disable(lev) == 0) {
            cs->accept_paused = 1;
            tq_log_warn("accept_paused", "connections=%zu max_connections=%d", cs->n,
                        cs->cfg->http.max_connections);
        }
    }
    return bev;
}

/* From the loop, right after on_new_bev (before any read on the new connections): evhttp
 * set each bufferevent's callback argument to its evhttp_connection; track it under it. A
 * bufferevent whose callbacks were cleared was freed by evhttp already (setup failed). A
 * connection that cannot be put into the table (OOM) is forgotten: conn_get tracks it at
 * its first request. */
static void conn_adopt_all(evutil_socket_t fd, short what, void *arg)
{
    struct tq_conns *cs = arg;
    struct tq_conn *c;

    (void)fd;
    (void)what;
    while ((c = cs->adopt) != NULL) {
        struct bufferevent *bev = c->bev;
        void *cbarg = NULL;
        cs->adopt = c->next;
        c->next = NULL;
        bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
        if (cbarg != NULL) {
            c->evcon = cbarg;
            if (conn_insert(c) == 0) {
                bufferevent_decref(bev);
                continue;
            }
        }
        conn_free(c); /* already off the list */
        bufferevent_decref(bev);
    }
}

int tq_conns_overdue(const struct tq_conn *c, int64_t now_us, int64_t limit_us)
{
    return c->req == NULL && c->read_start_us != 0 && now_us - c->read_start_us >= limit_us;
}

/* Every DEADLINE_SCAN_MS: closes the connections whose request started arriving more than
 * http.read_deadline_seconds ago and is still not whole. */
static void on_deadline_scan(evutil_socket_t fd, short what, void *arg)
{
    struct tq_conns *cs = arg;
    int64_t now = tq_mono_us(), limit = (int64_t)cs->cfg->http.read_deadline_seconds * 1000000;
    struct tq_conn **cp;
    size_t pos = 0;

    (void)fd;
    (void)what;
    while ((cp = tq_map_next(cs->table, &pos, NULL, NULL)) != NULL) {
        struct tq_conn *c = *cp;
        if (!tq_conns_overdue(c, now, limit))
            continue;
        tq_log_warn("read_deadline", "seconds=%d after_ms=%" PRId64,
                    cs->cfg->http.read_deadline_seconds, (now - c->read_start_us) / 1000);
        tq_cmetrics_read_deadline(cs->metrics);
        struct evhttp_connection *evcon = c->evcon;
        /* Forget it first (no request, so no waiter), then let evhttp free it. */
        evhttp_connection_set_closecb(evcon, NULL, NULL);
        conn_free(c);
        evhttp_connection_free(evcon);
    }
}

struct tq_conns *tq_conns_new(struct event_base *base, struct evhttp *http,
                              const struct tq_config *cfg, struct tq_cmetrics *metrics,
                              tq_conns_close_fn on_close, tq_conns_change_fn on_change, void *arg)
{
    struct tq_conns *cs = calloc(1, sizeof *cs);
    struct timeval scan = {0, DEADLINE_SCAN_MS * 1000};

    if (cs == NULL)
        return NULL;
    cs->cfg = cfg;
    cs->metrics = metrics;
    cs->on_close = on_close;
    cs->on_change = on_change;
    cs->arg = arg;
    cs->table = tq_map_new(sizeof(struct evhttp_connection *), sizeof(struct tq_conn *));
    cs->adopt_ev = event_new(base, -1, 0, conn_adopt_all, cs);
    cs->deadline_ev = event_new(base, -1, EV_PERSIST, on_deadline_scan, cs);
    if (cs->table == NULL || cs->adopt_ev == NULL || cs->deadline_ev == NULL ||
        event_add(cs->deadline_ev, &scan) != 0) {
        tq_conns_free(cs);
        return NULL;
    }
    /* Every connection is counted from its accept (http.max_connections) and its requests
     * timed from their first byte (http.read_deadline_seconds). */
    evhttp_set_bevcb(http, on_new_bev, cs);
    return cs;
}

void tq_conns_set_listener(struct tq_conns *cs, struct evhttp_bound_socket *bound)
{
    cs->bound = bound;
}

size_t tq_conns_count(const struct tq_conns *cs)
{
    return cs->n;
}

/* The reply to c->req went out (evhttp_request_set_on_complete_cb): count it. */
static void on_req_complete(struct evhttp_request *req, void *arg)
{
    struct tq_conn *c = arg;
    struct tq_conns *cs = c->cs;
    const char *label = evhttp_find_header(evhttp_request_get_output_headers(req), "X-Tileq");

    tq_cmetrics_request(cs->metrics, evhttp_request_get_response_code(req), label,
                        (double)(tq_mono_us() - c->started_us) / 1e6);
    if (c->req == req) {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
        c->req = NULL;
        /* A pipelined request that arrived meanwhile starts its read deadline now. */
        c->read_start_us =
            bev && evbuffer_get_length(bufferevent_get_input(bev)) > 0 ? tq_mono_us() : 0;
    }
    if (cs->on_change)
        cs->on_change(cs->arg);
}

struct tq_conn *tq_conns_begin(struct tq_conns *cs, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct tq_conn *c = evcon ? conn_get(cs, evcon) : NULL;

    if (c == NULL)
        return NULL;
    c->req = req;
    c->read_start_us = 0; /* read whole */
    c->started_us = tq_mono_us();
    evhttp_request_set_on_complete_cb(req, on_req_complete, c);
    return c;
}

void tq_conns_drain(struct tq_conns *cs, size_t *closed, size_t *busy)
{
    struct tq_conn **cp;
    size_t pos = 0;

    *closed = *busy = 0;
    while ((cp = tq_map_next(cs->table, &pos, NULL, NULL)) != NULL) {
        struct tq_conn *c = *cp;
        if (c->req) {
            struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
            if (evhttp_find_header(h, "Connection") == NULL)
                evhttp_add_header(h, "Connection", "close");
            (*busy)++;
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
        (*closed)++;
    }
}

void tq_conns_free(struct tq_conns *cs)
{
    struct tq_conn **cp;
    size_t pos = 0;

    if (cs == NULL)
        return;
    cs->bound = NULL;
    while (cs->table && (cp = tq_map_next(cs->table, &pos, NULL, NULL)) != NULL) {
        (*cp)->incb = NULL; /* its bufferevent may be gone */
        (*cp)->outcb = NULL;
        conn_free(*cp);
    }
    while (cs->adopt) { /* accepted in the last loop turn: we still hold its bufferevent */
        struct tq_conn *c = cs->adopt;
        struct bufferevent *bev = c->bev;
        conn_free(c);
        bufferevent_decref(bev);
    }
    tq_map_free(cs->table);
    if (cs->adopt_ev)
        event_free(cs->adopt_ev);
    if (cs->deadline_ev)
        event_free(cs->deadline_ev);
    free(cs);
}

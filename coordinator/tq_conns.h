/* tq_conns — the coordinator's client connections, held against hostile clients:
 * - at most http.max_connections, counted from their accept: the listener is disabled at the
 *   cap (before evhttp accepts the next one) until a connection closes;
 * - a request must arrive whole within http.read_deadline_seconds of its first byte, checked
 *   every DEADLINE_SCAN_MS (idle kept-alive connections keep evhttp's idle timeout);
 * - every answered request is counted for GET /metrics (tq_cmetrics.h) when its reply went
 *   out, with its status, its X-Tileq label and its time from dispatch;
 * - a reply being written is not cut short by the client's FIN: evhttp reads while it
 *   writes only to notice a close, and frees the connection on EOF, so a client that shut
 *   down its write side (issue 16) lost any reply longer than one write. Reading stays off
 *   until the reply is out (a reset still ends it: the write fails); then evhttp reads the
 *   EOF and closes as usual.
 *
 * A connection is made by evhttp and tracked here from its bufferevent (evhttp_set_bevcb),
 * adopted under its evhttp_connection from the loop right after the accept:
 *
 *   on_new_bev ──▶ adopting ──(conn_adopt_all)──▶ tracked ──(evhttp's close callback, a read
 *                                                           deadline, tq_conns_drain)──▶ freed
 *
 * Ownership: struct tq_conn is owned by the set; made by the accept (or by tq_conns_begin for
 * a connection the accept did not see, on OOM there), freed by evhttp's close callback (run
 * while evhttp frees the connection, after the set's close hook) or by the set itself just
 * before it frees an idle connection. c->req is evhttp's request being answered, cleared once
 * its reply went out; c->w is the waiter (tq_wait) that holds c->req, set and cleared there. */
#ifndef TQ_CONNS_H
#define TQ_CONNS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "tq_cmetrics.h"
#include "tq_config.h"

struct tq_conns;
struct tq_waiter;
struct bufferevent;
struct evbuffer_cb_entry;

struct tq_conn {
    struct tq_conns *cs;
    struct evhttp_connection *evcon; /* NULL until adopted */
    struct bufferevent *bev;         /* evcon's, made by on_new_bev; NULL when not ours */
    struct evbuffer_cb_entry *incb;  /* on_conn_input on bev's input buffer */
    struct evbuffer_cb_entry *outcb; /* on_conn_output on bev's output buffer */
    struct event *hold_read;         /* keeps bev from reading while a reply goes out */
    struct evhttp_request *req;      /* being answered; NULL between requests */
    struct tq_waiter *w;             /* the waiter holding req, if any (tq_wait) */
    int64_t started_us;              /* monotonic time req was dispatched */
    int64_t read_start_us;           /* first byte of the request being read; 0: none */
    int in_table;                    /* adopted (else on the adoption list) */
    struct tq_conn *next;            /* adoption list */
};

/* evhttp frees c (closed by the client, timed out, or by us) while c->w is set: the waiter
 * must forget its request (never answer it). Runs before c is freed. */
typedef void (*tq_conns_close_fn)(struct tq_conn *c, void *arg);
/* A connection closed or a reply went out: whatever waits for that (the drain) may look. */
typedef void (*tq_conns_change_fn)(void *arg);

/* A set for the connections of http (evhttp_set_bevcb; the deadline scan starts). cfg and
 * metrics are borrowed and must outlive it. NULL on OOM or when the scan cannot start. */
struct tq_conns *tq_conns_new(struct event_base *base, struct evhttp *http,
                              const struct tq_config *cfg, struct tq_cmetrics *metrics,
                              tq_conns_close_fn on_close, tq_conns_change_fn on_change, void *arg);

/* The listener to disable at the cap and enable below it; NULL once it is gone. */
void tq_conns_set_listener(struct tq_conns *cs, struct evhttp_bound_socket *bound);

/* Connections tracked (adopted or not). */
size_t tq_conns_count(const struct tq_conns *cs);

/* req was dispatched: its connection (made when not tracked yet) gets req as the request
 * being answered, its read deadline stops, and its reply will be counted. NULL when req has
 * no connection or on OOM (the reply is not counted then). */
struct tq_conn *tq_conns_begin(struct tq_conns *cs, struct evhttp_request *req);

/* Drain: closes the connections that wait for a next request with nothing received yet,
 * and marks the requests being answered to close their connection after the reply. Counts
 * into *closed and *busy. */
void tq_conns_drain(struct tq_conns *cs, size_t *closed, size_t *busy);

/* Frees what is left: call after evhttp_free (which closes every connection it has). NULL
 * is a no-op. */
void tq_conns_free(struct tq_conns *cs);

/* 1 when c's request started arriving limit_us or more before now_us and is not whole yet
 * (a request being answered, or an idle connection, is never overdue). */
int tq_conns_overdue(const struct tq_conn *c, int64_t now_us, int64_t limit_us);

#endif

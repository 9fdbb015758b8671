/* tq_cmetrics — the coordinator's GET /metrics (Prometheus text format 0.0.4, tq_metrics.h).
 *
 * Kept in this process, updated as things happen:
 *   tileq_http_requests_total{status,served}   requests answered (served: hit|miss|joined for
 *                                              tile answers, none for the rest and errors)
 *   tileq_render_wait_seconds{served}          request to answer, miss|joined answers
 *   tileq_enqueue_total{result}                ENQUEUE script results (new, coalesced, ...)
 *   tileq_dead_answers_total                   requests answered 500 at once: metatile dead,
 *                                              cooling down (ENQUEUE answered "dead")
 *   tileq_redis_reconnects_total{connection}   command|events connection came back
 *   tileq_hold_expired_total{how}              held requests answered 503 (timeout|full)
 *   tileq_http_read_deadline_total             connections cut off at the read deadline
 *   tileq_waiters, tileq_pending_metatiles,    gauges, set at each scrape
 *   tileq_held_requests, tileq_http_connections
 * Read from Redis at each scrape with tq_snapshot, the read `tileq status` makes too
 * (asynchronous, with a deadline; the request is answered from the reply callback); left
 * out when Redis does not answer, with tileq_redis_up 0:
 *   tileq_queue_jobs{class,state}              state queued (list length) | running
 *                                              (runcount, see tq_wire.h)
 *   tileq_queue_dead_jobs                      dead-lettered jobs
 *   tileq_workers_reporting                    workers whose figures are fresh
 *   tileq_worker_renders_total{worker}, tileq_worker_tiles_total{worker},
 *   tileq_worker_sql_seconds_total{worker}, tileq_worker_render_failures_total{worker,reason},
 *   tileq_worker_render_duration_seconds{worker,zoom}  what each worker publishes in Redis
 *                                              (tq_wfigures.h) */
#ifndef TQ_CMETRICS_H
#define TQ_CMETRICS_H

#include <stddef.h>

#include <event2/http.h>

#include "tq_queue.h"
#include "tq_rconn.h"
#include "tq_web.h"

struct tq_cmetrics;

/* What the coordinator knows at scrape time. */
struct tq_cmetrics_state {
    size_t waiters;               /* requests waiting for a render */
    size_t pending;               /* metatiles they wait for */
    size_t held;                  /* requests held while Redis is unreachable */
    size_t connections;           /* client connections open */
    unsigned long reconnects_cmd; /* tq_rconn_reconnects of each connection */
    unsigned long reconnects_events;
};

/* NULL on OOM. Freed with tq_cmetrics_free, after every connection a scrape may be waiting
 * on was freed (their callbacks use the metrics). */
struct tq_cmetrics *tq_cmetrics_new(void);
void tq_cmetrics_free(struct tq_cmetrics *cm);

/* Counts one answered request with its status code; served is the X-Tileq label (NULL or
 * anything but hit|miss|joined counts as "none", and so does any status >= 400). seconds
 * (request to answer) goes into the render wait histogram for miss|joined. */
void tq_cmetrics_request(struct tq_cmetrics *cm, int status, const char *served, double seconds);

/* Counts one held request answered 503: full 0 when its hold ran out, 1 when it was refused
 * because queue.hold_max requests were held already. */
void tq_cmetrics_hold_expired(struct tq_cmetrics *cm, int full);

/* Counts one connection cut off at http.read_deadline_seconds. */
void tq_cmetrics_read_deadline(struct tq_cmetrics *cm);

/* Counts one ENQUEUE result. */
void tq_cmetrics_enqueue(struct tq_cmetrics *cm, enum tq_enqueue_result r);

/* Counts n requests answered 500 because their metatile is dead-lettered and cooling down. */
void tq_cmetrics_dead_answers(struct tq_cmetrics *cm, size_t n);

/* Answers a GET/HEAD /metrics request: sends the scrape script on cmd when it is up (the
 * reply callback answers), else answers at once without the Redis figures. web adds the
 * CORS header. req is handed back to evhttp either way. */
void tq_cmetrics_serve(struct tq_cmetrics *cm, struct evhttp_request *req, struct tq_rconn *cmd,
                       struct tq_web *web, const struct tq_cmetrics_state *st);

#endif

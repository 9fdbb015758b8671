/* tq_events — see tq_events.h.
 *
 * Ownership: the reader owns its tq_rconn; replies are hiredis's (valid during the callback);
 * the events handed on point into them. */
#include "tq_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_log.h"
#include "tq_rconn.h"
#include "tq_wire.h"

#define CMD_TIMEOUT_MS 2000
#define XREAD_BLOCK_MS 5000
#define XREAD_TIMEOUT_MS (XREAD_BLOCK_MS + 3000)

struct tq_events {
    struct tq_rconn *rc;
    struct tq_events_handlers h;
    void *arg;
    char last_id[64]; /* last completion event seen ("$" until the first XREVRANGE) */
    int have_last_id;
    int stopping;
};

static const char *q(const char *s, char *buf, size_t size)
{
    return tq_log_quote(s ? s : "", buf, size);
}

static void events_read(struct tq_events *ev);

static void on_event(const struct tq_event *e, void *arg)
{
    struct tq_events *ev = arg;

    snprintf(ev->last_id, sizeof ev->last_id, "%s", e->stream_id);
    if (e->job_id && e->status != TQ_EV_UNKNOWN && !ev->stopping)
        ev->h.on_event(e, ev->arg);
}

static void on_events(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    struct tq_events *ev = arg;
    char qe[256];

    if (ev->stopping)
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
    tq_event_each(reply, on_event, ev); /* nil reply: BLOCK timed out with nothing new */
    events_read(ev);
}

static void events_read(struct tq_events *ev)
{
    if (ev->stopping)
        return;
    /* -1 means the connection is down; the UP callback restarts the loop. */
    tq_rconn_command(ev->rc, XREAD_TIMEOUT_MS, on_events, ev,
                     "XREAD BLOCK %d COUNT 100 STREAMS %s %s", XREAD_BLOCK_MS, TQ_QUEUE_EVENTS_KEY,
                     ev->last_id);
}

static void on_last_id(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    struct tq_events *ev = arg;
    struct tq_event last;
    char qe[256];

    if (ev->stopping)
        return;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        tq_log_error(
            "events_last_id_failed", "error=%s",
            q(reply ? (reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply") : err,
              qe, sizeof qe));
        tq_rconn_reset(rc);
        return;
    }
    snprintf(ev->last_id, sizeof ev->last_id, "0-0");
    if (reply->elements > 0 && tq_event_parse(reply->element[0], &last) == 0)
        snprintf(ev->last_id, sizeof ev->last_id, "%s", last.stream_id);
    ev->have_last_id = 1;
    tq_log_info("events_start", "stream=%s from=%s", TQ_QUEUE_EVENTS_KEY, ev->last_id);
    ev->h.on_resync(ev->arg);
    events_read(ev);
}

static void on_state(struct tq_rconn *rc, int up, void *arg)
{
    struct tq_events *ev = arg;

    if (!up || ev->stopping)
        return;
    if (!ev->have_last_id) {
        if (tq_rconn_command(rc, CMD_TIMEOUT_MS, on_last_id, ev, "XREVRANGE %s + - COUNT 1",
                             TQ_QUEUE_EVENTS_KEY) != 0)
            tq_rconn_reset(rc);
        return;
    }
    /* Reconnected: continue after the last event seen, and look at the cache for every
     * waiter in case a completion slipped by while the connection was down. */
    tq_log_info("events_resume", "stream=%s from=%s pending=%zu", TQ_QUEUE_EVENTS_KEY, ev->last_id,
                ev->h.waiting(ev->arg));
    ev->h.on_resync(ev->arg);
    events_read(ev);
}

struct tq_events *tq_events_new(struct event_base *base, const struct tq_config *cfg,
                                const struct tq_events_handlers *h, void *arg)
{
    struct tq_events *ev = calloc(1, sizeof *ev);

    if (ev == NULL)
        return NULL;
    ev->h = *h;
    ev->arg = arg;
    snprintf(ev->last_id, sizeof ev->last_id, "$");
    ev->rc = tq_rconn_new(base, "events", cfg, on_state, ev);
    if (ev->rc == NULL) {
        free(ev);
        return NULL;
    }
    return ev;
}

void tq_events_start(struct tq_events *ev)
{
    tq_rconn_start(ev->rc);
}

unsigned long tq_events_reconnects(const struct tq_events *ev)
{
    return ev ? tq_rconn_reconnects(ev->rc) : 0;
}

void tq_events_free(struct tq_events *ev)
{
    if (ev == NULL)
        return;
    ev->stopping = 1; /* the outstanding XREAD fails with "shutdown" now: ignored */
    tq_rconn_free(ev->rc);
    free(ev);
}

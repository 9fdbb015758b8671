/* tq_events — the coordinator's completion-event reader: a Redis connection of its own
 * (tq_rconn "events") that reads the events stream ({tq}:events, tq_event.h) with a blocking
 * XREAD in a loop and hands every event to its handler.
 *
 *   UP (first time) ──XREVRANGE: the last id──▶ read from there ──XREAD BLOCK 5 s──▶ events
 *   UP again (reconnected) ─────────────────────▶ read after the last id seen ◀──────┘
 *   a timeout (the connection is stuck), an error reply ──▶ tq_rconn_reset ──▶ UP again
 * Events that came while nobody read are not missed, except when the stream was trimmed
 * past the last id seen: every time the reader (re)starts, on_resync lets the owner look at
 * the cache for every waiter, in case a completion slipped by. */
#ifndef TQ_EVENTS_H
#define TQ_EVENTS_H

#include <stddef.h>

#include <event2/event.h>

#include "tq_config.h"
#include "tq_event.h"

struct tq_events;

struct tq_events_handlers {
    /* One completion event (valid during the call only). */
    void (*on_event)(const struct tq_event *ev, void *arg);
    /* The reader (re)started: look at the cache for every waiter. */
    void (*on_resync)(void *arg);
    /* Entries waiting, for the log line of a resume. */
    size_t (*waiting)(void *arg);
};

/* A reader on base for cfg's Redis (not started). cfg must outlive it; h is copied. NULL
 * on OOM. */
struct tq_events *tq_events_new(struct event_base *base, const struct tq_config *cfg,
                                const struct tq_events_handlers *h, void *arg);

/* Starts connecting; reading starts once the connection is UP. */
void tq_events_start(struct tq_events *ev);

/* Times the connection came back (for /metrics). */
unsigned long tq_events_reconnects(const struct tq_events *ev);

/* Closes the connection: no handler runs after this. Frees ev; NULL is a no-op. Not from
 * inside one of its handlers. */
void tq_events_free(struct tq_events *ev);

#endif

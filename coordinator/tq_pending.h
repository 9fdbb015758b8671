/* tq_pending — the coordinator's table of requests waiting for a render: one entry per job
 * (metatile id), each with the list of its waiters (one per HTTP request for a tile of the
 * metatile), and the bookkeeping of holding them while Redis is unreachable. Pure data: no
 * I/O, no libevent call, no clock read (times come in as arguments). What moves an entry
 * (ENQUEUE, completion events, timers, replies, clients going away) is tq_wait's.
 *
 * An entry lives while its metatile has waiters (tq_wait.h has the diagram):
 *
 *   tq_pending_add ──▶ in the table ──(tq_pending_remove: answered, failed, nobody left)──▶ out
 *                      │ tq_pending_hold (Redis unreachable) ◀──▶ tq_pending_unhold (an
 *                      │ ENQUEUE was accepted): every waiter of a held entry has a hold
 *                      │ deadline, hold_seconds after it was held or joined.
 *
 * Ownership:
 * - struct tq_pending: reference counted. The table holds one reference while the entry is in
 *   it; tq_wait holds one per outstanding ENQUEUE, so a reply that comes after the entry was
 *   removed finds it still allocated and just drops it. When the last reference goes, the
 *   table's free hook runs (the owner's timers), then the entry is freed.
 * - struct tq_waiter: owned by its entry's list: made by tq_pending_waiter_add, freed by
 *   tq_pending_waiter_remove. The I/O fields (req, conn, evcon, peek) are the owner's; this
 *   module never touches what they point to.
 * The layouts are public to the coordinator library: tq_wait reads every field and sets the
 * ones marked "the owner's"; the counters and lists change only through the functions. */
#ifndef TQ_PENDING_H
#define TQ_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "tq_config.h"
#include "tq_job.h"
#include "tq_tile.h"

struct event;
struct evhttp_connection;
struct evhttp_request;
struct tq_conn;
struct tq_pending_table;

struct tq_waiter {
    struct tq_pending *p;
    struct tq_tile tile;
    int64_t hold_until_us; /* held: 503 after this (monotonic µs); 0 when not held */
    /* the owner's: */
    struct evhttp_request *req;      /* until answered, or until its client went away */
    struct tq_conn *conn;            /* req's connection while watched; NULL once released */
    struct evhttp_connection *evcon; /* the same, evhttp's */
    struct event *peek;              /* watches the client socket for EOF while it waits */
    int half_closed;                 /* its client sent FIN, and took the probe (tq_peer.h) */
    const char *label;               /* X-Tileq: "joined" (the default) or "miss" */
    struct tq_waiter *prev, *next;
};

struct tq_pending {
    struct tq_pending_table *table;
    char id[TQ_JOB_ID_MAX];
    const struct tq_tileset_config *ts;
    struct tq_job job;
    int in_table;
    int refs;
    int held; /* no ENQUEUE accepted since Redis was last unreachable (tq_pending_hold) */
    struct tq_waiter *head, *tail;
    /* the owner's: */
    void *owner;           /* the table's hook argument */
    int enqueues;          /* ENQUEUE commands sent */
    int refresh;           /* "done" came with a tile missing: the one refresh ENQUEUE was sent */
    int inflight;          /* one is outstanding */
    struct event *timer;   /* render_timeout_seconds, from the last accepted ENQUEUE */
    struct event *hold_ev; /* the earliest hold_until_us of its waiters */
};

/* Called with the table's arg when an entry's last reference goes, before it is freed. */
typedef void (*tq_pending_free_fn)(struct tq_pending *p, void *arg);

/* Counts for /metrics, the drain and the hold cap. */
struct tq_pending_counts {
    size_t pending; /* entries in the table */
    size_t waiters; /* their waiters */
    size_t held;    /* waiters with a hold deadline */
};

/* What to do with a miss (tq_pending_admit). */
enum tq_pending_admit {
    TQ_ADMIT_JOIN,      /* join the entry of its metatile */
    TQ_ADMIT_NEW,       /* a new entry: enqueue it (or hold it while Redis is unreachable) */
    TQ_ADMIT_HOLD_FULL, /* 503: Redis unreachable and hold_max requests held already */
    TQ_ADMIT_DOWN       /* 503: Redis unreachable and holding is off */
};

/* A new empty table. A waiter is held hold_seconds at most; holding is on when hold_seconds
 * and hold_max are both above 0. on_free (may be NULL) gets arg. NULL on OOM. */
struct tq_pending_table *tq_pending_table_new(int hold_seconds, long hold_max,
                                              tq_pending_free_fn on_free, void *arg);

/* Frees the table. Its entries must be removed and released already. NULL is a no-op. */
void tq_pending_table_free(struct tq_pending_table *t);

struct tq_pending_counts tq_pending_counts(const struct tq_pending_table *t);

/* Holding is on (queue.hold_seconds and queue.hold_max both above 0). */
int tq_pending_hold_enabled(const struct tq_pending_table *t);

/* The entry of job id, or NULL. */
struct tq_pending *tq_pending_find(const struct tq_pending_table *t, const char *id);

/* Iteration: *pos starts at 0; returns the next entry, NULL at the end. Entries may be
 * removed meanwhile (the one returned last included), none added. */
struct tq_pending *tq_pending_next(const struct tq_pending_table *t, size_t *pos);

/* A new entry for job (copied) under id, in the table (one reference, the table's), with no
 * waiter; owner is the table's arg. NULL on OOM, or when id is in the table already. */
struct tq_pending *tq_pending_add(struct tq_pending_table *t, const struct tq_tileset_config *ts,
                                  const struct tq_job *job, const char *id);

/* Takes p out of the table and drops the table's reference (p may be freed). Its waiters
 * must be gone. A no-op when p is out already. */
void tq_pending_remove(struct tq_pending *p);

void tq_pending_ref(struct tq_pending *p);
/* Drops a reference; the last one frees p (after the table's free hook). */
void tq_pending_unref(struct tq_pending *p);

/* What to do with a miss whose metatile's entry is p (NULL: none) while the command
 * connection is up or not: join p; or make a new entry; or answer 503 because holding is
 * off (DOWN) or full (HOLD_FULL: p is held, or Redis is unreachable, and hold_max waiters
 * are held). */
enum tq_pending_admit tq_pending_admit(const struct tq_pending_table *t, const struct tq_pending *p,
                                       int redis_up);

/* A new waiter at the tail of p's list, label "joined"; held until now_us + hold_seconds
 * when p is held. NULL on OOM. The caller fills in the owner's fields. */
struct tq_waiter *tq_pending_waiter_add(struct tq_pending *p, struct tq_tile tile, int64_t now_us);

/* Unlinks and frees w. Does not touch its entry otherwise (an empty entry stays). */
void tq_pending_waiter_remove(struct tq_waiter *w);

/* Waiters of p that still have a request to answer. */
size_t tq_pending_requests(const struct tq_pending *p);

/* p waits for Redis: every waiter not held yet is held until now_us + hold_seconds.
 * Returns 1 when p was not held before. */
int tq_pending_hold(struct tq_pending *p, int64_t now_us);

/* An ENQUEUE of p was accepted: p and its waiters are held no more. Returns 1 when p was
 * held. */
int tq_pending_unhold(struct tq_pending *p);

/* Microseconds from now_us to the earliest hold deadline of p's waiters (0 when it passed),
 * or -1 when none is held. */
int64_t tq_pending_hold_delay_us(const struct tq_pending *p, int64_t now_us);

/* 1 when w is held and its hold ran out at now_us. */
int tq_pending_hold_over(const struct tq_waiter *w, int64_t now_us);

#endif

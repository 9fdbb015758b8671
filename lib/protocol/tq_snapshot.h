/* tq_snapshot — one atomic, read-only view of the queue: what `tileq status` prints and what
 * a coordinator's /metrics exports, read by the same Lua script and the same parser.
 *
 * The script (TQ_SNAPSHOT_FMT) declares every key it reads as KEYS; the only other keys it
 * reads are job hashes (the job at the head of each q list, each listed lease) and worker
 * figure hashes (wmetrics:<w>), whose names are what it finds in those lists: it builds them
 * from the contract's prefixes compiled into its text, never from ARGV, and they live under
 * the same {tq} hash tag, so on the same node. It returns, per class, the ready list's
 * length, the running count (runcount: see "How many jobs run" in tq_wire.h) and the oldest
 * queued job's enq_ms; the dead set's size, the running set's size, the rejected render-log
 * entries; the workers' heartbeats; and, when asked, the leases (up to a limit), the worker
 * figures younger than a time (up to a limit) and the jobs completed (event ok) since a time.
 *
 * Every pointer in a struct tq_snapshot points into the reply it was parsed from (or into
 * arrays the snapshot owns): valid until tq_snapshot_clear, and for tq_snapshot_parse only
 * while the reply lives. */
#ifndef TQ_SNAPSHOT_H
#define TQ_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "tq_job.h"
#include "tq_wire.h"

struct tq_snapshot_class {
    long long queued;      /* LLEN q:<class> */
    long long running;     /* runcount[class] */
    int64_t oldest_enq_ms; /* enq_ms of the job at the head of q:<class>; 0: none */
};

struct tq_snapshot_lease {
    const char *id;
    int cls;            /* 0..2, -1 when the job hash is gone or odd */
    const char *worker; /* "" when unknown */
    int64_t lease_until_ms, started_ms;
    long long attempts;
};

struct tq_snapshot_worker {
    const char *id;
    struct tq_heartbeat hb; /* host "?" and last_seen_ms 0 when unparsable */
};

struct tq_snapshot_figures {
    const char *worker;
    const redisReply *hash; /* HGETALL of wmetrics:<worker>, for tq_wfigures_parse */
};

struct tq_snapshot {
    struct tq_snapshot_class cls[TQ_CLASS_COUNT];
    long long dead;               /* ZCARD dead */
    long long running_leases;     /* ZCARD running */
    long long renderlog_rejected; /* XLEN renderlog:rejected */
    /* Tiles follow the data: the watcher's figures (TQ_WATCH_KEY), when one ran lately. */
    int watch_present;
    long long watch_backlog, watch_oldest_ms, watch_updated_ms;
    struct tq_snapshot_worker *workers;
    size_t nworkers;
    struct tq_snapshot_lease *leases; /* the first leases_max, earliest deadline first */
    size_t nleases;
    struct tq_snapshot_figures *figures;
    size_t nfigures;
    const char **completed; /* job ids of the ok events since completed_since_ms, newest first */
    size_t ncompleted;
    redisReply *owned; /* the reply, when tq_snapshot_read read it */
};

/* What to read besides the counts (0 leaves a part out). */
struct tq_snapshot_want {
    long leases_max;            /* leases listed */
    int64_t figures_since_ms;   /* worker figures whose index entry is at least this recent */
    long figures_max;           /* figure hashes read */
    int64_t completed_since_ms; /* ok events at or after this time (unix ms, the stream ids) */
    long completed_max;         /* events read */
};

extern const char TQ_LUA_SNAPSHOT[];

/* The snapshot as a hiredis format, for sync and async callers alike:
 *   KEYS q:interactive q:dirty q:bulk runcount running dead workers wmetrics
 *        renderlog:rejected events watch
 *   ARGV leases_max figures_since_ms figures_max completed_since_ms completed_max
 * arguments: TQ_LUA_SNAPSHOT, then the five of struct tq_snapshot_want as long long. */
#define TQ_SNAPSHOT_FMT                                                                            \
    "EVAL %s 11 " TQ_QUEUE_CLASS_KEYS " " TQ_QUEUE_RUNCOUNT_KEY " " TQ_QUEUE_RUNNING_KEY           \
    " " TQ_QUEUE_DEAD_KEY " " TQ_QUEUE_WORKERS_KEY " " TQ_WMETRICS_INDEX_KEY                       \
    " " TQ_QUEUE_RENDERLOG_REJECTED_KEY " " TQ_QUEUE_EVENTS_KEY " " TQ_WATCH_KEY                   \
    " %lld %lld %lld %lld %lld"

/* Parses the script's reply r into out (the caller clears it with tq_snapshot_clear, also
 * after an error; out borrows r). Returns 0, or -1 with err set (error or odd reply, out of
 * memory). */
int tq_snapshot_parse(const redisReply *r, struct tq_snapshot *out, char *err, size_t errsize);

/* Runs the script on c and parses its reply into out (which then owns it). 0, or -1 with
 * err set. */
int tq_snapshot_read(redisContext *c, const struct tq_snapshot_want *want, struct tq_snapshot *out,
                     char *err, size_t errsize);

void tq_snapshot_clear(struct tq_snapshot *s);

#endif

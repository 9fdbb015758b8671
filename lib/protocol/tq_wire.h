/* tq_wire — the wire contract: every Redis key, hash field, class name, job state and event
 * status the programs exchange, defined once, next to the job lifecycle and the invariants of
 * each state. Everything else (the Lua scripts of tq_queue, the snapshot of tq_snapshot, the
 * checker tq_queue_check, the event and figure codecs, the programs) names these macros.
 *
 * Keys, all under TQ_QUEUE_PREFIX ("{tq}:", one hash tag = one Redis Cluster slot). Every
 * script gets every key it touches as KEYS (a job's own keys come from tq_queue_job_keys());
 * no script builds a key name from ARGV:
 *   job:<id>      hash   one render job, fields TQ_JOB_F_* below
 *   q:<class>     list   ready job ids, claimed from the head (class names TQ_CLASS_NAME_*)
 *   running       zset   job id -> lease deadline (unix ms, Redis's clock)
 *   runcount      hash   class number ("0".."2") -> jobs running
 *   fence         string the last fencing token handed out (INCR by every claim; a new one
 *                        starts at Redis's time in ms x 1000, so tokens grow across data loss)
 *   claims        string claims so far (every fair_every-th looks at the lowest class first)
 *   done:<id>     string set for a moment (TQ_QUEUE_DONE_TTL_MS) after success, so a late
 *                        request reads the cache
 *   dead          zset   job id -> dead-letter time (unix ms); details stay in job:<id>
 *   events        stream completions, fields TQ_EVENT_F_*, status TQ_EVENT_* (tq_event.h)
 *   wake          list   one token per new ready job; idle workers BLPOP it
 *   renderlog     stream one entry per rendered tile, fields TQ_RENDERLOG_FIELDS; the
 *                        consumer group TQ_RENDERLOG_GROUP moves them into PostgreSQL
 *   renderlog:rejected stream entries PostgreSQL rejected: stream_id, error, their fields
 *   workers       hash   worker id -> "host pid last_seen_ms" (tq_wire_heartbeat_*)
 *   wmetrics      zset   worker id -> time of its last figures (unix ms, the worker's clock)
 *   wmetrics:<w>  hash   worker w's cumulative figures, TTL TQ_WMETRICS_TTL_MS (tq_wfigures.h)
 *   schema        hash   tileset -> layer schema json the workers publish (tq_tilejson.h)
 *
 * Time: every time a script stores or compares (enq_ms, started_ms, lease_until, dead_ms, the
 * done marker) is Redis's own, redis.call('TIME'). No host clock reaches the queue, so clock
 * skew between hosts cannot shorten or stretch a lease.
 *
 * Job lifecycle (function behind each arrow, all in tq_queue; t = the claim's fencing token):
 *
 *           tq_queue_enqueue*          tq_queue_claim (t = INCR fence)
 *   (none) ─────────────────▶ queued ────────────────▶ running(t) ─tq_queue_ack(ok)─▶ (none)
 *                             ▲ ▲ ▲                    │  │ │                     + done:<id>
 *    enqueue(interactive) on  │ │ │ tq_queue_ack(fail, │  │ │                     + event ok
 *    a lower class:           │ │ │ attempts<max)      │  │ └─tq_queue_ack(ok), rerun=1
 *    "promoted" ──────────────┘ │ ├────────────────────┘  │  (an expire hit mid-render)
 *    tq_queue_release, no       │ │ tq_queue_reap          │  ─▶ queued (keeps rerun_why)
 *    holder left, interactive:  │ │ (lease expired, <max)  │
 *    moved to bulk, "demoted" ──┘ └────────────────────────┤ tq_queue_ack(fail, attempts>=max),
 *                                                          │ tq_queue_ack(dead) (malformed),
 *                                                          ▼ tq_queue_reap (>=max)
 *                                                         dead ──(event dead)
 *                                                          │ tq_queue_enqueue* after the
 *                                                          │ cool-down (before it: "dead" and
 *                                                          │ the reason, nothing changes),
 *                                                          │ deadletter retry (mode retry),
 *                                                          │ tq_queue_expire_mark (drops it:
 *                                                          ▼ the next request is "new")
 *                                                        queued (attempts 0)
 *
 * A render again (rerun): tq_queue_expire_mark (tileq expire, the watcher) or an ENQUEUE in
 * mode expire on a running job sets rerun=1 and rerun_why = the asker's reason; the ack
 * re-queues the job with rerun_why kept, and the next claim returns it and drops it, so the
 * re-render's render-log rows carry "expire" or "change", not the first render's reason.
 *
 * Invariants, as the scripts keep them. tq_queue_check verifies exactly these (one enum
 * tq_invariant each, its text is the macro below) against one atomic snapshot of a live
 * Redis, and `tileq status --check` shows them; "q lists" are q:interactive, q:dirty, q:bulk.
 *
 *   queued   ⇔ in exactly one q list, the one of cls, exactly once; ∉ running; ∉ dead.
 *   running  ⇔ ∈ running with score = lease_until ∧ counted in runcount[cls]; worker and
 *              token set, token <= fence; in no q list; ∉ dead; lease_until <= lease_cap when
 *              a heartbeat set a cap (claim drops the cap of an earlier attempt).
 *   dead     ⇔ ∈ dead with score = dead_ms; last_error set (it may be empty: an ack without
 *              a reason); in no q list; ∉ running.
 *   every job hash: state queued|running|dead, cls 0..2, attempts >= 0, holders >= 0.
 *   every id in running or dead has a job hash in that state (ack, reap, enqueue and purge
 *              remove the entry in the same script that changes the state).
 *   runcount[c] = the number of running jobs of class c, for c 0..2 only, never negative
 *              (claim and ack/reap move both in one script; a running job never changes cls).
 *   done:<id> always has a TTL (SET ... PX in ack).
 * An id in a q list without any job hash is a warning, not a violation: no script leaves
 * one, but claim tolerates it (pops and drops it, "again") and nothing is rendered twice or
 * lost for it. An id in a q list whose hash exists in another state or class is a violation:
 * once that job is queued again (retry, reap, rerun) it would sit in the lists twice.
 *
 * "How many jobs run": runcount, not the size of the running zset. The two agree whenever the
 * invariants hold (checked above); runcount is the figure the claim script compares with each
 * class's running cap, it is per class without reading any job hash, and it is O(1). Both
 * `tileq status` and /metrics report it through tq_snapshot; status also lists the leases
 * (the running zset) one by one. */
#ifndef TQ_WIRE_H
#define TQ_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* A number macro as a string literal, for script text built from the contract. */
#define TQ_WIRE_STR_(x) #x
#define TQ_WIRE_STR(x) TQ_WIRE_STR_(x)

/* ---- keys ------------------------------------------------------------------------------ */

#define TQ_QUEUE_PREFIX "{tq}:"
#define TQ_QUEUE_JOB_KEY_PREFIX TQ_QUEUE_PREFIX "job:"
#define TQ_QUEUE_DONE_KEY_PREFIX TQ_QUEUE_PREFIX "done:"
#define TQ_QUEUE_Q_KEY_PREFIX TQ_QUEUE_PREFIX "q:"
#define TQ_QUEUE_RUNNING_KEY TQ_QUEUE_PREFIX "running"
#define TQ_QUEUE_RUNCOUNT_KEY TQ_QUEUE_PREFIX "runcount"
#define TQ_QUEUE_FENCE_KEY TQ_QUEUE_PREFIX "fence"
#define TQ_QUEUE_CLAIMS_KEY TQ_QUEUE_PREFIX "claims"
#define TQ_QUEUE_DEAD_KEY TQ_QUEUE_PREFIX "dead"
#define TQ_QUEUE_EVENTS_KEY TQ_QUEUE_PREFIX "events"
#define TQ_QUEUE_WAKE_KEY TQ_QUEUE_PREFIX "wake"
#define TQ_QUEUE_RENDERLOG_KEY TQ_QUEUE_PREFIX "renderlog"
#define TQ_QUEUE_RENDERLOG_REJECTED_KEY TQ_QUEUE_PREFIX "renderlog:rejected"
#define TQ_QUEUE_WORKERS_KEY TQ_QUEUE_PREFIX "workers"
#define TQ_WMETRICS_INDEX_KEY TQ_QUEUE_PREFIX "wmetrics"
#define TQ_WMETRICS_KEY_PREFIX TQ_QUEUE_PREFIX "wmetrics:"
#define TQ_SCHEMA_KEY TQ_QUEUE_PREFIX "schema"
/* Tiles follow the data (issue 11): `tileq watch run` writes its figures here after each
 * batch and every second (a hash with a TTL, so a dead watcher's figures go): the change
 * backlog in PostgreSQL (rows of tileq.changes), the age of its oldest row, the last change
 * id consumed and when it was written. `tileq status` and /metrics read it. */
#define TQ_WATCH_KEY TQ_QUEUE_PREFIX "watch"
#define TQ_WATCH_F_BACKLOG "backlog"
#define TQ_WATCH_F_OLDEST_MS "oldest_ms"
#define TQ_WATCH_F_LAST_ID "last_id"
#define TQ_WATCH_F_UPDATED_MS "updated_ms"
#define TQ_WATCH_TTL_MS 30000

#define TQ_QUEUE_DONE_TTL_MS 10000 /* life of a done:<id> marker */
#define TQ_WMETRICS_TTL_MS 60000   /* life of a worker's figures (and of its index entry) */
#define TQ_EVENTS_MAXLEN 100000    /* events stream, trimmed approximately (XADD MAXLEN ~) */
#define TQ_RENDERLOG_GROUP "pg"    /* the render log's consumer group (tq_renderlog) */

/* ---- priority classes: number (enum tq_job_class in tq_job.h), name, ready list --------- */

#define TQ_CLASS_NAME_INTERACTIVE "interactive" /* 0: a user is waiting */
#define TQ_CLASS_NAME_DIRTY "dirty"             /* 1: expired, re-render */
#define TQ_CLASS_NAME_BULK "bulk"               /* 2: warming */
#define TQ_QUEUE_Q_INTERACTIVE_KEY TQ_QUEUE_Q_KEY_PREFIX TQ_CLASS_NAME_INTERACTIVE
#define TQ_QUEUE_Q_DIRTY_KEY TQ_QUEUE_Q_KEY_PREFIX TQ_CLASS_NAME_DIRTY
#define TQ_QUEUE_Q_BULK_KEY TQ_QUEUE_Q_KEY_PREFIX TQ_CLASS_NAME_BULK

/* The three class queues, highest class first, as one hiredis format fragment (no spaces in
 * key names, so hiredis passes each as one argument). */
#define TQ_QUEUE_CLASS_KEYS                                                                        \
    TQ_QUEUE_Q_INTERACTIVE_KEY " " TQ_QUEUE_Q_DIRTY_KEY " " TQ_QUEUE_Q_BULK_KEY

/* ---- job hash job:<id>: fields and states ----------------------------------------------- */

#define TQ_JOB_F_STATE "state"             /* TQ_STATE_* */
#define TQ_JOB_F_CLS "cls"                 /* class number 0..2 */
#define TQ_JOB_F_PAYLOAD "payload"         /* msgpack tq_job (tq_job.h) */
#define TQ_JOB_F_ATTEMPTS "attempts"       /* claims so far (0 when queued anew) */
#define TQ_JOB_F_WORKER "worker"           /* id of the worker of the last claim */
#define TQ_JOB_F_TOKEN "token"             /* fencing token of the last claim */
#define TQ_JOB_F_LEASE_UNTIL "lease_until" /* lease deadline, unix ms (= score in running) */
#define TQ_JOB_F_LEASE_CAP "lease_cap"     /* started_ms + budget: no heartbeat goes past it */
#define TQ_JOB_F_STARTED_MS "started_ms"   /* time of the last claim */
#define TQ_JOB_F_RERUN "rerun"             /* 1: an expire hit it mid-render, render again */
/* The reason ("expire", "change", ...) of the ask that marked a running job rerun:
 * tq_queue_expire_mark's, or the payload's of an ENQUEUE in mode expire (the latest ask
 * wins). It outlives the ack that re-queues the job; the next claim hands it to the worker
 * (the render carries it instead of the payload's reason, unless it is a retry) and drops
 * it. Absent otherwise; a new job starts without it. */
#define TQ_JOB_F_RERUN_WHY "rerun_why"
#define TQ_JOB_F_LAST_ERROR "last_error" /* why the last attempt failed */
#define TQ_JOB_F_ENQ_MS "enq_ms"         /* time it was queued anew */
#define TQ_JOB_F_DEAD_MS "dead_ms"       /* time it was dead-lettered (= score in dead) */
#define TQ_JOB_F_HOLDERS "holders"       /* coordinators with a pending entry for it */

#define TQ_STATE_QUEUED "queued"
#define TQ_STATE_RUNNING "running"
#define TQ_STATE_DEAD "dead"

enum tq_job_state { TQ_JOB_QUEUED = 0, TQ_JOB_RUNNING, TQ_JOB_DEAD, TQ_JOB_STATE_COUNT };

/* "queued", "running", "dead" ("?" out of range). */
const char *tq_job_state_name(enum tq_job_state s);
/* 0, or -1 for NULL or any other string. */
int tq_job_state_parse(const char *s, enum tq_job_state *out);

/* ---- completion events (the events stream; codec in tq_event.h) ------------------------- */

#define TQ_EVENT_F_ID "id"         /* the job id */
#define TQ_EVENT_F_STATUS "status" /* TQ_EVENT_OK | TQ_EVENT_PARTIAL | TQ_EVENT_DEAD */
#define TQ_EVENT_F_ERROR "error"   /* the reason of a dead job; "" otherwise */

#define TQ_EVENT_OK "ok"           /* rendered, every tile is in the cache */
#define TQ_EVENT_PARTIAL "partial" /* the first requester's tile is in the cache, more follows */
#define TQ_EVENT_DEAD "dead"       /* dead-lettered: failed max_attempts times, or malformed */

/* ---- render-log stream entries (tq_renderlog): field names in column order -------------- */

#define TQ_RENDERLOG_FIELDS                                                                        \
    "tileset", "z", "x", "y", "job", "attempt", "reason", "worker", "started_ms", "duration_ms",   \
        "metatile_ms", "bytes"
#define TQ_RENDERLOG_NFIELDS 12
#define TQ_RENDERLOG_REJECTED_F_STREAM_ID "stream_id" /* the rejected entry's id */
#define TQ_RENDERLOG_REJECTED_F_ERROR "error"         /* why PostgreSQL rejected it */

/* ---- worker ids: the worker field of render-log entries, the key of workers[] ------------ */

/* A worker id (config worker_id / TQ_WORKER_ID, else host:pid) is 1..TQ_WORKER_ID_MAX-1
 * bytes of printable ASCII without blanks (0x21..0x7e): it goes into log lines, Redis
 * fields and tileq.render_log as it is, so it can forge neither a line nor a field. */
#define TQ_WORKER_ID_MAX 256 /* including NUL */

/* 1 when the len bytes at id are a valid worker id, 0 otherwise. */
int tq_worker_id_valid(const char *id, size_t len);

/* ---- worker heartbeats: the value of workers[<worker id>] ------------------------------- */

struct tq_heartbeat {
    char host[256];
    long pid;
    int64_t last_seen_ms; /* the worker's clock */
};

/* "host pid last_seen_ms" into out. Returns 0, or -1 when it does not fit. */
int tq_heartbeat_encode(const struct tq_heartbeat *hb, char *out, size_t size);
/* Parses what tq_heartbeat_encode wrote. 0, or -1 (then hb has host "?", pid and time 0). */
int tq_heartbeat_parse(const char *s, struct tq_heartbeat *hb);

/* ---- invariants (see the list above; tq_queue_check verifies each) ---------------------- */

enum tq_invariant {
    TQ_INV_QUEUED = 0,
    TQ_INV_RUNNING,
    TQ_INV_DEAD,
    TQ_INV_FIELDS,
    TQ_INV_ENTRIES,
    TQ_INV_RUNCOUNT,
    TQ_INV_DONE_TTL,
    TQ_INV_COUNT
};

#define TQ_INV_QUEUED_TEXT                                                                         \
    "queued <=> exactly once in the q list of its class, in no other q list, not in running, "     \
    "not in dead"
#define TQ_INV_RUNNING_TEXT                                                                        \
    "running <=> in running with score = lease_until and counted in runcount[cls]; worker set, "   \
    "token <= fence, lease_until <= lease_cap, in no q list, not in dead"
#define TQ_INV_DEAD_TEXT                                                                           \
    "dead <=> in dead with score = dead_ms; last_error set, in no q list, not in running"
#define TQ_INV_FIELDS_TEXT                                                                         \
    "every job hash has state queued|running|dead, cls 0..2, attempts >= 0, holders >= 0"
#define TQ_INV_ENTRIES_TEXT                                                                        \
    "every id in a q list, running or dead has a job hash (left-over ids in a q list: warning)"
#define TQ_INV_RUNCOUNT_TEXT                                                                       \
    "runcount[class] = the running jobs of that class (fields 0..2 only, none negative)"
#define TQ_INV_DONE_TTL_TEXT "every done:<id> marker has a TTL"

/* A short name ("queued", "runcount", ...) and the invariant as one sentence ("?" out of
 * range). */
const char *tq_invariant_name(enum tq_invariant inv);
const char *tq_invariant_text(enum tq_invariant inv);

#endif

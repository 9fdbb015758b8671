/* tq_queue — the render queue in Redis: key names and the Lua scripts behind every state
 * change, each atomic and one round trip.
 *
 * Keys, all under TQ_QUEUE_PREFIX ("{tq}:", one hash tag = one cluster slot):
 *   job:<id>      hash   state queued|running|dead, cls, payload (msgpack tq_job), attempts,
 *                        worker, lease_until, started_ms, rerun, last_error, enq_ms
 *   q:<class>     list   ready job ids, claimed from the head
 *   running       zset   job id -> lease deadline (unix ms)
 *   runcount      hash   class number -> jobs running
 *   done:<id>     string set for a moment after success, so a late request reads the cache
 *   dead          zset   job id -> dead-letter time (unix ms); details stay in job:<id>
 *   events        stream completions: id, status ok|dead|partial, error (partial: the worker
 *                        wrote the first requester's tile of an interactive job, the rest follows)
 *   wake          list   one token per new ready job; idle workers BLPOP it
 *   renderlog     stream one entry per rendered tile (see the worker)
 *   renderlog:rejected stream entries PostgreSQL rejected: stream_id, error, their fields
 *   workers       hash   worker id -> "host pid last_seen_ms"
 *
 * Job lifecycle (function behind each arrow):
 *
 *            tq_queue_enqueue*            tq_queue_claim
 *   (none) ──────────────────▶ queued ─────────────────▶ running ──tq_queue_ack(ok)──▶ (none)
 *                                ▲  ▲                   │  │ │                      + done:<id>
 *     enqueue(interactive) on a  │  │ tq_queue_ack(fail,│  │ │                      + event ok
 *     lower class: "promoted" ───┘  │ attempts<max)     │  │ └─tq_queue_ack(ok) while rerun=1
 *                                   ├───────────────────┘  │   (an expire hit mid-render) ─▶ queued
 *                                   │ tq_queue_reap         │
 *                                   │ (lease expired, <max) │ tq_queue_ack(fail, attempts>=max),
 *                                   └───────────────────────┤ tq_queue_ack(dead) (malformed),
 *                                                           ▼ tq_queue_reap (>=max)
 *                                                          dead ──(event dead)
 *                                                           │ tq_queue_enqueue* / deadletter retry
 *                                                           ▼
 *                                                         queued
 */
#ifndef TQ_QUEUE_H
#define TQ_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "tq_job.h"

#define TQ_QUEUE_PREFIX "{tq}:"
#define TQ_QUEUE_EVENTS_KEY TQ_QUEUE_PREFIX "events"
#define TQ_QUEUE_WAKE_KEY TQ_QUEUE_PREFIX "wake"
#define TQ_QUEUE_RENDERLOG_KEY TQ_QUEUE_PREFIX "renderlog"
#define TQ_QUEUE_RENDERLOG_REJECTED_KEY TQ_QUEUE_PREFIX "renderlog:rejected"
#define TQ_QUEUE_WORKERS_KEY TQ_QUEUE_PREFIX "workers"
#define TQ_QUEUE_DONE_TTL_MS 10000

enum tq_enqueue_result {
    TQ_ENQ_NEW = 0,
    TQ_ENQ_COALESCED,
    TQ_ENQ_PROMOTED,
    TQ_ENQ_RUNNING,
    TQ_ENQ_RERUN,
    TQ_ENQ_DONE,
    TQ_ENQ_FULL,
    TQ_ENQ_ERROR
};

/* How an enqueue treats existing state: a client request, a warm, an expire (a running
 * render must run again), or a refresh (a request whose tile is missing although the job
 * finished a moment ago, e.g. expired since: the "done" marker must not answer it). */
enum tq_enqueue_mode {
    TQ_ENQ_MODE_REQUEST = 0,
    TQ_ENQ_MODE_WARM,
    TQ_ENQ_MODE_EXPIRE,
    TQ_ENQ_MODE_REFRESH
};

extern const char TQ_LUA_ENQUEUE[];
extern const char TQ_LUA_CLAIM[];
extern const char TQ_LUA_HEARTBEAT[];
extern const char TQ_LUA_ACK[];
extern const char TQ_LUA_REAP[];
extern const char TQ_LUA_EXPIRE_MARK[];
extern const char TQ_LUA_DEAD_PURGE[];

const char *tq_enqueue_result_name(enum tq_enqueue_result r);
const char *tq_enqueue_mode_name(enum tq_enqueue_mode m);

/* Maps the ENQUEUE script's reply to a result (TQ_ENQ_ERROR for an error or odd reply). */
enum tq_enqueue_result tq_enqueue_result_from_reply(const redisReply *r);

/* Sends ENQUEUE asynchronously is done by the coordinator with this format and the
 * arguments below; kept here so sync and async callers agree:
 *   EVAL script 0 prefix id class payload cap now_ms mode */
#define TQ_ENQUEUE_FMT "EVAL %s 0 %s %s %d %b %ld %lld %s"

/* Synchronous enqueue (CLI, tests). Returns the result; TQ_ENQ_ERROR with err set. */
enum tq_enqueue_result tq_queue_enqueue(redisContext *c, const struct tq_job *job, long cap,
                                        enum tq_enqueue_mode mode, char *err, size_t errsize);

struct tq_claimed {
    char id[TQ_JOB_ID_MAX];
    char *payload; /* malloc'd; tq_claimed_clear frees */
    size_t payload_len;
    int attempt;
    enum tq_job_class cls;
};
void tq_claimed_clear(struct tq_claimed *c);

/* Claims the next job for worker: 1 claimed (fills out), 0 nothing ready, -1 Redis error
 * (err set). running_cap[i] 0 = unlimited; fair_every: every n-th claim looks at the classes
 * lowest first so bulk work is never starved (0 disables). */
int tq_queue_claim(redisContext *c, const char *worker, int lease_ms, const long *running_cap,
                   int fair_every, struct tq_claimed *out, char *err, size_t errsize);

/* Extends the lease. 1 held, 0 lost (reaped or acked elsewhere), -1 error. */
int tq_queue_heartbeat(redisContext *c, const char *id, const char *worker, int lease_ms, char *err,
                       size_t errsize);

enum tq_ack_outcome { TQ_ACK_OK = 0, TQ_ACK_FAIL, TQ_ACK_DEAD };

/* Reports the end of a claimed job. error may be NULL for OK. Writes the script's answer
 * ("ok", "requeued", "retry", "dead", "stale") into result. 0 or -1 (err set). */
int tq_queue_ack(redisContext *c, const char *id, const char *worker, enum tq_ack_outcome outcome,
                 const char *error, int max_attempts, char *result, size_t resultsize, char *err,
                 size_t errsize);

/* Returns jobs whose lease expired to the head of their class (or dead-letters them past
 * max_attempts). Returns how many were reaped, or -1 (err set). */
int tq_queue_reap(redisContext *c, int max_attempts, int limit, char *err, size_t errsize);

/* Expiry of a metatile (tileq expire), before its tiles are deleted: a render in flight is
 * marked to run again when it ends (its data may predate the change) and the done marker is
 * dropped so no request or warm trusts it. Writes the job's state before ("running",
 * "queued", "dead" or "none") into state. 1 when a running job was marked, 0 otherwise,
 * -1 error (err set). */
int tq_queue_expire_mark(redisContext *c, const char *id, char *state, size_t statesize, char *err,
                         size_t errsize);

/* Deletes a dead-lettered job (its hash and its entry in the dead set). 1 purged, 0 not
 * dead-lettered (a stale dead entry is dropped), -1 error (err set). */
int tq_queue_dead_purge(redisContext *c, const char *id, char *err, size_t errsize);

/* Unix time in milliseconds. */
int64_t tq_now_ms(void);

#endif

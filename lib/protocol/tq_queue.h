/* tq_queue — the render queue in Redis: the Lua scripts behind every state change, each
 * atomic and one round trip, and thin synchronous wrappers.
 *
 * The keys, fields, states, the job lifecycle (which function is behind each arrow) and the
 * invariants of each state are the wire contract, tq_wire.h. Every script gets every key it
 * touches as KEYS (the names from tq_wire.h; a job's own keys from tq_queue_job_keys()) and
 * reads the time from Redis (TIME); ARGV carries values only.
 *
 * Fencing. A claim stores a new token (INCR fence, so tokens only grow) in the job hash and
 * returns it. Whatever a worker does for the job later names that token, and the script
 * refuses it when the job's current token differs (the job was reaped and claimed again,
 * re-queued, finished or dead-lettered meanwhile):
 *   tq_queue_heartbeat   extends the lease; answers the lease left in ms (<= 0: lost)
 *   tq_queue_partial     the "partial" completion event (first tile written)
 *   tq_queue_ack         answers "stale"
 * Invariants: a job in state running has exactly one valid token, held by the worker that
 * claimed it last; a worker renames tiles into the cache only while a heartbeat under its
 * token answered at least a safety margin of lease left (see the worker), so once the lease
 * ran out (and only then can the job be reaped and claimed again) the old holder writes
 * nothing more.
 * Lease cap: a heartbeat never moves lease_until past started_ms + budget_ms (the worker's
 * budget: render timeout x render statements of the job + a margin), so a worker that goes
 * on heartbeating a render that never ends loses the job all the same.
 *
 * Holders (abandoned interactive jobs): holders counts the coordinators with a pending
 * entry for the job. An enqueue in request mode with hold = 1 (the coordinator's first
 * enqueue for that entry) adds one; tq_queue_release (the entry lost its last waiter to
 * clients going away) takes one. At 0 a job still queued in interactive moves to the tail of
 * bulk: it still renders (its tiles were wanted, and the next visitor of the area likely
 * wants them too), as warming does, but it no longer holds a place under the interactive
 * cap or ahead of requests somebody still waits for. Dropping it instead would throw away
 * the work of every later request that would have coalesced with it; keeping it interactive
 * lets clients that give up (or a hostile one) fill the interactive class. A later request
 * promotes it back ("promoted"). */
#ifndef TQ_QUEUE_H
#define TQ_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "tq_job.h"
#include "tq_wire.h"

/* The list of ready jobs of a class (NULL for an unknown class). */
const char *tq_queue_class_key(enum tq_job_class cls);

/* The keys of one job. */
struct tq_job_keys {
    char job[sizeof TQ_QUEUE_JOB_KEY_PREFIX + TQ_JOB_ID_MAX];
    char done[sizeof TQ_QUEUE_DONE_KEY_PREFIX + TQ_JOB_ID_MAX];
};
void tq_queue_job_keys(const char *id, struct tq_job_keys *k);

enum tq_enqueue_result {
    TQ_ENQ_NEW = 0,
    TQ_ENQ_COALESCED,
    TQ_ENQ_PROMOTED,
    TQ_ENQ_RUNNING,
    TQ_ENQ_RERUN,
    TQ_ENQ_DONE,
    TQ_ENQ_FULL,
    TQ_ENQ_DEAD, /* dead-lettered and cooling down: nothing changed (reply {'dead', reason}) */
    TQ_ENQ_ERROR
};

/* How an enqueue treats existing state: a client request, a warm, an expire (a running
 * render must run again), a refresh (a request whose tile is missing although the job
 * finished a moment ago, e.g. expired since: the "done" marker must not answer it), or a
 * retry (tileq deadletter retry: as refresh, and a dead job is queued again at once,
 * cool-down or not). */
enum tq_enqueue_mode {
    TQ_ENQ_MODE_REQUEST = 0,
    TQ_ENQ_MODE_WARM,
    TQ_ENQ_MODE_EXPIRE,
    TQ_ENQ_MODE_REFRESH,
    TQ_ENQ_MODE_RETRY
};

extern const char TQ_LUA_ENQUEUE[];
extern const char TQ_LUA_CLAIM_PICK[];
extern const char TQ_LUA_CLAIM[];
extern const char TQ_LUA_HEARTBEAT[];
extern const char TQ_LUA_PARTIAL[];
extern const char TQ_LUA_ACK[];
extern const char TQ_LUA_REAP_LIST[];
extern const char TQ_LUA_REAP[];
extern const char TQ_LUA_EXPIRE_MARK[];
extern const char TQ_LUA_DEAD_PURGE[];
extern const char TQ_LUA_RELEASE[];

const char *tq_enqueue_result_name(enum tq_enqueue_result r);
const char *tq_enqueue_mode_name(enum tq_enqueue_mode m);

/* Maps the ENQUEUE script's reply to a result (TQ_ENQ_ERROR for an error or odd reply). */
enum tq_enqueue_result tq_enqueue_result_from_reply(const redisReply *r);

/* The dead-lettered job's last error in a TQ_ENQ_DEAD reply (points into r), or NULL when r
 * is not one. */
const char *tq_enqueue_reply_reason(const redisReply *r);

/* ENQUEUE as a hiredis format, for sync and async callers alike:
 *   KEYS job:<id> done:<id> q:interactive q:dirty q:bulk dead wake
 *   ARGV id class payload cap mode cooldown_ms hold
 * arguments: script, keys.job, keys.done, id, (int)class, payload, payload_len, (long)cap,
 * mode name, (long long)cooldown_ms, (int)hold. */
#define TQ_ENQUEUE_FMT                                                                             \
    "EVAL %s 7 %s %s " TQ_QUEUE_CLASS_KEYS " " TQ_QUEUE_DEAD_KEY " " TQ_QUEUE_WAKE_KEY             \
    " %s %d %b %ld %s %lld %d"

/* Synchronous enqueue (CLI, tests). cooldown_ms: how long a dead-lettered job stays dead
 * (queue.dead_cooldown_seconds); hold: 1 counts the caller as a holder (see Holders above;
 * request mode only). Returns the result; TQ_ENQ_ERROR with err set; TQ_ENQ_DEAD with the
 * job's last error in err. */
enum tq_enqueue_result tq_queue_enqueue(redisContext *c, const struct tq_job *job, long cap,
                                        enum tq_enqueue_mode mode, int64_t cooldown_ms, int hold,
                                        char *err, size_t errsize);

struct tq_claimed {
    char id[TQ_JOB_ID_MAX];
    char *payload; /* malloc'd; tq_claimed_clear frees */
    size_t payload_len;
    int attempt;
    enum tq_job_class cls;
    long long token; /* the fencing token of this claim */
    /* The reason the ask that marked the job rerun gave (TQ_JOB_F_RERUN_WHY), "" when none:
     * this render is that re-render and carries that reason, not the payload's. */
    char rerun_why[16];
};
void tq_claimed_clear(struct tq_claimed *c);

/* Claims the next job for worker: 1 claimed (fills out), 0 nothing ready, -1 Redis error
 * (err set). running_cap[i] 0 = unlimited; fair_every: every n-th claim looks at the classes
 * lowest first so bulk work is never starved (0 disables). Two scripts: CLAIM_PICK names the
 * head of the class to serve (so CLAIM can be given that job's keys), CLAIM takes it unless
 * another worker was first (then it picks again). */
int tq_queue_claim(redisContext *c, const char *worker, int lease_ms, const long *running_cap,
                   int fair_every, struct tq_claimed *out, char *err, size_t errsize);

/* Extends the lease of job id held under token to lease_ms from now (Redis's clock), never
 * past its started_ms + budget_ms (budget_ms <= 0: no cap). Returns 1 held, 0 lost (reaped,
 * claimed again, acked elsewhere, or the cap reached), -1 error. *remaining_ms (may be NULL)
 * gets the lease left after this call, in ms of Redis's clock (<= 0 when lost). */
int tq_queue_heartbeat(redisContext *c, const char *id, long long token, int lease_ms,
                       int64_t budget_ms, int64_t *remaining_ms, char *err, size_t errsize);

/* Announces the first tile of job id (the "partial" event) if token still holds it.
 * 1 sent, 0 refused (stale token), -1 error. */
int tq_queue_partial(redisContext *c, const char *id, long long token, char *err, size_t errsize);

enum tq_ack_outcome { TQ_ACK_OK = 0, TQ_ACK_FAIL, TQ_ACK_DEAD };

/* Reports the end of a claimed job. error may be NULL for OK. Writes the script's answer
 * ("ok", "requeued", "retry", "dead", "stale": the token no longer holds the job) into
 * result. 0 or -1 (err set). */
int tq_queue_ack(redisContext *c, const char *id, long long token, enum tq_ack_outcome outcome,
                 const char *error, int max_attempts, char *result, size_t resultsize, char *err,
                 size_t errsize);

/* Returns jobs whose lease expired (Redis's clock) to the head of their class (or
 * dead-letters them past max_attempts): REAP_LIST names up to limit expired jobs, REAP
 * reaps each (checking again). Returns how many were reaped, or -1 (err set). */
int tq_queue_reap(redisContext *c, int max_attempts, int limit, char *err, size_t errsize);

/* Expiry of a metatile (tileq expire), before its tiles are deleted: a render in flight is
 * marked to run again when it ends (its data may predate the change), the done marker is
 * dropped so no request or warm trusts it, and a dead-lettered job is dropped (its
 * cool-down ends: the next request renders it). The render again carries reason (expire,
 * change). Writes the job's state before ("running", "queued", "dead" or "none") into
 * state. 1 when a running job was marked, 0 otherwise, -1 error (err set). */
int tq_queue_expire_mark(redisContext *c, const char *id, enum tq_job_reason reason, char *state,
                         size_t statesize, char *err, size_t errsize);

/* Deletes a dead-lettered job (its hash and its entry in the dead set). 1 purged, 0 not
 * dead-lettered (a stale dead entry is dropped), -1 error (err set). */
int tq_queue_dead_purge(redisContext *c, const char *id, char *err, size_t errsize);

/* RELEASE as a hiredis format (async callers):
 *   KEYS job:<id> q:interactive q:bulk wake   ARGV id
 * arguments: script, keys.job, id. Replies "demoted" (it was queued interactive and had no
 * holder left: moved to bulk), "held" (holders remain), "released" (no holder left, but it
 * is not queued interactive: nothing to move) or "none" (no such job). */
#define TQ_RELEASE_FMT                                                                             \
    "EVAL %s 4 %s " TQ_QUEUE_Q_INTERACTIVE_KEY " " TQ_QUEUE_Q_BULK_KEY " " TQ_QUEUE_WAKE_KEY " %s"

/* Synchronous release (tests). Writes the answer into result. 0, or -1 (err set). */
int tq_queue_release(redisContext *c, const char *id, char *result, size_t resultsize, char *err,
                     size_t errsize);

#endif

/* tq_queue — Lua scripts for the render queue and thin synchronous wrappers.
 * See tq_wire.h for the keys, the job lifecycle and its invariants, tq_queue.h for fencing.
 * Every script gets the keys it touches as KEYS (the caller passes the names from tq_wire.h)
 * and reads the time from Redis (TIME); ARGV carries values only. */
#include "tq_queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "tq_event.h"

#define CLAIM_TRIES 64 /* picks per claim when other workers keep taking the head first */

#define LUA_COMMON                                                                                 \
    "local function now_ms() local t = redis.call('TIME') return tonumber(t[1]) * 1000 + "         \
    "math.floor(tonumber(t[2]) / 1000) end\n"                                                      \
    "local function wake(k) redis.call('RPUSH', k, 1) redis.call('LTRIM', k, 0, 1023) "            \
    "end\n" TQ_EVENT_LUA_XADD

/* KEYS: job done q:interactive q:dirty q:bulk dead wake
 * ARGV: id class payload cap mode(request|warm|expire|refresh|retry) cooldown_ms hold */
const char TQ_LUA_ENQUEUE[] = LUA_COMMON
    "local jk, qk = KEYS[1], {KEYS[3], KEYS[4], KEYS[5]}\n"
    "local id, cls, payload = ARGV[1], tonumber(ARGV[2]), ARGV[3]\n"
    "local cap, mode, cool, hold = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), "
    "tonumber(ARGV[7])\n"
    "local function held() if hold == 1 then redis.call('HINCRBY', jk, '" TQ_JOB_F_HOLDERS
    "', 1) end end\n"
    "local st = redis.call('HGET', jk, '" TQ_JOB_F_STATE "')\n"
    "if st == '" TQ_STATE_QUEUED "' then\n"
    "  held()\n"
    "  local old = tonumber(redis.call('HGET', jk, '" TQ_JOB_F_CLS "'))\n"
    "  if cls < old then\n"
    "    redis.call('LREM', qk[old+1], 1, id)\n"
    "    redis.call('RPUSH', qk[cls+1], id)\n"
    "    redis.call('HSET', jk, '" TQ_JOB_F_CLS "', cls, '" TQ_JOB_F_PAYLOAD "', payload)\n"
    "    return 'promoted'\n"
    "  end\n"
    "  return 'coalesced'\n"
    "elseif st == '" TQ_STATE_RUNNING "' then\n"
    "  held()\n"
    "  if mode == 'expire' then\n"
    /* the rerun render carries this ask's reason: the payload's "why" (tq_job.h) */
    "    local ok, j = pcall(cmsgpack.unpack, payload)\n"
    "    local why = 'expire'\n"
    "    if ok and type(j) == 'table' and type(j.why) == 'string' then why = j.why end\n"
    "    redis.call('HSET', jk, '" TQ_JOB_F_RERUN "', 1, '" TQ_JOB_F_RERUN_WHY "', why)\n"
    "    return 'rerun'\n"
    "  end\n"
    "  return 'running'\n"
    "elseif st == '" TQ_STATE_DEAD "' and mode ~= 'retry' then\n"
    "  local since = now_ms() - tonumber(redis.call('HGET', jk, '" TQ_JOB_F_DEAD_MS "') or '0')\n"
    "  if since < cool then return {'dead', redis.call('HGET', jk, '" TQ_JOB_F_LAST_ERROR
    "') or ''} end\n"
    "end\n"
    "if (mode == 'request' or mode == 'warm') and redis.call('EXISTS', KEYS[2]) == 1 then\n"
    "  return 'done'\n"
    "end\n"
    "if cap > 0 and redis.call('LLEN', qk[cls+1]) >= cap then return 'full' end\n"
    "redis.call('DEL', jk)\n"
    "redis.call('ZREM', KEYS[6], id)\n"
    "redis.call('HSET', jk, '" TQ_JOB_F_STATE "', '" TQ_STATE_QUEUED "', '" TQ_JOB_F_CLS
    "', cls, '" TQ_JOB_F_PAYLOAD "', payload, '" TQ_JOB_F_ATTEMPTS "', 0,\n"
    "           '" TQ_JOB_F_ENQ_MS "', now_ms(), '" TQ_JOB_F_RERUN "', 0, '" TQ_JOB_F_HOLDERS
    "', hold)\n"
    "redis.call('RPUSH', qk[cls+1], id)\n"
    "wake(KEYS[7])\n"
    "return 'new'\n";

/* KEYS: q:interactive q:dirty q:bulk runcount claims   ARGV: cap0 cap1 cap2 fair_every
 * Returns {class, id} of the head of the first class (in this claim's order) that has work
 * and is under its running cap, or nil. */
const char TQ_LUA_CLAIM_PICK[] =
    "local fair = tonumber(ARGV[4])\n"
    "local order = {1, 2, 3}\n"
    "local n = redis.call('INCR', KEYS[5])\n"
    "if fair > 0 and n % fair == 0 then order = {3, 2, 1} end\n"
    "for _, i in ipairs(order) do\n"
    "  local cap = tonumber(ARGV[i])\n"
    "  if cap == 0 or tonumber(redis.call('HGET', KEYS[4], i-1) or '0') < cap then\n"
    "    local id = redis.call('LINDEX', KEYS[i], 0)\n"
    "    if id then return {i-1, id} end\n"
    "  end\n"
    "end\n"
    "return false\n";

/* KEYS: job q:<class> running runcount fence   ARGV: id class lease_ms worker cap
 * Takes id from the head of its class and hands out a new fencing token: INCR fence, or, when
 * fence did not exist (a new or emptied Redis), Redis's time in ms x 1000, so tokens still
 * grow across a restart that lost the data (unless it handed out more than 1000 tokens per
 * ms since the last such start). Stored with %d (Lua would print a 16-digit number as
 * 1.7e+15). Returns
 * {id, payload, attempt, class, token, rerun_why ("" none; the field is dropped)}, or "again" when
 * id is no longer the head (another worker took it), the class reached its cap meanwhile, or the id
 * was left over (its hash not queued: a promotion race or a purge; it is dropped). */
const char TQ_LUA_CLAIM[] = LUA_COMMON
    "local jk, id, cls = KEYS[1], ARGV[1], tonumber(ARGV[2])\n"
    "local lease, w, cap = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])\n"
    "if redis.call('LINDEX', KEYS[2], 0) ~= id then return 'again' end\n"
    "if cap > 0 and tonumber(redis.call('HGET', KEYS[4], cls) or '0') >= cap then "
    "return 'again' end\n"
    "redis.call('LPOP', KEYS[2])\n"
    "if redis.call('HGET', jk, '" TQ_JOB_F_STATE "') ~= '" TQ_STATE_QUEUED
    "' then return 'again' end\n"
    "local now = now_ms()\n"
    "local tok = redis.call('INCR', KEYS[5])\n"
    "if tok == 1 then tok = now * 1000 redis.call('SET', KEYS[5], string.format('%d', tok)) end\n"
    "tok = string.format('%d', tok)\n"
    "local att = redis.call('HINCRBY', jk, '" TQ_JOB_F_ATTEMPTS "', 1)\n"
    "redis.call('HSET', jk, '" TQ_JOB_F_STATE "', '" TQ_STATE_RUNNING "', '" TQ_JOB_F_WORKER
    "', w, '" TQ_JOB_F_TOKEN "', tok, '" TQ_JOB_F_LEASE_UNTIL "', "
    "now+lease,\n"
    "           '" TQ_JOB_F_STARTED_MS "', now, '" TQ_JOB_F_RERUN "', 0, '" TQ_JOB_F_CLS "', cls)\n"
    "local why = redis.call('HGET', jk, '" TQ_JOB_F_RERUN_WHY "') or ''\n"
    "redis.call('HDEL', jk, '" TQ_JOB_F_LEASE_CAP "', '" TQ_JOB_F_RERUN_WHY "')\n"
    "redis.call('ZADD', KEYS[3], now+lease, id)\n"
    "redis.call('HINCRBY', KEYS[4], cls, 1)\n"
    "return {id, redis.call('HGET', jk, '" TQ_JOB_F_PAYLOAD "'), att, cls, tonumber(tok), why}\n";

/* KEYS: job running   ARGV: id token lease_ms budget_ms
 * Returns the lease left in ms after extending it (capped at started_ms + budget_ms when
 * budget_ms > 0), or -1 when token does not hold the job. */
const char TQ_LUA_HEARTBEAT[] = LUA_COMMON
    "local jk, id, tok = KEYS[1], ARGV[1], ARGV[2]\n"
    "local lease, budget = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "if redis.call('HGET', jk, '" TQ_JOB_F_STATE "') ~= '" TQ_STATE_RUNNING
    "' or redis.call('HGET', jk, '" TQ_JOB_F_TOKEN "') ~= tok "
    "then return -1 end\n"
    "local now = now_ms()\n"
    "local untl = now + lease\n"
    "if budget > 0 then\n"
    "  local cap = tonumber(redis.call('HGET', jk, '" TQ_JOB_F_STARTED_MS "') or now) + budget\n"
    "  redis.call('HSET', jk, '" TQ_JOB_F_LEASE_CAP "', cap)\n"
    "  if cap < untl then untl = cap end\n"
    "end\n"
    "redis.call('HSET', jk, '" TQ_JOB_F_LEASE_UNTIL "', untl)\n"
    "redis.call('ZADD', KEYS[2], untl, id)\n"
    "return untl - now\n";

/* KEYS: job events   ARGV: id token. 1 when the partial event was added, 0 (stale token). */
const char TQ_LUA_PARTIAL[] =
    LUA_COMMON "if redis.call('HGET', KEYS[1], '" TQ_JOB_F_STATE "') ~= '" TQ_STATE_RUNNING "' or "
               "redis.call('HGET', KEYS[1], '" TQ_JOB_F_TOKEN "') ~= ARGV[2] then return 0 end\n"
               "event(KEYS[2], ARGV[1], '" TQ_EVENT_PARTIAL "', '')\n"
               "return 1\n";

/* KEYS: job running runcount dead events wake done q:interactive q:dirty q:bulk
 * ARGV: id token outcome(ok|fail|dead) error max_attempts done_ttl_ms */
const char TQ_LUA_ACK[] =
    LUA_COMMON "local jk, qk = KEYS[1], {KEYS[8], KEYS[9], KEYS[10]}\n"
               "local id, tok, outcome, err = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
               "local maxatt, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
               "if redis.call('HGET', jk, '" TQ_JOB_F_STATE "') ~= '" TQ_STATE_RUNNING
               "' or redis.call('HGET', jk, '" TQ_JOB_F_TOKEN "') ~= tok "
               "then return 'stale' end\n"
               "local cls = tonumber(redis.call('HGET', jk, '" TQ_JOB_F_CLS "'))\n"
               "local now = now_ms()\n"
               "redis.call('ZREM', KEYS[2], id)\n"
               "redis.call('HINCRBY', KEYS[3], cls, -1)\n"
               "if outcome == 'ok' then\n"
               "  event(KEYS[5], id, '" TQ_EVENT_OK "', '')\n"
               "  if redis.call('HGET', jk, '" TQ_JOB_F_RERUN "') == '1' then\n"
               "    redis.call('HSET', jk, '" TQ_JOB_F_STATE "', '" TQ_STATE_QUEUED
               "', '" TQ_JOB_F_RERUN "', 0, '" TQ_JOB_F_ATTEMPTS "', 0)\n"
               "    redis.call('LPUSH', qk[cls+1], id)\n"
               "    wake(KEYS[6])\n"
               "    return 'requeued'\n"
               "  end\n"
               "  redis.call('DEL', jk)\n"
               "  redis.call('SET', KEYS[7], now, 'PX', ttl)\n"
               "  return 'ok'\n"
               "end\n"
               "local att = tonumber(redis.call('HGET', jk, '" TQ_JOB_F_ATTEMPTS "') or '0')\n"
               "redis.call('HSET', jk, '" TQ_JOB_F_LAST_ERROR "', err)\n"
               "if outcome == 'fail' and att < maxatt then\n"
               "  redis.call('HSET', jk, '" TQ_JOB_F_STATE "', '" TQ_STATE_QUEUED "')\n"
               "  redis.call('LPUSH', qk[cls+1], id)\n"
               "  wake(KEYS[6])\n"
               "  return 'retry'\n"
               "end\n"
               "redis.call('HSET', jk, '" TQ_JOB_F_STATE "', '" TQ_STATE_DEAD
               "', '" TQ_JOB_F_DEAD_MS "', now)\n"
               "redis.call('ZADD', KEYS[4], now, id)\n"
               "event(KEYS[5], id, '" TQ_EVENT_DEAD "', err)\n"
               "return 'dead'\n";

/* KEYS: running   ARGV: limit. The ids whose lease ran out (Redis's clock). Read-only. */
const char TQ_LUA_REAP_LIST[] =
    LUA_COMMON "return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, "
               "tonumber(ARGV[1]))\n";

/* KEYS: job running runcount dead events wake q:interactive q:dirty q:bulk
 * ARGV: id max_attempts. 1 when a running job whose lease ran out went back to the head of
 * its class (or was dead-lettered), 0 otherwise (a stale running entry is dropped). */
const char TQ_LUA_REAP[] = LUA_COMMON
    "local jk, id, maxatt = KEYS[1], ARGV[1], tonumber(ARGV[2])\n"
    "local qk = {KEYS[7], KEYS[8], KEYS[9]}\n"
    "local until_ms = redis.call('ZSCORE', KEYS[2], id)\n"
    "local now = now_ms()\n"
    "if not until_ms or tonumber(until_ms) > now then return 0 end\n"
    "redis.call('ZREM', KEYS[2], id)\n"
    "if redis.call('HGET', jk, '" TQ_JOB_F_STATE "') ~= '" TQ_STATE_RUNNING "' then return 0 end\n"
    "local cls = tonumber(redis.call('HGET', jk, '" TQ_JOB_F_CLS "'))\n"
    "redis.call('HINCRBY', KEYS[3], cls, -1)\n"
    "local att = tonumber(redis.call('HGET', jk, '" TQ_JOB_F_ATTEMPTS "') or '0')\n"
    "local e = 'lease expired (worker '..(redis.call('HGET', jk, '" TQ_JOB_F_WORKER "') or "
    "'?')..', attempt '..att..')'\n"
    "redis.call('HSET', jk, '" TQ_JOB_F_LAST_ERROR "', e)\n"
    "if att >= maxatt then\n"
    "  redis.call('HSET', jk, '" TQ_JOB_F_STATE "', '" TQ_STATE_DEAD "', '" TQ_JOB_F_DEAD_MS
    "', now)\n"
    "  redis.call('ZADD', KEYS[4], now, id)\n"
    "  event(KEYS[5], id, '" TQ_EVENT_DEAD "', e)\n"
    "else\n"
    "  redis.call('HSET', jk, '" TQ_JOB_F_STATE "', '" TQ_STATE_QUEUED "')\n"
    "  redis.call('LPUSH', qk[cls+1], id)\n"
    "  wake(KEYS[6])\n"
    "end\n"
    "return 1\n";

/* KEYS: job done dead   ARGV: id reason (the rerun render's, TQ_JOB_F_RERUN_WHY)
 * Returns the state before: running (now marked rerun) | queued | dead (dropped) | none. */
const char TQ_LUA_EXPIRE_MARK[] =
    "local jk = KEYS[1]\n"
    "redis.call('DEL', KEYS[2])\n"
    "local st = redis.call('HGET', jk, '" TQ_JOB_F_STATE "')\n"
    "if not st then return 'none' end\n"
    "if st == '" TQ_STATE_RUNNING "' then\n"
    "  redis.call('HSET', jk, '" TQ_JOB_F_RERUN "', 1, '" TQ_JOB_F_RERUN_WHY "', ARGV[2])\n"
    "elseif st == '" TQ_STATE_DEAD "' then\n"
    "  redis.call('DEL', jk)\n"
    "  redis.call('ZREM', KEYS[3], ARGV[1])\n"
    "end\n"
    "return st\n";

/* KEYS: job dead   ARGV: id. 1 purged, 0 not dead (its entry in the dead set is dropped). */
const char TQ_LUA_DEAD_PURGE[] =
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "if redis.call('HGET', KEYS[1], '" TQ_JOB_F_STATE "') == '" TQ_STATE_DEAD
    "' then redis.call('DEL', KEYS[1]) return 1 "
    "end\n"
    "return 0\n";

/* KEYS: job q:interactive q:bulk wake   ARGV: id. See TQ_RELEASE_FMT. */
const char TQ_LUA_RELEASE[] =
    LUA_COMMON "local jk = KEYS[1]\n"
               "local st = redis.call('HGET', jk, '" TQ_JOB_F_STATE "')\n"
               "if not st then return 'none' end\n"
               "local n = redis.call('HINCRBY', jk, '" TQ_JOB_F_HOLDERS "', -1)\n"
               "if n < 0 then redis.call('HSET', jk, '" TQ_JOB_F_HOLDERS "', 0) n = 0 end\n"
               "if n > 0 then return 'held' end\n"
               "if st ~= '" TQ_STATE_QUEUED "' or redis.call('HGET', jk, '" TQ_JOB_F_CLS
               "') ~= '0' then return 'released' end\n"
               "redis.call('LREM', KEYS[2], 1, ARGV[1])\n"
               "redis.call('RPUSH', KEYS[3], ARGV[1])\n"
               "redis.call('HSET', jk, '" TQ_JOB_F_CLS "', 2)\n"
               "wake(KEYS[4])\n"
               "return 'demoted'\n";

static const char *const enqueue_result_names[] = {
    "new", "coalesced", "promoted", "running", "rerun", "done", "full", "dead", "error"};

const char *tq_enqueue_result_name(enum tq_enqueue_result r)
{
    if ((unsigned)r > TQ_ENQ_ERROR)
        return "error";
    return enqueue_result_names[r];
}

const char *tq_enqueue_mode_name(enum tq_enqueue_mode m)
{
    switch (m) {
    case TQ_ENQ_MODE_WARM:
        return "warm";
    case TQ_ENQ_MODE_EXPIRE:
        return "expire";
    case TQ_ENQ_MODE_REFRESH:
        return "refresh";
    case TQ_ENQ_MODE_RETRY:
        return "retry";
    default:
        return "request";
    }
}

const char *tq_queue_class_key(enum tq_job_class cls)
{
    static const char *const keys[TQ_CLASS_COUNT] = {TQ_QUEUE_Q_INTERACTIVE_KEY,
                                                     TQ_QUEUE_Q_DIRTY_KEY, TQ_QUEUE_Q_BULK_KEY};
    if ((int)cls < 0 || (int)cls >= TQ_CLASS_COUNT)
        return NULL;
    return keys[cls];
}

void tq_queue_job_keys(const char *id, struct tq_job_keys *k)
{
    snprintf(k->job, sizeof k->job, "%s%s", TQ_QUEUE_JOB_KEY_PREFIX, id);
    snprintf(k->done, sizeof k->done, "%s%s", TQ_QUEUE_DONE_KEY_PREFIX, id);
}

/* A {'dead', reason} reply: 1, else 0. */
static int is_dead_reply(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
           r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "dead") == 0 &&
           r->element[1]->type == REDIS_REPLY_STRING;
}

enum tq_enqueue_result tq_enqueue_result_from_reply(const redisReply *r)
{
    if (is_dead_reply(r))
        return TQ_ENQ_DEAD;
    if (r == NULL || (r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_STRING))
        return TQ_ENQ_ERROR;
    for (int i = 0; i < TQ_ENQ_ERROR; i++)
        if (i != TQ_ENQ_DEAD && strcmp(r->str, enqueue_result_names[i]) == 0)
            return (enum tq_enqueue_result)i;
    return TQ_ENQ_ERROR;
}

const char *tq_enqueue_reply_reason(const redisReply *r)
{
    return is_dead_reply(r) ? r->element[1]->str : NULL;
}

/* Copies a failed reply's reason into err. Returns -1 for the caller to pass on. */
static int reply_error(redisContext *c, const redisReply *r, char *err, size_t errsize)
{
    if (r == NULL)
        snprintf(err, errsize, "redis: %s", c->errstr[0] ? c->errstr : "no reply");
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errsize, "redis: %s", r->str);
    else
        snprintf(err, errsize, "redis: unexpected reply type %d", r->type);
    return -1;
}

enum tq_enqueue_result tq_queue_enqueue(redisContext *c, const struct tq_job *job, long cap,
                                        enum tq_enqueue_mode mode, int64_t cooldown_ms, int hold,
                                        char *err, size_t errsize)
{
    char id[TQ_JOB_ID_MAX];
    struct tq_job_keys k;
    char *payload = NULL;
    size_t len = 0;
    redisReply *r = NULL;
    enum tq_enqueue_result res = TQ_ENQ_ERROR;

    if (tq_job_encode(job, &payload, &len) != 0) {
        snprintf(err, errsize, "out of memory encoding job");
        goto cleanup;
    }
    tq_job_id(job, id, sizeof id);
    tq_queue_job_keys(id, &k);
    r = redisCommand(c, TQ_ENQUEUE_FMT, TQ_LUA_ENQUEUE, k.job, k.done, id, (int)job->cls, payload,
                     len, cap, tq_enqueue_mode_name(mode), (long long)cooldown_ms, hold ? 1 : 0);
    res = tq_enqueue_result_from_reply(r);
    if (res == TQ_ENQ_ERROR)
        reply_error(c, r, err, errsize);
    else if (res == TQ_ENQ_DEAD)
        snprintf(err, errsize, "%s", tq_enqueue_reply_reason(r));
cleanup:
    if (r)
        freeReplyObject(r);
    free(payload);
    return res;
}

void tq_claimed_clear(struct tq_claimed *c)
{
    free(c->payload);
    memset(c, 0, sizeof *c);
}

/* Fills out from CLAIM's array reply. 0, or -1 (err set). */
static int claimed_from_reply(redisContext *c, const redisReply *r, struct tq_claimed *out,
                              char *err, size_t errsize)
{
    if (r->elements != 6 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_INTEGER || r->element[3]->type != REDIS_REPLY_INTEGER ||
        r->element[4]->type != REDIS_REPLY_INTEGER || r->element[5]->type != REDIS_REPLY_STRING)
        return reply_error(c, r, err, errsize);
    snprintf(out->id, sizeof out->id, "%s", r->element[0]->str);
    if (r->element[1]->type == REDIS_REPLY_STRING) {
        out->payload = malloc(r->element[1]->len + 1);
        if (out->payload == NULL) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        memcpy(out->payload, r->element[1]->str, r->element[1]->len);
        out->payload[r->element[1]->len] = '\0';
        out->payload_len = r->element[1]->len;
    }
    out->attempt = (int)r->element[2]->integer;
    out->cls = (enum tq_job_class)r->element[3]->integer;
    out->token = r->element[4]->integer;
    snprintf(out->rerun_why, sizeof out->rerun_why, "%s", r->element[5]->str);
    return 0;
}

int tq_queue_claim(redisContext *c, const char *worker, int lease_ms, const long *running_cap,
                   int fair_every, struct tq_claimed *out, char *err, size_t errsize)
{
    int rc = -1;
    redisReply *pick = NULL, *r = NULL;

    memset(out, 0, sizeof *out);
    for (int tries = 0; tries < CLAIM_TRIES; tries++) {
        pick = redisCommand(c,
                            "EVAL %s 5 " TQ_QUEUE_CLASS_KEYS " " TQ_QUEUE_RUNCOUNT_KEY
                            " " TQ_QUEUE_CLAIMS_KEY " %ld %ld %ld %d",
                            TQ_LUA_CLAIM_PICK, running_cap[0], running_cap[1], running_cap[2],
                            fair_every);
        if (pick == NULL || pick->type == REDIS_REPLY_ERROR) {
            reply_error(c, pick, err, errsize);
            goto cleanup;
        }
        if (pick->type == REDIS_REPLY_NIL) {
            rc = 0;
            goto cleanup;
        }
        if (pick->type != REDIS_REPLY_ARRAY || pick->elements != 2 ||
            pick->element[0]->type != REDIS_REPLY_INTEGER ||
            pick->element[1]->type != REDIS_REPLY_STRING ||
            tq_queue_class_key((enum tq_job_class)pick->element[0]->integer) == NULL) {
            reply_error(c, pick, err, errsize);
            goto cleanup;
        }
        long long cls = pick->element[0]->integer;
        const char *id = pick->element[1]->str;
        struct tq_job_keys k;
        tq_queue_job_keys(id, &k);
        r = redisCommand(c,
                         "EVAL %s 5 %s %s " TQ_QUEUE_RUNNING_KEY " " TQ_QUEUE_RUNCOUNT_KEY
                         " " TQ_QUEUE_FENCE_KEY " %s %lld %d %s %ld",
                         TQ_LUA_CLAIM, k.job, tq_queue_class_key((enum tq_job_class)cls), id, cls,
                         lease_ms, worker, running_cap[cls]);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            reply_error(c, r, err, errsize);
            goto cleanup;
        }
        if (r->type == REDIS_REPLY_ARRAY) {
            if (claimed_from_reply(c, r, out, err, errsize) != 0) {
                tq_claimed_clear(out);
                goto cleanup;
            }
            rc = 1;
            goto cleanup;
        }
        /* "again": another worker was first, or a left-over id was dropped */
        freeReplyObject(pick);
        freeReplyObject(r);
        pick = r = NULL;
    }
    rc = 0;
cleanup:
    if (pick)
        freeReplyObject(pick);
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Runs the Redis command fmt and checks its reply is an integer (want_int) or else a string
 * or status. Returns the reply (the caller frees it), or NULL with err set. */
static redisReply *command_checked(redisContext *c, int want_int, char *err, size_t errsize,
                                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    int ok =
        r != NULL && (want_int ? r->type == REDIS_REPLY_INTEGER
                               : r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
    if (!ok) {
        reply_error(c, r, err, errsize);
        if (r)
            freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Copies a checked string reply (NULL: the command failed, err is set) into result and
 * frees it. 0, or -1. */
static int string_answer(redisReply *r, char *result, size_t resultsize)
{
    if (r == NULL)
        return -1;
    if (result)
        snprintf(result, resultsize, "%s", r->str);
    freeReplyObject(r);
    return 0;
}

int tq_queue_heartbeat(redisContext *c, const char *id, long long token, int lease_ms,
                       int64_t budget_ms, int64_t *remaining_ms, char *err, size_t errsize)
{
    struct tq_job_keys k;
    tq_queue_job_keys(id, &k);
    redisReply *r =
        command_checked(c, 1, err, errsize, "EVAL %s 2 %s " TQ_QUEUE_RUNNING_KEY " %s %lld %d %lld",
                        TQ_LUA_HEARTBEAT, k.job, id, token, lease_ms, (long long)budget_ms);
    if (r == NULL)
        return -1;
    if (remaining_ms)
        *remaining_ms = r->integer;
    int rc = r->integer > 0 ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

int tq_queue_partial(redisContext *c, const char *id, long long token, char *err, size_t errsize)
{
    struct tq_job_keys k;
    tq_queue_job_keys(id, &k);
    redisReply *r =
        command_checked(c, 1, err, errsize, "EVAL %s 2 %s " TQ_QUEUE_EVENTS_KEY " %s %lld",
                        TQ_LUA_PARTIAL, k.job, id, token);
    if (r == NULL)
        return -1;
    int rc = r->integer ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

int tq_queue_ack(redisContext *c, const char *id, long long token, enum tq_ack_outcome outcome,
                 const char *error, int max_attempts, char *result, size_t resultsize, char *err,
                 size_t errsize)
{
    static const char *const names[] = {"ok", "fail", "dead"};
    struct tq_job_keys k;
    tq_queue_job_keys(id, &k);
    redisReply *r =
        command_checked(c, 0, err, errsize,
                        "EVAL %s 10 %s " TQ_QUEUE_RUNNING_KEY " " TQ_QUEUE_RUNCOUNT_KEY
                        " " TQ_QUEUE_DEAD_KEY " " TQ_QUEUE_EVENTS_KEY " " TQ_QUEUE_WAKE_KEY
                        " %s " TQ_QUEUE_CLASS_KEYS " %s %lld %s %s %d %d",
                        TQ_LUA_ACK, k.job, k.done, id, token, names[outcome], error ? error : "",
                        max_attempts, TQ_QUEUE_DONE_TTL_MS);
    return string_answer(r, result, resultsize);
}

int tq_queue_reap(redisContext *c, int max_attempts, int limit, char *err, size_t errsize)
{
    int n = -1;
    redisReply *ids =
        redisCommand(c, "EVAL %s 1 " TQ_QUEUE_RUNNING_KEY " %d", TQ_LUA_REAP_LIST, limit);
    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        reply_error(c, ids, err, errsize);
        goto cleanup;
    }
    n = 0;
    for (size_t i = 0; i < ids->elements; i++) {
        const redisReply *id = ids->element[i];
        struct tq_job_keys k;
        if (id->type != REDIS_REPLY_STRING)
            continue;
        tq_queue_job_keys(id->str, &k);
        redisReply *r = command_checked(
            c, 1, err, errsize,
            "EVAL %s 9 %s " TQ_QUEUE_RUNNING_KEY " " TQ_QUEUE_RUNCOUNT_KEY " " TQ_QUEUE_DEAD_KEY
            " " TQ_QUEUE_EVENTS_KEY " " TQ_QUEUE_WAKE_KEY " " TQ_QUEUE_CLASS_KEYS " %s %d",
            TQ_LUA_REAP, k.job, id->str, max_attempts);
        if (r == NULL) {
            n = -1;
            goto cleanup;
        }
        n += (int)r->integer;
        freeReplyObject(r);
    }
cleanup:
    if (ids)
        freeReplyObject(ids);
    return n;
}

int tq_queue_expire_mark(redisContext *c, const char *id, enum tq_job_reason reason, char *state,
                         size_t statesize, char *err, size_t errsize)
{
    struct tq_job_keys k;
    tq_queue_job_keys(id, &k);
    redisReply *r =
        command_checked(c, 0, err, errsize, "EVAL %s 3 %s %s " TQ_QUEUE_DEAD_KEY " %s %s",
                        TQ_LUA_EXPIRE_MARK, k.job, k.done, id, tq_job_reason_name(reason));
    if (r == NULL)
        return -1;
    if (state)
        snprintf(state, statesize, "%s", r->str);
    int rc = strcmp(r->str, TQ_STATE_RUNNING) == 0 ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

int tq_queue_dead_purge(redisContext *c, const char *id, char *err, size_t errsize)
{
    struct tq_job_keys k;
    tq_queue_job_keys(id, &k);
    redisReply *r = command_checked(c, 1, err, errsize, "EVAL %s 2 %s " TQ_QUEUE_DEAD_KEY " %s",
                                    TQ_LUA_DEAD_PURGE, k.job, id);
    if (r == NULL)
        return -1;
    int rc = r->integer ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

int tq_queue_release(redisContext *c, const char *id, char *result, size_t resultsize, char *err,
                     size_t errsize)
{
    struct tq_job_keys k;
    tq_queue_job_keys(id, &k);
    redisReply *r = command_checked(c, 0, err, errsize, TQ_RELEASE_FMT, TQ_LUA_RELEASE, k.job, id);
    return string_answer(r, result, resultsize);
}

/* tq_queue — Lua scripts for the render queue and thin synchronous wrappers.
 * See tq_queue.h for the keys and the job lifecycle. Every script takes the key prefix as
 * ARGV[1] and builds its keys from it; all keys share the {tq} hash tag. */
#include "tq_queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define LUA_COMMON                                                                                 \
    "local p = ARGV[1]\n"                                                                          \
    "local classes = {'interactive', 'dirty', 'bulk'}\n"                                           \
    "local function wake() redis.call('RPUSH', p..'wake', 1) redis.call('LTRIM', p..'wake', 0, "   \
    "1023) end\n"                                                                                  \
    "local function event(id, status, err) redis.call('XADD', p..'events', 'MAXLEN', '~', "        \
    "100000, '*', 'id', id, 'status', status, 'error', err or '') end\n"

/* ARGV: prefix id class payload cap now_ms mode(request|warm|expire|refresh) */
const char TQ_LUA_ENQUEUE[] = LUA_COMMON
    "local id, cls, payload = ARGV[2], tonumber(ARGV[3]), ARGV[4]\n"
    "local cap, now, mode = tonumber(ARGV[5]), ARGV[6], ARGV[7]\n"
    "local jk = p..'job:'..id\n"
    "local st = redis.call('HGET', jk, 'state')\n"
    "if st == 'queued' then\n"
    "  local old = tonumber(redis.call('HGET', jk, 'cls'))\n"
    "  if cls < old then\n"
    "    redis.call('LREM', p..'q:'..classes[old+1], 1, id)\n"
    "    redis.call('RPUSH', p..'q:'..classes[cls+1], id)\n"
    "    redis.call('HSET', jk, 'cls', cls, 'payload', payload)\n"
    "    return 'promoted'\n"
    "  end\n"
    "  return 'coalesced'\n"
    "elseif st == 'running' then\n"
    "  if mode == 'expire' then redis.call('HSET', jk, 'rerun', 1) return 'rerun' end\n"
    "  return 'running'\n"
    "end\n"
    "if (mode == 'request' or mode == 'warm') and redis.call('EXISTS', p..'done:'..id) == 1 then\n"
    "  return 'done'\n"
    "end\n"
    "if cap > 0 and redis.call('LLEN', p..'q:'..classes[cls+1]) >= cap then return 'full' end\n"
    "redis.call('DEL', jk)\n"
    "redis.call('ZREM', p..'dead', id)\n"
    "redis.call('HSET', jk, 'state', 'queued', 'cls', cls, 'payload', payload, 'attempts', 0,\n"
    "           'enq_ms', now, 'rerun', 0)\n"
    "redis.call('RPUSH', p..'q:'..classes[cls+1], id)\n"
    "wake()\n"
    "return 'new'\n";

/* ARGV: prefix now_ms lease_ms worker cap0 cap1 cap2 fair_every
 * Returns {id, payload, attempt, class} or nil. Ids whose hash is not queued (left over
 * from a promotion race or a purge) are dropped. */
const char TQ_LUA_CLAIM[] = LUA_COMMON
    "local now, lease, w = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]\n"
    "local fair = tonumber(ARGV[8])\n"
    "local order = {1, 2, 3}\n"
    "local n = redis.call('INCR', p..'claims')\n"
    "if fair > 0 and n % fair == 0 then order = {3, 2, 1} end\n"
    "for _, i in ipairs(order) do\n"
    "  local cap = tonumber(ARGV[4+i])\n"
    "  local running = tonumber(redis.call('HGET', p..'runcount', i-1) or '0')\n"
    "  if cap == 0 or running < cap then\n"
    "    local id = redis.call('LPOP', p..'q:'..classes[i])\n"
    "    while id do\n"
    "      local jk = p..'job:'..id\n"
    "      if redis.call('HGET', jk, 'state') == 'queued' then\n"
    "        local att = redis.call('HINCRBY', jk, 'attempts', 1)\n"
    "        redis.call('HSET', jk, 'state', 'running', 'worker', w, 'lease_until', now+lease,\n"
    "                   'started_ms', now, 'rerun', 0, 'cls', i-1)\n"
    "        redis.call('ZADD', p..'running', now+lease, id)\n"
    "        redis.call('HINCRBY', p..'runcount', i-1, 1)\n"
    "        return {id, redis.call('HGET', jk, 'payload'), att, i-1}\n"
    "      end\n"
    "      id = redis.call('LPOP', p..'q:'..classes[i])\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return false\n";

/* ARGV: prefix id worker now_ms lease_ms. Returns 1 while the lease is ours, else 0. */
const char TQ_LUA_HEARTBEAT[] = LUA_COMMON
    "local id, w, now, lease = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local jk = p..'job:'..id\n"
    "if redis.call('HGET', jk, 'state') ~= 'running' or redis.call('HGET', jk, 'worker') ~= w "
    "then return 0 end\n"
    "redis.call('HSET', jk, 'lease_until', now+lease)\n"
    "redis.call('ZADD', p..'running', now+lease, id)\n"
    "return 1\n";

/* ARGV: prefix id worker outcome(ok|fail|dead) error now_ms max_attempts done_ttl_ms */
const char TQ_LUA_ACK[] = LUA_COMMON
    "local id, w, outcome, err = ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "local now, maxatt, ttl = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])\n"
    "local jk = p..'job:'..id\n"
    "if redis.call('HGET', jk, 'state') ~= 'running' or redis.call('HGET', jk, 'worker') ~= w "
    "then return 'stale' end\n"
    "local cls = tonumber(redis.call('HGET', jk, 'cls'))\n"
    "redis.call('ZREM', p..'running', id)\n"
    "redis.call('HINCRBY', p..'runcount', cls, -1)\n"
    "if outcome == 'ok' then\n"
    "  event(id, 'ok', '')\n"
    "  if redis.call('HGET', jk, 'rerun') == '1' then\n"
    "    redis.call('HSET', jk, 'state', 'queued', 'rerun', 0, 'attempts', 0)\n"
    "    redis.call('LPUSH', p..'q:'..classes[cls+1], id)\n"
    "    wake()\n"
    "    return 'requeued'\n"
    "  end\n"
    "  redis.call('DEL', jk)\n"
    "  redis.call('SET', p..'done:'..id, now, 'PX', ttl)\n"
    "  return 'ok'\n"
    "end\n"
    "local att = tonumber(redis.call('HGET', jk, 'attempts') or '0')\n"
    "redis.call('HSET', jk, 'last_error', err)\n"
    "if outcome == 'fail' and att < maxatt then\n"
    "  redis.call('HSET', jk, 'state', 'queued')\n"
    "  redis.call('LPUSH', p..'q:'..classes[cls+1], id)\n"
    "  wake()\n"
    "  return 'retry'\n"
    "end\n"
    "redis.call('HSET', jk, 'state', 'dead', 'dead_ms', now)\n"
    "redis.call('ZADD', p..'dead', now, id)\n"
    "event(id, 'dead', err)\n"
    "return 'dead'\n";

/* ARGV: prefix now_ms max_attempts limit. Returns the number of jobs reaped. */
const char TQ_LUA_REAP[] = LUA_COMMON
    "local now, maxatt, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local ids = redis.call('ZRANGEBYSCORE', p..'running', '-inf', now, 'LIMIT', 0, limit)\n"
    "for _, id in ipairs(ids) do\n"
    "  redis.call('ZREM', p..'running', id)\n"
    "  local jk = p..'job:'..id\n"
    "  if redis.call('HGET', jk, 'state') == 'running' then\n"
    "    local cls = tonumber(redis.call('HGET', jk, 'cls'))\n"
    "    redis.call('HINCRBY', p..'runcount', cls, -1)\n"
    "    local att = tonumber(redis.call('HGET', jk, 'attempts') or '0')\n"
    "    local e = 'lease expired (worker '..(redis.call('HGET', jk, 'worker') or '?')..', "
    "attempt '..att..')'\n"
    "    redis.call('HSET', jk, 'last_error', e)\n"
    "    if att >= maxatt then\n"
    "      redis.call('HSET', jk, 'state', 'dead', 'dead_ms', now)\n"
    "      redis.call('ZADD', p..'dead', now, id)\n"
    "      event(id, 'dead', e)\n"
    "    else\n"
    "      redis.call('HSET', jk, 'state', 'queued')\n"
    "      redis.call('LPUSH', p..'q:'..classes[cls+1], id)\n"
    "      wake()\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return #ids\n";

/* ARGV: prefix id. Returns the state before: running (now marked rerun) | queued | dead | none. */
const char TQ_LUA_EXPIRE_MARK[] =
    LUA_COMMON "local id = ARGV[2]\n"
               "local jk = p..'job:'..id\n"
               "redis.call('DEL', p..'done:'..id)\n"
               "local st = redis.call('HGET', jk, 'state')\n"
               "if not st then return 'none' end\n"
               "if st == 'running' then redis.call('HSET', jk, 'rerun', 1) end\n"
               "return st\n";

/* ARGV: prefix id. 1 purged, 0 not dead (its entry in the dead set is dropped). */
const char TQ_LUA_DEAD_PURGE[] = LUA_COMMON
    "local id = ARGV[2]\n"
    "local jk = p..'job:'..id\n"
    "redis.call('ZREM', p..'dead', id)\n"
    "if redis.call('HGET', jk, 'state') == 'dead' then redis.call('DEL', jk) return 1 end\n"
    "return 0\n";

static const char *const enqueue_result_names[] = {"new",   "coalesced", "promoted", "running",
                                                   "rerun", "done",      "full",     "error"};

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
    default:
        return "request";
    }
}

enum tq_enqueue_result tq_enqueue_result_from_reply(const redisReply *r)
{
    if (r == NULL || (r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_STRING))
        return TQ_ENQ_ERROR;
    for (int i = 0; i < TQ_ENQ_ERROR; i++)
        if (strcmp(r->str, enqueue_result_names[i]) == 0)
            return (enum tq_enqueue_result)i;
    return TQ_ENQ_ERROR;
}

int64_t tq_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
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
                                        enum tq_enqueue_mode mode, char *err, size_t errsize)
{
    char id[TQ_JOB_ID_MAX];
    char *payload = NULL;
    size_t len = 0;
    redisReply *r = NULL;
    enum tq_enqueue_result res = TQ_ENQ_ERROR;

    if (tq_job_encode(job, &payload, &len) != 0) {
        snprintf(err, errsize, "out of memory encoding job");
        goto cleanup;
    }
    tq_job_id(job, id, sizeof id);
    r = redisCommand(c, TQ_ENQUEUE_FMT, TQ_LUA_ENQUEUE, TQ_QUEUE_PREFIX, id, (int)job->cls, payload,
                     len, cap, (long long)tq_now_ms(), tq_enqueue_mode_name(mode));
    res = tq_enqueue_result_from_reply(r);
    if (res == TQ_ENQ_ERROR)
        reply_error(c, r, err, errsize);
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

int tq_queue_claim(redisContext *c, const char *worker, int lease_ms, const long *running_cap,
                   int fair_every, struct tq_claimed *out, char *err, size_t errsize)
{
    int rc = -1;
    redisReply *r = redisCommand(c, "EVAL %s 0 %s %lld %d %s %ld %ld %ld %d", TQ_LUA_CLAIM,
                                 TQ_QUEUE_PREFIX, (long long)tq_now_ms(), lease_ms, worker,
                                 running_cap[0], running_cap[1], running_cap[2], fair_every);
    memset(out, 0, sizeof *out);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        reply_error(c, r, err, errsize);
        goto cleanup;
    }
    if (r->type == REDIS_REPLY_NIL) {
        rc = 0;
        goto cleanup;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[2]->type != REDIS_REPLY_INTEGER ||
        r->element[3]->type != REDIS_REPLY_INTEGER) {
        reply_error(c, r, err, errsize);
        goto cleanup;
    }
    snprintf(out->id, sizeof out->id, "%s", r->element[0]->str);
    if (r->element[1]->type == REDIS_REPLY_STRING) {
        out->payload = malloc(r->element[1]->len + 1);
        if (out->payload == NULL) {
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
        memcpy(out->payload, r->element[1]->str, r->element[1]->len);
        out->payload[r->element[1]->len] = '\0';
        out->payload_len = r->element[1]->len;
    }
    out->attempt = (int)r->element[2]->integer;
    out->cls = (enum tq_job_class)r->element[3]->integer;
    rc = 1;
cleanup:
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

int tq_queue_heartbeat(redisContext *c, const char *id, const char *worker, int lease_ms, char *err,
                       size_t errsize)
{
    redisReply *r =
        command_checked(c, 1, err, errsize, "EVAL %s 0 %s %s %s %lld %d", TQ_LUA_HEARTBEAT,
                        TQ_QUEUE_PREFIX, id, worker, (long long)tq_now_ms(), lease_ms);
    if (r == NULL)
        return -1;
    int rc = r->integer ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

int tq_queue_ack(redisContext *c, const char *id, const char *worker, enum tq_ack_outcome outcome,
                 const char *error, int max_attempts, char *result, size_t resultsize, char *err,
                 size_t errsize)
{
    static const char *const names[] = {"ok", "fail", "dead"};
    redisReply *r =
        command_checked(c, 0, err, errsize, "EVAL %s 0 %s %s %s %s %s %lld %d %d", TQ_LUA_ACK,
                        TQ_QUEUE_PREFIX, id, worker, names[outcome], error ? error : "",
                        (long long)tq_now_ms(), max_attempts, TQ_QUEUE_DONE_TTL_MS);
    if (r == NULL)
        return -1;
    if (result)
        snprintf(result, resultsize, "%s", r->str);
    freeReplyObject(r);
    return 0;
}

int tq_queue_reap(redisContext *c, int max_attempts, int limit, char *err, size_t errsize)
{
    redisReply *r = command_checked(c, 1, err, errsize, "EVAL %s 0 %s %lld %d %d", TQ_LUA_REAP,
                                    TQ_QUEUE_PREFIX, (long long)tq_now_ms(), max_attempts, limit);
    if (r == NULL)
        return -1;
    int rc = (int)r->integer;
    freeReplyObject(r);
    return rc;
}

int tq_queue_expire_mark(redisContext *c, const char *id, char *state, size_t statesize, char *err,
                         size_t errsize)
{
    redisReply *r = command_checked(c, 0, err, errsize, "EVAL %s 0 %s %s", TQ_LUA_EXPIRE_MARK,
                                    TQ_QUEUE_PREFIX, id);
    if (r == NULL)
        return -1;
    if (state)
        snprintf(state, statesize, "%s", r->str);
    int rc = strcmp(r->str, "running") == 0 ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

int tq_queue_dead_purge(redisContext *c, const char *id, char *err, size_t errsize)
{
    redisReply *r = command_checked(c, 1, err, errsize, "EVAL %s 0 %s %s", TQ_LUA_DEAD_PURGE,
                                    TQ_QUEUE_PREFIX, id);
    if (r == NULL)
        return -1;
    int rc = r->integer ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

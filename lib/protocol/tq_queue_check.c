/* tq_queue_check — the queue's invariants checked on one atomic snapshot. See
 * tq_queue_check.h and the invariants in tq_wire.h. */
#include "tq_queue_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_queue.h"

/* KEYS: q:interactive q:dirty q:bulk running dead runcount fence
 * ARGV: limit. Read-only. The job hashes and done markers it reads are named from the
 * contract's prefixes, compiled into the text (never from ARGV). Returns
 * {truncated, fence, runcount (HGETALL), jobs, done}, each job
 * {id, in_q0, in_q1, in_q2, running_score, dead_score, state, cls, worker, token,
 *  lease_until, lease_cap, last_error, dead_ms, holders, attempts} (nil: absent), each done
 * marker {id, pttl}. */
static const char LUA_CHECK_SNAPSHOT[] =
    "local limit = tonumber(ARGV[1])\n"
    "local jp, dp = '" TQ_QUEUE_JOB_KEY_PREFIX "', '" TQ_QUEUE_DONE_KEY_PREFIX "'\n"
    "local jobs, order, n, trunc = {}, {}, 0, 0\n"
    "local function job(id)\n"
    "  local j = jobs[id]\n"
    "  if j then return j end\n"
    "  if n >= limit then trunc = 1 return nil end\n"
    "  n = n + 1\n"
    "  j = {id, 0, 0, 0, false, false}\n"
    "  jobs[id] = j\n"
    "  order[n] = j\n"
    "  return j\n"
    "end\n"
    "for c = 1, 3 do\n"
    "  if redis.call('LLEN', KEYS[c]) > limit then trunc = 1 end\n"
    "  for _, id in ipairs(redis.call('LRANGE', KEYS[c], 0, limit - 1)) do\n"
    "    local j = job(id)\n"
    "    if j then j[c + 1] = j[c + 1] + 1 end\n"
    "  end\n"
    "end\n"
    "for z = 4, 5 do\n"
    "  if redis.call('ZCARD', KEYS[z]) > limit then trunc = 1 end\n"
    "  local r = redis.call('ZRANGE', KEYS[z], 0, limit - 1, 'WITHSCORES')\n"
    "  for i = 1, #r, 2 do\n"
    "    local j = job(r[i])\n"
    "    if j then j[z + 1] = r[i + 1] end\n"
    "  end\n"
    "end\n"
    "local function scan(prefix, each)\n"
    "  local cur = '0'\n"
    "  repeat\n"
    "    local r = redis.call('SCAN', cur, 'MATCH', prefix .. '*', 'COUNT', 1000)\n"
    "    cur = r[1]\n"
    "    for _, k in ipairs(r[2]) do if not each(string.sub(k, #prefix + 1)) then return end end\n"
    "  until cur == '0'\n"
    "end\n"
    "scan(jp, function(id) return job(id) ~= nil end)\n"
    "for _, j in ipairs(order) do\n"
    "  local h = redis.call('HMGET', jp .. j[1], '" TQ_JOB_F_STATE "', '" TQ_JOB_F_CLS
    "', '" TQ_JOB_F_WORKER "', '" TQ_JOB_F_TOKEN "', '" TQ_JOB_F_LEASE_UNTIL
    "', '" TQ_JOB_F_LEASE_CAP "', '" TQ_JOB_F_LAST_ERROR "', '" TQ_JOB_F_DEAD_MS
    "', '" TQ_JOB_F_HOLDERS "', '" TQ_JOB_F_ATTEMPTS "')\n"
    "  for i = 1, 10 do j[6 + i] = h[i] end\n"
    "end\n"
    "local done, seen = {}, {}\n"
    "scan(dp, function(id)\n"
    "  if seen[id] then return true end\n"
    "  if #done >= limit then trunc = 1 return false end\n"
    "  seen[id] = true\n"
    "  done[#done + 1] = {id, redis.call('PTTL', dp .. id)}\n"
    "  return true\n"
    "end)\n"
    "return {trunc, redis.call('GET', KEYS[7]), redis.call('HGETALL', KEYS[6]), order, done}\n";

/* The fields of a job record, in the script's order. */
enum {
    J_ID = 0,
    J_IN_Q0,
    J_RUNNING = J_IN_Q0 + TQ_CLASS_COUNT,
    J_DEAD,
    J_STATE,
    J_CLS,
    J_WORKER,
    J_TOKEN,
    J_LEASE_UNTIL,
    J_LEASE_CAP,
    J_LAST_ERROR,
    J_DEAD_MS,
    J_HOLDERS,
    J_ATTEMPTS,
    J_FIELDS
};

void tq_check_result_clear(struct tq_check_result *r)
{
    free(r->issues);
    memset(r, 0, sizeof *r);
}

/* Appends an issue. 0, or -1 out of memory. */
static int issue(struct tq_check_result *r, enum tq_invariant inv, int warning, const char *id,
                 const char *fmt, ...)
{
    if (r->nissues == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        struct tq_check_issue *p = realloc(r->issues, cap * sizeof *p);
        if (p == NULL)
            return -1;
        r->issues = p;
        r->cap = cap;
    }
    struct tq_check_issue *is = &r->issues[r->nissues++];
    is->inv = inv;
    is->warning = warning;
    snprintf(is->id, sizeof is->id, "%s", id);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(is->what, sizeof is->what, fmt, ap);
    va_end(ap);
    if (warning)
        r->warnings++;
    else
        r->violations[inv]++;
    return 0;
}

/* A string element, or NULL for nil (or any other type). */
static const char *str_at(const redisReply *a, size_t i)
{
    const redisReply *e = a->element[i];
    return e->type == REDIS_REPLY_STRING ? e->str : NULL;
}

/* Parses a whole decimal integer. 1, or 0 for NULL or not an integer. */
static int parse_ll(const char *s, long long *v)
{
    char *end;
    if (s == NULL || *s == '\0')
        return 0;
    *v = strtoll(s, &end, 10);
    return *end == '\0';
}

/* Where else the job is: " in q:interactive (2x) in running" etc., into buf. */
static const char *places(const long long *inq, int running, int dead, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int c = 0; c < TQ_CLASS_COUNT && n < size; c++)
        if (inq[c] > 0)
            n += (size_t)snprintf(buf + n, size - n, " in q:%s (%lldx)",
                                  tq_job_class_name((enum tq_job_class)c), inq[c]);
    if (running && n < size)
        n += (size_t)snprintf(buf + n, size - n, " in running");
    if (dead && n < size)
        snprintf(buf + n, size - n, " in dead");
    return buf;
}

/* Checks one job record j (an array of J_FIELDS). counts[c] gets the running jobs of class
 * c; *max_token the highest token of a running job. 0, or -1 out of memory. */
static int check_job(struct tq_check_result *r, const redisReply *j, int complete,
                     long long *counts, long long *max_token)
{
    const char *id = str_at(j, J_ID), *state = str_at(j, J_STATE);
    const char *running = str_at(j, J_RUNNING), *dead = str_at(j, J_DEAD);
    long long inq[TQ_CLASS_COUNT], nq = 0, cls = -1, v, w;
    char where[256];

    for (int c = 0; c < TQ_CLASS_COUNT; c++)
        nq += inq[c] = j->element[J_IN_Q0 + c]->integer;
    places(inq, running != NULL, dead != NULL, where, sizeof where);
    if (state == NULL) {
        if (running || dead)
            return issue(r, TQ_INV_ENTRIES, 0, id, "no job hash, but%s", where);
        return issue(r, TQ_INV_ENTRIES, 1, id, "left-over id%s without a job hash", where);
    }
    enum tq_job_state st;
    if (tq_job_state_parse(state, &st) != 0)
        return issue(r, TQ_INV_FIELDS, 0, id, "state '%s'%s", state, where);
    int queued = st == TQ_JOB_QUEUED, dd = st == TQ_JOB_DEAD;
    if (!parse_ll(str_at(j, J_CLS), &cls) || cls < 0 || cls >= TQ_CLASS_COUNT) {
        if (issue(r, TQ_INV_FIELDS, 0, id, "cls '%s'", str_at(j, J_CLS) ? str_at(j, J_CLS) : "") !=
            0)
            return -1;
        cls = -1;
    }
    if (!parse_ll(str_at(j, J_ATTEMPTS), &v) || v < 0)
        if (issue(r, TQ_INV_FIELDS, 0, id, "attempts '%s'",
                  str_at(j, J_ATTEMPTS) ? str_at(j, J_ATTEMPTS) : "") != 0)
            return -1;
    if (str_at(j, J_HOLDERS) && (!parse_ll(str_at(j, J_HOLDERS), &v) || v < 0))
        if (issue(r, TQ_INV_FIELDS, 0, id, "holders '%s'", str_at(j, J_HOLDERS)) != 0)
            return -1;

    if (queued) {
        /* counts are lower bounds when the read stopped early: "missing" needs it whole */
        int ok =
            !running && !dead && nq <= 1 && (cls < 0 || nq == inq[cls]) && (!complete || nq == 1);
        if (!ok && issue(r, TQ_INV_QUEUED, 0, id, "queued in class %s, but%s",
                         cls >= 0 ? tq_job_class_name((enum tq_job_class)cls) : "?",
                         where[0] ? where : " in no q list") != 0)
            return -1;
        return 0;
    }
    if (nq > 0 &&
        issue(r, dd ? TQ_INV_DEAD : TQ_INV_RUNNING, 0, id, "%s, but%s", state, where) != 0)
        return -1;
    if (dd) {
        if (running && issue(r, TQ_INV_DEAD, 0, id, "dead, but in running") != 0)
            return -1;
        if (str_at(j, J_LAST_ERROR) == NULL &&
            issue(r, TQ_INV_DEAD, 0, id, "dead without last_error") != 0)
            return -1;
        if (dead == NULL && complete && issue(r, TQ_INV_DEAD, 0, id, "dead, not in dead") != 0)
            return -1;
        if (dead && !(parse_ll(str_at(j, J_DEAD_MS), &v) && parse_ll(dead, &w) && v == w) &&
            issue(r, TQ_INV_DEAD, 0, id, "in dead at %s, but dead_ms '%s'", dead,
                  str_at(j, J_DEAD_MS) ? str_at(j, J_DEAD_MS) : "") != 0)
            return -1;
        return 0;
    }
    if (cls >= 0)
        counts[cls]++;
    if (dead && issue(r, TQ_INV_RUNNING, 0, id, "running, but in dead") != 0)
        return -1;
    if (running == NULL && complete &&
        issue(r, TQ_INV_RUNNING, 0, id, "running, not in running") != 0)
        return -1;
    long long until = 0, cap;
    int has_until = parse_ll(str_at(j, J_LEASE_UNTIL), &until);
    if (running && !(has_until && parse_ll(running, &w) && until == w) &&
        issue(r, TQ_INV_RUNNING, 0, id, "in running at %s, but lease_until '%s'", running,
              str_at(j, J_LEASE_UNTIL) ? str_at(j, J_LEASE_UNTIL) : "") != 0)
        return -1;
    if (parse_ll(str_at(j, J_LEASE_CAP), &cap) && has_until && until > cap &&
        issue(r, TQ_INV_RUNNING, 0, id, "lease_until %lld past lease_cap %lld", until, cap) != 0)
        return -1;
    if ((str_at(j, J_WORKER) == NULL || str_at(j, J_WORKER)[0] == '\0') &&
        issue(r, TQ_INV_RUNNING, 0, id, "running without a worker") != 0)
        return -1;
    if (!parse_ll(str_at(j, J_TOKEN), &v) || v <= 0)
        return issue(r, TQ_INV_RUNNING, 0, id, "running with token '%s'",
                     str_at(j, J_TOKEN) ? str_at(j, J_TOKEN) : "");
    if (v > *max_token)
        *max_token = v;
    return 0;
}

/* Checks the fence against the highest running token, and runcount against the counts. */
static int check_counts(struct tq_check_result *r, const redisReply *fence,
                        const redisReply *runcount, const long long *counts, long long max_token,
                        int complete)
{
    long long f = 0, v, have[TQ_CLASS_COUNT] = {0};

    if (max_token > 0 &&
        !(fence->type == REDIS_REPLY_STRING && parse_ll(fence->str, &f) && max_token <= f) &&
        issue(r, TQ_INV_RUNNING, 0, "", "a running job's token %lld is past fence '%s'", max_token,
              fence->type == REDIS_REPLY_STRING ? fence->str : "") != 0)
        return -1;
    for (size_t i = 0; i + 1 < runcount->elements; i += 2) {
        const char *k = str_at(runcount, i), *val = str_at(runcount, i + 1);
        long long c;
        if (!parse_ll(k, &c) || c < 0 || c >= TQ_CLASS_COUNT) {
            if (issue(r, TQ_INV_RUNCOUNT, 0, "", "field '%s' is no class", k ? k : "") != 0)
                return -1;
            continue;
        }
        if (!parse_ll(val, &v) || v < 0) {
            if (issue(r, TQ_INV_RUNCOUNT, 0, "", "runcount[%lld] = '%s'", c, val ? val : "") != 0)
                return -1;
            continue;
        }
        have[c] = v;
    }
    for (int c = 0; complete && c < TQ_CLASS_COUNT; c++)
        if (have[c] != counts[c] &&
            issue(r, TQ_INV_RUNCOUNT, 0, "", "runcount[%d] (%s) = %lld, running jobs: %lld", c,
                  tq_job_class_name((enum tq_job_class)c), have[c], counts[c]) != 0)
            return -1;
    return 0;
}

static int well_formed(const redisReply *s)
{
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 5 ||
        s->element[0]->type != REDIS_REPLY_INTEGER || s->element[2]->type != REDIS_REPLY_ARRAY ||
        s->element[3]->type != REDIS_REPLY_ARRAY || s->element[4]->type != REDIS_REPLY_ARRAY)
        return 0;
    const redisReply *jobs = s->element[3], *done = s->element[4];
    for (size_t i = 0; i < jobs->elements; i++) {
        const redisReply *j = jobs->element[i];
        if (j->type != REDIS_REPLY_ARRAY || j->elements != J_FIELDS ||
            j->element[J_ID]->type != REDIS_REPLY_STRING)
            return 0;
        for (int c = 0; c < TQ_CLASS_COUNT; c++)
            if (j->element[J_IN_Q0 + c]->type != REDIS_REPLY_INTEGER)
                return 0;
    }
    for (size_t i = 0; i < done->elements; i++) {
        const redisReply *d = done->element[i];
        if (d->type != REDIS_REPLY_ARRAY || d->elements != 2 ||
            d->element[0]->type != REDIS_REPLY_STRING || d->element[1]->type != REDIS_REPLY_INTEGER)
            return 0;
    }
    return 1;
}

long tq_queue_check(redisContext *c, long limit, struct tq_check_result *out, char *err,
                    size_t errsize)
{
    long rc = -1;
    long long counts[TQ_CLASS_COUNT] = {0}, max_token = 0;
    redisReply *s = NULL;

    memset(out, 0, sizeof *out);
    if (limit <= 0)
        limit = TQ_CHECK_DEFAULT_LIMIT;
    s = redisCommand(c,
                     "EVAL %s 7 " TQ_QUEUE_CLASS_KEYS " " TQ_QUEUE_RUNNING_KEY " " TQ_QUEUE_DEAD_KEY
                     " " TQ_QUEUE_RUNCOUNT_KEY " " TQ_QUEUE_FENCE_KEY " %ld",
                     LUA_CHECK_SNAPSHOT, limit);
    if (s == NULL || s->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsize, "redis: %s", s ? s->str : c->errstr);
        goto cleanup;
    }
    if (!well_formed(s)) {
        snprintf(err, errsize, "redis: unexpected reply to the snapshot script");
        goto cleanup;
    }
    out->truncated = s->element[0]->integer != 0;
    const redisReply *jobs = s->element[3], *done = s->element[4];
    out->jobs = (long)jobs->elements;
    out->done_markers = (long)done->elements;
    for (size_t i = 0; i < jobs->elements; i++)
        if (check_job(out, jobs->element[i], !out->truncated, counts, &max_token) != 0)
            goto oom;
    if (check_counts(out, s->element[1], s->element[2], counts, max_token, !out->truncated) != 0)
        goto oom;
    for (size_t i = 0; i < done->elements; i++) {
        long long ttl = done->element[i]->element[1]->integer;
        if (ttl == -1 && issue(out, TQ_INV_DONE_TTL, 0, done->element[i]->element[0]->str,
                               "done marker without a TTL") != 0)
            goto oom;
    }
    rc = 0;
    for (int i = 0; i < TQ_INV_COUNT; i++)
        rc += (long)out->violations[i];
    goto cleanup;
oom:
    snprintf(err, errsize, "out of memory");
cleanup:
    if (s)
        freeReplyObject(s);
    return rc;
}

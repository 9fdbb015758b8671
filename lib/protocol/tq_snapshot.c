/* tq_snapshot — see tq_snapshot.h. */
#include "tq_snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS: q:interactive q:dirty q:bulk runcount running dead workers wmetrics
 *       renderlog:rejected events
 * ARGV: leases_max figures_since_ms figures_max completed_since_ms completed_max
 * Read-only. Returns {classes, counts, workers, leases, figures, completed}:
 *   classes   {llen, runcount, head's enq_ms or false} per class, highest first
 *   counts    {zcard dead, zcard running, xlen renderlog:rejected,
 *              the watcher's backlog, oldest_ms, updated_ms (HMGET watch; nil without one)}
 *   workers   HGETALL workers
 *   leases    {id, deadline, cls, worker, started_ms, attempts} (hash fields false if gone)
 *   figures   {worker, HGETALL wmetrics:<worker>} of the index entries since the time
 *   completed the job ids of the ok events since the time, newest first */
const char TQ_LUA_SNAPSHOT[] =
    "local jp, wp = '" TQ_QUEUE_JOB_KEY_PREFIX "', '" TQ_WMETRICS_KEY_PREFIX "'\n"
    "local lmax, fsince, fmax = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])\n"
    "local csince, cmax = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local classes = {}\n"
    "for c = 1, 3 do\n"
    "  local head = redis.call('LINDEX', KEYS[c], 0)\n"
    "  local enq = false\n"
    "  if head then enq = redis.call('HGET', jp .. head, '" TQ_JOB_F_ENQ_MS "') end\n"
    "  classes[c] = {redis.call('LLEN', KEYS[c]),\n"
    "                tonumber(redis.call('HGET', KEYS[4], c - 1) or '0') or 0, enq}\n"
    "end\n"
    "local counts = {redis.call('ZCARD', KEYS[6]), redis.call('ZCARD', KEYS[5]),\n"
    "                redis.call('XLEN', KEYS[9])}\n"
    "local wf = redis.call('HMGET', KEYS[11], '" TQ_WATCH_F_BACKLOG "', '" TQ_WATCH_F_OLDEST_MS
    "', '" TQ_WATCH_F_UPDATED_MS "')\n"
    "for i = 1, 3 do counts[3 + i] = wf[i] or '' end\n"
    "local leases = {}\n"
    "if lmax > 0 then\n"
    "  local r = redis.call('ZRANGE', KEYS[5], 0, lmax - 1, 'WITHSCORES')\n"
    "  for i = 1, #r, 2 do\n"
    "    local h = redis.call('HMGET', jp .. r[i], '" TQ_JOB_F_CLS "', '" TQ_JOB_F_WORKER
    "', '" TQ_JOB_F_STARTED_MS "', '" TQ_JOB_F_ATTEMPTS "')\n"
    "    leases[#leases + 1] = {r[i], r[i + 1], h[1], h[2], h[3], h[4]}\n"
    "  end\n"
    "end\n"
    "local figures = {}\n"
    "if fmax > 0 then\n"
    "  for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[8], fsince, '+inf', 'LIMIT', 0, fmax)) "
    "do\n"
    "    local h = redis.call('HGETALL', wp .. w)\n"
    "    if #h > 0 then figures[#figures + 1] = {w, h} end\n"
    "  end\n"
    "end\n"
    "local completed = {}\n"
    "if cmax > 0 then\n"
    "  for _, e in ipairs(redis.call('XREVRANGE', KEYS[10], '+', csince, 'COUNT', cmax)) do\n"
    "    local id, st = nil, nil\n"
    "    for i = 1, #e[2], 2 do\n"
    "      if e[2][i] == '" TQ_EVENT_F_ID "' then id = e[2][i + 1]\n"
    "      elseif e[2][i] == '" TQ_EVENT_F_STATUS "' then st = e[2][i + 1] end\n"
    "    end\n"
    "    if id and st == '" TQ_EVENT_OK "' then completed[#completed + 1] = id end\n"
    "  end\n"
    "end\n"
    "return {classes, counts, redis.call('HGETALL', KEYS[7]), leases, figures, completed}\n";

void tq_snapshot_clear(struct tq_snapshot *s)
{
    free(s->workers);
    free(s->leases);
    free(s->figures);
    free(s->completed);
    if (s->owned)
        freeReplyObject(s->owned);
    memset(s, 0, sizeof *s);
}

/* An integer or a decimal string as a number; 0 for anything else. */
static long long number(const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

static const char *string_or(const redisReply *r, const char *dflt)
{
    return r->type == REDIS_REPLY_STRING ? r->str : dflt;
}

static int is_array(const redisReply *r, size_t n)
{
    return r->type == REDIS_REPLY_ARRAY && (n == 0 || r->elements == n);
}

/* calloc of n elements (at least one, so NULL always means out of memory). */
static void *table(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

int tq_snapshot_parse(const redisReply *r, struct tq_snapshot *out, char *err, size_t errsize)
{
    memset(out, 0, sizeof *out);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsize, "redis: %s", r ? r->str : "no reply");
        return -1;
    }
    if (!is_array(r, 6) || !is_array(r->element[0], TQ_CLASS_COUNT) ||
        !(is_array(r->element[1], 3) || is_array(r->element[1], 6)) ||
        !is_array(r->element[2], 0) || !is_array(r->element[3], 0) || !is_array(r->element[4], 0) ||
        !is_array(r->element[5], 0))
        goto odd;
    for (int c = 0; c < TQ_CLASS_COUNT; c++) {
        const redisReply *cl = r->element[0]->element[c];
        if (!is_array(cl, 3))
            goto odd;
        out->cls[c].queued = number(cl->element[0]);
        out->cls[c].running = number(cl->element[1]);
        out->cls[c].oldest_enq_ms = number(cl->element[2]);
    }
    out->dead = number(r->element[1]->element[0]);
    out->running_leases = number(r->element[1]->element[1]);
    out->renderlog_rejected = number(r->element[1]->element[2]);
    if (r->element[1]->elements == 6 && r->element[1]->element[3]->type == REDIS_REPLY_STRING &&
        r->element[1]->element[3]->len > 0) {
        out->watch_present = 1;
        out->watch_backlog = number(r->element[1]->element[3]);
        out->watch_oldest_ms = number(r->element[1]->element[4]);
        out->watch_updated_ms = number(r->element[1]->element[5]);
    }

    const redisReply *w = r->element[2], *l = r->element[3], *f = r->element[4], *d = r->element[5];
    out->workers = table(w->elements / 2, sizeof *out->workers);
    out->leases = table(l->elements, sizeof *out->leases);
    out->figures = table(f->elements, sizeof *out->figures);
    out->completed = table(d->elements, sizeof *out->completed);
    if (!out->workers || !out->leases || !out->figures || !out->completed) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    for (size_t i = 0; i + 1 < w->elements; i += 2) {
        struct tq_snapshot_worker *sw = &out->workers[out->nworkers];
        if (w->element[i]->type != REDIS_REPLY_STRING)
            continue;
        sw->id = w->element[i]->str;
        tq_heartbeat_parse(string_or(w->element[i + 1], NULL), &sw->hb);
        out->nworkers++;
    }
    for (size_t i = 0; i < l->elements; i++) {
        const redisReply *e = l->element[i];
        struct tq_snapshot_lease *sl = &out->leases[out->nleases];
        if (!is_array(e, 6) || e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        sl->id = e->element[0]->str;
        sl->lease_until_ms = number(e->element[1]);
        long long cls = e->element[2]->type == REDIS_REPLY_STRING ? number(e->element[2]) : -1;
        sl->cls = cls >= 0 && cls < TQ_CLASS_COUNT ? (int)cls : -1;
        sl->worker = string_or(e->element[3], "");
        sl->started_ms = number(e->element[4]);
        sl->attempts = number(e->element[5]);
        out->nleases++;
    }
    for (size_t i = 0; i < f->elements; i++) {
        const redisReply *e = f->element[i];
        if (!is_array(e, 2) || e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        out->figures[out->nfigures].worker = e->element[0]->str;
        out->figures[out->nfigures++].hash = e->element[1];
    }
    for (size_t i = 0; i < d->elements; i++)
        if (d->element[i]->type == REDIS_REPLY_STRING)
            out->completed[out->ncompleted++] = d->element[i]->str;
    return 0;
odd:
    snprintf(err, errsize, "redis: unexpected reply to the snapshot script");
    return -1;
}

int tq_snapshot_read(redisContext *c, const struct tq_snapshot_want *want, struct tq_snapshot *out,
                     char *err, size_t errsize)
{
    redisReply *r =
        redisCommand(c, TQ_SNAPSHOT_FMT, TQ_LUA_SNAPSHOT, (long long)want->leases_max,
                     (long long)want->figures_since_ms, (long long)want->figures_max,
                     (long long)want->completed_since_ms, (long long)want->completed_max);
    if (r == NULL) {
        memset(out, 0, sizeof *out);
        snprintf(err, errsize, "redis: %s", c->errstr[0] ? c->errstr : "no reply");
        return -1;
    }
    int rc = tq_snapshot_parse(r, out, err, errsize);
    out->owned = r; /* freed by tq_snapshot_clear, also after an error */
    return rc;
}

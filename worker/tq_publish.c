/* tq_publish — see tq_publish.h. */
#include "tq_publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "tq_log.h"
#include "tq_metrics.h"
#include "tq_queue.h"
#include "tq_tilejson.h"
#include "tq_time.h"
#include "tq_worker.h"

void tq_publish_register(struct tq_worker *w)
{
    char value[256];
    if (!tq_wconn_redis_ok(w->conn))
        return;
    /* One value "host pid last_seen_ms" (hiredis splits the format on spaces, so it is
     * passed as one %s argument). */
    snprintf(value, sizeof value, "%s %ld %lld", w->host, (long)getpid(), (long long)tq_now_ms());
    tq_wconn_redis_simple(
        w->conn, "HSET workers",
        redisCommand(tq_wconn_redis(w->conn), "HSET %s %s %s", TQ_QUEUE_WORKERS_KEY, w->id, value));
}

void tq_publish_unregister(struct tq_worker *w)
{
    if (!tq_wconn_redis_ok(w->conn))
        return;
    redisReply *r =
        redisCommand(tq_wconn_redis(w->conn), "HDEL %s %s", TQ_QUEUE_WORKERS_KEY, w->id);
    if (r)
        freeReplyObject(r);
}

void tq_publish_schema(struct tq_worker *w)
{
    int n = 0;
    for (size_t i = 0; i < w->cfg->ntilesets && tq_wconn_redis_ok(w->conn); i++) {
        const char *name = w->cfg->tilesets[i].name;
        char *json = tq_render_schema_json(w->renderer, name);
        if (json == NULL)
            continue;
        tq_wconn_redis_simple(
            w->conn, "HSET schema",
            redisCommand(tq_wconn_redis(w->conn), "HSET %s %s %s", TQ_SCHEMA_KEY, name, json));
        free(json);
        n++;
    }
    tq_log_debug("schema_published", "tilesets=%d", n);
}

void tq_publish_figures(struct tq_worker *w)
{
    struct tq_wfigures_fields fields;
    const char *argv[2 + 2 * TQ_WFIGURES_MAX_FIELDS];
    char key[300], ttl[24], now_s[24], old_s[24];
    int argc = 0;
    int64_t now = tq_now_ms();
    redisContext *redis = tq_wconn_redis(w->conn);

    if (!tq_wconn_redis_ok(w->conn))
        return;
    w->figures.last_publish = now;
    w->figures.dirty = 0;
    tq_wfigures_encode(&w->figures, now, &fields);
    snprintf(key, sizeof key, "%s%s", TQ_WMETRICS_KEY_PREFIX, w->id);
    argv[argc++] = "HSET";
    argv[argc++] = key;
    for (size_t i = 0; i < fields.n; i++) {
        argv[argc++] = fields.name[i];
        argv[argc++] = fields.value[i];
    }
    snprintf(ttl, sizeof ttl, "%d", TQ_WMETRICS_TTL_MS);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(old_s, sizeof old_s, "(%lld", (long long)(now - TQ_WMETRICS_TTL_MS));
    redisAppendCommandArgv(redis, argc, argv, NULL);
    redisAppendCommand(redis, "PEXPIRE %s %s", key, ttl);
    redisAppendCommand(redis, "ZADD %s %s %s", TQ_WMETRICS_INDEX_KEY, now_s, w->id);
    redisAppendCommand(redis, "ZREMRANGEBYSCORE %s -inf %s", TQ_WMETRICS_INDEX_KEY, old_s);
    for (int i = 0; i < 4 && tq_wconn_redis_ok(w->conn); i++) {
        redisReply *r = NULL;
        if (redisGetReply(redis, (void **)&r) != REDIS_OK)
            r = NULL;
        tq_wconn_redis_simple(w->conn, "publish metrics", r);
    }
}

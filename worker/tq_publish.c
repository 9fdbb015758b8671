/* tq_publish — see tq_publish.h. */
#include "tq_publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "tq_log.h"
#include "tq_time.h"
#include "tq_wfigures.h"
#include "tq_wire.h"
#include "tq_worker.h"

void tq_publish_register(struct tq_worker *w)
{
    struct tq_heartbeat hb = {.pid = (long)getpid(), .last_seen_ms = tq_now_ms()};
    char value[sizeof hb.host + 48];

    if (!tq_wconn_redis_ok(w->conn))
        return;
    snprintf(hb.host, sizeof hb.host, "%s", w->host);
    tq_heartbeat_encode(&hb, value, sizeof value); /* fits: value has room for every field */
    /* One value "host pid last_seen_ms" (hiredis splits the format on spaces, so it is
     * passed as one %s argument). */
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
    struct tq_wfigures_hset x;
    char ttl[24], now_s[24], old_s[24];
    int64_t now = tq_now_ms();
    redisContext *redis = tq_wconn_redis(w->conn);

    if (!tq_wconn_redis_ok(w->conn))
        return;
    w->stats.last_publish = now;
    w->stats.dirty = 0;
    w->stats.f.updated_ms = now;
    if (tq_wfigures_encode(&w->stats.f, w->id, &x) != 0)
        return; /* an id too long for a key: main limits it below that */
    snprintf(ttl, sizeof ttl, "%d", TQ_WMETRICS_TTL_MS);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(old_s, sizeof old_s, "(%lld", (long long)(now - TQ_WMETRICS_TTL_MS));
    redisAppendCommandArgv(redis, x.argc, x.argv, NULL);
    redisAppendCommand(redis, "PEXPIRE %s %s", x.key, ttl);
    redisAppendCommand(redis, "ZADD %s %s %s", TQ_WMETRICS_INDEX_KEY, now_s, w->id);
    redisAppendCommand(redis, "ZREMRANGEBYSCORE %s -inf %s", TQ_WMETRICS_INDEX_KEY, old_s);
    for (int i = 0; i < 4 && tq_wconn_redis_ok(w->conn); i++) {
        redisReply *r = NULL;
        if (redisGetReply(redis, (void **)&r) != REDIS_OK)
            r = NULL;
        tq_wconn_redis_simple(w->conn, "publish metrics", r);
    }
}

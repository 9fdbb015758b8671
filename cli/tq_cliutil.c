/* tq_cliutil — see tq_cliutil.h. */
#include "tq_cliutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_cli.h"
#include "tq_pgconn.h"
#include "tq_discover.h"
#include "tq_queue.h"
#include "tq_redis.h"
#include "tq_tile.h"

struct tq_config *tq_cli_config_load(const char *cmd, const char *path, int need_tilesets,
                                     int *exit_status)
{
    char err[1024];
    struct tq_config *cfg;

    if (path == NULL)
        path = getenv("TQ_CONFIG");
    if (path == NULL || *path == '\0') {
        fprintf(stderr, "tileq %s: no configuration: give -c FILE (or set TQ_CONFIG)\n", cmd);
        *exit_status = TQ_EXIT_USAGE;
        return NULL;
    }
    cfg = tq_config_load(path, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "tileq %s: %s\n", cmd, err);
        *exit_status = TQ_EXIT_FAIL;
        return NULL;
    }
    if (need_tilesets && cfg->ntilesets == 0) {
        PGconn *pg = tq_pg_connect(cfg->pg_conninfo, cfg->pg_password, "tileq", NULL);
        int n = -1;
        if (PQstatus(pg) != CONNECTION_OK)
            snprintf(err, sizeof err, "PostgreSQL: %s", PQerrorMessage(pg));
        else
            n = tq_discover_tilesets(cfg, pg, err, sizeof err);
        PQfinish(pg);
        if (n < 0) {
            fprintf(stderr, "tileq %s: no tileset configured and discovery failed: %s\n", cmd, err);
            tq_config_free(cfg);
            *exit_status = TQ_EXIT_FAIL;
            return NULL;
        }
    }
    return cfg;
}

redisContext *tq_cli_redis_connect(const char *cmd, const struct tq_config *cfg)
{
    char err[512];
    struct tq_redis_target target = tq_config_redis_target(cfg);
    redisContext *c = tq_redis_connect(&target, 5000, 0, NULL, err, sizeof err);

    if (c == NULL)
        fprintf(stderr, "tileq %s: Redis: %s\n", cmd, err);
    return c;
}

int tq_cli_events_last_id(redisContext *c, char *buf, size_t bufsize, char *err, size_t errsize)
{
    int rc = -1;
    redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT 1", TQ_QUEUE_EVENTS_KEY);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errsize, "redis: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
        goto cleanup;
    }
    if (r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements >= 1 && r->element[0]->element[0]->type == REDIS_REPLY_STRING)
        snprintf(buf, bufsize, "%s", r->element[0]->element[0]->str);
    else
        snprintf(buf, bufsize, "0-0");
    rc = 0;
cleanup:
    if (r)
        freeReplyObject(r);
    return rc;
}

uint32_t tq_cli_job_tiles(const char *id, uint32_t size)
{
    const char *slash = strchr(id, '/');
    struct tq_tile t;
    if (slash == NULL || tq_tile_parse(slash + 1, &t) != 0)
        return 1;
    struct tq_metatile m = tq_tile_metatile(t, size ? size : 1);
    return tq_metatile_count(&m);
}

const char *tq_cli_duration(int64_t ms, char *buf, size_t bufsize)
{
    if (ms < 0)
        ms = 0;
    int64_t s = ms / 1000;
    if (s < 60)
        snprintf(buf, bufsize, "%.1fs", (double)ms / 1000.0);
    else if (s < 3600)
        snprintf(buf, bufsize, "%dm%02ds", (int)(s / 60), (int)(s % 60));
    else
        snprintf(buf, bufsize, "%dh%02dm", (int)(s / 3600), (int)(s % 3600 / 60));
    return buf;
}

int tq_area_cmd_start(struct tq_area_cmd *a, const char *cmd, const char *usage,
                      int (*parse)(int, char **, struct tq_area_opts *, char *, size_t),
                      const char *zoom_prefix, const char *config_path, int argc, char **argv)
{
    char err[1024];
    int status = TQ_EXIT_FAIL;

    memset(a, 0, sizeof *a);
    if (parse(argc, argv, &a->o, err, sizeof err) != 0) {
        fprintf(stderr, "tileq %s: %s\n(tileq %s --help for usage)\n", cmd, err, cmd);
        return TQ_EXIT_USAGE;
    }
    if (a->o.help) {
        fputs(usage, stdout);
        return TQ_EXIT_OK;
    }
    a->cfg = tq_cli_config_load(cmd, config_path, 1, &status);
    if (a->cfg == NULL)
        return status;
    a->ts = tq_config_tileset(a->cfg, a->o.tileset);
    if (a->ts == NULL) {
        fprintf(stderr, "tileq %s: unknown tileset '%s' (not in %s)\n", cmd, a->o.tileset,
                a->cfg->path);
        goto usage_error;
    }
    if (tq_area_zooms(&a->o, a->ts, &a->lo, &a->hi, err, sizeof err) != 0) {
        fprintf(stderr, "tileq %s: %s%s\n", cmd, zoom_prefix, err);
        goto usage_error;
    }
    if (a->o.tiles) {
        a->ntiles = tq_tilelist_load(a->o.tiles, &a->tiles, err, sizeof err);
        if (a->ntiles < 0) {
            fprintf(stderr, "tileq %s: %s\n", cmd, err);
            goto usage_error;
        }
    }
    return -1;
usage_error:
    tq_area_cmd_free(a);
    return TQ_EXIT_USAGE;
}

void tq_area_cmd_free(struct tq_area_cmd *a)
{
    free(a->tiles);
    tq_config_free(a->cfg);
    memset(a, 0, sizeof *a);
}

const char *tq_cli_bar(double frac, char *buf, size_t bufsize)
{
    size_t width = bufsize > 31 ? 30 : bufsize - 1;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    size_t filled = (size_t)(frac * (double)width);
    for (size_t i = 0; i < width; i++)
        buf[i] = i < filled ? '#' : '.';
    buf[width] = '\0';
    return buf;
}

/* tq-bench-enqueue — enqueues, with the queue's own ENQUEUE script (tq_queue_enqueue), one
 * job per metatile covering a lon/lat area at every zoom of a range. For the benchmarks.
 *
 *   tq-bench-enqueue REDIS_URL TILESET METATILE ZMIN ZMAX WEST SOUTH EAST NORTH
 *
 * Jobs are bulk-class warm jobs. Prints "jobs=N tiles=T area_tiles=A" (T = tiles of all
 * the metatiles, A = tiles of the area itself) and exits 0; 1 on an error, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "tq_config.h"
#include "tq_job.h"
#include "tq_queue.h"
#include "tq_redis.h"
#include "tq_tile.h"
#include "tq_tileset.h"
#include "tq_time.h"

static int parse_double(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == '\0' ? 0 : -1;
}

int main(int argc, char **argv)
{
    char err[512];
    int rc = 1;
    double bbox[4];
    redisContext *c = NULL;
    long long jobs = 0, tiles = 0, area_tiles = 0;

    if (argc != 10) {
        fprintf(stderr, "usage: %s REDIS_URL TILESET METATILE ZMIN ZMAX WEST SOUTH EAST NORTH\n",
                argv[0]);
        return 2;
    }
    const char *tileset = argv[2];
    int size = atoi(argv[3]), zmin = atoi(argv[4]), zmax = atoi(argv[5]);
    for (int i = 0; i < 4; i++) {
        if (parse_double(argv[6 + i], &bbox[i]) != 0) {
            fprintf(stderr, "bad coordinate %s\n", argv[6 + i]);
            return 2;
        }
    }
    if (size < 1 || size > TQ_METATILE_MAX || zmin < 0 || zmax > TQ_TILE_MAX_ZOOM || zmin > zmax) {
        fprintf(stderr, "bad metatile size or zoom range\n");
        return 2;
    }
    struct tq_redis_target target = {.url = argv[1]};
    c = tq_redis_connect(&target, 5000, 0, NULL, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "redis: %s\n", err);
        goto cleanup;
    }
    for (int z = zmin; z <= zmax; z++) {
        struct tq_tile_range range;
        if (tq_tile_range_from_lonlat(bbox[0], bbox[1], bbox[2], bbox[3], z, &range) != 0) {
            fprintf(stderr, "bad bbox\n");
            goto cleanup;
        }
        area_tiles += (long long)(range.xmax - range.xmin + 1) * (range.ymax - range.ymin + 1);
        /* Step over the metatiles: the top-left tile of each, clamped by tq_tile_metatile. */
        uint32_t mx0 = range.xmin / (uint32_t)size * (uint32_t)size;
        uint32_t my0 = range.ymin / (uint32_t)size * (uint32_t)size;
        for (uint32_t y = my0; y <= range.ymax; y += (uint32_t)size) {
            for (uint32_t x = mx0; x <= range.xmax; x += (uint32_t)size) {
                struct tq_tile t = {z, x, y};
                struct tq_job job;
                if (tq_job_init(&job, tileset, t, (uint32_t)size, TQ_CLASS_BULK, TQ_REASON_WARM,
                                tq_now_ms()) != 0) {
                    fprintf(stderr, "bad tileset name\n");
                    goto cleanup;
                }
                enum tq_enqueue_result res =
                    tq_queue_enqueue(c, &job, 0, TQ_ENQ_MODE_WARM, 0, 0, err, sizeof err);
                if (res == TQ_ENQ_ERROR) {
                    fprintf(stderr, "enqueue: %s\n", err);
                    goto cleanup;
                }
                if (res == TQ_ENQ_NEW) {
                    jobs++;
                    tiles += tq_metatile_count(&job.meta);
                }
            }
        }
    }
    printf("jobs=%lld tiles=%lld area_tiles=%lld\n", jobs, tiles, area_tiles);
    rc = 0;
cleanup:
    if (c)
        redisFree(c);
    return rc;
}

/* tq_cliutil — what the queue commands of `tileq` (warm, expire, status, deadletter) share:
 * loading the configuration, connecting to Redis, reading the completion events. */
#ifndef TQ_CLIUTIL_H
#define TQ_CLIUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "tq_config.h"
#include "tq_area.h"
#include "tq_tile_range.h"
#include "tq_tilelist.h"

/* Loads the configuration at path (NULL: $TQ_CONFIG). With need_tilesets and no tileset in
 * it, discovers them from PostgreSQL (tq_discover.h) as the servers do. Prints "tileq CMD:
 * reason" and returns NULL on failure; *exit_status is then TQ_EXIT_USAGE (no file given)
 * or TQ_EXIT_FAIL. */
struct tq_config *tq_cli_config_load(const char *cmd, const char *path, int need_tilesets,
                                     int *exit_status);

/* Connects to cfg's Redis master (through its sentinels when configured; AUTH, SELECT as
 * redis_url says: tq_redis_connect), 5 s connect timeout. Prints the reason and returns NULL
 * on failure; the caller frees with redisFree. */
redisContext *tq_cli_redis_connect(const char *cmd, const struct tq_config *cfg);

/* The last entry id of the completion events stream ("0-0" when empty) into buf, so a
 * command reads only events after this moment. 0 or -1 (err set). */
int tq_cli_events_last_id(redisContext *c, char *buf, size_t bufsize, char *err, size_t errsize);

/* What `tileq warm` and `tileq expire` settle before their work. */
struct tq_area_cmd {
    struct tq_area_opts o;
    struct tq_config *cfg;              /* owned */
    const struct tq_tileset_config *ts; /* in cfg */
    int lo, hi;                         /* the zoom range */
    struct tq_tile *tiles;              /* owned: the --tiles list (NULL for a bbox) */
    long ntiles;
};

/* Parses argv with parse (a usage error prints "tileq CMD: reason" and the --help hint),
 * prints usage for --help, loads the configuration (tilesets discovered when none is
 * configured), finds --tileset, resolves the zoom range (its errors prefixed with
 * zoom_prefix) and reads (and checks) the whole --tiles list. Returns -1 when the command
 * goes on with a filled (free it with tq_area_cmd_free), else the exit status to return now
 * (a then holds nothing to free). */
int tq_area_cmd_start(struct tq_area_cmd *a, const char *cmd, const char *usage,
                      int (*parse)(int, char **, struct tq_area_opts *, char *, size_t),
                      const char *zoom_prefix, const char *config_path, int argc, char **argv);

void tq_area_cmd_free(struct tq_area_cmd *a);

/* Tiles a job id "tileset/z/mx/my" stands for with metatiles of size a side (clamped to the
 * grid); 1 when the id does not parse. */
uint32_t tq_cli_job_tiles(const char *id, uint32_t size);

/* A progress bar of 30 characters, '#' for the part frac (clamped to 0..1) done, '.' for the
 * rest, into buf (31 bytes at least); returns buf. */
const char *tq_cli_bar(double frac, char *buf, size_t bufsize);

/* "3m12s"-style duration of ms milliseconds into buf; returns buf. */
const char *tq_cli_duration(int64_t ms, char *buf, size_t bufsize);

#endif

/* tq_cache — the shared tile cache on disk: {cache_dir}/{tileset}/{z}/{x}/{y}.mvt.
 * Tiles are stored as plain (uncompressed) MVT bytes. An empty tile is cached as a zero-byte
 * marker {y}.empty instead, so that a file server (nginx `if (-f …)`) can answer it with 204
 * as the coordinator does without knowing file sizes. Writing one form removes the other.
 * Writers create a temp file in the tile's own directory, named uniquely across hosts
 * (".tmp.<host>.<pid>.<random>"), then rename() it over the tile, so a reader (coordinator,
 * nginx) never sees a partial tile. */
#ifndef TQ_CACHE_H
#define TQ_CACHE_H

#include <stddef.h>

#include "tq_tile.h"

/* Writes the tile's path into buf (the .mvt form). Returns 0, or -1 when it does not fit. */
int tq_cache_path(const char *cache_dir, const char *tileset, struct tq_tile t, char *buf,
                  size_t bufsize);

/* Atomically writes len bytes (len may be 0) as the tile, creating directories.
 * Returns 0, or -1 with a reason in err. */
int tq_cache_write(const char *cache_dir, const char *tileset, struct tq_tile t, const void *data,
                   size_t len, char *err, size_t errsize);

/* Reads the whole tile into a malloc'd buffer the caller frees (*data is non-NULL even
 * for an empty tile). Returns 1 read, 0 not cached, -1 error (err set). */
int tq_cache_read(const char *cache_dir, const char *tileset, struct tq_tile t, char **data,
                  size_t *len, char *err, size_t errsize);

/* 1 when the tile is cached, 0 when not. */
int tq_cache_exists(const char *cache_dir, const char *tileset, struct tq_tile t);

/* Removes the tile (either form). Returns 1 removed, 0 was not there, -1 error. */
int tq_cache_remove(const char *cache_dir, const char *tileset, struct tq_tile t);

#endif

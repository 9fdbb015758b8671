/* tq_tile_path — strict parser for tile request targets: "/{tileset}/{z}/{x}/{y}.mvt"
 * (or ".pbf"), optionally followed by "?query" (ignored).
 *
 * Pure string work: no I/O, no config. The caller (the coordinator) maps the result to HTTP:
 *   TQ_TILE_PATH_OK        the tile; look up the tileset and its zoom range next
 *   TQ_TILE_PATH_MALFORMED 400: too long, "..", "//", '%', control or non-ASCII bytes, a bad
 *                          tileset name, numbers that are not plain decimal (signs, leading
 *                          zeros, junk, overflow) or z > TQ_TILE_MAX_ZOOM
 *   TQ_TILE_PATH_OUTSIDE   404: well formed, but x or y >= 2^z
 *   TQ_TILE_PATH_NOT_TILE  not a tile route (does not end in .mvt/.pbf): some other handler
 *                          or 404
 * The generic checks (length, "..", "//", '%', bytes) apply to every target, tile or not. */
#ifndef TQ_TILE_PATH_H
#define TQ_TILE_PATH_H

#include "tq_tile.h"
#include "tq_tileset.h"

/* Longest request target accepted, in bytes (query string included). */
#define TQ_TILE_PATH_MAX 1024

enum tq_tile_path_result {
    TQ_TILE_PATH_OK = 0,
    TQ_TILE_PATH_MALFORMED,
    TQ_TILE_PATH_OUTSIDE,
    TQ_TILE_PATH_NOT_TILE
};

struct tq_tile_path {
    char tileset[TQ_TILESET_NAME_MAX];
    struct tq_tile tile;
    char ext[4]; /* "mvt" or "pbf" */
};

/* Parses the NUL-terminated request target into out (filled only on TQ_TILE_PATH_OK; on
 * TQ_TILE_PATH_OUTSIDE tileset and z are filled). *why, when why is not NULL, gets a short
 * static reason for anything but OK. */
enum tq_tile_path_result tq_tile_path_parse(const char *target, struct tq_tile_path *out,
                                            const char **why);

/* 1 when target's path (before any '?') is exactly path, else 0. */
int tq_tile_path_is(const char *target, const char *path);

#endif

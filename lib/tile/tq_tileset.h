/* tq_tileset — the rules every layer applies to a tileset, written once: its name and its
 * metatile size. The configuration (tq_config), the job format (tq_job), the HTTP tile path
 * (tq_tile_path) and the CLI all check against these. */
#ifndef TQ_TILESET_H
#define TQ_TILESET_H

#include <stddef.h>

/* A tileset name is 1..TQ_TILESET_NAME_MAX-1 bytes of TQ_TILESET_NAME_CHARS: safe as a path
 * segment of the cache and of a URL, and inside a Redis key, with no escaping. */
#define TQ_TILESET_NAME_MAX 64 /* including NUL */
#define TQ_TILESET_NAME_CHARS "[A-Za-z0-9_-]"

/* Metatile sizes (tiles a side) are 1..TQ_METATILE_MAX. */
#define TQ_METATILE_MAX 64

/* 1 when c may stand in a tileset name (one of TQ_TILESET_NAME_CHARS), 0 otherwise. */
int tq_tileset_name_char(char c);

/* 1 when the len bytes at name (not necessarily NUL-terminated) are a valid tileset name,
 * 0 otherwise. */
int tq_tileset_name_valid(const char *name, size_t len);

#endif

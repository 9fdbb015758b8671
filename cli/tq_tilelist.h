/* tq_tilelist — tile lists in osm2pgsql's expire format ("z/x/y" a line), for `tileq warm
 * --tiles` and `tileq expire --tiles`. Pure: reads a FILE, nothing else. */
#ifndef TQ_TILELIST_H
#define TQ_TILELIST_H

#include <stddef.h>
#include <stdio.h>

#include "tq_tile.h"

/* One line of a tile list: "z/x/y", surrounding blanks and a trailing CR allowed.
 * Returns 1 a tile (in t), 0 a blank or '#' comment line, -1 malformed or outside the grid
 * (err says why, without file or line). */
int tq_tilelist_parse_line(const char *line, struct tq_tile *t, char *err, size_t errsize);

/* Reads a whole tile list (osm2pgsql expire format) from f, named name in messages.
 * Returns the number of tiles (duplicates kept out) with *tiles a malloc'd array the caller
 * frees, or -1 with "NAME:LINE: reason" (or "NAME: read error: ...") in err. */
long tq_tilelist_read(FILE *f, const char *name, struct tq_tile **tiles, char *err, size_t errsize);

/* Same from a path ("-" = stdin). "cannot open PATH: reason" when it cannot be opened. */
long tq_tilelist_load(const char *path, struct tq_tile **tiles, char *err, size_t errsize);

#endif

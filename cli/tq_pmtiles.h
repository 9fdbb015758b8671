/* tq_pmtiles — a PMTiles v3 writer (protomaps/PMTiles spec/v3/spec.md), streaming.
 *
 * Tiles are added in ascending tile id (the Hilbert order of the spec: tq_pmtiles_tile_id;
 * tq_hilbert_iter walks a tile range in that order), so the archive is clustered. Identical
 * tiles are stored once (tq_dedup: the index of distinct tiles), and consecutive tile ids with
 * the same content make one run-length entry. Tiles are stored gzip-compressed: a tile given
 * as gzip is stored as it is, a plain one is compressed (only when its content is new). An
 * empty tile (0 bytes) is left out, as the spec intends (a reader answers "no tile").
 *
 * Layout of the file: header (127 bytes), root directory, JSON metadata, leaf directories,
 * tile data (the spec's recommended order); directories and metadata gzip-compressed. The
 * root directory holds every entry when header + root fit in 16,384 bytes; otherwise it holds
 * one entry per leaf directory, leaves of at least 4,096 entries, grown by 20 % until the
 * root fits (as the reference writer, go-pmtiles, does).
 *
 * Memory: the dedup index (bytes per distinct tile: tq_archive.h) and the pending entry.
 * Entries and tile data go to temp files next to the output (unlinked at once); the
 * directories are built from the entries file when the archive is finished, holding one
 * leaf's entries and the root's (one per leaf) at a time. The archive is written to
 * PATH.partial, fsynced and renamed over PATH: PATH is never a partial archive. */
#ifndef TQ_PMTILES_H
#define TQ_PMTILES_H

#include <stddef.h>
#include <stdint.h>

#include "tq_archive.h"
#include "tq_buf.h"
#include "tq_tile.h"

#define TQ_PMTILES_HEADER_LEN 127
/* Header plus root directory must be under this (the spec's prefetch size). */
#define TQ_PMTILES_ROOT_MAX 16384

/* The spec's tile id of z/x/y: tiles of lower zooms first, then the position on zoom z's
 * Hilbert curve. z <= 31, x and y < 2^z (not checked). */
uint64_t tq_pmtiles_tile_id(int z, uint32_t x, uint32_t y);

/* The tile of a tile id (the inverse). */
struct tq_tile tq_pmtiles_tile_of_id(uint64_t id);

/* Walks the tiles of a range in ascending tile id, without holding them: a depth-first walk
 * of the quadtree in Hilbert order, skipping the quadrants outside the range.
 *   struct tq_hilbert_iter it; tq_hilbert_iter_init(&it, &r);
 *   while (tq_hilbert_iter_next(&it, &t, &id)) ... */
struct tq_hilbert_iter {
    struct tq_tile_range r;
    int depth;              /* the stack's top level, -1 when done */
    uint64_t pos[32];       /* pos[k]: the node's position on level k's curve */
    unsigned char next[32]; /* next[k]: its next child to visit (0..4) */
};
void tq_hilbert_iter_init(struct tq_hilbert_iter *it, const struct tq_tile_range *r);
int tq_hilbert_iter_next(struct tq_hilbert_iter *it, struct tq_tile *t, uint64_t *id);

/* A directory entry (RunLength 0: a leaf directory). */
struct tq_pmtiles_entry {
    uint64_t tile_id, offset;
    uint32_t length, run_length;
};

/* Appends the spec's serialization of entries[0..n) (count, delta tile ids, run lengths,
 * lengths, offsets: varints, columns), not compressed, to out. 0 or -1 (OOM). */
int tq_pmtiles_dir_serialize(const struct tq_pmtiles_entry *entries, size_t n, struct tq_buf *out);

struct tq_pmtiles;

/* Starts an archive to be written at path (temp files in path's directory). NULL with the
 * reason in err. */
struct tq_pmtiles *tq_pmtiles_open(const char *path, char *err, size_t errsize);

/* Adds a tile: len bytes of data (gzip or plain MVT; 0 bytes = empty, left out) at tile id
 * id, greater than the last one added. The bytes are copied. 0, or -1 (error in err). */
int tq_pmtiles_add(struct tq_pmtiles *w, uint64_t id, const void *data, size_t len, char *err,
                   size_t errsize);

/* Writes the directories, the metadata and the header (bounds, center, zooms from info), and
 * renames the archive into place. At least one non-empty tile must have been added. 0, or
 * -1 (error in err; nothing at path then). w is freed by tq_pmtiles_free either way. */
int tq_pmtiles_finish(struct tq_pmtiles *w, const struct tq_archive_info *info, char *err,
                      size_t errsize);

/* Frees w; an unfinished archive is abandoned (its partial file removed). NULL is a no-op. */
void tq_pmtiles_free(struct tq_pmtiles *w);

/* What the archive holds so far. */
struct tq_pmtiles_stats {
    uint64_t addressed; /* tiles with data (Sum(RunLength)) */
    uint64_t entries;   /* directory entries of tiles */
    uint64_t contents;  /* distinct tiles stored */
    uint64_t empty;     /* empty tiles left out */
    uint64_t data_bytes;
    uint64_t file_bytes; /* the whole archive, after tq_pmtiles_finish */
    uint64_t leaves;     /* leaf directories, after tq_pmtiles_finish */
};
void tq_pmtiles_stats(const struct tq_pmtiles *w, struct tq_pmtiles_stats *st);

/* For tests: the largest header + root directory (default TQ_PMTILES_ROOT_MAX) and the
 * smallest leaf (default 4096 entries), so that small archives get leaf directories. */
void tq_pmtiles_set_dir_limits(struct tq_pmtiles *w, size_t root_max, size_t min_leaf);

#endif

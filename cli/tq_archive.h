/* tq_archive — what the two archive writers (tq_pmtiles, tq_mbtiles) share: the description
 * of the tileset written into an archive, and the index of distinct tiles that stores each
 * tile content once.
 *
 * The dedup index maps a tile's bytes, as read from the cache, to where the writer stored
 * them (a reference: two integers of the writer's choosing, e.g. offset and length). It is
 * exact: a lookup whose 64-bit content hash matches asks the writer (the same callback)
 * whether the stored tile really holds these bytes, so a hash collision costs a read, never a
 * wrong tile. Memory: one tq_map slot per distinct tile (slot header 16 + key 16 + reference
 * 16 = 48 bytes, at a load between 35 % and 70 %: 69 to 137 bytes per distinct tile, nothing
 * per addressed tile). Nothing here does I/O. */
#ifndef TQ_ARCHIVE_H
#define TQ_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

/* The tileset as an archive describes it. Strings are borrowed. */
struct tq_archive_info {
    const char *name;
    const char *description;
    int minzoom, maxzoom;
    double bounds[4]; /* west, south, east, north in degrees */
    double center[3]; /* lon, lat, zoom */
    /* The JSON metadata: an object holding at least "vector_layers" (TileJSON 3.0.0). */
    const char *metadata_json;
};

/* Where a writer stored a distinct tile. */
struct tq_dedup_ref {
    uint64_t a, b;
};

/* Does the stored tile ref hold exactly data[0..len) (as given to tq_dedup_find)? 1 yes,
 * 0 no, -1 error (the writer sets its own error). */
typedef int (*tq_dedup_same_fn)(void *arg, const struct tq_dedup_ref *ref, const void *data,
                                size_t len);

struct tq_dedup;

/* A new empty index asking same(arg, ...) to confirm a hash match. NULL on OOM. */
struct tq_dedup *tq_dedup_new(tq_dedup_same_fn same, void *arg);
void tq_dedup_free(struct tq_dedup *d);

/* Looks data up: 1 stored before (*ref set), 0 new (store it, then tq_dedup_insert its
 * reference), -1 error (out of memory, or same() failed). */
int tq_dedup_find(struct tq_dedup *d, const void *data, size_t len, struct tq_dedup_ref *ref);

/* Records ref for the data of the last tq_dedup_find that answered 0. 0, or -1 (OOM, or no
 * such find). */
int tq_dedup_insert(struct tq_dedup *d, const struct tq_dedup_ref *ref);

/* The first step of both writers' add: looks the non-empty tile data[0..len) up
 * (tq_dedup_find) and, when it is new, gives the bytes to store: data itself when it is gzip
 * already, else data gzip-compressed into *gz (malloc'd, the caller frees it; NULL when not
 * needed). Returns 1 stored before (*ref set), 0 new (*bytes and *n set: store them, then
 * tq_dedup_insert), -1 with err set. */
int tq_dedup_lookup(struct tq_dedup *d, const void *data, size_t len, struct tq_dedup_ref *ref,
                    const void **bytes, size_t *n, unsigned char **gz, char *err, size_t errsize);

/* Distinct tiles recorded. */
size_t tq_dedup_count(const struct tq_dedup *d);

/* 1 when the tile bytes data (gzip, or plain: uncompressed) hold the same tile as the gzip
 * stream stored (the same bytes, or stored inflates to them), else 0. For the writers' same()
 * callbacks: the cache may hold plain or gzip tiles, the archives hold gzip. */
int tq_archive_same_content(const void *data, size_t len, const void *stored, size_t stored_len);

#endif

/* tq_cache — the shared tile cache on disk: {cache_dir}/{tileset}/{z}/{x}/{y}.mvt.gz.
 * Tiles are stored gzip-compressed (one gzip member, TQ_CACHE_GZIP_LEVEL), under the
 * name nginx's gzip_static looks for beside the URL's file: a cache hit is the file sent as it
 * is to a client that accepts gzip (every browser and map library), and inflated only for
 * the others (nginx: gunzip; the coordinator: tq_gzip_decompress). Caches written before
 * hold plain MVT in {y}.mvt (the legacy form): it is still read, served and removed, and
 * the next write of that tile replaces it with the .mvt.gz form. An empty tile is cached as
 * a zero-byte marker {y}.empty instead, so that a file server (nginx `if (-f …)`) can answer
 * it with 204 as the coordinator does without knowing file sizes. Writing one form removes
 * the others.
 * Writers create a temp file in the tile's own directory, named uniquely across hosts
 * (".tmp.<host>.<pid>.<random>"), then rename() it over the tile, so a reader (coordinator,
 * nginx) never sees a partial tile.
 *
 * Durable before visible (when fsync is on, tq_cache_set_fsync, the default): the temp file
 * of a tile with bytes is fsynced before its rename (an empty tile's zero-byte marker has no
 * data to lose: the directory's fsync makes its creation and rename durable), so after a crash a
 * tile's name never points at a zero-length or partly written file; a directory the write creates
 * is made durable by fsyncing its parent; and the renames themselves become durable when the caller
 * fsyncs the directories that received tiles, once per batch (tq_cache_sync_metatile: one fsync per
 * {z}/{x} column, 8 for a metatile of 8x8 tiles, not 64).
 *
 * Never served broken: tq_cache_read checks what it reads (tq_cache_check) and treats a
 * zero-length or truncated file as not cached, removing it (only when the name still points
 * at the file it read), so the tile is rendered again. A file that passed the check is
 * remembered by its path and identity (device, inode, size, mtime, ctime: a rename() puts a new
 * inode at the name, any write changes mtime), so a hit on it again is not inflated a second time
 * (a per-process table of at most TQ_CACHE_CHECKED_MAX files, emptied when full). */
#ifndef TQ_CACHE_H
#define TQ_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tq_tile.h"

#define TQ_CACHE_CHECKED_MAX 65536

/* The zlib level tiles are stored at (and a legacy plain tile is compressed at when sent to a
 * gzip client, so that both give the same bytes). Level 1: a render's write is on the path of
 * the request waiting for it, and on a 1.9 MB points tile level 1 took a quarter of level 6's
 * time for a file 4% larger (0.49 vs 0.47 of the plain size). */
#define TQ_CACHE_GZIP_LEVEL 1

/* Writes the tile's path into buf (the .mvt.gz form tq_cache_write writes). Returns 0, or -1
 * when it does not fit. */
int tq_cache_path(const char *cache_dir, const char *tileset, struct tq_tile t, char *buf,
                  size_t bufsize);

/* Atomically writes the tile data[0..len) (len may be 0: an empty tile), creating
 * directories: plain MVT bytes are gzip-compressed into {y}.mvt.gz (bytes that are gzip
 * already are stored as they are); then the other forms ({y}.mvt, {y}.empty) are removed.
 * Returns 0, or -1 with a reason in err. */
int tq_cache_write(const char *cache_dir, const char *tileset, struct tq_tile t, const void *data,
                   size_t len, char *err, size_t errsize);

/* Asked just before a tile's rename(), once its bytes are durable: 0 lets the rename go
 * ahead, anything else abandons the write. A fencing check belongs here, after the slow
 * part (write, fsync), so that nothing but the rename itself follows it. */
typedef int (*tq_cache_fence_fn)(void *arg);

/* tq_cache_write with a fence (NULL: none). Returns 0 written, 1 fenced off (nothing
 * changed in the cache; the temp file is removed), -1 error (err set). */
int tq_cache_write_fenced(const char *cache_dir, const char *tileset, struct tq_tile t,
                          const void *data, size_t len, tq_cache_fence_fn fence, void *fence_arg,
                          char *err, size_t errsize);

/* A tile as read from the cache. */
struct tq_cache_tile {
    char *data;         /* the stored bytes, malloc'd, the caller frees (non-NULL when read) */
    size_t len;         /* 0: an empty tile */
    int gzip;           /* data is one gzip member (else plain MVT: a legacy .mvt file) */
    size_t plain_len;   /* the plain MVT's length (the gzip trailer's, for gzip) */
    uint32_t plain_crc; /* CRC-32 of the plain MVT bytes (the gzip trailer's, for gzip) */
    /* The plain MVT bytes (plain_len of them) when this read inflated a gzip file to check
     * it (the first read of each file does), malloc'd, the caller frees; else NULL. */
    unsigned char *plain;
};

/* The largest plain tile a gzip file may inflate to (a bigger one is broken). */
#define TQ_CACHE_MAX_PLAIN (64u * 1024 * 1024)

/* Reads tile t: {y}.mvt.gz, else the legacy {y}.mvt, else {y}.empty. Returns 1 read (*out
 * filled), 0 not cached, -1 error (err set); *out is zeroed first. A file that fails
 * tq_cache_check is not cached (0): it is logged (event=cache_broken_tile) and removed when
 * it is still the file at that name. */
int tq_cache_read_tile(const char *cache_dir, const char *tileset, struct tq_tile t,
                       struct tq_cache_tile *out, char *err, size_t errsize);

/* tq_cache_read_tile's stored bytes only (gzip, or plain MVT from a legacy file) in a
 * malloc'd buffer the caller frees (*data is non-NULL even for an empty tile). */
int tq_cache_read(const char *cache_dir, const char *tileset, struct tq_tile t, char **data,
                  size_t *len, char *err, size_t errsize);

/* 1 when the tile is cached, 0 when not (a zero-length file is not a cached tile). */
int tq_cache_exists(const char *cache_dir, const char *tileset, struct tq_tile t);

/* Removes the tile (every form: .mvt.gz, legacy .mvt, .empty). Returns 1 removed, 0 was not
 * there, -1 error. */
int tq_cache_remove(const char *cache_dir, const char *tileset, struct tq_tile t);

/* Turns the fsyncs of tq_cache_write and tq_cache_sync_* on (default) or off, for this
 * process (the config's cache_fsync; set once at start). */
void tq_cache_set_fsync(int on);

/* Makes the renames of a batch of tile writes durable: fsyncs each directory
 * {cache_dir}/{tileset}/{z}/{x} of the metatile's columns once (a column directory that does
 * not exist received nothing and is skipped). No-op when fsync is off. Returns 0, or -1 with
 * a reason in err. */
int tq_cache_sync_metatile(const char *cache_dir, const char *tileset, const struct tq_metatile *m,
                           char *err, size_t errsize);

/* The same for the one directory of tile t. */
int tq_cache_sync_tile(const char *cache_dir, const char *tileset, struct tq_tile t, char *err,
                       size_t errsize);

/* fsync() calls this process made through tq_cache (files and directories), for tests. */
unsigned long tq_cache_fsync_count(void);

/* Whether a tile file's bytes data[0..len) are whole. NULL when they are, else why not:
 * - zero-length: never a tile (an empty tile is the .empty marker);
 * - gzip (starts with 1f 8b): the member must be complete, header to trailer (inflated
 *   through a small scratch buffer; CRC and length checked by zlib), with nothing after it;
 * - otherwise plain MVT (protobuf): every top-level field, and every field of each layer
 *   (field 3), must be well formed (a varint key of wire type 0, 1, 2 or 5, its value) and
 *   end inside its message, the last one exactly at its end. A cut falls inside some field
 *   except when it falls exactly between two layers, so almost every truncation is caught;
 *   a cut between layers leaves a shorter but well-formed tile.
 * Returns a static string. */
const char *tq_cache_check(const void *data, size_t len);

#endif

/* tq_cache — see tq_cache.h.
 *
 * A tile write, with fsync on:
 *   gzip the plain MVT (TQ_CACHE_GZIP_LEVEL; not an empty tile, not bytes that are gzip already)
 *   -> mkdir -p {z}/{x} (fsync the parent of each directory created)
 *   -> write .tmp.<host>.<pid>.<random> (a unique name: tq_cache_tmp.h)
 *   -> fsync it (not an empty marker: no data) -> close
 *   -> rename over {y}.mvt.gz|.empty
 *   -> unlink the other forms ({y}.empty|.mvt.gz, and the legacy {y}.mvt)
 * and, once per batch, tq_cache_sync_metatile / tq_cache_sync_tile: fsync each {z}/{x}.
 * A tile read: open {y}.mvt.gz (else the legacy {y}.mvt, else {y}.empty: empty tile) -> read
 *   -> checked before (same device, inode, size, mtime, ctime)? take its length and CRC
 *   -> else tq_cache_check (inflating a gzip member yields its length and CRC; a plain file's
 *      CRC is computed) and remember the file
 *   -> broken: rename it aside, unlink it if it is the file we read (else put it back).
 * Order of the forms: a write renames the new form in before it unlinks the old ones, so a
 * reader meanwhile finds the new tile or the old one, never none.
 * Not thread-safe: the fsync switch, the counter and the checked-files table are per
 * process. */
#include "tq_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "tq_cache_tmp.h"
#include "tq_gzip.h"
#include "tq_log.h"
#include "tq_map.h"

/* Names drawn before a write gives up on EEXIST (64 random bits each: a second draw already
 * means someone planted names on purpose). */
#define TMP_NAME_TRIES 8

#define SUFFIX_GZ ".mvt.gz"
#define SUFFIX_PLAIN ".mvt" /* the legacy form: plain MVT */
#define SUFFIX_EMPTY ".empty"

static int g_fsync = 1;
static unsigned long g_fsyncs;

void tq_cache_set_fsync(int on)
{
    g_fsync = on != 0;
}

unsigned long tq_cache_fsync_count(void)
{
    return g_fsyncs;
}

static int counted_fsync(int fd)
{
    g_fsyncs++;
    return fsync(fd);
}

/* fsyncs directory dir (when fsync is on). A directory that is not there is skipped when
 * missing_ok. Returns 0, or -1 with errno set. */
static int sync_dir(const char *dir, int missing_ok)
{
    if (!g_fsync)
        return 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return (missing_ok && errno == ENOENT) ? 0 : -1;
    /* EINVAL: a file system that cannot sync directories; nothing more to do there. */
    int rc = counted_fsync(fd) == 0 || errno == EINVAL ? 0 : -1;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int path_with_suffix(const char *cache_dir, const char *tileset, struct tq_tile t,
                            const char *suffix, char *buf, size_t bufsize)
{
    int n = snprintf(buf, bufsize, "%s/%s/%d/%u/%u%s", cache_dir, tileset, t.z, t.x, t.y, suffix);
    return (n < 0 || (size_t)n >= bufsize) ? -1 : 0;
}

int tq_cache_path(const char *cache_dir, const char *tileset, struct tq_tile t, char *buf,
                  size_t bufsize)
{
    return path_with_suffix(cache_dir, tileset, t, SUFFIX_GZ, buf, bufsize);
}

/* unlink() that treats "not there" as success. */
static int unlink_if_present(const char *path)
{
    return (unlink(path) == 0 || errno == ENOENT || errno == ENOTDIR) ? 0 : -1;
}

/* mkdir of tmp; when it created the directory, fsyncs its parent (tmp up to the last '/')
 * so the new entry survives a crash. Returns 0 (created or already there), or -1. */
static int make_dir_durable(char *tmp)
{
    if (mkdir(tmp, 0755) != 0)
        return errno == EEXIST ? 0 : -1;
    char *slash = strrchr(tmp, '/');
    if (slash == NULL || slash == tmp)
        return sync_dir(slash == tmp ? "/" : ".", 0);
    *slash = '\0';
    int rc = sync_dir(tmp, 0);
    *slash = '/';
    return rc;
}

/* mkdir -p of the directory part of path (everything before the last '/'). */
static int make_parent_dirs(const char *path)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, path, len + 1);
    char *slash = strrchr(tmp, '/');
    if (slash == NULL)
        return 0;
    *slash = '\0';
    struct stat st;
    if (stat(tmp, &st) == 0 && S_ISDIR(st.st_mode))
        return 0; /* the usual case: the tile's directory is there */
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = make_dir_durable(tmp);
        *p = '/';
        if (rc != 0)
            return -1;
    }
    return make_dir_durable(tmp);
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tq_cache_write(const char *cache_dir, const char *tileset, struct tq_tile t, const void *data,
                   size_t len, char *err, size_t errsize)
{
    return tq_cache_write_fenced(cache_dir, tileset, t, data, len, NULL, NULL, err, errsize);
}

int tq_cache_write_fenced(const char *cache_dir, const char *tileset, struct tq_tile t,
                          const void *data, size_t len, tq_cache_fence_fn fence, void *fence_arg,
                          char *err, size_t errsize)
{
    char path[4096], other[4096], legacy[4096], tmp[4200];
    unsigned char *gz = NULL;
    int fd = -1, rc = -1, created = 0;

    if (path_with_suffix(cache_dir, tileset, t, len ? SUFFIX_GZ : SUFFIX_EMPTY, path,
                         sizeof path) != 0 ||
        path_with_suffix(cache_dir, tileset, t, len ? SUFFIX_EMPTY : SUFFIX_GZ, other,
                         sizeof other) != 0 ||
        path_with_suffix(cache_dir, tileset, t, SUFFIX_PLAIN, legacy, sizeof legacy) != 0) {
        snprintf(err, errsize, "cache path too long");
        goto cleanup;
    }
    if (len > 0 && !tq_gzip_is(data, len)) {
        size_t gzlen;
        if (tq_gzip_compress_level(data, len, TQ_CACHE_GZIP_LEVEL, &gz, &gzlen) != 0) {
            snprintf(err, errsize, "gzip of a %zu-byte tile failed", len);
            goto cleanup;
        }
        data = gz;
        len = gzlen;
    }
    if (make_parent_dirs(path) != 0) {
        snprintf(err, errsize, "mkdir for %s: %s", path, strerror(errno));
        goto cleanup;
    }
    /* A unique name (tq_cache_tmp.h); EEXIST: the name is someone else's file, left alone,
     * and another name is drawn. Only a file this call created is ever removed. */
    const char *slash = strrchr(path, '/');
    for (int tries = 0; fd < 0 && tries < TMP_NAME_TRIES; tries++) {
        if (tq_cache_tmp_name(path, (size_t)(slash - path), "", tmp, sizeof tmp) != 0) {
            snprintf(err, errsize, "cache path too long");
            goto cleanup;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        snprintf(err, errsize, "open %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    created = 1;
    if (write_all(fd, data, len) != 0) {
        snprintf(err, errsize, "write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    /* Durable before visible: the name must never point at data still in the page cache.
     * An empty tile's marker has no data: its creation and rename are metadata, made
     * durable in order by the directory's fsync (tq_cache_sync_*). */
    if (g_fsync && len > 0 && counted_fsync(fd) != 0) {
        snprintf(err, errsize, "fsync %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errsize, "close %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (fence && fence(fence_arg) != 0) {
        rc = 1;
        goto cleanup;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errsize, "rename %s: %s", path, strerror(errno));
        goto cleanup;
    }
    created = 0; /* it is the tile now */
    /* The tile changed between empty and not, or was in the legacy form: drop the old forms
     * (the new one is in place, so a reader sees the new tile, or for a moment both, never
     * neither). */
    if (unlink_if_present(other) != 0 || unlink_if_present(legacy) != 0) {
        snprintf(err, errsize, "unlink the old form of %s: %s", path, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && created)
        unlink(tmp);
    free(gz);
    return rc;
}

/* ---- checking what was read ---------------------------------------------------------- */

/* Reads a varint at *p (before end) into *v. Returns 0, or -1 when it runs past end or
 * is longer than 10 bytes. */
static inline int pb_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    const unsigned char *q = *p;
    if (q < end && *q < 0x80) { /* the usual one-byte key or length */
        *v = *q;
        *p = q + 1;
        return 0;
    }
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (q >= end)
            return -1;
        unsigned char b = *q++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            *p = q;
            return 0;
        }
    }
    return -1;
}

/* Walks the fields of one protobuf message [p, end). When layer_field is not 0, the
 * length-delimited fields with that number are walked too (as messages without nesting).
 * Returns 0 when every field is well formed and the last ends exactly at end, else -1. */
static int pb_walk(const unsigned char *p, const unsigned char *end, uint64_t layer_field)
{
    while (p < end) {
        uint64_t key, v;
        if (pb_varint(&p, end, &key) != 0 || (key >> 3) == 0)
            return -1;
        switch (key & 7) {
        case 0:
            if (pb_varint(&p, end, &v) != 0)
                return -1;
            break;
        case 1: /* fixed64 */
        case 5: /* fixed32 */
            if (end - p < ((key & 7) == 1 ? 8 : 4))
                return -1;
            p += (key & 7) == 1 ? 8 : 4;
            break;
        case 2:
            if (pb_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p))
                return -1;
            if (layer_field != 0 && (key >> 3) == layer_field && pb_walk(p, p + v, 0) != 0)
                return -1;
            p += v;
            break;
        default: /* groups (3, 4) are not in MVT; 6 and 7 do not exist */
            return -1;
        }
    }
    return 0;
}

/* 0 when data is one complete gzip member (the header, the deflate stream and the
 * trailer's CRC-32 and length check out) and nothing follows it, else -1. On 0, the inflated
 * length and CRC-32 go into *plain_len and *crc when those are not NULL, and the inflated
 * bytes into *plain (malloc'd, the caller frees) when plain is not NULL. */
static int gzip_complete(const unsigned char *data, size_t len, size_t *plain_len, uint32_t *crc,
                         unsigned char **plain)
{
    unsigned char *out = NULL;
    size_t outlen = 0;
    if (tq_gzip_member(data, len, TQ_CACHE_MAX_PLAIN, &out, &outlen, crc) != 0)
        return -1;
    if (plain_len)
        *plain_len = outlen;
    if (plain)
        *plain = out;
    else
        free(out);
    return 0;
}

#define MVT_TILE_LAYERS 3 /* Tile.layers */

const char *tq_cache_check(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len == 0)
        return "zero-length tile file";
    if (tq_gzip_is(p, len))
        return gzip_complete(p, len, NULL, NULL, NULL) == 0 ? NULL : "incomplete gzip member";
    return pb_walk(p, p + len, MVT_TILE_LAYERS) == 0 ? NULL : "truncated or malformed MVT";
}

/* The broken file seen (fstat of what was read) is at path: takes it away, but only that
 * file. It is renamed aside first (atomic: whatever is at path goes); if what went aside is
 * not the file seen, a writer renamed a fresh tile there meanwhile and it is linked back
 * (link() never replaces an even newer one). Returns 1 removed, 0 not (gone or replaced). */
static int remove_broken(const char *path, const struct stat *seen)
{
    char aside[4200];
    struct stat st;
    const char *slash = strrchr(path, '/');
    int removed = 0;

    /* rename() replaces what is at aside: the name must be unique (tq_cache_tmp_name). */
    if (tq_cache_tmp_name(slash ? path : ".", slash ? (size_t)(slash - path) : 1, "broken.", aside,
                          sizeof aside) != 0 ||
        rename(path, aside) != 0)
        return 0;
    if (lstat(aside, &st) == 0 && st.st_dev == seen->st_dev && st.st_ino == seen->st_ino)
        removed = 1;
    else if (link(aside, path) != 0 && errno != EEXIST)
        tq_log_warn("cache_relink_failed", "path=%s error=%s", path, strerror(errno));
    unlink(aside);
    return removed;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* A file that passed tq_cache_check, by identity: these fields (zeroed before filling:
 * tq_map compares bytes) followed by the path, so an inode number reused by another tile's
 * file is another key; and what the check found. */
struct checked_key {
    uint64_t dev, ino, size;
    int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
};

struct checked_val {
    uint64_t plain_len;
    uint32_t plain_crc;
};

static struct tq_map *g_checked; /* checked_key + path -> checked_val; NULL until the first */

#define CHECKED_KEY_MAX (sizeof(struct checked_key) + 4096)

/* Writes the key of the file at path (identity in st) into buf (CHECKED_KEY_MAX bytes).
 * Returns its length, or 0 when the path does not fit (not remembered then). */
static size_t checked_key_of(const char *path, const struct stat *st, unsigned char *buf)
{
    struct checked_key kk, *k = &kk;
    size_t plen = strlen(path);

    if (sizeof kk + plen > CHECKED_KEY_MAX)
        return 0;
    memset(k, 0, sizeof *k);
    k->dev = (uint64_t)st->st_dev;
    k->ino = (uint64_t)st->st_ino;
    k->size = (uint64_t)st->st_size;
    k->mtime_s = (int64_t)st->st_mtim.tv_sec;
    k->mtime_ns = (int64_t)st->st_mtim.tv_nsec;
    k->ctime_s = (int64_t)st->st_ctim.tv_sec;
    k->ctime_ns = (int64_t)st->st_ctim.tv_nsec;
    memcpy(buf, k, sizeof *k);
    memcpy(buf + sizeof *k, path, plen);
    return sizeof *k + plen;
}

/* Remembers a checked file. Out of memory only costs a check next time. */
static void checked_put(const unsigned char *key, size_t klen, size_t plain_len, uint32_t crc)
{
    if (klen == 0)
        return;
    if (g_checked == NULL)
        g_checked = tq_map_new(0, sizeof(struct checked_val));
    if (g_checked == NULL)
        return;
    if (tq_map_count(g_checked) >= TQ_CACHE_CHECKED_MAX)
        tq_map_clear(g_checked); /* bounded: the hot tiles come back at once */
    struct checked_val *v = tq_map_put(g_checked, key, klen, NULL);
    if (v) {
        v->plain_len = plain_len;
        v->plain_crc = crc;
    }
}

/* Checks the bytes read from the file at path (identity in st) and finds the plain length
 * and CRC: from the table when this file was checked before, else by tq_cache_check's walk
 * (for gzip, an inflation whose bytes go into *plain: the reader need not inflate again).
 * NULL when whole (*plain_len, *crc set), else why not. */
static const char *check_read(const char *path, const struct stat *st, const char *data, size_t len,
                              int gzip, size_t *plain_len, uint32_t *crc, unsigned char **plain)
{
    unsigned char key[CHECKED_KEY_MAX];
    size_t klen = checked_key_of(path, st, key);
    const struct checked_val *v;
    const char *why;

    if (g_checked && klen && (v = tq_map_get(g_checked, key, klen)) != NULL) {
        *plain_len = (size_t)v->plain_len;
        *crc = v->plain_crc;
        return NULL;
    }
    if (gzip) {
        why = len == 0 ? "zero-length tile file"
              : gzip_complete((const unsigned char *)data, len, plain_len, crc, plain) == 0
                  ? NULL
                  : "incomplete gzip member";
    } else {
        why = tq_cache_check(data, len);
        *plain_len = len;
        *crc = why ? 0 : (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)data, (uInt)len);
    }
    if (why == NULL)
        checked_put(key, klen, *plain_len, *crc);
    return why;
}

/* Opens the first form of tile t there is: .mvt.gz (*gzip = 1), the legacy .mvt (*gzip = 0,
 * though its bytes may be gzip too: they decide), into path. Returns the fd, -2 when neither
 * is there (*empty = 1 when the .empty marker is), -1 error (errno set). */
static int open_tile(const char *cache_dir, const char *tileset, struct tq_tile t, char *path,
                     size_t pathsize, int *empty)
{
    static const char *const suffixes[] = {SUFFIX_GZ, SUFFIX_PLAIN};
    *empty = 0;
    for (size_t i = 0; i < 2; i++) {
        if (path_with_suffix(cache_dir, tileset, t, suffixes[i], path, pathsize) != 0) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 || (errno != ENOENT && errno != ENOTDIR))
            return fd;
    }
    if (path_with_suffix(cache_dir, tileset, t, SUFFIX_EMPTY, path, pathsize) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    *empty = access(path, F_OK) == 0;
    return -2;
}

int tq_cache_read_tile(const char *cache_dir, const char *tileset, struct tq_tile t,
                       struct tq_cache_tile *out, char *err, size_t errsize)
{
    char path[4096];
    struct stat st;
    int fd, empty, rc = -1;
    char *buf = NULL;

    memset(out, 0, sizeof *out);
    fd = open_tile(cache_dir, tileset, t, path, sizeof path, &empty);
    if (fd == -2 && empty) {
        out->data = malloc(1);
        if (out->data == NULL) {
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
        out->plain_crc = 0; /* CRC-32 of nothing */
        rc = 1;
        goto cleanup;
    }
    if (fd == -2) {
        rc = 0;
        goto cleanup;
    }
    if (fd < 0) {
        if (errno == ENAMETOOLONG)
            snprintf(err, errsize, "cache path too long");
        else
            snprintf(err, errsize, "open %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errsize, "%s is not a regular file", path);
        goto cleanup;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errsize, "read %s: %s", path, n < 0 ? strerror(errno) : "short read");
            goto cleanup;
        }
        got += (size_t)n;
    }
    /* The bytes decide (a legacy .mvt may hold gzip, a .mvt.gz that is not gzip is broken). */
    int gzip = tq_gzip_is(buf, got) || (got > 0 && strcmp(path + strlen(path) - 3, ".gz") == 0);
    const char *why =
        check_read(path, &st, buf, got, gzip, &out->plain_len, &out->plain_crc, &out->plain);
    if (why != NULL) {
        char qp[600], qw[100];
        int removed = remove_broken(path, &st);
        tq_log_warn("cache_broken_tile", "path=%s bytes=%zu reason=%s removed=%d",
                    tq_log_quote(path, qp, sizeof qp), got, tq_log_quote(why, qw, sizeof qw),
                    removed);
        rc = 0;
        goto cleanup;
    }
    out->data = buf;
    out->len = got;
    out->gzip = gzip;
    buf = NULL;
    rc = 1;
cleanup:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

int tq_cache_read(const char *cache_dir, const char *tileset, struct tq_tile t, char **data,
                  size_t *len, char *err, size_t errsize)
{
    struct tq_cache_tile tile;
    int rc = tq_cache_read_tile(cache_dir, tileset, t, &tile, err, errsize);
    free(tile.plain);
    *data = tile.data;
    *len = tile.len;
    return rc;
}

int tq_cache_exists(const char *cache_dir, const char *tileset, struct tq_tile t)
{
    static const char *const suffixes[] = {SUFFIX_GZ, SUFFIX_PLAIN, SUFFIX_EMPTY};
    char path[4096];
    struct stat st;

    for (size_t i = 0; i < 3; i++) {
        if (path_with_suffix(cache_dir, tileset, t, suffixes[i], path, sizeof path) != 0)
            return 0;
        /* a zero-length tile file is broken, not cached; the marker is zero-length */
        if (stat(path, &st) == 0 && (st.st_size > 0 || i == 2))
            return 1;
    }
    return 0;
}

/* ---- durability of a batch ---------------------------------------------------------------- */

int tq_cache_sync_metatile(const char *cache_dir, const char *tileset, const struct tq_metatile *m,
                           char *err, size_t errsize)
{
    char dir[4096];
    uint32_t w = m->w ? m->w : 1;

    if (!g_fsync)
        return 0;
    for (uint32_t i = 0; i < w; i++) {
        int n = snprintf(dir, sizeof dir, "%s/%s/%d/%u", cache_dir, tileset, m->z, m->mx + i);
        if (n < 0 || (size_t)n >= sizeof dir) {
            snprintf(err, errsize, "cache path too long");
            return -1;
        }
        if (sync_dir(dir, 1) != 0) {
            snprintf(err, errsize, "fsync %s: %s", dir, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int tq_cache_sync_tile(const char *cache_dir, const char *tileset, struct tq_tile t, char *err,
                       size_t errsize)
{
    struct tq_metatile m = {t.z, t.x, t.y, 1, 1};
    return tq_cache_sync_metatile(cache_dir, tileset, &m, err, errsize);
}

int tq_cache_remove(const char *cache_dir, const char *tileset, struct tq_tile t)
{
    static const char *const suffixes[] = {SUFFIX_GZ, SUFFIX_PLAIN, SUFFIX_EMPTY};
    char path[4096];
    int removed = 0;

    for (size_t i = 0; i < 3; i++) {
        if (path_with_suffix(cache_dir, tileset, t, suffixes[i], path, sizeof path) != 0)
            return -1;
        if (unlink(path) == 0)
            removed = 1;
        else if (errno != ENOENT && errno != ENOTDIR)
            return -1;
    }
    return removed;
}

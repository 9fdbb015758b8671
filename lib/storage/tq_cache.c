/* tq_cache — see tq_cache.h.
 *
 * A tile write, with fsync on:
 *   mkdir -p {z}/{x} (fsync the parent of each directory created)
 *   -> write .tmp.<host>.<pid>.<random> (a unique name: tq_cache_tmp.h)
 *   -> fsync it (not an empty marker: no data) -> close
 *   -> rename over {y}.mvt|.empty
 *   -> unlink the other form
 * and, once per batch, tq_cache_sync_metatile / tq_cache_sync_tile: fsync each {z}/{x}.
 * A tile read: open {y}.mvt (else {y}.empty: empty tile) -> read -> tq_cache_check
 *   -> broken: rename it aside, unlink it if it is the file we read (else put it back).
 * Not thread-safe: the fsync switch and counter are per process. */
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

/* Names drawn before a write gives up on EEXIST (64 random bits each: a second draw already
 * means someone planted names on purpose). */
#define TMP_NAME_TRIES 8

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
    return path_with_suffix(cache_dir, tileset, t, ".mvt", buf, bufsize);
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
    char path[4096], other[4096], tmp[4200];
    int fd = -1, rc = -1, created = 0;

    if (path_with_suffix(cache_dir, tileset, t, len ? ".mvt" : ".empty", path, sizeof path) != 0 ||
        path_with_suffix(cache_dir, tileset, t, len ? ".empty" : ".mvt", other, sizeof other) !=
            0) {
        snprintf(err, errsize, "cache path too long");
        goto cleanup;
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
    /* The tile changed between empty and not: drop the old form (the new one is in place, so a
     * reader sees the new tile, or for a moment both, never neither). */
    if (unlink_if_present(other) != 0) {
        snprintf(err, errsize, "unlink %s: %s", other, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && created)
        unlink(tmp);
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

/* 0 when data is one complete gzip member (zlib checks the header, the deflate stream and
 * the trailer's CRC-32 and length) and nothing follows it, else -1. */
static int gzip_complete(const unsigned char *data, size_t len)
{
    unsigned char scratch[16384];
    z_stream zs;
    int zrc;

    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return -1;
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    do {
        zs.next_out = scratch;
        zs.avail_out = sizeof scratch;
        zrc = inflate(&zs, Z_NO_FLUSH);
    } while (zrc == Z_OK);
    int ok = zrc == Z_STREAM_END && zs.avail_in == 0;
    inflateEnd(&zs);
    return ok ? 0 : -1;
}

#define MVT_TILE_LAYERS 3 /* Tile.layers */

const char *tq_cache_check(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len == 0)
        return "zero-length tile file";
    if (tq_gzip_is(p, len))
        return gzip_complete(p, len) == 0 ? NULL : "incomplete gzip member";
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

int tq_cache_read(const char *cache_dir, const char *tileset, struct tq_tile t, char **data,
                  size_t *len, char *err, size_t errsize)
{
    char path[4096];
    struct stat st;
    int fd = -1, rc = -1;
    char *buf = NULL;

    *data = NULL;
    *len = 0;
    if (tq_cache_path(cache_dir, tileset, t, path, sizeof path) != 0) {
        snprintf(err, errsize, "cache path too long");
        goto cleanup;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
        char empty[4096];
        if (path_with_suffix(cache_dir, tileset, t, ".empty", empty, sizeof empty) == 0 &&
            access(empty, F_OK) == 0) {
            *data = malloc(1);
            if (*data == NULL) {
                snprintf(err, errsize, "out of memory");
                goto cleanup;
            }
            rc = 1;
            goto cleanup;
        }
    }
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            rc = 0;
        } else {
            snprintf(err, errsize, "open %s: %s", path, strerror(errno));
        }
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
    const char *why = tq_cache_check(buf, got);
    if (why != NULL) {
        char qp[600], qw[100];
        int removed = remove_broken(path, &st);
        tq_log_warn("cache_broken_tile", "path=%s bytes=%zu reason=%s removed=%d",
                    tq_log_quote(path, qp, sizeof qp), got, tq_log_quote(why, qw, sizeof qw),
                    removed);
        rc = 0;
        goto cleanup;
    }
    *data = buf;
    *len = got;
    buf = NULL;
    rc = 1;
cleanup:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

int tq_cache_exists(const char *cache_dir, const char *tileset, struct tq_tile t)
{
    char path[4096], empty[4096];
    struct stat st;
    if (tq_cache_path(cache_dir, tileset, t, path, sizeof path) != 0 ||
        path_with_suffix(cache_dir, tileset, t, ".empty", empty, sizeof empty) != 0)
        return 0;
    return (stat(path, &st) == 0 && st.st_size > 0) || access(empty, F_OK) == 0;
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
    char path[4096], empty[4096];
    int removed = 0;
    if (tq_cache_path(cache_dir, tileset, t, path, sizeof path) != 0 ||
        path_with_suffix(cache_dir, tileset, t, ".empty", empty, sizeof empty) != 0)
        return -1;
    if (unlink(path) == 0)
        removed = 1;
    else if (errno != ENOENT && errno != ENOTDIR)
        return -1;
    if (unlink(empty) == 0)
        removed = 1;
    else if (errno != ENOENT && errno != ENOTDIR)
        return -1;
    return removed;
}

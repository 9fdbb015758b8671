/* tq_pmtiles — see tq_pmtiles.h.
 *
 * Writing an archive:
 *   tq_pmtiles_open        -> temp files: tile data, entries, leaves (unlinked at once)
 *   tq_pmtiles_add  (×N)   -> new content: gzip, append to data, index it (tq_dedup)
 *                             entry: extends the pending run or flushes it to the entries file
 *   tq_pmtiles_finish      -> directories from the entries file (root only, or root + leaves)
 *                          -> PATH.partial: header, root, metadata, leaves, data; fsync;
 *                             rename over PATH; fsync the directory */
#define _GNU_SOURCE /* copy_file_range */
#include "tq_pmtiles.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tq_gzip.h"

#define MIN_LEAF_ENTRIES 4096
/* A root of fewer entries than this is tried first as the whole directory (go-pmtiles). */
#define ROOT_ONLY_TRY 16384
#define COMPRESSION_GZIP 2
#define TILE_TYPE_MVT 1

/* ---- tile ids ---------------------------------------------------------------------------- */

/* Tiles of zooms below z: (4^z - 1) / 3. */
static uint64_t zoom_base(int z)
{
    return (((uint64_t)1 << (2 * z)) - 1) / 3;
}

/* The Hilbert curve's rotation of a quadrant of side n (the spec's reference code). */
static void rotate(uint64_t n, uint64_t *x, uint64_t *y, uint64_t rx, uint64_t ry)
{
    if (ry == 0) {
        if (rx == 1) {
            *x = n - 1 - *x;
            *y = n - 1 - *y;
        }
        uint64_t t = *x;
        *x = *y;
        *y = t;
    }
}

/* Position of (x, y) on zoom z's curve. */
static uint64_t hilbert_d(int z, uint64_t x, uint64_t y)
{
    uint64_t d = 0;
    for (uint64_t s = z > 0 ? (uint64_t)1 << (z - 1) : 0; s > 0; s >>= 1) {
        uint64_t rx = (x & s) ? 1 : 0, ry = (y & s) ? 1 : 0;
        d += s * s * ((3 * rx) ^ ry);
        rotate(s, &x, &y, rx, ry);
    }
    return d;
}

/* The tile at position d of zoom z's curve. */
static void hilbert_xy(int z, uint64_t d, uint64_t *x, uint64_t *y)
{
    uint64_t t = d, n = (uint64_t)1 << z;
    *x = *y = 0;
    for (uint64_t s = 1; s < n; s <<= 1) {
        uint64_t rx = 1 & (t / 2), ry = 1 & (t ^ rx);
        rotate(s, x, y, rx, ry);
        *x += s * rx;
        *y += s * ry;
        t /= 4;
    }
}

uint64_t tq_pmtiles_tile_id(int z, uint32_t x, uint32_t y)
{
    return zoom_base(z) + hilbert_d(z, x, y);
}

struct tq_tile tq_pmtiles_tile_of_id(uint64_t id)
{
    struct tq_tile t = {0, 0, 0};
    int z = 0;
    while (z < 31 && zoom_base(z + 1) <= id)
        z++;
    uint64_t x, y;
    hilbert_xy(z, id - zoom_base(z), &x, &y);
    t.z = z;
    t.x = (uint32_t)x;
    t.y = (uint32_t)y;
    return t;
}

/* Does node pos of level k (a square of 2^(z-k) tiles a side at zoom z) meet the range? */
static int node_meets(const struct tq_tile_range *r, int k, uint64_t pos)
{
    uint64_t cx, cy;
    hilbert_xy(k, pos, &cx, &cy);
    int shift = r->z - k;
    uint64_t x0 = cx << shift, y0 = cy << shift, side = (uint64_t)1 << shift;
    return x0 <= r->xmax && x0 + side > r->xmin && y0 <= r->ymax && y0 + side > r->ymin;
}

void tq_hilbert_iter_init(struct tq_hilbert_iter *it, const struct tq_tile_range *r)
{
    memset(it, 0, sizeof *it);
    it->r = *r;
    /* The root (level 0) covers the whole grid: it meets every valid range. */
    it->depth = r->xmin <= r->xmax && r->ymin <= r->ymax ? 0 : -1;
}

int tq_hilbert_iter_next(struct tq_hilbert_iter *it, struct tq_tile *t, uint64_t *id)
{
    while (it->depth >= 0) {
        int k = it->depth;
        if (k == it->r.z) { /* a tile of the range: give it, go back up */
            uint64_t x, y;
            hilbert_xy(k, it->pos[k], &x, &y);
            t->z = k;
            t->x = (uint32_t)x;
            t->y = (uint32_t)y;
            *id = zoom_base(k) + it->pos[k];
            it->depth--;
            return 1;
        }
        if (it->next[k] == 4) {
            it->depth--;
            continue;
        }
        uint64_t child = it->pos[k] * 4 + it->next[k]++;
        if (node_meets(&it->r, k + 1, child)) {
            it->depth = k + 1;
            it->pos[k + 1] = child;
            it->next[k + 1] = 0;
        }
    }
    return 0;
}

/* ---- directories --------------------------------------------------------------------------- */

static int put_varint(struct tq_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    return tq_buf_append(b, tmp, n);
}

int tq_pmtiles_dir_serialize(const struct tq_pmtiles_entry *e, size_t n, struct tq_buf *out)
{
    put_varint(out, n);
    uint64_t last = 0;
    for (size_t i = 0; i < n; i++) {
        put_varint(out, e[i].tile_id - last);
        last = e[i].tile_id;
    }
    for (size_t i = 0; i < n; i++)
        put_varint(out, e[i].run_length);
    for (size_t i = 0; i < n; i++)
        put_varint(out, e[i].length);
    for (size_t i = 0; i < n; i++) {
        /* 0: right after the previous entry's bytes; else the offset + 1. */
        if (i > 0 && e[i].offset == e[i - 1].offset + e[i - 1].length)
            put_varint(out, 0);
        else
            put_varint(out, e[i].offset + 1);
    }
    return tq_buf_failed(out) ? -1 : 0;
}

/* The gzip-compressed serialization of entries into *out (malloc'd, the caller frees). */
static int dir_encode(const struct tq_pmtiles_entry *e, size_t n, unsigned char **out,
                      size_t *outlen)
{
    struct tq_buf b = TQ_BUF_INIT;
    int rc = -1;
    *out = NULL;
    if (tq_pmtiles_dir_serialize(e, n, &b) != 0)
        goto cleanup;
    rc = tq_gzip_compress(b.data, b.len, out, outlen);
cleanup:
    tq_buf_free(&b);
    return rc;
}

/* ---- the writer ------------------------------------------------------------------------------ */

struct tq_pmtiles {
    char *path, *partial; /* the archive, and where it is built */
    int data_fd;          /* tile data, in order of first appearance */
    FILE *entries;        /* flushed directory entries (struct tq_pmtiles_entry) */
    int leaves_fd;        /* leaf directories, while finishing */
    struct tq_dedup *dedup;
    struct tq_pmtiles_entry pending; /* the run being extended */
    int has_pending;
    uint64_t last_id;
    int has_last;
    struct tq_pmtiles_stats st;
    size_t root_max, min_leaf;
    char *err;
    size_t errsize;
};

static int fail(char *err, size_t errsize, const char *what, const char *path)
{
    snprintf(err, errsize, "%s %s: %s", what, path, strerror(errno));
    return -1;
}

/* A temp file in dir, unlinked at once: it lives until closed. -1 with err set. */
static int temp_fd(const char *path, const char *what, char *err, size_t errsize)
{
    size_t n = strlen(path) + 32;
    char *tmpl = malloc(n);
    if (tmpl == NULL) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    snprintf(tmpl, n, "%s.%s.XXXXXX", path, what);
    int fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0)
        fail(err, errsize, "cannot create a temp file", tmpl);
    else
        unlink(tmpl);
    free(tmpl);
    return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int pread_all(int fd, void *p, size_t n, uint64_t off)
{
    unsigned char *c = p;
    while (n > 0) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* tq_dedup's check: reads the stored tile back. ref->a offset, ref->b length. */
static int stored_same(void *arg, const struct tq_dedup_ref *ref, const void *data, size_t len)
{
    struct tq_pmtiles *w = arg;
    unsigned char *buf = malloc(ref->b ? ref->b : 1);
    int rc = -1;
    if (buf == NULL) {
        snprintf(w->err, w->errsize, "out of memory");
        goto cleanup;
    }
    if (pread_all(w->data_fd, buf, ref->b, ref->a) != 0) {
        snprintf(w->err, w->errsize, "reading back tile data: %s", strerror(errno));
        goto cleanup;
    }
    rc = tq_archive_same_content(data, len, buf, ref->b);
cleanup:
    free(buf);
    return rc;
}

struct tq_pmtiles *tq_pmtiles_open(const char *path, char *err, size_t errsize)
{
    struct tq_pmtiles *w = calloc(1, sizeof *w);
    int efd = -1;
    if (w == NULL)
        goto oom;
    w->data_fd = w->leaves_fd = -1;
    w->root_max = TQ_PMTILES_ROOT_MAX;
    w->min_leaf = MIN_LEAF_ENTRIES;
    w->path = strdup(path);
    w->partial = malloc(strlen(path) + sizeof ".partial");
    w->dedup = tq_dedup_new(stored_same, w);
    if (w->path == NULL || w->partial == NULL || w->dedup == NULL)
        goto oom;
    sprintf(w->partial, "%s.partial", path);
    w->data_fd = temp_fd(path, "data", err, errsize);
    if (w->data_fd < 0)
        goto error;
    efd = temp_fd(path, "entries", err, errsize);
    if (efd < 0)
        goto error;
    w->entries = fdopen(efd, "w+");
    if (w->entries == NULL) {
        close(efd);
        goto oom;
    }
    return w;
oom:
    snprintf(err, errsize, "out of memory");
error:
    tq_pmtiles_free(w);
    return NULL;
}

void tq_pmtiles_set_dir_limits(struct tq_pmtiles *w, size_t root_max, size_t min_leaf)
{
    w->root_max = root_max;
    w->min_leaf = min_leaf;
}

static int flush_pending(struct tq_pmtiles *w)
{
    if (!w->has_pending)
        return 0;
    if (fwrite(&w->pending, sizeof w->pending, 1, w->entries) != 1) {
        snprintf(w->err, w->errsize, "writing entries: %s", strerror(errno));
        return -1;
    }
    w->st.entries++;
    w->has_pending = 0;
    return 0;
}

int tq_pmtiles_add(struct tq_pmtiles *w, uint64_t id, const void *data, size_t len, char *err,
                   size_t errsize)
{
    struct tq_dedup_ref ref;
    unsigned char *gz = NULL;
    int rc = -1;

    w->err = err;
    w->errsize = errsize;
    err[0] = '\0';
    if (w->has_last && id <= w->last_id) {
        snprintf(err, errsize, "tile id %llu added after %llu (ids must ascend)",
                 (unsigned long long)id, (unsigned long long)w->last_id);
        return -1;
    }
    w->last_id = id;
    w->has_last = 1;
    if (len == 0) {
        w->st.empty++;
        return 0;
    }
    const void *bytes = NULL;
    size_t n = 0;
    int found = tq_dedup_lookup(w->dedup, data, len, &ref, &bytes, &n, &gz, err, errsize);
    if (found < 0)
        goto cleanup;
    if (!found) {
        if (n > UINT32_MAX) {
            snprintf(err, errsize, "tile of %zu bytes is too large", n);
            goto cleanup;
        }
        if (write_all(w->data_fd, bytes, n) != 0) {
            snprintf(err, errsize, "writing tile data: %s", strerror(errno));
            goto cleanup;
        }
        ref.a = w->st.data_bytes;
        ref.b = n;
        w->st.data_bytes += n;
        w->st.contents++;
        if (tq_dedup_insert(w->dedup, &ref) != 0) {
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
    }
    w->st.addressed++;
    if (w->has_pending && w->pending.offset == ref.a &&
        w->pending.tile_id + w->pending.run_length == id && w->pending.run_length < UINT32_MAX) {
        w->pending.run_length++;
    } else {
        if (flush_pending(w) != 0)
            goto cleanup;
        w->pending.tile_id = id;
        w->pending.offset = ref.a;
        w->pending.length = (uint32_t)ref.b;
        w->pending.run_length = 1;
        w->has_pending = 1;
    }
    rc = 0;
cleanup:
    free(gz);
    return rc;
}

/* Reads up to max entries from the entries file. The count read, or -1. */
static long read_entries(struct tq_pmtiles *w, struct tq_pmtiles_entry *e, size_t max)
{
    size_t n = fread(e, sizeof *e, max, w->entries);
    if (n < max && ferror(w->entries)) {
        snprintf(w->err, w->errsize, "reading entries: %s", strerror(errno));
        return -1;
    }
    return (long)n;
}

/* Builds the root directory into *root (gzip) and the leaves into leaves_fd (their length in
 * *leaves_len, 0 when the root holds every entry). */
static int build_dirs(struct tq_pmtiles *w, unsigned char **root, size_t *root_len,
                      uint64_t *leaves_len)
{
    struct tq_pmtiles_entry *chunk = NULL, *roots = NULL;
    unsigned char *leaf = NULL;
    size_t leaf_len, n = (size_t)w->st.entries, root_cap = w->root_max - TQ_PMTILES_HEADER_LEN;
    int rc = -1;

    *root = NULL;
    *leaves_len = 0;
    if (fflush(w->entries) != 0 || fseek(w->entries, 0, SEEK_SET) != 0) {
        snprintf(w->err, w->errsize, "entries file: %s", strerror(errno));
        goto cleanup;
    }
    if (n < ROOT_ONLY_TRY) { /* everything in the root, if it fits */
        chunk = malloc((n ? n : 1) * sizeof *chunk);
        if (chunk == NULL)
            goto oom;
        if (read_entries(w, chunk, n) != (long)n)
            goto short_read;
        if (dir_encode(chunk, n, root, root_len) != 0)
            goto oom;
        if (*root_len <= root_cap) {
            rc = 0;
            goto cleanup;
        }
        free(*root);
        *root = NULL;
        free(chunk);
        chunk = NULL;
    }
    w->leaves_fd = temp_fd(w->path, "leaves", w->err, w->errsize);
    if (w->leaves_fd < 0)
        goto cleanup;
    size_t leaf_size = n / 3500 > w->min_leaf ? n / 3500 : w->min_leaf;
    for (;;) {
        size_t nleaves = (n + leaf_size - 1) / leaf_size, k = 0;
        free(chunk);
        free(roots);
        chunk = malloc(leaf_size * sizeof *chunk);
        roots = malloc(nleaves * sizeof *roots);
        if (chunk == NULL || roots == NULL)
            goto oom;
        if (fseek(w->entries, 0, SEEK_SET) != 0 || ftruncate(w->leaves_fd, 0) != 0 ||
            lseek(w->leaves_fd, 0, SEEK_SET) != 0) {
            snprintf(w->err, w->errsize, "temp files: %s", strerror(errno));
            goto cleanup;
        }
        *leaves_len = 0;
        for (long got; k < nleaves && (got = read_entries(w, chunk, leaf_size)) > 0; k++) {
            if (dir_encode(chunk, (size_t)got, &leaf, &leaf_len) != 0)
                goto oom;
            if (write_all(w->leaves_fd, leaf, leaf_len) != 0) {
                snprintf(w->err, w->errsize, "writing leaves: %s", strerror(errno));
                goto cleanup;
            }
            roots[k].tile_id = chunk[0].tile_id;
            roots[k].offset = *leaves_len;
            roots[k].length = (uint32_t)leaf_len;
            roots[k].run_length = 0;
            *leaves_len += leaf_len;
            free(leaf);
            leaf = NULL;
        }
        if (k != nleaves)
            goto short_read;
        if (dir_encode(roots, nleaves, root, root_len) != 0)
            goto oom;
        if (*root_len <= root_cap) {
            w->st.leaves = nleaves;
            break;
        }
        free(*root);
        *root = NULL;
        leaf_size += leaf_size / 5;
    }
    rc = 0;
    goto cleanup;
short_read:
    snprintf(w->err, w->errsize, "entries file shorter than its %zu entries", n);
    goto cleanup;
oom:
    snprintf(w->err, w->errsize, "out of memory");
cleanup:
    if (rc != 0) {
        free(*root);
        *root = NULL;
    }
    free(leaf);
    free(chunk);
    free(roots);
    return rc;
}

static void le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void le32(unsigned char *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(u >> (8 * i));
}

static int32_t e7(double deg)
{
    return (int32_t)(deg * 10000000.0 + (deg < 0 ? -0.5 : 0.5));
}

static void header_encode(unsigned char h[TQ_PMTILES_HEADER_LEN], const struct tq_archive_info *in,
                          const uint64_t off[8], const struct tq_pmtiles_stats *st)
{
    memset(h, 0, TQ_PMTILES_HEADER_LEN);
    memcpy(h, "PMTiles", 7);
    h[7] = 3;
    for (int i = 0; i < 8; i++) /* root, metadata, leaves, data: offset and length each */
        le64(h + 8 + 8 * i, off[i]);
    le64(h + 72, st->addressed);
    le64(h + 80, st->entries);
    le64(h + 88, st->contents);
    h[96] = 1; /* clustered */
    h[97] = COMPRESSION_GZIP;
    h[98] = COMPRESSION_GZIP;
    h[99] = TILE_TYPE_MVT;
    h[100] = (unsigned char)in->minzoom;
    h[101] = (unsigned char)in->maxzoom;
    le32(h + 102, e7(in->bounds[0]));
    le32(h + 106, e7(in->bounds[1]));
    le32(h + 110, e7(in->bounds[2]));
    le32(h + 114, e7(in->bounds[3]));
    h[118] = (unsigned char)in->center[2];
    le32(h + 119, e7(in->center[0]));
    le32(h + 123, e7(in->center[1]));
}

/* Copies len bytes of from (from its start) to the end of to. */
static int copy_fd(int from, int to, uint64_t len)
{
    off_t in_off = 0;
    while (len > 0) {
        size_t want = len > (1u << 30) ? (1u << 30) : (size_t)len;
        ssize_t n = copy_file_range(from, &in_off, to, NULL, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
            char buf[1 << 16];
            n = pread(from, buf, want < sizeof buf ? want : sizeof buf, in_off);
            if (n > 0 && write_all(to, buf, (size_t)n) != 0)
                return -1;
            if (n > 0)
                in_off += n;
        }
        if (n <= 0)
            return -1;
        len -= (uint64_t)n;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int tq_pmtiles_finish(struct tq_pmtiles *w, const struct tq_archive_info *info, char *err,
                      size_t errsize)
{
    unsigned char *root = NULL, *meta = NULL, header[TQ_PMTILES_HEADER_LEN];
    size_t root_len = 0, meta_len = 0;
    uint64_t leaves_len = 0, off[8];
    int fd = -1, rc = -1;

    w->err = err;
    w->errsize = errsize;
    err[0] = '\0';
    if (flush_pending(w) != 0)
        goto cleanup;
    if (w->st.entries == 0) {
        snprintf(err, errsize, "no tile with data: an archive of empty tiles only");
        goto cleanup;
    }
    if (build_dirs(w, &root, &root_len, &leaves_len) != 0)
        goto cleanup;
    const char *json = info->metadata_json ? info->metadata_json : "{}";
    if (tq_gzip_compress(json, strlen(json), &meta, &meta_len) != 0) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    off[0] = TQ_PMTILES_HEADER_LEN;
    off[1] = root_len;
    off[2] = off[0] + off[1];
    off[3] = meta_len;
    off[4] = off[2] + off[3];
    off[5] = leaves_len;
    off[6] = off[4] + off[5];
    off[7] = w->st.data_bytes;
    header_encode(header, info, off, &w->st);

    fd = open(w->partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fail(err, errsize, "cannot create", w->partial);
        goto cleanup;
    }
    if (write_all(fd, header, sizeof header) != 0 || write_all(fd, root, root_len) != 0 ||
        write_all(fd, meta, meta_len) != 0 ||
        (leaves_len > 0 && copy_fd(w->leaves_fd, fd, leaves_len) != 0) ||
        copy_fd(w->data_fd, fd, w->st.data_bytes) != 0 || fsync(fd) != 0) {
        fail(err, errsize, "writing", w->partial);
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        fail(err, errsize, "writing", w->partial);
        goto cleanup;
    }
    fd = -1;
    if (rename(w->partial, w->path) != 0) {
        fail(err, errsize, "cannot rename to", w->path);
        goto cleanup;
    }
    fsync_dir_of(w->path); /* the rename's durability; the archive is complete either way */
    w->st.file_bytes = off[6] + off[7];
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(w->partial);
    free(root);
    free(meta);
    return rc;
}

void tq_pmtiles_stats(const struct tq_pmtiles *w, struct tq_pmtiles_stats *st)
{
    *st = w->st;
    if (w->has_pending)
        st->entries++;
}

void tq_pmtiles_free(struct tq_pmtiles *w)
{
    if (w == NULL)
        return;
    if (w->data_fd >= 0)
        close(w->data_fd);
    if (w->leaves_fd >= 0)
        close(w->leaves_fd);
    if (w->entries)
        fclose(w->entries);
    tq_dedup_free(w->dedup);
    free(w->path);
    free(w->partial);
    free(w);
}

/* tq_archive — see tq_archive.h. */
#include "tq_archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_gzip.h"
#include "tq_map.h"

/* A distinct tile's key: its content hash, its length, and a salt that tells apart two
 * different contents with the same hash and length (the second one gets salt 1, ...). */
struct dedup_key {
    uint64_t hash;
    uint32_t len;
    uint32_t salt;
};

struct tq_dedup {
    struct tq_map *map; /* dedup_key -> tq_dedup_ref */
    tq_dedup_same_fn same;
    void *arg;
    struct dedup_key pending; /* the free key of the last find that answered 0 */
    int has_pending;
};

/* A 64-bit hash of the bytes, 8 at a time (a multiply-rotate mix, murmur3's finalizer). Not
 * cryptographic: a collision is caught by the same() check, it only costs a read. */
static uint64_t content_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)len;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w *= 0x87c37b91114253d5ull;
        w = (w << 31) | (w >> 33);
        h ^= w * 0x4cf5ad432745937full;
        h = ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < len; k++)
        tail |= (uint64_t)p[i + k] << (8 * k);
    h ^= tail * 0x87c37b91114253d5ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

struct tq_dedup *tq_dedup_new(tq_dedup_same_fn same, void *arg)
{
    struct tq_dedup *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->map = tq_map_new(sizeof(struct dedup_key), sizeof(struct tq_dedup_ref));
    if (d->map == NULL) {
        free(d);
        return NULL;
    }
    d->same = same;
    d->arg = arg;
    return d;
}

void tq_dedup_free(struct tq_dedup *d)
{
    if (d == NULL)
        return;
    tq_map_free(d->map);
    free(d);
}

int tq_dedup_find(struct tq_dedup *d, const void *data, size_t len, struct tq_dedup_ref *ref)
{
    struct dedup_key k;

    d->has_pending = 0;
    if (len > UINT32_MAX)
        return -1;
    memset(&k, 0, sizeof k); /* padding-free, but the map compares bytes: be sure */
    k.hash = content_hash(data, len);
    k.len = (uint32_t)len;
    for (k.salt = 0;; k.salt++) {
        const struct tq_dedup_ref *r = tq_map_get(d->map, &k, sizeof k);
        if (r == NULL)
            break;
        int same = d->same(d->arg, r, data, len);
        if (same < 0)
            return -1;
        if (same) {
            *ref = *r;
            return 1;
        }
    }
    d->pending = k;
    d->has_pending = 1;
    return 0;
}

int tq_dedup_insert(struct tq_dedup *d, const struct tq_dedup_ref *ref)
{
    if (!d->has_pending)
        return -1;
    struct tq_dedup_ref *r = tq_map_put(d->map, &d->pending, sizeof d->pending, NULL);
    if (r == NULL)
        return -1;
    *r = *ref;
    d->has_pending = 0;
    return 0;
}

size_t tq_dedup_count(const struct tq_dedup *d)
{
    return tq_map_count(d->map);
}

int tq_archive_same_content(const void *data, size_t len, const void *stored, size_t stored_len)
{
    if (tq_gzip_is(data, len))
        return len == stored_len && memcmp(data, stored, len) == 0;
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    /* The plain bytes are len long: a stored tile inflating to more is a different tile. */
    if (tq_gzip_decompress(stored, stored_len, len, &plain, &plain_len) != 0) {
        free(plain);
        return 0;
    }
    int same = plain_len == len && memcmp(plain, data, len) == 0;
    free(plain);
    return same;
}

int tq_dedup_lookup(struct tq_dedup *d, const void *data, size_t len, struct tq_dedup_ref *ref,
                    const void **bytes, size_t *n, unsigned char **gz, char *err, size_t errsize)
{
    *gz = NULL;
    int found = tq_dedup_find(d, data, len, ref);
    if (found < 0) {
        if (err[0] == '\0')
            snprintf(err, errsize, "out of memory");
        return -1;
    }
    if (found)
        return 1;
    *bytes = data;
    *n = len;
    if (!tq_gzip_is(data, len)) {
        if (tq_gzip_compress(data, len, gz, n) != 0) {
            snprintf(err, errsize, "gzip of a tile failed");
            return -1;
        }
        *bytes = *gz;
    }
    return 0;
}

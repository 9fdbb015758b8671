/* tq_map — see tq_map.h.
 *
 * The table is one array of cap slots (cap a power of two), each slot_size bytes:
 *   [uint64_t hash][size_t klen][key: key_size bytes, or a pointer to a heap copy][value]
 * hash 0 marks an empty slot, 1 a tombstone (a removed entry: probing goes on past it);
 * real hashes are moved up to 2 and above. The table grows (doubling) or is rebuilt at the
 * same size (dropping tombstones) when live entries plus tombstones would pass 70 %. */
#include "tq_map.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#define HASH_EMPTY 0
#define HASH_TOMB 1
#define MIN_CAP 16

struct tq_map {
    unsigned char *slots;
    size_t cap;   /* 0 until the first insert, then a power of two */
    size_t count; /* live entries */
    size_t used;  /* live entries + tombstones */
    size_t key_size, value_size;
    size_t off_val, slot_size;
};

struct slot_head {
    uint64_t hash;
    size_t klen;
};

#define OFF_KEY sizeof(struct slot_head)

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

/* FNV-1a over the bytes, then a 64-bit finalizer (murmur3's) so that the low bits the
 * table index uses depend on every byte. */
static uint64_t hash_bytes(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < klen; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h < 2 ? h + 2 : h;
}

static struct slot_head *slot_at(const struct tq_map *m, size_t i)
{
    return (struct slot_head *)(void *)(m->slots + i * m->slot_size);
}

static const void *slot_key(const struct tq_map *m, const struct slot_head *s)
{
    const unsigned char *k = (const unsigned char *)s + OFF_KEY;
    if (m->key_size > 0)
        return k;
    const void *p;
    memcpy(&p, k, sizeof p);
    return p;
}

/* The heap copy of a variable-length key (key_size 0). */
static void *slot_key_copy(const struct slot_head *s)
{
    void *p;
    memcpy(&p, (const unsigned char *)s + OFF_KEY, sizeof p);
    return p;
}

static void *slot_value(const struct tq_map *m, struct slot_head *s)
{
    return (unsigned char *)s + m->off_val;
}

struct tq_map *tq_map_new(size_t key_size, size_t value_size)
{
    struct tq_map *m = calloc(1, sizeof *m);
    size_t key_bytes = key_size > 0 ? key_size : sizeof(void *);

    if (m == NULL)
        return NULL;
    m->key_size = key_size;
    m->value_size = value_size;
    m->off_val = align_up(OFF_KEY + key_bytes, alignof(max_align_t));
    m->slot_size = align_up(m->off_val + value_size, alignof(max_align_t));
    return m;
}

static void free_keys(struct tq_map *m)
{
    if (m->key_size > 0)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        struct slot_head *s = slot_at(m, i);
        if (s->hash >= 2)
            free(slot_key_copy(s));
    }
}

void tq_map_free(struct tq_map *m)
{
    if (m == NULL)
        return;
    free_keys(m);
    free(m->slots);
    free(m);
}

void tq_map_clear(struct tq_map *m)
{
    free_keys(m);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = m->used = 0;
}

size_t tq_map_count(const struct tq_map *m)
{
    return m->count;
}

/* The slot holding key, or NULL. */
static struct slot_head *find(const struct tq_map *m, const void *key, size_t klen, uint64_t h)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct slot_head *s = slot_at(m, i);
        if (s->hash == HASH_EMPTY)
            return NULL;
        if (s->hash == h && s->klen == klen && memcmp(slot_key(m, s), key, klen) == 0)
            return s;
    }
}

/* Moves every live slot into a new table of ncap slots (tombstones are dropped). */
/* Zeroed slots (HASH_EMPTY is 0). Not calloc: calloc's fresh pages are the shared zero
 * page until written, so rebuild's probe loop (reads) and copy (writes) faulted twice per
 * page, the second time with a TLB flush — a third of `tileq report --pglog`'s time on a
 * VM. Written first instead (explicit_bzero: compilers turn malloc + memset into calloc),
 * and a large table asks for transparent huge pages (one fault per 2 MB, not per 4 KB). */
static void *slots_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes >= (4u << 20)) {
        if (posix_memalign(&p, 2u << 20, bytes) != 0)
            return NULL;
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: without it, 4 KB pages */
    } else if ((p = malloc(bytes)) == NULL) {
        return NULL;
    }
    explicit_bzero(p, bytes);
    return p;
}

static int rebuild(struct tq_map *m, size_t ncap)
{
    unsigned char *ns = slots_alloc(ncap * m->slot_size);

    if (ns == NULL)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        struct slot_head *s = slot_at(m, i);
        if (s->hash < 2)
            continue;
        size_t j = (size_t)s->hash & (ncap - 1);
        while (((struct slot_head *)(void *)(ns + j * m->slot_size))->hash != HASH_EMPTY)
            j = (j + 1) & (ncap - 1);
        memcpy(ns + j * m->slot_size, s, m->slot_size);
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->count;
    return 0;
}

static int klen_ok(const struct tq_map *m, size_t klen)
{
    return m->key_size == 0 || klen == m->key_size;
}

void *tq_map_get(const struct tq_map *m, const void *key, size_t klen)
{
    if (!klen_ok(m, klen))
        return NULL;
    struct slot_head *s = find(m, key, klen, hash_bytes(key, klen));
    return s ? slot_value(m, s) : NULL;
}

void *tq_map_put(struct tq_map *m, const void *key, size_t klen, int *added)
{
    uint64_t h;
    struct slot_head *s;
    void *copy = NULL;

    if (added)
        *added = 0;
    if (!klen_ok(m, klen))
        return NULL;
    h = hash_bytes(key, klen);
    s = find(m, key, klen, h);
    if (s != NULL)
        return slot_value(m, s);
    if ((m->used + 1) * 10 > m->cap * 7) {
        /* grow when live entries fill half of it, else only sweep the tombstones out */
        size_t ncap = m->cap == 0 ? MIN_CAP : (m->count + 1) * 2 > m->cap ? m->cap * 2 : m->cap;
        if (ncap > SIZE_MAX / m->slot_size || rebuild(m, ncap) != 0)
            return NULL;
    }
    if (m->key_size == 0) {
        copy = malloc(klen ? klen : 1);
        if (copy == NULL)
            return NULL;
        memcpy(copy, key, klen);
    }
    size_t i = (size_t)h & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        s = slot_at(m, i);
        if (s->hash < 2)
            break;
    }
    if (s->hash == HASH_EMPTY)
        m->used++;
    memset(s, 0, m->slot_size);
    s->hash = h;
    s->klen = klen;
    if (m->key_size > 0)
        memcpy((unsigned char *)s + OFF_KEY, key, klen);
    else
        memcpy((unsigned char *)s + OFF_KEY, &copy, sizeof copy);
    m->count++;
    if (added)
        *added = 1;
    return slot_value(m, s);
}

int tq_map_remove(struct tq_map *m, const void *key, size_t klen, void *value_out)
{
    if (!klen_ok(m, klen))
        return 0;
    struct slot_head *s = find(m, key, klen, hash_bytes(key, klen));
    if (s == NULL)
        return 0;
    if (value_out && m->value_size > 0)
        memcpy(value_out, slot_value(m, s), m->value_size);
    if (m->key_size == 0)
        free(slot_key_copy(s));
    memset(s, 0, m->slot_size);
    s->hash = HASH_TOMB;
    m->count--;
    return 1;
}

const void *tq_map_key(const struct tq_map *m, const void *value, size_t *klen)
{
    const struct slot_head *s =
        (const struct slot_head *)(const void *)((const unsigned char *)value - m->off_val);
    if (klen)
        *klen = s->klen;
    return slot_key(m, s);
}

void *tq_map_next(const struct tq_map *m, size_t *pos, const void **key, size_t *klen)
{
    for (; *pos < m->cap; (*pos)++) {
        struct slot_head *s = slot_at(m, *pos);
        if (s->hash < 2)
            continue;
        (*pos)++;
        if (key)
            *key = slot_key(m, s);
        if (klen)
            *klen = s->klen;
        return slot_value(m, s);
    }
    return NULL;
}

void *tq_map_str_get(const struct tq_map *m, const char *key)
{
    return tq_map_get(m, key, strlen(key) + 1);
}

void *tq_map_str_put(struct tq_map *m, const char *key, int *added)
{
    return tq_map_put(m, key, strlen(key) + 1, added);
}

int tq_map_str_remove(struct tq_map *m, const char *key, void *value_out)
{
    return tq_map_remove(m, key, strlen(key) + 1, value_out);
}

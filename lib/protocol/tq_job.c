/* tq_job — see tq_job.h.
 *
 * Wire format (msgpack map, keys in this order when encoding):
 *   "v"   uint  TQ_JOB_VERSION
 *   "ts"  str   tileset name, [A-Za-z0-9_-]{1,63}
 *   "z"   uint  0..30
 *   "mx"  uint  metatile's top-left tile x, a multiple of "n", < 2^z
 *   "my"  uint  same for y
 *   "n"   uint  metatile size, 1..64
 *   "cls" str   "interactive" | "dirty" | "bulk"
 *   "why" str   "request" | "warm" | "expire" | "retry" | "change"
 *   "at"  int   enqueue time, unix ms
 *   "fx"  uint  optional (with "fy"): the first requester's tile x, inside the metatile
 *   "fy"  uint  optional (with "fx"): its y
 *
 * Decoding safety: msgpack-c allocates a container's element array as soon as it reads its
 * header (a 5-byte map32 header asks for 2^32 entries, ~64 GB). So before msgpack_unpack_next
 * runs, scan_object() walks the bytes once and rejects any input that is not exactly one
 * complete object, or whose containers announce more elements than bytes remain. */
#include "tq_job.h"
#include "tq_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

static const char *const class_names[TQ_CLASS_COUNT] = {TQ_CLASS_NAME_INTERACTIVE,
                                                        TQ_CLASS_NAME_DIRTY, TQ_CLASS_NAME_BULK};
static const char *const reason_names[] = {"request", "warm", "expire", "retry", "change"};
#define TQ_REASON_COUNT (sizeof reason_names / sizeof reason_names[0])

const char *tq_job_class_name(enum tq_job_class c)
{
    if ((int)c < 0 || (int)c >= TQ_CLASS_COUNT)
        return "unknown";
    return class_names[c];
}

int tq_job_class_parse(const char *s, enum tq_job_class *out)
{
    for (int i = 0; s && i < TQ_CLASS_COUNT; i++) {
        if (strcmp(s, class_names[i]) == 0) {
            *out = (enum tq_job_class)i;
            return 0;
        }
    }
    return -1;
}

const char *tq_job_reason_name(enum tq_job_reason r)
{
    if ((int)r < 0 || (size_t)r >= TQ_REASON_COUNT)
        return "unknown";
    return reason_names[r];
}

int tq_job_reason_parse(const char *s, enum tq_job_reason *out)
{
    for (size_t i = 0; s && i < TQ_REASON_COUNT; i++) {
        if (strcmp(s, reason_names[i]) == 0) {
            *out = (enum tq_job_reason)i;
            return 0;
        }
    }
    return -1;
}

int tq_job_init(struct tq_job *job, const char *tileset, struct tq_tile t, uint32_t size,
                enum tq_job_class cls, enum tq_job_reason reason, int64_t now_ms)
{
    memset(job, 0, sizeof *job);
    if (tileset == NULL || !tq_tileset_name_valid(tileset, strlen(tileset)))
        return -1;
    if (size == 0 || size > TQ_METATILE_MAX)
        return -1;
    if (tq_tile_valid(t.z, t.x, t.y) != 0)
        return -1;
    if ((int)cls < 0 || (int)cls >= TQ_CLASS_COUNT || (int)reason < 0 ||
        (size_t)reason >= TQ_REASON_COUNT)
        return -1;
    memcpy(job->tileset, tileset, strlen(tileset) + 1);
    job->meta = tq_tile_metatile(t, size);
    job->size = size;
    job->cls = cls;
    job->reason = reason;
    job->enqueued_ms = now_ms;
    return 0;
}

const char *tq_job_id(const struct tq_job *job, char *buf, size_t bufsize)
{
    if (bufsize > 0)
        snprintf(buf, bufsize, "%s/%d/%u/%u", job->tileset, job->meta.z, job->meta.mx,
                 job->meta.my);
    return buf;
}

/* The pack helpers return 0, or -1 when the sbuffer could not grow (OOM). */
static int pack_key(msgpack_packer *pk, const char *key)
{
    size_t len = strlen(key);
    return (msgpack_pack_str(pk, len) != 0 || msgpack_pack_str_body(pk, key, len) != 0) ? -1 : 0;
}

static int pack_str(msgpack_packer *pk, const char *key, const char *value)
{
    return (pack_key(pk, key) != 0 || pack_key(pk, value) != 0) ? -1 : 0;
}

static int pack_uint(msgpack_packer *pk, const char *key, uint64_t value)
{
    return (pack_key(pk, key) != 0 || msgpack_pack_uint64(pk, value) != 0) ? -1 : 0;
}

int tq_job_encode(const struct tq_job *job, char **out, size_t *outlen)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    int rc = -1, bad = 0;

    *out = NULL;
    *outlen = 0;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    bad |= msgpack_pack_map(&pk, job->has_first ? 11 : 9);
    bad |= pack_uint(&pk, "v", TQ_JOB_VERSION);
    bad |= pack_str(&pk, "ts", job->tileset);
    bad |= pack_uint(&pk, "z", (uint64_t)job->meta.z);
    bad |= pack_uint(&pk, "mx", job->meta.mx);
    bad |= pack_uint(&pk, "my", job->meta.my);
    bad |= pack_uint(&pk, "n", job->size);
    bad |= pack_str(&pk, "cls", tq_job_class_name(job->cls));
    bad |= pack_str(&pk, "why", tq_job_reason_name(job->reason));
    bad |= pack_key(&pk, "at");
    bad |= msgpack_pack_int64(&pk, job->enqueued_ms);
    if (job->has_first) {
        bad |= pack_uint(&pk, "fx", job->first_x);
        bad |= pack_uint(&pk, "fy", job->first_y);
    }
    if (bad != 0 || sbuf.data == NULL)
        goto cleanup;
    *out = sbuf.data; /* ownership passes to the caller (malloc'd by the sbuffer) */
    *outlen = sbuf.size;
    sbuf.data = NULL;
    rc = 0;
cleanup:
    msgpack_sbuffer_destroy(&sbuf);
    return rc;
}

/* Big-endian reads from a buffer already known to hold n bytes. */
static uint64_t be_read(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Walks one msgpack object at the start of p[0..len). Returns its length in bytes, 0 when it
 * is truncated, malformed (0xc1), or announces more elements than bytes remain. Iterative:
 * "pending" counts objects still to read; each needs at least one byte. */
static size_t scan_object(const unsigned char *p, size_t len)
{
    size_t off = 0;
    uint64_t pending = 1;

    while (pending > 0) {
        if (off >= len)
            return 0;
        unsigned char b = p[off++];
        uint64_t add = 0, skip = 0; /* elements to add, payload bytes to skip */
        size_t hdr = 0;             /* length-field bytes after the type byte */
        int len_is_payload = 0, len_is_count = 0, count_mult = 1;

        pending--;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b >= 0x80 && b <= 0x8f) {
            add = 2u * (b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            add = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4:
            case 0xd9:
                hdr = 1;
                len_is_payload = 1;
                break; /* bin8, str8 */
            case 0xc5:
            case 0xda:
                hdr = 2;
                len_is_payload = 1;
                break; /* bin16, str16 */
            case 0xc6:
            case 0xdb:
                hdr = 4;
                len_is_payload = 1;
                break; /* bin32, str32 */
            case 0xc7:
                hdr = 1;
                len_is_payload = 1;
                skip = 1;
                break; /* ext8 (+type) */
            case 0xc8:
                hdr = 2;
                len_is_payload = 1;
                skip = 1;
                break; /* ext16 */
            case 0xc9:
                hdr = 4;
                len_is_payload = 1;
                skip = 1;
                break; /* ext32 */
            case 0xca:
                skip = 4;
                break; /* float32 */
            case 0xcb:
                skip = 8;
                break; /* float64 */
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xd4:
                skip = 2;
                break; /* fixext1 */
            case 0xd5:
                skip = 3;
                break; /* fixext2 */
            case 0xd6:
                skip = 5;
                break; /* fixext4 */
            case 0xd7:
                skip = 9;
                break; /* fixext8 */
            case 0xd8:
                skip = 17;
                break; /* fixext16 */
            case 0xdc:
                hdr = 2;
                len_is_count = 1;
                break; /* array16 */
            case 0xdd:
                hdr = 4;
                len_is_count = 1;
                break; /* array32 */
            case 0xde:
                hdr = 2;
                len_is_count = 1;
                count_mult = 2;
                break; /* map16 */
            case 0xdf:
                hdr = 4;
                len_is_count = 1;
                count_mult = 2;
                break; /* map32 */
            default:
                return 0; /* 0xc1: never used */
            }
        }
        if (hdr > 0) {
            if (len - off < hdr)
                return 0;
            uint64_t v = be_read(p + off, hdr);
            off += hdr;
            if (len_is_payload)
                skip += v;
            if (len_is_count)
                add = v * (uint64_t)count_mult;
        }
        if (skip > len - off)
            return 0;
        off += (size_t)skip;
        pending += add;
        if (pending > len - off) /* every pending object needs at least one byte */
            return 0;
    }
    return off;
}

static int key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

/* Index of the msgpack string o among names (exact bytes, so an embedded NUL never matches). */
static int str_index(const msgpack_object *o, const char *const *names, size_t count, size_t *idx)
{
    for (size_t i = 0; i < count; i++) {
        if (key_is(o, names[i])) {
            *idx = i;
            return 0;
        }
    }
    return -1;
}

/* How much of a string value to quote in an error message: at most 32 bytes, up to a NUL. */
static size_t clip(const msgpack_object *o)
{
    size_t n = o->via.str.size < 32 ? o->via.str.size : 32;
    if (n == 0 || o->via.str.ptr == NULL)
        return 0;
    const char *nul = memchr(o->via.str.ptr, '\0', n);
    return nul ? (size_t)(nul - o->via.str.ptr) : n;
}

/* The keys from K_FX on are optional. */
enum { K_V, K_TS, K_Z, K_MX, K_MY, K_N, K_CLS, K_WHY, K_AT, K_FX, K_FY, K_COUNT };
static const char *const key_names[K_COUNT] = {"v",   "ts",  "z",  "mx", "my", "n",
                                               "cls", "why", "at", "fx", "fy"};

int tq_job_decode(const char *data, size_t len, struct tq_job *job, char *err, size_t errsize)
{
    msgpack_unpacked up;
    const msgpack_object *val[K_COUNT] = {0};
    uint64_t z, mx, my, n;
    size_t off = 0, idx = 0;
    int rc = -1;

    msgpack_unpacked_init(&up);
    memset(job, 0, sizeof *job);
    if (data == NULL || len == 0) {
        snprintf(err, errsize, "job: empty input");
        goto cleanup;
    }
    if (len > TQ_JOB_MAX_ENCODED) {
        snprintf(err, errsize, "job: %zu bytes is over the %d byte limit", len, TQ_JOB_MAX_ENCODED);
        goto cleanup;
    }
    size_t objlen = scan_object((const unsigned char *)data, len);
    if (objlen == 0) {
        snprintf(err, errsize, "job: truncated or malformed msgpack");
        goto cleanup;
    }
    if (objlen != len) {
        snprintf(err, errsize, "job: %zu trailing bytes after the msgpack map", len - objlen);
        goto cleanup;
    }
    msgpack_unpack_return ret = msgpack_unpack_next(&up, data, len, &off);
    if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
        snprintf(err, errsize, "job: malformed msgpack (unpack returned %d)", (int)ret);
        goto cleanup;
    }
    const msgpack_object *root = &up.data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, errsize, "job: not a msgpack map (type %d)", (int)root->type);
        goto cleanup;
    }
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR) {
            snprintf(err, errsize, "job: map key %u is not a string", i);
            goto cleanup;
        }
        for (int k = 0; k < K_COUNT; k++) {
            if (!key_is(&kv->key, key_names[k]))
                continue;
            if (val[k] != NULL) {
                snprintf(err, errsize, "job: duplicate key \"%s\"", key_names[k]);
                goto cleanup;
            }
            val[k] = &kv->val;
        }
        /* unknown keys are ignored */
    }
    for (int k = 0; k < K_COUNT; k++) {
        if (val[k] == NULL && k >= K_FX)
            continue;
        if (val[k] == NULL) {
            snprintf(err, errsize, "job: missing key \"%s\"", key_names[k]);
            goto cleanup;
        }
        int want_str = (k == K_TS || k == K_CLS || k == K_WHY);
        if (want_str && val[k]->type != MSGPACK_OBJECT_STR) {
            snprintf(err, errsize, "job: \"%s\" must be a string", key_names[k]);
            goto cleanup;
        }
        if (k == K_AT) {
            if (val[k]->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
                val[k]->type != MSGPACK_OBJECT_NEGATIVE_INTEGER) {
                snprintf(err, errsize, "job: \"at\" must be an integer");
                goto cleanup;
            }
            if (val[k]->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                val[k]->via.u64 > (uint64_t)INT64_MAX) {
                snprintf(err, errsize, "job: \"at\" out of range");
                goto cleanup;
            }
        } else if (!want_str && val[k]->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            snprintf(err, errsize, "job: \"%s\" must be a non-negative integer", key_names[k]);
            goto cleanup;
        }
    }
    if (val[K_V]->via.u64 != TQ_JOB_VERSION) {
        snprintf(err, errsize, "job: unsupported version %llu (expected %d)",
                 (unsigned long long)val[K_V]->via.u64, TQ_JOB_VERSION);
        goto cleanup;
    }
    const msgpack_object_str *ts = &val[K_TS]->via.str;
    if (ts->size == 0 || ts->size >= TQ_TILESET_NAME_MAX) {
        snprintf(err, errsize, "job: tileset name must be 1..%d bytes, got %u",
                 TQ_TILESET_NAME_MAX - 1, ts->size);
        goto cleanup;
    }
    if (!tq_tileset_name_valid(ts->ptr, ts->size)) {
        snprintf(err, errsize, "job: tileset name has characters outside " TQ_TILESET_NAME_CHARS);
        goto cleanup;
    }
    z = val[K_Z]->via.u64;
    mx = val[K_MX]->via.u64;
    my = val[K_MY]->via.u64;
    n = val[K_N]->via.u64;
    if (z > TQ_TILE_MAX_ZOOM) {
        snprintf(err, errsize, "job: z=%llu is over %d", (unsigned long long)z, TQ_TILE_MAX_ZOOM);
        goto cleanup;
    }
    if (n == 0 || n > TQ_METATILE_MAX) {
        snprintf(err, errsize, "job: metatile size n=%llu must be 1..%d", (unsigned long long)n,
                 TQ_METATILE_MAX);
        goto cleanup;
    }
    if (mx >= tq_tile_grid_size((int)z) || my >= tq_tile_grid_size((int)z)) {
        snprintf(err, errsize, "job: metatile %llu/%llu outside the grid of zoom %llu",
                 (unsigned long long)mx, (unsigned long long)my, (unsigned long long)z);
        goto cleanup;
    }
    if (mx % n != 0 || my % n != 0) {
        snprintf(err, errsize, "job: metatile %llu/%llu not aligned to size %llu",
                 (unsigned long long)mx, (unsigned long long)my, (unsigned long long)n);
        goto cleanup;
    }
    if (str_index(val[K_CLS], class_names, TQ_CLASS_COUNT, &idx) != 0) {
        snprintf(err, errsize, "job: unknown class \"%.*s\"", (int)clip(val[K_CLS]),
                 clip(val[K_CLS]) ? val[K_CLS]->via.str.ptr : "");
        goto cleanup;
    }
    job->cls = (enum tq_job_class)idx;
    if (str_index(val[K_WHY], reason_names, TQ_REASON_COUNT, &idx) != 0) {
        snprintf(err, errsize, "job: unknown reason \"%.*s\"", (int)clip(val[K_WHY]),
                 clip(val[K_WHY]) ? val[K_WHY]->via.str.ptr : "");
        goto cleanup;
    }
    job->reason = (enum tq_job_reason)idx;
    memcpy(job->tileset, ts->ptr, ts->size);
    job->tileset[ts->size] = '\0';
    struct tq_tile t = {(int)z, (uint32_t)mx, (uint32_t)my};
    job->meta = tq_tile_metatile(t, (uint32_t)n);
    job->size = (uint32_t)n;
    job->enqueued_ms = val[K_AT]->via.i64;
    if ((val[K_FX] == NULL) != (val[K_FY] == NULL)) {
        snprintf(err, errsize, "job: \"fx\" and \"fy\" go together");
        goto cleanup;
    }
    if (val[K_FX] != NULL) {
        uint64_t fx = val[K_FX]->via.u64, fy = val[K_FY]->via.u64;
        if (fx > UINT32_MAX || fy > UINT32_MAX ||
            !tq_metatile_contains(&job->meta,
                                  (struct tq_tile){(int)z, (uint32_t)fx, (uint32_t)fy})) {
            snprintf(err, errsize, "job: first tile %llu/%llu outside the metatile",
                     (unsigned long long)fx, (unsigned long long)fy);
            goto cleanup;
        }
        job->has_first = 1;
        job->first_x = (uint32_t)fx;
        job->first_y = (uint32_t)fy;
    }
    rc = 0;
cleanup:
    msgpack_unpacked_destroy(&up);
    if (rc != 0) {
        struct tq_job zero = {0};
        *job = zero;
    }
    return rc;
}

const char *tq_job_ref(const char *id, char out[TQ_JOB_REF_LEN])
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)(id ? id : ""); *p; p++)
        h = (h ^ *p) * 16777619u;
    snprintf(out, TQ_JOB_REF_LEN, "%08x", (unsigned)h);
    return out;
}

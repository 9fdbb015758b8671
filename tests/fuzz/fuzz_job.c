/* fuzz_job — the job decoder (tq_job_decode) and its encoder. The input is a would-be
 * msgpack job record, decoded as it is. Properties:
 *   - decoding never fails without a reason, and a failed decode leaves the job zeroed;
 *   - a decoded job is a valid one: tileset [A-Za-z0-9_-]{1,63}, metatile inside the grid
 *     and aligned to its size (1..64), clamped w/h, known class and reason, first tile (if
 *     any) inside the metatile;
 *   - it re-encodes (within TQ_JOB_MAX_ENCODED) to bytes that decode to the same job, and
 *     encoding that job again gives the same bytes (the encoding is canonical);
 *   - a small error buffer is never overrun.
 * The input's first bytes also build a job with tq_job_init (fields chosen by the input) that
 * must round-trip the same way, and the input as a string is a would-be class or reason name
 * (tq_job_class_parse, tq_job_reason_parse: only the exact names parse). */
#include "tq_fuzz.h"

#include "tq_job.h"

static void check_valid(const struct tq_job *j)
{
    uint32_t grid;
    char id[TQ_JOB_ID_MAX];

    TQ_FUZZ_CHECK(tq_fuzz_tileset_name_ok(j->tileset));
    TQ_FUZZ_CHECK(j->meta.z >= 0 && j->meta.z <= TQ_TILE_MAX_ZOOM);
    grid = tq_tile_grid_size(j->meta.z);
    TQ_FUZZ_CHECK(j->size >= 1 && j->size <= 64);
    TQ_FUZZ_CHECK(j->meta.mx < grid && j->meta.my < grid);
    TQ_FUZZ_CHECK(j->meta.mx % j->size == 0 && j->meta.my % j->size == 0);
    TQ_FUZZ_CHECK(j->meta.w >= 1 && j->meta.w <= j->size && j->meta.w <= grid - j->meta.mx);
    TQ_FUZZ_CHECK(j->meta.h >= 1 && j->meta.h <= j->size && j->meta.h <= grid - j->meta.my);
    TQ_FUZZ_CHECK(j->meta.w == j->size || j->meta.w == grid - j->meta.mx);
    TQ_FUZZ_CHECK(j->meta.h == j->size || j->meta.h == grid - j->meta.my);
    TQ_FUZZ_CHECK(strcmp(tq_job_class_name(j->cls), "unknown") != 0);
    TQ_FUZZ_CHECK(strcmp(tq_job_reason_name(j->reason), "unknown") != 0);
    TQ_FUZZ_CHECK(j->has_first == 0 || j->has_first == 1);
    if (j->has_first)
        TQ_FUZZ_CHECK(
            tq_metatile_contains(&j->meta, (struct tq_tile){j->meta.z, j->first_x, j->first_y}));
    else
        TQ_FUZZ_CHECK(j->first_x == 0 && j->first_y == 0);
    tq_job_id(j, id, sizeof id);
    TQ_FUZZ_CHECK(strlen(id) < sizeof id - 1);
}

/* Encodes j, decodes it back: equal to j, and the encoding is stable. */
static void check_roundtrip(const struct tq_job *j)
{
    char *enc = NULL, *enc2 = NULL, err[256] = "";
    size_t len = 0, len2 = 0;
    struct tq_job back;

    TQ_FUZZ_CHECK(tq_job_encode(j, &enc, &len) == 0 && enc != NULL);
    TQ_FUZZ_CHECK(len > 0 && len <= TQ_JOB_MAX_ENCODED);
    if (tq_job_decode(enc, len, &back, err, sizeof err) != 0) {
        fprintf(stderr, "re-encoded job does not decode: %s\n", err);
        abort();
    }
    TQ_FUZZ_CHECK(memcmp(&back, j, sizeof back) == 0);
    TQ_FUZZ_CHECK(tq_job_encode(&back, &enc2, &len2) == 0);
    TQ_FUZZ_CHECK(len2 == len && memcmp(enc, enc2, len) == 0);
    free(enc);
    free(enc2);
}

static uint32_t take_u32(const uint8_t **p, size_t *n)
{
    uint32_t v = 0;
    for (int i = 0; i < 4 && *n > 0; i++, (*p)++, (*n)--)
        v = (v << 8) | **p;
    return v;
}

/* A job built from the input's bytes through tq_job_init. */
static void check_init(const uint8_t *data, size_t size)
{
    static const char alphabet[] = "abcXYZ019_-";
    char name[TQ_TILESET_NAME_MAX + 1];
    struct tq_job j;
    const uint8_t *p = data;
    size_t n = size;

    if (size < 17)
        return;
    int z = (int)(take_u32(&p, &n) % (TQ_TILE_MAX_ZOOM + 2)); /* 31 is invalid */
    uint32_t x = take_u32(&p, &n), y = take_u32(&p, &n);
    uint32_t meta = p[0] % 70, cls = p[1] % 4, why = p[2] % (TQ_REASON_CHANGE + 2);
    size_t namelen = p[3] % (TQ_TILESET_NAME_MAX + 1);
    int64_t at = (int64_t)take_u32(&p, &n);
    if (p[0] & 1) /* size >= 17: p[0] is the 17th byte */
        at = -at;
    for (size_t i = 0; i < namelen; i++)
        name[i] = alphabet[(i < n ? p[i] : i) % (sizeof alphabet - 1)];
    name[namelen] = '\0';
    int ok = namelen > 0 && namelen < TQ_TILESET_NAME_MAX && meta >= 1 && meta <= 64 &&
             tq_tile_valid(z, x, y) == 0 && cls < TQ_CLASS_COUNT && why <= TQ_REASON_CHANGE;
    int rc = tq_job_init(&j, name, (struct tq_tile){z, x, y}, meta, (enum tq_job_class)cls,
                         (enum tq_job_reason)why, at);
    TQ_FUZZ_CHECK(rc == (ok ? 0 : -1));
    if (rc != 0)
        return;
    TQ_FUZZ_CHECK(tq_metatile_contains(&j.meta, (struct tq_tile){z, x, y}));
    if (size % 2) { /* the requester's tile first */
        j.has_first = 1;
        j.first_x = x;
        j.first_y = y;
    }
    check_valid(&j);
    check_roundtrip(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tq_job job;
    char err[256], tiny[8];

    memset(err, 'x', sizeof err);
    if (tq_job_decode((const char *)data, size, &job, err, sizeof err) == 0) {
        check_valid(&job);
        check_roundtrip(&job);
    } else {
        struct tq_job zero;
        memset(&zero, 0, sizeof zero);
        TQ_FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && strncmp(err, "job: ", 5) == 0);
        TQ_FUZZ_CHECK(memcmp(&job, &zero, sizeof job) == 0);
        memset(tiny, 'x', sizeof tiny);
        TQ_FUZZ_CHECK(tq_job_decode((const char *)data, size, &job, tiny, sizeof tiny) == -1);
        TQ_FUZZ_CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);
    }
    check_init(data, size);

    /* Class and reason names (configuration, CLI): parse only their own spelling. */
    char *name = tq_fuzz_cstr(data, size);
    enum tq_job_class cls;
    enum tq_job_reason why;
    if (tq_job_class_parse(name, &cls) == 0)
        TQ_FUZZ_CHECK(strcmp(tq_job_class_name(cls), name) == 0);
    if (tq_job_reason_parse(name, &why) == 0)
        TQ_FUZZ_CHECK(strcmp(tq_job_reason_name(why), name) == 0);
    free(name);
    return 0;
}

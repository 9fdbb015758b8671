/* tq_job — the render job record and its msgpack encoding.
 *
 * A job renders one metatile. On the wire it is a msgpack map with a version:
 *   {"v":1, "ts":tileset, "z":z, "mx":mx, "my":my, "n":metatile size,
 *    "cls":class, "why":reason, "at":enqueued unix ms
 *    [, "fx":x, "fy":y]}
 * "fx"/"fy" (optional, both or neither): the tile the first requester asked for, which an
 * interactive job renders and announces first (a "partial" event); decoding rejects one
 * outside the metatile. Records without them decode with has_first = 0.
 * Decoding rejects truncated, oversized or wrong-typed input, unknown versions and
 * out-of-range tiles with a message in the caller's error buffer; it never reads past
 * the input. Unknown keys are ignored (forward compatibility within a version). */
#ifndef TQ_JOB_H
#define TQ_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "tq_tile.h"
#include "tq_tileset.h"

#define TQ_JOB_VERSION 1
#define TQ_JOB_MAX_ENCODED 1024 /* larger input is rejected before parsing */
#define TQ_JOB_ID_MAX 128       /* "tileset/z/mx/my" including NUL */

enum tq_job_class { TQ_CLASS_INTERACTIVE = 0, TQ_CLASS_DIRTY = 1, TQ_CLASS_BULK = 2 };
#define TQ_CLASS_COUNT 3

/* change: queued by `tileq watch run` after a data change (issue 11). */
enum tq_job_reason {
    TQ_REASON_REQUEST = 0,
    TQ_REASON_WARM,
    TQ_REASON_EXPIRE,
    TQ_REASON_RETRY,
    TQ_REASON_CHANGE
};

struct tq_job {
    char tileset[TQ_TILESET_NAME_MAX];
    struct tq_metatile meta; /* z, mx, my; w/h recomputed from size on decode */
    uint32_t size;           /* metatile size the job was made for */
    enum tq_job_class cls;
    enum tq_job_reason reason;
    int64_t enqueued_ms;
    int has_first;             /* 1: first_x/first_y name the tile to render first */
    uint32_t first_x, first_y; /* inside meta when has_first */
};

const char *tq_job_class_name(enum tq_job_class c);
int tq_job_class_parse(const char *s, enum tq_job_class *out); /* 0 or -1 */
const char *tq_job_reason_name(enum tq_job_reason r);
int tq_job_reason_parse(const char *s, enum tq_job_reason *out); /* 0 or -1 */

/* Fills job for the metatile of tile t. Returns 0, or -1 when the tileset name is too
 * long or size is 0. */
int tq_job_init(struct tq_job *job, const char *tileset, struct tq_tile t, uint32_t size,
                enum tq_job_class cls, enum tq_job_reason reason, int64_t now_ms);

/* The job id "tileset/z/mx/my" into buf (TQ_JOB_ID_MAX is always enough). Returns buf. */
const char *tq_job_id(const struct tq_job *job, char *buf, size_t bufsize);

/* Encodes job into a malloc'd buffer; the caller frees *out. Returns 0, or -1 on OOM. */
/* The reference id of the job id (TQ_JOB_REF_LEN - 1 lowercase hex digits: FNV-1a 32 of
 * the id) into out. A client's 500 for a dead-lettered job names it instead of the
 * reason; the coordinator's log line, `tileq deadletter list` and `tileq status` show it
 * next to the job and its reason, so what a user reports leads to the reason. */
#define TQ_JOB_REF_LEN 9
const char *tq_job_ref(const char *id, char out[TQ_JOB_REF_LEN]);

int tq_job_encode(const struct tq_job *job, char **out, size_t *outlen);

/* Decodes len bytes of data into job. Returns 0, or -1 with a reason in err. */
int tq_job_decode(const char *data, size_t len, struct tq_job *job, char *err, size_t errsize);

#endif

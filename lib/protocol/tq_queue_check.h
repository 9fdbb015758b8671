/* tq_queue_check — verifies the queue's invariants, exactly those of the wire contract
 * (tq_wire.h: enum tq_invariant, next to the job lifecycle), against a live Redis.
 *
 * One read-only Lua script takes the snapshot atomically: the three q lists, running, dead,
 * runcount and fence (its declared KEYS), then the job hashes of every id it saw plus those a
 * SCAN of job:* finds, and the done markers' TTLs (a SCAN of done:*). Job hashes and done
 * markers cannot be declared as KEYS (their names are what the script looks for); they live
 * under the same {tq} hash tag, so on one node. The script stops after `limit` distinct jobs
 * (and `limit` entries per list or set, `limit` done markers) and says so; the checks that
 * need the whole queue (a job missing from its list or set, the sums in runcount) are then
 * skipped, the others still run on what was read.
 *
 * Then C checks every invariant and lists each violation with the job id and what is wrong. */
#ifndef TQ_QUEUE_CHECK_H
#define TQ_QUEUE_CHECK_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "tq_job.h"
#include "tq_wire.h"

#define TQ_CHECK_DEFAULT_LIMIT 100000

struct tq_check_issue {
    enum tq_invariant inv;
    int warning; /* 1: tolerated (see tq_wire.h), not a violation */
    char id[TQ_JOB_ID_MAX];
    char what[256];
};

struct tq_check_result {
    int truncated;                 /* the script stopped at the limit */
    long jobs;                     /* distinct job ids read */
    long done_markers;             /* done markers read */
    struct tq_check_issue *issues; /* malloc'd; tq_check_result_clear frees */
    size_t nissues, cap;
    size_t violations[TQ_INV_COUNT]; /* per invariant, warnings not counted */
    size_t warnings;
};

/* Reads a snapshot of the queue on c and checks it; limit <= 0 means
 * TQ_CHECK_DEFAULT_LIMIT. Fills out (the caller clears it with tq_check_result_clear, also
 * after an error). Returns the number of violations (0: all held), or -1 with err set (Redis
 * error, odd reply, out of memory). */
long tq_queue_check(redisContext *c, long limit, struct tq_check_result *out, char *err,
                    size_t errsize);

void tq_check_result_clear(struct tq_check_result *r);

#endif

/* tq_jobplan — what a claimed job asks for, decided without I/O: its payload decoded and
 * checked against the config (tq_jobplan_make; a job that fails is dead-lettered with the
 * reason), whether its first tile is rendered alone first, its lease budget, and the
 * render-log entries of what it rendered (tq_jobplan_log_entries). */
#ifndef TQ_JOBPLAN_H
#define TQ_JOBPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "tq_config.h"
#include "tq_job.h"
#include "tq_queue.h"
#include "tq_render.h"
#include "tq_renderlog.h"
#include "tq_tile.h"

struct tq_jobplan {
    struct tq_job job;
    const struct tq_tileset_config *ts; /* borrowed from the config */
    struct tq_metatile m;               /* the metatile to render */
    struct tq_tile first;               /* the first requester's tile (when split) */
    int split;                          /* 1: render first alone, announce it, then the rest of m */
    int64_t budget_ms;                  /* the lease cap (tq_lease_budget_ms) */
};

/* Decodes claim c's payload and checks it against cfg: a known tileset, a zoom in its
 * range, a payload that names the job id's metatile. Returns 0 with p filled, or -1 with
 * the reason in why (the job cannot be rendered: dead-letter it). An interactive job with a
 * first tile inside a metatile of several tiles is split. lease_ms: the queue's lease. */
int tq_jobplan_make(struct tq_jobplan *p, const struct tq_config *cfg, const struct tq_claimed *c,
                    int lease_ms, char *why, size_t whysize);

/* The render-log entries of res's tiles (res->ntiles of them into out): job p of claim c,
 * rendered by worker; each tile's duration is its share of the statement's SQL time. The
 * entries borrow p's, c's, worker's and res's strings. */
void tq_jobplan_log_entries(const struct tq_jobplan *p, const struct tq_claimed *c,
                            const char *worker, const struct tq_render_result *res,
                            struct tq_renderlog_entry *out);

#endif

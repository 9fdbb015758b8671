/* tq_jobplan — see tq_jobplan.h. */
#include "tq_jobplan.h"

#include <stdio.h>
#include <string.h>

#include "tq_lease.h"

int tq_jobplan_make(struct tq_jobplan *p, const struct tq_config *cfg, const struct tq_claimed *c,
                    int lease_ms, char *why, size_t whysize)
{
    char err[1024], idbuf[TQ_JOB_ID_MAX];
    struct tq_job *job = &p->job;

    memset(p, 0, sizeof *p);
    if (tq_job_decode(c->payload ? c->payload : "", c->payload_len, job, err, sizeof err) != 0) {
        snprintf(why, whysize, "bad payload: %s", err);
        return -1;
    }
    /* A render again after an expire or a change hit the job mid-render carries the reason
     * of that ask, not the first render's (an unknown name keeps the payload's). */
    enum tq_job_reason rerun;
    if (c->rerun_why[0] != '\0' && tq_job_reason_parse(c->rerun_why, &rerun) == 0)
        job->reason = rerun;
    const struct tq_tileset_config *ts = tq_config_tileset(cfg, job->tileset);
    if (ts == NULL) {
        snprintf(why, whysize, "unknown tileset %s", job->tileset);
        return -1;
    }
    if (job->meta.z < ts->minzoom || job->meta.z > ts->maxzoom) {
        snprintf(why, whysize, "zoom %d outside %s's range %d..%d", job->meta.z, ts->name,
                 ts->minzoom, ts->maxzoom);
        return -1;
    }
    struct tq_tile top = {job->meta.z, job->meta.mx, job->meta.my};
    p->m = tq_tile_metatile(top, job->size ? job->size : ts->metatile);
    tq_job_id(job, idbuf, sizeof idbuf);
    if (strcmp(idbuf, c->id) != 0 || p->m.mx != job->meta.mx || p->m.my != job->meta.my) {
        snprintf(why, whysize, "payload names metatile %s (size %u), not the job id", idbuf,
                 job->size);
        return -1;
    }
    p->ts = ts;
    p->first = (struct tq_tile){p->m.z, job->first_x, job->first_y};
    p->split = c->cls == TQ_CLASS_INTERACTIVE && job->has_first && tq_metatile_count(&p->m) > 1 &&
               tq_metatile_contains(&p->m, p->first);
    p->budget_ms = tq_lease_budget_ms(ts->statement_timeout_ms, p->split ? 2 : 1, lease_ms);
    return 0;
}

void tq_jobplan_log_entries(const struct tq_jobplan *p, const struct tq_claimed *c,
                            const char *worker, const struct tq_render_result *res,
                            struct tq_renderlog_entry *out)
{
    for (uint32_t i = 0; i < res->ntiles; i++) {
        out[i] = (struct tq_renderlog_entry){
            .tileset = p->job.tileset,
            .tile = res->tiles[i].tile,
            .job_id = c->id,
            .attempt = c->attempt,
            .reason = c->attempt > 1 ? TQ_REASON_RETRY : p->job.reason,
            .worker = worker,
            .started_ms = res->started_ms,
            .duration_ms = res->sql_ms / res->ntiles,
            .metatile_ms = res->sql_ms,
            .bytes = res->tiles[i].len,
        };
    }
}

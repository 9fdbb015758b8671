/* tq_wire — see tq_wire.h. */
#include "tq_wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[TQ_JOB_STATE_COUNT] = {TQ_STATE_QUEUED, TQ_STATE_RUNNING,
                                                            TQ_STATE_DEAD};

const char *tq_job_state_name(enum tq_job_state s)
{
    return (unsigned)s < TQ_JOB_STATE_COUNT ? state_names[s] : "?";
}

int tq_job_state_parse(const char *s, enum tq_job_state *out)
{
    for (int i = 0; s && i < TQ_JOB_STATE_COUNT; i++) {
        if (strcmp(s, state_names[i]) == 0) {
            *out = (enum tq_job_state)i;
            return 0;
        }
    }
    return -1;
}

int tq_heartbeat_encode(const struct tq_heartbeat *hb, char *out, size_t size)
{
    int n = snprintf(out, size, "%s %ld %" PRId64, hb->host, hb->pid, hb->last_seen_ms);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int tq_heartbeat_parse(const char *s, struct tq_heartbeat *hb)
{
    long long seen = 0;
    if (s != NULL && sscanf(s, "%255s %ld %lld", hb->host, &hb->pid, &seen) == 3) {
        hb->last_seen_ms = seen;
        return 0;
    }
    snprintf(hb->host, sizeof hb->host, "?");
    hb->pid = 0;
    hb->last_seen_ms = 0;
    return -1;
}

static const char *const inv_names[TQ_INV_COUNT] = {
    TQ_STATE_QUEUED, TQ_STATE_RUNNING, TQ_STATE_DEAD, "job-fields",
    "entries",       "runcount",       "done-ttl"};
static const char *const inv_texts[TQ_INV_COUNT] = {
    TQ_INV_QUEUED_TEXT,  TQ_INV_RUNNING_TEXT,  TQ_INV_DEAD_TEXT,    TQ_INV_FIELDS_TEXT,
    TQ_INV_ENTRIES_TEXT, TQ_INV_RUNCOUNT_TEXT, TQ_INV_DONE_TTL_TEXT};

const char *tq_invariant_name(enum tq_invariant inv)
{
    return (unsigned)inv < TQ_INV_COUNT ? inv_names[inv] : "?";
}

const char *tq_invariant_text(enum tq_invariant inv)
{
    return (unsigned)inv < TQ_INV_COUNT ? inv_texts[inv] : "?";
}

int tq_worker_id_valid(const char *id, size_t len)
{
    if (id == NULL || len == 0 || len >= TQ_WORKER_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c < 0x21 || c > 0x7e)
            return 0;
    }
    return 1;
}

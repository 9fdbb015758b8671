/* tq_lease — see tq_lease.h. */
#include "tq_lease.h"

#include "tq_log.h"
#include "tq_queue.h"
#include "tq_time.h"
#include "tq_upkeep.h"
#include "tq_wconn.h"
#include "tq_worker.h"

#define LEASE_SAFETY_DIV 2 /* a tile is renamed only with >= lease/2 of the lease left */
#define HEARTBEAT_DIV 3    /* a heartbeat every lease/3 */
#define TICK_MAX_MS 1000
#define TICK_MIN_MS 10

int64_t tq_lease_margin_ms(int lease_ms)
{
    return lease_ms / LEASE_SAFETY_DIV;
}

int tq_lease_safe_window(double sent_ms, int64_t remaining_ms, int64_t margin_ms,
                         double *safe_until)
{
    if (remaining_ms < margin_ms)
        return -1;
    *safe_until = sent_ms + (double)(remaining_ms - margin_ms);
    return 0;
}

int tq_lease_tick_ms(int lease_ms)
{
    int tick_ms = lease_ms / HEARTBEAT_DIV < TICK_MAX_MS ? lease_ms / HEARTBEAT_DIV : TICK_MAX_MS;
    return tick_ms < TICK_MIN_MS ? TICK_MIN_MS : tick_ms;
}

int64_t tq_lease_budget_ms(int statement_timeout_ms, int nstatements, int lease_ms)
{
    return (int64_t)statement_timeout_ms * nstatements + lease_ms;
}

void tq_lease_start(struct tq_lease *l, struct tq_worker *w, const struct tq_claimed *c,
                    int64_t budget_ms)
{
    *l = (struct tq_lease){.w = w,
                           .id = c->id,
                           .token = c->token,
                           .budget_ms = budget_ms,
                           .next_heartbeat = tq_now_ms() + w->lease_ms / HEARTBEAT_DIV};
}

/* One heartbeat under the job's token. 1 held (*remaining_ms: lease left on Redis's
 * clock), 0 lost, -1 Redis unavailable (the connection was dropped). */
static int heartbeat_now(struct tq_lease *l, int64_t *remaining_ms)
{
    struct tq_worker *w = l->w;
    char err[512];
    int64_t now = tq_now_ms();
    if (tq_wconn_redis_ensure(w->conn) != 0)
        return -1;
    int rc = tq_queue_heartbeat(tq_wconn_redis(w->conn), l->id, l->token, w->lease_ms, l->budget_ms,
                                remaining_ms, err, sizeof err);
    if (rc < 0) {
        tq_wconn_redis_drop(w->conn, err);
        return -1;
    }
    l->next_heartbeat = now + w->lease_ms / HEARTBEAT_DIV;
    tq_upkeep_register_if_due(w);
    if (rc == 0)
        l->lost = 1;
    return rc;
}

int tq_lease_keep(struct tq_lease *l)
{
    if (tq_now_ms() < l->next_heartbeat)
        return 0;
    return heartbeat_now(l, NULL) == 0;
}

int tq_lease_tick(void *arg)
{
    return tq_lease_keep(arg);
}

int tq_lease_guard(struct tq_lease *l)
{
    struct tq_worker *w = l->w;
    int64_t remaining = 0, margin = tq_lease_margin_ms(w->lease_ms);
    double sent = tq_mono_ms();
    char q[300];

    if (sent < l->safe_until)
        return 0;
    int rc = heartbeat_now(l, &remaining);
    if (rc < 0) { /* dropped: one reconnect now (no backoff wait), and ask again */
        tq_wconn_redis_retry_now(w->conn);
        rc = heartbeat_now(l, &remaining);
    }
    if (rc == 1 && tq_lease_safe_window(sent, remaining, margin, &l->safe_until) == 0)
        return 0;
    l->lost = 1;
    tq_log_warn("lease_lost",
                "job=%s token=%lld while=writing remaining_ms=%lld margin_ms=%lld "
                "reason=%s",
                l->id, l->token, (long long)remaining, (long long)margin,
                tq_log_quote(rc < 0    ? "redis unavailable"
                             : rc == 0 ? "lost"
                                       : "below margin",
                             q, sizeof q));
    tq_wstats_fail(&w->stats, TQ_WFAIL_LOST);
    return -1;
}

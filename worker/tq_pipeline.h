/* tq_pipeline — a job from claim to ack (claimed with a fencing token, logged as
 * job_claimed ... token=<n>):
 *   decode and check (tq_jobplan; bad payload / unknown tileset / zoom out of range: ack dead)
 *   -> render, heartbeating the lease every lease/3 under the token (tq_lease; lost: cancel
 *      the query, drop it); the heartbeat caps the lease at started + the job's budget
 *      (statement_timeout_ms x render statements + one lease), on Redis's clock
 *   -> PostgreSQL gone mid-render: reconnect (lease still heartbeated) and render again
 *   -> SQL error, the statement timeout included: ack fail (re-queued until max_attempts)
 *   -> write every tile (error: ack fail), each only while the lease is known to have at
 *      least half a lease left (tq_lease_guard; else log lease_lost and drop the job:
 *      nothing more is written, nothing acked), then log tiles_written job token tiles
 *   -> render log entries -> ack ok under the token ("stale": another claim holds it).
 * An interactive job with a first tile (the tile its first requester asked for) and a
 * metatile of several tiles renders that tile alone first (the one-tile statement), writes
 * it (fenced as above, its own tiles_written line), announces it (tq_queue_partial: the
 * "partial" event, refused for a stale token; the coordinator answers whoever waits for it)
 * and logs it, then renders the other tiles (the metatile statement without that tile) and
 * goes on as above. A failure in either query: ack fail. */
#ifndef TQ_PIPELINE_H
#define TQ_PIPELINE_H

struct tq_worker;

/* Claims the next job and takes it from render to ack, or, with nothing to claim, waits up
 * to a second for a new job's wake token (BLPOP {tq}:wake). Redis must be connected (a
 * Redis error drops it). */
void tq_pipeline_step(struct tq_worker *w);

#endif

/* tq_lease — the lease of the job in hand, as the worker keeps it: a heartbeat under the
 * claim's fencing token every lease/3 while it renders (tq_lease_tick, the renderer's tick
 * callback), and the fencing check before each tile is renamed into the cache
 * (tq_lease_guard). The heartbeat caps the lease at started + the job's budget, on Redis's
 * clock (tq_queue_heartbeat).
 *
 * The guard: a heartbeat answers the lease left on Redis's clock, r; for the next
 * r - margin ms of this host's monotonic clock (counted from before the heartbeat was sent)
 * at least the margin (half a lease) is left, so the check costs no round trip until then.
 * The margin covers what may pass between the check and the rename (a tile's write and
 * fsync, a stall of this process). The arithmetic is in the pure tq_lease_* functions at
 * the end. */
#ifndef TQ_LEASE_H
#define TQ_LEASE_H

#include <stdint.h>

struct tq_worker;
struct tq_claimed;

struct tq_lease {
    struct tq_worker *w; /* borrowed */
    const char *id;      /* the job id (borrowed from the claim) */
    long long token;     /* the claim's fencing token */
    int64_t budget_ms;   /* lease cap: statement timeout x render statements + the lease */
    int64_t next_heartbeat;
    double safe_until; /* monotonic ms: until then a tile may be renamed into the cache */
    int lost;          /* 1 once the lease is known lost (or could not be told held) */
};

/* Starts keeping claim c's lease (the first heartbeat is due a lease/3 from now). c and w
 * must outlive l. */
void tq_lease_start(struct tq_lease *l, struct tq_worker *w, const struct tq_claimed *c,
                    int64_t budget_ms);

/* Heartbeats the lease when due. Returns 1 when it is lost, 0 otherwise (Redis errors only
 * drop the connection: the ack will tell). */
int tq_lease_keep(struct tq_lease *l);

/* tq_lease_keep as the renderer's tick callback (arg: the struct tq_lease). */
int tq_lease_tick(void *arg);

/* Fencing, before a tile is renamed into the cache: 0 when this worker still holds the
 * lease with at least the margin left, -1 when it does not or cannot tell (Redis away):
 * then it must write nothing more (logged as lease_lost, counted as a lost lease). */
int tq_lease_guard(struct tq_lease *l);

/* --- pure arithmetic --- */

/* The margin a rename needs left on the lease: half of it. */
int64_t tq_lease_margin_ms(int lease_ms);

/* After a heartbeat sent at monotonic sent_ms answered remaining_ms: 0 with *safe_until set
 * (renames are safe until then, no round trip needed) when remaining_ms >= margin_ms, -1
 * when below the margin. */
int tq_lease_safe_window(double sent_ms, int64_t remaining_ms, int64_t margin_ms,
                         double *safe_until);

/* How often the renderer calls back while PostgreSQL works: lease/3, within 10 .. 1000 ms. */
int tq_lease_tick_ms(int lease_ms);

/* The lease cap of a job: each of its render statements may take the tileset's statement
 * timeout, plus one lease for the rest (connecting, writing, acking). */
int64_t tq_lease_budget_ms(int statement_timeout_ms, int nstatements, int lease_ms);

#endif

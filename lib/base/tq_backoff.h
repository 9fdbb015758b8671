/* tq_backoff — the retry pacing of every reconnect loop: after a failure wait a delay that
 * starts at initial_ms and grows by factor (2) per failure up to max_ms; a success resets it.
 * Optional jitter takes a random part (up to jitter_pct %) off each delay, so that many
 * processes that lost the same server do not come back in step.
 *
 *   struct tq_backoff bo;
 *   tq_backoff_init(&bo, 100, 5000);          // 100, 200, 400, ... 5000, 5000 ms
 *   ...connect fails:  delay = tq_backoff_fail(&bo, tq_now_ms());  (wait, or test ready)
 *   ...connect works:  tq_backoff_ok(&bo);
 *
 * A plain value (no allocation): embed it, copy it, no free. Fields are read-only outside
 * tq_backoff.c; the clock is the caller's (any monotonic milliseconds, e.g. tq_now_ms). */
#ifndef TQ_BACKOFF_H
#define TQ_BACKOFF_H

#include <stdint.h>

struct tq_backoff {
    int64_t initial_ms, max_ms;
    unsigned factor;     /* growth per failure, >= 2 */
    unsigned jitter_pct; /* 0..100; 0 = no jitter */
    int64_t delay_ms;    /* the last delay before jitter; 0 = no failure since the last ok */
    int64_t next_ms;     /* no attempt before this time; 0 = go now */
    uint64_t rng;        /* jitter's xorshift state */
};

/* Sets the policy (factor 2, no jitter) and resets. initial_ms >= 1 and max_ms >= initial_ms
 * are enforced by raising them. */
void tq_backoff_init(struct tq_backoff *b, int64_t initial_ms, int64_t max_ms);

/* Growth factor per failure (values below 2 become 2). */
void tq_backoff_set_factor(struct tq_backoff *b, unsigned factor);

/* Jitter: each delay returned is cut by a random 0..pct % (pct capped at 100); seed picks the
 * sequence (0 picks a fixed one). */
void tq_backoff_set_jitter(struct tq_backoff *b, unsigned pct, uint64_t seed);

/* A failure at now_ms: returns the delay to wait before the next attempt (initial_ms after a
 * success, then growing to max_ms) and sets next_ms = now_ms + that delay. */
int64_t tq_backoff_fail(struct tq_backoff *b, int64_t now_ms);

/* The delay (before jitter) the next tq_backoff_fail will return; for logging "retry in". */
int64_t tq_backoff_peek(const struct tq_backoff *b);

/* A success: the next failure waits initial_ms again, and there is nothing to wait now. */
void tq_backoff_ok(struct tq_backoff *b);

/* 1 when an attempt may be made at now_ms (the last delay is over, or there was none). */
int tq_backoff_ready(const struct tq_backoff *b, int64_t now_ms);

/* Milliseconds left to wait at now_ms (0 when ready). */
int64_t tq_backoff_wait_ms(const struct tq_backoff *b, int64_t now_ms);

#endif

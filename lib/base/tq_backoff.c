/* tq_backoff — see tq_backoff.h. */
#include "tq_backoff.h"

void tq_backoff_init(struct tq_backoff *b, int64_t initial_ms, int64_t max_ms)
{
    b->initial_ms = initial_ms >= 1 ? initial_ms : 1;
    b->max_ms = max_ms >= b->initial_ms ? max_ms : b->initial_ms;
    b->factor = 2;
    b->jitter_pct = 0;
    b->rng = 0x9E3779B97F4A7C15ull;
    tq_backoff_ok(b);
}

void tq_backoff_set_factor(struct tq_backoff *b, unsigned factor)
{
    b->factor = factor >= 2 ? factor : 2;
}

void tq_backoff_set_jitter(struct tq_backoff *b, unsigned pct, uint64_t seed)
{
    b->jitter_pct = pct > 100 ? 100 : pct;
    b->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
}

int64_t tq_backoff_peek(const struct tq_backoff *b)
{
    if (b->delay_ms == 0)
        return b->initial_ms;
    /* no overflow: delay_ms <= max_ms, and past max_ms / factor the answer is max_ms */
    if (b->delay_ms > b->max_ms / (int64_t)b->factor)
        return b->max_ms;
    return b->delay_ms * (int64_t)b->factor;
}

static uint64_t next_random(struct tq_backoff *b)
{
    uint64_t x = b->rng; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b->rng = x;
    return x;
}

int64_t tq_backoff_fail(struct tq_backoff *b, int64_t now_ms)
{
    int64_t wait;

    b->delay_ms = tq_backoff_peek(b);
    wait = b->delay_ms;
    if (b->jitter_pct > 0) {
        int64_t span = wait * (int64_t)b->jitter_pct / 100;
        if (span > 0)
            wait -= (int64_t)(next_random(b) % (uint64_t)(span + 1));
    }
    b->next_ms = now_ms + wait;
    return wait;
}

void tq_backoff_ok(struct tq_backoff *b)
{
    b->delay_ms = 0;
    b->next_ms = 0;
}

int tq_backoff_ready(const struct tq_backoff *b, int64_t now_ms)
{
    return now_ms >= b->next_ms;
}

int64_t tq_backoff_wait_ms(const struct tq_backoff *b, int64_t now_ms)
{
    return now_ms >= b->next_ms ? 0 : b->next_ms - now_ms;
}

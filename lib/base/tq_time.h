/* tq_time — this host's clocks. The queue's state never depends on them (its scripts use
 * Redis's TIME); they time logs, the render log and local deadlines. */
#ifndef TQ_TIME_H
#define TQ_TIME_H

#include <stdint.h>

/* Unix time in milliseconds (wall clock: logs and the render log). */
int64_t tq_now_ms(void);

/* Monotonic time in milliseconds, with sub-millisecond precision: durations and local
 * deadlines (a wall-clock step never moves them). */
double tq_mono_ms(void);

/* Monotonic time in microseconds. */
int64_t tq_mono_us(void);

#endif

/* tq_publish — what the worker writes into Redis for the other programs to read:
 *   registry   HSET {tq}:workers <id> "host pid last_seen_ms"   (HDEL when it stops)
 *   figures    HSET {tq}:wmetrics:<id> ... + PEXPIRE, ZADD {tq}:wmetrics (the coordinators'
 *              /metrics; the fields: tq_wfigures.h)
 *   schema     HSET {tq}:schema <tileset> <layer fields json>    (the coordinators'
 *              TileJSON: tq_tilejson.h)
 * Keys and values are the wire contract's (tq_wire.h, tq_wfigures.h). Each writes once, now, when
 * Redis is connected (a Redis error drops the connection); tq_upkeep decides when. */
#ifndef TQ_PUBLISH_H
#define TQ_PUBLISH_H

struct tq_worker;

/* Writes this worker's registry entry (last seen: now). */
void tq_publish_register(struct tq_worker *w);

/* Removes this worker's registry entry (it is stopping). */
void tq_publish_unregister(struct tq_worker *w);

/* Writes this worker's figures in one pipelined round trip: the hash with every field, its
 * TTL, its index entry, and drops index entries older than the TTL. Clears stats.dirty. */
void tq_publish_figures(struct tq_worker *w);

/* Writes the layer schema of every prepared tileset. */
void tq_publish_schema(struct tq_worker *w);

#endif

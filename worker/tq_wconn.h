/* tq_wconn — the worker's two connections, Redis (the queue) and PostgreSQL (the renders),
 * kept up: connect on demand, drop on any error, reconnect with exponential backoff
 * (100 ms .. 5 s), never fatal. With sentinels, a live Redis connection asks them about
 * every second whether the master moved (then it is dropped and connected again).
 *
 * A PostgreSQL connection counts as up once every tileset's statements are prepared on it
 * (tq_render_reset + tq_render_prepare_all after each connect).
 *
 * Every connect bumps an epoch (tq_wconn_redis_epoch, tq_wconn_pg_epoch) so that what must
 * be redone on a new connection (the registry entry, the schema) can tell. */
#ifndef TQ_WCONN_H
#define TQ_WCONN_H

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "tq_config.h"
#include "tq_render.h"

struct tq_wconn; /* opaque */

/* A disconnected pair for cfg's Redis and PostgreSQL; renderer is prepared on every new
 * PostgreSQL connection. cfg and renderer are borrowed and must outlive it. NULL on OOM;
 * the caller frees it with tq_wconn_free(), which closes both connections. */
struct tq_wconn *tq_wconn_new(const struct tq_config *cfg, struct tq_renderer *renderer);
void tq_wconn_free(struct tq_wconn *c);

/* Connects to Redis (through the sentinels when configured: tq_redis.h) unless connected or
 * backing off; connected, asks the sentinels every second whether the master moved (drops
 * the connection when it did). 0 when connected. */
int tq_wconn_redis_ensure(struct tq_wconn *c);

/* Connects to PostgreSQL and prepares every tileset unless connected or backing off.
 * 0 when connected. */
int tq_wconn_pg_ensure(struct tq_wconn *c);

/* 1 while the connection is up (no error seen on it). */
int tq_wconn_redis_ok(const struct tq_wconn *c);
int tq_wconn_pg_ok(const struct tq_wconn *c);

/* The connections (borrowed; NULL while disconnected). */
redisContext *tq_wconn_redis(const struct tq_wconn *c);
PGconn *tq_wconn_pg(const struct tq_wconn *c);

/* Logs why (redis_error / pg_error), closes the connection and starts its backoff. Nothing
 * when already disconnected. */
void tq_wconn_redis_drop(struct tq_wconn *c, const char *why);
void tq_wconn_pg_drop(struct tq_wconn *c, const char *why);

/* Takes a reply whose content does not matter beyond success (what names the command for
 * the log) and frees it. 0, or -1 (an error reply or none: Redis was dropped). */
int tq_wconn_redis_simple(struct tq_wconn *c, const char *what, redisReply *r);

/* Leaves a clean PostgreSQL session for the next statement (a failed flush may leave a
 * transaction): rolls back, or drops a connection that is broken or still busy. */
void tq_wconn_pg_tidy(struct tq_wconn *c);

/* Lets the next tq_wconn_redis_ensure try at once, without waiting out the backoff. */
void tq_wconn_redis_retry_now(struct tq_wconn *c);

/* Sleeps until the next reconnect attempt is due, at most 1 s (a signal ends it early). */
void tq_wconn_idle(struct tq_wconn *c);

/* How many times Redis / PostgreSQL were connected. */
unsigned tq_wconn_redis_epoch(const struct tq_wconn *c);
unsigned tq_wconn_pg_epoch(const struct tq_wconn *c);

#endif

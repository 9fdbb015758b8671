/* tq_rconn — one hiredis async connection on a libevent loop that stays up: it reconnects
 * with backoff (100 ms doubling to 1 s) when the connection drops or cannot be made, and
 * gives every command a deadline, since hiredis 0.14 has neither. With Redis Sentinel in
 * the config (redis_sentinels, redis_sentinel_master) it asks the sentinels for the master
 * before every connect, over async connections (the loop goes on serving meanwhile), and
 * checks ROLE on the address they give; while UP it asks them again every second and
 * reconnects when they name another master. With Redis Cluster (redis_cluster_nodes) the same
 * walk asks the seed nodes CLUSTER SLOTS for the master of the {tq} slot (tq_redis.h), and the
 * handshake asks that master about the slot (EXISTS on a {tq} key): a MOVED there, or in the
 * reply to any command, names the slot's master now, and the connection reconnects to it at
 * once (RESOLVING skipped). An ASK (the slot is migrating and the key is on the target
 * already) sends the command again, after ASKING, on a connection of its own to the node
 * it names; its reply goes to the command's callback. When that cannot be sent, the ASK
 * resets the connection like TRYAGAIN: the command fails, its owner retries it.
 *
 * States:
 *        tq_rconn_start / backoff timer
 *   DOWN ──────────────────────────────▶ RESOLVING (sentinels, cluster nodes: each in turn, 1 s)
 *     ▲ ◀── no sentinel answered ────────────│ master's host:port
 *     │                                      ▼                     PING answered
 *     │                                  CONNECTING ─────────────────────────────────▶ UP
 *     │                                      │ connect error, connect deadline,         │
 *     └───────── backoff timer armed ◀───────┘ AUTH/ROLE (not master)/SELECT fail       │
 *     ▲                                                                                 │
 *     └─ disconnect, error, tq_rconn_reset, a READONLY/LOADING/MASTERDOWN/UNBLOCKED reply ┘
 *        (or MOVED/ASK: tq_redis_error_is_reconnect)
 * The state callback is called on every UP and on every UP→DOWN change. */
#ifndef TQ_RCONN_H
#define TQ_RCONN_H

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "tq_config.h"

struct tq_rconn;

/* up is 1 when the connection became usable, 0 when it was lost. */
typedef void (*tq_rconn_state_cb)(struct tq_rconn *rc, int up, void *arg);

/* Called exactly once per command: with the reply (owned by hiredis, valid only during the
 * call; it may be an error reply), or with reply NULL and err saying why ("timeout",
 * "disconnected", "shutdown"). A reply that arrives after the deadline is dropped. */
typedef void (*tq_rconn_reply_cb)(struct tq_rconn *rc, redisReply *reply, const char *err,
                                  void *arg);

/* Creates a connection (not started) to cfg's Redis: redis_url, or the master its sentinels
 * name. name is for logs (copied). cfg is borrowed and must outlive rc. Returns NULL on OOM
 * or when cfg->redis_url does not parse. */
struct tq_rconn *tq_rconn_new(struct event_base *base, const char *name,
                              const struct tq_config *cfg, tq_rconn_state_cb cb, void *arg);

/* Starts connecting. */
void tq_rconn_start(struct tq_rconn *rc);

/* 1 when the connection is UP. */
int tq_rconn_is_up(const struct tq_rconn *rc);

/* Times the connection became UP again after its first UP (0 for NULL). */
unsigned long tq_rconn_reconnects(const struct tq_rconn *rc);

/* Sends a command (hiredis format). timeout_ms 0 means no deadline. Returns 0 (cb will be
 * called exactly once, never from inside this function), or -1 when the connection is not
 * UP or the command could not be queued (cb is not called). */
int tq_rconn_command(struct tq_rconn *rc, int timeout_ms, tq_rconn_reply_cb cb, void *arg,
                     const char *fmt, ...);

/* Drops the connection (deferred to the loop, so it is safe inside a reply callback) and
 * reconnects after the backoff. Outstanding commands fail with "disconnected". */
void tq_rconn_reset(struct tq_rconn *rc);

/* Closes the connection for good: outstanding commands fail with "shutdown", no reconnect,
 * no state callback. Frees rc. Must not be called from inside one of rc's callbacks. */
void tq_rconn_free(struct tq_rconn *rc);

#endif

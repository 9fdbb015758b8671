/* tq_redis — the one synchronous Redis connect of every tileq program (worker, CLI, bench),
 * and what the coordinator's asynchronous connections (coordinator/tq_rconn.c) share with it.
 *
 * Where the master is:
 *   - redis_url alone: its host:port.
 *   - sentinels + sentinel_master (struct tq_redis_target; configured as redis_sentinels
 *     and redis_sentinel_master, tq_config.h): each sentinel in turn is asked
 *     SENTINEL get-master-addr-by-name NAME; the first answer wins, and the address it gives
 *     must say ROLE master (right after a failover a sentinel may still name the old master,
 *     now a replica, or one that is down). redis_url then gives only the password and db.
 *   - cluster_nodes (Redis Cluster; configured as redis_cluster_nodes): each seed node in turn
 *     is asked CLUSTER SLOTS; the master serving the slot of the {tq} hash tag
 *     (tq_redis_key_slot(TQ_QUEUE_PREFIX), every tileq key has it: one slot, one master) is
 *     the node to use. That node is then asked about the slot (EXISTS on a {tq} key): a MOVED
 *     answer (a seed's view was stale) is followed, up to TQ_REDIS_MAX_REDIRECTS times.
 *     redis_url gives only the password (db must be 0: a cluster has no other).
 * Then AUTH (when there is a password: tq_redis_credentials; with an ACL user other than
 * "default", AUTH user password) and SELECT (db != 0). No message ever holds the password
 * (a bad URL is shown through tq_secret_redact_url).
 *
 * After a failover the old master refuses writes (READONLY), a restarting one answers LOADING,
 * a replica cut from its master MASTERDOWN, a master with min-replicas-to-write and too few
 * replicas NOREPLICAS, and Redis wakes blocked clients with UNBLOCKED
 * when their master turns replica: tq_redis_error_is_reconnect() says an error reply means
 * "drop this connection and connect again" (which finds the new master). In a cluster, MOVED
 * (the {tq} slot has a new master: connecting again asks the cluster where it is now) and ASK
 * (the slot is being migrated: the command may succeed a moment later) are such errors too:
 * the worker retries its step and the coordinator its held requests as for a lost
 * connection (the coordinator follows an ASK itself first: tq_rconn.h); a CLI command fails
 * with the error and can be run again. */
#ifndef TQ_REDIS_H
#define TQ_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/* Redis Sentinel: one sentinel's address. */
struct tq_hostport {
    char *host;
    int port;
};

/* Which Redis to reach: url alone, or sentinels (nsentinels > 0) that name the master
 * sentinel_master; url then gives only the password and db. Borrowed pointers (the
 * configuration's: tq_config_redis_target()). */
struct tq_redis_target {
    const char *url;
    const struct tq_hostport *sentinels;
    size_t nsentinels;
    const char *sentinel_master;
    /* Redis Cluster (ncluster_nodes > 0, never with sentinels): seed nodes; see above. */
    const struct tq_hostport *cluster_nodes;
    size_t ncluster_nodes;
    /* Credentials (issue 16): an ACL user (NULL: the one in url, else "default") and a
     * password (NULL: the one in url, else none) given apart from url, e.g. read from a
     * password file or the environment (tq_config.h). AUTH user password when there is a
     * user, AUTH password otherwise. */
    const char *user;
    const char *password;
};

/* Parses "redis://[[user]:password@]host[:port][/db]" or "host:port" (user and password
 * percent-decoded). Returns 0, or -1. *host and *password are malloc'd (password NULL when
 * absent); the caller frees. */
int tq_redis_url_parse(const char *url, char **host, int *port, char **password, int *db);

/* The user (NULL: none in the URL, or "default") and password (NULL: none) a target
 * authenticates with: target->user / ->password where set, else url's. Both malloc'd; the
 * caller frees. 0, or -1 (bad url, out of memory). */
int tq_redis_credentials(const struct tq_redis_target *target, char **user, char **password);

/* Where a connect went (for logs). */
struct tq_redis_addr {
    char host[256];
    int port;
    int db;
};

/* Connects to the master target names (see above), with a connect deadline of connect_ms
 * (for each sentinel too) and a deadline of command_ms on every command afterwards
 * (0: none). Returns a connected context the caller frees with redisFree(), and fills *addr
 * when addr is not NULL; or NULL with a one-line reason in err ("sentinel ...: ...",
 * "connect host:port: ...", "AUTH: ...", "not a master: ..."). */
redisContext *tq_redis_connect(const struct tq_redis_target *target, int connect_ms, int command_ms,
                               struct tq_redis_addr *addr, char *err, size_t errsize);

/* Asks target's sentinels, each in turn (connect_ms deadline each), for the master's address.
 * 0 with host/port filled, or -1 with err saying what each sentinel answered (the last one's
 * reason when all failed). */
int tq_redis_sentinel_resolve(const struct tq_redis_target *target, int connect_ms, char *host,
                              size_t hostsize, int *port, char *err, size_t errsize);

/* With sentinels configured: 1 when they now name a master other than addr (err then says
 * which: drop the connection and connect again), 0 when they name addr, -1 when none
 * answered (connect_ms each; err says why). A SENTINEL FAILOVER promotes the replica without
 * disconnecting the old master's clients, and the sentinels demote the old master only when
 * they next look at it (up to ~10 s): writes it takes meanwhile are lost, so a long-lived
 * connection asks about every second. */
int tq_redis_master_moved(const struct tq_redis_target *target, const struct tq_redis_addr *addr,
                          int connect_ms, char *err, size_t errsize);

/* Reads a SENTINEL get-master-addr-by-name reply: 0 with host/port, or -1 with err (a nil
 * reply: the sentinel does not know the name). */
int tq_redis_master_addr_reply(const redisReply *r, char *host, size_t hostsize, int *port,
                               char *err, size_t errsize);

/* Reads a ROLE reply: 1 when it says master, else 0 with the role (or the error) in err. */
int tq_redis_role_is_master(const redisReply *r, char *err, size_t errsize);

/* ---- Redis Cluster ---------------------------------------------------------------------- */

#define TQ_REDIS_CLUSTER_SLOTS 16384
#define TQ_REDIS_MAX_REDIRECTS 5

/* The cluster slot of key[0..len): CRC16 (XMODEM) mod 16384 of the key, or of its hash tag,
 * the part between the first '{' and the next '}' when that part is not empty. */
unsigned tq_redis_key_slot(const char *key, size_t len);

/* Reads a CLUSTER SLOTS reply: 0 with host/port of the master serving slot, or -1 with err
 * (no range holds it: the cluster is not ready). A master listed with an empty address
 * ("" = the address the question was sent to) gets asked_host. */
int tq_redis_cluster_slot_owner(const redisReply *r, unsigned slot, const char *asked_host,
                                char *host, size_t hostsize, int *port, char *err, size_t errsize);

enum tq_redis_redirect { TQ_REDIS_NOT_REDIRECT = 0, TQ_REDIS_MOVED, TQ_REDIS_ASK };

/* Reads an error reply's text "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>"
 * (host may be an IPv6 address, the port follows the last ':'): the kind with slot, host
 * and port filled, or TQ_REDIS_NOT_REDIRECT for anything else (msg may be NULL). */
enum tq_redis_redirect tq_redis_redirect_parse(const char *msg, unsigned *slot, char *host,
                                               size_t hostsize, int *port);

/* Asks target's cluster nodes, each in turn (connect_ms deadline each, AUTH with redis_url's
 * password), CLUSTER SLOTS: 0 with host/port of the master of the {tq} slot, or -1 with err
 * saying what the last node answered. */
int tq_redis_cluster_resolve(const struct tq_redis_target *target, int connect_ms, char *host,
                             size_t hostsize, int *port, char *err, size_t errsize);

/* 1 when an error reply's text (as in redisReply.str) means the connection must be dropped
 * and made again: READONLY, LOADING, MASTERDOWN, UNBLOCKED, NOREPLICAS, and the passing
 * states BUSY (a script runs too long), TRYAGAIN and CLUSTERDOWN (a cluster resharding or
 * failing over), and in a cluster MOVED and ASK (see above): the same command may succeed
 * on a new connection a moment later. msg may be NULL (0). */
int tq_redis_error_is_reconnect(const char *msg);

/* The same for a reply (NULL or not an error: 0). */
int tq_redis_reply_is_reconnect(const redisReply *r);

#endif

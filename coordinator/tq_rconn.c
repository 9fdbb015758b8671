/* tq_rconn — see tq_rconn.h.
 *
 * Ownership: rc owns its redisAsyncContext (rc->ac) until hiredis frees it (after a
 * disconnect or a failed connect) or we do (rc_drop, tq_rconn_free). A struct rcmd is owned
 * by hiredis's reply queue from a successful redisvAsyncCommand until on_reply, which frees
 * it; the deadline timer only marks it finished, so a late reply finds it still allocated.
 * The sentinel context (rc->sac) is rc's while it asks one sentinel; it is let go (hiredis
 * frees it after redisAsyncDisconnect, or we free it outside hiredis's callbacks) as soon as
 * that sentinel answered, failed or ran out of time, and rc->sac is cleared first so its late
 * callbacks see it is no longer the current one.
 *
 * Sentinel resolution never blocks the loop: the sentinels are asked over async connections
 * (one at a time, RC_SENTINEL_TIMEOUT_MS each), and the next one is tried from a zero-delay
 * event, not from inside a hiredis callback. (A sentinel or master given as a host name is
 * resolved by hiredis with a blocking getaddrinfo: give addresses.) */
#include "tq_rconn.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include "tq_log.h"
#include "tq_queue.h" /* TQ_QUEUE_PREFIX: the {tq} slot */
#include "tq_redis.h"

#define RC_BACKOFF_MIN_MS 100
/* At most a second between attempts: requests held while Redis is away (queue.hold_seconds)
 * are sent within a second of its return. A refused connect on a LAN costs nothing. */
#define RC_BACKOFF_MAX_MS 1000
#define RC_CONNECT_TIMEOUT_MS 2000
#define RC_SENTINEL_TIMEOUT_MS 1000
#define RC_SENTINEL_CHECK_MS 1000 /* while UP, ask the sentinels whether the master moved */

struct tq_rconn {
    struct event_base *base;
    const struct tq_config *cfg; /* borrowed: sentinels and master name */
    char *name, *password;
    char *user;     /* ACL user, NULL: "default" (AUTH password alone); see tq_redis_credentials */
    char host[256]; /* the master's: redis_url's, or the last one the sentinels named */
    int port, db;
    tq_rconn_state_cb state_cb;
    void *state_arg;
    redisAsyncContext *ac; /* NULL while DOWN */
    int up;
    int stopping;
    int handshake_failed; /* an AUTH/ROLE/SELECT answer failed: the PING must not make it UP */
    int backoff_ms;
    unsigned long ups;        /* times the connection became UP */
    struct event *retry_ev;   /* backoff before the next connect */
    struct event *reset_ev;   /* deferred tq_rconn_reset */
    struct event *connect_ev; /* deadline for connect + handshake */
    /* sentinel resolution (cfg->nredis_sentinels > 0) */
    redisAsyncContext *sac;    /* the sentinel being asked, NULL otherwise */
    size_t sidx;               /* its index in cfg->redis_sentinels */
    char swhy[200];            /* why the last sentinel failed */
    struct event *sentinel_ev; /* deadline for the sentinel being asked */
    struct event *snext_ev;    /* zero-delay: ask the next sentinel */
    struct event *check_ev;    /* while UP: time for the next check */
    int checking;              /* the sentinels are asked while UP (RC_SENTINEL_CHECK_MS) */
    int retry_now;             /* the next reconnect without backoff (the master moved) */
    /* Redis Cluster (cfg->nredis_cluster_nodes > 0): the walk above asks the cluster nodes
     * CLUSTER SLOTS instead, and a MOVED names the next master to try directly. */
    int cluster;
    int has_hint;      /* connect to hint_host:hint_port next, without asking the nodes */
    int hops;          /* MOVED followed since the last UP (at most TQ_REDIS_MAX_REDIRECTS) */
    struct rask *asks; /* ASK redirections in progress */
    char hint_host[256];
    int hint_port;
};

struct rcmd {
    struct tq_rconn *rc;
    tq_rconn_reply_cb cb;
    void *arg;
    struct event *timer; /* deadline, NULL when none */
    int finished;        /* cb already called (deadline passed) */
    int raw;             /* a reconnect-class error reply is cb's to handle (the slot probe) */
    char *buf;           /* the command as sent (cluster: to send it again after an ASK) */
    size_t len;
};

/* An ASK redirection in progress: cmd sent, after ASKING, on a connection of its own to the
 * node the ASK named. Owned by rc->asks until on_ask_reply (called exactly once, with the
 * reply or NULL when the connection failed or was freed), which unlinks and frees it and
 * cmd; hiredis frees ac after that. */
struct rask {
    struct tq_rconn *rc;
    redisAsyncContext *ac;
    struct rcmd *cmd;
    struct rask *next;
};

static void rc_connect(struct tq_rconn *rc);
static void sentinel_drop(struct tq_rconn *rc);

static struct timeval ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static void schedule_retry(struct tq_rconn *rc)
{
    struct timeval tv;

    if (rc->stopping || evtimer_pending(rc->retry_ev, NULL))
        return;
    if (rc->retry_now) { /* a known new master: no reason to wait */
        rc->retry_now = 0;
        tv = ms_tv(0);
        evtimer_add(rc->retry_ev, &tv);
        return;
    }
    tv = ms_tv(rc->backoff_ms);
    evtimer_add(rc->retry_ev, &tv);
    rc->backoff_ms *= 2;
    int max = RC_BACKOFF_MAX_MS;
    if (rc->backoff_ms > max)
        rc->backoff_ms = max;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    rc_connect(arg);
}

/* Marks rc DOWN after its context went away (freed by hiredis or by us) and schedules the
 * reconnect; tells the owner when it had been UP. */
static void rc_lost(struct tq_rconn *rc, int was_up, const char *why)
{
    rc->ac = NULL;
    rc->up = 0;
    evtimer_del(rc->connect_ev);
    evtimer_del(rc->check_ev);
    if (rc->checking) { /* a check of the master we just lost: moot */
        rc->checking = 0;
        evtimer_del(rc->snext_ev);
        sentinel_drop(rc);
    }
    char qwhy[160];

    if (rc->stopping)
        return;
    tq_log_warn("redis_down", "conn=%s host=%s port=%d reason=%s retry_ms=%d", rc->name, rc->host,
                rc->port, tq_log_quote(why, qwhy, sizeof qwhy), rc->backoff_ms);
    schedule_retry(rc);
    if (was_up && rc->state_cb)
        rc->state_cb(rc, 0, rc->state_arg);
}

/* Frees the current context now. Never called from inside a hiredis callback. */
static void rc_drop(struct tq_rconn *rc, const char *why)
{
    redisAsyncContext *ac = rc->ac;
    int was_up = rc->up;

    if (ac == NULL)
        return;
    /* Detach first: on_disconnect then sees rc->ac != ac and leaves the bookkeeping to us,
     * and the reply callbacks redisAsyncFree runs see the connection as gone. */
    rc->ac = NULL;
    rc->up = 0;
    redisAsyncFree(ac);
    rc_lost(rc, was_up, why);
}

static void on_reset(evutil_socket_t fd, short what, void *arg)
{
    rc_drop(arg, "reset");
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct tq_rconn *rc = arg;

    if (rc->ac != NULL && !rc->up)
        rc_drop(rc, "connect_timeout");
}

/* In a cluster, a MOVED error (msg) names the {tq} slot's new master: the next connect goes
 * there at once (no backoff, no walk over the nodes, whose view may lag behind). 1 when
 * msg was a MOVED. */
static int rc_note_moved(struct tq_rconn *rc, const char *msg)
{
    unsigned slot;

    if (!rc->cluster || tq_redis_redirect_parse(msg, &slot, rc->hint_host, sizeof rc->hint_host,
                                                &rc->hint_port) != TQ_REDIS_MOVED)
        return 0;
    if (++rc->hops > TQ_REDIS_MAX_REDIRECTS) /* nodes disagree: back to asking, with backoff */
        return 1;
    tq_log_warn("redis_moved", "conn=%s host=%s port=%d slot=%u new_host=%s new_port=%d", rc->name,
                rc->host, rc->port, slot, rc->hint_host, rc->hint_port);
    rc->has_hint = 1;
    rc->retry_now = 1;
    return 1;
}

static void rcmd_free(struct rcmd *cmd)
{
    if (cmd->timer)
        event_free(cmd->timer);
    if (cmd->buf)
        redisFreeCommand(cmd->buf);
    free(cmd);
}

/* The reply of a command sent again after an ASK (see struct rask). */
static void on_ask_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rask *a = privdata;
    struct tq_rconn *rc = a->rc;
    struct rcmd *cmd = a->cmd;

    for (struct rask **pp = &rc->asks; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    if (r != NULL)
        redisAsyncDisconnect(ac); /* hiredis frees it once this callback returns */
    free(a);
    if (!cmd->finished) {
        cmd->finished = 1;
        cmd->cb(rc, r, r ? NULL : (rc->stopping ? "shutdown" : "disconnected"), cmd->arg);
    }
    rcmd_free(cmd);
}

/* Queues AUTH on ac (no callback: a refused AUTH makes the next command fail with NOAUTH)
 * with rc's ACL user when there is one. REDIS_OK or REDIS_ERR. */
static int rc_auth(struct tq_rconn *rc, redisAsyncContext *ac)
{
    if (rc->user != NULL)
        return redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", rc->user, rc->password);
    return redisAsyncCommand(ac, NULL, NULL, "AUTH %s", rc->password);
}

/* Cluster: when r is an ASK (the {tq} slot is being migrated and this key is already on the
 * target), sends cmd again on a new connection to the node it names: AUTH, ASKING, cmd
 * (their answers but cmd's are not needed: a refused AUTH makes cmd fail too). 0 when cmd
 * now belongs to that redirection, -1 when r is no ASK or it could not be sent (then the
 * ASK is handled like TRYAGAIN: reset, cmd fails, the owner retries). */
static int rc_follow_ask(struct tq_rconn *rc, struct rcmd *cmd, const redisReply *r)
{
    char host[256];
    unsigned slot;
    int port;
    struct rask *a = NULL;
    redisAsyncContext *ac = NULL;
    int rv = -1;

    if (!rc->cluster || cmd->buf == NULL || r == NULL || r->type != REDIS_REPLY_ERROR ||
        tq_redis_redirect_parse(r->str, &slot, host, sizeof host, &port) != TQ_REDIS_ASK)
        goto cleanup;
    a = calloc(1, sizeof *a);
    ac = redisAsyncConnect(host, port);
    if (a == NULL || ac == NULL || ac->err || redisLibeventAttach(ac, rc->base) != REDIS_OK)
        goto cleanup;
    ac->data = a;
    /* Until the last command is queued, no callback of ours is on ac (freeing it is quiet). */
    if ((rc->password && rc_auth(rc, ac) != REDIS_OK) ||
        redisAsyncCommand(ac, NULL, NULL, "ASKING") != REDIS_OK ||
        redisAsyncFormattedCommand(ac, on_ask_reply, a, cmd->buf, cmd->len) != REDIS_OK)
        goto cleanup;
    a->rc = rc;
    a->ac = ac;
    a->cmd = cmd;
    a->next = rc->asks;
    rc->asks = a;
    tq_log_info("redis_ask", "conn=%s slot=%u host=%s port=%d", rc->name, slot, host, port);
    a = NULL;
    ac = NULL;
    rv = 0;
cleanup:
    if (ac)
        redisAsyncFree(ac);
    free(a);
    return rv;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rcmd *cmd = privdata;
    struct tq_rconn *rc = cmd->rc;

    if (rc->ac == ac && !cmd->raw && !cmd->finished && !rc->stopping &&
        rc_follow_ask(rc, cmd, r) == 0)
        return; /* cmd now belongs to the redirection */
    if (cmd->timer) {
        event_free(cmd->timer);
        cmd->timer = NULL;
    }
    if (rc->ac == ac && !cmd->raw && tq_redis_reply_is_reconnect(r)) {
        char qe[160];
        tq_log_warn("redis_reconnect_reply", "conn=%s host=%s port=%d error=%s", rc->name, rc->host,
                    rc->port, tq_log_quote(((redisReply *)r)->str, qe, sizeof qe));
        rc_note_moved(rc, ((redisReply *)r)->str);
        tq_rconn_reset(rc);
    }
    if (!cmd->finished) {
        cmd->finished = 1;
        cmd->cb(rc, r, r ? NULL : (rc->stopping ? "shutdown" : "disconnected"), cmd->arg);
    }
    rcmd_free(cmd);
}

static void on_cmd_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct rcmd *cmd = arg;

    if (cmd->finished)
        return;
    cmd->finished = 1;
    cmd->cb(cmd->rc, NULL, "timeout", cmd->arg);
}

static int rc_vsend(struct tq_rconn *rc, int raw, int timeout_ms, tq_rconn_reply_cb cb, void *arg,
                    const char *fmt, va_list ap)
{
    int rv = -1;
    struct rcmd *cmd = NULL;

    if (rc->ac == NULL)
        goto cleanup;
    cmd = calloc(1, sizeof *cmd);
    if (cmd == NULL)
        goto cleanup;
    cmd->rc = rc;
    cmd->cb = cb;
    cmd->arg = arg;
    cmd->raw = raw;
    if (timeout_ms > 0) {
        struct timeval tv = ms_tv(timeout_ms);
        cmd->timer = evtimer_new(rc->base, on_cmd_timeout, cmd);
        if (cmd->timer == NULL || evtimer_add(cmd->timer, &tv) != 0)
            goto cleanup;
    }
    /* Formatted here and kept, so that an ASK can send it again (rc_follow_ask). */
    int len = redisvFormatCommand(&cmd->buf, fmt, ap);
    if (len < 0) {
        cmd->buf = NULL;
        goto cleanup;
    }
    cmd->len = (size_t)len;
    if (redisAsyncFormattedCommand(rc->ac, on_reply, cmd, cmd->buf, cmd->len) != REDIS_OK)
        goto cleanup;
    cmd = NULL; /* hiredis holds it until on_reply */
    rv = 0;
cleanup:
    if (cmd)
        rcmd_free(cmd);
    return rv;
}

static int rc_send(struct tq_rconn *rc, int raw, int timeout_ms, tq_rconn_reply_cb cb, void *arg,
                   const char *fmt, ...)
{
    va_list ap;
    int rv;

    va_start(ap, fmt);
    rv = rc_vsend(rc, raw, timeout_ms, cb, arg, fmt, ap);
    va_end(ap);
    return rv;
}

/* AUTH / SELECT answers: an error means the handshake failed. */
static void on_handshake_step(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        char qe[160];
        tq_log_error("redis_handshake_failed", "conn=%s step=%s error=%s", rc->name,
                     (const char *)arg, tq_log_quote(reply->str, qe, sizeof qe));
        rc->handshake_failed = 1;
        tq_rconn_reset(rc);
    }
}

/* ROLE answer (with sentinels): the address they named must be the master now. */
static void on_role(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    char why[200], q[260];

    if (reply == NULL || tq_redis_role_is_master(reply, why, sizeof why))
        return;
    tq_log_warn("redis_not_master", "conn=%s host=%s port=%d error=%s", rc->name, rc->host,
                rc->port, tq_log_quote(why, q, sizeof q));
    rc->handshake_failed = 1;
    tq_rconn_reset(rc);
}

/* Answer to the {tq} slot probe (cluster): an integer or an ASK (the slot migrates away from
 * this node, which serves it meanwhile) says this master is the right one; a MOVED names
 * the right one, to connect to at once. */
static void on_slot_probe(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    unsigned slot;
    char host[256], q[260];
    int port;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR ||
        tq_redis_redirect_parse(reply->str, &slot, host, sizeof host, &port) == TQ_REDIS_ASK)
        return;
    if (!rc_note_moved(rc, reply->str))
        tq_log_error("redis_handshake_failed", "conn=%s step=slot_probe error=%s", rc->name,
                     tq_log_quote(reply->str, q, sizeof q));
    rc->handshake_failed = 1;
    tq_rconn_reset(rc);
}

static void on_ping(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    if (reply == NULL)
        return; /* dropped: rc_lost already ran or will */
    if (reply->type == REDIS_REPLY_ERROR) {
        char qe[160];
        tq_log_error("redis_handshake_failed", "conn=%s step=ping error=%s", rc->name,
                     tq_log_quote(reply->str, qe, sizeof qe));
        tq_rconn_reset(rc);
        return;
    }
    if (rc->up || rc->handshake_failed)
        return;
    evtimer_del(rc->connect_ev);
    rc->up = 1;
    rc->ups++;
    rc->hops = 0;
    rc->backoff_ms = RC_BACKOFF_MIN_MS;
    tq_log_info("redis_connected", "conn=%s host=%s port=%d db=%d sentinel_master=%s cluster=%d",
                rc->name, rc->host, rc->port, rc->db,
                rc->cfg->redis_sentinel_master ? rc->cfg->redis_sentinel_master : "-", rc->cluster);
    if (rc->cfg->nredis_sentinels > 0) {
        struct timeval tv = ms_tv(RC_SENTINEL_CHECK_MS);
        evtimer_add(rc->check_ev, &tv);
    }
    if (rc->state_cb)
        rc->state_cb(rc, 1, rc->state_arg);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    struct tq_rconn *rc = cac->data;

    if (rc->ac != cac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this returns */
        rc_lost(rc, 0, cac->errstr[0] ? cac->errstr : "connect_failed");
        return;
    }
    if (rc->password && rc->user)
        rc_send(rc, 0, 0, on_handshake_step, "auth", "AUTH %s %s", rc->user, rc->password);
    else if (rc->password)
        rc_send(rc, 0, 0, on_handshake_step, "auth", "AUTH %s", rc->password);
    if (rc->cfg->nredis_sentinels > 0)
        rc_send(rc, 0, 0, on_role, NULL, "ROLE");
    if (rc->cluster)
        rc_send(rc, 1, 0, on_slot_probe, NULL, "EXISTS %s", TQ_QUEUE_PREFIX);
    if (rc->db != 0)
        rc_send(rc, 0, 0, on_handshake_step, "select", "SELECT %d", rc->db);
    rc_send(rc, 0, 0, on_ping, NULL, "PING");
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    struct tq_rconn *rc = cac->data;

    if (rc->ac != cac)
        return; /* we dropped it ourselves */
    rc_lost(rc, rc->up, cac->errstr[0] ? cac->errstr : "disconnected");
}

/* Connects to the master at rc->host:rc->port. */
static void rc_connect_master(struct tq_rconn *rc)
{
    redisAsyncContext *ac;
    struct timeval tv = ms_tv(RC_CONNECT_TIMEOUT_MS);

    if (rc->stopping || rc->ac != NULL)
        return;
    rc->handshake_failed = 0;
    ac = redisAsyncConnect(rc->host, rc->port);
    if (ac == NULL || ac->err) {
        char qe[160];
        tq_log_warn("redis_connect_failed", "conn=%s host=%s port=%d error=%s retry_ms=%d",
                    rc->name, rc->host, rc->port,
                    tq_log_quote(ac ? ac->errstr : "out of memory", qe, sizeof qe), rc->backoff_ms);
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(rc);
        return;
    }
    ac->data = rc;
    if (redisLibeventAttach(ac, rc->base) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_retry(rc);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    rc->ac = ac;
    evtimer_add(rc->connect_ev, &tv);
}

/* ---- Sentinel resolution -------------------------------------------------------------- *
 *
 *   rc_connect ──▶ ask sentinel 0 ──answer: host:port──▶ rc_connect_master (CONNECTING)
 *                      │ error, nil, timeout, disconnect
 *                      ▼
 *                  ask sentinel 1 ... ──all failed──▶ DOWN, backoff timer armed
 *
 * While UP, every RC_SENTINEL_CHECK_MS the same walk checks the master (rc->checking): a
 * SENTINEL FAILOVER promotes the replica without touching the old master's clients, and the
 * sentinels turn the old master into a replica only when they next look at it (up to ~10 s
 * later); writes it takes meanwhile are lost. A check that names another master resets the
 * connection (→ DOWN → RESOLVING); a check no sentinel answers changes nothing. */

/* A check ended: the next one after RC_SENTINEL_CHECK_MS while UP. */
static void check_done(struct tq_rconn *rc)
{
    struct timeval tv = ms_tv(RC_SENTINEL_CHECK_MS);

    rc->checking = 0;
    if (rc->up && !rc->stopping)
        evtimer_add(rc->check_ev, &tv);
}

static void sentinel_ask(struct tq_rconn *rc);

/* The nodes the walk asks: the sentinels, or the cluster's seed nodes. */
static const struct tq_hostport *walk_nodes(const struct tq_rconn *rc, size_t *n)
{
    *n = rc->cluster ? rc->cfg->nredis_cluster_nodes : rc->cfg->nredis_sentinels;
    return rc->cluster ? rc->cfg->redis_cluster_nodes : rc->cfg->redis_sentinels;
}

/* Lets the current sentinel context go (sidx unchanged). Not inside its callbacks: there
 * use redisAsyncDisconnect after clearing rc->sac. */
static void sentinel_drop(struct tq_rconn *rc)
{
    redisAsyncContext *sac = rc->sac;

    evtimer_del(rc->sentinel_ev);
    if (sac == NULL)
        return;
    rc->sac = NULL;
    redisAsyncFree(sac);
}

/* The current sentinel failed (why): the next one is asked from the loop. rc->sac is
 * already cleared and let go. */
static void sentinel_failed(struct tq_rconn *rc, const char *why)
{
    struct timeval now = {0, 0};
    size_t n;
    const struct tq_hostport *s = &walk_nodes(rc, &n)[rc->sidx];

    evtimer_del(rc->sentinel_ev);
    snprintf(rc->swhy, sizeof rc->swhy, "%s:%d: %s", s->host, s->port, why);
    rc->sidx++;
    if (!rc->stopping)
        evtimer_add(rc->snext_ev, &now);
}

static void on_sentinel_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct tq_rconn *rc = privdata;
    char why[200], host[256], q[260];
    int port = 0;

    if (rc->sac != ac || r == NULL)
        return; /* let go already, or being freed (the disconnect callback follows) */
    rc->sac = NULL;
    redisAsyncDisconnect(ac); /* hiredis frees it once this callback returns */
    size_t n;
    const struct tq_hostport *s = &walk_nodes(rc, &n)[rc->sidx];
    unsigned slot = tq_redis_key_slot(TQ_QUEUE_PREFIX, strlen(TQ_QUEUE_PREFIX));
    if ((rc->cluster
             ? tq_redis_cluster_slot_owner(r, slot, s->host, host, sizeof host, &port, why,
                                           sizeof why)
             : tq_redis_master_addr_reply(r, host, sizeof host, &port, why, sizeof why)) != 0) {
        sentinel_failed(rc, why);
        return;
    }
    evtimer_del(rc->sentinel_ev);
    int moved = strcmp(host, rc->host) != 0 || port != rc->port;
    if (rc->checking) {
        check_done(rc);
        if (moved) {
            tq_log_warn("redis_master_moved",
                        "conn=%s master=%s sentinel=%s:%d host=%s port=%d new_host=%s new_port=%d",
                        rc->name, tq_log_quote(rc->cfg->redis_sentinel_master, q, sizeof q),
                        s->host, s->port, rc->host, rc->port, host, port);
            rc->retry_now = 1;
            tq_rconn_reset(rc);
        }
        return;
    }
    if (moved)
        tq_log_info(
            "redis_master_changed",
            "conn=%s master=%s sentinel=%s:%d old_host=%s old_port=%d host=%s port=%d", rc->name,
            tq_log_quote(rc->cluster ? "{tq}" : rc->cfg->redis_sentinel_master, q, sizeof q),
            s->host, s->port, rc->host, rc->port, host, port);
    snprintf(rc->host, sizeof rc->host, "%s", host);
    rc->port = port;
    rc_connect_master(rc);
}

static void on_sentinel_connect(const redisAsyncContext *cac, int status)
{
    struct tq_rconn *rc = cac->data;

    if (rc->sac != cac || status == REDIS_OK)
        return;
    rc->sac = NULL; /* hiredis frees it after this returns */
    sentinel_failed(rc, cac->errstr[0] ? cac->errstr : "connect failed");
}

static void on_sentinel_disconnect(const redisAsyncContext *cac, int status)
{
    struct tq_rconn *rc = cac->data;

    if (rc->sac != cac)
        return;
    rc->sac = NULL;
    sentinel_failed(rc, cac->errstr[0] ? cac->errstr : "disconnected");
}

static void on_sentinel_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct tq_rconn *rc = arg;

    if (rc->sac == NULL)
        return;
    sentinel_drop(rc);
    sentinel_failed(rc, "timeout");
}

static void on_sentinel_next(evutil_socket_t fd, short what, void *arg)
{
    sentinel_ask(arg);
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
    struct tq_rconn *rc = arg;

    if (!rc->up || rc->stopping || rc->sac != NULL)
        return;
    rc->checking = 1;
    rc->sidx = 0;
    sentinel_ask(rc);
}

/* Asks sentinel rc->sidx for the master; past the last one, goes DOWN with backoff. */
static void sentinel_ask(struct tq_rconn *rc)
{
    const struct tq_config *cfg = rc->cfg;
    struct timeval tv = ms_tv(RC_SENTINEL_TIMEOUT_MS);
    redisAsyncContext *ac = NULL;
    char q[260], qm[160];
    size_t n;
    const struct tq_hostport *nodes = walk_nodes(rc, &n);

    if (rc->stopping || rc->sac != NULL || (rc->ac != NULL && !rc->checking))
        return;
    if (rc->sidx >= n && rc->checking) {
        check_done(rc); /* no sentinel answered: keep the master we have */
        return;
    }
    if (rc->sidx >= n) {
        tq_log_warn(rc->cluster ? "redis_cluster_failed" : "redis_sentinel_failed",
                    "conn=%s master=%s error=%s retry_ms=%d", rc->name,
                    tq_log_quote(rc->cluster ? "{tq}" : cfg->redis_sentinel_master, qm, sizeof qm),
                    tq_log_quote(rc->swhy, q, sizeof q), rc->backoff_ms);
        schedule_retry(rc);
        return;
    }
    const struct tq_hostport *s = &nodes[rc->sidx];
    ac = redisAsyncConnect(s->host, s->port);
    if (ac == NULL || ac->err) {
        snprintf(q, sizeof q, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        sentinel_failed(rc, q);
        return;
    }
    ac->data = rc;
    /* A cluster node wants the password first (its answer is not needed: a refused AUTH
     * makes CLUSTER SLOTS fail too, with NOAUTH). */
    if (redisLibeventAttach(ac, rc->base) != REDIS_OK ||
        (rc->cluster && rc->password && rc_auth(rc, ac) != REDIS_OK) ||
        (rc->cluster
             ? redisAsyncCommand(ac, on_sentinel_reply, rc, "CLUSTER SLOTS")
             : redisAsyncCommand(ac, on_sentinel_reply, rc, "SENTINEL get-master-addr-by-name %s",
                                 cfg->redis_sentinel_master)) != REDIS_OK) {
        redisAsyncFree(ac);
        sentinel_failed(rc, "cannot queue the command");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_sentinel_connect);
    redisAsyncSetDisconnectCallback(ac, on_sentinel_disconnect);
    rc->sac = ac;
    evtimer_add(rc->sentinel_ev, &tv);
}

/* DOWN → CONNECTING, through the sentinels when configured. */
static void rc_connect(struct tq_rconn *rc)
{
    if (rc->stopping || rc->ac != NULL || rc->sac != NULL)
        return;
    if (rc->has_hint) { /* a MOVED named the master */
        rc->has_hint = 0;
        snprintf(rc->host, sizeof rc->host, "%s", rc->hint_host);
        rc->port = rc->hint_port;
        rc_connect_master(rc);
        return;
    }
    if (rc->cfg->nredis_sentinels == 0 && !rc->cluster) {
        rc_connect_master(rc);
        return;
    }
    rc->sidx = 0;
    snprintf(rc->swhy, sizeof rc->swhy, "no sentinel answered");
    sentinel_ask(rc);
}

struct tq_rconn *tq_rconn_new(struct event_base *base, const char *name,
                              const struct tq_config *cfg, tq_rconn_state_cb cb, void *arg)
{
    struct tq_rconn *rc = calloc(1, sizeof *rc);
    char *host = NULL, *password = NULL;
    int port = 0, db = 0;

    if (rc == NULL)
        return NULL;
    struct tq_redis_target target = tq_config_redis_target(cfg);
    if (tq_redis_url_parse(cfg->redis_url, &host, &port, &password, &db) != 0) {
        free(rc);
        return NULL;
    }
    free(password); /* the URL's: tq_redis_credentials says which one counts */
    password = NULL;
    if (tq_redis_credentials(&target, &rc->user, &password) != 0) {
        free(host);
        free(rc);
        return NULL;
    }
    rc->base = base;
    rc->cfg = cfg;
    rc->cluster = cfg->nredis_cluster_nodes > 0;
    rc->name = strdup(name);
    snprintf(rc->host, sizeof rc->host, "%s", host);
    rc->password = password;
    rc->port = port;
    rc->db = db;
    free(host);
    rc->state_cb = cb;
    rc->state_arg = arg;
    rc->backoff_ms = RC_BACKOFF_MIN_MS;
    rc->retry_ev = evtimer_new(base, on_retry, rc);
    rc->reset_ev = evtimer_new(base, on_reset, rc);
    rc->connect_ev = evtimer_new(base, on_connect_timeout, rc);
    rc->sentinel_ev = evtimer_new(base, on_sentinel_timeout, rc);
    rc->snext_ev = evtimer_new(base, on_sentinel_next, rc);
    rc->check_ev = evtimer_new(base, on_check, rc);
    if (!rc->name || !rc->retry_ev || !rc->reset_ev || !rc->connect_ev || !rc->sentinel_ev ||
        !rc->snext_ev || !rc->check_ev) {
        tq_rconn_free(rc);
        return NULL;
    }
    return rc;
}

void tq_rconn_start(struct tq_rconn *rc)
{
    rc_connect(rc);
}

int tq_rconn_is_up(const struct tq_rconn *rc)
{
    return rc->up;
}

unsigned long tq_rconn_reconnects(const struct tq_rconn *rc)
{
    return rc && rc->ups > 1 ? rc->ups - 1 : 0;
}

int tq_rconn_command(struct tq_rconn *rc, int timeout_ms, tq_rconn_reply_cb cb, void *arg,
                     const char *fmt, ...)
{
    va_list ap;
    int rv;

    if (!rc->up)
        return -1;
    va_start(ap, fmt);
    rv = rc_vsend(rc, 0, timeout_ms, cb, arg, fmt, ap);
    va_end(ap);
    return rv;
}

void tq_rconn_reset(struct tq_rconn *rc)
{
    struct timeval tv = {0, 0};

    if (rc->ac != NULL && !rc->stopping)
        evtimer_add(rc->reset_ev, &tv);
}

void tq_rconn_free(struct tq_rconn *rc)
{
    redisAsyncContext *ac;

    if (rc == NULL)
        return;
    rc->stopping = 1;
    ac = rc->ac;
    rc->ac = NULL;
    rc->up = 0;
    if (ac)
        redisAsyncFree(ac); /* outstanding commands fail with "shutdown" */
    while (rc->asks != NULL)
        redisAsyncFree(rc->asks->ac); /* on_ask_reply unlinks it: "shutdown" */
    if (rc->sentinel_ev)
        sentinel_drop(rc);
    if (rc->retry_ev)
        event_free(rc->retry_ev);
    if (rc->reset_ev)
        event_free(rc->reset_ev);
    if (rc->connect_ev)
        event_free(rc->connect_ev);
    if (rc->sentinel_ev)
        event_free(rc->sentinel_ev);
    if (rc->snext_ev)
        event_free(rc->snext_ev);
    if (rc->check_ev)
        event_free(rc->check_ev);
    free(rc->name);
    free(rc->password);
    free(rc->user);
    free(rc);
}

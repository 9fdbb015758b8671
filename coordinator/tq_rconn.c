/* tq_rconn — see tq_rconn.h.
 *
 * Ownership: rc owns its redisAsyncContext (rc->ac) until hiredis frees it (after a
 * disconnect or a failed connect) or we do (rc_drop, tq_rconn_free). A struct rcmd is owned
 * by hiredis's reply queue from a successful redisvAsyncCommand until on_reply, which frees
 * it; the deadline timer only marks it finished, so a late reply finds it still allocated. */
#include "tq_rconn.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include "tq_log.h"

#define RC_BACKOFF_MIN_MS 100
/* At most a second between attempts: requests held while Redis is away (queue.hold_seconds)
 * are sent within a second of its return. A refused connect on a LAN costs nothing. */
#define RC_BACKOFF_MAX_MS 1000
#define RC_CONNECT_TIMEOUT_MS 2000

struct tq_rconn {
    struct event_base *base;
    char *name, *host, *password;
    int port, db;
    tq_rconn_state_cb state_cb;
    void *state_arg;
    redisAsyncContext *ac; /* NULL while DOWN */
    int up;
    int stopping;
    int backoff_ms;
    unsigned long ups;        /* times the connection became UP */
    struct event *retry_ev;   /* backoff before the next connect */
    struct event *reset_ev;   /* deferred tq_rconn_reset */
    struct event *connect_ev; /* deadline for connect + handshake */
};

struct rcmd {
    struct tq_rconn *rc;
    tq_rconn_reply_cb cb;
    void *arg;
    struct event *timer; /* deadline, NULL when none */
    int finished;        /* cb already called (deadline passed) */
};

static void rc_connect(struct tq_rconn *rc);

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
    tv = ms_tv(rc->backoff_ms);
    evtimer_add(rc->retry_ev, &tv);
    rc->backoff_ms *= 2;
    if (rc->backoff_ms > RC_BACKOFF_MAX_MS)
        rc->backoff_ms = RC_BACKOFF_MAX_MS;
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

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rcmd *cmd = privdata;
    struct tq_rconn *rc = cmd->rc;

    if (cmd->timer)
        event_free(cmd->timer);
    if (!cmd->finished) {
        cmd->finished = 1;
        cmd->cb(rc, r, r ? NULL : (rc->stopping ? "shutdown" : "disconnected"), cmd->arg);
    }
    free(cmd);
}

static void on_cmd_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct rcmd *cmd = arg;

    if (cmd->finished)
        return;
    cmd->finished = 1;
    cmd->cb(cmd->rc, NULL, "timeout", cmd->arg);
}

static int rc_vsend(struct tq_rconn *rc, int timeout_ms, tq_rconn_reply_cb cb, void *arg,
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
    if (timeout_ms > 0) {
        struct timeval tv = ms_tv(timeout_ms);
        cmd->timer = evtimer_new(rc->base, on_cmd_timeout, cmd);
        if (cmd->timer == NULL || evtimer_add(cmd->timer, &tv) != 0)
            goto cleanup;
    }
    if (redisvAsyncCommand(rc->ac, on_reply, cmd, fmt, ap) != REDIS_OK)
        goto cleanup;
    cmd = NULL; /* hiredis holds it until on_reply */
    rv = 0;
cleanup:
    if (cmd) {
        if (cmd->timer)
            event_free(cmd->timer);
        free(cmd);
    }
    return rv;
}

static int rc_send(struct tq_rconn *rc, int timeout_ms, tq_rconn_reply_cb cb, void *arg,
                   const char *fmt, ...)
{
    va_list ap;
    int rv;

    va_start(ap, fmt);
    rv = rc_vsend(rc, timeout_ms, cb, arg, fmt, ap);
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
        tq_rconn_reset(rc);
    }
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
    if (rc->up)
        return;
    evtimer_del(rc->connect_ev);
    rc->up = 1;
    rc->ups++;
    rc->backoff_ms = RC_BACKOFF_MIN_MS;
    tq_log_info("redis_connected", "conn=%s host=%s port=%d db=%d", rc->name, rc->host, rc->port,
                rc->db);
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
    if (rc->password)
        rc_send(rc, 0, on_handshake_step, "auth", "AUTH %s", rc->password);
    if (rc->db != 0)
        rc_send(rc, 0, on_handshake_step, "select", "SELECT %d", rc->db);
    rc_send(rc, 0, on_ping, NULL, "PING");
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    struct tq_rconn *rc = cac->data;

    if (rc->ac != cac)
        return; /* we dropped it ourselves */
    rc_lost(rc, rc->up, cac->errstr[0] ? cac->errstr : "disconnected");
}

static void rc_connect(struct tq_rconn *rc)
{
    redisAsyncContext *ac;
    struct timeval tv = ms_tv(RC_CONNECT_TIMEOUT_MS);

    if (rc->stopping || rc->ac != NULL)
        return;
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

struct tq_rconn *tq_rconn_new(struct event_base *base, const char *name, const char *host, int port,
                              const char *password, int db, tq_rconn_state_cb cb, void *arg)
{
    struct tq_rconn *rc = calloc(1, sizeof *rc);

    if (rc == NULL)
        return NULL;
    rc->base = base;
    rc->name = strdup(name);
    rc->host = strdup(host);
    rc->password = password ? strdup(password) : NULL;
    rc->port = port;
    rc->db = db;
    rc->state_cb = cb;
    rc->state_arg = arg;
    rc->backoff_ms = RC_BACKOFF_MIN_MS;
    rc->retry_ev = evtimer_new(base, on_retry, rc);
    rc->reset_ev = evtimer_new(base, on_reset, rc);
    rc->connect_ev = evtimer_new(base, on_connect_timeout, rc);
    if (!rc->name || !rc->host || (password && !rc->password) || !rc->retry_ev || !rc->reset_ev ||
        !rc->connect_ev) {
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
    rv = rc_vsend(rc, timeout_ms, cb, arg, fmt, ap);
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
    if (rc->retry_ev)
        event_free(rc->retry_ev);
    if (rc->reset_ev)
        event_free(rc->reset_ev);
    if (rc->connect_ev)
        event_free(rc->connect_ev);
    free(rc->name);
    free(rc->host);
    free(rc->password);
    free(rc);
}

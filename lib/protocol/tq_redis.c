/* tq_redis — see tq_redis.h.
 *
 * Ownership: every redisContext made here is freed here, except the one tq_redis_connect
 * returns (the caller's). Replies are freed where they are read. */
#include "tq_redis.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_queue.h" /* TQ_QUEUE_PREFIX: the {tq} hash tag */
#include "tq_secret.h"

static struct timeval ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* A context to host:port with the deadlines set, or NULL with err. */
static redisContext *connect_with(const char *host, int port, int connect_ms, int command_ms,
                                  char *err, size_t errsize)
{
    redisContext *c = redisConnectWithTimeout(host, port, ms_tv(connect_ms));

    if (c == NULL || c->err) {
        snprintf(err, errsize, "connect %s:%d: %s", host, port, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    if (command_ms > 0 && redisSetTimeout(c, ms_tv(command_ms)) != REDIS_OK) {
        snprintf(err, errsize, "connect %s:%d: cannot set the command timeout", host, port);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Text of what went wrong with a reply r to what (NULL r: the context's error). */
static void reply_error(redisContext *c, const redisReply *r, const char *what, char *err,
                        size_t errsize)
{
    if (r == NULL)
        snprintf(err, errsize, "%s: %s", what, c->errstr[0] ? c->errstr : "no reply");
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errsize, "%s: %s", what, r->str);
    else
        snprintf(err, errsize, "%s: unexpected reply type %d", what, r->type);
}

int tq_redis_master_addr_reply(const redisReply *r, char *host, size_t hostsize, int *port,
                               char *err, size_t errsize)
{
    if (r == NULL) {
        snprintf(err, errsize, "no reply");
        return -1;
    }
    if (r->type == REDIS_REPLY_NIL) {
        snprintf(err, errsize, "master name unknown to this sentinel");
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsize, "%s", r->str);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
        snprintf(err, errsize, "unexpected reply to SENTINEL get-master-addr-by-name");
        return -1;
    }
    char *end = NULL;
    long p = strtol(r->element[1]->str, &end, 10);
    if (end == r->element[1]->str || *end != '\0' || p <= 0 || p > 65535 ||
        r->element[0]->len == 0 || r->element[0]->len >= hostsize) {
        snprintf(err, errsize, "bad master address in the sentinel's reply");
        return -1;
    }
    memcpy(host, r->element[0]->str, r->element[0]->len + 1);
    *port = (int)p;
    return 0;
}

int tq_redis_role_is_master(const redisReply *r, char *err, size_t errsize)
{
    if (r == NULL) {
        snprintf(err, errsize, "ROLE: no reply");
        return 0;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsize, "ROLE: %s", r->str);
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(err, errsize, "ROLE: unexpected reply");
        return 0;
    }
    if (strcmp(r->element[0]->str, "master") != 0) {
        snprintf(err, errsize, "not a master: ROLE says %.60s", r->element[0]->str);
        return 0;
    }
    return 1;
}

int tq_redis_error_is_reconnect(const char *msg)
{
    static const char *const codes[] = {"READONLY",   "LOADING", "MASTERDOWN", "UNBLOCKED",
                                        "NOREPLICAS", "BUSY",    "TRYAGAIN",   "CLUSTERDOWN",
                                        "MOVED",      "ASK"};

    if (msg == NULL)
        return 0;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        size_t n = strlen(codes[i]);
        if (strncmp(msg, codes[i], n) == 0 && (msg[n] == ' ' || msg[n] == '\0'))
            return 1;
    }
    return 0;
}

int tq_redis_reply_is_reconnect(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && tq_redis_error_is_reconnect(r->str);
}

int tq_redis_sentinel_resolve(const struct tq_redis_target *t, int connect_ms, char *host,
                              size_t hostsize, int *port, char *err, size_t errsize)
{
    char why[300] = "no sentinel configured";

    for (size_t i = 0; i < t->nsentinels; i++) {
        const struct tq_hostport *s = &t->sentinels[i];
        redisContext *c = connect_with(s->host, s->port, connect_ms, connect_ms, why, sizeof why);
        if (c == NULL)
            continue;
        redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", t->sentinel_master);
        int ok = tq_redis_master_addr_reply(r, host, hostsize, port, why, sizeof why);
        if (r == NULL)
            snprintf(why, sizeof why, "%s", c->errstr[0] ? c->errstr : "no reply");
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (ok == 0)
            return 0;
    }
    snprintf(err, errsize, "sentinels for master %s: %s", t->sentinel_master, why);
    return -1;
}

int tq_redis_master_moved(const struct tq_redis_target *t, const struct tq_redis_addr *addr,
                          int connect_ms, char *err, size_t errsize)
{
    char host[256];
    int port = 0;

    if (t->nsentinels == 0)
        return 0;
    if (tq_redis_sentinel_resolve(t, connect_ms, host, sizeof host, &port, err, errsize) != 0)
        return -1;
    if (strcmp(host, addr->host) == 0 && port == addr->port)
        return 0;
    snprintf(err, errsize, "the sentinels name %s:%d as master %s now, not %s:%d", host, port,
             t->sentinel_master, addr->host, addr->port);
    return 1;
}

/* ---- Redis Cluster ---------------------------------------------------------------------- */

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the cluster's key hash. */
static uint16_t crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned tq_redis_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);

    if (open != NULL) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close != NULL && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) % TQ_REDIS_CLUSTER_SLOTS;
    }
    return crc16(key, len) % TQ_REDIS_CLUSTER_SLOTS;
}

int tq_redis_cluster_slot_owner(const redisReply *r, unsigned slot, const char *asked_host,
                                char *host, size_t hostsize, int *port, char *err, size_t errsize)
{
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsize, "CLUSTER SLOTS: %s", r ? r->str : "no reply");
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errsize, "CLUSTER SLOTS: unexpected reply type %d", r->type);
        return -1;
    }
    /* [ [start, end, [ip, port, id, ...] (the master), [replica]...], ... ] */
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        if ((long long)slot < e->element[0]->integer || (long long)slot > e->element[1]->integer)
            continue;
        const redisReply *m = e->element[2];
        if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
            m->element[0]->type != REDIS_REPLY_STRING ||
            m->element[1]->type != REDIS_REPLY_INTEGER || m->element[1]->integer <= 0 ||
            m->element[1]->integer > 65535) {
            snprintf(err, errsize, "CLUSTER SLOTS: bad master entry for slot %u", slot);
            return -1;
        }
        const char *h = m->element[0]->str;
        if (h[0] == '\0' && asked_host != NULL)
            h = asked_host;
        if (h[0] == '\0' || strcmp(h, "?") == 0 || strlen(h) >= hostsize) {
            snprintf(err, errsize, "CLUSTER SLOTS: no usable address for slot %u's master", slot);
            return -1;
        }
        snprintf(host, hostsize, "%s", h);
        *port = (int)m->element[1]->integer;
        return 0;
    }
    snprintf(err, errsize, "CLUSTER SLOTS: slot %u is not served (cluster not ready?)", slot);
    return -1;
}

enum tq_redis_redirect tq_redis_redirect_parse(const char *msg, unsigned *slot, char *host,
                                               size_t hostsize, int *port)
{
    enum tq_redis_redirect kind;
    const char *p;
    char *end = NULL;

    if (msg == NULL)
        return TQ_REDIS_NOT_REDIRECT;
    if (strncmp(msg, "MOVED ", 6) == 0) {
        kind = TQ_REDIS_MOVED;
        p = msg + 6;
    } else if (strncmp(msg, "ASK ", 4) == 0) {
        kind = TQ_REDIS_ASK;
        p = msg + 4;
    } else {
        return TQ_REDIS_NOT_REDIRECT;
    }
    if (*p < '0' || *p > '9')
        return TQ_REDIS_NOT_REDIRECT;
    unsigned long sl = strtoul(p, &end, 10);
    if (*end != ' ' || sl >= TQ_REDIS_CLUSTER_SLOTS)
        return TQ_REDIS_NOT_REDIRECT;
    const char *addr = end + 1;
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || colon[1] < '0' || colon[1] > '9')
        return TQ_REDIS_NOT_REDIRECT;
    long pt = strtol(colon + 1, &end, 10);
    if (*end != '\0' || pt <= 0 || pt > 65535)
        return TQ_REDIS_NOT_REDIRECT;
    size_t hl = (size_t)(colon - addr);
    if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') { /* [v6]:port */
        addr++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hostsize || memchr(addr, ' ', hl) != NULL)
        return TQ_REDIS_NOT_REDIRECT;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    *slot = (unsigned)sl;
    *port = (int)pt;
    return kind;
}

/* AUTH with user (NULL: "default") and password (NULL: none) on c. 0, or -1 with err. */
static int auth(redisContext *c, const char *user, const char *password, char *err, size_t errsize)
{
    redisReply *r;
    int rc = -1;

    if (password == NULL)
        return 0;
    if (user != NULL)
        r = redisCommand(c, "AUTH %s %s", user, password);
    else
        r = redisCommand(c, "AUTH %s", password);
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        reply_error(c, r, "AUTH", err, errsize);
    else
        rc = 0;
    if (r)
        freeReplyObject(r);
    return rc;
}

/* The {tq} slot (every tileq key is in it). */
static unsigned tq_slot(void)
{
    return tq_redis_key_slot(TQ_QUEUE_PREFIX, strlen(TQ_QUEUE_PREFIX));
}

/* CLUSTER SLOTS of the seeds, one after the other, with user and password (or NULL). */
static int cluster_resolve(const struct tq_redis_target *t, const char *user, const char *password,
                           int connect_ms, char *host, size_t hostsize, int *port, char *err,
                           size_t errsize)
{
    char why[300], last[400] = "none configured";

    for (size_t i = 0; i < t->ncluster_nodes; i++) {
        const struct tq_hostport *s = &t->cluster_nodes[i];
        redisContext *c = connect_with(s->host, s->port, connect_ms, connect_ms, why, sizeof why);
        if (c == NULL)
            continue;
        redisReply *r = NULL;
        int ok = -1;
        if (auth(c, user, password, why, sizeof why) == 0) {
            r = redisCommand(c, "CLUSTER SLOTS");
            ok = tq_redis_cluster_slot_owner(r, tq_slot(), s->host, host, hostsize, port, why,
                                             sizeof why);
            if (r == NULL)
                snprintf(why, sizeof why, "%s", c->errstr[0] ? c->errstr : "no reply");
        }
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (ok == 0)
            return 0;
        snprintf(last, sizeof last, "%s:%d: %s", s->host, s->port, why);
    }
    snprintf(err, errsize, "cluster nodes: %s", last);
    return -1;
}

int tq_redis_cluster_resolve(const struct tq_redis_target *t, int connect_ms, char *host,
                             size_t hostsize, int *port, char *err, size_t errsize)
{
    char *user = NULL, *password = NULL, shown[512];
    int rc = -1;

    if (tq_redis_credentials(t, &user, &password) != 0) {
        snprintf(err, errsize, "bad Redis URL '%s'",
                 tq_secret_redact_url(t->url, shown, sizeof shown));
        goto cleanup;
    }
    rc = cluster_resolve(t, user, password, connect_ms, host, hostsize, port, err, errsize);
cleanup:
    free(user);
    free(password);
    return rc;
}

/* Asks c (connected to host:port, the master the cluster named) about the {tq} slot: 0 when
 * it serves it (ASK counts: the slot is its own while it migrates), 1 with host/port
 * replaced by the node a MOVED named, -1 with err. */
static int cluster_probe(redisContext *c, char *host, size_t hostsize, int *port, char *err,
                         size_t errsize)
{
    char nhost[256];
    unsigned slot = 0;
    int nport = 0, rc = -1;
    redisReply *r = redisCommand(c, "EXISTS %s", TQ_QUEUE_PREFIX);

    if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
        rc = 0;
    } else if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        switch (tq_redis_redirect_parse(r->str, &slot, nhost, sizeof nhost, &nport)) {
        case TQ_REDIS_ASK:
            rc = 0;
            break;
        case TQ_REDIS_MOVED:
            snprintf(host, hostsize, "%s", nhost);
            *port = nport;
            rc = 1;
            break;
        default:
            reply_error(c, r, "cluster slot check", err, errsize);
        }
    } else {
        reply_error(c, r, "cluster slot check", err, errsize);
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

redisContext *tq_redis_connect(const struct tq_redis_target *t, int connect_ms, int command_ms,
                               struct tq_redis_addr *addr, char *err, size_t errsize)
{
    char *urlhost = NULL, *password = NULL, *user = NULL, *urlpassword = NULL;
    char host[256], shown[512];
    int port = 0, db = 0, ok = 0, hops = 0;
    redisContext *c = NULL;
    redisReply *r = NULL;

    if (tq_redis_url_parse(t->url, &urlhost, &port, &urlpassword, &db) != 0 ||
        tq_redis_credentials(t, &user, &password) != 0) {
        snprintf(err, errsize, "bad Redis URL '%s'",
                 tq_secret_redact_url(t->url, shown, sizeof shown));
        goto cleanup;
    }
    if (t->ncluster_nodes > 0 && db != 0) {
        snprintf(err, errsize, "Redis Cluster has database 0 only (redis_url says %d)", db);
        goto cleanup;
    }
    if (t->nsentinels > 0) {
        if (tq_redis_sentinel_resolve(t, connect_ms, host, sizeof host, &port, err, errsize) != 0)
            goto cleanup;
    } else if (t->ncluster_nodes > 0) {
        if (cluster_resolve(t, user, password, connect_ms, host, sizeof host, &port, err,
                            errsize) != 0)
            goto cleanup;
    } else {
        snprintf(host, sizeof host, "%s", urlhost);
    }
again:
    c = connect_with(host, port, connect_ms, command_ms, err, errsize);
    if (c == NULL)
        goto cleanup;
    if (auth(c, user, password, err, errsize) != 0)
        goto cleanup;
    if (t->nsentinels > 0) {
        char why[200];
        r = redisCommand(c, "ROLE");
        if (!tq_redis_role_is_master(r, why, sizeof why)) {
            snprintf(err, errsize, "%s:%d (named by the sentinels): %s", host, port, why);
            goto cleanup;
        }
        freeReplyObject(r);
        r = NULL;
    }
    if (t->ncluster_nodes > 0) {
        char why[300];
        int moved = cluster_probe(c, host, sizeof host, &port, why, sizeof why);
        if (moved < 0) {
            snprintf(err, errsize, "%s:%d (named by the cluster): %s", host, port, why);
            goto cleanup;
        }
        if (moved > 0) {
            redisFree(c);
            c = NULL;
            if (++hops > TQ_REDIS_MAX_REDIRECTS) {
                snprintf(err, errsize, "cluster: more than %d MOVED redirections for the {tq} slot",
                         TQ_REDIS_MAX_REDIRECTS);
                goto cleanup;
            }
            goto again;
        }
    }
    if (db != 0) {
        r = redisCommand(c, "SELECT %d", db);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            reply_error(c, r, "SELECT", err, errsize);
            goto cleanup;
        }
        freeReplyObject(r);
        r = NULL;
    }
    if (addr != NULL) {
        snprintf(addr->host, sizeof addr->host, "%s", host);
        addr->port = port;
        addr->db = db;
    }
    ok = 1;
cleanup:
    if (r)
        freeReplyObject(r);
    if (!ok && c) {
        redisFree(c);
        c = NULL;
    }
    free(urlhost);
    free(urlpassword);
    free(user);
    free(password);
    return c;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copies s[0..len) percent-decoded into a new string, or NULL (bad escape, NUL, OOM). */
static char *percent_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi = (i + 2 < len) ? hexval(s[i + 1]) : -1;
            int lo = (i + 2 < len) ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* tq_redis_url_parse, with the URL's user into *user when user is not NULL (malloc'd, NULL
 * when none or "default"). */
static int url_parse(const char *url, char **host, int *port, char **user, char **password, int *db)
{
    const char *p, *hostpart, *hostend, *slash, *at;
    char *h = NULL, *pw = NULL, *u = NULL;
    long portv = 6379, dbv = 0;
    int rc = -1;

    *host = NULL;
    *password = NULL;
    *port = 0;
    *db = 0;
    if (url == NULL || url[0] == '\0')
        goto cleanup;
    if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
        slash = strchr(p, '/');
        const char *auth_end = slash ? slash : p + strlen(p);
        at = NULL;
        for (const char *q = p; q < auth_end; q++) {
            if (*q == '@')
                at = q;
        }
        if (at != NULL) {
            /* userinfo: ":password", or "user:password" (an ACL user; "default" is
             * Redis's own, the same as none) */
            const char *colon = memchr(p, ':', (size_t)(at - p));
            if (colon == NULL)
                goto cleanup;
            if (colon != p && !((size_t)(colon - p) == 7 && strncmp(p, "default", 7) == 0)) {
                u = percent_decode(p, (size_t)(colon - p));
                if (u == NULL)
                    goto cleanup;
            }
            pw = percent_decode(colon + 1, (size_t)(at - colon - 1));
            if (pw == NULL)
                goto cleanup;
            hostpart = at + 1;
        } else {
            hostpart = p;
        }
        hostend = auth_end;
        if (slash != NULL) {
            const char *d = slash + 1;
            if (*d != '\0') {
                dbv = 0;
                for (; *d; d++) {
                    if (*d < '0' || *d > '9')
                        goto cleanup;
                    dbv = dbv * 10 + (*d - '0');
                    if (dbv > 1000000)
                        goto cleanup;
                }
            }
        }
    } else {
        if (strstr(url, "://") != NULL)
            goto cleanup; /* another scheme */
        hostpart = url;
        hostend = url + strlen(url);
    }

    /* hostpart..hostend is host[:port], host possibly "[v6]" */
    const char *hs = hostpart, *he, *portstr = NULL;
    if (hs < hostend && *hs == '[') {
        const char *close = memchr(hs, ']', (size_t)(hostend - hs));
        if (close == NULL)
            goto cleanup;
        hs++;
        he = close;
        if (close + 1 < hostend) {
            if (close[1] != ':')
                goto cleanup;
            portstr = close + 2;
        }
    } else {
        const char *colon = memchr(hs, ':', (size_t)(hostend - hs));
        he = colon ? colon : hostend;
        if (colon)
            portstr = colon + 1;
    }
    if (he == hs)
        goto cleanup;
    for (const char *q = hs; q < he; q++) {
        if (*q == '@' || *q == '/' || *q == ' ' || (*q == ':' && hostpart[0] != '['))
            goto cleanup;
    }
    if (portstr != NULL) {
        if (portstr >= hostend)
            goto cleanup;
        portv = 0;
        for (const char *q = portstr; q < hostend; q++) {
            if (*q < '0' || *q > '9')
                goto cleanup;
            portv = portv * 10 + (*q - '0');
            if (portv > 65535)
                goto cleanup;
        }
        if (portv == 0)
            goto cleanup;
    }
    h = strndup(hs, (size_t)(he - hs));
    if (h == NULL)
        goto cleanup;
    *host = h;
    *password = pw;
    *port = (int)portv;
    *db = (int)dbv;
    if (user != NULL) {
        *user = u;
        u = NULL;
    }
    h = NULL;
    pw = NULL;
    rc = 0;
cleanup:
    free(h);
    free(pw);
    free(u);
    return rc;
}

int tq_redis_url_parse(const char *url, char **host, int *port, char **password, int *db)
{
    return url_parse(url, host, port, NULL, password, db);
}

int tq_redis_credentials(const struct tq_redis_target *t, char **user, char **password)
{
    char *host = NULL, *u = NULL, *pw = NULL;
    int port, db, rc = -1;

    *user = NULL;
    *password = NULL;
    if (url_parse(t->url, &host, &port, &u, &pw, &db) != 0)
        goto cleanup;
    if (t->user != NULL) {
        free(u);
        u = strdup(t->user);
        if (u == NULL)
            goto cleanup;
    }
    if (t->password != NULL) {
        free(pw);
        pw = strdup(t->password);
        if (pw == NULL)
            goto cleanup;
    }
    *user = u;
    *password = pw;
    u = pw = NULL;
    rc = 0;
cleanup:
    free(host);
    free(u);
    free(pw);
    return rc;
}

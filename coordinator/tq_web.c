/* tq_web — see tq_web.h.
 *
 * Ownership: struct tj_req (a TileJSON request waiting for its HGET) is owned by the
 * command's callback, which always answers req and frees the tj_req, whatever the outcome
 * (reply, timeout, disconnect, shutdown). A client that leaves meanwhile makes evhttp detach
 * req from its connection; evhttp_send_reply then frees it. The held schemas (json_t) are
 * the web's, replaced on every good HGET reply. */
#include "tq_web.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "tq_access.h"
#include "tq_http.h"
#include "tq_log.h"
#include "tq_queue.h"
#include "tq_tilejson.h"
#include "tq_time.h"
#include "tq_gzip.h"

#define CMD_TIMEOUT_MS 2000
#define SCHEMA_TTL_MS 10000
#define MVT_CONTENT_TYPE "application/vnd.mapbox-vector-tile"
#define BASE_URL_MAX 1024

#ifndef TQ_STATIC_INSTALL_DIR
#define TQ_STATIC_INSTALL_DIR "/usr/local/share/tileq/static"
#endif
#ifndef TQ_STATIC_BUILD_DIR
#define TQ_STATIC_BUILD_DIR "static"
#endif

struct schema_entry {
    json_t *schema;     /* parsed {"layers": [...]}, or NULL */
    int64_t fetched_ms; /* when it was last read from Redis (0 = never) */
};

struct tq_web {
    const struct tq_config *cfg;
    struct tq_rconn *cmd; /* borrowed */
    char static_dir[1024];
    struct schema_entry *schemas; /* one per tileset, in config order */
};

struct tj_req {
    struct tq_web *web;
    struct evhttp_request *req;
    size_t ts;
    char base_url[BASE_URL_MAX];
};

static int dir_exists(const char *d)
{
    struct stat st;
    return stat(d, &st) == 0 && S_ISDIR(st.st_mode);
}

struct tq_web *tq_web_new(const struct tq_config *cfg, struct tq_rconn *cmd)
{
    struct tq_web *web = calloc(1, sizeof *web);
    const char *dir;

    if (web == NULL)
        return NULL;
    web->cfg = cfg;
    web->cmd = cmd;
    web->schemas = calloc(cfg->ntilesets ? cfg->ntilesets : 1, sizeof *web->schemas);
    if (web->schemas == NULL) {
        free(web);
        return NULL;
    }
    if (cfg->http.static_dir && cfg->http.static_dir[0])
        dir = cfg->http.static_dir;
    else if (dir_exists(TQ_STATIC_INSTALL_DIR))
        dir = TQ_STATIC_INSTALL_DIR;
    else
        dir = TQ_STATIC_BUILD_DIR;
    snprintf(web->static_dir, sizeof web->static_dir, "%s", dir);
    if (!dir_exists(web->static_dir))
        tq_log_warn("static_dir_missing", "dir=%s (the preview map will not load)",
                    web->static_dir);
    else
        tq_log_info("static_dir", "dir=%s", web->static_dir);
    return web;
}

void tq_web_detach(struct tq_web *web)
{
    if (web)
        web->cmd = NULL;
}

void tq_web_free(struct tq_web *web)
{
    if (web == NULL)
        return;
    for (size_t i = 0; i < web->cfg->ntilesets; i++)
        json_decref(web->schemas[i].schema);
    free(web->schemas);
    free(web);
}

/* ---- replies --------------------------------------------------------------------------- */

void tq_web_add_cors(const struct tq_web *web, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Access-Control-Allow-Origin", web->cfg->http.cors_origin);
    if (strcmp(web->cfg->http.cors_origin, "*") != 0)
        evhttp_add_header(h, "Vary", "Origin");
}

/* Sends code with body (may be NULL) of content type ctype, label (may be NULL) in X-Tileq;
 * gives req back to evhttp. */
static void send_labelled(struct tq_web *web, struct evhttp_request *req, int code,
                          const char *ctype, const char *cache_control, const char *label,
                          const void *body, size_t len, int retry_after)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evbuffer_new();
    char tmp[16];

    tq_web_add_cors(web, req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", cache_control);
    if (label)
        evhttp_add_header(h, "X-Tileq", label);
    if (retry_after > 0) {
        snprintf(tmp, sizeof tmp, "%d", retry_after);
        evhttp_add_header(h, "Retry-After", tmp);
    }
    if (buf && body && len > 0)
        evbuffer_add(buf, body, len);
    evhttp_send_reply(req, code, NULL, buf);
    if (buf)
        evbuffer_free(buf);
}

static void send_body(struct tq_web *web, struct evhttp_request *req, int code, const char *ctype,
                      const char *cache_control, const void *body, size_t len, int retry_after)
{
    send_labelled(web, req, code, ctype, cache_control, NULL, body, len, retry_after);
}

void tq_web_send_text(struct tq_web *web, struct evhttp_request *req, int code, const char *label,
                      const char *reason, int retry_after)
{
    char body[512];
    int n = snprintf(body, sizeof body, "%s\n", reason);

    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof body)
        n = sizeof body - 1;
    send_labelled(web, req, code, "text/plain; charset=utf-8", "no-store", label, body, (size_t)n,
                  retry_after);
}

static void send_error(struct tq_web *web, struct evhttp_request *req, int code, const char *reason,
                       int retry_after)
{
    tq_web_send_text(web, req, code, NULL, reason, retry_after);
}

/* Sends a JSON document (stolen: decref'd here); NULL means out of memory → 500. */
static void send_json(struct tq_web *web, struct evhttp_request *req, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;

    json_decref(doc);
    if (text == NULL) {
        send_error(web, req, 500, "out of memory", 0);
        return;
    }
    send_body(web, req, 200, "application/json", "no-cache", text, strlen(text), 0);
    free(text);
}

void tq_web_send_tile(struct tq_web *web, struct evhttp_request *req, const char *label,
                      const struct tq_cache_tile *tile)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    unsigned char *conv = NULL; /* the other encoding, when the client wants that one */
    const void *body = tile->data;
    size_t body_len = tile->len;
    int gz = tq_http_accepts_gzip(evhttp_find_header(in, "Accept-Encoding"));
    char etag[TQ_HTTP_ETAG_MAX];
    int code;

    if (tile->plain_len == 0)
        gz = 0; /* 204: no body to encode */
    tq_http_etag(tile->plain_len, tile->plain_crc, gz, etag);
    tq_web_add_cors(web, req);
    evhttp_add_header(h, "Access-Control-Expose-Headers", "ETag, X-Tileq");
    evhttp_add_header(h, "Content-Type", MVT_CONTENT_TYPE);
    evhttp_add_header(h, "Cache-Control", web->cfg->http.cache_control);
    evhttp_add_header(h, "Vary", "Accept-Encoding");
    evhttp_add_header(h, "ETag", etag);
    if (label)
        evhttp_add_header(h, "X-Tileq", label);
    if (tq_http_etag_match(evhttp_find_header(in, "If-None-Match"), etag)) {
        evhttp_send_reply(req, 304, "Not Modified", NULL);
        goto cleanup;
    }
    /* The usual hit: stored gzip, client accepts gzip: the stored bytes as they are. */
    if (gz && !tile->gzip) { /* a legacy plain tile: compress as the worker does */
        if (tq_gzip_compress_level(tile->data, tile->len, TQ_CACHE_GZIP_LEVEL, &conv, &body_len) !=
            0) {
            tq_log_error("tile_gzip_failed", "bytes=%zu", tile->len);
            gz = 0;
            body_len = tile->len;
        } else {
            body = conv;
        }
    } else if (!gz && tile->gzip && tile->plain) { /* inflated by the read's check */
        body = tile->plain;
        body_len = tile->plain_len;
    } else if (!gz && tile->gzip) { /* a client without gzip: inflate */
        if (tq_gzip_decompress(tile->data, tile->len, TQ_CACHE_MAX_PLAIN, &conv, &body_len) != 0) {
            tq_log_error("tile_gunzip_failed", "bytes=%zu", tile->len);
            send_error(web, req, 500, "cached tile is not valid gzip", 0);
            goto cleanup;
        }
        body = conv;
    }
    if (gz)
        evhttp_add_header(h, "Content-Encoding", "gzip");
    code = tile->plain_len ? 200 : 204;
    if (code == 200) {
        /* evhttp leaves it out of HEAD replies; a HEAD must show the GET's length. */
        char cl[32];
        snprintf(cl, sizeof cl, "%zu", body_len);
        evhttp_add_header(h, "Content-Length", cl);
    }
    {
        struct evbuffer *buf = evbuffer_new();
        if (buf && code == 200 && body_len > 0)
            evbuffer_add(buf, body, body_len);
        evhttp_send_reply(req, code, NULL, buf);
        if (buf)
            evbuffer_free(buf);
    }
cleanup:
    free(conv);
}

/* Keeps a header value only when it is a plain comma-separated token list. */
static int token_list_ok(const char *v)
{
    if (v == NULL || *v == '\0' || strlen(v) > 512)
        return 0;
    for (; *v; v++) {
        char c = *v;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == ',' || c == ' '))
            return 0;
    }
    return 1;
}

void tq_web_send_preflight(struct tq_web *web, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *want =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Access-Control-Request-Headers");

    tq_web_add_cors(web, req);
    evhttp_add_header(h, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
    if (token_list_ok(want))
        evhttp_add_header(h, "Access-Control-Allow-Headers", want);
    evhttp_add_header(h, "Access-Control-Max-Age", "86400");
    evhttp_add_header(h, "Allow", "GET, HEAD, OPTIONS");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, 204, "No Content", NULL);
}

/* ---- TileJSON and catalog ---------------------------------------------------------------- */

static void base_url(const struct tq_web *web, struct evhttp_request *req, char *out, size_t size)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct tq_proxy_view v;
    char fallback[300];

    /* X-Forwarded-* count only from http.trusted_proxies (tq_access.h). */
    tq_access_view(web->cfg, req, &v);
    snprintf(fallback, sizeof fallback, "%s:%d", web->cfg->listen_host, web->cfg->listen_port);
    if (tq_http_base_url(web->cfg->http.public_url, evhttp_find_header(in, "Host"),
                         tq_access_forwarded(&v, req, "Proto"),
                         tq_access_forwarded(&v, req, "Host"),
                         tq_access_forwarded(&v, req, "Prefix"), fallback, out, size) != 0)
        snprintf(out, size, "http://%s", fallback);
}

static void send_tilejson(struct tq_web *web, struct evhttp_request *req, size_t ts,
                          const char *base)
{
    const struct tq_tileset_config *t = &web->cfg->tilesets[ts];
    const json_t *schema = web->schemas[ts].schema;

    if (schema == NULL) {
        char why[200];
        snprintf(why, sizeof why,
                 "the layer schema of tileset %s is not published yet (no worker has prepared "
                 "it; is a tileq-worker running?)",
                 t->name);
        send_error(web, req, 503, why, 2);
        return;
    }
    send_json(web, req, tq_tilejson_build(t, base, schema));
}

/* Keeps the schema text str[0..len) (published by a worker) as tileset ts's, when valid. */
static void schema_store(struct tq_web *web, size_t ts, const char *str, size_t len)
{
    struct schema_entry *e = &web->schemas[ts];
    json_error_t jerr;
    json_t *s = json_loadb(str, len, 0, &jerr);
    char q[300];

    if (s && json_is_array(json_object_get(s, "layers"))) {
        json_decref(e->schema);
        e->schema = s;
        e->fetched_ms = tq_now_ms();
    } else {
        json_decref(s);
        tq_log_warn("schema_invalid", "tileset=%s error=%s", web->cfg->tilesets[ts].name,
                    tq_log_quote(jerr.text, q, sizeof q));
    }
}

static void on_schema_reply(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    struct tj_req *r = arg;
    struct tq_web *web = r->web;
    struct schema_entry *e = &web->schemas[r->ts];
    const char *name = web->cfg->tilesets[r->ts].name;
    char q[300];

    (void)rc;
    if (reply && reply->type == REDIS_REPLY_STRING) {
        schema_store(web, r->ts, reply->str, reply->len);
    } else if (reply && reply->type == REDIS_REPLY_NIL) {
        e->fetched_ms = tq_now_ms(); /* not published: keep what we had (none, usually) */
    } else {
        tq_log_warn(
            "schema_read_failed", "tileset=%s error=%s", name,
            tq_log_quote(
                reply ? (reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply") : err,
                q, sizeof q));
    }
    send_tilejson(web, r->req, r->ts, r->base_url);
    free(r);
}

static void serve_tilejson(struct tq_web *web, struct evhttp_request *req, size_t ts)
{
    struct schema_entry *e = &web->schemas[ts];
    struct tj_req *r;
    char base[BASE_URL_MAX];

    base_url(web, req, base, sizeof base);
    if ((e->schema && tq_now_ms() - e->fetched_ms < SCHEMA_TTL_MS &&
         tq_tilejson_schema_complete(&web->cfg->tilesets[ts], e->schema)) ||
        web->cmd == NULL || !tq_rconn_is_up(web->cmd)) {
        send_tilejson(web, req, ts, base);
        return;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        send_error(web, req, 500, "out of memory", 0);
        return;
    }
    r->web = web;
    r->req = req;
    r->ts = ts;
    snprintf(r->base_url, sizeof r->base_url, "%s", base);
    if (tq_rconn_command(web->cmd, CMD_TIMEOUT_MS, on_schema_reply, r, "HGET %s %s", TQ_SCHEMA_KEY,
                         web->cfg->tilesets[ts].name) != 0) {
        free(r);
        send_tilejson(web, req, ts, base);
    }
}

/* ---- pages and static files ------------------------------------------------------------ */

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

/* Sends static_dir/name (name already checked: no '/', no leading '.'). */
static void send_static(struct tq_web *web, struct evhttp_request *req, const char *name)
{
    char path[2048];
    struct stat st;
    struct evbuffer *buf = NULL;
    int fd = -1;

    snprintf(path, sizeof path, "%s/%s", web->static_dir, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        send_error(web, req, 404,
                   errno == ENOENT && strcmp(name, "maplibre-gl.js") == 0
                       ? "not found (MapLibre GL JS was not installed at build time: npm missing?)"
                       : "not found",
                   0);
        return;
    }
    buf = evbuffer_new();
    if (buf == NULL || (st.st_size > 0 && evbuffer_add_file(buf, fd, 0, st.st_size) != 0)) {
        if (buf)
            evbuffer_free(buf); /* evbuffer_add_file closes fd even when it fails */
        else
            close(fd);
        send_error(web, req, 500, "cannot read the file", 0);
        return;
    }
    if (st.st_size == 0)
        close(fd);
    tq_web_add_cors(web, req);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", content_type(name));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
    evhttp_send_reply(req, 200, NULL, buf);
    evbuffer_free(buf);
}

static int static_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 128 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static void send_index(struct tq_web *web, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    const struct tq_config *cfg = web->cfg;

    if (b == NULL) {
        send_error(web, req, 500, "out of memory", 0);
        return;
    }
    /* Tileset and layer names are [A-Za-z0-9_-]+ (tq_config): nothing to escape. */
    evbuffer_add_printf(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                           "<title>tileq</title>\n<style>body{font:15px/1.5 system-ui,sans-serif;"
                           "margin:2em;color:#222}li{margin:.3em 0}small{color:#666}</style>\n"
                           "</head><body>\n<h1>tileq</h1>\n");
    if (cfg->ntilesets == 0)
        evbuffer_add_printf(b, "<p>No tileset is published.</p>\n");
    evbuffer_add_printf(b, "<ul id=\"tilesets\">\n");
    for (size_t i = 0; i < cfg->ntilesets; i++) {
        const struct tq_tileset_config *ts = &cfg->tilesets[i];
        evbuffer_add_printf(b,
                            "<li><a class=\"tileset\" href=\"map/%s\">%s</a> "
                            "<small>z%d–%d · layers:",
                            ts->name, ts->name, ts->minzoom, ts->maxzoom);
        for (size_t j = 0; j < ts->nlayers; j++)
            evbuffer_add_printf(b, " %s", ts->layers[j].name);
        evbuffer_add_printf(b, " · <a href=\"%s.json\">TileJSON</a></small></li>\n", ts->name);
    }
    evbuffer_add_printf(b, "</ul>\n<p><small><a href=\"catalog\">catalog</a> · "
                           "<a href=\"health\">health</a></small></p>\n</body></html>\n");
    tq_web_add_cors(web, req);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/html; charset=utf-8");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
    evhttp_send_reply(req, 200, NULL, b);
    evbuffer_free(b);
}

static const struct tq_tileset_config *tileset_n(const struct tq_config *cfg, const char *s,
                                                 size_t len, size_t *index)
{
    for (size_t i = 0; i < cfg->ntilesets; i++) {
        if (strlen(cfg->tilesets[i].name) == len && memcmp(cfg->tilesets[i].name, s, len) == 0) {
            *index = i;
            return &cfg->tilesets[i];
        }
    }
    return NULL;
}

/* ---- readiness ------------------------------------------------------------------------- */

/* Answers GET /ready from the held schemas: 200 "ready" when every tileset has a complete
 * layer schema, else 503 naming the first tileset that has none (why a fresh cluster is
 * live, /health, but not yet ready: no worker has prepared its tilesets). */
static void send_ready(struct tq_web *web, struct evhttp_request *req)
{
    char why[300];

    for (size_t i = 0; i < web->cfg->ntilesets; i++) {
        const struct tq_tileset_config *t = &web->cfg->tilesets[i];
        if (!tq_tilejson_schema_complete(t, web->schemas[i].schema)) {
            snprintf(why, sizeof why,
                     "not ready: the layer schema of tileset %s is not published yet (no worker "
                     "has prepared it; is a tileq-worker running?)",
                     t->name);
            send_error(web, req, 503, why, 1);
            return;
        }
    }
    send_error(web, req, 200, "ready", 0);
}

/* HGETALL {tq}:schema: keeps every configured tileset's schema, then answers (owns req). */
static void on_ready_reply(struct tq_rconn *rc, redisReply *reply, const char *err, void *arg)
{
    struct tj_req *r = arg;
    struct tq_web *web = r->web;
    size_t ts;

    (void)rc;
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t k = 0; k + 1 < reply->elements; k += 2) {
            const redisReply *f = reply->element[k], *v = reply->element[k + 1];
            if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
                tileset_n(web->cfg, f->str, f->len, &ts) != NULL)
                schema_store(web, ts, v->str, v->len);
        }
        send_ready(web, r->req);
    } else {
        char why[300];
        snprintf(why, sizeof why, "not ready: redis: %s",
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str
                                                           : (err ? err : "unexpected reply"));
        send_error(web, r->req, 503, why, 1);
    }
    free(r);
}

static void serve_ready(struct tq_web *web, struct evhttp_request *req)
{
    struct tj_req *r;

    if (web->cmd == NULL || !tq_rconn_is_up(web->cmd)) {
        send_error(web, req, 503, "not ready: redis unavailable", 1);
        return;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        send_error(web, req, 500, "out of memory", 0);
        return;
    }
    r->web = web;
    r->req = req;
    if (tq_rconn_command(web->cmd, CMD_TIMEOUT_MS, on_ready_reply, r, "HGETALL %s",
                         TQ_SCHEMA_KEY) != 0) {
        free(r);
        send_error(web, req, 503, "not ready: redis unavailable", 1);
    }
}

int tq_web_route(struct tq_web *web, struct evhttp_request *req, const char *uri)
{
    size_t plen = strcspn(uri, "?#"), i;
    char base[BASE_URL_MAX];

    if (plen == 1 && uri[0] == '/') {
        send_index(web, req);
        return 1;
    }
    if (plen == 12 && strncmp(uri, "/favicon.ico", 12) == 0) {
        send_body(web, req, 204, "image/x-icon", "public, max-age=86400", NULL, 0, 0);
        return 1;
    }
    if (plen == 6 && strncmp(uri, "/ready", 6) == 0) {
        serve_ready(web, req);
        return 1;
    }
    if (plen == 8 && strncmp(uri, "/catalog", 8) == 0) {
        base_url(web, req, base, sizeof base);
        send_json(web, req, tq_tilejson_catalog(web->cfg, base));
        return 1;
    }
    if (plen > 8 && strncmp(uri, "/static/", 8) == 0) {
        char name[160];
        if (!static_name_ok(uri + 8, plen - 8))
            return 0;
        snprintf(name, sizeof name, "%.*s", (int)(plen - 8), uri + 8);
        send_static(web, req, name);
        return 1;
    }
    if (plen > 5 && strncmp(uri, "/map/", 5) == 0) {
        if (tileset_n(web->cfg, uri + 5, plen - 5, &i) == NULL) {
            send_error(web, req, 404, "unknown tileset", 0);
            return 1;
        }
        send_static(web, req, "map.html");
        return 1;
    }
    /* /{tileset}.json */
    if (plen > 6 && strncmp(uri + plen - 5, ".json", 5) == 0 &&
        memchr(uri + 1, '/', plen - 1) == NULL) {
        if (tileset_n(web->cfg, uri + 1, plen - 6, &i) == NULL) {
            send_error(web, req, 404, "unknown tileset", 0);
            return 1;
        }
        serve_tilejson(web, req, i);
        return 1;
    }
    return 0;
}

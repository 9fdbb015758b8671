/* tq_web — what the coordinator serves to map clients besides the render queue:
 *
 *   tile responses (tq_web_send_tile): Content-Encoding gzip when the client accepts it,
 *     plain bytes otherwise, whatever the cache holds (plain, or gzip); Vary:
 *     Accept-Encoding; a strong ETag from the plain bytes; If-None-Match → 304;
 *     Cache-Control (http.cache_control); Access-Control-Allow-Origin (http.cors_origin)
 *   OPTIONS on any path: the CORS preflight (204)
 *   GET /{tileset}.json  TileJSON 3.0.0 (tq_tilejson.h). The vector_layers' fields come from
 *     the layer schema the workers publish in Redis ({tq}:schema): read with an async HGET
 *     when the copy held here is older than SCHEMA_TTL_MS (10 s), served from the held copy
 *     when Redis does not answer; 503 + Retry-After while no worker has published the
 *     tileset's schema yet.
 *   GET /ready           200 "ready" when Redis answers and every tileset's layer schema is
 *                        published (TileJSON and tiles work); else 503 "not ready: WHY"
 *                        (GET /health, the coordinator's, only says "live": Redis reachable)
 *   GET /catalog         every tileset with its TileJSON URL (JSON)
 *   GET /                an HTML page listing the tilesets, each linking to its map
 *   GET /map/{tileset}   the preview map (static map.html: MapLibre GL JS, a default style
 *                        per layer, attributes on click)
 *   GET /static/{file}   the files of the static dir (http.static_dir, else the installed
 *                        share/tileq/static, else the build tree's static/)
 * Absolute URLs (TileJSON tiles, catalog) start with http.public_url when set, else with
 * what the request's Host / X-Forwarded-Proto / -Host / -Prefix headers say. */
#ifndef TQ_WEB_H
#define TQ_WEB_H

#include <stddef.h>

#include <event2/http.h>

#include "tq_cache.h"
#include "tq_config.h"
#include "tq_rconn.h"

struct tq_web;

/* cfg must outlive the web; cmd (the coordinator's command connection) is borrowed until
 * tq_web_detach. NULL on OOM. */
struct tq_web *tq_web_new(const struct tq_config *cfg, struct tq_rconn *cmd);

/* Forget cmd (call before freeing it). Held TileJSON requests are answered by their
 * command callbacks, which the connection's free runs. */
void tq_web_detach(struct tq_web *web);

void tq_web_free(struct tq_web *web);

/* Adds the CORS header every response carries. */
void tq_web_add_cors(const struct tq_web *web, struct evhttp_request *req);

/* Answers req with a tile (200; 204 when it is empty; 304 when If-None-Match matches), label
 * going into X-Tileq (may be NULL). tile is as read from the cache (gzip, or plain from a
 * legacy cache), borrowed: its stored bytes are sent as they are when the client accepts
 * that encoding, else inflated or compressed for it. The ETag comes from the tile's plain
 * length and CRC-32 (tq_http_etag), so it is the same whichever form the cache holds.
 * Gives req back to evhttp. */
void tq_web_send_tile(struct tq_web *web, struct evhttp_request *req, const char *label,
                      const struct tq_cache_tile *tile);

/* Answers req with code and the plain-text body "reason\n" (Cache-Control: no-store), label
 * in X-Tileq when not NULL, Retry-After when retry_after > 0. Gives req back to evhttp. */
void tq_web_send_text(struct tq_web *web, struct evhttp_request *req, int code, const char *label,
                      const char *reason, int retry_after);

/* Answers an OPTIONS request (CORS preflight). */
void tq_web_send_preflight(struct tq_web *web, struct evhttp_request *req);

/* Serves the non-tile routes above for a GET or HEAD of uri. Returns 1 when it answered
 * (now or later, from a Redis reply), 0 when uri is none of them (req untouched). */
int tq_web_route(struct tq_web *web, struct evhttp_request *req, const char *uri);

#endif

/* tq_access — the coordinator's view of who sent a request (issue 16): the peer of its
 * connection and, when that peer is one of http.trusted_proxies, the X-Forwarded-* headers
 * it passed on (tq_proxy.h); and the answer to "may this client see /metrics and /health"
 * (http.metrics_allow). */
#ifndef TQ_ACCESS_H
#define TQ_ACCESS_H

#include <event2/http.h>

#include "tq_config.h"
#include "tq_proxy.h"

/* Fills *out for req (its connection's peer, and every X-Forwarded-For line joined). */
void tq_access_view(const struct tq_config *cfg, struct evhttp_request *req,
                    struct tq_proxy_view *out);

/* req's X-Forwarded-<name> value (name "Proto", "Host", "Prefix") when it counts (req came
 * through a trusted proxy, view as tq_access_view filled it), else NULL. */
const char *tq_access_forwarded(const struct tq_proxy_view *view, struct evhttp_request *req,
                                const char *name);

/* 1 when req's client is in http.metrics_allow (an unknown client never is). */
int tq_access_private_ok(const struct tq_config *cfg, struct evhttp_request *req);

#endif

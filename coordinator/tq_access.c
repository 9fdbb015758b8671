/* tq_access — see tq_access.h. */
#include "tq_access.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>

/* X-Forwarded-For lines joined, at most: longer than any real chain of proxies. */
#define XFF_MAX 4096

void tq_access_view(const struct tq_config *cfg, struct evhttp_request *req,
                    struct tq_proxy_view *out)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyval *h;
    char *peer = NULL, xff[XFF_MAX];
    ev_uint16_t port = 0;
    size_t len = 0;
    int any = 0, too_long = 0;

    if (evcon)
        evhttp_connection_get_peer(evcon, &peer, &port);
    /* Every X-Forwarded-For line, in order, as one list (RFC 9110 §5.3). */
    xff[0] = '\0';
    for (h = in->tqh_first; h != NULL; h = h->next.tqe_next) {
        if (strcasecmp(h->key, "X-Forwarded-For") != 0)
            continue;
        int n = snprintf(xff + len, sizeof xff - len, "%s%s", any ? "," : "", h->value);
        if (n < 0 || (size_t)n >= sizeof xff - len) {
            too_long = 1;
            break;
        }
        len += (size_t)n;
        any = 1;
    }
    /* A chain too long to read is one we cannot tell the client from: "" is malformed. */
    tq_proxy_view(&cfg->http.trusted_proxies, peer, too_long ? "" : any ? xff : NULL, out);
}

const char *tq_access_forwarded(const struct tq_proxy_view *view, struct evhttp_request *req,
                                const char *name)
{
    char key[32];

    if (!view->forwarded)
        return NULL;
    snprintf(key, sizeof key, "X-Forwarded-%s", name);
    return evhttp_find_header(evhttp_request_get_input_headers(req), key);
}

int tq_access_private_ok(const struct tq_config *cfg, struct evhttp_request *req)
{
    struct tq_proxy_view v;

    tq_access_view(cfg, req, &v);
    return v.client_known && tq_cidr_list_match(&cfg->http.metrics_allow, &v.client);
}

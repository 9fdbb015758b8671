/* tq_proxy — who a request comes from, behind proxies we trust (issue 16).
 *
 * A request's peer is the address its connection comes from. When the peer is one of
 * http.trusted_proxies, its X-Forwarded-* headers are believed: X-Forwarded-Proto/-Host/
 * -Prefix shape the public base URL (tq_http_base_url), and the client is found in
 * X-Forwarded-For, read from the right (each proxy appends the address it got the request
 * from): the first entry that is not a trusted proxy is the client; entries left of it were
 * written by someone we do not trust and are not looked at. When the peer is not trusted,
 * every X-Forwarded-* header is ignored and the peer is the client: a client cannot forge
 * its address, its host or its scheme by sending those headers itself. */
#ifndef TQ_PROXY_H
#define TQ_PROXY_H

#include "tq_cidr.h"

struct tq_proxy_view {
    int forwarded;       /* 1: the peer is a trusted proxy; its X-Forwarded-* count */
    int client_known;    /* 1: client holds the client's address; 0: it cannot be told */
    struct tq_ip client; /* the client's address when client_known */
};

/* Fills *out for a request from peer (numeric address text; NULL or unparsable: an unknown
 * client, nothing forwarded) carrying X-Forwarded-For xff (comma-separated addresses, all
 * header lines joined by commas; NULL = absent). Through trusted proxies: the rightmost
 * untrusted entry is the client; an entry that is not an address (a port, a name,
 * "unknown", an empty entry) before one is found makes the client unknown (never taken for
 * a trusted address); when every entry is trusted, the leftmost is the client; with no
 * X-Forwarded-For, the peer. */
void tq_proxy_view(const struct tq_cidr_list *trusted, const char *peer, const char *xff,
                   struct tq_proxy_view *out);

#endif

/* tq_http — the pure pieces of tileq's HTTP behaviour, kept apart from libevent so they can
 * be unit-tested: content negotiation (Accept-Encoding with q-values), entity tags and
 * If-None-Match, and the public base URL of a request. */
#ifndef TQ_HTTP_H
#define TQ_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* 1 when a response may be sent gzip-encoded to a client that sent this Accept-Encoding
 * value (NULL = header absent), 0 for identity. RFC 9110 §12.5.3: codings are matched
 * case-insensitively; "x-gzip" is gzip; "*" covers codings not listed; q=0 means "not
 * acceptable". gzip is chosen when its q is > 0 and not lower than identity's (identity
 * counts as q=1 only when listed or covered by "*"). A malformed q makes its entry ignored. */
int tq_http_accepts_gzip(const char *accept_encoding);

/* Length of a tag written by tq_http_etag, with quotes and NUL. */
#define TQ_HTTP_ETAG_MAX 48

/* Writes a strong entity tag for a representation of a tile whose plain (uncompressed) bytes
 * are plain_len long with CRC-32 plain_crc into out (at least TQ_HTTP_ETAG_MAX bytes):
 * "\"<plain_len hex>-<crc 8 hex>\"", with "-gz" before the closing quote when the
 * representation is gzip-encoded (a strong tag names one representation). Both numbers are in
 * a gzip member's trailer: a tile stored gzip-compressed gets its tag without being inflated,
 * and the same tile stored plain (a legacy cache) gets the same tag. */
void tq_http_etag(size_t plain_len, uint32_t plain_crc, int gzip, char *out);

/* 1 when if_none_match (the header value, may be NULL) matches etag (as written by
 * tq_http_etag): "*", or any listed tag, weak or not (If-None-Match uses the weak
 * comparison), equal to etag or to etag's other encoding (same plain bytes). Else 0. */
int tq_http_etag_match(const char *if_none_match, const char *etag);

/* The absolute base URL (no trailing slash) under which a client reached us, written into
 * out: public_url when set (configured; trailing slashes dropped); else
 * <proto>://<host><prefix> where proto is X-Forwarded-Proto (first value; "http" or
 * "https") or "http", host is X-Forwarded-Host (first value) or Host or fallback_host, and
 * prefix is X-Forwarded-Prefix (first value, must start with "/"). Header values that
 * contain characters not allowed in a host or path are ignored. Any argument but out may be
 * NULL. Returns 0, or -1 when it does not fit. */
int tq_http_base_url(const char *public_url, const char *host, const char *xf_proto,
                     const char *xf_host, const char *xf_prefix, const char *fallback_host,
                     char *out, size_t size);

#endif

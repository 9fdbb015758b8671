/* tq_http — see tq_http.h. */
#include "tq_http.h"

#include <ctype.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return end;
}

/* Parses a qvalue: "0", "0.xyz", "1", "1.000" (RFC 9110 §12.4.2) into thousandths.
 * Returns -1 when malformed. */
static int parse_qvalue(const char *p, const char *end)
{
    int v, digits = 0, scale = 100;

    if (p >= end || (*p != '0' && *p != '1'))
        return -1;
    v = (*p - '0') * 1000;
    p++;
    if (p == end)
        return v;
    if (*p != '.')
        return -1;
    for (p++; p < end; p++, digits++) {
        if (!isdigit((unsigned char)*p) || digits >= 3)
            return -1;
        v += (*p - '0') * scale;
        scale /= 10;
    }
    return v > 1000 ? -1 : v;
}

static int token_is(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) == n && strncasecmp(p, word, n) == 0;
}

int tq_http_accepts_gzip(const char *ae)
{
    int q_gzip = -1, q_identity = -1, q_star = -1;
    const char *p, *end;

    if (ae == NULL)
        return 0;
    for (p = ae; *p;) {
        const char *item_end = strchr(p, ',');
        if (item_end == NULL)
            item_end = p + strlen(p);
        const char *tok = skip_ows(p, item_end), *tok_end = tok;
        while (tok_end < item_end && *tok_end != ';' && *tok_end != ' ' && *tok_end != '\t')
            tok_end++;
        int q = 1000;
        /* parameters: only q matters; anything malformed drops the entry */
        const char *semi = memchr(tok_end, ';', (size_t)(item_end - tok_end));
        if (semi == NULL && skip_ows(tok_end, item_end) != item_end)
            q = -1;
        while (semi != NULL && q >= 0) {
            const char *ps = skip_ows(semi + 1, item_end);
            const char *pe = ps < item_end ? memchr(ps, ';', (size_t)(item_end - ps)) : NULL;
            const char *next = pe;
            if (pe == NULL)
                pe = item_end;
            pe = trim_end(ps, pe);
            const char *eq = memchr(ps, '=', (size_t)(pe - ps));
            const char *name_end = trim_end(ps, eq ? eq : pe);
            if (name_end - ps == 1 && (ps[0] == 'q' || ps[0] == 'Q'))
                q = eq ? parse_qvalue(skip_ows(eq + 1, pe), pe) : -1;
            semi = next;
        }
        if (q >= 0 && tok < tok_end) {
            end = tok_end;
            if (token_is(tok, end, "gzip") || token_is(tok, end, "x-gzip"))
                q_gzip = q > q_gzip ? q : q_gzip;
            else if (token_is(tok, end, "identity"))
                q_identity = q;
            else if (token_is(tok, end, "*"))
                q_star = q;
        }
        p = *item_end ? item_end + 1 : item_end;
    }
    if (q_gzip < 0)
        q_gzip = q_star; /* not listed: "*" decides (absent: not acceptable) */
    if (q_identity < 0)
        q_identity = q_star; /* identity not listed: as "*" when present, else unranked */
    return q_gzip > 0 && q_gzip >= q_identity;
}

void tq_http_etag(size_t plain_len, uint32_t plain_crc, int gzip, char *out)
{
    snprintf(out, TQ_HTTP_ETAG_MAX, "\"%zx-%08" PRIx32 "%s\"", plain_len, plain_crc,
             gzip ? "-gz" : "");
}

/* The tag's opaque part without quotes and without the "-gz" suffix. */
static size_t etag_base(const char *tag, size_t len, const char **start)
{
    if (len >= 2 && tag[0] == '"' && tag[len - 1] == '"') {
        tag++;
        len -= 2;
    }
    if (len >= 3 && memcmp(tag + len - 3, "-gz", 3) == 0)
        len -= 3;
    *start = tag;
    return len;
}

int tq_http_etag_match(const char *inm, const char *etag)
{
    const char *eb, *p;
    size_t eblen;

    if (inm == NULL || etag == NULL)
        return 0;
    eblen = etag_base(etag, strlen(etag), &eb);
    for (p = inm; *p;) {
        const char *item_end = strchr(p, ',');
        if (item_end == NULL)
            item_end = p + strlen(p);
        const char *s = skip_ows(p, item_end), *e = trim_end(s, item_end);
        if (e - s == 1 && *s == '*')
            return 1;
        if (e - s >= 2 && s[0] == 'W' && s[1] == '/')
            s += 2;
        if (e - s >= 2 && s[0] == '"' && e[-1] == '"') {
            const char *b;
            size_t blen = etag_base(s, (size_t)(e - s), &b);
            if (blen == eblen && memcmp(b, eb, blen) == 0)
                return 1;
        }
        p = *item_end ? item_end + 1 : item_end;
    }
    return 0;
}

static int first_value(const char *v, char *out, size_t size)
{
    const char *s, *e;
    if (v == NULL)
        return -1;
    e = strchr(v, ',');
    if (e == NULL)
        e = v + strlen(v);
    s = skip_ows(v, e);
    e = trim_end(s, e);
    if (e == s || (size_t)(e - s) >= size)
        return -1;
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    return 0;
}

/* Host or host:port, "[v6]:port" too: letters, digits, "-._:[]" only. */
static int host_ok(const char *h)
{
    if (*h == '\0')
        return 0;
    for (; *h; h++) {
        unsigned char c = (unsigned char)*h;
        if (!isalnum(c) && !strchr("-._:[]", c))
            return 0;
    }
    return 1;
}

/* An absolute path of unreserved characters, "/", "%", "~", "+", "@" and ";=,". */
static int prefix_ok(const char *p)
{
    if (p[0] != '/')
        return 0;
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!isalnum(c) && !strchr("/-._~%+@;=", c))
            return 0;
    }
    return 1;
}

int tq_http_base_url(const char *public_url, const char *host, const char *xf_proto,
                     const char *xf_host, const char *xf_prefix, const char *fallback_host,
                     char *out, size_t size)
{
    char proto[8] = "http", h[256] = "", prefix[512] = "", tmp[512];
    int n;

    if (public_url && public_url[0]) {
        size_t len = strlen(public_url);
        while (len > 0 && public_url[len - 1] == '/')
            len--;
        n = snprintf(out, size, "%.*s", (int)len, public_url);
        return n < 0 || (size_t)n >= size ? -1 : 0;
    }
    if (first_value(xf_proto, tmp, sizeof tmp) == 0 &&
        (strcasecmp(tmp, "http") == 0 || strcasecmp(tmp, "https") == 0)) {
        snprintf(proto, sizeof proto, "%s", strcasecmp(tmp, "https") == 0 ? "https" : "http");
    }
    if ((first_value(xf_host, h, sizeof h) == 0 && host_ok(h)) ||
        (first_value(host, h, sizeof h) == 0 && host_ok(h)))
        ;
    else if (fallback_host && host_ok(fallback_host) && strlen(fallback_host) < sizeof h)
        memcpy(h, fallback_host, strlen(fallback_host) + 1);
    else
        memcpy(h, "localhost", 10);
    if (first_value(xf_prefix, prefix, sizeof prefix) == 0 && prefix_ok(prefix)) {
        size_t len = strlen(prefix);
        while (len > 0 && prefix[len - 1] == '/')
            prefix[--len] = '\0';
    } else {
        prefix[0] = '\0';
    }
    n = snprintf(out, size, "%s://%s%s", proto, h, prefix);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* fuzz_http — the header helpers of lib/web/tq_http.h. The input is split at '\n' into up to
 * ten header values (a missing one is NULL, an absent header):
 *   0 Accept-Encoding  1 If-None-Match  2 Host  3 X-Forwarded-Proto  4 X-Forwarded-Host
 *   5 X-Forwarded-Prefix  6 the fallback host  7 public_url  8 a peer address
 *   9 X-Forwarded-For
 * and the whole input is also a gzip stream and a tile body. Properties:
 *   - tq_http_accepts_gzip is 0 or 1, and 0 unless the value names gzip or "*";
 *   - a tag from tq_http_etag is quoted, fits TQ_HTTP_ETAG_MAX, and matches itself, its weak
 *     form, its other encoding and any list ending in "*"; If-None-Match matches only when it
 *     holds the tag's opaque part or "*";
 *   - gunzip never returns more than max_out bytes, what it returns re-encodes and decodes to
 *     the same bytes, and gzip → gunzip is the identity (refused when max_out is one short);
 *   - tq_http_base_url with no public_url always fits a 2 KB buffer and is
 *     "http[s]://" + host and path characters only (no header value can inject anything
 *     else); with a public_url it is that URL without trailing slashes; with a small buffer
 *     it fails or fits, never overflows;
 *   - tq_proxy_view (lib/web/tq_proxy.h; trusted: 127.0.0.0/8, 10.0.0.0/8, fd00::/8): from a
 *     peer that is not an address nothing is known; from an untrusted peer nothing is
 *     forwarded and the client is the peer; behind a trusted peer, only a malformed
 *     X-Forwarded-For hides the client, which is the peer when there is none, else an
 *     address written in it. */
#include "tq_fuzz.h"

#include <strings.h>

#include <zlib.h>

#include "tq_gzip.h"
#include "tq_http.h"
#include "tq_proxy.h"

#define NFIELDS 10
#define MAX_OUT (1u << 16)

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static void check_accept_encoding(const char *ae)
{
    int r = tq_http_accepts_gzip(ae);
    TQ_FUZZ_CHECK(r == 0 || r == 1);
    if (ae == NULL || (!contains_ci(ae, "gzip") && strchr(ae, '*') == NULL))
        TQ_FUZZ_CHECK(r == 0);
}

static void check_etag(const uint8_t *data, size_t size, const char *inm)
{
    char plain[TQ_HTTP_ETAG_MAX], gz[TQ_HTTP_ETAG_MAX], buf[2 * TQ_HTTP_ETAG_MAX + 8];
    size_t plen;

    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)size);
    tq_http_etag(size, crc, 0, plain);
    tq_http_etag(size, crc, 1, gz);
    plen = strlen(plain);
    TQ_FUZZ_CHECK(plen >= 4 && plen + 3 < TQ_HTTP_ETAG_MAX && strlen(gz) == plen + 3);
    TQ_FUZZ_CHECK(plain[0] == '"' && plain[plen - 1] == '"' &&
                  strchr(plain + 1, '"') == plain + plen - 1);
    TQ_FUZZ_CHECK(tq_http_etag_match(plain, plain) == 1 && tq_http_etag_match(gz, gz) == 1);
    TQ_FUZZ_CHECK(tq_http_etag_match(gz, plain) == 1 && tq_http_etag_match(plain, gz) == 1);
    snprintf(buf, sizeof buf, "W/%s", plain);
    TQ_FUZZ_CHECK(tq_http_etag_match(buf, gz) == 1);
    snprintf(buf, sizeof buf, "\"x\" , %s ,\"y\"", gz);
    TQ_FUZZ_CHECK(tq_http_etag_match(buf, plain) == 1);
    TQ_FUZZ_CHECK(tq_http_etag_match(NULL, plain) == 0 && tq_http_etag_match(plain, NULL) == 0);
    if (inm == NULL)
        return;

    /* The opaque part: between the quotes, without "-gz". */
    char base[TQ_HTTP_ETAG_MAX];
    snprintf(base, sizeof base, "%.*s", (int)(plen - 2), plain + 1);
    int r = tq_http_etag_match(inm, plain);
    TQ_FUZZ_CHECK(r == 0 || r == 1);
    TQ_FUZZ_CHECK(tq_http_etag_match(inm, gz) == r);
    if (r == 1)
        TQ_FUZZ_CHECK(strchr(inm, '*') != NULL || strstr(inm, base) != NULL);
    size_t n = strlen(inm);
    char *list = malloc(n + 4);
    TQ_FUZZ_CHECK(list != NULL);
    memcpy(list, inm, n);
    memcpy(list + n, ",*", 3);
    TQ_FUZZ_CHECK(tq_http_etag_match(list, plain) == 1);
    free(list);
}

static void check_gzip(const uint8_t *data, size_t size)
{
    unsigned char *out = NULL, *gz = NULL, *back = NULL;
    size_t outlen = 0, gzlen = 0, backlen = 0;

    if (tq_gzip_decompress(data, size, MAX_OUT, &out, &outlen) == 0) {
        TQ_FUZZ_CHECK(outlen <= MAX_OUT && tq_gzip_is(data, size));
        TQ_FUZZ_CHECK(tq_gzip_compress(out, outlen, &gz, &gzlen) == 0);
        TQ_FUZZ_CHECK(tq_gzip_decompress(gz, gzlen, outlen, &back, &backlen) == 0);
        TQ_FUZZ_CHECK(backlen == outlen && (outlen == 0 || memcmp(back, out, outlen) == 0));
        free(gz);
        free(back);
        gz = back = NULL;
    } else {
        TQ_FUZZ_CHECK(out == NULL && outlen == 0);
    }
    free(out);

    TQ_FUZZ_CHECK(tq_gzip_compress(data, size, &gz, &gzlen) == 0);
    TQ_FUZZ_CHECK(tq_gzip_is(gz, gzlen));
    TQ_FUZZ_CHECK(tq_gzip_decompress(gz, gzlen, size, &back, &backlen) == 0);
    TQ_FUZZ_CHECK(backlen == size && (size == 0 || memcmp(back, data, size) == 0));
    free(back);
    back = NULL;
    if (size > 0) {
        TQ_FUZZ_CHECK(tq_gzip_decompress(gz, gzlen, size - 1, &back, &backlen) == -1);
        TQ_FUZZ_CHECK(back == NULL);
    }
    free(gz);
}

static int url_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._:[]/~%+@;=", c) != NULL);
}

static void check_proxy(const char *peer, const char *xff)
{
    static struct tq_cidr_list trusted;
    struct tq_proxy_view v;
    struct tq_ip ip;
    char text[64];

    if (trusted.n == 0) {
        TQ_FUZZ_CHECK(tq_cidr_list_add(&trusted, "127.0.0.0/8", NULL, 0) == 0);
        TQ_FUZZ_CHECK(tq_cidr_list_add(&trusted, "10.0.0.0/8", NULL, 0) == 0);
        TQ_FUZZ_CHECK(tq_cidr_list_add(&trusted, "fd00::/8", NULL, 0) == 0);
    }
    tq_proxy_view(&trusted, peer, xff, &v);
    TQ_FUZZ_CHECK(v.forwarded == 0 || v.forwarded == 1);
    if (peer == NULL || tq_ip_parse(peer, &ip) != 0) {
        TQ_FUZZ_CHECK(!v.forwarded && !v.client_known);
        return;
    }
    if (!tq_cidr_list_match(&trusted, &ip)) {
        TQ_FUZZ_CHECK(!v.forwarded && v.client_known && memcmp(&v.client, &ip, sizeof ip) == 0);
        return;
    }
    TQ_FUZZ_CHECK(v.forwarded);
    if (!v.client_known) {
        TQ_FUZZ_CHECK(xff != NULL); /* only a malformed chain hides the client */
    } else if (xff == NULL) {
        TQ_FUZZ_CHECK(memcmp(&v.client, &ip, sizeof ip) == 0);
    } else if (v.client.family == 4 && strchr(xff, ':') == NULL) {
        /* inet_ntop's spelling of an IPv6 or mapped address need not be the entry's; a
         * plain IPv4 entry must be there as written. */
        tq_ip_format(&v.client, text, sizeof text);
        TQ_FUZZ_CHECK(strstr(xff, text) != NULL);
    }
}

static void check_base_url(char *const f[NFIELDS])
{
    char out[2048], small[24];
    const char *pub = f[7];

    int rc = tq_http_base_url(pub, f[2], f[3], f[4], f[5], f[6], out, sizeof out);
    if (pub == NULL || pub[0] == '\0') {
        TQ_FUZZ_CHECK(rc == 0);
        const char *rest = strncmp(out, "https://", 8) == 0 ? out + 8 : out + 7;
        TQ_FUZZ_CHECK(strncmp(out, "http://", 7) == 0 || rest == out + 8);
        TQ_FUZZ_CHECK(*rest != '\0' && *rest != '/');
        for (const char *c = rest; *c; c++)
            TQ_FUZZ_CHECK(url_char((unsigned char)*c));
        TQ_FUZZ_CHECK(out[strlen(out) - 1] != '/');
    } else {
        size_t n = strlen(pub);
        while (n > 0 && pub[n - 1] == '/')
            n--;
        if (rc == 0)
            TQ_FUZZ_CHECK(strlen(out) == n && memcmp(out, pub, n) == 0);
        else
            TQ_FUZZ_CHECK(n >= sizeof out);
    }
    memset(small, 'x', sizeof small);
    rc = tq_http_base_url(pub, f[2], f[3], f[4], f[5], f[6], small, sizeof small);
    TQ_FUZZ_CHECK(rc == -1 || (rc == 0 && memchr(small, '\0', sizeof small) != NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *f[NFIELDS] = {0};
    size_t nf = 0;

    TQ_FUZZ_CHECK(copy != NULL);
    if (size > 0)
        memcpy(copy, data, size);
    copy[size] = '\0';
    for (char *p = copy; nf < NFIELDS && p <= copy + size;) {
        char *nl = memchr(p, '\n', (size_t)(copy + size - p));
        f[nf++] = p;
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }

    check_accept_encoding(f[0]);
    check_accept_encoding(NULL);
    check_etag(data, size, f[1]);
    check_gzip(data, size);
    check_base_url(f);
    check_proxy(f[8], f[9]);
    free(copy);
    return 0;
}

/* tq_cidr — see tq_cidr.h. */
#include "tq_cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int tq_ip_parse(const char *s, struct tq_ip *out)
{
    unsigned char b[16];

    if (s == NULL || out == NULL)
        return -1;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, s, b) == 1) {
        out->family = 4;
        memcpy(out->bytes, b, 4);
        return 0;
    }
    if (inet_pton(AF_INET6, s, b) == 1) {
        if (memcmp(b, v4_mapped, sizeof v4_mapped) == 0) {
            out->family = 4;
            memcpy(out->bytes, b + 12, 4);
        } else {
            out->family = 6;
            memcpy(out->bytes, b, 16);
        }
        return 0;
    }
    return -1;
}

static void set_why(char *why, size_t size, const char *msg)
{
    if (why && size > 0)
        snprintf(why, size, "%s", msg);
}

#define WHY_FORM "must be an IP address or ADDRESS/BITS"
#define WHY_BITS "the prefix length must be a number (/0../32 or /0../128)"

int tq_cidr_parse(const char *s, struct tq_cidr *out, char *why, size_t whysize)
{
    const char *err = NULL, *slash, *p;
    char addr[64];
    size_t alen;
    int max, bits;

    if (s == NULL || *s == '\0') {
        err = WHY_FORM;
        goto cleanup;
    }
    slash = strchr(s, '/');
    alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof addr) {
        err = WHY_FORM;
        goto cleanup;
    }
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (tq_ip_parse(addr, &out->net) != 0) {
        err = "not a numeric IPv4 or IPv6 address (no host names)";
        goto cleanup;
    }
    /* "::ffff:10.0.0.0/104" would be an IPv4 range written as IPv6: refused, write it as
     * IPv4 (the mapped form is folded into IPv4 above, so its bits would not fit). */
    if (out->net.family == 4 && strchr(addr, ':') != NULL && slash != NULL) {
        err = "write an IPv4 range as a.b.c.d/BITS";
        goto cleanup;
    }
    max = out->net.family == 4 ? 32 : 128;
    bits = max;
    if (slash) {
        /* 1 to 3 digits, no leading zero ("/08" is more likely a typo than 8) */
        p = slash + 1;
        if (*p == '\0' || strlen(p) > 3 || strspn(p, "0123456789") != strlen(p) ||
            (p[0] == '0' && p[1] != '\0')) {
            err = WHY_BITS;
            goto cleanup;
        }
        for (bits = 0; *p; p++)
            bits = bits * 10 + (*p - '0');
        if (bits > max) {
            err = max == 32 ? "an IPv4 prefix length is 0..32" : "an IPv6 prefix length is 0..128";
            goto cleanup;
        }
    }
    out->bits = bits;
    /* Host bits set is almost always a typo ("10.0.0.1/8" for 10.0.0.0/8): say so. */
    for (int i = 0; i < max / 8; i++) {
        int keep = bits - i * 8;
        unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
        if (out->net.bytes[i] & (unsigned char)~mask) {
            err = "host bits are set after the prefix (e.g. write 10.0.0.0/8)";
            goto cleanup;
        }
    }
cleanup:
    if (err)
        set_why(why, whysize, err);
    return err ? -1 : 0;
}

int tq_cidr_match(const struct tq_cidr *c, const struct tq_ip *ip)
{
    int full, rest;

    if (c == NULL || ip == NULL || c->net.family != ip->family)
        return 0;
    full = c->bits / 8;
    rest = c->bits % 8;
    if (memcmp(c->net.bytes, ip->bytes, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (c->net.bytes[full] & mask) == (ip->bytes[full] & mask);
}

int tq_cidr_list_match(const struct tq_cidr_list *l, const struct tq_ip *ip)
{
    for (size_t i = 0; l && i < l->n; i++) {
        if (tq_cidr_match(&l->v[i], ip))
            return 1;
    }
    return 0;
}

int tq_cidr_list_add(struct tq_cidr_list *l, const char *s, char *why, size_t whysize)
{
    struct tq_cidr c, *v;

    if (tq_cidr_parse(s, &c, why, whysize) != 0)
        return -1;
    v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (v == NULL) {
        set_why(why, whysize, "out of memory");
        return -1;
    }
    v[l->n++] = c;
    l->v = v;
    return 0;
}

void tq_cidr_list_free(struct tq_cidr_list *l)
{
    if (l == NULL)
        return;
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

const char *tq_ip_format(const struct tq_ip *ip, char *out, size_t size)
{
    if (size == 0)
        return out;
    if (ip == NULL ||
        inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->bytes, out, (socklen_t)size) == NULL)
        snprintf(out, size, "?");
    return out;
}

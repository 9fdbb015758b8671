/* tq_cidr — IP addresses and address ranges ("10.0.0.0/8", "::1", "fd00::/8"), as written in
 * the configuration (http.trusted_proxies, http.metrics_allow) and as found in a peer's
 * address or an X-Forwarded-For entry, and the test "is this address in that list".
 *
 * Only numeric addresses (inet_pton): no host names, no ports, no zone ids. An IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4 peer) is taken
 * as the IPv4 address, so "127.0.0.1" matches a dual-stack loopback peer. */
#ifndef TQ_CIDR_H
#define TQ_CIDR_H

#include <stddef.h>

struct tq_ip {
    int family;              /* 4 or 6 */
    unsigned char bytes[16]; /* network order; 4 bytes used for IPv4 */
};

struct tq_cidr {
    struct tq_ip net; /* host bits are zero */
    int bits;         /* prefix length: 0..32 (IPv4), 0..128 (IPv6) */
};

/* A list of ranges; owned by whoever holds it (tq_cidr_list_free). */
struct tq_cidr_list {
    size_t n;
    struct tq_cidr *v;
};

/* Parses a numeric address s (surrounding blanks not allowed) into *out. 0, or -1 when s
 * is not one. */
int tq_ip_parse(const char *s, struct tq_ip *out);

/* Parses "ADDR" (a single address: /32 or /128) or "ADDR/BITS" into *out. Returns 0, or -1
 * with a short reason in why (at least 80 bytes; may be NULL): not an address, a prefix
 * length that is not a number in range, or host bits set ("10.0.0.1/8": write 10.0.0.0/8). */
int tq_cidr_parse(const char *s, struct tq_cidr *out, char *why, size_t whysize);

/* 1 when ip is inside c (an IPv4 address never matches an IPv6 range and back). */
int tq_cidr_match(const struct tq_cidr *c, const struct tq_ip *ip);

/* 1 when ip is inside any range of l (NULL or empty: 0). */
int tq_cidr_list_match(const struct tq_cidr_list *l, const struct tq_ip *ip);

/* Appends the range s to l; same return and why as tq_cidr_parse, -1 "out of memory" too. */
int tq_cidr_list_add(struct tq_cidr_list *l, const char *s, char *why, size_t whysize);

/* Frees l's ranges and empties it. */
void tq_cidr_list_free(struct tq_cidr_list *l);

/* Writes ip as text (inet_ntop) into out (at least 46 bytes). Returns out. */
const char *tq_ip_format(const struct tq_ip *ip, char *out, size_t size);

#endif

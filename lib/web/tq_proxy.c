/* tq_proxy — see tq_proxy.h. */
#include "tq_proxy.h"

#include <string.h>

/* An X-Forwarded-For entry is at most an IPv6 address's text (45) plus some blanks. */
#define ENTRY_MAX 64

/* Parses the entry s[0..len) (blanks around it trimmed) into *ip. 0, or -1 when it is not a
 * numeric address. */
static int entry_parse(const char *s, size_t len, struct tq_ip *ip)
{
    char buf[ENTRY_MAX];

    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return tq_ip_parse(buf, ip);
}

void tq_proxy_view(const struct tq_cidr_list *trusted, const char *peer, const char *xff,
                   struct tq_proxy_view *out)
{
    struct tq_ip ip;
    const char *end;

    memset(out, 0, sizeof *out);
    if (peer == NULL || tq_ip_parse(peer, &out->client) != 0)
        return; /* unknown client, nothing forwarded */
    out->client_known = 1;
    if (!tq_cidr_list_match(trusted, &out->client))
        return; /* a client's own X-Forwarded-* are not believed */
    out->forwarded = 1;
    if (xff == NULL)
        return;
    /* From the right: each trusted proxy appended the address it was reached from. */
    end = xff + strlen(xff);
    for (;;) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        if (entry_parse(start, (size_t)(end - start), &ip) != 0) {
            out->client_known = 0; /* cannot tell who is behind a malformed entry */
            return;
        }
        out->client = ip;
        if (!tq_cidr_list_match(trusted, &ip))
            return; /* the first untrusted hop: the client */
        if (start == xff)
            return; /* all trusted: the leftmost */
        end = start - 1;
    }
}

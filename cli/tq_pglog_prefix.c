/* tq_pglog_prefix — see tq_pglog_prefix.h. */
#include "tq_pglog_prefix.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_report.h"

static void copy_str(char *dst, size_t n, const char *s, size_t len)
{
    if (len >= n)
        len = n - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

static const char *const SEVERITIES[] = {"LOG",     "DETAIL",  "ERROR",    "STATEMENT", "HINT",
                                         "CONTEXT", "WARNING", "NOTICE",   "FATAL",     "PANIC",
                                         "INFO",    "QUERY",   "LOCATION", "DEBUG1",    "DEBUG2",
                                         "DEBUG3",  "DEBUG4",  "DEBUG5",   NULL};

const char *tq_pglog_prefix_severity(const char *line, enum tq_pglog_sev *sev, const char **body)
{
    const char *best = NULL;
    int besti = -1;
    size_t limit = 1024;
    for (int i = 0; SEVERITIES[i]; i++) {
        size_t n = strlen(SEVERITIES[i]);
        const char *h = line;
        while ((h = strstr(h, SEVERITIES[i])) != NULL && (size_t)(h - line) < limit) {
            if (strncmp(h + n, ":  ", 3) == 0 &&
                (h == line || h[-1] == ' ' || h[-1] == ']' || h[-1] == ':' || h[-1] == '\t')) {
                if (best == NULL || h < best) {
                    best = h;
                    besti = i;
                }
                break;
            }
            h += n;
        }
    }
    if (best == NULL)
        return NULL;
    *sev = besti == 0 ? TQ_PGLOG_SEV_LOG : besti == 1 ? TQ_PGLOG_SEV_DETAIL : TQ_PGLOG_SEV_OTHER;
    *body = best + strlen(SEVERITIES[besti]) + 3;
    return best;
}

int tq_pglog_prefix_time(const char *s, size_t maxlen, int64_t *out)
{
    char tmp[64];
    if (maxlen < 10 || !isdigit((unsigned char)s[0]))
        return -1;
    if (s[4] != '-') { /* %n */
        char *end;
        double v = strtod(s, &end);
        if (end == s || v < 1e8)
            return -1;
        *out = (int64_t)llround(v * 1000);
        return 0;
    }
    size_t n = 0;
    while (n < maxlen && n < sizeof tmp - 1 &&
           (isdigit((unsigned char)s[n]) || s[n] == '-' || s[n] == ':' || s[n] == '.' ||
            s[n] == 'T' || (s[n] == ' ' && n == 10)))
        n++;
    size_t base = n;
    if (n + 1 < maxlen && s[n] == ' ' && s[n + 1] != '[') { /* a zone token */
        size_t z = n + 1;
        while (z < maxlen && z < sizeof tmp - 1 &&
               (isalnum((unsigned char)s[z]) || s[z] == '+' || s[z] == '-' || s[z] == ':'))
            z++;
        copy_str(tmp, sizeof tmp, s, z);
        if (tq_report_time_parse(tmp, 0, out) == 0)
            return 0;
    }
    copy_str(tmp, sizeof tmp, s, base);
    return tq_report_time_parse(tmp, 0, out);
}

/* user and database: "user=U", "db=D" or "database=D", else the last "U@D" token */
static void parse_user_db(const char *prefix, size_t n, struct tq_pglog_entry *e)
{
    char pre[1024];
    copy_str(pre, sizeof pre, prefix, n);
    const char *u = strstr(pre, "user="), *d = strstr(pre, "db=");
    if (d == NULL)
        d = strstr(pre, "database=") ? strstr(pre, "database=") + 6 : NULL;
    if (u || d) {
        if (u)
            copy_str(e->user, sizeof e->user, u + 5, strcspn(u + 5, ", ]"));
        if (d)
            copy_str(e->db, sizeof e->db, d + 3, strcspn(d + 3, ", ]"));
        return;
    }
    /* %u@%d: the last token holding '@' */
    const char *at = NULL;
    for (const char *c = pre; (c = strchr(c, '@')) != NULL; c++)
        at = c;
    if (at == NULL)
        return;
    const char *start = at;
    while (start > pre && !isspace((unsigned char)start[-1]) && start[-1] != ']')
        start--;
    size_t dl = strcspn(at + 1, " ,:]");
    if (at > start)
        copy_str(e->user, sizeof e->user, start, (size_t)(at - start));
    if (dl > 0)
        copy_str(e->db, sizeof e->db, at + 1, dl);
    if (strcmp(e->user, "[unknown]") == 0)
        e->user[0] = '\0';
}

int tq_pglog_prefix_parse(const char *text, struct tq_pglog_entry *e)
{
    enum tq_pglog_sev sev;
    const char *body;
    const char *sp = tq_pglog_prefix_severity(text, &sev, &body);
    if (sp == NULL)
        return -1;
    size_t plen = (size_t)(sp - text);
    e->sev = sev;
    e->body = body;
    int64_t t;
    if (tq_pglog_prefix_time(text, plen, &t) == 0)
        e->time_ms = t;
    for (const char *c = text; c < sp; c++) {
        if (*c == '[' && isdigit((unsigned char)c[1])) {
            size_t d = strspn(c + 1, "0123456789");
            if (c[1 + d] == ']' && c + 1 + d < sp) {
                e->pid = strtol(c + 1, NULL, 10);
                break;
            }
        }
    }
    parse_user_db(text, plen, e);
    return 0;
}

void tq_pglog_entry_init(struct tq_pglog_entry *e)
{
    memset(e, 0, sizeof *e);
    e->time_ms = TQ_TIME_UNSET;
    e->pid = -1;
}

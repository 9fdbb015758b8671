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
    /* One pass over the first 1 KB for ":  ", then the word before it is looked up: a
     * strstr per severity over the whole line cost most of the parser's time (a statement's
     * continuation lines were each scanned 18 times). */
    size_t n = strnlen(line, 1024 + 3);
    const char *end = line + (n > 1024 ? 1024 : n);
    for (const char *c = line; c < end && (c = memchr(c, ':', (size_t)(end - c))) != NULL; c++) {
        if (c[1] != ' ' || c[2] != ' ')
            continue;
        const char *w = c;
        while (w > line && ((w[-1] >= 'A' && w[-1] <= 'Z') || (w[-1] >= '0' && w[-1] <= '9')))
            w--;
        size_t wl = (size_t)(c - w);
        if (wl < 3 || !(w == line || w[-1] == ' ' || w[-1] == ']' || w[-1] == ':' || w[-1] == '\t'))
            continue;
        for (int i = 0; SEVERITIES[i]; i++) {
            if (strlen(SEVERITIES[i]) == wl && memcmp(SEVERITIES[i], w, wl) == 0) {
                *sev = i == 0   ? TQ_PGLOG_SEV_LOG
                       : i == 1 ? TQ_PGLOG_SEV_DETAIL
                                : TQ_PGLOG_SEV_OTHER;
                *body = c + 3;
                return w;
            }
        }
    }
    return NULL;
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

/* The length of the %t / %m time with its zone at s ("2024-05-01 10:00:00[.123] UTC",
 * zone an abbreviation of 2-5 capitals or +hh[[:]mm]), 0 when s does not start with one. */
static size_t time_zone_len(const char *s)
{
    static const char SHAPE[] = "dddd-dd-dd dd:dd:dd";
    for (size_t i = 0; SHAPE[i]; i++)
        if (SHAPE[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != SHAPE[i] && i != 10)
            return 0;
    if (s[10] != ' ' && s[10] != 'T')
        return 0;
    size_t n = 19;
    if (s[n] == '.')
        for (n++; isdigit((unsigned char)s[n]); n++)
            ;
    if (s[n++] != ' ')
        return 0;
    size_t z = n;
    if (s[z] == '+' || s[z] == '-') {
        z++;
        while (isdigit((unsigned char)s[z]) || s[z] == ':')
            z++;
        return z - n >= 3 ? z : 0;
    }
    while (s[z] >= 'A' && s[z] <= 'Z')
        z++;
    return z - n >= 2 && z - n <= 5 ? z : 0;
}

/* The length of a word that can be a user or database name at s (a letter or '_', then
 * letters, digits, '_', '$', '-', '.'), 0 for anything else: a number (%p, %l, %x), a
 * session id (%c: hex digits and a dot), a client (%r: "host(port)"), "[unknown]". */
static size_t name_len(const char *s)
{
    if (!isalpha((unsigned char)s[0]) && s[0] != '_')
        return 0;
    size_t n = 0, hex = 0, dots = 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '$' || s[n] == '-' ||
           s[n] == '.') {
        hex += isxdigit((unsigned char)s[n]) != 0;
        dots += s[n] == '.';
        n++;
    }
    if (s[n] != ' ' || (dots == 1 && hex == n - 1))
        return 0;
    return n;
}

/* '%t %u %d ...' (CARTO's '%t %u %d %a '): a %t / %m time with its zone, maybe [bracketed]
 * tokens ("[%p]", "[%l-1]:"), then two words that can be names: the user, the database.
 * Only when the prefix has nothing else to go by (no user=, db=, @): a prefix of bare
 * words cannot tell which is which, so this is the order CARTO's syslog logs use; another
 * order, or an application name of two words alone ('%t %a '), needs --prefix. */
static void guess_bare_words(const char *pre, struct tq_pglog_entry *e)
{
    size_t at = time_zone_len(pre);
    if (at == 0 || pre[at] != ' ')
        return;
    at++;
    while (pre[at] == '[') { /* [%p], [%l-1]: ... */
        const char *close = strchr(pre + at, ']');
        if (close == NULL)
            return;
        at = (size_t)(close - pre) + 1;
        if (pre[at] == ':')
            at++;
        if (pre[at++] != ' ')
            return;
    }
    size_t ul = name_len(pre + at);
    if (ul == 0)
        return;
    size_t dl = name_len(pre + at + ul + 1);
    if (dl == 0)
        return;
    copy_str(e->user, sizeof e->user, pre + at, ul);
    copy_str(e->db, sizeof e->db, pre + at + ul + 1, dl);
}

/* user and database: "user=U", "db=D" or "database=D", else the last "U@D" token, else
 * bare words after the time (guess_bare_words) */
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
    if (at == NULL) {
        guess_bare_words(pre, e);
        return;
    }
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
    /* field by field: a memset of the whole entry (its string arrays) per log message
     * cost a tenth of the parser's time */
    e->time_ms = TQ_TIME_UNSET;
    e->pid = -1;
    e->user[0] = e->db[0] = e->app[0] = e->client[0] = e->host[0] = '\0';
    e->sev = TQ_PGLOG_SEV_OTHER;
    e->body = NULL;
    e->late = 0;
}

/* ---------------------------------------------------------------- log_line_prefix */

#define PF_MAX_TOKENS 64

/* A token: a literal (esc 0) or an escape character. */
struct pf_token {
    char esc;
    const char *lit; /* into the copy of the format */
    size_t litlen;
};

struct tq_pglog_prefix {
    char *fmt; /* a copy: literals point into it */
    struct pf_token tok[PF_MAX_TOKENS];
    int n;
};

static const char PF_ESCAPES[] = "aubdrhpPtmnisvxelcqQ";

void tq_pglog_prefix_free(struct tq_pglog_prefix *p)
{
    if (p) {
        free(p->fmt);
        free(p);
    }
}

struct tq_pglog_prefix *tq_pglog_prefix_compile(const char *fmt, char *err, size_t errsize)
{
    struct tq_pglog_prefix *p = calloc(1, sizeof *p);
    int escapes = 0;
    if (p == NULL || (p->fmt = strdup(fmt)) == NULL) {
        snprintf(err, errsize, "out of memory");
        goto fail;
    }
    for (const char *c = p->fmt; *c;) {
        if (p->n == PF_MAX_TOKENS) {
            snprintf(err, errsize, "more than %d parts", PF_MAX_TOKENS);
            goto fail;
        }
        struct pf_token *t = &p->tok[p->n];
        if (c[0] == '%' && c[1] == '%') { /* a literal '%' */
            t->esc = 0;
            t->lit = c + 1;
            t->litlen = 1;
            c += 2;
        } else if (c[0] == '%') {
            const char *e = c + 1;
            if (*e == '-')
                e++;
            e += strspn(e, "0123456789"); /* padding: the value is read without it */
            if (*e == '\0' || strchr(PF_ESCAPES, *e) == NULL) {
                snprintf(err, errsize, "unknown escape '%%%.1s'", e);
                goto fail;
            }
            t->esc = *e;
            escapes += *e != 'q';
            c = e + 1;
        } else {
            t->esc = 0;
            t->lit = c;
            t->litlen = strcspn(c, "%");
            c += t->litlen;
        }
        p->n++;
    }
    if (escapes == 0) {
        snprintf(err, errsize, "no %% escape in it");
        goto fail;
    }
    return p;
fail:
    tq_pglog_prefix_free(p);
    return NULL;
}

/* The length of a time (%t %m %s: "2024-05-01 10:00:00[.123] ZONE") at s, or 0. */
static size_t pf_time_len(const char *s, const char *end)
{
    size_t n = (size_t)(end - s);
    if (n < 19 || !isdigit((unsigned char)s[0]) || s[4] != '-' || s[7] != '-' || s[10] != ' ' ||
        s[13] != ':' || s[16] != ':')
        return 0;
    size_t i = 19;
    if (i < n && s[i] == '.')
        for (i++; i < n && isdigit((unsigned char)s[i]); i++)
            ;
    if (i + 1 < n && s[i] == ' ' &&
        (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '+' || s[i + 1] == '-')) { /* the zone */
        i++;
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == ':'))
            i++;
    }
    return i;
}

static size_t pf_span(const char *s, const char *end, const char *set)
{
    size_t i = 0;
    while (s + i < end && strchr(set, s[i]) != NULL && s[i] != '\0')
        i++;
    return i;
}

/* The fixed length of an escape's value at s when its shape says it (times, numbers, ids),
 * or (size_t)-1 for a free text field (user, database, application, host, ...). */
static size_t pf_shaped(char esc, const char *s, const char *end)
{
    switch (esc) {
    case 't':
    case 'm':
    case 's':
        return pf_time_len(s, end);
    case 'n':
        return pf_span(s, end, "0123456789.");
    case 'p':
    case 'P':
    case 'l':
    case 'x':
        return pf_span(s, end, "0123456789");
    case 'v':
        return pf_span(s, end, "0123456789/");
    case 'c':
        return pf_span(s, end, "0123456789abcdef.");
    case 'e':
        return pf_span(s, end, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    case 'Q':
        return pf_span(s, end, "-0123456789");
    default:
        return (size_t)-1;
    }
}

struct pf_val {
    const char *s;
    size_t n;
};

/* Matches tokens i.. against [s, end), filling v[i]; 1 on a match. Free fields take the
 * shortest text that lets the rest match (backtracking over the next literal's places). */
static int pf_match(const struct tq_pglog_prefix *pf, int i, const char *s, const char *end,
                    struct pf_val *v, int depth)
{
    if (depth > 2 * PF_MAX_TOKENS)
        return 0;
    if (i == pf->n)
        return s == end;
    const struct pf_token *t = &pf->tok[i];
    if (t->esc == 0) {
        if ((size_t)(end - s) < t->litlen || memcmp(s, t->lit, t->litlen) != 0)
            return 0;
        return pf_match(pf, i + 1, s + t->litlen, end, v, depth + 1);
    }
    if (t->esc == 'q') /* non-session processes print nothing from here on */
        return pf_match(pf, i + 1, s, end, v, depth + 1) || s == end;
    v[i].s = s;
    size_t n = pf_shaped(t->esc, s, end);
    if (n != (size_t)-1) {
        v[i].n = n;
        return pf_match(pf, i + 1, s + n, end, v, depth + 1);
    }
    /* a free field: up to a place where the next literal (or the end) is */
    const struct pf_token *next = i + 1 < pf->n ? &pf->tok[i + 1] : NULL;
    for (const char *c = s; c <= end; c++) {
        if (next != NULL && next->esc == 0) {
            if ((size_t)(end - c) < next->litlen || memcmp(c, next->lit, next->litlen) != 0)
                continue;
        } else if (next != NULL && c < end && !isspace((unsigned char)*c)) {
            continue; /* two fields in a row: split at white space */
        }
        v[i].n = (size_t)(c - s);
        if (pf_match(pf, i + 1, c, end, v, depth + 1))
            return 1;
    }
    return 0;
}

int tq_pglog_prefix_match(const struct tq_pglog_prefix *pf, const char *text, size_t len,
                          struct tq_pglog_entry *e)
{
    struct pf_val v[PF_MAX_TOKENS];
    memset(v, 0, sizeof v);
    if (!pf_match(pf, 0, text, text + len, v, 0))
        return -1;
    for (int i = 0; i < pf->n; i++) {
        const struct pf_val *x = &v[i];
        if (pf->tok[i].esc == 0 || x->s == NULL)
            continue;
        /* padding spaces (%-10u) are not part of the value */
        const char *s = x->s;
        size_t n = x->n;
        while (n > 0 && s[n - 1] == ' ')
            n--;
        while (n > 0 && *s == ' ') {
            s++;
            n--;
        }
        int64_t t;
        switch (pf->tok[i].esc) {
        case 't':
        case 'm':
        case 'n':
            if (n > 0 && tq_pglog_prefix_time(s, n, &t) == 0)
                e->time_ms = t;
            break;
        case 'p':
            if (n > 0 && n < 12)
                e->pid = strtol(s, NULL, 10);
            break;
        case 'u':
            copy_str(e->user, sizeof e->user, s, n);
            break;
        case 'd':
            copy_str(e->db, sizeof e->db, s, n);
            break;
        case 'a':
            copy_str(e->app, sizeof e->app, s, n);
            break;
        case 'h':
            copy_str(e->client, sizeof e->client, s, n);
            break;
        case 'r': { /* host(port) */
            const char *paren = memchr(s, '(', n);
            copy_str(e->client, sizeof e->client, s, paren ? (size_t)(paren - s) : n);
            break;
        }
        default:
            break;
        }
    }
    if (strcmp(e->user, "[unknown]") == 0)
        e->user[0] = '\0';
    if (strcmp(e->db, "[unknown]") == 0)
        e->db[0] = '\0';
    return 0;
}

int tq_pglog_prefix_parse_with(const struct tq_pglog_prefix *pf, const char *text,
                               struct tq_pglog_entry *e)
{
    if (pf == NULL)
        return tq_pglog_prefix_parse(text, e);
    enum tq_pglog_sev sev;
    const char *body;
    const char *sp = tq_pglog_prefix_severity(text, &sev, &body);
    if (sp == NULL)
        return -1;
    if (tq_pglog_prefix_match(pf, text, (size_t)(sp - text), e) != 0)
        return tq_pglog_prefix_parse(text, e);
    e->sev = sev;
    e->body = body;
    return 0;
}

/* tq_secret — see tq_secret.h. */
#include "tq_secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tq_secret_read_file(const char *path, char **out, char *err, size_t errsize)
{
    char buf[TQ_SECRET_MAX + 3]; /* the password, "\r\n", and one more byte to see "too long" */
    FILE *f = NULL;
    int rc = -1;

    *out = NULL;
    if (path == NULL || *path == '\0') {
        snprintf(err, errsize, "password file: no path given");
        goto cleanup;
    }
    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errsize, "password file %s: %s", path, strerror(errno));
        goto cleanup;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    if (ferror(f)) {
        snprintf(err, errsize, "password file %s: read error", path);
        goto cleanup;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n) != NULL) {
        snprintf(err, errsize, "password file %s: holds a NUL byte", path);
        goto cleanup;
    }
    buf[strcspn(buf, "\n")] = '\0';
    size_t len = strlen(buf);
    if (len > 0 && buf[len - 1] == '\r')
        buf[--len] = '\0';
    if (len == 0) {
        snprintf(err, errsize, "password file %s: the first line is empty", path);
        goto cleanup;
    }
    if (len > TQ_SECRET_MAX) {
        snprintf(err, errsize, "password file %s: longer than %d bytes", path, TQ_SECRET_MAX);
        goto cleanup;
    }
    *out = strdup(buf);
    if (*out == NULL) {
        snprintf(err, errsize, "password file %s: out of memory", path);
        goto cleanup;
    }
    rc = 0;
cleanup:
    memset(buf, 0, sizeof buf);
    if (f)
        fclose(f);
    return rc;
}

void tq_secret_free(char *s)
{
    if (s != NULL) {
        volatile char *p = s;
        while (*p)
            *p++ = '\0';
    }
    free(s);
}

/* Appends s[0..n) to buf (size, *o used), truncating. */
static void put(char *buf, size_t size, size_t *o, const char *s, size_t n)
{
    if (*o + 1 >= size)
        return;
    if (n > size - 1 - *o)
        n = size - 1 - *o;
    memcpy(buf + *o, s, n);
    *o += n;
    buf[*o] = '\0';
}

/* The span [*b, *e) of the password in url, or 0 when it has none. The userinfo is what
 * lies between "://" and the last '@' (a password with an unescaped '/' or '@' is masked
 * whole too: masking too much is harmless); the password follows its first ':'. A
 * "password=" query parameter counts as well (the first one found after the userinfo). */
static int url_password_span(const char *url, const char **b, const char **e, const char **qb,
                             const char **qe)
{
    const char *start = url ? strstr(url, "://") : NULL;
    int found = 0;

    *b = *e = *qb = *qe = NULL;
    if (start == NULL)
        return 0;
    start += 3;
    const char *at = strrchr(start, '@');
    if (at != NULL) {
        const char *colon = memchr(start, ':', (size_t)(at - start));
        if (colon != NULL) {
            *b = colon + 1;
            *e = at;
            found = 1;
        }
    }
    for (const char *q = strchr(at ? at : start, '?'); q != NULL; q = strchr(q + 1, '&')) {
        if (strncmp(q + 1, "password=", 9) == 0) {
            *qb = q + 10;
            *qe = *qb + strcspn(*qb, "&#");
            found = 1;
            break;
        }
    }
    return found;
}

const char *tq_secret_redact_url(const char *url, char *buf, size_t size)
{
    const char *b, *e, *qb, *qe;
    size_t o = 0;

    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (url == NULL)
        return buf;
    if (!url_password_span(url, &b, &e, &qb, &qe)) {
        put(buf, size, &o, url, strlen(url));
        return buf;
    }
    const char *p = url;
    if (b != NULL) {
        put(buf, size, &o, p, (size_t)(b - p));
        put(buf, size, &o, TQ_SECRET_MASK, strlen(TQ_SECRET_MASK));
        p = e;
    }
    if (qb != NULL && qb >= p) {
        put(buf, size, &o, p, (size_t)(qb - p));
        put(buf, size, &o, TQ_SECRET_MASK, strlen(TQ_SECRET_MASK));
        p = qe;
    }
    put(buf, size, &o, p, strlen(p));
    return buf;
}

int tq_secret_url_has_password(const char *url)
{
    const char *b, *e, *qb, *qe;
    return url_password_span(url, &b, &e, &qb, &qe);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_uri(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

/* Walks "key = value" pairs as libpq reads them: values are bare (backslash escapes) or
 * single-quoted (backslash escapes). Copies conninfo into buf with password values masked
 * when buf is not NULL; returns the number of password values seen. */
static int conninfo_walk(const char *s, char *buf, size_t size)
{
    size_t o = 0;
    int n = 0;
    const char *p = s;

    if (buf != NULL && size > 0)
        buf[0] = '\0';
    while (*p) {
        const char *k = p;
        while (*p && is_space(*p))
            p++;
        const char *kb = p;
        while (*p && *p != '=' && !is_space(*p))
            p++;
        size_t klen = (size_t)(p - kb);
        while (*p && is_space(*p))
            p++;
        if (*p != '=') { /* not a pair: libpq refuses it; copy the rest as it is */
            if (buf)
                put(buf, size, &o, k, strlen(k));
            break;
        }
        p++;
        while (*p && is_space(*p))
            p++;
        const char *vb = p;
        if (*p == '\'') {
            for (p++; *p && *p != '\''; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (*p == '\'')
                p++;
        } else {
            for (; *p && !is_space(*p); p++)
                if (*p == '\\' && p[1])
                    p++;
        }
        int secret = klen == 8 && strncmp(kb, "password", 8) == 0;
        n += secret;
        if (buf) {
            put(buf, size, &o, k, (size_t)(vb - k));
            if (secret)
                put(buf, size, &o, TQ_SECRET_MASK, strlen(TQ_SECRET_MASK));
            else
                put(buf, size, &o, vb, (size_t)(p - vb));
        }
    }
    return n;
}

const char *tq_secret_redact_conninfo(const char *conninfo, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (conninfo == NULL)
        return buf;
    if (is_uri(conninfo))
        return tq_secret_redact_url(conninfo, buf, size);
    conninfo_walk(conninfo, buf, size);
    return buf;
}

int tq_secret_conninfo_has_password(const char *conninfo)
{
    if (conninfo == NULL)
        return 0;
    if (is_uri(conninfo))
        return tq_secret_url_has_password(conninfo);
    return conninfo_walk(conninfo, NULL, 0) > 0;
}

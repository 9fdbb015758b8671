/* tq_wfigures — see tq_wfigures.h. */
#include "tq_wfigures.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double TQ_WFIGURES_BUCKETS[TQ_WFIGURES_NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                          1,     2.5,  5,     10,   30,  60,   120};

#define F_RENDERS "renders"
#define F_TILES "tiles"
#define F_SQL_SECONDS "sql_seconds"
#define F_UPDATED_MS "updated_ms"
#define F_FAIL_PREFIX "fail_"
#define F_ZOOM_PREFIX 'z'

static const char *const wfail_names[TQ_WFAIL_COUNT] = {"sql", "write", "invalid", "lost"};

const char *tq_wfail_name(enum tq_wfail k)
{
    return (unsigned)k < TQ_WFAIL_COUNT ? wfail_names[k] : "?";
}

int tq_wfigures_hist_encode(const uint64_t *counts, size_t n, double sum, char *out, size_t size)
{
    uint64_t total = 0;
    size_t used;
    int k;

    for (size_t i = 0; i < n; i++)
        total += counts[i];
    /* %.17g reads back as the same double */
    k = snprintf(out, size, "%" PRIu64 " %.17g", total, sum);
    if (k < 0 || (size_t)k >= size)
        return -1;
    used = (size_t)k;
    for (size_t i = 0; i < n; i++) {
        k = snprintf(out + used, size - used, " %" PRIu64, counts[i]);
        if (k < 0 || (size_t)k >= size - used)
            return -1;
        used += (size_t)k;
    }
    return 0;
}

static int parse_u64(const char **p, uint64_t *out)
{
    char *end;
    unsigned long long v;

    while (**p == ' ')
        (*p)++;
    if (**p < '0' || **p > '9')
        return -1;
    errno = 0;
    v = strtoull(*p, &end, 10);
    if (errno != 0 || (*end != ' ' && *end != '\0'))
        return -1;
    *out = v;
    *p = end;
    return 0;
}

int tq_wfigures_hist_decode(const char *s, uint64_t *counts, size_t n, double *sum)
{
    const char *p = s;
    char *end;
    uint64_t total, seen = 0;

    if (s == NULL || parse_u64(&p, &total) != 0)
        return -1;
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return -1;
    errno = 0;
    *sum = strtod(p, &end);
    if (errno != 0 || end == p || (*end != ' ' && *end != '\0'))
        return -1;
    p = end;
    for (size_t i = 0; i < n; i++) {
        if (parse_u64(&p, &counts[i]) != 0)
            return -1;
        seen += counts[i];
    }
    while (*p == ' ')
        p++;
    if (*p != '\0' || seen != total)
        return -1;
    return 0;
}

int tq_wfigures_encode(const struct tq_wfigures *f, const char *worker, struct tq_wfigures_hset *x)
{
    int argc = 0, nn = 0;
    int n = snprintf(x->key, sizeof x->key, "%s%s", TQ_WMETRICS_KEY_PREFIX, worker);
    if (n < 0 || (size_t)n >= sizeof x->key)
        return -1;
    x->argv[argc++] = "HSET";
    x->argv[argc++] = x->key;
#define PUT(name, fmt, v)                                                                          \
    do {                                                                                           \
        x->argv[argc++] = (name);                                                                  \
        snprintf(x->num[nn], sizeof x->num[nn], fmt, v);                                           \
        x->argv[argc++] = x->num[nn++];                                                            \
    } while (0)
    PUT(F_RENDERS, "%" PRIu64, f->renders);
    PUT(F_TILES, "%" PRIu64, f->tiles);
    PUT(F_SQL_SECONDS, "%.17g", f->sql_seconds);
    PUT(F_UPDATED_MS, "%" PRId64, f->updated_ms);
    for (int k = 0; k < TQ_WFAIL_COUNT; k++) {
        static const char *const fields[TQ_WFAIL_COUNT] = {
            F_FAIL_PREFIX "sql", F_FAIL_PREFIX "write", F_FAIL_PREFIX "invalid",
            F_FAIL_PREFIX "lost"};
        PUT(fields[k], "%" PRIu64, f->fail[k]);
    }
#undef PUT
    for (int z = 0; z <= TQ_TILE_MAX_ZOOM; z++) {
        uint64_t total = 0;
        for (int b = 0; b <= TQ_WFIGURES_NBUCKETS; b++)
            total += f->hist[z][b];
        if (total == 0 ||
            tq_wfigures_hist_encode(f->hist[z], TQ_WFIGURES_NBUCKETS + 1, f->hist_sum[z],
                                    x->hist[z], sizeof x->hist[z]) != 0)
            continue;
        snprintf(x->zfield[z], sizeof x->zfield[z], "%c%d", F_ZOOM_PREFIX, z);
        x->argv[argc++] = x->zfield[z];
        x->argv[argc++] = x->hist[z];
    }
    x->argc = argc;
    return 0;
}

static uint64_t parse_count(const char *s)
{
    double v = strtod(s, NULL); /* older workers wrote counters as Prometheus values */
    return v > 0 ? (uint64_t)v : 0;
}

int tq_wfigures_parse(const redisReply *h, struct tq_wfigures *f)
{
    memset(f, 0, sizeof *f);
    if (h == NULL || h->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        char *end;
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, F_RENDERS) == 0) {
            f->renders = parse_count(v->str);
        } else if (strcmp(k->str, F_TILES) == 0) {
            f->tiles = parse_count(v->str);
        } else if (strcmp(k->str, F_SQL_SECONDS) == 0) {
            f->sql_seconds = strtod(v->str, NULL);
        } else if (strcmp(k->str, F_UPDATED_MS) == 0) {
            f->updated_ms = strtoll(v->str, NULL, 10);
        } else if (strncmp(k->str, F_FAIL_PREFIX, strlen(F_FAIL_PREFIX)) == 0) {
            for (int w = 0; w < TQ_WFAIL_COUNT; w++)
                if (strcmp(k->str + strlen(F_FAIL_PREFIX), wfail_names[w]) == 0)
                    f->fail[w] = parse_count(v->str);
        } else if (k->str[0] == F_ZOOM_PREFIX && k->str[1] >= '0' && k->str[1] <= '9') {
            long z = strtol(k->str + 1, &end, 10);
            uint64_t counts[TQ_WFIGURES_NBUCKETS + 1];
            double sum;
            if (*end != '\0' || z < 0 || z > TQ_TILE_MAX_ZOOM ||
                tq_wfigures_hist_decode(v->str, counts, TQ_WFIGURES_NBUCKETS + 1, &sum) != 0)
                continue;
            memcpy(f->hist[z], counts, sizeof counts);
            f->hist_sum[z] = sum;
        }
    }
    return 0;
}

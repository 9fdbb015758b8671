/* tq_config — see tq_config.h.
 *
 * Parsing is libconfig's; this file walks the parsed tree, copies every value into struct
 * tq_config (which owns all its strings), rejects unknown keys at every level (a typo must
 * not be silently ignored) and checks ranges. Messages are "<file>:<line>: <key path>: <what>",
 * the key path written like "tilesets.[0].layers.[1].sql".
 *
 * Defaults: listen "127.0.0.1:8080", log_level "info", worker_id NULL (the worker fills it),
 * queue { max_attempts 3, lease_seconds 30, render_timeout_seconds 60, fair_every 10,
 * dead_cooldown_seconds 300, hold_seconds 10, hold_max 10000,
 * cap { interactive 10000, dirty 100000, bulk 100000 }, running_cap all 0 },
 * http { cache_control "public, max-age=3600", cors_origin "*", public_url and static_dir unset,
 *        max_connections 768, read_deadline_seconds 10, trusted_proxies none,
 *        metrics_allow [ "127.0.0.0/8", "::1" ] },
 * tileset { minzoom 0, maxzoom 14, metatile 8, extent 4096, buffer 64, statement_timeout_ms 30000,
 *           bounds the Web Mercator world, center the middle of bounds at minzoom },
 * layer { minzoom, maxzoom: the tileset's }, redis_sentinels none. */
#include "tq_config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "tq_log.h"
#include "tq_secret.h"
#include "tq_wire.h"

#define PATH_MAX_LEN 128

struct loader {
    const char *name; /* file name used in messages */
    char *err;
    size_t errsize;
};

static void fail(struct loader *ld, const config_setting_t *s, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* Writes "<name>:<line>: <path>: <message>" into the error buffer (line omitted when s is
 * NULL or has no line). */
static void fail(struct loader *ld, const config_setting_t *s, const char *path, const char *fmt,
                 ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned line = s ? config_setting_source_line(s) : 0;
    const char *file =
        (s && config_setting_source_file(s)) ? config_setting_source_file(s) : ld->name;
    if (line > 0)
        snprintf(ld->err, ld->errsize, "%s:%u: %s: %s", file, line, path, msg);
    else
        snprintf(ld->err, ld->errsize, "%s: %s: %s", ld->name, path, msg);
}

/* "prefix.key"; like index_path, a truncated path is still a readable message. */
static void join_path(char *buf, size_t size, const char *prefix, const char *key)
{
    int n;
    if (prefix == NULL || prefix[0] == '\0')
        n = snprintf(buf, size, "%s", key);
    else
        n = snprintf(buf, size, "%s.%s", prefix, key);
    if (n < 0 && size > 0)
        buf[0] = '\0';
}

/* "prefix.[i]"; key paths are short, a truncated one is still a readable message. */
static void index_path(char *buf, size_t size, const char *prefix, int i)
{
    int n = snprintf(buf, size, "%s.[%d]", prefix, i);
    if (n < 0 || (size_t)n >= size)
        buf[size - 1] = '\0';
}

/* Rejects members of group not listed in allowed (NULL-terminated). */
static int check_keys(struct loader *ld, const config_setting_t *group, const char *prefix,
                      const char *const *allowed)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(m);
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) {
            if (name && strcmp(name, *a) == 0)
                ok = 1;
        }
        if (!ok) {
            char path[PATH_MAX_LEN];
            join_path(path, sizeof path, prefix, name ? name : "?");
            fail(ld, m, path, "unknown key");
            return -1;
        }
    }
    return 0;
}

/* Replaces *out with a copy of the string member key of group, when present. */
static int get_string(struct loader *ld, const config_setting_t *group, const char *prefix,
                      const char *key, char **out)
{
    char path[PATH_MAX_LEN];
    config_setting_t *s = config_setting_get_member(group, key);
    if (s == NULL)
        return 0;
    join_path(path, sizeof path, prefix, key);
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        fail(ld, s, path, "must be a string");
        return -1;
    }
    char *copy = strdup(config_setting_get_string(s));
    if (copy == NULL) {
        fail(ld, s, path, "out of memory");
        return -1;
    }
    free(*out);
    *out = copy;
    return 0;
}

/* Sets *out to the integer member key of group when present, checked against [min, max]. */
static int get_int(struct loader *ld, const config_setting_t *group, const char *prefix,
                   const char *key, long long min, long long max, long long *out)
{
    char path[PATH_MAX_LEN];
    config_setting_t *s = config_setting_get_member(group, key);
    if (s == NULL)
        return 0;
    join_path(path, sizeof path, prefix, key);
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
        fail(ld, s, path, "must be an integer");
        return -1;
    }
    long long v = config_setting_get_int64(s);
    if (v < min || v > max) {
        fail(ld, s, path, "must be %lld..%lld", min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int get_int_as_int(struct loader *ld, const config_setting_t *group, const char *prefix,
                          const char *key, long long min, long long max, int *out)
{
    long long v = *out;
    if (get_int(ld, group, prefix, key, min, max, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* Sets *out to the boolean member key of group (true/false) when present. */
static int get_bool(struct loader *ld, const config_setting_t *group, const char *prefix,
                    const char *key, int *out)
{
    char path[PATH_MAX_LEN];
    config_setting_t *s = config_setting_get_member(group, key);
    if (s == NULL)
        return 0;
    join_path(path, sizeof path, prefix, key);
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        fail(ld, s, path, "must be true or false");
        return -1;
    }
    *out = config_setting_get_bool(s) != 0;
    return 0;
}

/* The group member key (NULL when absent), or -1 via *bad when it is not a group. */
static config_setting_t *get_group(struct loader *ld, const config_setting_t *parent,
                                   const char *prefix, const char *key, int *bad)
{
    char path[PATH_MAX_LEN];
    config_setting_t *s = config_setting_get_member(parent, key);
    if (s == NULL)
        return NULL;
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        join_path(path, sizeof path, prefix, key);
        fail(ld, s, path, "must be a group { ... }");
        *bad = 1;
        return NULL;
    }
    return s;
}

static int check_name(struct loader *ld, const config_setting_t *group, const char *prefix,
                      const char *name)
{
    char path[PATH_MAX_LEN];
    join_path(path, sizeof path, prefix, "name");
    if (name == NULL) {
        fail(ld, group, path, "required");
        return -1;
    }
    if (!tq_tileset_name_valid(name, strlen(name))) {
        fail(ld, config_setting_get_member(group, "name"), path,
             "must be 1..%d characters of " TQ_TILESET_NAME_CHARS, TQ_TILESET_NAME_MAX - 1);
        return -1;
    }
    return 0;
}

static int check_zooms(struct loader *ld, const config_setting_t *group, const char *prefix,
                       int minzoom, int maxzoom)
{
    char path[PATH_MAX_LEN];
    if (minzoom > maxzoom) {
        join_path(path, sizeof path, prefix, "minzoom");
        const config_setting_t *s = config_setting_get_member(group, "minzoom");
        fail(ld, s ? s : group, path, "minzoom %d is greater than maxzoom %d", minzoom, maxzoom);
        return -1;
    }
    return 0;
}

static int load_layer(struct loader *ld, const config_setting_t *ls, const char *prefix,
                      const struct tq_tileset_config *ts, struct tq_layer_config *layer)
{
    static const char *const keys[] = {"name", "sql", "minzoom", "maxzoom", NULL};
    char path[PATH_MAX_LEN];

    if (config_setting_type(ls) != CONFIG_TYPE_GROUP) {
        fail(ld, ls, prefix, "must be a group { name = ...; sql = ...; }");
        return -1;
    }
    layer->minzoom = ts->minzoom;
    layer->maxzoom = ts->maxzoom;
    if (check_keys(ld, ls, prefix, keys) != 0 || get_string(ld, ls, prefix, "name", &layer->name) ||
        get_string(ld, ls, prefix, "sql", &layer->sql) ||
        get_int_as_int(ld, ls, prefix, "minzoom", 0, TQ_TILE_MAX_ZOOM, &layer->minzoom) ||
        get_int_as_int(ld, ls, prefix, "maxzoom", 0, TQ_TILE_MAX_ZOOM, &layer->maxzoom))
        return -1;
    if (check_name(ld, ls, prefix, layer->name) != 0 ||
        check_zooms(ld, ls, prefix, layer->minzoom, layer->maxzoom) != 0)
        return -1;
    join_path(path, sizeof path, prefix, "sql");
    if (layer->sql == NULL) {
        fail(ld, ls, path, "required");
        return -1;
    }
    const config_setting_t *sqls = config_setting_get_member(ls, "sql");
    if (strspn(layer->sql, " \t\r\n") == strlen(layer->sql)) {
        fail(ld, sqls, path, "must not be empty");
        return -1;
    }
    if (strstr(layer->sql, "!BBOX!") == NULL) {
        fail(ld, sqls, path, "must contain the !BBOX! token");
        return -1;
    }
    return 0;
}

/* Reads the numeric array member key of group into v[0..n), when present (ints or floats). */
static int get_numbers(struct loader *ld, const config_setting_t *group, const char *prefix,
                       const char *key, size_t n, double *v, int *present)
{
    char path[PATH_MAX_LEN];
    config_setting_t *s = config_setting_get_member(group, key);
    *present = 0;
    if (s == NULL)
        return 0;
    join_path(path, sizeof path, prefix, key);
    if ((config_setting_type(s) != CONFIG_TYPE_ARRAY &&
         config_setting_type(s) != CONFIG_TYPE_LIST) ||
        config_setting_length(s) != (int)n) {
        fail(ld, s, path, "must be an array of %zu numbers [ ... ]", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        int t = config_setting_type(e);
        if (t == CONFIG_TYPE_FLOAT)
            v[i] = config_setting_get_float(e);
        else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
            v[i] = (double)config_setting_get_int64(e);
        else {
            fail(ld, s, path, "must be an array of %zu numbers [ ... ]", n);
            return -1;
        }
    }
    *present = 1;
    return 0;
}

/* bounds = [w, s, e, n] and center = [lon, lat, zoom], both optional (EPSG:4326). */
static int load_bounds(struct loader *ld, const config_setting_t *tss, const char *prefix,
                       struct tq_tileset_config *ts)
{
    char path[PATH_MAX_LEN];
    double *b = ts->bounds, *c = ts->center;

    b[0] = -180;
    b[1] = -TQ_LAT_MAX;
    b[2] = 180;
    b[3] = TQ_LAT_MAX;
    if (get_numbers(ld, tss, prefix, "bounds", 4, b, &ts->has_bounds) != 0 ||
        get_numbers(ld, tss, prefix, "center", 3, c, &ts->has_center) != 0)
        return -1;
    if (ts->has_bounds &&
        !(b[0] >= -180 && b[2] <= 180 && b[1] >= -90 && b[3] <= 90 && b[0] < b[2] && b[1] < b[3])) {
        join_path(path, sizeof path, prefix, "bounds");
        fail(ld, config_setting_get_member(tss, "bounds"), path,
             "must be [west, south, east, north] in degrees, west < east, south < north");
        return -1;
    }
    if (ts->has_center && !(c[0] >= -180 && c[0] <= 180 && c[1] >= -90 && c[1] <= 90 && c[2] >= 0 &&
                            c[2] <= TQ_TILE_MAX_ZOOM)) {
        join_path(path, sizeof path, prefix, "center");
        fail(ld, config_setting_get_member(tss, "center"), path,
             "must be [longitude, latitude, zoom]");
        return -1;
    }
    if (!ts->has_center) {
        c[0] = (b[0] + b[2]) / 2;
        c[1] = (b[1] + b[3]) / 2;
        c[2] = ts->minzoom;
    }
    return 0;
}

/* The tileset's optional watch list: a non-empty array of non-empty strings (table names). */
static int load_watch(struct loader *ld, const config_setting_t *tss, const char *prefix,
                      struct tq_tileset_config *ts)
{
    char path[PATH_MAX_LEN];
    const config_setting_t *s = config_setting_get_member(tss, "watch");
    if (s == NULL)
        return 0;
    join_path(path, sizeof path, prefix, "watch");
    int n = config_setting_length(s);
    if ((config_setting_type(s) != CONFIG_TYPE_ARRAY &&
         config_setting_type(s) != CONFIG_TYPE_LIST) ||
        n < 1) {
        fail(ld, s, path, "must be a non-empty array of table names [ \"schema.table\", ... ]");
        return -1;
    }
    ts->watch = calloc((size_t)n, sizeof *ts->watch);
    if (ts->watch == NULL) {
        fail(ld, s, path, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v =
            config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
        if (v == NULL || *v == '\0' || strlen(v) > 255) {
            fail(ld, e, path, "element %d: must be a table name (a string of 1..255 bytes)", i);
            return -1;
        }
        ts->watch[i] = strdup(v);
        if (ts->watch[i] == NULL) {
            fail(ld, s, path, "out of memory");
            return -1;
        }
        ts->nwatch = (size_t)i + 1;
    }
    return 0;
}

static int load_tileset(struct loader *ld, const config_setting_t *tss, const char *prefix,
                        struct tq_tileset_config *ts)
{
    static const char *const keys[] = {"name", "minzoom", "maxzoom", "metatile", "extent", "buffer",
                                       "layers", "bounds", "center", "statement_timeout_ms",
                                       /* tiles follow the data */
                                       "watch", NULL};
    char path[PATH_MAX_LEN];
    long long v;

    if (config_setting_type(tss) != CONFIG_TYPE_GROUP) {
        fail(ld, tss, prefix, "must be a group { name = ...; layers = (...); }");
        return -1;
    }
    ts->minzoom = 0;
    ts->maxzoom = 14;
    ts->metatile = 8;
    ts->extent = 4096;
    ts->buffer = 64;
    ts->statement_timeout_ms = TQ_STATEMENT_TIMEOUT_MS_DEFAULT;
    if (check_keys(ld, tss, prefix, keys) != 0 || get_string(ld, tss, prefix, "name", &ts->name) ||
        get_int_as_int(ld, tss, prefix, "minzoom", 0, TQ_TILE_MAX_ZOOM, &ts->minzoom) ||
        get_int_as_int(ld, tss, prefix, "maxzoom", 0, TQ_TILE_MAX_ZOOM, &ts->maxzoom) ||
        get_int_as_int(ld, tss, prefix, "statement_timeout_ms", 1, 86400000,
                       &ts->statement_timeout_ms))
        return -1;
    v = ts->metatile;
    if (get_int(ld, tss, prefix, "metatile", 1, TQ_METATILE_MAX, &v) != 0)
        return -1;
    ts->metatile = (unsigned)v;
    v = ts->extent;
    if (get_int(ld, tss, prefix, "extent", 1, 65536, &v) != 0)
        return -1;
    ts->extent = (unsigned)v;
    v = ts->buffer;
    if (get_int(ld, tss, prefix, "buffer", 0, 65536, &v) != 0)
        return -1;
    ts->buffer = (unsigned)v;
    if (check_name(ld, tss, prefix, ts->name) != 0 ||
        check_zooms(ld, tss, prefix, ts->minzoom, ts->maxzoom) != 0)
        return -1;
    if (ts->buffer > ts->extent) {
        join_path(path, sizeof path, prefix, "buffer");
        fail(ld, config_setting_get_member(tss, "buffer"), path, "must not exceed extent %u",
             ts->extent);
        return -1;
    }
    if (load_bounds(ld, tss, prefix, ts) != 0 || load_watch(ld, tss, prefix, ts) != 0)
        return -1;

    join_path(path, sizeof path, prefix, "layers");
    const config_setting_t *layers = config_setting_get_member(tss, "layers");
    if (layers == NULL) {
        fail(ld, tss, path, "required (at least one layer)");
        return -1;
    }
    if (config_setting_type(layers) != CONFIG_TYPE_LIST) {
        fail(ld, layers, path, "must be a list ( { ... }, ... )");
        return -1;
    }
    int n = config_setting_length(layers);
    if (n == 0 || n > TQ_MAX_LAYERS) {
        fail(ld, layers, path, "must hold 1..%d layers", TQ_MAX_LAYERS);
        return -1;
    }
    ts->layers = calloc((size_t)n, sizeof *ts->layers);
    if (ts->layers == NULL) {
        fail(ld, layers, path, "out of memory");
        return -1;
    }
    ts->nlayers = (size_t)n;
    for (int i = 0; i < n; i++) {
        char lpath[PATH_MAX_LEN];
        index_path(lpath, sizeof lpath, path, i);
        const config_setting_t *ls = config_setting_get_elem(layers, (unsigned)i);
        if (load_layer(ld, ls, lpath, ts, &ts->layers[i]) != 0)
            return -1;
        for (int j = 0; j < i; j++) {
            if (strcmp(ts->layers[j].name, ts->layers[i].name) == 0) {
                char npath[PATH_MAX_LEN];
                join_path(npath, sizeof npath, lpath, "name");
                fail(ld, config_setting_get_member(ls, "name"), npath,
                     "duplicate layer name \"%s\"", ts->layers[i].name);
                return -1;
            }
        }
    }
    return 0;
}

static int load_queue(struct loader *ld, const config_setting_t *root, struct tq_queue_config *q)
{
    static const char *const keys[] = {"max_attempts", "lease_seconds", "render_timeout_seconds",
                                       "fair_every", "dead_cooldown_seconds", "cap", "running_cap",
                                       /* coordinator: holding misses while Redis is away */
                                       "hold_seconds", "hold_max", NULL};
    static const char *const class_keys[] = {TQ_CLASS_NAME_INTERACTIVE, TQ_CLASS_NAME_DIRTY,
                                             TQ_CLASS_NAME_BULK, NULL};
    int bad = 0;
    const config_setting_t *qs = get_group(ld, root, "", "queue", &bad);
    if (bad)
        return -1;
    if (qs == NULL)
        return 0;
    if (check_keys(ld, qs, "queue", keys) != 0 ||
        get_int_as_int(ld, qs, "queue", "max_attempts", 1, 1000, &q->max_attempts) ||
        get_int_as_int(ld, qs, "queue", "lease_seconds", 1, 86400, &q->lease_seconds) ||
        get_int_as_int(ld, qs, "queue", "render_timeout_seconds", 1, 86400,
                       &q->render_timeout_seconds) ||
        get_int_as_int(ld, qs, "queue", "fair_every", 0, 1000000, &q->fair_every) ||
        get_int_as_int(ld, qs, "queue", "dead_cooldown_seconds", 0, 86400 * 365,
                       &q->dead_cooldown_seconds))
        return -1;
    /* coordinator: holding misses while Redis is away */
    long long hold_max = q->hold_max;
    if (get_int_as_int(ld, qs, "queue", "hold_seconds", 0, 3600, &q->hold_seconds) ||
        get_int(ld, qs, "queue", "hold_max", 0, 100000000, &hold_max))
        return -1;
    q->hold_max = (long)hold_max;
    const char *groups[2] = {"cap", "running_cap"};
    long *targets[2] = {q->cap, q->running_cap};
    for (int g = 0; g < 2; g++) {
        char prefix[PATH_MAX_LEN];
        const config_setting_t *cs = get_group(ld, qs, "queue", groups[g], &bad);
        if (bad)
            return -1;
        if (cs == NULL)
            continue;
        join_path(prefix, sizeof prefix, "queue", groups[g]);
        if (check_keys(ld, cs, prefix, class_keys) != 0)
            return -1;
        for (int c = 0; c < TQ_CLASS_COUNT; c++) {
            long long v = targets[g][c];
            if (get_int(ld, cs, prefix, class_keys[c], g == 0 ? 1 : 0, LONG_MAX, &v) != 0)
                return -1;
            targets[g][c] = (long)v;
        }
    }
    return 0;
}

/* ---- address lists (http.trusted_proxies, http.metrics_allow; issue 16) ----------------- */

/* prefix.key = [ "ADDR", "ADDR/BITS", ... ] (array or list; empty allowed: nobody), when
 * present, replaces *l (the default). */
static int load_cidrs(struct loader *ld, const config_setting_t *group, const char *prefix,
                      const char *key, struct tq_cidr_list *l)
{
    char path[PATH_MAX_LEN], why[100];
    const config_setting_t *s = config_setting_get_member(group, key);

    if (s == NULL)
        return 0;
    join_path(path, sizeof path, prefix, key);
    if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
        fail(ld, s, path, "must be an array of addresses [ \"10.0.0.0/8\", \"::1\", ... ]");
        return -1;
    }
    tq_cidr_list_free(l);
    for (int i = 0; i < config_setting_length(s); i++) {
        char epath[PATH_MAX_LEN];
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        index_path(epath, sizeof epath, path, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            fail(ld, e, epath, "must be a string \"ADDRESS\" or \"ADDRESS/BITS\"");
            return -1;
        }
        if (tq_cidr_list_add(l, config_setting_get_string(e), why, sizeof why) != 0) {
            fail(ld, e, epath, "\"%.60s\": %s", config_setting_get_string(e), why);
            return -1;
        }
    }
    return 0;
}

/* The variable var="a,b/n,..." replaces *l (the file's); unset leaves it, empty (or only
 * blanks and commas) makes it empty. */
static int env_cidrs(struct loader *ld, const char *var, struct tq_cidr_list *l)
{
    const char *val = getenv(var);
    char *copy = NULL, *save = NULL, why[100];
    int rc = -1;

    if (val == NULL)
        return 0;
    copy = strdup(val);
    if (copy == NULL) {
        snprintf(ld->err, ld->errsize, "%s: out of memory", var);
        goto cleanup;
    }
    tq_cidr_list_free(l);
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok += strspn(tok, " \t");
        size_t len = strlen(tok);
        while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
            tok[--len] = '\0';
        if (len == 0)
            continue;
        if (tq_cidr_list_add(l, tok, why, sizeof why) != 0) {
            snprintf(ld->err, ld->errsize, "%s: \"%.60s\": %s", var, tok, why);
            goto cleanup;
        }
    }
    rc = 0;
cleanup:
    free(copy);
    return rc;
}

static int load_http(struct loader *ld, const config_setting_t *root, struct tq_http_config *h)
{
    static const char *const keys[] = {"cache_control", "cors_origin", "public_url", "static_dir",
                                       /* coordinator: hostile clients */
                                       "max_connections", "read_deadline_seconds", "processes",
                                       /* coordinator: who may say what (issue 16) */
                                       "trusted_proxies", "metrics_allow", NULL};
    int bad = 0;
    const config_setting_t *hs = get_group(ld, root, "", "http", &bad);
    if (bad)
        return -1;
    if (hs == NULL)
        return 0;
    if (check_keys(ld, hs, "http", keys) != 0 ||
        get_string(ld, hs, "http", "cache_control", &h->cache_control) ||
        get_string(ld, hs, "http", "cors_origin", &h->cors_origin) ||
        get_string(ld, hs, "http", "public_url", &h->public_url) ||
        get_string(ld, hs, "http", "static_dir", &h->static_dir) ||
        /* coordinator: hostile clients */
        get_int_as_int(ld, hs, "http", "max_connections", 1, 1000000, &h->max_connections) ||
        get_int_as_int(ld, hs, "http", "read_deadline_seconds", 1, 3600,
                       &h->read_deadline_seconds) ||
        get_int_as_int(ld, hs, "http", "processes", 1, 256, &h->processes))
        return -1;
    /* coordinator: who may say what (issue 16) */
    if (load_cidrs(ld, hs, "http", "trusted_proxies", &h->trusted_proxies) ||
        load_cidrs(ld, hs, "http", "metrics_allow", &h->metrics_allow))
        return -1;
    if (h->public_url && strncmp(h->public_url, "http://", 7) != 0 &&
        strncmp(h->public_url, "https://", 8) != 0) {
        fail(ld, config_setting_get_member(hs, "public_url"), "http.public_url",
             "must start with http:// or https://");
        return -1;
    }
    return 0;
}

/* Splits "host:port" ("[v6]:port" too; an empty host means all interfaces). */
static int parse_listen(const char *s, char **host, int *port)
{
    const char *colon = strrchr(s, ':');
    const char *hstart = s, *hend;
    if (colon == NULL)
        return -1;
    hend = colon;
    if (s[0] == '[') {
        if (colon == s || colon[-1] != ']')
            return -1;
        hstart = s + 1;
        hend = colon - 1;
    } else if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
        return -1; /* bare IPv6 without brackets */
    }
    const char *p = colon + 1;
    long v = 0;
    if (*p == '\0')
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 65535)
            return -1;
    }
    char *h = (hend == hstart) ? strdup("0.0.0.0") : strndup(hstart, (size_t)(hend - hstart));
    if (h == NULL)
        return -1;
    free(*host);
    *host = h;
    *port = (int)v;
    return 0;
}

/* ---- Redis Sentinel (redis_sentinels, redis_sentinel_master) and Redis Cluster
 * (redis_cluster_nodes): lists of "host:port" ------------------------------------------- */

static void hostports_free(struct tq_hostport **v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*v)[i].host);
    free(*v);
    *v = NULL;
    *n = 0;
}

static void sentinels_free(struct tq_config *cfg)
{
    hostports_free(&cfg->redis_sentinels, &cfg->nredis_sentinels);
}

/* "host:port" (or "[v6]:port") with the port written out, into *out (host malloc'd). */
static int hostport_parse(const char *s, struct tq_hostport *out)
{
    char *host = NULL, *password = NULL;
    int port = 0, db = 0;
    const char *colon = strrchr(s, ':');

    if (strstr(s, "://") != NULL || colon == NULL || colon[1] == '\0' || strchr(s, '@') ||
        strchr(s, '/') || (s[0] == '[' && strstr(s, "]:") == NULL) ||
        tq_redis_url_parse(s, &host, &port, &password, &db) != 0)
        return -1;
    free(password);
    out->host = host;
    out->port = port;
    return 0;
}

/* Appends one "host:port" to the list *v of *n (at most TQ_MAX_SENTINELS). -1 on a bad
 * string, -2 when full, -3 out of memory. */
static int hostport_add(struct tq_hostport **v, size_t *n, const char *s)
{
    struct tq_hostport hp;
    if (*n >= TQ_MAX_SENTINELS)
        return -2;
    if (hostport_parse(s, &hp) != 0)
        return -1;
    struct tq_hostport *nv = realloc(*v, (*n + 1) * sizeof **v);
    if (nv == NULL) {
        free(hp.host);
        return -3;
    }
    *v = nv;
    nv[(*n)++] = hp;
    return 0;
}

static int sentinel_master_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 128)
        return 0;
    for (const char *p = name; *p; p++) {
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    }
    return 1;
}

/* The message for hostport_add's return r (< 0) about a list of what ("sentinels"). */
static const char *hostport_add_error(int r, const char *what, char *buf, size_t size)
{
    if (r == -2)
        snprintf(buf, size, "at most %d %s", TQ_MAX_SENTINELS, what);
    else
        snprintf(buf, size, "%s",
                 r == -1 ? "must be \"host:port\" with port 1..65535" : "out of memory");
    return buf;
}

/* key = [ "host:port", ... ] (array or list), when present, into *v, *n. */
static int load_hostports(struct loader *ld, const config_setting_t *root, const char *key,
                          const char *what, struct tq_hostport **v, size_t *n)
{
    char msg[100];
    const config_setting_t *ss = config_setting_get_member(root, key);

    if (ss == NULL)
        return 0;
    if ((config_setting_type(ss) != CONFIG_TYPE_ARRAY &&
         config_setting_type(ss) != CONFIG_TYPE_LIST) ||
        config_setting_length(ss) == 0) {
        fail(ld, ss, key, "must be a non-empty array of \"host:port\" strings");
        return -1;
    }
    for (int i = 0; i < config_setting_length(ss); i++) {
        char path[PATH_MAX_LEN];
        const config_setting_t *e = config_setting_get_elem(ss, (unsigned)i);
        index_path(path, sizeof path, key, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            fail(ld, e, path, "must be a \"host:port\" string");
            return -1;
        }
        int r = hostport_add(v, n, config_setting_get_string(e));
        if (r != 0) {
            fail(ld, e, path, "%s", hostport_add_error(r, what, msg, sizeof msg));
            return -1;
        }
    }
    return 0;
}

/* redis_sentinels, redis_sentinel_master and redis_cluster_nodes. */
static int load_sentinels(struct loader *ld, const config_setting_t *root, struct tq_config *cfg)
{
    if (get_string(ld, root, "", "redis_sentinel_master", &cfg->redis_sentinel_master) != 0)
        return -1;
    if (load_hostports(ld, root, "redis_sentinels", "sentinels", &cfg->redis_sentinels,
                       &cfg->nredis_sentinels) != 0)
        return -1;
    return load_hostports(ld, root, "redis_cluster_nodes", "cluster nodes",
                          &cfg->redis_cluster_nodes, &cfg->nredis_cluster_nodes);
}

/* The variable var="host:port,host:port" replaces the list *v, *n (the file's). An empty
 * variable is ignored. */
static int env_hostports(struct loader *ld, const char *var, const char *what,
                         struct tq_hostport **v, size_t *n)
{
    char msg[100];
    const char *val = getenv(var);
    char *copy = NULL, *save = NULL;
    int rc = -1;

    if (val == NULL || val[0] == '\0')
        return 0;
    copy = strdup(val);
    if (copy == NULL) {
        snprintf(ld->err, ld->errsize, "%s: out of memory", var);
        goto cleanup;
    }
    hostports_free(v, n);
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok += strspn(tok, " \t");
        size_t len = strlen(tok);
        while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
            tok[--len] = '\0';
        int r = hostport_add(v, n, tok);
        if (r != 0) {
            snprintf(ld->err, ld->errsize, "%s: \"%.100s\": %s", var, tok,
                     hostport_add_error(r, what, msg, sizeof msg));
            goto cleanup;
        }
    }
    if (*n == 0) {
        snprintf(ld->err, ld->errsize, "%s: must be \"host:port,host:port,...\"", var);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(copy);
    return rc;
}

/* TQ_REDIS_SENTINELS and TQ_REDIS_CLUSTER_NODES replace the file's lists. */
static int env_sentinels(struct loader *ld, struct tq_config *cfg)
{
    if (env_hostports(ld, "TQ_REDIS_SENTINELS", "sentinels", &cfg->redis_sentinels,
                      &cfg->nredis_sentinels) != 0)
        return -1;
    return env_hostports(ld, "TQ_REDIS_CLUSTER_NODES", "cluster nodes", &cfg->redis_cluster_nodes,
                         &cfg->nredis_cluster_nodes);
}

/* Sentinels and master name come together; the name has no blanks. */
static int validate_sentinels(struct loader *ld, const config_setting_t *root,
                              const struct tq_config *cfg)
{
    const char *mvar = getenv("TQ_REDIS_SENTINEL_MASTER");
    int menv = mvar && mvar[0];
    const config_setting_t *ms = config_setting_get_member(root, "redis_sentinel_master");

    if (cfg->redis_sentinel_master && !sentinel_master_ok(cfg->redis_sentinel_master)) {
        if (menv)
            snprintf(ld->err, ld->errsize,
                     "TQ_REDIS_SENTINEL_MASTER: must be 1..128 characters, no blanks");
        else
            fail(ld, ms, "redis_sentinel_master", "must be 1..128 characters, no blanks");
        return -1;
    }
    if (cfg->nredis_sentinels > 0 && cfg->redis_sentinel_master == NULL) {
        snprintf(ld->err, ld->errsize,
                 "%s: redis_sentinel_master: required with redis_sentinels (in the file or as "
                 "TQ_REDIS_SENTINEL_MASTER)",
                 ld->name);
        return -1;
    }
    if (cfg->nredis_sentinels == 0 && cfg->redis_sentinel_master != NULL) {
        if (menv)
            snprintf(ld->err, ld->errsize,
                     "TQ_REDIS_SENTINEL_MASTER: needs redis_sentinels (or TQ_REDIS_SENTINELS)");
        else
            fail(ld, ms, "redis_sentinel_master", "needs redis_sentinels (or TQ_REDIS_SENTINELS)");
        return -1;
    }
    return 0;
}

static int load_root(struct loader *ld, const config_setting_t *root, struct tq_config *cfg)
{
    static const char *const keys[] = {"redis_url", "pg_conninfo", "cache_dir", "listen",
                                       "worker_id", "log_level", "queue", "http", "tilesets",
                                       /* Redis Sentinel */
                                       "redis_sentinels", "redis_sentinel_master",
                                       /* Redis Cluster */
                                       "redis_cluster_nodes",
                                       /* crash-safe cache */
                                       "cache_fsync",
                                       /* secrets (load_secrets) */
                                       "redis_user", "redis_password_file", "pg_password_file",
                                       NULL};
    char *listen = NULL;
    int rc = -1;

    if (check_keys(ld, root, "", keys) != 0 ||
        get_string(ld, root, "", "redis_url", &cfg->redis_url) ||
        get_string(ld, root, "", "pg_conninfo", &cfg->pg_conninfo) ||
        get_string(ld, root, "", "cache_dir", &cfg->cache_dir) ||
        get_string(ld, root, "", "listen", &listen) ||
        get_string(ld, root, "", "worker_id", &cfg->worker_id) ||
        get_string(ld, root, "", "log_level", &cfg->log_level) ||
        /* crash-safe cache */
        get_bool(ld, root, "", "cache_fsync", &cfg->cache_fsync))
        goto cleanup;
    if (listen && parse_listen(listen, &cfg->listen_host, &cfg->listen_port) != 0) {
        fail(ld, config_setting_get_member(root, "listen"), "listen",
             "must be \"host:port\" with port 0..65535");
        goto cleanup;
    }
    if (load_queue(ld, root, &cfg->queue) != 0 || load_http(ld, root, &cfg->http) != 0 ||
        load_sentinels(ld, root, cfg) != 0)
        goto cleanup;

    const config_setting_t *tss = config_setting_get_member(root, "tilesets");
    if (tss != NULL) {
        if (config_setting_type(tss) != CONFIG_TYPE_LIST) {
            fail(ld, tss, "tilesets", "must be a list ( { ... }, ... )");
            goto cleanup;
        }
        int n = config_setting_length(tss);
        if (n > TQ_MAX_TILESETS) {
            fail(ld, tss, "tilesets", "at most %d tilesets", TQ_MAX_TILESETS);
            goto cleanup;
        }
        if (n > 0) {
            cfg->tilesets = calloc((size_t)n, sizeof *cfg->tilesets);
            if (cfg->tilesets == NULL) {
                fail(ld, tss, "tilesets", "out of memory");
                goto cleanup;
            }
            cfg->ntilesets = (size_t)n;
        }
        for (int i = 0; i < n; i++) {
            char prefix[PATH_MAX_LEN];
            index_path(prefix, sizeof prefix, "tilesets", i);
            const config_setting_t *ts = config_setting_get_elem(tss, (unsigned)i);
            if (load_tileset(ld, ts, prefix, &cfg->tilesets[i]) != 0)
                goto cleanup;
            for (int j = 0; j < i; j++) {
                if (strcmp(cfg->tilesets[j].name, cfg->tilesets[i].name) == 0) {
                    char npath[PATH_MAX_LEN];
                    join_path(npath, sizeof npath, prefix, "name");
                    fail(ld, config_setting_get_member(ts, "name"), npath,
                         "duplicate tileset name \"%s\"", cfg->tilesets[i].name);
                    goto cleanup;
                }
            }
        }
    }
    rc = 0;
cleanup:
    free(listen);
    return rc;
}

/* Applies one TQ_* variable to a string field. Empty variables are ignored. */
static int env_string(struct loader *ld, const char *var, char **field)
{
    const char *v = getenv(var);
    if (v == NULL || v[0] == '\0')
        return 0;
    char *copy = strdup(v);
    if (copy == NULL) {
        snprintf(ld->err, ld->errsize, "%s: out of memory", var);
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

static int apply_env(struct loader *ld, struct tq_config *cfg)
{
    if (env_string(ld, "TQ_REDIS_URL", &cfg->redis_url) ||
        env_string(ld, "TQ_PG_CONNINFO", &cfg->pg_conninfo) ||
        env_string(ld, "TQ_CACHE_DIR", &cfg->cache_dir) ||
        env_string(ld, "TQ_WORKER_ID", &cfg->worker_id) ||
        env_string(ld, "TQ_LOG_LEVEL", &cfg->log_level) || env_sentinels(ld, cfg) ||
        env_string(ld, "TQ_REDIS_SENTINEL_MASTER", &cfg->redis_sentinel_master) ||
        /* coordinator: who may say what (issue 16) */
        env_cidrs(ld, "TQ_TRUSTED_PROXIES", &cfg->http.trusted_proxies) ||
        env_cidrs(ld, "TQ_METRICS_ALLOW", &cfg->http.metrics_allow))
        return -1;
    const char *listen = getenv("TQ_LISTEN");
    if (listen && listen[0] && parse_listen(listen, &cfg->listen_host, &cfg->listen_port) != 0) {
        snprintf(ld->err, ld->errsize, "TQ_LISTEN: \"%.100s\" must be \"host:port\"", listen);
        return -1;
    }
    return 0;
}

/* ---- secrets: redis_user, redis_password_file, pg_password_file (tq_config.h) ----------- */

/* The password for *out: the variable pwvar itself when set, else the file named by the
 * variable filevar, else by the key filekey of the file. Empty variables are ignored. */
static int load_password(struct loader *ld, const config_setting_t *root, const char *pwvar,
                         const char *filevar, const char *filekey, char **out)
{
    char *path = NULL, why[600];
    const char *v = pwvar ? getenv(pwvar) : NULL;
    int rc = -1;

    if (v != NULL && v[0] != '\0') {
        *out = strdup(v);
        if (*out == NULL)
            snprintf(ld->err, ld->errsize, "%s: out of memory", pwvar);
        return *out == NULL ? -1 : 0;
    }
    if (get_string(ld, root, "", filekey, &path) != 0)
        goto cleanup;
    const char *f = getenv(filevar);
    int from_env = f != NULL && f[0] != '\0';
    if (!from_env && path == NULL) {
        rc = 0;
        goto cleanup;
    }
    if (tq_secret_read_file(from_env ? f : path, out, why, sizeof why) != 0) {
        if (from_env)
            snprintf(ld->err, ld->errsize, "%s: %s", filevar, why);
        else
            fail(ld, config_setting_get_member(root, filekey), filekey, "%s", why);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(path);
    return rc;
}

static int load_secrets(struct loader *ld, const config_setting_t *root, struct tq_config *cfg)
{
    if (get_string(ld, root, "", "redis_user", &cfg->redis_user) != 0 ||
        env_string(ld, "TQ_REDIS_USER", &cfg->redis_user) != 0)
        return -1;
    if (cfg->redis_user != NULL && !sentinel_master_ok(cfg->redis_user)) {
        snprintf(ld->err, ld->errsize, "%s: redis_user: must be 1..128 characters, no blanks",
                 ld->name);
        return -1;
    }
    if (load_password(ld, root, "TQ_REDIS_PASSWORD", "TQ_REDIS_PASSWORD_FILE",
                      "redis_password_file", &cfg->redis_password) != 0 ||
        load_password(ld, root, NULL, "TQ_PG_PASSWORD_FILE", "pg_password_file",
                      &cfg->pg_password) != 0)
        return -1;
    /* An ACL user authenticates with a password; without one tileq would not AUTH at all
     * and connect as "default" instead: say so rather than fail later with NOAUTH. */
    if (cfg->redis_user != NULL && cfg->redis_password == NULL) {
        char *host = NULL, *pw = NULL;
        int port, db;
        int parsed = tq_redis_url_parse(cfg->redis_url, &host, &port, &pw, &db) == 0;
        int has = pw != NULL;
        free(host);
        tq_secret_free(pw);
        if (parsed && !has) { /* (a bad URL is validate_final's to report) */
            snprintf(ld->err, ld->errsize,
                     "%s: redis_user: needs a password (redis_password_file, TQ_REDIS_PASSWORD, "
                     "TQ_REDIS_PASSWORD_FILE or redis_url's)",
                     ld->name);
            return -1;
        }
    }
    return 0;
}

/* Checks what may come from the file or the environment. */
static int validate_final(struct loader *ld, const config_setting_t *root, struct tq_config *cfg)
{
    static const struct {
        const char *key, *var;
        size_t off;
    } required[] = {
        {"cache_dir", "TQ_CACHE_DIR", offsetof(struct tq_config, cache_dir)},
        {"redis_url", "TQ_REDIS_URL", offsetof(struct tq_config, redis_url)},
        {"pg_conninfo", "TQ_PG_CONNINFO", offsetof(struct tq_config, pg_conninfo)},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        char *v = *(char **)((char *)cfg + required[i].off);
        if (v == NULL || v[0] == '\0') {
            snprintf(ld->err, ld->errsize, "%s: %s: required (in the file or as %s)", ld->name,
                     required[i].key, required[i].var);
            return -1;
        }
    }
    char *host = NULL, *password = NULL;
    int port, db;
    if (tq_redis_url_parse(cfg->redis_url, &host, &port, &password, &db) != 0) {
        const config_setting_t *s = config_setting_get_member(root, "redis_url");
        if (getenv("TQ_REDIS_URL") && getenv("TQ_REDIS_URL")[0])
            snprintf(
                ld->err, ld->errsize,
                "TQ_REDIS_URL: must be redis://[[user]:password@]host[:port][/db] or host:port");
        else
            fail(ld, s, "redis_url",
                 "must be redis://[[user]:password@]host[:port][/db] or host:port");
        return -1;
    }
    free(host);
    free(password);
    if (validate_sentinels(ld, root, cfg) != 0)
        return -1;
    /* Redis Cluster: one database (0), and it is the cluster that names the master. */
    if (cfg->nredis_cluster_nodes > 0 && cfg->nredis_sentinels > 0) {
        snprintf(ld->err, ld->errsize,
                 "%s: redis_cluster_nodes: cannot go with redis_sentinels (a cluster fails over "
                 "by itself)",
                 ld->name);
        return -1;
    }
    if (cfg->nredis_cluster_nodes > 0 && db != 0) {
        snprintf(ld->err, ld->errsize,
                 "%s: redis_url: database %d with redis_cluster_nodes: Redis Cluster has database "
                 "0 only",
                 ld->name, db);
        return -1;
    }
    if (cfg->worker_id != NULL && cfg->worker_id[0] != '\0' &&
        !tq_worker_id_valid(cfg->worker_id, strlen(cfg->worker_id))) {
        if (getenv("TQ_WORKER_ID") && getenv("TQ_WORKER_ID")[0])
            snprintf(ld->err, ld->errsize,
                     "TQ_WORKER_ID: must be 1..255 bytes of printable ASCII without blanks");
        else
            fail(ld, config_setting_get_member(root, "worker_id"), "worker_id",
                 "must be 1..255 bytes of printable ASCII without blanks");
        return -1;
    }
    enum tq_log_level level;
    if (tq_log_level_parse(cfg->log_level, &level) != 0) {
        if (getenv("TQ_LOG_LEVEL") && getenv("TQ_LOG_LEVEL")[0])
            snprintf(ld->err, ld->errsize, "TQ_LOG_LEVEL: must be debug, info, warn or error");
        else
            fail(ld, config_setting_get_member(root, "log_level"), "log_level",
                 "must be debug, info, warn or error");
        return -1;
    }
    return 0;
}

static struct tq_config *config_new(const char *name)
{
    struct tq_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL)
        return NULL;
    cfg->path = strdup(name);
    cfg->listen_host = strdup("127.0.0.1");
    cfg->listen_port = 8080;
    cfg->log_level = strdup("info");
    cfg->queue.max_attempts = 3;
    cfg->queue.lease_seconds = 30;
    cfg->queue.render_timeout_seconds = 60;
    cfg->queue.fair_every = 10;
    cfg->queue.dead_cooldown_seconds = 300;
    cfg->queue.cap[TQ_CLASS_INTERACTIVE] = 10000;
    cfg->queue.cap[TQ_CLASS_DIRTY] = 100000;
    cfg->queue.cap[TQ_CLASS_BULK] = 100000;
    /* coordinator: holding misses while Redis is away; hostile clients */
    cfg->queue.hold_seconds = 10;
    cfg->queue.hold_max = 10000;
    cfg->http.max_connections = 768;
    cfg->http.read_deadline_seconds = 10;
    cfg->http.processes = 1;
    cfg->http.cache_control = strdup("public, max-age=3600");
    cfg->http.cors_origin = strdup("*");
    /* crash-safe cache */
    cfg->cache_fsync = 1;
    /* coordinator: /metrics and /health for this host only, unless configured (issue 16) */
    if (tq_cidr_list_add(&cfg->http.metrics_allow, "127.0.0.0/8", NULL, 0) != 0 ||
        tq_cidr_list_add(&cfg->http.metrics_allow, "::1", NULL, 0) != 0) {
        tq_config_free(cfg);
        return NULL;
    }
    if (!cfg->path || !cfg->listen_host || !cfg->log_level || !cfg->http.cache_control ||
        !cfg->http.cors_origin) {
        tq_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Shared by both loaders: text == NULL reads the file at name. */
static struct tq_config *load(const char *text, const char *name, char *err, size_t errsize)
{
    config_t lc;
    struct loader ld = {name, err, errsize};
    struct tq_config *cfg = NULL;
    int ok;

    if (errsize > 0)
        err[0] = '\0';
    config_init(&lc);
    if (text == NULL) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", name);
        char *slash = strrchr(dir, '/');
        if (slash != NULL) {
            *slash = '\0';
            config_set_include_dir(&lc, dir[0] ? dir : "/");
        }
        ok = config_read_file(&lc, name);
    } else {
        ok = config_read_string(&lc, text);
    }
    if (ok != CONFIG_TRUE) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            snprintf(err, errsize, "%s: cannot read the file: %s", name, strerror(errno));
        else
            snprintf(err, errsize, "%s:%d: %s",
                     config_error_file(&lc) ? config_error_file(&lc) : name, config_error_line(&lc),
                     config_error_text(&lc));
        goto cleanup;
    }
    cfg = config_new(name);
    if (cfg == NULL) {
        snprintf(err, errsize, "%s: out of memory", name);
        goto cleanup;
    }
    const config_setting_t *root = config_root_setting(&lc);
    if (load_root(&ld, root, cfg) != 0 || apply_env(&ld, cfg) != 0 ||
        load_secrets(&ld, root, cfg) != 0 || validate_final(&ld, root, cfg) != 0) {
        tq_config_free(cfg);
        cfg = NULL;
    }
cleanup:
    config_destroy(&lc);
    return cfg;
}

struct tq_config *tq_config_load(const char *path, char *err, size_t errsize)
{
    return load(NULL, path, err, errsize);
}

struct tq_config *tq_config_load_string(const char *text, const char *name, char *err,
                                        size_t errsize)
{
    return load(text ? text : "", name ? name : "<string>", err, errsize);
}

void tq_config_free(struct tq_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->ntilesets; i++) {
        struct tq_tileset_config *ts = &cfg->tilesets[i];
        for (size_t j = 0; j < ts->nlayers; j++) {
            free(ts->layers[j].name);
            free(ts->layers[j].sql);
        }
        free(ts->layers);
        free(ts->name);
        for (size_t j = 0; j < ts->nwatch; j++)
            free(ts->watch[j]);
        free(ts->watch);
    }
    free(cfg->tilesets);
    free(cfg->path);
    free(cfg->redis_url);
    sentinels_free(cfg);
    hostports_free(&cfg->redis_cluster_nodes, &cfg->nredis_cluster_nodes);
    free(cfg->redis_sentinel_master);
    free(cfg->pg_conninfo);
    free(cfg->redis_user);
    tq_secret_free(cfg->redis_password);
    tq_secret_free(cfg->pg_password);
    free(cfg->cache_dir);
    free(cfg->listen_host);
    free(cfg->worker_id);
    free(cfg->log_level);
    free(cfg->http.cache_control);
    free(cfg->http.cors_origin);
    free(cfg->http.public_url);
    free(cfg->http.static_dir);
    tq_cidr_list_free(&cfg->http.trusted_proxies);
    tq_cidr_list_free(&cfg->http.metrics_allow);
    free(cfg);
}

const struct tq_tileset_config *tq_config_tileset(const struct tq_config *cfg, const char *name)
{
    for (size_t i = 0; cfg && name && i < cfg->ntilesets; i++) {
        if (strcmp(cfg->tilesets[i].name, name) == 0)
            return &cfg->tilesets[i];
    }
    return NULL;
}

struct tq_redis_target tq_config_redis_target(const struct tq_config *cfg)
{
    struct tq_redis_target t = {cfg->redis_url,           cfg->redis_sentinels,
                                cfg->nredis_sentinels,    cfg->redis_sentinel_master,
                                cfg->redis_cluster_nodes, cfg->nredis_cluster_nodes,
                                cfg->redis_user,          cfg->redis_password};
    return t;
}

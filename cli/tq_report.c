/* tq_report — see tq_report.h. */
#include "tq_report.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define NZOOM (TQ_TILE_MAX_ZOOM + 1)
#define INTERN_MAX (1u << 20)
#define MAX_REASONS 31 /* bit 31 = "other" */

/* ---------------------------------------------------------------- interned strings */

/* A set of strings, each stored once; id 0 is "no string". */
struct intern {
    char **str; /* str[id], str[0] = NULL */
    uint32_t n, cap;
    uint32_t *slots; /* open addressing: id or 0 */
    uint32_t nslots;
};

static uint64_t hash_bytes(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int intern_grow(struct intern *in)
{
    uint32_t ns = in->nslots ? in->nslots * 2 : 256;
    uint32_t *slots = calloc(ns, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (uint32_t id = 1; id < in->n; id++) {
        uint32_t i = (uint32_t)hash_bytes(in->str[id]) & (ns - 1);
        while (slots[i])
            i = (i + 1) & (ns - 1);
        slots[i] = id;
    }
    free(in->slots);
    in->slots = slots;
    in->nslots = ns;
    return 0;
}

/* Returns the id of s (adding it), 0 for NULL, UINT32_MAX on OOM. Past INTERN_MAX distinct
 * strings everything new maps to the string "(other)". */
static uint32_t intern_id(struct intern *in, const char *s)
{
    if (s == NULL)
        return 0;
    if (in->n == 0) {
        in->str = malloc(16 * sizeof *in->str);
        if (in->str == NULL)
            return UINT32_MAX;
        in->str[0] = NULL;
        in->n = 1;
        in->cap = 16;
    }
    if ((in->n + 1) * 2 > in->nslots && intern_grow(in) != 0)
        return UINT32_MAX;
    uint32_t i = (uint32_t)hash_bytes(s) & (in->nslots - 1);
    while (in->slots[i]) {
        if (strcmp(in->str[in->slots[i]], s) == 0)
            return in->slots[i];
        i = (i + 1) & (in->nslots - 1);
    }
    if (in->n >= INTERN_MAX && strcmp(s, "(other)") != 0)
        return intern_id(in, "(other)");
    if (in->n == in->cap) {
        char **p = realloc(in->str, in->cap * 2 * sizeof *p);
        if (p == NULL)
            return UINT32_MAX;
        in->str = p;
        in->cap *= 2;
    }
    char *copy = strdup(s);
    if (copy == NULL)
        return UINT32_MAX;
    in->str[in->n] = copy;
    in->slots[i] = in->n;
    return in->n++;
}

/* Lookup without adding; 0 when absent. */
static uint32_t intern_find(const struct intern *in, const char *s)
{
    if (s == NULL || in->nslots == 0)
        return 0;
    uint32_t i = (uint32_t)hash_bytes(s) & (in->nslots - 1);
    while (in->slots[i]) {
        if (strcmp(in->str[in->slots[i]], s) == 0)
            return in->slots[i];
        i = (i + 1) & (in->nslots - 1);
    }
    return 0;
}

static const char *intern_str(const struct intern *in, uint32_t id)
{
    return (id == 0 || id >= in->n) ? NULL : in->str[id];
}

static void intern_free(struct intern *in)
{
    for (uint32_t i = 1; i < in->n; i++)
        free(in->str[i]);
    free(in->str);
    free(in->slots);
}

/* ---------------------------------------------------------------- stats tables */

/* A tile (w == h == 0) or a metatile (x, y = top-left; w, h its size). */
struct key {
    uint32_t tileset, tables;
    uint32_t x, y;
    uint16_t w, h;
    int8_t z;
};

struct stat {
    struct key k;
    uint8_t used;
    uint32_t database, user; /* last seen */
    uint32_t reasons;        /* bit i = reason id i+1 */
    uint64_t renders;
    uint64_t tiles; /* metatiles: tile records seen */
    double total_ms, max_ms, first_dur_ms;
    int64_t first_ms, last_ms;
};

struct table {
    struct stat *s;
    size_t n, cap; /* cap a power of two */
};

static uint64_t key_hash(const struct key *k)
{
    uint64_t h = (uint64_t)k->tileset * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)k->tables * 0xC2B2AE3D27D4EB4Full + (h << 6);
    h ^= ((uint64_t)k->x << 32 | k->y) * 0x165667B19E3779F9ull + (h >> 2);
    h ^= ((uint64_t)(uint8_t)k->z << 32 | (uint64_t)k->w << 16 | k->h) * 0x27D4EB2F165667C5ull;
    h ^= h >> 31;
    return h;
}

static int key_eq(const struct key *a, const struct key *b)
{
    return a->tileset == b->tileset && a->tables == b->tables && a->x == b->x && a->y == b->y &&
           a->z == b->z && a->w == b->w && a->h == b->h;
}

static struct stat *table_find(const struct table *t, const struct key *k)
{
    if (t->cap == 0)
        return NULL;
    size_t i = (size_t)key_hash(k) & (t->cap - 1);
    while (t->s[i].used) {
        if (key_eq(&t->s[i].k, k))
            return &t->s[i];
        i = (i + 1) & (t->cap - 1);
    }
    return NULL;
}

/* The entry for k, inserted (zeroed) when absent; NULL on OOM. */
static struct stat *table_get(struct table *t, const struct key *k)
{
    if ((t->n + 1) * 10 > t->cap * 7) {
        size_t ncap = t->cap ? t->cap * 2 : 1024;
        struct stat *ns = calloc(ncap, sizeof *ns);
        if (ns == NULL)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->s[i].used)
                continue;
            size_t j = (size_t)key_hash(&t->s[i].k) & (ncap - 1);
            while (ns[j].used)
                j = (j + 1) & (ncap - 1);
            ns[j] = t->s[i];
        }
        free(t->s);
        t->s = ns;
        t->cap = ncap;
    }
    size_t i = (size_t)key_hash(k) & (t->cap - 1);
    while (t->s[i].used) {
        if (key_eq(&t->s[i].k, k))
            return &t->s[i];
        i = (i + 1) & (t->cap - 1);
    }
    struct stat *s = &t->s[i];
    memset(s, 0, sizeof *s);
    s->k = *k;
    s->used = 1;
    s->first_ms = INT64_MAX;
    s->last_ms = INT64_MIN;
    t->n++;
    return s;
}

/* ---------------------------------------------------------------- the report */

struct tq_report {
    struct tq_report_filter filter;
    int has_filter;
    char *source;
    struct intern strings; /* tilesets, tables, databases, users */
    char *reason_names[MAX_REASONS];
    int nreasons;
    struct table tiles, metas;
    uint64_t renders, meta_renders;
    double render_ms;
    int64_t first_ms, last_ms;
    uint64_t zrenders[NZOOM];
    double zms[NZOOM];
    struct tq_report_input input;
};

struct tq_report *tq_report_new(const struct tq_report_filter *f, const char *source)
{
    struct tq_report *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->source = strdup(source ? source : "");
    if (r->source == NULL) {
        free(r);
        return NULL;
    }
    if (f != NULL) {
        r->filter = *f;
        r->has_filter = 1;
    }
    r->first_ms = INT64_MAX;
    r->last_ms = INT64_MIN;
    return r;
}

void tq_report_free(struct tq_report *r)
{
    if (r == NULL)
        return;
    intern_free(&r->strings);
    for (int i = 0; i < r->nreasons; i++)
        free(r->reason_names[i]);
    free(r->tiles.s);
    free(r->metas.s);
    free(r->source);
    free(r);
}

static uint32_t reason_bit(struct tq_report *r, const char *reason)
{
    if (reason == NULL || *reason == '\0')
        return 0;
    for (int i = 0; i < r->nreasons; i++)
        if (strcmp(r->reason_names[i], reason) == 0)
            return 1u << i;
    if (r->nreasons < MAX_REASONS) {
        char *copy = strdup(reason);
        if (copy != NULL) {
            r->reason_names[r->nreasons] = copy;
            return 1u << r->nreasons++;
        }
    }
    return 1u << 31;
}

static void stat_time(struct stat *s, int64_t started, double dur)
{
    if (started < s->first_ms) {
        s->first_ms = started;
        s->first_dur_ms = dur;
    }
    if (started > s->last_ms)
        s->last_ms = started;
}

int tq_report_add(struct tq_report *r, const struct tq_report_rec *rec)
{
    const struct tq_report_filter *f = &r->filter;
    const struct tq_tile *t = &rec->tile;

    if (tq_tile_valid(t->z, t->x, t->y) != 0)
        return 0;
    if (r->has_filter) {
        if (f->since_ms != TQ_TIME_UNSET && rec->started_ms < f->since_ms)
            return 0;
        if (f->until_ms != TQ_TIME_UNSET && rec->started_ms >= f->until_ms)
            return 0;
        if (f->tileset != NULL && (rec->tileset == NULL || strcmp(f->tileset, rec->tileset)))
            return 0;
        if (t->z < f->zmin || t->z > f->zmax)
            return 0;
    }
    struct key k = {0};
    k.tileset = intern_id(&r->strings, rec->tileset);
    k.tables = intern_id(&r->strings, rec->tables);
    uint32_t db = intern_id(&r->strings, rec->database);
    uint32_t user = intern_id(&r->strings, rec->user);
    if (k.tileset == UINT32_MAX || k.tables == UINT32_MAX || db == UINT32_MAX || user == UINT32_MAX)
        return -1;
    uint32_t rbit = reason_bit(r, rec->reason);
    double dur = isfinite(rec->duration_ms) && rec->duration_ms > 0 ? rec->duration_ms : 0;

    k.z = (int8_t)t->z;
    k.x = t->x;
    k.y = t->y;
    struct stat *s = table_get(&r->tiles, &k);
    if (s == NULL)
        return -1;
    s->renders++;
    s->tiles++;
    s->total_ms += dur;
    if (dur > s->max_ms)
        s->max_ms = dur;
    stat_time(s, rec->started_ms, dur);
    s->reasons |= rbit;
    if (db)
        s->database = db;
    if (user)
        s->user = user;

    /* The metatile: the record's, or the tile alone. */
    struct tq_metatile m = rec->meta;
    if (m.z != t->z || m.mx > t->x || m.my > t->y || (m.w && t->x - m.mx >= m.w) ||
        (m.h && t->y - m.my >= m.h)) {
        m.z = t->z;
        m.mx = t->x;
        m.my = t->y;
        m.w = m.h = 1;
    }
    k.x = m.mx;
    k.y = m.my;
    k.w = (uint16_t)m.w;
    k.h = (uint16_t)m.h;
    struct stat *ms = table_get(&r->metas, &k);
    if (ms == NULL)
        return -1;
    ms->tiles++;
    ms->reasons |= rbit;
    if (db)
        ms->database = db;
    if (user)
        ms->user = user;
    if (rec->meta_first) {
        double mdur = isfinite(rec->metatile_ms) && rec->metatile_ms > 0 ? rec->metatile_ms : dur;
        ms->renders++;
        ms->total_ms += mdur;
        if (mdur > ms->max_ms)
            ms->max_ms = mdur;
        stat_time(ms, rec->started_ms, mdur);
        r->meta_renders++;
    }

    r->renders++;
    r->render_ms += dur;
    r->zrenders[t->z]++;
    r->zms[t->z] += dur;
    if (rec->started_ms < r->first_ms)
        r->first_ms = rec->started_ms;
    if (rec->started_ms > r->last_ms)
        r->last_ms = rec->started_ms;
    return 1;
}

int64_t tq_report_consume(struct tq_report *r, tq_report_next_fn next, void *src, char *err,
                          size_t errsize)
{
    struct tq_report_rec rec;
    int64_t counted = 0;
    int rc;
    while ((rc = next(src, &rec, err, errsize)) == 1) {
        int a = tq_report_add(r, &rec);
        if (a < 0) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        counted += a;
    }
    return rc < 0 ? -1 : counted;
}

void tq_report_set_input(struct tq_report *r, const struct tq_report_input *in)
{
    r->input = *in;
    r->input.present = 1;
}

/* The database, user and tables columns: only a PostgreSQL log source fills them (and only
 * it calls tq_report_set_input); for the render log they would always be empty. */
static int pg_columns(const struct tq_report *r)
{
    return r->input.present;
}

void tq_report_summarize(const struct tq_report *r, struct tq_report_summary *out)
{
    memset(out, 0, sizeof *out);
    out->renders = r->renders;
    out->tiles = r->tiles.n;
    out->duplicates = r->renders - r->tiles.n;
    out->metatile_renders = r->meta_renders;
    out->render_ms = r->render_ms;
    double first = 0;
    for (size_t i = 0; i < r->tiles.cap; i++)
        if (r->tiles.s[i].used)
            first += r->tiles.s[i].first_dur_ms;
    out->duplicate_ms = r->render_ms - first;
    if (out->duplicate_ms < 0)
        out->duplicate_ms = 0;
    out->share = r->render_ms > 0 ? out->duplicate_ms / r->render_ms : 0;
    out->first_ms = r->renders ? r->first_ms : TQ_TIME_UNSET;
    out->last_ms = r->renders ? r->last_ms : TQ_TIME_UNSET;
}

void tq_report_zoom_stats(const struct tq_report *r, int z, struct tq_report_zoom *out)
{
    memset(out, 0, sizeof *out);
    if (z < 0 || z >= NZOOM)
        return;
    out->renders = r->zrenders[z];
    out->render_ms = r->zms[z];
    double first = 0;
    for (size_t i = 0; i < r->tiles.cap; i++) {
        const struct stat *s = &r->tiles.s[i];
        if (s->used && s->k.z == z) {
            out->tiles++;
            first += s->first_dur_ms;
        }
    }
    out->duplicates = out->renders - out->tiles;
    out->duplicate_ms = out->render_ms - first > 0 ? out->render_ms - first : 0;
}

uint64_t tq_report_tile_renders(const struct tq_report *r, const char *tileset, const char *tables,
                                struct tq_tile t)
{
    struct key k = {0};
    k.tileset = intern_find(&r->strings, tileset);
    k.tables = intern_find(&r->strings, tables);
    if ((tileset && !k.tileset) || (tables && !k.tables))
        return 0;
    k.z = (int8_t)t.z;
    k.x = t.x;
    k.y = t.y;
    const struct stat *s = table_find(&r->tiles, &k);
    return s ? s->renders : 0;
}

int tq_report_format_parse(const char *s, enum tq_report_format *out)
{
    static const char *const names[] = {"text", "csv", "json", "html"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum tq_report_format)i;
            return 0;
        }
    return -1;
}

/* ---------------------------------------------------------------- time */

const char *tq_report_time_format(int64_t ms, char *buf, size_t bufsize)
{
    if (ms == TQ_TIME_UNSET || ms == INT64_MAX || ms == INT64_MIN) {
        snprintf(buf, bufsize, "-");
        return buf;
    }
    time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int milli = (int)(ms - (int64_t)sec * 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, bufsize, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
    return buf;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int tq_report_time_parse(const char *s, int64_t now_ms, int64_t *out)
{
    if (s == NULL || *s == '\0')
        return -1;
    if (s[0] == '@') {
        char *end;
        double v = strtod(s + 1, &end);
        /* beyond ±9e15 s the milliseconds do not fit an int64_t */
        if (end == s + 1 || *end != '\0' || !isfinite(v) || fabs(v) > 9e15)
            return -1;
        *out = (int64_t)llround(v * 1000);
        return 0;
    }
    size_t len = strlen(s);
    if (len >= 2 && isdigit((unsigned char)s[0]) && strchr("smhd", s[len - 1]) &&
        strspn(s, "0123456789") == len - 1) {
        errno = 0;
        int64_t n = strtoll(s, NULL, 10);
        int64_t unit = s[len - 1] == 's'   ? 1000
                       : s[len - 1] == 'm' ? 60000
                       : s[len - 1] == 'h' ? 3600000
                                           : 86400000;
        /* strtoll clamps what it cannot hold; n * unit must not overflow either */
        if (errno != 0 || n > INT64_MAX / unit)
            return -1;
        *out = now_ms - n * unit;
        return 0;
    }
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, milli = 0;
    if (len < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -1;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi))
            return -1;
        p += 6;
        if (*p == ':') {
            if (digits(p + 1, 2, &sec))
                return -1;
            p += 3;
            if (*p == '.') {
                p++;
                int scale = 100;
                while (isdigit((unsigned char)*p)) {
                    milli += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
    }
    int64_t off_min = 0;
    if (*p == ' ')
        p++;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om = 0, sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh))
            return -1;
        p += 3;
        if (*p == ':')
            p++;
        if (isdigit((unsigned char)*p)) {
            if (digits(p, 2, &om))
                return -1;
            p += 2;
        }
        off_min = sign * (oh * 60 + om);
    } else if (strcmp(p, "UTC") == 0 || strcmp(p, "GMT") == 0) {
        p += 3;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out = (int64_t)t * 1000 + milli - off_min * 60000;
    return 0;
}

/* ---------------------------------------------------------------- ranking */

/* 1 when a ranks before b: more renders, more time, then by key. */
static int ranks_before(const struct tq_report *r, const struct stat *a, const struct stat *b)
{
    if (a->renders != b->renders)
        return a->renders > b->renders;
    if (a->total_ms != b->total_ms)
        return a->total_ms > b->total_ms;
    const char *ta = intern_str(&r->strings, a->k.tileset),
               *tb = intern_str(&r->strings, b->k.tileset);
    int c = strcmp(ta ? ta : "", tb ? tb : "");
    if (c != 0)
        return c < 0;
    if (a->k.z != b->k.z)
        return a->k.z < b->k.z;
    if (a->k.x != b->k.x)
        return a->k.x < b->k.x;
    if (a->k.y != b->k.y)
        return a->k.y < b->k.y;
    ta = intern_str(&r->strings, a->k.tables);
    tb = intern_str(&r->strings, b->k.tables);
    return strcmp(ta ? ta : "", tb ? tb : "") < 0;
}

/* The top n entries of t, best first, in a malloc'd array (*count set); NULL on OOM or
 * when empty. A bounded heap whose root is the worst kept entry. */
static const struct stat **top_n(const struct tq_report *r, const struct table *t, size_t n,
                                 size_t *count)
{
    *count = 0;
    if (n > t->n)
        n = t->n;
    if (n == 0)
        return NULL;
    const struct stat **h = malloc(n * sizeof *h);
    if (h == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++) {
        const struct stat *s = &t->s[i];
        if (!s->used)
            continue;
        if (k < n) { /* sift up: parent must be worse-or-equal (ranks after) */
            size_t j = k++;
            h[j] = s;
            while (j > 0 && ranks_before(r, h[(j - 1) / 2], h[j])) {
                const struct stat *tmp = h[j];
                h[j] = h[(j - 1) / 2];
                h[(j - 1) / 2] = tmp;
                j = (j - 1) / 2;
            }
        } else if (ranks_before(r, s, h[0])) {
            h[0] = s;
            size_t j = 0;
            for (;;) {
                size_t l = 2 * j + 1, rr = l + 1, w = j;
                if (l < k && ranks_before(r, h[w], h[l]))
                    w = l;
                if (rr < k && ranks_before(r, h[w], h[rr]))
                    w = rr;
                if (w == j)
                    break;
                const struct stat *tmp = h[j];
                h[j] = h[w];
                h[w] = tmp;
                j = w;
            }
        }
    }
    /* Heap sort into best-first order: repeatedly move the worst to the end. */
    for (size_t end = k; end > 1; end--) {
        const struct stat *tmp = h[0];
        h[0] = h[end - 1];
        h[end - 1] = tmp;
        size_t j = 0, m = end - 1;
        for (;;) {
            size_t l = 2 * j + 1, rr = l + 1, w = j;
            if (l < m && ranks_before(r, h[w], h[l]))
                w = l;
            if (rr < m && ranks_before(r, h[w], h[rr]))
                w = rr;
            if (w == j)
                break;
            const struct stat *t2 = h[j];
            h[j] = h[w];
            h[w] = t2;
            j = w;
        }
    }
    *count = k;
    return h;
}

/* "request,warm" into buf. */
static const char *reasons_str(const struct tq_report *r, uint32_t bits, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < 32 && len < n; i++) {
        if (!(bits & (1u << i)))
            continue;
        const char *name = i < r->nreasons ? r->reason_names[i] : "other";
        len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "", name);
    }
    return buf;
}

static const char *str_or(const struct tq_report *r, uint32_t id, const char *dflt)
{
    const char *s = intern_str(&r->strings, id);
    return s ? s : dflt;
}

/* ---------------------------------------------------------------- text */

static void fmt_count(uint64_t v, char *buf, size_t n)
{
    snprintf(buf, n, "%llu", (unsigned long long)v);
}

static int write_text(struct tq_report *r, const struct stat **tt, size_t nt,
                      const struct stat **mt, size_t nm, FILE *out)
{
    struct tq_report_summary s;
    char a[64], b[64], reasons[256];
    tq_report_summarize(r, &s);

    fprintf(out, "tileq duplicate-render report (%s)\n", r->source);
    if (r->renders)
        fprintf(out, "period             %s .. %s\n",
                tq_report_time_format(s.first_ms, a, sizeof a),
                tq_report_time_format(s.last_ms, b, sizeof b));
    if (r->input.present) {
        const struct tq_report_input *in = &r->input;
        fprintf(out,
                "input              %llu files, %llu lines, %llu log entries: %llu render "
                "queries, %llu skipped (not renders), %llu off-grid, %llu malformed\n",
                (unsigned long long)in->files, (unsigned long long)in->lines,
                (unsigned long long)in->entries, (unsigned long long)in->render_queries,
                (unsigned long long)in->skipped, (unsigned long long)in->unresolved,
                (unsigned long long)in->malformed);
    }
    fprintf(out, "renders            %llu\n", (unsigned long long)s.renders);
    fprintf(out, "distinct tiles     %llu\n", (unsigned long long)s.tiles);
    fprintf(out, "duplicate renders  %llu\n", (unsigned long long)s.duplicates);
    fprintf(out, "metatile renders   %llu\n", (unsigned long long)s.metatile_renders);
    fprintf(out, "render seconds     %.3f\n", s.render_ms / 1000);
    fprintf(out, "duplicate seconds  %.3f (%.1f%% of render time)\n", s.duplicate_ms / 1000,
            s.share * 100);

    fprintf(out, "\nper zoom\n%4s %10s %10s %10s %12s %12s %7s\n", "z", "renders", "tiles", "dups",
            "seconds", "dup_seconds", "dup%");
    for (int z = 0; z < NZOOM; z++) {
        struct tq_report_zoom zs;
        if (r->zrenders[z] == 0)
            continue;
        tq_report_zoom_stats(r, z, &zs);
        fprintf(out, "%4d %10llu %10llu %10llu %12.3f %12.3f %6.1f%%\n", z,
                (unsigned long long)zs.renders, (unsigned long long)zs.tiles,
                (unsigned long long)zs.duplicates, zs.render_ms / 1000, zs.duplicate_ms / 1000,
                zs.render_ms > 0 ? 100 * zs.duplicate_ms / zs.render_ms : 0.0);
    }

    for (int pass = 0; pass < 2; pass++) {
        const struct stat **v = pass ? mt : tt;
        size_t n = pass ? nm : nt;
        /* column width of the name */
        int w = 8;
        for (size_t i = 0; i < n; i++) {
            int l = (int)strlen(str_or(r, v[i]->k.tileset, "-"));
            if (l > w)
                w = l;
        }
        fprintf(out, "\ntop %zu %s by renders\n", n, pass ? "metatiles" : "tiles");
        fprintf(out, "%-*s %-20s %8s %11s %10s %10s  %-24s %-24s %s\n", w, "tileset",
                pass ? "z/x/y (w x h)" : "z/x/y", "renders", "total_ms", "mean_ms", "max_ms",
                "first", "last", pg_columns(r) ? "reasons / database user tables" : "reasons");
        for (size_t i = 0; i < n; i++) {
            const struct stat *e = v[i];
            char tile[64], cnt[32];
            if (pass && e->k.w)
                snprintf(tile, sizeof tile, "%d/%u/%u (%ux%u)", e->k.z, e->k.x, e->k.y, e->k.w,
                         e->k.h);
            else
                snprintf(tile, sizeof tile, "%d/%u/%u", e->k.z, e->k.x, e->k.y);
            fmt_count(e->renders, cnt, sizeof cnt);
            fprintf(out, "%-*s %-20s %8s %11.1f %10.1f %10.1f  %-24s %-24s %s", w,
                    str_or(r, e->k.tileset, "-"), tile, cnt, e->total_ms,
                    e->renders ? e->total_ms / (double)e->renders : 0.0, e->max_ms,
                    tq_report_time_format(e->first_ms, a, sizeof a),
                    tq_report_time_format(e->last_ms, b, sizeof b),
                    reasons_str(r, e->reasons, reasons, sizeof reasons));
            if (pg_columns(r) && (e->database || e->user || e->k.tables))
                fprintf(out, " / %s %s %s", str_or(r, e->database, "-"), str_or(r, e->user, "-"),
                        str_or(r, e->k.tables, "-"));
            fputc('\n', out);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- csv */

static void csv_field(FILE *out, const char *s, int last)
{
    if (s == NULL)
        s = "";
    if (strpbrk(s, ",\"\r\n") != NULL) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputc(last ? '\n' : ',', out);
}

static int write_csv(struct tq_report *r, const struct stat **tt, size_t nt, FILE *out)
{
    int pg = pg_columns(r);
    fputs(pg ? "tileset,z,x,y,renders,duplicates,total_ms,mean_ms,max_ms,first,last,reasons,"
               "database,user,tables\n"
             : "tileset,z,x,y,renders,duplicates,total_ms,mean_ms,max_ms,first,last,reasons\n",
          out);
    for (size_t i = 0; i < nt; i++) {
        const struct stat *e = tt[i];
        char a[64], b[64], reasons[256];
        csv_field(out, str_or(r, e->k.tileset, ""), 0);
        fprintf(out, "%d,%u,%u,%llu,%llu,%.3f,%.3f,%.3f,", e->k.z, e->k.x, e->k.y,
                (unsigned long long)e->renders, (unsigned long long)(e->renders - 1), e->total_ms,
                e->total_ms / (double)e->renders, e->max_ms);
        csv_field(out, tq_report_time_format(e->first_ms, a, sizeof a), 0);
        csv_field(out, tq_report_time_format(e->last_ms, b, sizeof b), 0);
        csv_field(out, reasons_str(r, e->reasons, reasons, sizeof reasons), !pg);
        if (pg) {
            csv_field(out, str_or(r, e->database, ""), 0);
            csv_field(out, str_or(r, e->user, ""), 0);
            csv_field(out, str_or(r, e->k.tables, ""), 1);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- json */

static json_t *json_str_list(const char *csv)
{
    json_t *a = json_array();
    if (csv == NULL || a == NULL)
        return a;
    const char *p = csv;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n > 0)
            json_array_append_new(a, json_stringn(p, n));
        p += n + (c ? 1 : 0);
    }
    return a;
}

static json_t *json_stat(const struct tq_report *r, const struct stat *e, int meta)
{
    char a[64], b[64], reasons[256];
    json_t *o = json_object();
    json_object_set_new(o, "tileset", json_string(str_or(r, e->k.tileset, "")));
    json_object_set_new(o, "z", json_integer(e->k.z));
    json_object_set_new(o, "x", json_integer(e->k.x));
    json_object_set_new(o, "y", json_integer(e->k.y));
    if (meta) {
        json_object_set_new(o, "w", json_integer(e->k.w));
        json_object_set_new(o, "h", json_integer(e->k.h));
        json_object_set_new(o, "tile_renders", json_integer((json_int_t)e->tiles));
    }
    json_object_set_new(o, "renders", json_integer((json_int_t)e->renders));
    json_object_set_new(o, "duplicates", json_integer(e->renders ? (json_int_t)e->renders - 1 : 0));
    json_object_set_new(o, "total_ms", json_real(e->total_ms));
    json_object_set_new(o, "mean_ms", json_real(e->renders ? e->total_ms / (double)e->renders : 0));
    json_object_set_new(o, "max_ms", json_real(e->max_ms));
    json_object_set_new(o, "first", json_string(tq_report_time_format(e->first_ms, a, sizeof a)));
    json_object_set_new(o, "last", json_string(tq_report_time_format(e->last_ms, b, sizeof b)));
    json_object_set_new(o, "reasons",
                        json_str_list(reasons_str(r, e->reasons, reasons, sizeof reasons)));
    if (e->database)
        json_object_set_new(o, "database", json_string(str_or(r, e->database, "")));
    if (e->user)
        json_object_set_new(o, "user", json_string(str_or(r, e->user, "")));
    if (e->k.tables)
        json_object_set_new(o, "tables", json_str_list(str_or(r, e->k.tables, NULL)));
    return o;
}

static int write_json(struct tq_report *r, const struct stat **tt, size_t nt,
                      const struct stat **mt, size_t nm, FILE *out, char *err, size_t errsize)
{
    struct tq_report_summary s;
    char a[64];
    int rc = -1;
    tq_report_summarize(r, &s);

    json_t *root = json_object();
    json_object_set_new(root, "source", json_string(r->source));
    json_t *flt = json_object();
    if (r->has_filter) {
        if (r->filter.since_ms != TQ_TIME_UNSET)
            json_object_set_new(
                flt, "since", json_string(tq_report_time_format(r->filter.since_ms, a, sizeof a)));
        if (r->filter.until_ms != TQ_TIME_UNSET)
            json_object_set_new(
                flt, "until", json_string(tq_report_time_format(r->filter.until_ms, a, sizeof a)));
        if (r->filter.tileset)
            json_object_set_new(flt, "tileset", json_string(r->filter.tileset));
        json_object_set_new(flt, "zmin", json_integer(r->filter.zmin));
        json_object_set_new(flt, "zmax", json_integer(r->filter.zmax));
    }
    json_object_set_new(root, "filter", flt);

    json_t *sum = json_object();
    json_object_set_new(sum, "renders", json_integer((json_int_t)s.renders));
    json_object_set_new(sum, "tiles", json_integer((json_int_t)s.tiles));
    json_object_set_new(sum, "duplicates", json_integer((json_int_t)s.duplicates));
    json_object_set_new(sum, "metatile_renders", json_integer((json_int_t)s.metatile_renders));
    json_object_set_new(sum, "render_seconds", json_real(s.render_ms / 1000));
    json_object_set_new(sum, "duplicate_seconds", json_real(s.duplicate_ms / 1000));
    json_object_set_new(sum, "duplicate_share", json_real(s.share));
    json_object_set_new(sum, "first",
                        s.renders ? json_string(tq_report_time_format(s.first_ms, a, sizeof a))
                                  : json_null());
    json_object_set_new(sum, "last",
                        s.renders ? json_string(tq_report_time_format(s.last_ms, a, sizeof a))
                                  : json_null());
    json_object_set_new(root, "summary", sum);

    if (r->input.present) {
        const struct tq_report_input *in = &r->input;
        json_t *o = json_object();
        json_object_set_new(o, "files", json_integer((json_int_t)in->files));
        json_object_set_new(o, "lines", json_integer((json_int_t)in->lines));
        json_object_set_new(o, "entries", json_integer((json_int_t)in->entries));
        json_object_set_new(o, "render_queries", json_integer((json_int_t)in->render_queries));
        json_object_set_new(o, "skipped", json_integer((json_int_t)in->skipped));
        json_object_set_new(o, "off_grid", json_integer((json_int_t)in->unresolved));
        json_object_set_new(o, "malformed", json_integer((json_int_t)in->malformed));
        json_object_set_new(root, "input", o);
    }

    json_t *zooms = json_array();
    for (int z = 0; z < NZOOM; z++) {
        struct tq_report_zoom zs;
        if (r->zrenders[z] == 0)
            continue;
        tq_report_zoom_stats(r, z, &zs);
        json_t *o = json_object();
        json_object_set_new(o, "z", json_integer(z));
        json_object_set_new(o, "renders", json_integer((json_int_t)zs.renders));
        json_object_set_new(o, "tiles", json_integer((json_int_t)zs.tiles));
        json_object_set_new(o, "duplicates", json_integer((json_int_t)zs.duplicates));
        json_object_set_new(o, "render_seconds", json_real(zs.render_ms / 1000));
        json_object_set_new(o, "duplicate_seconds", json_real(zs.duplicate_ms / 1000));
        json_array_append_new(zooms, o);
    }
    json_object_set_new(root, "zooms", zooms);

    json_t *tiles = json_array();
    for (size_t i = 0; i < nt; i++)
        json_array_append_new(tiles, json_stat(r, tt[i], 0));
    json_object_set_new(root, "top_tiles", tiles);
    json_t *metas = json_array();
    for (size_t i = 0; i < nm; i++)
        json_array_append_new(metas, json_stat(r, mt[i], 1));
    json_object_set_new(root, "top_metatiles", metas);

    if (json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) {
        snprintf(err, errsize, "json output failed");
        goto cleanup;
    }
    fputc('\n', out);
    rc = 0;
cleanup:
    json_decref(root);
    return rc;
}

/* ---------------------------------------------------------------- html */

static void html_esc(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static void html_rows(struct tq_report *r, const struct stat **v, size_t n, int meta, FILE *out)
{
    char a[64], b[64], reasons[256];
    int pg = !meta && pg_columns(r);
    fputs("<table><tr><th>tileset</th><th>tile</th><th>renders</th><th>total ms</th>"
          "<th>mean ms</th><th>max ms</th><th>first</th><th>last</th><th>reasons</th>",
          out);
    if (pg)
        fputs("<th>database</th><th>user</th><th>tables</th>", out);
    fputs("</tr>\n", out);
    for (size_t i = 0; i < n; i++) {
        const struct stat *e = v[i];
        fputs("<tr><td>", out);
        html_esc(out, str_or(r, e->k.tileset, "-"));
        fprintf(out, "</td><td>%d/%u/%u", e->k.z, e->k.x, e->k.y);
        if (meta && e->k.w)
            fprintf(out, " (%ux%u)", e->k.w, e->k.h);
        fprintf(out,
                "</td><td class=n>%llu</td><td class=n>%.1f</td><td class=n>%.1f</td>"
                "<td class=n>%.1f</td><td>%s</td><td>%s</td><td>",
                (unsigned long long)e->renders, e->total_ms,
                e->renders ? e->total_ms / (double)e->renders : 0.0, e->max_ms,
                tq_report_time_format(e->first_ms, a, sizeof a),
                tq_report_time_format(e->last_ms, b, sizeof b));
        html_esc(out, reasons_str(r, e->reasons, reasons, sizeof reasons));
        if (pg) {
            fputs("</td><td>", out);
            html_esc(out, str_or(r, e->database, ""));
            fputs("</td><td>", out);
            html_esc(out, str_or(r, e->user, ""));
            fputs("</td><td>", out);
            html_esc(out, str_or(r, e->k.tables, ""));
        }
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static int write_html(struct tq_report *r, const struct stat **tt, size_t nt,
                      const struct stat **mt, size_t nm, FILE *out)
{
    struct tq_report_summary s;
    char a[64], b[64];
    tq_report_summarize(r, &s);

    fputs("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n"
          "<title>tileq duplicate-render report</title>\n<style>\n"
          "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}\n"
          "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}\n"
          ".cards{display:flex;flex-wrap:wrap;gap:1em}\n"
          ".card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}\n"
          ".card b{display:block;font-size:1.5em}\n"
          "table{border-collapse:collapse;font-size:13px}\n"
          "th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left}\n"
          "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
          ".r{fill:#4a7bb7}.d{fill:#d9534f}svg text{font-size:11px;fill:#444}\n"
          "</style></head><body>\n<h1>tileq duplicate-render report</h1>\n<p>Source: ",
          out);
    html_esc(out, r->source);
    if (r->renders)
        fprintf(out, " &middot; %s &ndash; %s", tq_report_time_format(s.first_ms, a, sizeof a),
                tq_report_time_format(s.last_ms, b, sizeof b));
    fputs("</p>\n<div class=cards>\n", out);
    fprintf(out, "<div class=card>renders<b>%llu</b></div>\n", (unsigned long long)s.renders);
    fprintf(out, "<div class=card>distinct tiles<b>%llu</b></div>\n", (unsigned long long)s.tiles);
    fprintf(out, "<div class=card>duplicate renders<b>%llu</b></div>\n",
            (unsigned long long)s.duplicates);
    fprintf(out, "<div class=card>render seconds<b>%.1f</b></div>\n", s.render_ms / 1000);
    fprintf(out, "<div class=card>seconds on duplicates<b>%.1f</b>%.1f%% of render time</div>\n",
            s.duplicate_ms / 1000, s.share * 100);
    fputs("</div>\n", out);
    if (r->input.present)
        fprintf(out,
                "<p>Input: %llu files, %llu lines, %llu log entries, %llu render queries, "
                "%llu skipped (not renders), %llu off-grid, %llu malformed.</p>\n",
                (unsigned long long)r->input.files, (unsigned long long)r->input.lines,
                (unsigned long long)r->input.entries, (unsigned long long)r->input.render_queries,
                (unsigned long long)r->input.skipped, (unsigned long long)r->input.unresolved,
                (unsigned long long)r->input.malformed);

    /* Bar chart: per zoom, renders (blue) and duplicates (red) side by side. */
    uint64_t maxr = 1;
    int nz = 0;
    for (int z = 0; z < NZOOM; z++)
        if (r->zrenders[z]) {
            nz++;
            if (r->zrenders[z] > maxr)
                maxr = r->zrenders[z];
        }
    fputs("<h2>Renders and duplicates per zoom</h2>\n", out);
    if (nz > 0) {
        int slot = 48, chart_h = 200, top = 20, left = 50;
        int width = left + nz * slot + 20, height = top + chart_h + 40;
        fprintf(out,
                "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' role='img' "
                "aria-label='renders and duplicates per zoom'>\n",
                width, height);
        fprintf(out, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#999'/>\n", left, top + chart_h,
                width - 10, top + chart_h);
        fprintf(out, "<text x='%d' y='%d' text-anchor='end'>%llu</text>\n", left - 6, top + 4,
                (unsigned long long)maxr);
        fprintf(out, "<text x='%d' y='%d' text-anchor='end'>0</text>\n", left - 6,
                top + chart_h + 4);
        int i = 0;
        for (int z = 0; z < NZOOM; z++) {
            struct tq_report_zoom zs;
            if (r->zrenders[z] == 0)
                continue;
            tq_report_zoom_stats(r, z, &zs);
            int x = left + i * slot + 6;
            double hr = (double)chart_h * (double)zs.renders / (double)maxr;
            double hd = (double)chart_h * (double)zs.duplicates / (double)maxr;
            fprintf(out,
                    "<rect class=r x='%d' y='%.1f' width='16' height='%.1f'><title>z%d: %llu "
                    "renders</title></rect>\n",
                    x, top + chart_h - hr, hr, z, (unsigned long long)zs.renders);
            fprintf(out,
                    "<rect class=d x='%d' y='%.1f' width='16' height='%.1f'><title>z%d: %llu "
                    "duplicates</title></rect>\n",
                    x + 18, top + chart_h - hd, hd, z, (unsigned long long)zs.duplicates);
            fprintf(out, "<text x='%d' y='%d' text-anchor='middle'>z%d</text>\n", x + 17,
                    top + chart_h + 16, z);
            i++;
        }
        fprintf(out,
                "<rect class=r x='%d' y='%d' width='10' height='10'/><text x='%d' y='%d'>renders"
                "</text><rect class=d x='%d' y='%d' width='10' height='10'/><text x='%d' "
                "y='%d'>duplicates</text>\n</svg>\n",
                left, height - 14, left + 14, height - 5, left + 90, height - 14, left + 104,
                height - 5);
    } else {
        fputs("<p>No renders.</p>\n", out);
    }

    fputs("<h2>Per zoom</h2>\n<table><tr><th>z</th><th>renders</th><th>tiles</th>"
          "<th>duplicates</th><th>seconds</th><th>duplicate seconds</th></tr>\n",
          out);
    for (int z = 0; z < NZOOM; z++) {
        struct tq_report_zoom zs;
        if (r->zrenders[z] == 0)
            continue;
        tq_report_zoom_stats(r, z, &zs);
        fprintf(out,
                "<tr><td>%d</td><td class=n>%llu</td><td class=n>%llu</td><td class=n>%llu</td>"
                "<td class=n>%.3f</td><td class=n>%.3f</td></tr>\n",
                z, (unsigned long long)zs.renders, (unsigned long long)zs.tiles,
                (unsigned long long)zs.duplicates, zs.render_ms / 1000, zs.duplicate_ms / 1000);
    }
    fputs("</table>\n", out);
    fprintf(out, "<h2>Top %zu tiles by renders</h2>\n", nt);
    html_rows(r, tt, nt, 0, out);
    fprintf(out, "<h2>Top %zu metatiles by renders</h2>\n", nm);
    html_rows(r, mt, nm, 1, out);
    fputs("</body></html>\n", out);
    return 0;
}

int tq_report_write(struct tq_report *r, enum tq_report_format fmt, size_t top, FILE *out,
                    char *err, size_t errsize)
{
    size_t nt = 0, nm = 0;
    const struct stat **tt = top_n(r, &r->tiles, top, &nt);
    const struct stat **mt = top_n(r, &r->metas, top, &nm);
    int rc = -1;

    if ((nt == 0 && top > 0 && r->tiles.n > 0) || (nm == 0 && top > 0 && r->metas.n > 0)) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    switch (fmt) {
    case TQ_FMT_TEXT:
        rc = write_text(r, tt, nt, mt, nm, out);
        break;
    case TQ_FMT_CSV:
        rc = write_csv(r, tt, nt, out);
        break;
    case TQ_FMT_JSON:
        rc = write_json(r, tt, nt, mt, nm, out, err, errsize);
        break;
    case TQ_FMT_HTML:
        rc = write_html(r, tt, nt, mt, nm, out);
        break;
    }
    if (rc == 0 && (fflush(out) != 0 || ferror(out))) {
        snprintf(err, errsize, "write failed");
        rc = -1;
    }
cleanup:
    free(tt);
    free(mt);
    return rc;
}

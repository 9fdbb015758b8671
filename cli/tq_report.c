/* tq_report — see tq_report.h: the aggregation (interned strings, the tile and metatile
 * tables, the figures) and the ranking the writers list from. The writers are
 * tq_report_{text,csv,json,html}.c behind tq_report_write.c; times are tq_report_time.c. */
#include "tq_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tq_map.h"
#include "tq_report_internal.h"

#define INTERN_MAX (1u << 20)

/* ---------------------------------------------------------------- interned strings */

/* Returns the id of s (adding it), 0 for NULL, UINT32_MAX on OOM. Past INTERN_MAX distinct
 * strings everything new maps to the string "(other)". */
static uint32_t intern_id(struct tq_report_strings *in, const char *s)
{
    if (s == NULL)
        return 0;
    uint32_t *id = tq_map_str_get(in->ids, s);
    if (id != NULL)
        return *id;
    if (in->n == 0) {
        in->str = malloc(16 * sizeof *in->str);
        if (in->str == NULL)
            return UINT32_MAX;
        in->str[0] = NULL;
        in->n = 1;
        in->cap = 16;
    }
    if (in->n >= INTERN_MAX && strcmp(s, "(other)") != 0)
        return intern_id(in, "(other)");
    if (in->n == in->cap) {
        const char **p = realloc(in->str, in->cap * 2 * sizeof *p);
        if (p == NULL)
            return UINT32_MAX;
        in->str = p;
        in->cap *= 2;
    }
    id = tq_map_str_put(in->ids, s, NULL);
    if (id == NULL)
        return UINT32_MAX;
    *id = in->n;
    in->str[in->n] = tq_map_key(in->ids, id, NULL); /* the map's copy stays where it is */
    return in->n++;
}

/* Lookup without adding; 0 when absent. */
static uint32_t intern_find(const struct tq_report_strings *in, const char *s)
{
    const uint32_t *id = s != NULL ? tq_map_str_get(in->ids, s) : NULL;
    return id != NULL ? *id : 0;
}

static const char *intern_str(const struct tq_report_strings *in, uint32_t id)
{
    return (id == 0 || id >= in->n) ? NULL : in->str[id];
}

/* ---------------------------------------------------------------- tile and metatile tables */

static int table_init(struct tq_report_table *t)
{
    memset(t, 0, sizeof *t);
    t->index = tq_map_new(sizeof(struct tq_report_key), sizeof(uint32_t));
    return t->index != NULL ? 0 : -1;
}

static void table_free(struct tq_report_table *t)
{
    tq_map_free(t->index);
    free(t->e);
}

/* The entry for k in t, inserted (zeroed but for its times) when absent; NULL on OOM (t
 * unchanged). Valid until the next insert. */
static struct tq_report_entry *table_get(struct tq_report_table *t, const struct tq_report_key *k)
{
    int added;
    uint32_t *pos = tq_map_put(t->index, k, sizeof *k, &added);
    if (pos == NULL)
        return NULL;
    if (!added)
        return &t->e[*pos];
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        struct tq_report_entry *ne = ncap <= UINT32_MAX ? realloc(t->e, ncap * sizeof *ne) : NULL;
        if (ne == NULL) {
            tq_map_remove(t->index, k, sizeof *k, NULL);
            return NULL;
        }
        t->e = ne;
        t->cap = ncap;
    }
    *pos = (uint32_t)t->n;
    struct tq_report_entry *s = &t->e[t->n++];
    memset(s, 0, sizeof *s);
    memcpy(&s->k, k, sizeof *k); /* with its zeroed padding */
    s->first_ms = INT64_MAX;
    s->last_ms = INT64_MIN;
    s->plain_first_ms = INT64_MAX;
    return s;
}

/* A key with its padding zeroed: the map compares keys byte by byte. */
static void key_init(struct tq_report_key *k)
{
    memset(k, 0, sizeof *k);
}

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
    r->last_meta_pos = UINT32_MAX;
    r->strings.ids = tq_map_new(0, sizeof(uint32_t));
    int t_ok = table_init(&r->tiles) == 0, m_ok = table_init(&r->metas) == 0;
    if (r->strings.ids == NULL || !t_ok || !m_ok) {
        tq_report_free(r);
        return NULL;
    }
    return r;
}

struct tq_report *tq_report_new_like(const struct tq_report *r)
{
    return tq_report_new(r->has_filter ? &r->filter : NULL, r->source);
}

void tq_report_free(struct tq_report *r)
{
    if (r == NULL)
        return;
    tq_map_free(r->strings.ids);
    free(r->strings.str);
    for (int i = 0; i < r->nreasons; i++)
        free(r->reason_names[i]);
    table_free(&r->tiles);
    table_free(&r->metas);
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
    if (r->nreasons < TQ_REPORT_MAX_REASONS) {
        char *copy = strdup(reason);
        if (copy != NULL) {
            r->reason_names[r->nreasons] = copy;
            return 1u << r->nreasons++;
        }
    }
    return 1u << 31;
}

/* ---------------------------------------------------------------- figures */

/* a + b, at most INT64_MAX (both >= 0) */
static int64_t add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* A record's duration in ns: not finite or not positive is 0; at most 10^12 ms (a pglog
 * source rejects more), so that a few sums cannot saturate. */
static int64_t dur_ns(double ms)
{
    if (!isfinite(ms) || !(ms > 0))
        return 0;
    return ms >= 1e12 ? (int64_t)1e18 : (int64_t)llround(ms * 1e6);
}

/* The first plain render of an entry that has one (has) at (pf_ms, pf_ns), replaced by one
 * at (ms, ns)? The earlier, then the longer: the same whatever order they come in. */
static int plain_first_before(int has, int64_t pf_ms, int64_t pf_ns, int64_t ms, int64_t ns)
{
    return !has || ms < pf_ms || (ms == pf_ms && ns > pf_ns);
}

/* Counts one render of dur ns started at started into s; change: its reason is "change". */
static void entry_render(struct tq_report_entry *s, int64_t started, int64_t dur, int change)
{
    int had_plain = s->renders > s->changes;
    s->renders++;
    s->total_ns = add_sat(s->total_ns, dur);
    if (dur > s->max_ns)
        s->max_ns = dur;
    if (started < s->first_ms)
        s->first_ms = started;
    if (started > s->last_ms)
        s->last_ms = started;
    if (change) {
        s->changes++;
        s->change_ns = add_sat(s->change_ns, dur);
    } else if (plain_first_before(had_plain, s->plain_first_ms, s->plain_first_ns, started, dur)) {
        s->plain_first_ms = started;
        s->plain_first_ns = dur;
    }
}

/* (da, ua) after (db, ub), strings compared (NULL first)? */
static int pair_after(const char *da, const char *ua, const char *db, const char *ub)
{
    int c = strcmp(da ? da : "", db ? db : "");
    if (c == 0)
        c = strcmp(ua ? ua : "", ub ? ub : "");
    return c > 0;
}

/* The database and user of a render started at ms (ids of r's strings; both 0: none) into
 * s when it is the latest one that has them (tq_report_entry). */
static void entry_who(const struct tq_report *r, struct tq_report_entry *s, int64_t ms, uint32_t db,
                      uint32_t user)
{
    if (db == 0 && user == 0)
        return;
    if ((s->database == 0 && s->user == 0) || ms > s->who_ms ||
        (ms == s->who_ms &&
         pair_after(intern_str(&r->strings, db), intern_str(&r->strings, user),
                    intern_str(&r->strings, s->database), intern_str(&r->strings, s->user)))) {
        s->database = db;
        s->user = user;
        s->who_ms = ms;
    }
}

uint64_t tq_report_entry_duplicates(const struct tq_report_entry *e)
{
    uint64_t plain = e->renders - e->changes;
    return plain > 0 ? plain - 1 : 0;
}

int64_t tq_report_entry_duplicate_ns(const struct tq_report_entry *e)
{
    if (e->renders == e->changes)
        return 0;
    /* total saturates: the parts may add up to more than it */
    int64_t ns = e->total_ns - e->change_ns - e->plain_first_ns;
    return ns > 0 ? ns : 0;
}

double tq_report_entry_duplicate_ms(const struct tq_report_entry *e)
{
    return tq_report_ms(tq_report_entry_duplicate_ns(e));
}

/* intern_id through r's cache of the last string in slot i (tq_report). */
static uint32_t intern_cached(struct tq_report *r, int i, const char *s)
{
    if (s == NULL)
        return 0;
    if (r->last_str[i] != NULL && strcmp(r->last_str[i], s) == 0)
        return r->last_id[i];
    uint32_t id = intern_id(&r->strings, s);
    if (id != UINT32_MAX) {
        r->last_str[i] = intern_str(&r->strings, id);
        r->last_id[i] = id;
    }
    return id;
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
    struct tq_report_key k;
    key_init(&k);
    k.tileset = intern_cached(r, 0, rec->tileset);
    k.tables = intern_cached(r, 1, rec->tables);
    uint32_t db = intern_cached(r, 2, rec->database);
    uint32_t user = intern_cached(r, 3, rec->user);
    if (k.tileset == UINT32_MAX || k.tables == UINT32_MAX || db == UINT32_MAX || user == UINT32_MAX)
        return -1;
    uint32_t rbit = reason_bit(r, rec->reason);
    /* A render a data change required (tileq watch) is never a duplicate. PostgreSQL log
     * records carry the statement kind there, never "change": all count as before. */
    int change = rec->reason != NULL && strcmp(rec->reason, "change") == 0;
    int64_t dur = dur_ns(rec->duration_ms);

    k.z = (int8_t)t->z;
    k.x = t->x;
    k.y = t->y;
    struct tq_report_entry *s = table_get(&r->tiles, &k);
    if (s == NULL)
        return -1;
    entry_render(s, rec->started_ms, dur, change);
    s->tiles++;
    s->reasons |= rbit;
    entry_who(r, s, rec->started_ms, db, user);

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
    struct tq_report_entry *ms;
    if (r->last_meta_pos != UINT32_MAX && memcmp(&k, &r->last_meta, sizeof k) == 0) {
        ms = &r->metas.e[r->last_meta_pos];
    } else {
        if ((ms = table_get(&r->metas, &k)) == NULL)
            return -1;
        memcpy(&r->last_meta, &k, sizeof k);
        r->last_meta_pos = (uint32_t)(ms - r->metas.e);
    }
    ms->tiles++;
    ms->reasons |= rbit;
    entry_who(r, ms, rec->started_ms, db, user);
    if (rec->meta_first) {
        int64_t mdur =
            isfinite(rec->metatile_ms) && rec->metatile_ms > 0 ? dur_ns(rec->metatile_ms) : dur;
        entry_render(ms, rec->started_ms, mdur, change);
        r->meta_renders++;
    }

    r->renders++;
    r->change_renders += (uint64_t)change;
    r->render_ns = add_sat(r->render_ns, dur);
    r->zrenders[t->z]++;
    r->zns[t->z] = add_sat(r->zns[t->z], dur);
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

/* ---------------------------------------------------------------- merge */

/* src's entries of table st added into dst's table dt; ids[i] = dst's id of src's string
 * i, rbits[i] = dst's bit of src's reason bit i. 0, or -1 on OOM. */
static int merge_table(struct tq_report *dst, struct tq_report_table *dt,
                       const struct tq_report_table *st, const uint32_t *ids, const uint32_t *rbits)
{
    for (size_t i = 0; i < st->n; i++) {
        const struct tq_report_entry *s = &st->e[i];
        struct tq_report_key k;
        key_init(&k);
        k.tileset = ids[s->k.tileset];
        k.tables = ids[s->k.tables];
        k.x = s->k.x;
        k.y = s->k.y;
        k.w = s->k.w;
        k.h = s->k.h;
        k.z = s->k.z;
        struct tq_report_entry *d = table_get(dt, &k);
        if (d == NULL)
            return -1;
        int had_plain = d->renders > d->changes;
        d->renders += s->renders;
        d->tiles += s->tiles;
        d->total_ns = add_sat(d->total_ns, s->total_ns);
        if (s->max_ns > d->max_ns)
            d->max_ns = s->max_ns;
        if (s->first_ms < d->first_ms)
            d->first_ms = s->first_ms;
        if (s->last_ms > d->last_ms)
            d->last_ms = s->last_ms;
        d->changes += s->changes;
        d->change_ns = add_sat(d->change_ns, s->change_ns);
        if (s->renders > s->changes &&
            plain_first_before(had_plain, d->plain_first_ms, d->plain_first_ns, s->plain_first_ms,
                               s->plain_first_ns)) {
            d->plain_first_ms = s->plain_first_ms;
            d->plain_first_ns = s->plain_first_ns;
        }
        for (int b = 0; b < 32; b++)
            if (s->reasons & (1u << b))
                d->reasons |= rbits[b];
        entry_who(dst, d, s->who_ms, ids[s->database], ids[s->user]);
    }
    return 0;
}

int tq_report_merge(struct tq_report *dst, const struct tq_report *src)
{
    uint32_t rbits[32];
    uint32_t *ids = calloc(src->strings.n > 0 ? src->strings.n : 1, sizeof *ids);
    int rc = -1;

    if (ids == NULL)
        goto cleanup;
    for (uint32_t i = 1; i < src->strings.n; i++) { /* ids[0] = 0: no string */
        ids[i] = intern_id(&dst->strings, src->strings.str[i]);
        if (ids[i] == UINT32_MAX)
            goto cleanup;
    }
    for (int i = 0; i < 32; i++) /* past src's names: its bit 31, "other" */
        rbits[i] = i < src->nreasons ? reason_bit(dst, src->reason_names[i]) : 1u << 31;
    if (merge_table(dst, &dst->tiles, &src->tiles, ids, rbits) != 0 ||
        merge_table(dst, &dst->metas, &src->metas, ids, rbits) != 0)
        goto cleanup;
    dst->renders += src->renders;
    dst->meta_renders += src->meta_renders;
    dst->change_renders += src->change_renders;
    dst->render_ns = add_sat(dst->render_ns, src->render_ns);
    if (src->first_ms < dst->first_ms)
        dst->first_ms = src->first_ms;
    if (src->last_ms > dst->last_ms)
        dst->last_ms = src->last_ms;
    for (int z = 0; z < TQ_REPORT_NZOOM; z++) {
        dst->zrenders[z] += src->zrenders[z];
        dst->zns[z] = add_sat(dst->zns[z], src->zns[z]);
    }
    if (src->input.present) {
        dst->input.present = 1;
        tq_report_input_add(&dst->input, &src->input);
    }
    rc = 0;
cleanup:
    free(ids);
    return rc;
}

void tq_report_input_add(struct tq_report_input *to, const struct tq_report_input *from)
{
    to->files += from->files;
    to->lines += from->lines;
    to->entries += from->entries;
    to->render_queries += from->render_queries;
    to->skipped += from->skipped;
    to->unresolved += from->unresolved;
    to->malformed += from->malformed;
    to->truncated += from->truncated;
}

void tq_report_set_input(struct tq_report *r, const struct tq_report_input *in)
{
    r->input = *in;
    r->input.present = 1;
}

/* The database, user and tables columns: only a PostgreSQL log source fills them (and only
 * it calls tq_report_set_input); for the render log they would always be empty. */
int tq_report_pg_columns(const struct tq_report *r)
{
    return r->input.present;
}

void tq_report_summarize(const struct tq_report *r, struct tq_report_summary *out)
{
    memset(out, 0, sizeof *out);
    out->renders = r->renders;
    out->tiles = r->tiles.n;
    out->metatile_renders = r->meta_renders;
    out->change_renders = r->change_renders;
    out->render_ms = tq_report_ms(r->render_ns);
    int64_t dup_ns = 0;
    for (size_t i = 0; i < r->tiles.n; i++) {
        const struct tq_report_entry *e = &r->tiles.e[i];
        out->duplicates += tq_report_entry_duplicates(e);
        dup_ns = add_sat(dup_ns, tq_report_entry_duplicate_ns(e));
    }
    out->duplicate_ms = tq_report_ms(dup_ns);
    out->share = r->render_ns > 0 ? out->duplicate_ms / out->render_ms : 0;
    out->first_ms = r->renders ? r->first_ms : TQ_TIME_UNSET;
    out->last_ms = r->renders ? r->last_ms : TQ_TIME_UNSET;
}

void tq_report_zoom_stats(const struct tq_report *r, int z, struct tq_report_zoom *out)
{
    memset(out, 0, sizeof *out);
    if (z < 0 || z >= TQ_REPORT_NZOOM)
        return;
    out->renders = r->zrenders[z];
    out->render_ms = tq_report_ms(r->zns[z]);
    int64_t dup_ns = 0;
    for (size_t i = 0; i < r->tiles.n; i++) {
        const struct tq_report_entry *s = &r->tiles.e[i];
        if (s->k.z == z) {
            out->tiles++;
            out->duplicates += tq_report_entry_duplicates(s);
            dup_ns = add_sat(dup_ns, tq_report_entry_duplicate_ns(s));
        }
    }
    out->duplicate_ms = tq_report_ms(dup_ns);
}

uint64_t tq_report_tile_renders(const struct tq_report *r, const char *tileset, const char *tables,
                                struct tq_tile t)
{
    struct tq_report_key k;
    key_init(&k);
    k.tileset = intern_find(&r->strings, tileset);
    k.tables = intern_find(&r->strings, tables);
    if ((tileset && !k.tileset) || (tables && !k.tables))
        return 0;
    k.z = (int8_t)t.z;
    k.x = t.x;
    k.y = t.y;
    const uint32_t *pos = tq_map_get(r->tiles.index, &k, sizeof k);
    return pos ? r->tiles.e[*pos].renders : 0;
}

/* ---------------------------------------------------------------- ranking */

/* 1 when a ranks before b: more duplicates, more duplicate time, more renders, more time,
 * then by key (every field of it: a total order, so the top does not depend on the tables'
 * order). Duplicates first: a tile re-rendered for data changes is not waste. */
static int ranks_before(const struct tq_report *r, const struct tq_report_entry *a,
                        const struct tq_report_entry *b)
{
    uint64_t da = tq_report_entry_duplicates(a), db = tq_report_entry_duplicates(b);
    if (da != db)
        return da > db;
    int64_t ma = tq_report_entry_duplicate_ns(a), mb = tq_report_entry_duplicate_ns(b);
    if (ma != mb)
        return ma > mb;
    if (a->renders != b->renders)
        return a->renders > b->renders;
    if (a->total_ns != b->total_ns)
        return a->total_ns > b->total_ns;
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
    c = strcmp(ta ? ta : "", tb ? tb : "");
    if (c != 0)
        return c < 0;
    if (a->k.w != b->k.w)
        return a->k.w < b->k.w;
    return a->k.h < b->k.h;
}

/* The top n entries of t, best first, in a malloc'd array (*count set); NULL on OOM or
 * when empty. A bounded heap whose root is the worst kept entry. */
const struct tq_report_entry **
tq_report_top(const struct tq_report *r, const struct tq_report_table *t, size_t n, size_t *count)
{
    *count = 0;
    if (n > t->n)
        n = t->n;
    if (n == 0)
        return NULL;
    const struct tq_report_entry **h = malloc(n * sizeof *h);
    if (h == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct tq_report_entry *s = &t->e[i];
        if (k < n) { /* sift up: parent must be worse-or-equal (ranks after) */
            size_t j = k++;
            h[j] = s;
            while (j > 0 && ranks_before(r, h[(j - 1) / 2], h[j])) {
                const struct tq_report_entry *tmp = h[j];
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
                const struct tq_report_entry *tmp = h[j];
                h[j] = h[w];
                h[w] = tmp;
                j = w;
            }
        }
    }
    /* Heap sort into best-first order: repeatedly move the worst to the end. */
    for (size_t end = k; end > 1; end--) {
        const struct tq_report_entry *tmp = h[0];
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
            const struct tq_report_entry *t2 = h[j];
            h[j] = h[w];
            h[w] = t2;
            j = w;
        }
    }
    *count = k;
    return h;
}

/* "request,warm" into buf: the names sorted (an insertion sort of at most 32). */
const char *tq_report_reasons(const struct tq_report *r, uint32_t bits, char *buf, size_t n)
{
    const char *names[32];
    int k = 0;
    for (int i = 0; i < 32; i++) {
        if (!(bits & (1u << i)))
            continue;
        const char *name = i < r->nreasons ? r->reason_names[i] : "other";
        int j = k++;
        for (; j > 0 && strcmp(names[j - 1], name) > 0; j--)
            names[j] = names[j - 1];
        names[j] = name;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < k && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "", names[i]);
    return buf;
}

const char *tq_report_str(const struct tq_report *r, uint32_t id, const char *dflt)
{
    const char *s = intern_str(&r->strings, id);
    return s ? s : dflt;
}

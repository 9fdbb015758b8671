/* tq_pglog_sql — see tq_pglog_sql.h. */
#include "tq_pglog_sql.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tq_buf.h"

/* ---------------------------------------------------------------- small helpers */

/* A case-insensitive search for a needle that starts with a letter: candidates are found
 * with strpbrk on both cases of its first letter. */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    char first[3] = {(char)tolower((unsigned char)needle[0]),
                     (char)toupper((unsigned char)needle[0]), 0};
    for (const char *h = strpbrk(hay, first); h != NULL; h = strpbrk(h + 1, first))
        if (strncasecmp(h, needle, n) == 0)
            return h;
    return NULL;
}

static const char *skip_ws(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* ---------------------------------------------------------------- bounds → tiles */

int tq_pglog_sql_bbox_to_metatile(const struct tq_bbox *b, double buffer, uint32_t metatile,
                                  struct tq_metatile *out)
{
    double w = b->xmax - b->xmin, h = b->ymax - b->ymin;
    if (!(w > 0 && h > 0) || !isfinite(w) || !isfinite(h))
        return -1;
    if (metatile < 1)
        metatile = 1;
    if (!(buffer >= 0))
        buffer = 0;
    uint32_t sizes[2] = {metatile, 1};
    int nsizes = metatile > 1 ? 2 : 1;
    for (int si = metatile > 1 ? 0 : 1; si < 2 && nsizes > 0; si++) {
        uint32_t n = sizes[si];
        for (int z = 0; z <= TQ_TILE_MAX_ZOOM; z++) {
            double grid = (double)tq_tile_grid_size(z);
            double T = 2 * TQ_MERC_MAX / grid;
            uint32_t ne = n < tq_tile_grid_size(z) ? n : tq_tile_grid_size(z);
            double S = T * ne, tol = 1e-3 * T;
            double mw = (w - S) / 2, mh = (h - S) / 2;
            if (mw < -tol || mh < -tol)
                continue; /* bounds smaller than this zoom's (meta)tile */
            if (mw > buffer * T + tol || mh > buffer * T + tol)
                continue; /* margin larger than the buffer */
            if (fabs(mw - mh) > tol)
                continue; /* not square */
            double fx = (b->xmin + mw + TQ_MERC_MAX) / T, fy = (TQ_MERC_MAX - (b->ymax - mh)) / T;
            double ix = round(fx), iy = round(fy);
            if (fabs(fx - ix) * T > tol || fabs(fy - iy) * T > tol)
                continue; /* off the grid */
            if (ix < 0 || iy < 0 || ix + ne > grid || iy + ne > grid)
                continue;
            if (ne > 1 && (fmod(ix, ne) != 0 || fmod(iy, ne) != 0))
                continue; /* not a metatile boundary */
            out->z = z;
            out->mx = (uint32_t)ix;
            out->my = (uint32_t)iy;
            out->w = out->h = ne;
            return 0;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- query analysis */

/* Reads a number as it appears in SQL: spaces, parentheses and quotes around it, a sign,
 * and a trailing cast (::float8, ::double precision). */
static int sql_number(const char **pp, double *v)
{
    const char *p = skip_ws(*pp);
    int parens = 0, quote = 0;
    while (*p == '(') {
        parens++;
        p = skip_ws(p + 1);
    }
    if (*p == '\'') {
        quote = 1;
        p++;
    }
    char *end;
    errno = 0;
    *v = strtod(p, &end);
    if (end == p || errno != 0 || !isfinite(*v))
        return -1;
    p = end;
    if (quote) {
        if (*p != '\'')
            return -1;
        p++;
    }
    p = skip_ws(p);
    while (p[0] == ':' && p[1] == ':') {
        p = skip_ws(p + 2);
        while (isalnum((unsigned char)*p) || *p == '_' || *p == ' ')
            p++;
    }
    while (parens > 0 && *p == ')') {
        parens--;
        p = skip_ws(p + 1);
    }
    *pp = skip_ws(p);
    return 0;
}

/* A SRID argument that follows the bounds: 1 = 3857 (or 900913) or absent, 0 = another. */
static int srid_ok(const char *p)
{
    p = skip_ws(p);
    if (*p != ',')
        return 1;
    p++;
    double srid;
    if (sql_number(&p, &srid) != 0)
        return 1;
    return srid == 3857 || srid == 900913;
}

/* ST_TileEnvelope(z, x, y) at p (just after the parenthesis): 0 and *out, or -1. */
static int tile_envelope_at(const char *p, struct tq_metatile *out)
{
    double v[3];
    for (int i = 0; i < 3; i++) /* whole numbers in [0, 2^32) before any integer cast */
        if (sql_number(&p, &v[i]) != 0 || (i < 2 && *p++ != ',') || !(v[i] >= 0) ||
            v[i] >= 4294967296.0 || v[i] != floor(v[i]))
            return -1;
    if (tq_tile_valid((int)v[0], (int64_t)v[1], (int64_t)v[2]) != 0)
        return -1;
    out->z = (int)v[0];
    out->mx = (uint32_t)v[1];
    out->my = (uint32_t)v[2];
    out->w = out->h = 1;
    return 0;
}

/* ST_MakeEnvelope(xmin, ymin, xmax, ymax[, srid]) at p: 0 (bounds in b), 1 another SRID, -1. */
static int make_envelope_at(const char *p, struct tq_bbox *b)
{
    double v[4];
    for (int i = 0; i < 4; i++)
        if (sql_number(&p, &v[i]) != 0 || (i < 3 && *p++ != ','))
            return -1;
    if (!srid_ok(p))
        return 1;
    *b = (struct tq_bbox){v[0], v[1], v[2], v[3]};
    return 0;
}

/* 'BOX3D(xmin ymin[ zmin],xmax ymax[ zmax])'::box3d[, srid] at p: as make_envelope_at. */
static int box3d_at(const char *p, struct tq_bbox *b)
{
    double v[4];
    for (int corner = 0; corner < 2; corner++) {
        char *end;
        v[corner * 2] = strtod(p, &end);
        if (end == p)
            return -1;
        p = end;
        v[corner * 2 + 1] = strtod(p, &end);
        if (end == p)
            return -1;
        p = skip_ws(end);
        if (*p != ',' && *p != ')') {
            strtod(p, &end); /* z */
            p = skip_ws(end);
        }
        if (*p++ != (corner ? ')' : ','))
            return -1;
    }
    if (*p == '\'')
        p++;
    p = skip_ws(p);
    while (p[0] == ':' && p[1] == ':') {
        p += 2;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
    }
    if (!srid_ok(p))
        return 1;
    *b = (struct tq_bbox){v[0], v[1], v[2], v[3]};
    return 0;
}

/* Whether the name ending just before the '(' at p (of a string starting at start) is fn,
 * compared case-insensitively. */
static int fn_before(const char *start, const char *p, const char *fn, size_t n)
{
    return (size_t)(p - start) >= n && strncasecmp(p - n, fn, n) == 0;
}

/* The first envelope that can be read wins, looking for ST_TileEnvelope first, then
 * ST_MakeEnvelope, then BOX3D (a query may hold several, some with column arguments, such
 * as tileq's own metatile query: ST_TileEnvelope($1, tx, ty) and ST_MakeEnvelope of the
 * metatile). The query is scanned once for its parentheses (a case-insensitive search per
 * byte for each name cost a tenth of the parser's time). */
static enum tq_pglog_sql_kind find_tile(const char *sql, double buffer, uint32_t metatile,
                                        struct tq_metatile *out, struct tq_bbox *bbox)
{
    static const char *const fn[] = {"st_tileenvelope", "st_makeenvelope", "box3d"};
    static const size_t fnlen[] = {15, 15, 5};
    int seen = 0;
    const char *first[3] = {NULL, NULL, NULL};
    const char *p;

    for (p = strchr(sql, '('); p != NULL; p = strchr(p + 1, '('))
        for (int k = 0; k < 3; k++)
            if (first[k] == NULL && fn_before(sql, p, fn[k], fnlen[k]))
                first[k] = p;
    for (int k = 0; k < 3; k++) {
        for (p = first[k]; p != NULL; p = strchr(p + 1, '(')) {
            if (p != first[k] && !fn_before(sql, p, fn[k], fnlen[k]))
                continue;
            struct tq_bbox b;
            int rc;
            seen = 1;
            if (k == 0) {
                if (tile_envelope_at(p + 1, out) == 0) {
                    *bbox = tq_tile_bounds((struct tq_tile){out->z, out->mx, out->my});
                    return TQ_PGLOG_SQL_TILE;
                }
                continue;
            }
            rc = k == 1 ? make_envelope_at(p + 1, &b) : box3d_at(p + 1, &b);
            if (rc == 0)
                *bbox = b;
            if (rc == 0)
                return tq_pglog_sql_bbox_to_metatile(&b, buffer, metatile, out) == 0
                           ? TQ_PGLOG_SQL_TILE
                           : TQ_PGLOG_SQL_OFFGRID;
        }
    }
    return seen ? TQ_PGLOG_SQL_OFFGRID : TQ_PGLOG_SQL_NONE;
}

/* SQL tokens, enough to find what FROM and JOIN name. */
enum tok_type { T_END, T_WORD, T_NAME, T_PUNCT, T_OTHER };
struct tok {
    enum tok_type type;
    char text[128]; /* T_WORD: lower-cased word; T_NAME: quoted identifier; T_PUNCT: char */
};

static const char *next_tok(const char *p, struct tok *t)
{
    for (;;) {
        p = skip_ws(p);
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else {
            break;
        }
    }
    t->text[0] = '\0';
    if (*p == '\0') {
        t->type = T_END;
        return p;
    }
    if (isalpha((unsigned char)*p) || *p == '_') {
        size_t n = 0;
        while (isalnum((unsigned char)*p) || *p == '_' || *p == '$') {
            if (n + 1 < sizeof t->text)
                t->text[n++] = (char)tolower((unsigned char)*p);
            p++;
        }
        t->text[n] = '\0';
        t->type = T_WORD;
        return p;
    }
    if (*p == '"') {
        size_t n = 0;
        p++;
        while (*p && !(p[0] == '"' && p[1] != '"')) {
            if (p[0] == '"')
                p++;
            if (n + 1 < sizeof t->text)
                t->text[n++] = *p;
            p++;
        }
        if (*p == '"')
            p++;
        t->text[n] = '\0';
        t->type = T_NAME;
        return p;
    }
    if (*p == '\'') {
        p++;
        while (*p && !(p[0] == '\'' && p[1] != '\'')) {
            if (p[0] == '\'')
                p++;
            p++;
        }
        if (*p)
            p++;
        t->type = T_OTHER;
        return p;
    }
    if (*p == '$' && !isdigit((unsigned char)p[1])) { /* $tag$ ... $tag$ */
        const char *e = strchr(p + 1, '$');
        if (e != NULL) {
            size_t taglen = (size_t)(e - p) + 1;
            char tag[64];
            if (taglen < sizeof tag) {
                memcpy(tag, p, taglen);
                tag[taglen] = '\0';
                const char *close = strstr(e + 1, tag);
                t->type = T_OTHER;
                return close ? close + taglen : p + strlen(p);
            }
        }
    }
    if (isdigit((unsigned char)*p)) {
        while (isalnum((unsigned char)*p) || *p == '.')
            p++;
        t->type = T_OTHER;
        return p;
    }
    t->type = T_PUNCT;
    t->text[0] = *p;
    t->text[1] = '\0';
    return p + 1;
}

static int is_clause_word(const char *w)
{
    static const char *const kw[] = {
        "where",       "join",   "on",    "group", "order",   "limit",     "left",      "right",
        "inner",       "outer",  "cross", "full",  "natural", "union",     "having",    "window",
        "using",       "offset", "fetch", "for",   "except",  "intersect", "returning", "lateral",
        "tablesample", "select", "from",  "as",    "with",    "and",       "or",        NULL};
    for (int i = 0; kw[i]; i++) /* the first letter first: most words are no keyword */
        if (w[0] == kw[i][0] && strcmp(w, kw[i]) == 0)
            return 1;
    return 0;
}

#define MAX_NAMES 16
struct names {
    char v[MAX_NAMES][128];
    int n;
};

static void names_add(struct names *ns, const char *s)
{
    for (int i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i], s) == 0)
            return;
    if (ns->n < MAX_NAMES) {
        size_t n = strnlen(s, sizeof ns->v[0] - 1);
        memcpy(ns->v[ns->n], s, n);
        ns->v[ns->n++][n] = '\0';
    }
}

static int names_has(const struct names *ns, const char *s)
{
    for (int i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i], s) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Reads a possibly qualified name starting at token t; fills name; returns the position
 * after it with t holding the following token. */
/* Appends s to name (len bytes so far, n bytes in all), truncating. */
static size_t name_append(char *name, size_t len, size_t n, const char *s)
{
    size_t k = strlen(s);
    if (len + k > n - 1)
        k = len < n - 1 ? n - 1 - len : 0;
    memcpy(name + len, s, k);
    name[len + k] = '\0';
    return len + k;
}

/* Reads a possibly qualified name starting at token t; fills name; returns the position
 * after it with t holding the following token. */
static const char *read_name(const char *p, struct tok *t, char *name, size_t n)
{
    size_t len = 0;
    name[0] = '\0';
    for (;;) {
        len = name_append(name, len, n, t->text);
        p = next_tok(p, t);
        if (t->type == T_PUNCT && t->text[0] == '.') {
            p = next_tok(p, t);
            if (t->type != T_WORD && t->type != T_NAME)
                break;
            len = name_append(name, len, n, ".");
            continue;
        }
        break;
    }
    return p;
}

static void extract_tables(const char *sql, char *out, size_t outsize)
{
    struct names tables = {0}, ctes = {0};
    struct tok t, prev = {T_END, ""}, prev2 = {T_END, ""};
    char fnstack[64][16]; /* the function word that opened each parenthesis */
    int depth = 0;
    const char *p = sql;

    /* Pass 1: CTE names ("name AS (", "name AS [NOT] MATERIALIZED ("), only after a WITH. */
    for (p = next_tok(find_ci(sql, "with") != NULL ? sql : "", &t); t.type != T_END;) {
        if ((t.type == T_WORD || t.type == T_NAME) && !is_clause_word(t.text)) {
            char name[128];
            name_append(name, 0, sizeof name, t.text);
            const char *q = next_tok(p, &t);
            if (t.type == T_WORD && strcmp(t.text, "as") == 0) {
                struct tok u;
                const char *r = next_tok(q, &u);
                while (u.type == T_WORD &&
                       (strcmp(u.text, "not") == 0 || strcmp(u.text, "materialized") == 0))
                    r = next_tok(r, &u);
                if (u.type == T_PUNCT && u.text[0] == '(')
                    names_add(&ctes, name);
            }
            p = q;
            continue;
        }
        p = next_tok(p, &t);
    }

    /* Pass 2: FROM / JOIN. */
    p = sql;
    for (p = next_tok(p, &t); t.type != T_END;) {
        if (t.type == T_PUNCT && t.text[0] == '(') {
            if (depth < 64)
                name_append(fnstack[depth], 0, sizeof fnstack[0],
                            prev.type == T_WORD ? prev.text : "");
            depth++;
        } else if (t.type == T_PUNCT && t.text[0] == ')') {
            if (depth > 0)
                depth--;
        }
        int from = t.type == T_WORD && strcmp(t.text, "from") == 0;
        int join = t.type == T_WORD && strcmp(t.text, "join") == 0;
        if (from && depth > 0 && depth <= 64) {
            const char *fn = fnstack[depth - 1];
            if (strcmp(fn, "extract") == 0 || strcmp(fn, "substring") == 0 ||
                strcmp(fn, "trim") == 0 || strcmp(fn, "overlay") == 0 ||
                strcmp(fn, "position") == 0)
                from = 0;
        }
        if (from && prev.type == T_WORD && strcmp(prev.text, "distinct") == 0 &&
            prev2.type == T_WORD && strcmp(prev2.text, "is") == 0)
            from = 0;
        if (from && prev.type == T_WORD && strcmp(prev.text, "delete") == 0)
            from = 1;
        if (!from && !join) {
            prev2 = prev;
            prev = t;
            p = next_tok(p, &t);
            continue;
        }
        /* a list of table references: name [AS alias] [, name ...] */
        p = next_tok(p, &t);
        for (;;) {
            while (t.type == T_WORD &&
                   (strcmp(t.text, "only") == 0 || strcmp(t.text, "lateral") == 0))
                p = next_tok(p, &t);
            if (!(t.type == T_NAME || (t.type == T_WORD && !is_clause_word(t.text))))
                break;
            char name[128];
            p = read_name(p, &t, name, sizeof name);
            int is_fn = t.type == T_PUNCT && t.text[0] == '(';
            if (!is_fn && !names_has(&ctes, name))
                names_add(&tables, name);
            if (is_fn)
                break;
            if (t.type == T_WORD && strcmp(t.text, "as") == 0)
                p = next_tok(p, &t);
            if ((t.type == T_WORD && !is_clause_word(t.text)) || t.type == T_NAME)
                p = next_tok(p, &t); /* alias */
            if (!(from && t.type == T_PUNCT && t.text[0] == ','))
                break;
            p = next_tok(p, &t);
        }
        prev2.type = prev.type = T_END;
    }

    qsort(tables.v, (size_t)tables.n, sizeof tables.v[0], cmp_str);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < tables.n && len < outsize; i++)
        len += (size_t)snprintf(out + len, outsize - len, "%s%s", i ? "," : "", tables.v[i]);
    if (len >= outsize && outsize > 0)
        out[outsize - 1] = '\0';
}

enum tq_pglog_sql_kind tq_pglog_sql_query_tile(const char *sql, double buffer, uint32_t metatile,
                                               struct tq_metatile *out, char *tables,
                                               size_t tablessize)
{
    struct tq_bbox b;
    return tq_pglog_sql_query_tile_bbox(sql, buffer, metatile, out, tables, tablessize, &b);
}

enum tq_pglog_sql_kind tq_pglog_sql_query_tile_bbox(const char *sql, double buffer,
                                                    uint32_t metatile, struct tq_metatile *out,
                                                    char *tables, size_t tablessize,
                                                    struct tq_bbox *bbox)
{
    enum tq_pglog_sql_kind k = find_tile(sql, buffer, metatile, out, bbox);
    if (tables != NULL && tablessize > 0) {
        tables[0] = '\0';
        if (k != TQ_PGLOG_SQL_NONE)
            extract_tables(sql, tables, tablessize);
    }
    return k;
}

/* Bytes of w in '0'..'9'? (XOR maps them, and only them, to 0..9; then "a byte < 10",
 * exact for whether there is one.) */
static int word_has_digit(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t x = w ^ (ones * '0');
    return ((x - ones * 10) & ~x & (ones * 0x80)) != 0;
}

uint64_t tq_pglog_sql_shape(const char *sql)
{
    /* FNV-style, 8 bytes at a time where there is no digit (a byte at a time costs a
     * multiply per byte of a 1 KB query: a tenth of the parser's time). Words are taken
     * from where the text after a number starts, so queries that differ only in their
     * numbers (of any length) hash alike. */
    const uint64_t prime = 1099511628211ull;
    uint64_t h = 1469598103934665603ull;
    const unsigned char *c = (const unsigned char *)sql, *end = c + strlen(sql);
    unsigned char prev = 0;
    while (c < end) {
        if (end - c >= 8) {
            uint64_t w;
            memcpy(&w, c, sizeof w);
            if (!word_has_digit(w)) {
                h = (h ^ w) * prime;
                h ^= h >> 32; /* the high bytes reach the low bits too */
                prev = c[7];
                c += 8;
                continue;
            }
        }
        if (*c >= '0' && *c <= '9' && !(isalnum(prev) || prev == '_' || prev == '$')) {
            while (c < end && ((*c >= '0' && *c <= '9') || *c == '.'))
                c++;
            h = (h ^ '#') * prime; /* a number */
            prev = '#';
            continue;
        }
        h = (h ^ *c) * prime;
        prev = *c++;
    }
    h ^= h >> 33; /* the cache's slot is h's low bits */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

#define MAX_PARAMS 256 /* $1..$256; higher numbers are left as they are */

char *tq_pglog_sql_substitute(const char *sql, const char *detail, size_t max, int *cut)
{
    const char *val[MAX_PARAMS] = {0};
    size_t vlen[MAX_PARAMS] = {0};
    struct tq_buf vals = TQ_BUF_INIT, out = TQ_BUF_INIT;
    size_t offs[MAX_PARAMS];
    int isnull[MAX_PARAMS] = {0};
    const char *p = detail + strlen("parameters:");
    char *result = NULL;

    for (;;) {
        p = skip_ws(p);
        if (*p != '$')
            break;
        char *end;
        long n = strtol(p + 1, &end, 10);
        p = skip_ws(end);
        if (*p != '=' || n < 1 || n > MAX_PARAMS)
            break;
        p = skip_ws(p + 1);
        size_t start = vals.len;
        if (strncmp(p, "NULL", 4) == 0) {
            isnull[n - 1] = 1;
            p += 4;
        } else if (*p == '\'') {
            p++;
            while (*p && !(p[0] == '\'' && p[1] != '\'')) {
                if (p[0] == '\'')
                    p++;
                if (tq_buf_append(&vals, p, 1) != 0)
                    goto cleanup;
                p++;
            }
            if (*p == '\'')
                p++;
        } else {
            break;
        }
        if (tq_buf_append(&vals, "", 0) != 0)
            goto cleanup;
        offs[n - 1] = start;
        vlen[n - 1] = vals.len - start;
        val[n - 1] = "";
        if (tq_buf_append(&vals, "\0", 1) != 0) /* separator */
            goto cleanup;
        p = skip_ws(p);
        if (*p == ',')
            p++;
        else
            break;
    }
    for (int i = 0; i < MAX_PARAMS; i++)
        if (val[i] != NULL)
            val[i] = vals.data + offs[i];

    if (tq_buf_append(&out, "", 0) != 0)
        goto cleanup;
    for (const char *s = sql; *s;) {
        if (out.len >= max) {
            *cut = 1;
            break;
        }
        if (*s == '\'') { /* copy a literal verbatim */
            const char *e = s + 1;
            while (*e && !(e[0] == '\'' && e[1] != '\''))
                e += e[0] == '\'' ? 2 : 1;
            if (*e)
                e++;
            if (tq_buf_append(&out, s, (size_t)(e - s)) != 0)
                goto cleanup;
            s = e;
            continue;
        }
        if (*s == '$' && isdigit((unsigned char)s[1]) &&
            (s == sql || !(isalnum((unsigned char)s[-1]) || s[-1] == '_'))) {
            char *end;
            long n = strtol(s + 1, &end, 10);
            if (n >= 1 && n <= MAX_PARAMS && val[n - 1] != NULL) {
                const char *v = val[n - 1];
                char *nend;
                int numeric = vlen[n - 1] > 0;
                if (numeric) {
                    strtod(v, &nend);
                    numeric = *nend == '\0' && nend != v;
                }
                int rc;
                if (isnull[n - 1]) {
                    rc = tq_buf_append(&out, "NULL", 4);
                } else if (numeric) {
                    rc = tq_buf_append(&out, v, vlen[n - 1]);
                } else { /* quoted, its quotes doubled: runs between quotes at once */
                    rc = tq_buf_append(&out, "'", 1);
                    for (const char *c = v; *c && rc == 0 && out.len < max;) {
                        size_t k = strcspn(c, "'");
                        rc = tq_buf_append(&out, c, k);
                        c += k;
                        if (*c == '\'' && rc == 0) {
                            rc = tq_buf_append(&out, "''", 2);
                            c++;
                        }
                    }
                    rc = rc || tq_buf_append(&out, "'", 1);
                }
                if (rc != 0)
                    goto cleanup;
                s = end;
                continue;
            }
        }
        /* this character and the run up to the next literal or parameter, at once */
        size_t n = 1 + strcspn(s + 1, "'$");
        if (tq_buf_append(&out, s, n) != 0)
            goto cleanup;
        s += n;
    }
    if (out.len > max) { /* the last piece went past: cut back to max */
        char *r = tq_buf_take(&out, NULL);
        if (r != NULL)
            r[max] = '\0';
        *cut = 1;
        result = r;
        goto cleanup;
    }
    result = tq_buf_take(&out, NULL);
cleanup:
    tq_buf_free(&vals);
    tq_buf_free(&out);
    return result;
}

/* tq_pglog — see tq_pglog.h.
 *
 * Pipeline, all streaming:
 *   file (zlib) ─read_line─▶ line ─per format─▶ log entry (time, pid, user, db, severity,
 *   body) ─handle_entry, per-pid state (parse/bind time, pending statement waiting for its
 *   DETAIL parameters)─▶ finished statement ─finalize─▶ render (a metatile) ─next─▶ one
 *   record per tile. */
#include "tq_pglog.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

/* ---------------------------------------------------------------- small helpers */

struct buf {
    char *p;
    size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (np == NULL)
            return -1;
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

static const char *skip_ws(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

static void copy_str(char *dst, size_t n, const char *s, size_t len)
{
    if (len >= n)
        len = n - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

/* ---------------------------------------------------------------- bounds → tiles */

int tq_pglog_bbox_to_metatile(const struct tq_bbox *b, double buffer, uint32_t metatile,
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

/* The first envelope that can be read wins, looking for ST_TileEnvelope first, then
 * ST_MakeEnvelope, then BOX3D (a query may hold several, some with column arguments, such
 * as tileq's own metatile query: ST_TileEnvelope($1, tx, ty) and ST_MakeEnvelope of the
 * metatile). */
static enum tq_pglog_tile_kind find_tile(const char *sql, double buffer, uint32_t metatile,
                                         struct tq_metatile *out)
{
    static const char *const fn[] = {"st_tileenvelope(", "st_makeenvelope(", "box3d("};
    int seen = 0;
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(fn[k]);
        for (const char *p = find_ci(sql, fn[k]); p != NULL; p = find_ci(p + n, fn[k])) {
            struct tq_bbox b;
            int rc;
            seen = 1;
            if (k == 0) {
                if (tile_envelope_at(p + n, out) == 0)
                    return TQ_PGLOG_TILE;
                continue;
            }
            rc = k == 1 ? make_envelope_at(p + n, &b) : box3d_at(p + n, &b);
            if (rc == 0)
                return tq_pglog_bbox_to_metatile(&b, buffer, metatile, out) == 0 ? TQ_PGLOG_TILE
                                                                                 : TQ_PGLOG_OFFGRID;
        }
    }
    return seen ? TQ_PGLOG_OFFGRID : TQ_PGLOG_NONE;
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
    for (int i = 0; kw[i]; i++)
        if (strcmp(w, kw[i]) == 0)
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
    if (ns->n < MAX_NAMES)
        snprintf(ns->v[ns->n++], sizeof ns->v[0], "%s", s);
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
static const char *read_name(const char *p, struct tok *t, char *name, size_t n)
{
    size_t len = 0;
    name[0] = '\0';
    for (;;) {
        len += (size_t)snprintf(name + len, len < n ? n - len : 0, "%s", t->text);
        if (len >= n)
            len = n - 1;
        p = next_tok(p, t);
        if (t->type == T_PUNCT && t->text[0] == '.') {
            p = next_tok(p, t);
            if (t->type != T_WORD && t->type != T_NAME)
                break;
            len += (size_t)snprintf(name + len, len < n ? n - len : 0, ".");
            if (len >= n)
                len = n - 1;
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

    /* Pass 1: CTE names ("name AS (", "name AS [NOT] MATERIALIZED ("). */
    for (p = next_tok(p, &t); t.type != T_END;) {
        if ((t.type == T_WORD || t.type == T_NAME) && !is_clause_word(t.text)) {
            char name[128];
            snprintf(name, sizeof name, "%s", t.text);
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
                snprintf(fnstack[depth], sizeof fnstack[0], "%.15s",
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

enum tq_pglog_tile_kind tq_pglog_query_tile(const char *sql, double buffer, uint32_t metatile,
                                            struct tq_metatile *out, char *tables,
                                            size_t tablessize)
{
    enum tq_pglog_tile_kind k = find_tile(sql, buffer, metatile, out);
    if (tables != NULL && tablessize > 0) {
        tables[0] = '\0';
        if (k != TQ_PGLOG_NONE)
            extract_tables(sql, tables, tablessize);
    }
    return k;
}

/* Replaces $n in sql by the values of a "parameters: $1 = '12', $2 = NULL" detail, outside
 * string literals. Numbers are substituted bare, anything else as a quoted literal. Returns
 * a malloc'd string, or NULL on OOM. */
#define MAX_PARAMS 256
static char *substitute_params(const char *sql, const char *detail)
{
    const char *val[MAX_PARAMS] = {0};
    size_t vlen[MAX_PARAMS] = {0};
    struct buf vals = {0}, out = {0};
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
                if (buf_add(&vals, p, 1) != 0)
                    goto cleanup;
                p++;
            }
            if (*p == '\'')
                p++;
        } else {
            break;
        }
        if (buf_add(&vals, "", 0) != 0)
            goto cleanup;
        offs[n - 1] = start;
        vlen[n - 1] = vals.len - start;
        val[n - 1] = "";
        if (buf_add(&vals, "\0", 1) != 0) /* separator */
            goto cleanup;
        p = skip_ws(p);
        if (*p == ',')
            p++;
        else
            break;
    }
    for (int i = 0; i < MAX_PARAMS; i++)
        if (val[i] != NULL)
            val[i] = vals.p + offs[i];

    if (buf_add(&out, "", 0) != 0)
        goto cleanup;
    for (const char *s = sql; *s;) {
        if (*s == '\'') { /* copy a literal verbatim */
            const char *e = s + 1;
            while (*e && !(e[0] == '\'' && e[1] != '\''))
                e += e[0] == '\'' ? 2 : 1;
            if (*e)
                e++;
            if (buf_add(&out, s, (size_t)(e - s)) != 0)
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
                if (isnull[n - 1])
                    rc = buf_add(&out, "NULL", 4);
                else if (numeric)
                    rc = buf_add(&out, v, vlen[n - 1]);
                else {
                    rc = buf_add(&out, "'", 1);
                    for (const char *c = v; *c && rc == 0; c++)
                        rc = buf_add(&out, c, 1) || (*c == '\'' && buf_add(&out, "'", 1));
                    rc = rc || buf_add(&out, "'", 1);
                }
                if (rc != 0)
                    goto cleanup;
                s = end;
                continue;
            }
        }
        if (buf_add(&out, s, 1) != 0)
            goto cleanup;
        s++;
    }
    result = out.p;
    out.p = NULL;
cleanup:
    buf_free(&vals);
    buf_free(&out);
    return result;
}

/* ---------------------------------------------------------------- the reader */

enum fmt { F_UNKNOWN = 0, F_STDERR, F_CSV, F_SYSLOG };
enum sev { S_OTHER = 0, S_LOG, S_DETAIL };

struct entry {
    int64_t time_ms; /* TQ_TIME_UNSET when the prefix has none */
    long pid;        /* -1 unknown */
    char user[64], db[64];
    enum sev sev;
    const char *body;
};

struct pidstate {
    int used;
    long pid;
    uint64_t last_use;
    double pre_ms; /* parse/bind time waiting for its execute */
    char *stmt;    /* log_statement mode: statement waiting for its bare duration */
    char stmt_kind[16];
    int64_t stmt_time;
    /* a finished statement waiting for a possible DETAIL */
    int pending;
    char *query, *params;
    double dur_ms;
    int64_t time_ms;
    char user[64], db[64], kind[16];
};

struct render {
    struct render *next;
    char db[64], user[64], kind[16];
    char *tables;
    struct tq_metatile m;
    uint32_t n, i;
    int64_t started_ms;
    double total_ms;
};

struct slmsg { /* an open syslog message */
    int used;
    long pid, seq;
    uint64_t last_use;
    int64_t header_ms;
    struct buf text;
};

struct tq_pglog {
    struct tq_pglog_options opt;
    const char *const *files;
    size_t nfiles, fi;
    gzFile gz;
    int done;
    char in[65536];
    size_t inpos, inlen;
    int in_eof, line_cut;
    struct buf line;

    enum fmt fmt;
    int digit_prefix; /* stderr: -1 unknown, 1 messages start with a digit (a timestamp) */
    struct buf cur;   /* stderr: the current message */
    int have_cur;
    struct buf csv; /* csv: the current record's fields, NUL-separated */
    size_t csv_off[32];
    int csv_nf, csv_inq, csv_active;
    struct slmsg *sl;
    struct pidstate *ps;
    uint64_t tick;

    struct render *head, *tail, *emitting;
    struct tq_report_input st;
};

struct tq_pglog *tq_pglog_open(const char *const *files, size_t nfiles,
                               const struct tq_pglog_options *opts)
{
    struct tq_pglog *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->opt.buffer = TQ_PGLOG_DEFAULT_BUFFER;
    p->opt.metatile = 1;
    if (opts != NULL)
        p->opt = *opts;
    if (p->opt.metatile < 1)
        p->opt.metatile = 1;
    p->files = files;
    p->nfiles = nfiles;
    p->ps = calloc(TQ_PGLOG_MAX_PIDS, sizeof *p->ps);
    p->sl = calloc(TQ_PGLOG_MAX_PIDS, sizeof *p->sl);
    if (p->ps == NULL || p->sl == NULL) {
        tq_pglog_close(p);
        return NULL;
    }
    return p;
}

static void pid_clear(struct pidstate *s)
{
    free(s->stmt);
    free(s->query);
    free(s->params);
    memset(s, 0, sizeof *s);
}

static void render_free(struct render *r)
{
    if (r) {
        free(r->tables);
        free(r);
    }
}

void tq_pglog_close(struct tq_pglog *p)
{
    if (p == NULL)
        return;
    if (p->gz)
        gzclose(p->gz);
    buf_free(&p->line);
    buf_free(&p->cur);
    buf_free(&p->csv);
    if (p->ps)
        for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++)
            pid_clear(&p->ps[i]);
    if (p->sl)
        for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++)
            buf_free(&p->sl[i].text);
    free(p->ps);
    free(p->sl);
    render_free(p->emitting);
    while (p->head) {
        struct render *n = p->head->next;
        render_free(p->head);
        p->head = n;
    }
    free(p);
}

void tq_pglog_stats(const struct tq_pglog *p, struct tq_report_input *out)
{
    *out = p->st;
    out->present = 1;
}

/* Turns a finished statement into a render (or counts it as skipped / off-grid). */
static void finalize(struct tq_pglog *p, struct pidstate *s)
{
    char tables[512];
    struct tq_metatile m;
    char *sql = s->query;
    char *subst = NULL;

    if (!s->pending)
        return;
    s->pending = 0;
    if (s->params != NULL && (subst = substitute_params(s->query, s->params)) != NULL)
        sql = subst;
    enum tq_pglog_tile_kind k =
        tq_pglog_query_tile(sql, p->opt.buffer, p->opt.metatile, &m, tables, sizeof tables);
    if (k == TQ_PGLOG_NONE) {
        p->st.skipped++;
    } else if (k == TQ_PGLOG_OFFGRID) {
        p->st.unresolved++;
    } else {
        struct render *r = calloc(1, sizeof *r);
        if (r != NULL && (r->tables = strdup(tables)) != NULL) {
            snprintf(r->db, sizeof r->db, "%s", s->db);
            snprintf(r->user, sizeof r->user, "%s", s->user);
            snprintf(r->kind, sizeof r->kind, "%s", s->kind);
            r->m = m;
            r->n = m.w * m.h;
            r->total_ms = s->dur_ms;
            double start = (double)s->time_ms - s->dur_ms; /* no int64 overflow */
            r->started_ms = s->time_ms == TQ_TIME_UNSET || !(fabs(start) < 9e18)
                                ? TQ_TIME_UNSET
                                : (int64_t)llround(start);
            if (p->tail)
                p->tail->next = r;
            else
                p->head = r;
            p->tail = r;
            p->st.render_queries++;
        } else {
            free(r);
            p->st.malformed++;
        }
    }
    free(subst);
    free(s->query);
    free(s->params);
    s->query = s->params = NULL;
}

static struct pidstate *pid_state(struct tq_pglog *p, long pid)
{
    struct pidstate *free_slot = NULL, *oldest = NULL;
    size_t h = (size_t)((unsigned long)pid * 2654435761u) % TQ_PGLOG_MAX_PIDS;
    for (size_t i = 0; i < TQ_PGLOG_MAX_PIDS; i++) {
        struct pidstate *s = &p->ps[(h + i) % TQ_PGLOG_MAX_PIDS];
        if (s->used && s->pid == pid) {
            s->last_use = ++p->tick;
            return s;
        }
        if (!s->used) {
            free_slot = s;
            break;
        }
        if (oldest == NULL || s->last_use < oldest->last_use)
            oldest = s;
    }
    if (free_slot == NULL) { /* full: finish the least recently used backend */
        finalize(p, oldest);
        pid_clear(oldest);
        free_slot = oldest;
    }
    free_slot->used = 1;
    free_slot->pid = pid;
    free_slot->last_use = ++p->tick;
    return free_slot;
}

static void set_pending(struct pidstate *s, const struct entry *e, const char *query, double dur,
                        const char *kind)
{
    s->query = strdup(query);
    if (s->query == NULL)
        return;
    s->pending = 1;
    s->dur_ms = dur;
    s->time_ms = e->time_ms;
    snprintf(s->user, sizeof s->user, "%s", e->user);
    snprintf(s->db, sizeof s->db, "%s", e->db);
    snprintf(s->kind, sizeof s->kind, "%s", kind);
}

/* "execute S_1: SELECT" / "parse <unnamed>: SELECT" → the text after the name's ": ". */
static const char *after_name(const char *s)
{
    const char *c = strstr(s, ": ");
    return c ? c + 2 : NULL;
}

static void handle_entry(struct tq_pglog *p, const struct entry *e)
{
    struct pidstate *s = pid_state(p, e->pid);
    const char *b = e->body;

    if (e->sev == S_DETAIL) {
        int params = strncmp(b, "parameters:", 11) == 0;
        if (s->pending && params && s->params == NULL)
            s->params = strdup(b);
        else if (!s->pending && !params) /* a bind's parameters belong to its execute */
            p->st.skipped++;
        return;
    }
    finalize(p, s); /* anything else from this backend ends the statement before it */
    if (e->sev != S_LOG) {
        p->st.skipped++;
        return;
    }
    if (strncmp(b, "duration: ", 10) == 0) {
        char *end;
        double dur = strtod(b + 10, &end);
        /* PostgreSQL never logs a negative one; over 10^12 ms (31 years) is not a duration */
        if (end == b + 10 || !(dur >= 0 && dur <= 1e12) || strncmp(end, " ms", 3) != 0) {
            p->st.malformed++;
            return;
        }
        const char *rest = skip_ws(end + 3);
        const char *q;
        if (*rest == '\0') { /* log_duration: a bare duration */
            if (s->stmt != NULL) {
                struct entry e2 = *e;
                if (e2.time_ms == TQ_TIME_UNSET)
                    e2.time_ms = s->stmt_time;
                set_pending(s, &e2, s->stmt, dur + s->pre_ms, s->stmt_kind);
                free(s->stmt);
                s->stmt = NULL;
                s->pre_ms = 0;
            } else {
                s->pre_ms += dur;
            }
        } else if (strncmp(rest, "statement: ", 11) == 0) {
            set_pending(s, e, rest + 11, dur, "statement");
            s->pre_ms = 0;
        } else if (strncmp(rest, "parse ", 6) == 0 || strncmp(rest, "bind ", 5) == 0) {
            s->pre_ms += dur;
        } else if (strncmp(rest, "execute ", 8) == 0 && (q = after_name(rest)) != NULL) {
            set_pending(s, e, q, dur + s->pre_ms, "execute");
            s->pre_ms = 0;
        } else {
            p->st.skipped++;
        }
        return;
    }
    const char *q = NULL;
    const char *kind = NULL;
    if (strncmp(b, "statement: ", 11) == 0) {
        q = b + 11;
        kind = "statement";
    } else if (strncmp(b, "execute ", 8) == 0 && (q = after_name(b)) != NULL) {
        kind = "execute";
    }
    if (q != NULL) {
        free(s->stmt);
        s->stmt = strdup(q);
        s->stmt_time = e->time_ms;
        snprintf(s->stmt_kind, sizeof s->stmt_kind, "%s", kind);
        return;
    }
    p->st.skipped++;
}

/* --- prefixes */

static const char *const SEVERITIES[] = {"LOG",     "DETAIL",  "ERROR",    "STATEMENT", "HINT",
                                         "CONTEXT", "WARNING", "NOTICE",   "FATAL",     "PANIC",
                                         "INFO",    "QUERY",   "LOCATION", "DEBUG1",    "DEBUG2",
                                         "DEBUG3",  "DEBUG4",  "DEBUG5",   NULL};

/* Finds "SEVERITY:  " in the first 1 KB of a message line. Sets *sev and *body. */
static const char *find_severity(const char *line, enum sev *sev, const char **body)
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
    *sev = besti == 0 ? S_LOG : besti == 1 ? S_DETAIL : S_OTHER;
    *body = best + strlen(SEVERITIES[besti]) + 3;
    return best;
}

/* "2024-05-01 10:00:00.123 UTC" (zone optional; unknown zone names read as UTC) or epoch
 * seconds "1714557600.123" at the start of s. */
static int parse_log_time(const char *s, size_t maxlen, int64_t *out)
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

static void parse_user_db(const char *prefix, size_t n, struct entry *e)
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

/* Parses a message that starts with a log_line_prefix. 0, or -1 without a severity. */
static int parse_prefixed(const char *text, struct entry *e)
{
    enum sev sev;
    const char *body;
    const char *sp = find_severity(text, &sev, &body);
    if (sp == NULL)
        return -1;
    size_t plen = (size_t)(sp - text);
    e->sev = sev;
    e->body = body;
    int64_t t;
    if (parse_log_time(text, plen, &t) == 0)
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

static void entry_init(struct entry *e)
{
    memset(e, 0, sizeof *e);
    e->time_ms = TQ_TIME_UNSET;
    e->pid = -1;
}

/* --- stderr */

static void stderr_finish(struct tq_pglog *p)
{
    if (!p->have_cur)
        return;
    p->have_cur = 0;
    struct entry e;
    entry_init(&e);
    if (parse_prefixed(p->cur.p, &e) != 0) {
        p->st.malformed++;
        return;
    }
    p->st.entries++;
    handle_entry(p, &e);
}

static void stderr_line(struct tq_pglog *p, const char *line)
{
    enum sev sev;
    const char *body;
    int starts = !isspace((unsigned char)line[0]) && line[0] != '\0' &&
                 find_severity(line, &sev, &body) != NULL;
    if (starts && p->digit_prefix == 1 && !isdigit((unsigned char)line[0]))
        starts = 0;
    if (starts) {
        stderr_finish(p);
        if (p->digit_prefix < 0)
            p->digit_prefix = isdigit((unsigned char)line[0]) ? 1 : 0;
        buf_reset(&p->cur);
        if (buf_add(&p->cur, line, strlen(line)) != 0) {
            p->st.malformed++;
            return;
        }
        p->have_cur = 1;
    } else if (p->have_cur) {
        if (buf_add(&p->cur, "\n", 1) != 0 || buf_add(&p->cur, line, strlen(line)) != 0)
            p->st.malformed++;
    } else if (line[0] != '\0') {
        p->st.malformed++; /* a continuation with no message before it */
    }
}

/* --- csvlog */

static const char *csv_field(const struct tq_pglog *p, int i)
{
    return i < p->csv_nf ? p->csv.p + p->csv_off[i] : "";
}

static void csv_record(struct tq_pglog *p)
{
    /* log_time,user,db,pid,conn,session,line,tag,session_start,vxid,xid,severity,state,
     * message,detail,... */
    if (p->csv_nf < 15) {
        p->st.malformed++;
        return;
    }
    struct entry e;
    entry_init(&e);
    int64_t t;
    const char *ts = csv_field(p, 0);
    if (parse_log_time(ts, strlen(ts), &t) == 0)
        e.time_ms = t;
    copy_str(e.user, sizeof e.user, csv_field(p, 1), strlen(csv_field(p, 1)));
    copy_str(e.db, sizeof e.db, csv_field(p, 2), strlen(csv_field(p, 2)));
    e.pid = strtol(csv_field(p, 3), NULL, 10);
    const char *sev = csv_field(p, 11);
    e.sev = strcmp(sev, "LOG") == 0 ? S_LOG : strcmp(sev, "DETAIL") == 0 ? S_DETAIL : S_OTHER;
    e.body = csv_field(p, 13);
    p->st.entries++;
    handle_entry(p, &e);
    const char *detail = csv_field(p, 14);
    if (*detail && e.sev == S_LOG) {
        e.sev = S_DETAIL;
        e.body = detail;
        struct pidstate *s = pid_state(p, e.pid);
        if (s->pending) /* the detail belongs to this entry, not a separate one */
            handle_entry(p, &e);
    }
}

static void csv_line(struct tq_pglog *p, const char *line)
{
    if (!p->csv_active) {
        buf_reset(&p->csv);
        p->csv_nf = 0;
        p->csv_inq = 0;
        p->csv_active = 1;
        p->csv_off[p->csv_nf++] = 0;
        if (buf_add(&p->csv, "", 0) != 0)
            goto fail;
    } else if (buf_add(&p->csv, "\n", 1) != 0) { /* a newline inside a quoted field */
        goto fail;
    }
    for (const char *c = line; *c; c++) {
        if (p->csv_inq) {
            if (*c == '"') {
                if (c[1] == '"') {
                    c++;
                    if (buf_add(&p->csv, "\"", 1) != 0)
                        goto fail;
                } else {
                    p->csv_inq = 0;
                }
            } else if (buf_add(&p->csv, c, 1) != 0) {
                goto fail;
            }
        } else if (*c == '"') {
            p->csv_inq = 1;
        } else if (*c == ',') {
            if (buf_add(&p->csv, "\0", 1) != 0)
                goto fail;
            if (p->csv_nf < 32)
                p->csv_off[p->csv_nf++] = p->csv.len;
            else
                p->csv_off[31] = p->csv.len; /* extra fields: folded into the last */
        } else if (buf_add(&p->csv, c, 1) != 0) {
            goto fail;
        }
    }
    if (p->csv_inq)
        return; /* the record goes on in the next line */
    p->csv_active = 0;
    csv_record(p);
    return;
fail:
    p->csv_active = 0;
    p->st.malformed++;
}

/* --- syslog */

/* "... ident[pid]: [seq-part] text": 0 and fields set, or -1. */
static int syslog_parse(const char *line, long *pid, long *seq, long *part, const char **text)
{
    for (const char *q = strstr(line, "]: ["); q != NULL; q = strstr(q + 1, "]: [")) {
        const char *d = q;
        while (d > line && isdigit((unsigned char)d[-1]))
            d--;
        if (d == q || d == line || d[-1] != '[')
            continue;
        char *end;
        const char *s = q + 4;
        if (!isdigit((unsigned char)*s))
            continue;
        *seq = strtol(s, &end, 10);
        if (*end != '-' || !isdigit((unsigned char)end[1]))
            continue;
        *part = strtol(end + 1, &end, 10);
        if (*end != ']')
            continue;
        *pid = strtol(d, NULL, 10);
        *text = end[1] == ' ' ? end + 2 : end + 1;
        return 0;
    }
    return -1;
}

/* The syslog header's time: RFC 3339 or "Mon DD HH:MM:SS" (this year). */
static int64_t syslog_time(const char *line)
{
    int64_t t;
    if (isdigit((unsigned char)line[0])) {
        char tmp[40];
        copy_str(tmp, sizeof tmp, line, strcspn(line, " "));
        return tq_report_time_parse(tmp, 0, &t) == 0 ? t : TQ_TIME_UNSET;
    }
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *m =
        strlen(line) >= 15 ? strstr(months, (char[4]){line[0], line[1], line[2], 0}) : NULL;
    if (m == NULL || (m - months) % 3 != 0)
        return TQ_TIME_UNSET;
    struct tm tm = {0};
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    int day, h, mi, s;
    if (sscanf(line + 4, "%d %d:%d:%d", &day, &h, &mi, &s) != 4)
        return TQ_TIME_UNSET;
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_mday = day;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * 1000;
}

/* rsyslog writes control characters as #ooo (a tab is #011). */
static int syslog_decode(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (s[0] == '#' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            int v = (s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0');
            if (v < 32 || v == 127) {
                char c = (char)v;
                if (buf_add(b, &c, 1) != 0)
                    return -1;
                s += 3;
                continue;
            }
        }
        if (buf_add(b, s, 1) != 0)
            return -1;
    }
    return 0;
}

static void syslog_finish(struct tq_pglog *p, struct slmsg *m)
{
    if (!m->used)
        return;
    m->used = 0;
    struct entry e;
    entry_init(&e);
    if (parse_prefixed(m->text.p ? m->text.p : "", &e) != 0) {
        p->st.skipped++; /* e.g. a message with no severity */
        p->st.entries++;
        return;
    }
    if (e.time_ms == TQ_TIME_UNSET)
        e.time_ms = m->header_ms;
    e.pid = m->pid;
    p->st.entries++;
    handle_entry(p, &e);
}

static void syslog_line(struct tq_pglog *p, const char *line)
{
    long pid, seq, part;
    const char *text;
    if (syslog_parse(line, &pid, &seq, &part, &text) != 0) {
        if (*line)
            p->st.skipped++; /* another program's line */
        return;
    }
    size_t h = (size_t)((unsigned long)pid * 2654435761u) % TQ_PGLOG_MAX_PIDS;
    struct slmsg *m = NULL, *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < TQ_PGLOG_MAX_PIDS; i++) {
        struct slmsg *s = &p->sl[(h + i) % TQ_PGLOG_MAX_PIDS];
        if (s->used && s->pid == pid) {
            m = s;
            break;
        }
        if (!s->used && free_slot == NULL)
            free_slot = s;
        if (s->used && (oldest == NULL || s->last_use < oldest->last_use))
            oldest = s;
        if (!s->used)
            break;
    }
    if (m != NULL && (part == 1 || m->seq != seq)) {
        syslog_finish(p, m); /* a new message from this backend */
        free_slot = m;
        m = NULL;
    }
    if (m == NULL) {
        if (part != 1) {
            p->st.malformed++; /* a continuation whose first line we never saw */
            return;
        }
        if (free_slot == NULL) {
            syslog_finish(p, oldest);
            free_slot = oldest;
        }
        m = free_slot;
        m->used = 1;
        m->pid = pid;
        m->seq = seq;
        m->header_ms = syslog_time(line);
        buf_reset(&m->text);
        if (buf_add(&m->text, "", 0) != 0)
            goto fail;
    } else if (buf_add(&m->text, "\n", 1) != 0) {
        goto fail;
    }
    m->last_use = ++p->tick;
    if (syslog_decode(&m->text, text) != 0)
        goto fail;
    return;
fail:
    m->used = 0;
    p->st.malformed++;
}

/* --- files */

static enum fmt detect(const char *line)
{
    long pid, seq, part;
    const char *text;
    if (syslog_parse(line, &pid, &seq, &part, &text) == 0)
        return F_SYSLOG;
    /* csvlog: "YYYY-MM-DD HH:MM:SS[.fff] ZONE," */
    if (strlen(line) > 20 && isdigit((unsigned char)line[0]) && line[4] == '-' && line[10] == ' ' &&
        line[13] == ':') {
        const char *c = line + 19;
        if (*c == '.')
            c += 1 + strspn(c + 1, "0123456789");
        if (*c == ' ')
            c += 1 + strcspn(c + 1, " ,");
        if (*c == ',')
            return F_CSV;
    }
    return F_STDERR;
}

/* Finishes everything open at the end of a file. */
static void end_of_file(struct tq_pglog *p)
{
    stderr_finish(p);
    if (p->csv_active) {
        p->csv_active = 0;
        p->st.malformed++;
    }
    for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++)
        syslog_finish(p, &p->sl[i]);
    for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++) {
        if (p->ps[i].used) {
            finalize(p, &p->ps[i]);
            pid_clear(&p->ps[i]);
        }
    }
    p->fmt = F_UNKNOWN;
    p->digit_prefix = -1;
}

/* 1 = a line in p->line, 0 = end of file, -1 = read error. */
static int read_line(struct tq_pglog *p, char *err, size_t errsize)
{
    buf_reset(&p->line);
    p->line_cut = 0;
    for (;;) {
        if (p->inpos == p->inlen) {
            if (p->in_eof)
                return p->line.len > 0 || p->line_cut ? 1 : 0;
            int n = gzread(p->gz, p->in, sizeof p->in);
            if (n < 0) {
                int errnum;
                const char *msg = gzerror(p->gz, &errnum);
                snprintf(err, errsize, "%s: %s", p->files[p->fi - 1],
                         errnum == Z_ERRNO ? strerror(errno) : msg);
                return -1;
            }
            p->inpos = 0;
            p->inlen = (size_t)n;
            if (n == 0) {
                p->in_eof = 1;
                continue;
            }
        }
        char *start = p->in + p->inpos;
        char *nl = memchr(start, '\n', p->inlen - p->inpos);
        size_t n = nl ? (size_t)(nl - start) : p->inlen - p->inpos;
        if (p->line.len + n > TQ_PGLOG_MAX_LINE) {
            p->line_cut = 1;
        } else if (buf_add(&p->line, start, n) != 0) {
            p->line_cut = 1;
        }
        p->inpos += n + (nl ? 1 : 0);
        if (nl) {
            if (p->line.len > 0 && p->line.p[p->line.len - 1] == '\r')
                p->line.p[--p->line.len] = '\0';
            return 1;
        }
    }
}

static int open_next(struct tq_pglog *p, char *err, size_t errsize)
{
    const char *path = p->files[p->fi++];
    if (strcmp(path, "-") == 0) {
        int fd = dup(0);
        p->gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
        if (p->gz == NULL && fd >= 0)
            close(fd);
    } else {
        p->gz = gzopen(path, "rb");
    }
    if (p->gz == NULL) {
        snprintf(err, errsize, "%s: %s", path, errno ? strerror(errno) : "cannot open");
        return -1;
    }
    gzbuffer(p->gz, 1 << 17);
    p->inpos = p->inlen = 0;
    p->in_eof = 0;
    p->fmt = F_UNKNOWN;
    p->digit_prefix = -1;
    p->st.files++;
    return 0;
}

static void handle_line(struct tq_pglog *p, const char *line)
{
    if (p->fmt == F_UNKNOWN) {
        if (*line == '\0')
            return;
        p->fmt = detect(line);
    }
    switch (p->fmt) {
    case F_STDERR:
        stderr_line(p, line);
        break;
    case F_CSV:
        csv_line(p, line);
        break;
    case F_SYSLOG:
        syslog_line(p, line);
        break;
    default:
        break;
    }
}

int tq_pglog_next(void *self, struct tq_render_rec *rec, char *err, size_t errsize)
{
    struct tq_pglog *p = self;
    for (;;) {
        struct render *r = p->emitting;
        if (r != NULL && r->i < r->n) {
            memset(rec, 0, sizeof *rec);
            rec->tileset = r->db[0] ? r->db : "-";
            rec->database = r->db[0] ? r->db : NULL;
            rec->user = r->user[0] ? r->user : NULL;
            rec->tables = r->tables;
            rec->reason = r->kind;
            rec->meta = r->m;
            rec->tile = tq_metatile_tile(&r->m, r->i);
            rec->meta_first = r->i == 0;
            rec->started_ms = r->started_ms;
            rec->duration_ms = r->total_ms / r->n;
            rec->metatile_ms = r->total_ms;
            rec->bytes = -1;
            r->i++;
            return 1;
        }
        if (r != NULL) {
            render_free(r);
            p->emitting = NULL;
        }
        if (p->head != NULL) {
            p->emitting = p->head;
            p->head = p->head->next;
            if (p->head == NULL)
                p->tail = NULL;
            continue;
        }
        if (p->done)
            return 0;
        if (p->gz == NULL) {
            if (p->fi == p->nfiles) {
                p->done = 1;
                continue;
            }
            if (open_next(p, err, errsize) != 0)
                return -1;
        }
        int rc = read_line(p, err, errsize);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            end_of_file(p);
            gzclose(p->gz);
            p->gz = NULL;
            continue;
        }
        p->st.lines++;
        if (p->line_cut) {
            p->st.malformed++;
            continue;
        }
        handle_line(p, p->line.p ? p->line.p : "");
    }
}

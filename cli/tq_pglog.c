/* tq_pglog — see tq_pglog.h. The glue of the pipeline, all streaming:
 *   file ─tq_pglog_read─▶ line ─tq_pglog_format (stderr, csvlog, syslog; tq_pglog_prefix)─▶
 *   log entry (time, pid, user, db, severity, body) ─handle_entry, per-backend state
 *   (parse/bind time, a statement waiting for its DETAIL parameters)─▶ finished statement
 *   ─finalize (tq_pglog_sql)─▶ render (a metatile) ─tq_pglog_next─▶ one record per tile.
 *
 * Files are planned into chunks (plan_file); a parser (struct parser) reads one chunk at a
 * time into the chunk's queue of renders. With threads, workers run parsers over the
 * chunks in order while the caller's thread consumes the queues in order (tq_pglog_next);
 * without, the caller's thread runs one parser itself, a line at a time, until a render is
 * queued. */
#include "tq_pglog.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tq_pglog_format.h"
#include "tq_pglog_read.h"
#include "tq_pglog_sql.h"

struct pidstate {
    int used;
    int live; /* a chunk's first lines: 1 once this backend's first statement was seen */
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
    char user[64], db[64], kind[16], app[64], client[64], host[64];
};

struct render {
    struct render *next;
    char db[64], user[64], kind[16], app[64], client[64], host[64];
    char *tables;
    char *query; /* keep_query, else NULL */
    struct tq_bbox bbox;
    struct tq_metatile m;
    uint32_t n, i;
    int64_t started_ms;
    double total_ms;
};

/* A part of a file: lines whose start lies in [start, end). */
struct chunk {
    size_t file;
    uint64_t start, end; /* end UINT64_MAX: to the end of the file */
    enum tq_pglog_format_kind kind;
    int first, last; /* the file's first / last chunk */
    /* results, guarded by the pool's lock when threaded */
    struct render *head, *tail;
    size_t queued;
    int done, failed;
    char err[256];
    struct tq_report_input st;
};

/* Tables found per query shape (tq_pglog_sql_shape), direct-mapped. */
#define SHAPES 256
struct shape {
    uint64_t h;
    int used;
    char tables[512];
};

struct parser {
    struct tq_pglog *p;
    struct shape shapes[SHAPES];
    struct chunk *c;
    struct tq_pglog_read *rd;
    struct tq_pglog_format *fmt;
    struct pidstate *ps; /* TQ_PGLOG_MAX_PIDS slots, open addressing by pid */
    uint64_t tick;
    size_t held; /* bytes of statements held in ps */
    int open_pids;
    int late;                       /* reading past the chunk's end */
    uint64_t late_lines, late_from; /* lines past it, offset of the last line */
    struct tq_report_input st;
    struct render *head, *tail; /* renders not yet handed to the chunk */
    size_t nout;
};

struct tq_pglog {
    struct tq_pglog_options opt;
    const char *const *files; /* borrowed */
    size_t nfiles;
    struct chunk *chunks;
    size_t nchunks, cap;
    uint64_t chunk; /* bytes */
    int planned;
    size_t cur; /* the chunk being consumed */
    struct render *emitting;
    struct tq_report_input st;
    /* without threads */
    struct parser *inline_parser;
    /* with threads */
    int nthreads, started;
    pthread_t threads[TQ_PGLOG_MAX_THREADS];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t next_chunk; /* the next chunk a worker takes */
    int stop;
};

/* ---------------------------------------------------------------- parser: backends */

static void on_entry(void *ctx, const struct tq_pglog_entry *e);
static int on_pending(void *ctx, long pid);

static void pid_clear(struct parser *q, struct pidstate *s)
{
    if (s->stmt)
        q->held -= strlen(s->stmt);
    if (s->query)
        q->held -= strlen(s->query);
    if (s->params)
        q->held -= strlen(s->params);
    if (s->used && (s->pending || s->stmt))
        q->open_pids--;
    free(s->stmt);
    free(s->query);
    free(s->params);
    memset(s, 0, sizeof *s);
}

static void parser_free(struct parser *q)
{
    if (q == NULL)
        return;
    tq_pglog_read_close(q->rd);
    tq_pglog_format_free(q->fmt);
    if (q->ps)
        for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++)
            pid_clear(q, &q->ps[i]);
    free(q->ps);
    while (q->head) {
        struct render *n = q->head->next;
        free(q->head); /* render_free */
        q->head = n;
    }
    free(q);
}

static struct parser *parser_new(struct tq_pglog *p)
{
    struct parser *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->p = p;
    struct tq_pglog_format_sink sink = {q, on_entry, on_pending, &q->st};
    /* malloc + explicit_bzero, not calloc: see tq_map.c (pages written before read) */
    q->ps = malloc(TQ_PGLOG_MAX_PIDS * sizeof *q->ps);
    if (q->ps != NULL)
        explicit_bzero(q->ps, TQ_PGLOG_MAX_PIDS * sizeof *q->ps);
    q->fmt = tq_pglog_format_new(&sink, p->opt.prefix);
    if (q->ps == NULL || q->fmt == NULL) {
        parser_free(q);
        return NULL;
    }
    return q;
}

static void render_free(struct render *r)
{
    free(r); /* its tables and query are in the same block */
}

static void copy_field(char *dst, const char *src) /* dst: 64 bytes */
{
    size_t n = strnlen(src, 63);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Turns a finished statement into a render (or counts it as skipped / off-grid). */
static void finalize(struct parser *q, struct pidstate *s)
{
    char tables[512];
    struct tq_metatile m;
    struct tq_bbox bbox;
    char *sql = s->query;
    char *subst = NULL;

    if (!s->pending)
        return;
    s->pending = 0;
    if (s->stmt == NULL)
        q->open_pids--;
    if (s->params != NULL) {
        int cut = 0;
        subst = tq_pglog_sql_substitute(s->query, s->params, TQ_PGLOG_MAX_LINE, &cut);
        if (subst != NULL)
            sql = subst;
        if (cut)
            q->st.truncated++;
    }
    uint64_t h = tq_pglog_sql_shape(sql);
    struct shape *sh = &q->shapes[h % SHAPES];
    enum tq_pglog_sql_kind k;
    if (sh->used && sh->h == h) { /* the tables of this shape are known */
        k = tq_pglog_sql_query_tile_bbox(sql, q->p->opt.buffer, q->p->opt.metatile, &m, NULL, 0,
                                         &bbox);
        memcpy(tables, sh->tables, sizeof tables);
    } else {
        k = tq_pglog_sql_query_tile_bbox(sql, q->p->opt.buffer, q->p->opt.metatile, &m, tables,
                                         sizeof tables, &bbox);
        if (k != TQ_PGLOG_SQL_NONE) {
            sh->used = 1;
            sh->h = h;
            memcpy(sh->tables, tables, sizeof tables);
        }
    }
    if (k == TQ_PGLOG_SQL_NONE) {
        q->st.skipped++;
    } else if (k == TQ_PGLOG_SQL_OFFGRID) {
        q->st.unresolved++;
    } else {
        /* one block: the render, its tables and its query (one malloc and one free per
         * render, the free in another thread) */
        size_t tl = strlen(tables) + 1, ql = q->p->opt.keep_query ? strlen(sql) + 1 : 0;
        struct render *r = malloc(sizeof *r + tl + ql);
        if (r != NULL) {
            r->next = NULL;
            r->i = 0;
            r->tables = (char *)(r + 1);
            memcpy(r->tables, tables, tl);
            r->query = ql ? r->tables + tl : NULL;
            if (ql)
                memcpy(r->query, sql, ql);
            memcpy(r->db, s->db, sizeof r->db);
            memcpy(r->user, s->user, sizeof r->user);
            memcpy(r->kind, s->kind, sizeof r->kind);
            memcpy(r->app, s->app, sizeof r->app);
            memcpy(r->client, s->client, sizeof r->client);
            memcpy(r->host, s->host, sizeof r->host);
            r->m = m;
            r->bbox = bbox;
            r->n = m.w * m.h;
            r->total_ms = s->dur_ms;
            double start = (double)s->time_ms - s->dur_ms; /* no int64 overflow */
            r->started_ms = s->time_ms == TQ_TIME_UNSET || !(fabs(start) < 9e18)
                                ? TQ_TIME_UNSET
                                : (int64_t)llround(start);
            if (q->tail)
                q->tail->next = r;
            else
                q->head = r;
            q->tail = r;
            q->nout++;
            q->st.render_queries++;
        } else {
            q->st.malformed++; /* out of memory */
        }
    }
    free(subst);
    q->held -= strlen(s->query) + (s->params ? strlen(s->params) : 0);
    free(s->query);
    free(s->params);
    s->query = s->params = NULL;
}

static struct pidstate *pid_find(struct parser *q, long pid)
{
    size_t h = (size_t)((unsigned long)pid * 2654435761u) % TQ_PGLOG_MAX_PIDS;
    for (size_t i = 0; i < TQ_PGLOG_MAX_PIDS; i++) {
        struct pidstate *s = &q->ps[(h + i) % TQ_PGLOG_MAX_PIDS];
        if (!s->used)
            return NULL;
        if (s->pid == pid)
            return s;
    }
    return NULL;
}

static struct pidstate *pid_state(struct parser *q, long pid)
{
    struct pidstate *free_slot = NULL, *oldest = NULL;
    size_t h = (size_t)((unsigned long)pid * 2654435761u) % TQ_PGLOG_MAX_PIDS;
    for (size_t i = 0; i < TQ_PGLOG_MAX_PIDS; i++) {
        struct pidstate *s = &q->ps[(h + i) % TQ_PGLOG_MAX_PIDS];
        if (s->used && s->pid == pid) {
            s->last_use = ++q->tick;
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
        finalize(q, oldest);
        pid_clear(q, oldest);
        free_slot = oldest;
    }
    free_slot->used = 1;
    free_slot->pid = pid;
    free_slot->last_use = ++q->tick;
    return free_slot;
}

/* Over the budget of held statements: finishes the least recently used backends. */
static void trim_held(struct parser *q, const struct pidstate *keep)
{
    while (q->held > TQ_PGLOG_MAX_HELD) {
        struct pidstate *oldest = NULL;
        for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++) {
            struct pidstate *s = &q->ps[i];
            if (s->used && s != keep && (s->query || s->stmt) &&
                (oldest == NULL || s->last_use < oldest->last_use))
                oldest = s;
        }
        if (oldest == NULL)
            return;
        finalize(q, oldest);
        pid_clear(q, oldest);
    }
}

static void set_pending(struct parser *q, struct pidstate *s, const struct tq_pglog_entry *e,
                        const char *query, double dur, const char *kind)
{
    s->query = strdup(query);
    if (s->query == NULL)
        return;
    q->held += strlen(s->query);
    if (s->stmt == NULL)
        q->open_pids++;
    s->pending = 1;
    s->dur_ms = dur;
    s->time_ms = e->time_ms;
    copy_field(s->user, e->user);
    copy_field(s->db, e->db);
    copy_field(s->app, e->app);
    copy_field(s->client, e->client);
    copy_field(s->host, e->host);
    snprintf(s->kind, sizeof s->kind, "%s", kind);
}

/* "execute S_1: SELECT" / "parse <unnamed>: SELECT" → the text after the name's ": ". */
static const char *after_name(const char *s)
{
    const char *c = strstr(s, ": ");
    return c ? c + 2 : NULL;
}

/* An entry that begins a statement: what a chunk's reader starts a backend at, and where
 * the reader of the chunk before stops reading that backend. Everything else (DETAIL, a
 * bare duration, errors, connections) belongs to the statement before it. */
static int starts_statement(const struct tq_pglog_entry *e)
{
    const char *b = e->body;
    if (e->sev != TQ_PGLOG_SEV_LOG)
        return 0;
    if (strncmp(b, "duration: ", 10) == 0) {
        const char *ms = strstr(b + 10, " ms");
        if (ms == NULL)
            return 0;
        ms += 3;
        while (*ms == ' ')
            ms++;
        return strncmp(ms, "statement: ", 11) == 0 || strncmp(ms, "parse ", 6) == 0 ||
               strncmp(ms, "bind ", 5) == 0 || strncmp(ms, "execute ", 8) == 0;
    }
    return strncmp(b, "statement: ", 11) == 0 || strncmp(b, "execute ", 8) == 0;
}

static void handle_entry(struct parser *q, const struct tq_pglog_entry *e)
{
    struct pidstate *s = pid_state(q, e->pid);
    const char *b = e->body;

    if (e->sev == TQ_PGLOG_SEV_DETAIL) {
        int params = strncmp(b, "parameters:", 11) == 0;
        /* the parameters of a statement waiting for its DETAIL, or (log_statement) for
         * its bare duration */
        if ((s->pending || s->stmt) && params && s->params == NULL) {
            s->params = strdup(b);
            if (s->params != NULL)
                q->held += strlen(s->params);
            trim_held(q, s);
        } else if (!s->pending && !s->stmt && !params) { /* a bind's parameters: its execute's */
            q->st.skipped++;
        }
        return;
    }
    finalize(q, s); /* anything else from this backend ends the statement before it */
    if (e->sev != TQ_PGLOG_SEV_LOG) {
        q->st.skipped++;
        return;
    }
    if (strncmp(b, "duration: ", 10) == 0) {
        char *end;
        double dur = strtod(b + 10, &end);
        /* PostgreSQL never logs a negative one; over 10^12 ms (31 years) is not a duration
         * (and 1e300 would overflow the start time's arithmetic) */
        if (end == b + 10 || !(dur >= 0 && dur <= 1e12) || strncmp(end, " ms", 3) != 0) {
            q->st.malformed++;
            return;
        }
        const char *rest = end + 3;
        while (isspace((unsigned char)*rest))
            rest++;
        const char *qs;
        if (*rest == '\0') { /* log_duration: a bare duration */
            if (s->stmt != NULL) {
                struct tq_pglog_entry e2 = *e;
                if (e2.time_ms == TQ_TIME_UNSET)
                    e2.time_ms = s->stmt_time;
                char *stmt = s->stmt;
                s->stmt = NULL;
                q->held -= strlen(stmt);
                q->open_pids--;
                set_pending(q, s, &e2, stmt, dur + s->pre_ms, s->stmt_kind);
                free(stmt);
                s->pre_ms = 0;
            } else {
                s->pre_ms += dur;
            }
        } else if (strncmp(rest, "statement: ", 11) == 0) {
            set_pending(q, s, e, rest + 11, dur, "statement");
            s->pre_ms = 0;
        } else if (strncmp(rest, "parse ", 6) == 0 || strncmp(rest, "bind ", 5) == 0) {
            s->pre_ms += dur;
        } else if (strncmp(rest, "execute ", 8) == 0 && (qs = after_name(rest)) != NULL) {
            set_pending(q, s, e, qs, dur + s->pre_ms, "execute");
            s->pre_ms = 0;
        } else {
            q->st.skipped++;
        }
        trim_held(q, s);
        return;
    }
    const char *qs = NULL;
    const char *kind = NULL;
    if (strncmp(b, "statement: ", 11) == 0) {
        qs = b + 11;
        kind = "statement";
    } else if (strncmp(b, "execute ", 8) == 0 && (qs = after_name(b)) != NULL) {
        kind = "execute";
    }
    if (qs != NULL) {
        if (s->params != NULL) { /* the parameters of the statement this one replaces */
            q->held -= strlen(s->params);
            free(s->params);
            s->params = NULL;
        }
        if (s->stmt != NULL) {
            q->held -= strlen(s->stmt);
            free(s->stmt);
        } else if (!s->pending) {
            q->open_pids++;
        }
        s->stmt = strdup(qs);
        if (s->stmt != NULL) {
            q->held += strlen(s->stmt);
        } else if (!s->pending) {
            q->open_pids--;
        }
        s->stmt_time = e->time_ms;
        snprintf(s->stmt_kind, sizeof s->stmt_kind, "%s", kind);
        trim_held(q, s);
        return;
    }
    q->st.skipped++;
}

/* Entries of a chunk: its first lines skip each backend's entries before its first
 * statement (the chunk before finishes those); past the end, only backends with a
 * statement open at the end are read on, until their next statement. */
static void on_entry(void *ctx, const struct tq_pglog_entry *e)
{
    struct parser *q = ctx;
    if (e->late) {
        struct pidstate *s = pid_find(q, e->pid);
        if (s == NULL || !(s->pending || s->stmt))
            return;
        if (starts_statement(e)) {
            finalize(q, s);
            pid_clear(q, s);
            return;
        }
        handle_entry(q, e);
        return;
    }
    if (!q->c->first) {
        struct pidstate *s = pid_find(q, e->pid);
        if (s == NULL || !s->live) {
            if (!starts_statement(e))
                return;
            s = pid_state(q, e->pid);
            s->live = 1;
        }
    }
    handle_entry(q, e);
}

static int on_pending(void *ctx, long pid)
{
    struct parser *q = ctx;
    struct pidstate *s = pid_find(q, pid);
    return s != NULL && s->pending;
}

/* Finishes everything open at the end of a chunk. */
static void parser_end(struct parser *q)
{
    tq_pglog_format_end(q->fmt);
    for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++) {
        if (q->ps[i].used) {
            finalize(q, &q->ps[i]);
            pid_clear(q, &q->ps[i]);
        }
    }
    q->open_pids = 0;
    q->held = 0;
}

/* Past a chunk's end, it is read on at most this far (then what is open is finished): a
 * backend whose statement waits for a duration that never comes must not make a reader
 * read the rest of the file */
#define LATE_MAX_LINES 100000
#define LATE_MAX_BYTES (4u << 20)

/* Reads one line of q's chunk. 1 read, 0 the chunk is done (parser_end done), -1 error. */
static int parser_step(struct parser *q, char *err, size_t errsize)
{
    struct chunk *c = q->c;
    const char *line;
    int cut;
    if (q->rd == NULL) {
        q->rd = tq_pglog_read_open_at(q->p->files[c->file], c->start, err, errsize);
        if (q->rd == NULL)
            return -1;
        tq_pglog_format_begin(q->fmt, c->first ? TQ_PGLOG_FMT_UNKNOWN : c->kind, !c->first);
        q->late = 0;
        q->late_lines = 0;
        if (c->first)
            q->st.files++;
    }
    if (q->late && ((q->open_pids == 0 && tq_pglog_format_open_early(q->fmt) == 0) ||
                    q->late_lines > LATE_MAX_LINES ||
                    (c->end != UINT64_MAX && q->late_from > c->end + LATE_MAX_BYTES)))
        goto done;
    int rc = tq_pglog_read_line(q->rd, &line, &cut, err, errsize);
    if (rc < 0)
        return -1;
    if (rc == 0)
        goto done;
    if (!q->late && tq_pglog_read_offset(q->rd) >= c->end)
        q->late = 1;
    q->late_from = tq_pglog_read_offset(q->rd);
    if (q->late)
        q->late_lines++;
    else
        q->st.lines++;
    tq_pglog_format_line(q->fmt, line, q->late, cut);
    return 1;
done:
    parser_end(q);
    tq_pglog_read_close(q->rd);
    q->rd = NULL;
    return 0;
}

/* ---------------------------------------------------------------- planning */

static int plan_add(struct tq_pglog *p, size_t file, uint64_t start, uint64_t end,
                    enum tq_pglog_format_kind kind)
{
    if (p->nchunks == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 16;
        struct chunk *n = realloc(p->chunks, ncap * sizeof *n);
        if (n == NULL)
            return -1;
        p->chunks = n;
        p->cap = ncap;
    }
    struct chunk *c = &p->chunks[p->nchunks++];
    memset(c, 0, sizeof *c);
    c->file = file;
    c->start = start;
    c->end = end;
    c->kind = kind;
    c->first = start == 0;
    c->last = end == UINT64_MAX;
    return 0;
}

/* The offset of the first line at or after off that starts a message of a file of that
 * kind (the partial line at off skipped), or UINT64_MAX. */
static uint64_t next_start(const char *path, uint64_t off, enum tq_pglog_format_kind kind,
                           uint64_t limit)
{
    char err[256];
    const char *line;
    int cut;
    uint64_t found = UINT64_MAX;
    struct tq_pglog_read *r = tq_pglog_read_open_at(path, off - 1, err, sizeof err);
    if (r == NULL)
        return UINT64_MAX;
    /* from off - 1: a line that starts exactly at off follows the '\n' read first */
    if (tq_pglog_read_line(r, &line, &cut, err, sizeof err) == 1) {
        while (tq_pglog_read_line(r, &line, &cut, err, sizeof err) == 1) {
            uint64_t at = tq_pglog_read_offset(r);
            if (at >= limit)
                break;
            if (!cut && tq_pglog_format_starts(kind, line)) {
                found = at;
                break;
            }
        }
    }
    tq_pglog_read_close(r);
    return found;
}

/* Splits file i into chunks: a plain file of more than two chunks' size at lines that
 * start messages; anything else (gzip, stdin, small) is one chunk. With one thread too:
 * what is read at a chunk's boundary (tq_pglog.h) depends on the file only, never on the
 * number of threads, so every --threads gives the same report. */
static int plan_file(struct tq_pglog *p, size_t i)
{
    const char *path = p->files[i];
    struct stat sb;
    if (strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        (uint64_t)sb.st_size < 2 * p->chunk || tq_pglog_read_is_gzip(path))
        return plan_add(p, i, 0, UINT64_MAX, TQ_PGLOG_FMT_UNKNOWN);

    /* the file's kind, from its first non-empty line */
    char err[256];
    const char *line;
    int cut;
    enum tq_pglog_format_kind kind = TQ_PGLOG_FMT_UNKNOWN;
    struct tq_pglog_read *r = tq_pglog_read_open(path, err, sizeof err);
    while (r != NULL && kind == TQ_PGLOG_FMT_UNKNOWN &&
           tq_pglog_read_line(r, &line, &cut, err, sizeof err) == 1)
        kind = tq_pglog_format_detect(line);
    tq_pglog_read_close(r);
    if (kind == TQ_PGLOG_FMT_UNKNOWN)
        return plan_add(p, i, 0, UINT64_MAX, kind);

    uint64_t size = (uint64_t)sb.st_size, start = 0;
    while (start < size) {
        uint64_t end = start + p->chunk < size - p->chunk / 2
                           ? next_start(path, start + p->chunk, kind, size)
                           : UINT64_MAX;
        if (plan_add(p, i, start, end, kind) != 0)
            return -1;
        if (end == UINT64_MAX)
            break;
        start = end;
    }
    return 0;
}

/* ---------------------------------------------------------------- threads */

/* Moves the parser's renders to its chunk (under the lock when threaded). */
static void hand_over(struct parser *q)
{
    struct chunk *c = q->c;
    if (q->head == NULL)
        return;
    if (c->tail)
        c->tail->next = q->head;
    else
        c->head = q->head;
    c->tail = q->tail;
    c->queued += q->nout;
    q->head = q->tail = NULL;
    q->nout = 0;
}

static void *worker_main(void *arg)
{
    struct tq_pglog *p = arg;
    struct parser *q = parser_new(p);
    char err[256];

    pthread_mutex_lock(&p->lock);
    for (;;) {
        /* at most nthreads + 2 chunks past the one being consumed */
        while (!p->stop && p->next_chunk < p->nchunks &&
               p->next_chunk >= p->cur + (size_t)p->nthreads + 2)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stop || p->next_chunk >= p->nchunks)
            break;
        struct chunk *c = &p->chunks[p->next_chunk++];
        if (q == NULL) {
            snprintf(c->err, sizeof c->err, "out of memory");
            c->failed = c->done = 1;
            pthread_cond_broadcast(&p->cond);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        q->c = c;
        memset(&q->st, 0, sizeof q->st);
        int rc;
        for (;;) {
            rc = parser_step(q, err, sizeof err);
            if (rc <= 0 || q->nout >= 256) {
                pthread_mutex_lock(&p->lock);
                hand_over(q);
                pthread_cond_broadcast(&p->cond);
                /* a chunk that is not consumed yet holds a bounded queue */
                while (rc > 0 && !p->stop && c->queued >= TQ_PGLOG_MAX_QUEUED &&
                       c != &p->chunks[p->cur])
                    pthread_cond_wait(&p->cond, &p->lock);
                if (rc <= 0 || p->stop)
                    break;
                pthread_mutex_unlock(&p->lock);
            }
        }
        /* locked here */
        if (rc < 0) {
            snprintf(c->err, sizeof c->err, "%s", err);
            c->failed = 1;
            tq_pglog_read_close(q->rd);
            q->rd = NULL;
            parser_end(q);
            while (q->head) { /* what came after the error is not handed over */
                struct render *n = q->head->next;
                render_free(q->head);
                q->head = n;
            }
            q->tail = NULL;
            q->nout = 0;
        }
        if (q->rd != NULL) { /* stopped */
            tq_pglog_read_close(q->rd);
            q->rd = NULL;
            parser_end(q);
        }
        c->st = q->st;
        c->done = 1;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    parser_free(q);
    return NULL;
}

static int start_threads(struct tq_pglog *p)
{
    for (int i = 0; i < p->nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
            return -1;
        p->started++;
    }
    return 0;
}

/* ---------------------------------------------------------------- the reader */

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
    p->nthreads = p->opt.threads < 1                      ? 1
                  : p->opt.threads > TQ_PGLOG_MAX_THREADS ? TQ_PGLOG_MAX_THREADS
                                                          : p->opt.threads;
    p->chunk = p->opt.chunk > 0 ? p->opt.chunk : TQ_PGLOG_CHUNK;
    p->files = files;
    p->nfiles = nfiles;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    if (p->nthreads == 1 && (p->inline_parser = parser_new(p)) == NULL) {
        tq_pglog_close(p);
        return NULL;
    }
    return p;
}

void tq_pglog_close(struct tq_pglog *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    parser_free(p->inline_parser);
    render_free(p->emitting);
    for (size_t i = 0; i < p->nchunks; i++) {
        while (p->chunks[i].head) {
            struct render *n = p->chunks[i].head->next;
            render_free(p->chunks[i].head);
            p->chunks[i].head = n;
        }
    }
    free(p->chunks);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}

void tq_pglog_stats(const struct tq_pglog *p, struct tq_report_input *out)
{
    *out = p->st;
    if (p->inline_parser != NULL && p->cur < p->nchunks)
        tq_report_input_add(out, &p->inline_parser->st); /* the chunk being read */
    out->present = 1;
}

void tq_pglog_extra(const struct tq_pglog *p, struct tq_pglog_extra *out)
{
    const struct render *r = p->emitting;
    memset(out, 0, sizeof *out);
    if (r == NULL)
        return;
    out->host = r->host[0] ? r->host : NULL;
    out->application = r->app[0] ? r->app : NULL;
    out->client = r->client[0] ? r->client : NULL;
    out->query = r->query;
    out->bbox = r->bbox;
}

/* Record i (of r->n: one per tile of the metatile) of render r into rec; its strings are
 * r's. */
static void render_rec(const struct render *r, uint32_t i, struct tq_report_rec *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->tileset = r->db[0] ? r->db : "-";
    rec->database = r->db[0] ? r->db : NULL;
    rec->user = r->user[0] ? r->user : NULL;
    rec->tables = r->tables;
    rec->reason = r->kind;
    rec->meta = r->m;
    rec->tile = tq_metatile_tile(&r->m, i);
    rec->meta_first = i == 0;
    rec->started_ms = r->started_ms;
    rec->duration_ms = r->total_ms / r->n;
    rec->metatile_ms = r->total_ms;
    rec->bytes = -1;
}

/* The next render of the chunk being consumed, waiting for it when threaded: 1 and *out
 * (the caller owns it), 0 when the chunk is done, -1 on its error (err set). */
static int next_render(struct tq_pglog *p, struct render **out, char *err, size_t errsize)
{
    struct chunk *c = &p->chunks[p->cur];
    if (p->nthreads == 1) {
        struct parser *q = p->inline_parser;
        q->c = c;
        while (q->head == NULL) {
            if (c->done) {
                tq_report_input_add(&p->st, &q->st);
                memset(&q->st, 0, sizeof q->st);
                return 0;
            }
            int rc = parser_step(q, err, errsize);
            if (rc < 0)
                return -1;
            if (rc == 0)
                c->done = 1;
        }
        *out = q->head;
        q->head = q->head->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->nout--;
        return 1;
    }
    pthread_mutex_lock(&p->lock);
    while (c->head == NULL && !c->done)
        pthread_cond_wait(&p->cond, &p->lock);
    int rc;
    if (c->head != NULL) {
        *out = c->head;
        c->head = c->head->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->queued--;
        if (c->queued == TQ_PGLOG_MAX_QUEUED - 1)
            pthread_cond_broadcast(&p->cond);
        rc = 1;
    } else if (c->failed) {
        snprintf(err, errsize, "%s", c->err);
        rc = -1;
    } else {
        tq_report_input_add(&p->st, &c->st);
        rc = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* Plans every file into chunks (once). 0, or -1 (err set). */
static int plan(struct tq_pglog *p, char *err, size_t errsize)
{
    if (p->planned)
        return 0;
    p->planned = 1;
    for (size_t i = 0; i < p->nfiles; i++) {
        if (plan_file(p, i) != 0) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
    }
    return 0;
}

int tq_pglog_next(void *self, struct tq_report_rec *rec, char *err, size_t errsize)
{
    struct tq_pglog *p = self;
    if (!p->planned) {
        if (plan(p, err, errsize) != 0)
            return -1;
        if (p->nthreads > 1 && start_threads(p) != 0) {
            snprintf(err, errsize, "cannot start a thread");
            return -1;
        }
    }
    for (;;) {
        struct render *r = p->emitting;
        if (r != NULL && r->i < r->n) {
            render_rec(r, r->i++, rec);
            return 1;
        }
        render_free(r);
        p->emitting = NULL;
        if (p->cur >= p->nchunks)
            return 0;
        int rc = next_render(p, &p->emitting, err, errsize);
        if (rc < 0) {
            p->cur = p->nchunks; /* the end, after an error */
            return -1;
        }
        if (rc == 0) {
            pthread_mutex_lock(&p->lock);
            p->cur++;
            pthread_cond_broadcast(&p->cond);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

/* ---------------------------------------------------------------- parallel aggregation */

/* One aggregating thread of tq_pglog_report: its parser, its report, what it read. */
struct agg {
    struct tq_pglog *p;
    struct tq_report *r; /* the caller's report (thread 0) or its own part */
    struct tq_report_input st;
    size_t failed; /* the failed chunk's index, SIZE_MAX: none */
    char err[256];
    pthread_t thread;
};

/* Counts q's renders into r, freeing them. 0, or -1 out of memory. */
static int agg_drain(struct parser *q, struct tq_report *r)
{
    struct tq_report_rec rec;
    while (q->head != NULL) {
        struct render *x = q->head;
        for (uint32_t i = 0; i < x->n; i++) {
            render_rec(x, i, &rec);
            if (tq_report_add(r, &rec) < 0)
                return -1;
        }
        q->head = x->next;
        render_free(x);
    }
    q->tail = NULL;
    q->nout = 0;
    return 0;
}

/* Parses the chunks it takes (in order, shared with the other threads) and counts their
 * renders into a->r. Stops every thread at its first error. */
static void *agg_main(void *arg)
{
    struct agg *a = arg;
    struct tq_pglog *p = a->p;
    struct parser *q = parser_new(p);

    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next_chunk;
        int take = !p->stop && i < p->nchunks;
        if (take)
            p->next_chunk++;
        if (take && q == NULL) /* this chunk fails: the others stop */
            p->stop = 1;
        pthread_mutex_unlock(&p->lock);
        if (!take)
            break;
        if (q == NULL) {
            a->failed = i;
            snprintf(a->err, sizeof a->err, "out of memory");
            break;
        }
        q->c = &p->chunks[i];
        memset(&q->st, 0, sizeof q->st);
        int rc;
        do {
            rc = parser_step(q, a->err, sizeof a->err);
            if (q->head != NULL && agg_drain(q, a->r) != 0) {
                snprintf(a->err, sizeof a->err, "out of memory");
                rc = -1;
            }
        } while (rc > 0);
        if (rc < 0) {
            a->failed = i;
            if (q->rd != NULL) {
                tq_pglog_read_close(q->rd);
                q->rd = NULL;
                parser_end(q);
            }
            pthread_mutex_lock(&p->lock);
            p->stop = 1;
            pthread_mutex_unlock(&p->lock);
            break;
        }
        tq_report_input_add(&a->st, &q->st);
    }
    parser_free(q);
    return NULL;
}

int tq_pglog_report(struct tq_pglog *p, struct tq_report *r, char *err, size_t errsize)
{
    struct agg a[TQ_PGLOG_MAX_THREADS];
    int n, started = 1, rc = -1;

    if (p->planned) {
        snprintf(err, errsize, "tq_pglog_report after tq_pglog_next");
        return -1;
    }
    if (plan(p, err, errsize) != 0)
        return -1;
    /* no more threads than chunks: a part costs a report */
    n = p->nthreads < (int)p->nchunks ? p->nthreads : (int)p->nchunks;
    if (n < 1)
        n = 1;
    for (int i = 0; i < n; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].p = p;
        a[i].failed = SIZE_MAX;
        a[i].r = i == 0 ? r : tq_report_new_like(r);
        if (a[i].r == NULL) {
            n = i;
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
    }
    /* a thread that cannot start leaves its part empty: the others read every chunk */
    for (; started < n; started++)
        if (pthread_create(&a[started].thread, NULL, agg_main, &a[started]) != 0)
            break;
    agg_main(&a[0]); /* the caller's thread is one of them */
    for (int i = 1; i < started; i++)
        pthread_join(a[i].thread, NULL);
    /* the error of the first chunk that failed: every chunk before it was read whole */
    size_t first = SIZE_MAX;
    for (int i = 0; i < n; i++) {
        if (a[i].failed < first) {
            first = a[i].failed;
            snprintf(err, errsize, "%s", a[i].err);
        }
    }
    if (first != SIZE_MAX)
        goto cleanup;
    for (int i = 0; i < n; i++) {
        tq_report_input_add(&p->st, &a[i].st);
        if (i > 0 && tq_report_merge(r, a[i].r) != 0) {
            snprintf(err, errsize, "out of memory");
            goto cleanup;
        }
        if (i > 0) { /* its memory back before the next part's merge */
            tq_report_free(a[i].r);
            a[i].r = NULL;
        }
    }
    p->cur = p->nchunks;
    rc = 0;
cleanup:
    for (int i = 1; i < n; i++)
        tq_report_free(a[i].r);
    return rc;
}

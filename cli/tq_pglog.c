/* tq_pglog — see tq_pglog.h. The glue of the pipeline, all streaming:
 *   file ─tq_pglog_read─▶ line ─tq_pglog_format (stderr, csvlog, syslog; tq_pglog_prefix)─▶
 *   log entry (time, pid, user, db, severity, body) ─handle_entry, per-backend state
 *   (parse/bind time, a statement waiting for its DETAIL parameters)─▶ finished statement
 *   ─finalize (tq_pglog_sql)─▶ render (a metatile) ─tq_pglog_next─▶ one record per tile. */
#include "tq_pglog.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_pglog_format.h"
#include "tq_pglog_read.h"
#include "tq_pglog_sql.h"

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

struct tq_pglog {
    struct tq_pglog_options opt;
    const char *const *files; /* borrowed */
    size_t nfiles, fi;
    struct tq_pglog_read *rd; /* the file being read, NULL between files */
    int done;
    struct tq_pglog_format *fmt;
    struct pidstate *ps; /* TQ_PGLOG_MAX_PIDS slots, open addressing by pid */
    uint64_t tick;

    struct render *head, *tail, *emitting;
    struct tq_report_input st;
};

static void on_entry(void *ctx, const struct tq_pglog_entry *e);
static int on_pending(void *ctx, long pid);

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
    struct tq_pglog_format_sink sink = {p, on_entry, on_pending, &p->st};
    p->ps = calloc(TQ_PGLOG_MAX_PIDS, sizeof *p->ps);
    p->fmt = tq_pglog_format_new(&sink);
    if (p->ps == NULL || p->fmt == NULL) {
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
    tq_pglog_read_close(p->rd);
    tq_pglog_format_free(p->fmt);
    if (p->ps)
        for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++)
            pid_clear(&p->ps[i]);
    free(p->ps);
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
    if (s->params != NULL && (subst = tq_pglog_sql_substitute(s->query, s->params)) != NULL)
        sql = subst;
    enum tq_pglog_sql_kind k =
        tq_pglog_sql_query_tile(sql, p->opt.buffer, p->opt.metatile, &m, tables, sizeof tables);
    if (k == TQ_PGLOG_SQL_NONE) {
        p->st.skipped++;
    } else if (k == TQ_PGLOG_SQL_OFFGRID) {
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

static void set_pending(struct pidstate *s, const struct tq_pglog_entry *e, const char *query,
                        double dur, const char *kind)
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

static void handle_entry(struct tq_pglog *p, const struct tq_pglog_entry *e)
{
    struct pidstate *s = pid_state(p, e->pid);
    const char *b = e->body;

    if (e->sev == TQ_PGLOG_SEV_DETAIL) {
        int params = strncmp(b, "parameters:", 11) == 0;
        if (s->pending && params && s->params == NULL)
            s->params = strdup(b);
        else if (!s->pending && !params) /* a bind's parameters belong to its execute */
            p->st.skipped++;
        return;
    }
    finalize(p, s); /* anything else from this backend ends the statement before it */
    if (e->sev != TQ_PGLOG_SEV_LOG) {
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
        const char *rest = end + 3;
        while (isspace((unsigned char)*rest))
            rest++;
        const char *q;
        if (*rest == '\0') { /* log_duration: a bare duration */
            if (s->stmt != NULL) {
                struct tq_pglog_entry e2 = *e;
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

static void on_entry(void *ctx, const struct tq_pglog_entry *e)
{
    handle_entry(ctx, e);
}

static int on_pending(void *ctx, long pid)
{
    return pid_state(ctx, pid)->pending;
}

/* Finishes everything open at the end of a file. */
static void end_of_file(struct tq_pglog *p)
{
    tq_pglog_format_end(p->fmt);
    for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++) {
        if (p->ps[i].used) {
            finalize(p, &p->ps[i]);
            pid_clear(&p->ps[i]);
        }
    }
}

int tq_pglog_next(void *self, struct tq_report_rec *rec, char *err, size_t errsize)
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
        if (p->rd == NULL) {
            if (p->fi == p->nfiles) {
                p->done = 1;
                continue;
            }
            p->rd = tq_pglog_read_open(p->files[p->fi++], err, errsize);
            if (p->rd == NULL)
                return -1;
            p->st.files++;
        }
        const char *line;
        int cut;
        int rc = tq_pglog_read_line(p->rd, &line, &cut, err, errsize);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            end_of_file(p);
            tq_pglog_read_close(p->rd);
            p->rd = NULL;
            continue;
        }
        p->st.lines++;
        if (cut) {
            p->st.malformed++;
            continue;
        }
        tq_pglog_format_line(p->fmt, line);
    }
}

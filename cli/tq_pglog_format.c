/* tq_pglog_format — see tq_pglog_format.h. */
#include "tq_pglog_format.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tq_buf.h"
#include "tq_pglog_read.h"

enum fmt { F_UNKNOWN = 0, F_STDERR, F_CSV, F_SYSLOG };

struct slmsg { /* an open syslog message */
    int used;
    char host[64];
    int late, cut;
    long pid, seq;
    uint64_t last_use;
    int64_t header_ms;
    struct tq_buf text;
};

#define KEEP_CAP (64u << 10) /* a finished message's buffer above this size is freed */

struct tq_pglog_format {
    struct tq_pglog_format_sink sink;
    const struct tq_pglog_prefix *prefix; /* borrowed, may be NULL */
    struct tq_report_input *st;
    enum fmt fmt;
    int head;          /* syslog: skip continuations of messages begun before the chunk */
    int digit_prefix;  /* stderr: -1 unknown, 1 messages start with a digit (a timestamp) */
    struct tq_buf cur; /* stderr: the current message */
    int have_cur, cur_late, cur_cut;
    struct tq_buf csv; /* csv: the current record's fields, NUL-separated */
    size_t csv_off[32];
    int csv_nf, csv_inq, csv_active, csv_late, csv_skip;
    struct slmsg *sl; /* syslog: TQ_PGLOG_MAX_PIDS slots, open addressing by pid */
    size_t sl_held;   /* bytes of open syslog messages */
    int sl_open_early;
    uint64_t tick;
};

struct tq_pglog_format *tq_pglog_format_new(const struct tq_pglog_format_sink *sink,
                                            const struct tq_pglog_prefix *prefix)
{
    struct tq_pglog_format *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->sink = *sink;
    f->prefix = prefix;
    f->st = sink->st;
    f->digit_prefix = -1;
    f->sl = calloc(TQ_PGLOG_MAX_PIDS, sizeof *f->sl);
    if (f->sl == NULL) {
        tq_pglog_format_free(f);
        return NULL;
    }
    return f;
}

void tq_pglog_format_free(struct tq_pglog_format *f)
{
    if (f == NULL)
        return;
    tq_buf_free(&f->cur);
    tq_buf_free(&f->csv);
    if (f->sl)
        for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++)
            tq_buf_free(&f->sl[i].text);
    free(f->sl);
    free(f);
}

/* ---------------------------------------------------------------- stderr */

/* Appends up to the message limit; 1 when something was dropped. */
static int append_bounded(struct tq_buf *b, const char *s, size_t n, int *cut)
{
    if (b->len + n > TQ_PGLOG_MAX_LINE) {
        n = b->len < TQ_PGLOG_MAX_LINE ? TQ_PGLOG_MAX_LINE - b->len : 0;
        *cut = 1;
    }
    return n > 0 ? tq_buf_append(b, s, n) : 0;
}

static void stderr_finish(struct tq_pglog_format *f)
{
    if (!f->have_cur)
        return;
    f->have_cur = 0;
    if (f->cur_cut && !f->cur_late)
        f->st->truncated++;
    struct tq_pglog_entry e;
    tq_pglog_entry_init(&e);
    e.late = f->cur_late;
    if (tq_pglog_prefix_parse_with(f->prefix, tq_buf_str(&f->cur), &e) != 0) {
        f->st->malformed += !e.late;
        return;
    }
    f->st->entries += !e.late; /* a late one is the next chunk's to count */
    f->sink.entry(f->sink.ctx, &e);
    if (f->cur.cap > KEEP_CAP)
        tq_buf_free(&f->cur);
}

static int stderr_starts(const char *line, int digit_prefix)
{
    enum tq_pglog_sev sev;
    const char *body;
    if (line[0] == '\0' || isspace((unsigned char)line[0]))
        return 0;
    if (digit_prefix == 1 && !isdigit((unsigned char)line[0]))
        return 0;
    return tq_pglog_prefix_severity(line, &sev, &body) != NULL;
}

static void stderr_line(struct tq_pglog_format *f, const char *line, int late, int cut)
{
    if (stderr_starts(line, f->digit_prefix)) {
        stderr_finish(f);
        if (f->digit_prefix < 0)
            f->digit_prefix = isdigit((unsigned char)line[0]) ? 1 : 0;
        tq_buf_reset(&f->cur);
        f->cur_late = late;
        f->cur_cut = cut;
        if (tq_buf_append(&f->cur, line, strlen(line)) != 0) {
            f->st->malformed++;
            return;
        }
        f->have_cur = 1;
    } else if (f->have_cur) {
        f->cur_cut |= cut;
        if (append_bounded(&f->cur, "\n", 1, &f->cur_cut) != 0 ||
            append_bounded(&f->cur, line, strlen(line), &f->cur_cut) != 0)
            f->st->malformed++;
    } else if (line[0] != '\0' && !late) {
        f->st->malformed++; /* a continuation with no message before it */
    }
}

/* ---------------------------------------------------------------- csvlog */

static const char *csv_field(const struct tq_pglog_format *f, int i)
{
    return i < f->csv_nf ? f->csv.data + f->csv_off[i] : "";
}

static void csv_record(struct tq_pglog_format *f)
{
    /* log_time,user,db,pid,conn,session,line,tag,session_start,vxid,xid,severity,state,
     * message,detail,... */
    if (f->csv_nf < 15) {
        f->st->malformed++;
        return;
    }
    struct tq_pglog_entry e;
    tq_pglog_entry_init(&e);
    e.late = f->csv_late;
    int64_t t;
    const char *ts = csv_field(f, 0);
    if (tq_pglog_prefix_time(ts, strlen(ts), &t) == 0)
        e.time_ms = t;
    snprintf(e.user, sizeof e.user, "%s", csv_field(f, 1));
    snprintf(e.db, sizeof e.db, "%s", csv_field(f, 2));
    e.pid = strtol(csv_field(f, 3), NULL, 10);
    const char *sev = csv_field(f, 11);
    e.sev = strcmp(sev, "LOG") == 0      ? TQ_PGLOG_SEV_LOG
            : strcmp(sev, "DETAIL") == 0 ? TQ_PGLOG_SEV_DETAIL
                                         : TQ_PGLOG_SEV_OTHER;
    e.body = csv_field(f, 13);
    f->st->entries += !e.late; /* a late one is the next chunk's to count */
    f->sink.entry(f->sink.ctx, &e);
    const char *detail = csv_field(f, 14);
    if (*detail && e.sev == TQ_PGLOG_SEV_LOG) {
        e.sev = TQ_PGLOG_SEV_DETAIL;
        e.body = detail;
        /* the detail belongs to this entry, not a separate one */
        if (f->sink.pending(f->sink.ctx, e.pid))
            f->sink.entry(f->sink.ctx, &e);
    }
}

static int csv_starts(const char *line);

static void csv_line(struct tq_pglog_format *f, const char *line, int late)
{
    if (f->csv_skip) { /* after a record given up: resume at the next record's start */
        if (!csv_starts(line))
            return;
        f->csv_skip = 0;
    }
    if (!f->csv_active) {
        f->csv_late = late;
        tq_buf_reset(&f->csv);
        f->csv_nf = 0;
        f->csv_inq = 0;
        f->csv_active = 1;
        f->csv_off[f->csv_nf++] = 0;
        if (tq_buf_append(&f->csv, "", 0) != 0)
            goto fail;
    } else if (f->csv.len + strlen(line) + 1 > TQ_PGLOG_MAX_LINE) {
        /* a quote left open (or a field of more than the limit): the record ends here,
         * rather than swallowing the rest of the file */
        f->csv_skip = 1;
        goto fail;
    } else if (tq_buf_append(&f->csv, "\n", 1) != 0) { /* a newline inside a quoted field */
        goto fail;
    }
    /* runs of plain characters are appended at once: a call per byte costs a third of the
     * time of a csvlog */
    for (const char *c = line; *c;) {
        if (f->csv_inq) {
            if (*c == '"') {
                if (c[1] == '"' && tq_buf_append(&f->csv, "\"", 1) != 0)
                    goto fail;
                if (c[1] != '"')
                    f->csv_inq = 0;
                c += c[1] == '"' ? 2 : 1;
                continue;
            }
            size_t n = strcspn(c, "\"");
            if (tq_buf_append(&f->csv, c, n) != 0)
                goto fail;
            c += n;
        } else if (*c == '"') {
            f->csv_inq = 1;
            c++;
        } else if (*c == ',') {
            if (tq_buf_append(&f->csv, "\0", 1) != 0)
                goto fail;
            if (f->csv_nf < 32)
                f->csv_off[f->csv_nf++] = f->csv.len;
            else
                f->csv_off[31] = f->csv.len; /* extra fields: folded into the last */
            c++;
        } else {
            size_t n = strcspn(c, "\",");
            if (tq_buf_append(&f->csv, c, n) != 0)
                goto fail;
            c += n;
        }
    }
    if (f->csv_inq)
        return; /* the record goes on in the next line */
    f->csv_active = 0;
    csv_record(f);
    if (f->csv.cap > KEEP_CAP)
        tq_buf_free(&f->csv);
    return;
fail:
    f->csv_active = 0;
    f->st->malformed++;
    if (f->csv.cap > KEEP_CAP)
        tq_buf_free(&f->csv);
}

/* ---------------------------------------------------------------- syslog */

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
        snprintf(tmp, sizeof tmp, "%.*s", (int)strcspn(line, " "), line);
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

/* The header's host: the word before the "ident[pid]:" word ("May  1 10:00:00 HOST
 * postgres[1]: ..." or "2024-05-01T10:00:00+00:00 HOST postgres[1]: ..."); "" if none. */
static void syslog_host(const char *line, const char *text, char *out, size_t outsize)
{
    out[0] = '\0';
    const char *ident = strstr(line, "]: [");
    if (ident == NULL || ident > text)
        return;
    while (ident > line && ident[-1] != ' ') /* back to the ident word's start */
        ident--;
    const char *e = ident;
    while (e > line && e[-1] == ' ')
        e--;
    const char *b = e;
    while (b > line && b[-1] != ' ')
        b--;
    /* "Mon DD HH:MM:SS ident[pid]:" has no host: the word before is the time */
    if (b == e || memchr(b, ':', (size_t)(e - b)) != NULL || b == line)
        return;
    snprintf(out, outsize, "%.*s", (int)(e - b), b);
}

/* rsyslog writes control characters as #ooo (a tab is #011). */
static int syslog_decode(struct tq_buf *b, const char *s)
{
    while (*s) {
        size_t n = strcspn(s, "#"); /* the text up to an escape, at once */
        if (tq_buf_append(b, s, n) != 0)
            return -1;
        s += n;
        if (*s == '\0')
            break;
        if (s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
            s[3] <= '7') {
            int v = (s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0');
            if (v < 32 || v == 127) {
                char c = (char)v;
                if (tq_buf_append(b, &c, 1) != 0)
                    return -1;
                s += 4;
                continue;
            }
        }
        if (tq_buf_append(b, s, 1) != 0) /* a '#' that is not an escape */
            return -1;
        s++;
    }
    return 0;
}

static void syslog_release(struct tq_pglog_format *f, struct slmsg *m)
{
    f->sl_held -= m->text.len;
    if (!m->late)
        f->sl_open_early--;
    m->used = 0;
    if (m->text.cap > KEEP_CAP)
        tq_buf_free(&m->text);
}

static void syslog_finish(struct tq_pglog_format *f, struct slmsg *m)
{
    if (!m->used)
        return;
    struct tq_pglog_entry e;
    tq_pglog_entry_init(&e);
    e.late = m->late;
    if (m->cut && !m->late)
        f->st->truncated++;
    if (tq_pglog_prefix_parse_with(f->prefix, tq_buf_str(&m->text), &e) != 0) {
        f->st->skipped += !m->late; /* e.g. a message with no severity */
        f->st->entries += !m->late;
        syslog_release(f, m);
        return;
    }
    if (e.time_ms == TQ_TIME_UNSET)
        e.time_ms = m->header_ms;
    e.pid = m->pid;
    memcpy(e.host, m->host, sizeof e.host);
    f->st->entries += !e.late; /* a late one is the next chunk's to count */
    f->sink.entry(f->sink.ctx, &e);
    syslog_release(f, m); /* after the call: e.body points into m->text */
}

/* Over the budget of open messages: finishes the least recently used ones (not m). */
static void syslog_trim(struct tq_pglog_format *f, const struct slmsg *keep)
{
    while (f->sl_held > TQ_PGLOG_MAX_HELD) {
        struct slmsg *oldest = NULL;
        for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++)
            if (f->sl[i].used && &f->sl[i] != keep &&
                (oldest == NULL || f->sl[i].last_use < oldest->last_use))
                oldest = &f->sl[i];
        if (oldest == NULL)
            return;
        syslog_finish(f, oldest);
    }
}

static void syslog_line(struct tq_pglog_format *f, const char *line, int late)
{
    long pid, seq, part;
    const char *text;
    if (syslog_parse(line, &pid, &seq, &part, &text) != 0) {
        if (*line)
            f->st->skipped++; /* another program's line */
        return;
    }
    size_t h = (size_t)((unsigned long)pid * 2654435761u) % TQ_PGLOG_MAX_PIDS;
    struct slmsg *m = NULL, *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < TQ_PGLOG_MAX_PIDS; i++) {
        struct slmsg *s = &f->sl[(h + i) % TQ_PGLOG_MAX_PIDS];
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
        syslog_finish(f, m); /* a new message from this backend */
        free_slot = m;
        m = NULL;
    }
    if (m == NULL) {
        if (part != 1) {
            /* a continuation whose first line we never saw: in a chunk's first lines, the
             * rest of a message the chunk before reads */
            if (!f->head && !late)
                f->st->malformed++;
            return;
        }
        if (free_slot == NULL) {
            syslog_finish(f, oldest);
            free_slot = oldest;
        }
        m = free_slot;
        m->used = 1;
        m->late = late;
        m->cut = 0;
        if (!late)
            f->sl_open_early++;
        m->pid = pid;
        m->seq = seq;
        m->header_ms = syslog_time(line);
        syslog_host(line, text, m->host, sizeof m->host);
        tq_buf_reset(&m->text);
        if (tq_buf_append(&m->text, "", 0) != 0)
            goto fail;
    } else {
        size_t before = m->text.len;
        int rc = append_bounded(&m->text, "\n", 1, &m->cut);
        f->sl_held += m->text.len - before;
        if (rc != 0)
            goto fail;
    }
    m->last_use = ++f->tick;
    size_t before = m->text.len;
    int rc = m->text.len < TQ_PGLOG_MAX_LINE ? syslog_decode(&m->text, text) : 0;
    if (m->text.len > TQ_PGLOG_MAX_LINE) { /* decoded past the limit: cut back */
        m->text.len = TQ_PGLOG_MAX_LINE;
        m->text.data[m->text.len] = '\0';
        m->cut = 1;
    } else if (m->text.len == TQ_PGLOG_MAX_LINE && *text) {
        m->cut = 1;
    }
    f->sl_held += m->text.len - before;
    if (rc != 0)
        goto fail;
    syslog_trim(f, m);
    return;
fail:
    syslog_release(f, m);
    f->st->malformed++;
}

/* ---------------------------------------------------------------- files */

static int csv_starts(const char *line)
{
    /* "YYYY-MM-DD HH:MM:SS[.fff] ZONE," */
    if (strlen(line) > 20 && isdigit((unsigned char)line[0]) && line[4] == '-' && line[10] == ' ' &&
        line[13] == ':') {
        const char *c = line + 19;
        if (*c == '.')
            c += 1 + strspn(c + 1, "0123456789");
        if (*c == ' ')
            c += 1 + strcspn(c + 1, " ,");
        if (*c == ',')
            return 1;
    }
    return 0;
}

enum tq_pglog_format_kind tq_pglog_format_detect(const char *line)
{
    long pid, seq, part;
    const char *text;
    if (*line == '\0')
        return TQ_PGLOG_FMT_UNKNOWN;
    if (syslog_parse(line, &pid, &seq, &part, &text) == 0)
        return TQ_PGLOG_FMT_SYSLOG;
    if (csv_starts(line))
        return TQ_PGLOG_FMT_CSV;
    return isdigit((unsigned char)line[0]) ? TQ_PGLOG_FMT_STDERR_DIGIT : TQ_PGLOG_FMT_STDERR;
}

int tq_pglog_format_starts(enum tq_pglog_format_kind kind, const char *line)
{
    long pid, seq, part;
    const char *text;
    switch (kind) {
    case TQ_PGLOG_FMT_STDERR:
        return stderr_starts(line, 0);
    case TQ_PGLOG_FMT_STDERR_DIGIT:
        return stderr_starts(line, 1);
    case TQ_PGLOG_FMT_CSV:
        return csv_starts(line);
    case TQ_PGLOG_FMT_SYSLOG:
        return syslog_parse(line, &pid, &seq, &part, &text) == 0 && part == 1;
    default:
        return 0;
    }
}

void tq_pglog_format_end(struct tq_pglog_format *f)
{
    stderr_finish(f);
    if (f->csv_active) {
        f->csv_active = 0;
        f->st->malformed++;
    }
    for (int i = 0; i < TQ_PGLOG_MAX_PIDS; i++)
        syslog_finish(f, &f->sl[i]);
    f->fmt = F_UNKNOWN;
    f->digit_prefix = -1;
    f->head = 0;
    f->csv_skip = 0;
}

void tq_pglog_format_begin(struct tq_pglog_format *f, enum tq_pglog_format_kind kind, int head)
{
    f->head = head;
    f->digit_prefix = -1;
    switch (kind) {
    case TQ_PGLOG_FMT_STDERR:
    case TQ_PGLOG_FMT_STDERR_DIGIT:
        f->fmt = F_STDERR;
        f->digit_prefix = kind == TQ_PGLOG_FMT_STDERR_DIGIT;
        break;
    case TQ_PGLOG_FMT_CSV:
        f->fmt = F_CSV;
        break;
    case TQ_PGLOG_FMT_SYSLOG:
        f->fmt = F_SYSLOG;
        break;
    default:
        f->fmt = F_UNKNOWN;
    }
}

int tq_pglog_format_open_early(const struct tq_pglog_format *f)
{
    return (f->have_cur && !f->cur_late) + (f->csv_active && !f->csv_late) + f->sl_open_early;
}

void tq_pglog_format_line(struct tq_pglog_format *f, const char *line, int late, int cut)
{
    if (f->fmt == F_UNKNOWN) {
        enum tq_pglog_format_kind k = tq_pglog_format_detect(line);
        if (k == TQ_PGLOG_FMT_UNKNOWN)
            return;
        f->fmt = k == TQ_PGLOG_FMT_SYSLOG ? F_SYSLOG : k == TQ_PGLOG_FMT_CSV ? F_CSV : F_STDERR;
    }
    if (cut && !late)
        f->st->truncated++;
    switch (f->fmt) {
    case F_STDERR:
        stderr_line(f, line, late, 0);
        break;
    case F_CSV:
        csv_line(f, line, late);
        break;
    case F_SYSLOG:
        syslog_line(f, line, late);
        break;
    default:
        break;
    }
}

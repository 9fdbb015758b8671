/* fuzz_pglog — the PostgreSQL log reader (tq_pglog_open/next: line, prefix, csvlog and
 * syslog parsing, statement joining, parameter substitution) and the statement → tile
 * analysis (tq_pglog_sql_query_tile, tq_pglog_sql_bbox_to_metatile).
 *
 * Input: byte 0 picks how the rest is presented, the rest is log text:
 *   bits 0-1  0 as it is; 1 each line behind a stderr prefix ('%m [%p] user=%u,db=%d ');
 *             2 each line as a syslog line ("postgres[pid]: [seq-part] "; a line starting
 *             with a tab continues the message before it); 3 each line as a csvlog record
 *             (the message field; what follows a '|' goes into the detail field)
 *   bits 2-3  the metatile size option: 1, 2, 4, 8
 *   bit 4     buffer option 0 (else the default)
 *   bit 5     CRLF line ends
 *   bits 6-7  how many backends the presented lines come from, in turn: 3, 1, 10 (more than
 *             the reader's 8 slots here, see CMakeLists.txt), 3
 * The text is written to a memfd and read back through its /proc/self/fd path.
 * Properties of every record: the tile is valid and inside its metatile, the metatile is
 * square, no larger than the option and inside the grid, each metatile's records come
 * together (first one flagged), durations are finite and >= 0 and add up to the metatile's,
 * the counters agree with the records. Of every query (the text as SQL): a tile found is on
 * the grid and its bounds map back to the same bounds; the tables list fits its buffer and a
 * shorter buffer holds a prefix of it. */
#define _GNU_SOURCE
#include "tq_fuzz.h"

#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tq_pglog.h"
#include "tq_pglog_sql.h"

static const uint32_t metatiles[4] = {1, 2, 4, 8};
static const int backends[4] = {3, 1, 10, 3};

struct text {
    char *p;
    size_t len, cap;
};

static void add(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        TQ_FUZZ_CHECK(t->p != NULL);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void adds(struct text *t, const char *s)
{
    add(t, s, strlen(s));
}

/* The log file's contents for mode byte m over body[0..n). */
static void present(uint8_t m, const uint8_t *body, size_t n, struct text *out)
{
    const char *eol = m & 0x20 ? "\r\n" : "\n";
    long seq = 0, part = 0;
    int npids = backends[m >> 6];

    if ((m & 3) == 0) {
        add(out, (const char *)body, n);
        return;
    }
    for (size_t i = 0, line = 0; i < n; line++) {
        const uint8_t *nl = memchr(body + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (body + i)) : n - i;
        const char *s = (const char *)body + i;
        char hdr[160];
        int pid = 100 + (int)(line % (size_t)npids);

        switch (m & 3) {
        case 1:
            snprintf(hdr, sizeof hdr, "2024-05-01 10:00:%02zu.%03zu UTC [%d] user=u,db=d ",
                     line % 60, line % 1000, pid);
            adds(out, hdr);
            add(out, s, len);
            break;
        case 2:
            if (len > 0 && s[0] == '\t' && seq > 0) {
                part++;
            } else {
                seq++;
                part = 1;
            }
            snprintf(hdr, sizeof hdr, "May  1 10:00:%02zu dbhost postgres[%d]: [%ld-%ld] ",
                     line % 60, 100 + (int)(seq % npids), seq, part);
            adds(out, hdr);
            add(out, s, len);
            break;
        default: {
            const char *bar = memchr(s, '|', len);
            size_t mlen = bar ? (size_t)(bar - s) : len;
            snprintf(hdr, sizeof hdr,
                     "2024-05-01 10:00:%02zu.000 UTC,u,d,%d,127.0.0.1:5000,s.1,%zu,SELECT,"
                     "2024-05-01 09:59:00 UTC,3/1,0,LOG,00000,\"",
                     line % 60, pid, line);
            adds(out, hdr);
            for (size_t k = 0; k < len; k++) {
                if (k == mlen) {
                    adds(out, "\",\"");
                    continue;
                }
                add(out, s[k] == '"' ? "\"\"" : s + k, 1 + (s[k] == '"'));
            }
            adds(out, "\",,,,,,,,,psql,client backend,,0");
            break;
        }
        }
        adds(out, eol);
        i += len + 1;
    }
}

static void check_records(const char *path, const struct tq_pglog_options *opt)
{
    const char *files[1] = {path};
    struct tq_pglog *p = tq_pglog_open(files, 1, opt);
    struct tq_report_rec rec;
    struct tq_report_input st;
    struct tq_metatile cur = {0};
    uint32_t left = 0, firsts = 0;
    double sum = 0, meta_ms = 0;
    char err[256] = "";
    int rc;

    TQ_FUZZ_CHECK(p != NULL);
    while ((rc = tq_pglog_next(p, &rec, err, sizeof err)) == 1) {
        TQ_FUZZ_CHECK(tq_tile_valid(rec.tile.z, rec.tile.x, rec.tile.y) == 0);
        TQ_FUZZ_CHECK(tq_metatile_contains(&rec.meta, rec.tile));
        TQ_FUZZ_CHECK(rec.meta.w >= 1 && rec.meta.w == rec.meta.h && rec.meta.w <= opt->metatile);
        TQ_FUZZ_CHECK(rec.meta.mx + rec.meta.w <= tq_tile_grid_size(rec.meta.z));
        TQ_FUZZ_CHECK(rec.meta.my + rec.meta.h <= tq_tile_grid_size(rec.meta.z));
        TQ_FUZZ_CHECK(rec.tileset != NULL && rec.tables != NULL && rec.reason != NULL);
        TQ_FUZZ_CHECK(isfinite(rec.duration_ms) && rec.duration_ms >= 0);
        TQ_FUZZ_CHECK(isfinite(rec.metatile_ms) && rec.metatile_ms >= 0);
        if (rec.meta_first) {
            TQ_FUZZ_CHECK(left == 0);
            TQ_FUZZ_CHECK(rec.tile.x == rec.meta.mx && rec.tile.y == rec.meta.my);
            cur = rec.meta;
            left = tq_metatile_count(&rec.meta);
            meta_ms = rec.metatile_ms;
            sum = 0;
            firsts++;
        } else {
            TQ_FUZZ_CHECK(left > 0 && memcmp(&cur, &rec.meta, sizeof cur) == 0);
            TQ_FUZZ_CHECK(rec.metatile_ms == meta_ms);
        }
        sum += rec.duration_ms;
        left--;
        if (left == 0)
            TQ_FUZZ_CHECK(fabs(sum - meta_ms) <= 1e-9 * (meta_ms > 1 ? meta_ms : 1));
    }
    TQ_FUZZ_CHECK(rc == 0 && left == 0);
    tq_pglog_stats(p, &st);
    TQ_FUZZ_CHECK(st.present == 1 && st.files == 1 && st.render_queries == firsts);
    TQ_FUZZ_CHECK(tq_pglog_next(p, &rec, err, sizeof err) == 0);
    tq_pglog_close(p);
}

static void check_query(const char *sql, const struct tq_pglog_options *opt)
{
    char tables[512], small[6];
    struct tq_metatile m, back;

    memset(tables, 'x', sizeof tables);
    enum tq_pglog_sql_kind k =
        tq_pglog_sql_query_tile(sql, opt->buffer, opt->metatile, &m, tables, sizeof tables);
    TQ_FUZZ_CHECK(k == TQ_PGLOG_SQL_NONE || k == TQ_PGLOG_SQL_TILE || k == TQ_PGLOG_SQL_OFFGRID);
    TQ_FUZZ_CHECK(memchr(tables, '\0', sizeof tables) != NULL);
    if (k == TQ_PGLOG_SQL_NONE)
        TQ_FUZZ_CHECK(tables[0] == '\0');
    memset(small, 'x', sizeof small);
    TQ_FUZZ_CHECK(
        tq_pglog_sql_query_tile(sql, opt->buffer, opt->metatile, &back, small, sizeof small) == k);
    TQ_FUZZ_CHECK(memchr(small, '\0', sizeof small) != NULL);
    TQ_FUZZ_CHECK(strncmp(small, tables, strlen(small)) == 0);
    if (k != TQ_PGLOG_SQL_TILE)
        return;
    TQ_FUZZ_CHECK(memcmp(&m, &back, sizeof m) == 0);
    TQ_FUZZ_CHECK(m.w >= 1 && m.w == m.h && m.w <= opt->metatile);
    TQ_FUZZ_CHECK(tq_tile_valid(m.z, m.mx, m.my) == 0);
    TQ_FUZZ_CHECK(m.mx + m.w <= tq_tile_grid_size(m.z) && m.my + m.h <= tq_tile_grid_size(m.z));
    TQ_FUZZ_CHECK(m.mx % m.w == 0 && m.my % m.h == 0);

    /* The metatile's own bounds map to a (meta)tile with the same bounds. */
    struct tq_bbox b = tq_metatile_bounds(&m), b2;
    double side = (b.xmax - b.xmin) / m.w, tol = 2e-3 * side;
    TQ_FUZZ_CHECK(tq_pglog_sql_bbox_to_metatile(&b, 0, m.w, &back) == 0);
    b2 = tq_metatile_bounds(&back);
    TQ_FUZZ_CHECK(fabs(b2.xmin - b.xmin) <= tol && fabs(b2.xmax - b.xmax) <= tol &&
                  fabs(b2.ymin - b.ymin) <= tol && fabs(b2.ymax - b.ymax) <= tol);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    struct text log = {0};
    struct tq_pglog_options opt = {0};

    if (size == 0)
        return 0;
    if (fd < 0) {
        fd = memfd_create("tq_fuzz_pglog", 0);
        TQ_FUZZ_CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    opt.metatile = metatiles[(data[0] >> 2) & 3];
    opt.buffer = data[0] & 0x10 ? 0 : TQ_PGLOG_DEFAULT_BUFFER;
    present(data[0], data + 1, size - 1, &log);
    TQ_FUZZ_CHECK(ftruncate(fd, 0) == 0);
    TQ_FUZZ_CHECK(log.len == 0 || pwrite(fd, log.p, log.len, 0) == (ssize_t)log.len);
    check_records(path, &opt);

    char *sql = tq_fuzz_cstr(data + 1, size - 1);
    check_query(sql, &opt);
    free(sql);
    free(log.p);
    return 0;
}

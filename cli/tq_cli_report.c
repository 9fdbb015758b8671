/* tileq report — the duplicate-render report, from tileq's render log in PostgreSQL or
 * from PostgreSQL server logs (--pglog). The same aggregation (tq_report) serves both. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "tq_cli.h"
#include "tq_config.h"
#include "tq_pglog.h"
#include "tq_pglog_prefix.h"
#include "tq_pglog_rows.h"
#include "tq_queue.h"
#include "tq_redis.h"
#include "tq_renderlog.h"
#include "tq_pgconn.h"
#include "tq_report.h"
#include "tq_secret.h"
#include "tq_rlsource.h"
#include "tq_tile.h"
#include "tq_tileset.h"
#include "tq_time.h"

static const char REPORT_USAGE[] =
    "usage: tileq [-c FILE] report [OPTIONS]              from tileq.render_log\n"
    "       tileq report --pglog [OPTIONS] FILE...         from PostgreSQL logs\n"
    "\n"
    "Renders, distinct tiles, duplicate renders (renders - distinct tiles), the render\n"
    "time spent on duplicates; per zoom; the top tiles and metatiles by render count.\n"
    "\n"
    "  --since T, --until T   time window: 2024-05-01[T10:00[:00][Z|+02:00]], @UNIX,\n"
    "                         or an age: 90s, 15m, 2h, 7d (since <= t < until)\n"
    "  --tileset NAME         one tileset (--pglog: one database)\n"
    "  --zoom A[-B]           one zoom or a range\n"
    "  --top N                tiles and metatiles listed (default 20)\n"
    "  --format F             text (default), csv (one row per top tile), json, html;\n"
    "                         --pglog also: renders (CSV, one row per render: host,\n"
    "                         database, user, tables, timestamp, duration_ms, bbox, z, x,\n"
    "                         y, metatile, query)\n"
    "  -o, --output FILE      write there instead of stdout\n"
    "render log:\n"
    "  -c, --config FILE      config: pg_conninfo (or TQ_PG_CONNINFO), redis_url\n"
    "  --pg CONNINFO          PostgreSQL to read (instead of the config)\n"
    "  --pg-password-file F   its password: the first line of F (else the config's\n"
    "                         pg_password_file, TQ_PG_PASSWORD_FILE, PGPASSWORD, ~/.pgpass)\n"
    "  --flush                first move pending entries from Redis into the table\n"
    "  --redis URL            Redis for --flush (instead of the config / TQ_REDIS_URL)\n"
    "  --redis-user NAME      its ACL user (else the config's, TQ_REDIS_USER, the URL's)\n"
    "  --redis-password-file F  its password: the first line of F (else the config's,\n"
    "                         TQ_REDIS_PASSWORD, TQ_REDIS_PASSWORD_FILE, the URL's)\n"
    "  A password in --pg or --redis is visible to every user through ps: tileq warns\n"
    "  and blanks it from its own command line, but use a file or the environment.\n"
    "PostgreSQL logs:\n"
    "  --pglog                the arguments are log files (stderr, csvlog or syslog,\n"
    "                         plain or .gz; - = stdin)\n"
    "  --buffer F             largest margin around a tile's bounds, as a fraction of\n"
    "                         the tile (default 0.25)\n"
    "  --metatile N           the stack renders NxN metatiles: bounds covering one count\n"
    "                         as a render of each of its tiles (default 1)\n"
    "  --prefix FORMAT        the server's log_line_prefix (e.g. '%t [%p]: user=%u,db=%d ';\n"
    "                         escapes %t %m %n %p %u %d %a %h %r %l %c %v %x %e %q ...);\n"
    "                         without it, time, pid, user and database are guessed\n"
    "  --threads N            parsing threads (default: one per core)\n"
    "  --load CONNINFO        load the renders (the rows of --format renders) into a table\n"
    "                         of that PostgreSQL, created if missing, in batches\n"
    "  --table NAME           the table for --load (default pglog_renders; SCHEMA.NAME)\n";

enum {
    OPT_SINCE = 256,
    OPT_UNTIL,
    OPT_TILESET,
    OPT_ZOOM,
    OPT_TOP,
    OPT_FORMAT,
    OPT_PG,
    OPT_PGLOG,
    OPT_BUFFER,
    OPT_METATILE,
    OPT_FLUSH,
    OPT_REDIS,
    OPT_PG_PASSWORD_FILE,
    OPT_REDIS_USER,
    OPT_REDIS_PASSWORD_FILE,
    OPT_THREADS,
    OPT_PREFIX,
    OPT_LOAD,
    OPT_TABLE
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("tileq report: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(tileq report --help for usage)\n", stderr);
    return TQ_EXIT_USAGE;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* A password given on the command line (--pg, --redis): says that ps shows it, and blanks
 * it from this process's argv (what ps reads from now on) by writing the redacted value
 * over it, cut to the original's length. Returns a copy of the original for us to use
 * (malloc'd, the caller frees), or NULL out of memory. */
static char *take_secret_arg(char *arg, const char *opt, const char *instead, int is_url)
{
    char shown[4096];
    char *copy = strdup(arg);
    if (copy == NULL)
        return NULL;
    if (is_url ? !tq_secret_url_has_password(arg) : !tq_secret_conninfo_has_password(arg))
        return copy;
    fprintf(stderr,
            "tileq report: warning: %s holds a password, which ps shows to every user of "
            "this host; use %s\n",
            opt, instead);
    if (is_url)
        tq_secret_redact_url(copy, shown, sizeof shown);
    else
        tq_secret_redact_conninfo(copy, shown, sizeof shown);
    size_t len = strlen(arg);
    memset(arg, 0, len);
    memcpy(arg, shown, strlen(shown) < len ? strlen(shown) : len);
    return copy;
}

/* Reads the password file path (the option opt's) into *out. 0, or -1 (message printed). */
static int read_password(const char *path, const char *opt, char **out)
{
    char err[600];
    if (tq_secret_read_file(path, out, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "tileq report: %s: %s\n", opt, err);
    return -1;
}

/* getenv(var) when set and not empty, else NULL. */
static const char *env_nonempty(const char *var)
{
    const char *v = getenv(var);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Moves everything pending in the Redis render log into PostgreSQL. Redis is cfg's (through
 * its sentinels when configured) when cfg is given, else the one at redis_url; user and
 * password (NULL: the URL's) are the credentials. */
static int flush_renderlog(const struct tq_config *cfg, const char *redis_url, const char *user,
                           const char *password, PGconn *pg)
{
    char err[512];
    int rc = -1;
    struct tq_redis_target target = {.url = redis_url};
    redisContext *c = NULL;

    if (cfg != NULL)
        target = tq_config_redis_target(cfg);
    target.user = user;
    target.password = password;
    c = tq_redis_connect(&target, 5000, 0, NULL, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "tileq report: Redis: %s\n", err);
        goto cleanup;
    }
    for (;;) {
        int n = tq_renderlog_flush(c, pg, "tileq-report", 5000, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "tileq report: flushing the render log: %s\n", err);
            goto cleanup;
        }
        if (n == 0)
            break;
    }
    rc = 0;
cleanup:
    if (c)
        redisFree(c);
    return rc;
}

/* --format renders / --load: one row per render, as CSV into output or into a table. */
static int report_rows(struct tq_pglog *pl, const struct tq_report_filter *filter,
                       const char *output, const char *load, const char *table)
{
    char err[1024];
    struct tq_report_rec rec;
    struct tq_pglog_extra x;
    struct tq_buf line = TQ_BUF_INIT;
    struct tq_pglog_load *l = NULL;
    FILE *out = stdout;
    unsigned long long n = 0;
    int rc = TQ_EXIT_FAIL, got;

    if (load != NULL && (l = tq_pglog_load_open(load, table, err, sizeof err)) == NULL) {
        fprintf(stderr, "tileq report: --load: %s\n", err);
        goto cleanup;
    }
    if (l == NULL && output != NULL && strcmp(output, "-") != 0 &&
        (out = fopen(output, "w")) == NULL) {
        fprintf(stderr, "tileq report: %s: %s\n", output, strerror(errno));
        out = stdout;
        goto cleanup;
    }
    if (l == NULL)
        fputs(TQ_PGLOG_ROWS_HEADER "\n", out);
    while ((got = tq_pglog_next(pl, &rec, err, sizeof err)) == 1) {
        if (!rec.meta_first || !tq_pglog_rows_match(filter, &rec))
            continue; /* one row per render: its first tile's record */
        tq_pglog_extra(pl, &x);
        tq_buf_reset(&line);
        if (tq_pglog_rows_csv(&line, &rec, &x) != 0) {
            fprintf(stderr, "tileq report: out of memory\n");
            goto cleanup;
        }
        if (l != NULL) {
            if (tq_pglog_load_row(l, line.data, line.len, err, sizeof err) != 0) {
                fprintf(stderr, "tileq report: --load: %s\n", err);
                goto cleanup;
            }
        } else {
            fwrite(line.data, 1, line.len, out);
        }
        n++;
    }
    if (got < 0) {
        fprintf(stderr, "tileq report: %s\n", err);
        goto cleanup;
    }
    if (l != NULL) {
        struct tq_pglog_load *lc = l;
        l = NULL;
        if (tq_pglog_load_close(lc, &n, err, sizeof err) != 0) {
            fprintf(stderr, "tileq report: --load: %s\n", err);
            goto cleanup;
        }
        struct tq_report_input in;
        tq_pglog_stats(pl, &in);
        fprintf(stderr,
                "tileq report: %llu renders loaded into %s (%llu lines, %llu off-grid, "
                "%llu malformed, %llu truncated)\n",
                n, table, (unsigned long long)in.lines, (unsigned long long)in.unresolved,
                (unsigned long long)in.malformed, (unsigned long long)in.truncated);
    }
    rc = TQ_EXIT_OK;
cleanup:
    tq_pglog_load_close(l, NULL, NULL, 0);
    if (out != stdout && fclose(out) != 0 && rc == TQ_EXIT_OK) {
        fprintf(stderr, "tileq report: %s: %s\n", output, strerror(errno));
        rc = TQ_EXIT_FAIL;
    }
    if (out == stdout && fflush(stdout) != 0)
        rc = TQ_EXIT_FAIL;
    tq_buf_free(&line);
    return rc;
}

/* A usage error inside tq_cli_report: its message, then the one exit (cleanup). */
#define FAIL_USAGE(...)                                                                            \
    do {                                                                                           \
        rc = usage_error(__VA_ARGS__);                                                             \
        goto cleanup;                                                                              \
    } while (0)

int tq_cli_report(const char *config_path, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"tileset", required_argument, NULL, OPT_TILESET},
        {"zoom", required_argument, NULL, OPT_ZOOM},
        {"top", required_argument, NULL, OPT_TOP},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"pg", required_argument, NULL, OPT_PG},
        {"pglog", no_argument, NULL, OPT_PGLOG},
        {"buffer", required_argument, NULL, OPT_BUFFER},
        {"metatile", required_argument, NULL, OPT_METATILE},
        {"flush", no_argument, NULL, OPT_FLUSH},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"pg-password-file", required_argument, NULL, OPT_PG_PASSWORD_FILE},
        {"redis-user", required_argument, NULL, OPT_REDIS_USER},
        {"redis-password-file", required_argument, NULL, OPT_REDIS_PASSWORD_FILE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"load", required_argument, NULL, OPT_LOAD},
        {"table", required_argument, NULL, OPT_TABLE},
        {NULL, 0, NULL, 0}};
    struct tq_report_filter filter = {TQ_TIME_UNSET, TQ_TIME_UNSET, NULL, 0, TQ_TILE_MAX_ZOOM};
    struct tq_pglog_options pgopt = {TQ_PGLOG_DEFAULT_BUFFER, 1, 0, 0, NULL, 0};
    enum tq_report_format fmt = TQ_FMT_TEXT;
    const char *pg_conninfo = NULL, *redis_url = NULL, *output = NULL;
    const char *pg_pwfile = NULL, *redis_pwfile = NULL, *redis_user = NULL;
    char *pg_arg = NULL, *redis_arg = NULL, *load_arg = NULL, *pg_password = NULL,
         *redis_password = NULL;
    int pglog = 0, flush = 0, rows = 0, rc = TQ_EXIT_FAIL, opt;
    const char *prefix_fmt = NULL, *load = NULL, *table = "pglog_renders";
    struct tq_pglog_prefix *prefix = NULL;
    long top = 20;
    int64_t now = tq_now_ms();
    char err[1024];
    struct tq_config *cfg = NULL;
    struct tq_report *report = NULL;
    struct tq_pglog *pl = NULL;
    struct tq_rlsource *src = NULL;
    PGconn *pg = NULL;
    FILE *out = stdout;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:o:h", opts, NULL)) != -1) {
        const char *a = optarg;
        long v;
        switch (opt) {
        case 'c':
            config_path = a;
            break;
        case 'o':
            output = a;
            break;
        case 'h':
            fputs(REPORT_USAGE, stdout);
            rc = TQ_EXIT_OK;
            goto cleanup;
        case OPT_SINCE:
            if (tq_report_time_parse(a, now, &filter.since_ms) != 0)
                FAIL_USAGE("--since: bad time '%s'", a);
            break;
        case OPT_UNTIL:
            if (tq_report_time_parse(a, now, &filter.until_ms) != 0)
                FAIL_USAGE("--until: bad time '%s'", a);
            break;
        case OPT_TILESET:
            filter.tileset = a;
            break;
        case OPT_ZOOM:
            if (tq_zoom_range_parse(a, &filter.zmin, &filter.zmax, NULL, 0) != 0)
                FAIL_USAGE("--zoom: '%s' is not Z or A-B with 0 <= A <= B <= %d", a,
                           TQ_TILE_MAX_ZOOM);
            break;
        case OPT_TOP:
            if (parse_long(a, 0, 10000000, &top) != 0)
                FAIL_USAGE("--top: '%s' is not a count (0..10000000)", a);
            break;
        case OPT_FORMAT:
            rows = strcmp(a, "renders") == 0;
            if (!rows && tq_report_format_parse(a, &fmt) != 0)
                FAIL_USAGE("--format: '%s' is not text, csv, json, html or renders", a);
            break;
        case OPT_PG:
            free(pg_arg);
            pg_arg = take_secret_arg(optarg, "--pg",
                                     "--pg-password-file FILE, PGPASSWORD or ~/.pgpass", 0);
            if (pg_arg == NULL)
                goto oom;
            pg_conninfo = pg_arg;
            break;
        case OPT_PG_PASSWORD_FILE:
            pg_pwfile = a;
            break;
        case OPT_REDIS_USER:
            redis_user = a;
            break;
        case OPT_REDIS_PASSWORD_FILE:
            redis_pwfile = a;
            break;
        case OPT_PGLOG:
            pglog = 1;
            break;
        case OPT_BUFFER: {
            char *end;
            double b = strtod(a, &end);
            if (end == a || *end != '\0' || !(b >= 0 && b <= 1))
                FAIL_USAGE("--buffer: '%s' is not a fraction of a tile in [0, 1]", a);
            pgopt.buffer = b;
            break;
        }
        case OPT_METATILE:
            if (parse_long(a, 1, TQ_METATILE_MAX, &v) != 0)
                FAIL_USAGE("--metatile: '%s' is not a size in 1..%d", a, TQ_METATILE_MAX);
            pgopt.metatile = (uint32_t)v;
            break;
        case OPT_FLUSH:
            flush = 1;
            break;
        case OPT_REDIS:
            free(redis_arg);
            redis_arg = take_secret_arg(optarg, "--redis",
                                        "--redis-password-file FILE or TQ_REDIS_PASSWORD", 1);
            if (redis_arg == NULL)
                goto oom;
            redis_url = redis_arg;
            break;
        case OPT_THREADS:
            if (parse_long(a, 1, TQ_PGLOG_MAX_THREADS, &v) != 0)
                FAIL_USAGE("--threads: '%s' is not a count in 1..%d", a, TQ_PGLOG_MAX_THREADS);
            pgopt.threads = (int)v;
            break;
        case OPT_PREFIX:
            prefix_fmt = a;
            break;
        case OPT_LOAD:
            free(load_arg);
            load_arg = take_secret_arg(optarg, "--load", "PGPASSWORD or ~/.pgpass", 0);
            if (load_arg == NULL)
                goto oom;
            load = load_arg;
            break;
        case OPT_TABLE:
            table = a;
            break;
        case ':':
            FAIL_USAGE("%s needs a value", argv[optind - 1]);
        default:
            FAIL_USAGE("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (filter.since_ms != TQ_TIME_UNSET && filter.until_ms != TQ_TIME_UNSET &&
        filter.since_ms >= filter.until_ms)
        FAIL_USAGE("%s", "--since must be before --until");
    if (pglog && optind >= argc)
        FAIL_USAGE("%s", "--pglog needs at least one log file (- for stdin)");
    if (!pglog && optind < argc)
        FAIL_USAGE("unexpected argument '%s' (log files need --pglog)", argv[optind]);
    if (pglog && (flush || pg_conninfo))
        FAIL_USAGE("%s", "--pglog reads log files: --pg and --flush do not apply");
    if (!pglog && (rows || load || prefix_fmt))
        FAIL_USAGE("%s", "--format renders, --load and --prefix need --pglog");
    if (rows && load)
        FAIL_USAGE("%s", "--load and --format renders: one or the other");
    if (prefix_fmt != NULL) {
        prefix = tq_pglog_prefix_compile(prefix_fmt, err, sizeof err);
        if (prefix == NULL)
            FAIL_USAGE("--prefix: '%s': %s", prefix_fmt, err);
        pgopt.prefix = prefix;
    }

    if (config_path != NULL && !pglog) {
        cfg = tq_config_load(config_path, err, sizeof err);
        if (cfg == NULL) {
            fprintf(stderr, "tileq report: %s\n", err);
            goto cleanup;
        }
    }

    if (pglog) {
        size_t nfiles = (size_t)(argc - optind);
        if (pgopt.threads == 0) { /* every core */
            long n = sysconf(_SC_NPROCESSORS_ONLN);
            pgopt.threads = n < 1 ? 1 : n > TQ_PGLOG_MAX_THREADS ? TQ_PGLOG_MAX_THREADS : (int)n;
        }
        pgopt.keep_query = rows || load != NULL;
        pl = tq_pglog_open((const char *const *)argv + optind, nfiles, &pgopt);
        if (pl == NULL) {
            fprintf(stderr, "tileq report: out of memory\n");
            goto cleanup;
        }
        if (rows || load) {
            rc = report_rows(pl, &filter, output, load, table);
            goto cleanup;
        }
        char source[256];
        snprintf(source, sizeof source, "PostgreSQL logs: %s%s", argv[optind],
                 nfiles > 1 ? " ..." : "");
        report = tq_report_new(&filter, source);
        if (report == NULL)
            goto oom;
        /* every thread aggregates (the streamed outputs above take the log's order) */
        if (tq_pglog_report(pl, report, err, sizeof err) != 0) {
            fprintf(stderr, "tileq report: %s\n", err);
            goto cleanup;
        }
        struct tq_report_input in;
        tq_pglog_stats(pl, &in);
        tq_report_set_input(report, &in);
    } else {
        if (pg_conninfo == NULL && cfg != NULL)
            pg_conninfo = cfg->pg_conninfo;
        if (pg_conninfo == NULL)
            pg_conninfo = getenv("TQ_PG_CONNINFO");
        if (pg_conninfo == NULL || *pg_conninfo == '\0') {
            rc = usage_error("%s", "no PostgreSQL to read: give -c FILE, --pg CONNINFO or "
                                   "TQ_PG_CONNINFO (or --pglog FILE...)");
            goto cleanup;
        }
        if (redis_url == NULL && cfg != NULL)
            redis_url = cfg->redis_url;
        if (redis_url == NULL)
            redis_url = getenv("TQ_REDIS_URL");
        if (flush && (redis_url == NULL || *redis_url == '\0')) {
            rc = usage_error("%s", "--flush needs Redis: -c FILE, --redis URL or TQ_REDIS_URL");
            goto cleanup;
        }
        /* Passwords: an option's file, else the config's (which read the environment
         * too), else the environment (no config). NULL: the conninfo's / URL's. */
        const char *pgpw = cfg ? cfg->pg_password : NULL;
        const char *envfile = cfg ? NULL : env_nonempty("TQ_PG_PASSWORD_FILE");
        if (pg_pwfile || envfile) {
            if (read_password(pg_pwfile ? pg_pwfile : envfile,
                              pg_pwfile ? "--pg-password-file" : "TQ_PG_PASSWORD_FILE",
                              &pg_password) != 0)
                goto cleanup;
            pgpw = pg_password;
        }
        const char *rpw = cfg ? cfg->redis_password : env_nonempty("TQ_REDIS_PASSWORD");
        envfile = cfg || rpw ? NULL : env_nonempty("TQ_REDIS_PASSWORD_FILE");
        if (flush && (redis_pwfile || envfile)) {
            if (read_password(redis_pwfile ? redis_pwfile : envfile,
                              redis_pwfile ? "--redis-password-file" : "TQ_REDIS_PASSWORD_FILE",
                              &redis_password) != 0)
                goto cleanup;
            rpw = redis_password;
        }
        if (redis_user == NULL)
            redis_user = cfg ? cfg->redis_user : env_nonempty("TQ_REDIS_USER");
        pg = tq_pg_connect(pg_conninfo, pgpw, "tileq", NULL);
        if (PQstatus(pg) != CONNECTION_OK) {
            fprintf(stderr, "tileq report: PostgreSQL: %s", PQerrorMessage(pg));
            goto cleanup;
        }
        if (flush && flush_renderlog(cfg && redis_url == cfg->redis_url ? cfg : NULL, redis_url,
                                     redis_user, rpw, pg) != 0)
            goto cleanup;
        int missing = 0;
        src = tq_rlsource_open(pg, &filter, cfg, &missing, err, sizeof err);
        if (src == NULL) {
            fprintf(stderr, "tileq report: %s\n", err);
            goto cleanup;
        }
        if (missing)
            fprintf(stderr, "tileq report: no render log yet (table tileq.render_log does not "
                            "exist): the report is empty\n");
        report = tq_report_new(&filter, "tileq.render_log");
        if (report == NULL)
            goto oom;
        if (tq_report_consume(report, tq_rlsource_next, src, err, sizeof err) < 0) {
            fprintf(stderr, "tileq report: %s\n", err);
            goto cleanup;
        }
    }

    if (output != NULL && strcmp(output, "-") != 0) {
        out = fopen(output, "w");
        if (out == NULL) {
            fprintf(stderr, "tileq report: %s: %s\n", output, strerror(errno));
            out = stdout;
            goto cleanup;
        }
    }
    if (tq_report_write(report, fmt, (size_t)top, out, err, sizeof err) != 0) {
        fprintf(stderr, "tileq report: %s\n", err);
        goto cleanup;
    }
    rc = TQ_EXIT_OK;
    goto cleanup;
oom:
    fprintf(stderr, "tileq report: out of memory\n");
cleanup:
    if (out != stdout && fclose(out) != 0 && rc == TQ_EXIT_OK) {
        fprintf(stderr, "tileq report: %s: %s\n", output, strerror(errno));
        rc = TQ_EXIT_FAIL;
    }
    tq_rlsource_close(src);
    if (pg != NULL)
        PQfinish(pg);
    tq_pglog_close(pl);
    tq_pglog_prefix_free(prefix);
    tq_report_free(report);
    tq_config_free(cfg);
    free(pg_arg);
    free(redis_arg);
    free(load_arg);
    tq_secret_free(pg_password);
    tq_secret_free(redis_password);
    return rc;
}

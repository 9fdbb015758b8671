/* tileq watch — tiles follow the data (issue 11): install | uninstall | status | run.
 * The SQL side is tq_watch_sql, the watcher tq_watch_run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "tq_cli.h"
#include "tq_cliutil.h"
#include "tq_log.h"
#include "tq_watch_run.h"
#include "tq_watch_sql.h"

static const char WATCH_USAGE[] =
    "usage: tileq [-c FILE] watch install | uninstall | status\n"
    "       tileq [-c FILE] watch run [--batch N] [--max-tiles-per-zoom N] [--max-queued N]\n"
    "                                 [--once]\n"
    "\n"
    "Keeps the cache fresh when the data changes in PostgreSQL.\n"
    "  install     finds the tables each tileset reads (its watch list, else its layers' SQL)\n"
    "              and installs statement-level triggers on them that record the extents\n"
    "              of changed rows in tileq.changes; removes them from tables no longer\n"
    "              read. Running it again changes nothing.\n"
    "  uninstall   removes every trigger, function and table install created\n"
    "  status      the watched tables, the change backlog and the age of its oldest change\n"
    "  run         the watcher: expires the tiles of each change, re-renders what was cached\n"
    "    --batch N               changes read at once (default 1000)\n"
    "    --max-tiles-per-zoom N  above N tiles per tileset and zoom in a batch, expire the\n"
    "                            bounding range of them instead (default 4096)\n"
    "    --max-queued N          dirty jobs in Redis at most (default 256)\n"
    "    --once                  drain the backlog, then exit\n"
    "\n"
    "Exit status: 0 done, 1 failure (PostgreSQL, Redis), 2 bad arguments.\n";

static PGconn *pg_connect(const struct tq_config *cfg)
{
    PGconn *pg = PQconnectdb(cfg->pg_conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "tileq watch: PostgreSQL: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static int do_install(const struct tq_config *cfg, PGconn *pg)
{
    struct tq_watch_plan plan;
    char err[1024];
    int changed;
    if (tq_watch_plan_find(pg, cfg, &plan, err, sizeof err) != 0) {
        fprintf(stderr, "tileq watch install: %s\n", err);
        return TQ_EXIT_FAIL;
    }
    if (tq_watch_install(pg, &plan, &changed, err, sizeof err) != 0) {
        fprintf(stderr, "tileq watch install: %s\n", err);
        tq_watch_plan_free(&plan);
        return TQ_EXIT_FAIL;
    }
    for (size_t i = 0; i < plan.n; i++) {
        const struct tq_watch_table *t = &plan.tables[i];
        printf("watching %s (", t->name);
        for (size_t j = 0; j < t->ncols; j++)
            printf("%s%s", j ? ", " : "", t->cols[j]);
        printf("%s) for", t->ncols ? "" : "no geometry column: changes expire everywhere");
        for (size_t j = 0; j < t->nreaders; j++)
            printf("%s %s z%d-%d", j ? "," : "", t->readers[j].ts->name, t->readers[j].zmin,
                   t->readers[j].zmax);
        printf("\n");
    }
    printf("install: %zu tables watched, %d changes made\n", plan.n, changed);
    tq_watch_plan_free(&plan);
    return TQ_EXIT_OK;
}

static int do_status(PGconn *pg)
{
    char err[1024];
    long long count, oldest;
    int st = tq_watch_backlog(pg, &count, &oldest, err, sizeof err);
    if (st < 0) {
        fprintf(stderr, "tileq watch status: %s\n", err);
        return TQ_EXIT_FAIL;
    }
    if (st == 1) {
        printf("not installed (tileq watch install)\n");
        return TQ_EXIT_OK;
    }
    PGresult *r = tq_watch_exec(
        pg,
        "SELECT w.table_name, w.tilesets, array_to_string(w.geometry_columns, ', '),"
        " (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = w.relid AND t.tgname IN"
        " ('tileq_watch_ins', 'tileq_watch_upd', 'tileq_watch_del')),"
        " (SELECT count(*) FROM tileq.changes c WHERE c.relid = w.relid)"
        " FROM tileq.watched w ORDER BY 1",
        0, NULL, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "tileq watch status: %s\n", err);
        return TQ_EXIT_FAIL;
    }
    printf("%-32s %-8s %8s  %s\n", "table", "triggers", "backlog", "read by");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-32s %6s/3 %8s  %s (%s)\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 3),
               PQgetvalue(r, i, 4), PQgetvalue(r, i, 1),
               *PQgetvalue(r, i, 2) ? PQgetvalue(r, i, 2) : "no geometry column");
    PQclear(r);
    r = tq_watch_exec(pg, "SELECT last_id, consumed, updated_at::text FROM tileq.watch_position", 0,
                      NULL, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "tileq watch status: %s\n", err);
        return TQ_EXIT_FAIL;
    }
    char age[32];
    printf("backlog: %lld changes, oldest %s\n", count,
           count ? tq_cli_duration(oldest, age, sizeof age) : "-");
    if (PQntuples(r) == 1)
        printf("consumed: %s changes, last id %s, at %s\n", PQgetvalue(r, 0, 1),
               PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2));
    PQclear(r);
    return TQ_EXIT_OK;
}

static int parse_long(const char *name, const char *s, long lo, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo) {
        fprintf(stderr, "tileq watch run: %s: '%s' is not a number >= %ld\n", name, s, lo);
        return -1;
    }
    *out = v;
    return 0;
}

static int do_run(const struct tq_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"batch", required_argument, NULL, 'b'},
                                         {"max-tiles-per-zoom", required_argument, NULL, 't'},
                                         {"max-queued", required_argument, NULL, 'q'},
                                         {"once", no_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    struct tq_watch_run_opts o = {1000, 4096, 256, 0};
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'b':
            if (parse_long("--batch", optarg, 1, &o.batch) != 0)
                return TQ_EXIT_USAGE;
            break;
        case 't':
            if (parse_long("--max-tiles-per-zoom", optarg, 1, &o.max_tiles_per_zoom) != 0)
                return TQ_EXIT_USAGE;
            break;
        case 'q':
            if (parse_long("--max-queued", optarg, 1, &o.max_queued) != 0)
                return TQ_EXIT_USAGE;
            break;
        case 'o':
            o.once = 1;
            break;
        default:
            fprintf(stderr, "tileq watch run: unknown or incomplete option %s\n", argv[optind - 1]);
            return TQ_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tileq watch run: unexpected argument '%s'\n", argv[optind]);
        return TQ_EXIT_USAGE;
    }
    enum tq_log_level lvl = TQ_LOG_INFO;
    if (cfg->log_level)
        tq_log_level_parse(cfg->log_level, &lvl);
    tq_log_init("tileq-watch", lvl);
    return tq_watch_run(cfg, &o);
}

int tq_cli_watch(const char *config_path, int argc, char **argv)
{
    int status;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(WATCH_USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? TQ_EXIT_USAGE : TQ_EXIT_OK;
    }
    const char *sub = argv[1];
    int is_run = strcmp(sub, "run") == 0;
    if (!is_run && strcmp(sub, "install") != 0 && strcmp(sub, "uninstall") != 0 &&
        strcmp(sub, "status") != 0) {
        fprintf(stderr, "tileq watch: unknown subcommand '%s' (install, uninstall, status, run)\n",
                sub);
        return TQ_EXIT_USAGE;
    }
    if (!is_run && argc > 2) {
        fprintf(stderr, "tileq watch %s: unexpected argument '%s'\n", sub, argv[2]);
        return TQ_EXIT_USAGE;
    }
    if (is_run && argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        fputs(WATCH_USAGE, stdout);
        return TQ_EXIT_OK;
    }
    struct tq_config *cfg = tq_cli_config_load("watch", config_path, 1, &status);
    if (cfg == NULL)
        return status;
    if (is_run) {
        status = do_run(cfg, argc - 1, argv + 1);
    } else {
        PGconn *pg = pg_connect(cfg);
        if (pg == NULL) {
            status = TQ_EXIT_FAIL;
        } else if (strcmp(sub, "install") == 0) {
            status = do_install(cfg, pg);
        } else if (strcmp(sub, "status") == 0) {
            status = do_status(pg);
        } else {
            char err[1024];
            int dropped;
            status = TQ_EXIT_OK;
            if (tq_watch_uninstall(pg, &dropped, err, sizeof err) != 0) {
                fprintf(stderr, "tileq watch uninstall: %s\n", err);
                status = TQ_EXIT_FAIL;
            } else {
                printf("uninstall: %d triggers dropped; functions and change tables removed\n",
                       dropped);
            }
        }
        PQfinish(pg);
    }
    tq_config_free(cfg);
    return status;
}

/* tileq status — a view of the queue; tileq deadletter — failed jobs and what to do with them.
 *
 * status reads, without changing anything, one snapshot (tq_snapshot, the same read as a
 * coordinator's /metrics): per class the ready list length (queued), the running jobs
 * (runcount; see "How many jobs run" in tq_wire.h) and the age of the oldest queued job
 * (enq_ms of the job at the head of its list); the leases (the running zset, each job's
 * class, worker, lease deadline, start), the dead set, the workers' heartbeats
 * ({tq}:workers; live when seen within TQ_STATUS_LIVE_MS) and the completions of the last
 * minute (ok events, in jobs and in tiles). status --check: tq_queue_check. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "tq_cli.h"
#include "tq_watch_run.h"
#include "tq_cliutil.h"
#include "tq_queue.h"
#include "tq_queue_check.h"
#include "tq_snapshot.h"
#include "tq_time.h"

#define TQ_STATUS_LIVE_MS 10000
#define TQ_STATUS_LEASES_SHOWN 20
#define TQ_STATUS_DEAD_SHOWN 10        /* newest dead-lettered jobs, with their reason */
#define TQ_STATUS_LEASES_MAX 100000    /* leases --json lists */
#define TQ_STATUS_COMPLETED_MAX 200000 /* completion events read for the last minute */

static const char STATUS_USAGE[] =
    "usage: tileq [-c FILE] status [--json]\n"
    "       tileq [-c FILE] status --check [--limit N] [--json]\n"
    "\n"
    "Per class: queued and running jobs, the oldest queued job's age; the running jobs'\n"
    "leases (worker, deadline); dead-lettered jobs; live workers (heartbeat within 10 s,\n"
    "host and pid); renders over the last minute.\n"
    "--check: verifies the queue's invariants on one atomic snapshot of Redis and prints\n"
    "each one with \"held\" or its violations (job id, what is wrong); exit status 0 when\n"
    "all hold, 1 when any is violated. --limit: read at most N jobs (default 100000); past\n"
    "it the checks that need the whole queue are skipped, and it says so.\n";

static const char DEADLETTER_USAGE[] =
    "usage: tileq [-c FILE] deadletter list [--json]\n"
    "       tileq [-c FILE] deadletter retry [--all | ID...]\n"
    "       tileq [-c FILE] deadletter purge [--all | ID...]\n"
    "\n"
    "list: dead-lettered jobs (id; ref, the reference id a client's 500 names; class,\n"
    "      attempts, when, last error), oldest first.\n"
    "retry: queues them again (in their class; reason retry), then they leave the list.\n"
    "purge: forgets them.\n"
    "IDs are job ids as listed (tileset/z/mx/my).\n";

static redisReply *cmd_or_fail(redisContext *c, const char *what, redisReply *r)
{
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "tileq %s: redis: %s\n", what, r ? r->str : c->errstr);
        if (r)
            freeReplyObject(r);
        return NULL;
    }
    return r;
}

static long long reply_ll(const redisReply *r)
{
    if (r == NULL)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return atoll(r->str);
    return 0;
}

static const char *reply_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : "";
}

static void format_time(int64_t ms, char *buf, size_t bufsize)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, bufsize, "-");
        return;
    }
    strftime(buf, bufsize, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- status ---------------------------------------------------------------------------- */

static int dead_read(redisContext *c, const char *cmd, long first, long last, int newest,
                     json_t *arr);
static void dead_print(const json_t *arr, const char *indent);

static int status_run(const struct tq_config *cfg, redisContext *c, int json)
{
    int rc = TQ_EXIT_FAIL;
    int64_t now = tq_now_ms();
    long long tiles_min = 0;
    long live = 0;
    struct tq_snapshot snap;
    const struct tq_snapshot_want want = {.leases_max = TQ_STATUS_LEASES_MAX,
                                          .completed_since_ms = now - 60000,
                                          .completed_max = TQ_STATUS_COMPLETED_MAX};
    json_t *root = NULL, *jleases = NULL, *jworkers = NULL, *jclasses = NULL, *jdead = NULL;
    char buf[64], buf2[64], err[512];

    /* One atomic read (tq_snapshot, the same as /metrics): per class queued, running
     * (runcount) and the oldest queued job; dead, workers, leases, completions. */
    if (tq_snapshot_read(c, &want, &snap, err, sizeof err) != 0) {
        fprintf(stderr, "tileq status: %s\n", err);
        goto cleanup;
    }
    for (size_t i = 0; i < snap.ncompleted; i++) {
        const char *id = snap.completed[i];
        char ts[TQ_TILESET_NAME_MAX];
        size_t n = strcspn(id, "/");
        snprintf(ts, sizeof ts, "%.*s", (int)(n < sizeof ts ? n : sizeof ts - 1), id);
        const struct tq_tileset_config *tc = tq_config_tileset(cfg, ts);
        tiles_min += tq_cli_job_tiles(id, tc ? tc->metatile : 1);
    }

    root = json_object();
    jclasses = json_object();
    jleases = json_array();
    jworkers = json_array();
    jdead = json_array();
    if (!root || !jclasses || !jleases || !jworkers || !jdead)
        goto cleanup;
    /* The newest dead jobs with their reason and reference id (what a client's 500 names). */
    if (snap.dead > 0 && dead_read(c, "status", 0, TQ_STATUS_DEAD_SHOWN - 1, 1, jdead) != 0)
        goto cleanup;
    for (size_t i = 0; i < snap.nworkers; i++) {
        const struct tq_snapshot_worker *wk = &snap.workers[i];
        int64_t seen = wk->hb.last_seen_ms;
        int is_live = seen > 0 && now - seen <= TQ_STATUS_LIVE_MS;
        live += is_live;
        json_array_append_new(
            jworkers, json_pack("{s:s, s:s, s:I, s:I, s:f, s:b}", "id", wk->id, "host", wk->hb.host,
                                "pid", (json_int_t)wk->hb.pid, "last_seen_ms", (json_int_t)seen,
                                "seen_ago_s", (double)(now - seen) / 1000.0, "live", is_live));
    }
    for (size_t i = 0; i < snap.nleases; i++) {
        const struct tq_snapshot_lease *l = &snap.leases[i];
        json_array_append_new(
            jleases,
            json_pack("{s:s, s:s, s:s, s:I, s:f, s:I, s:I}", "id", l->id, "class",
                      l->cls >= 0 ? tq_job_class_name((enum tq_job_class)l->cls) : "?", "worker",
                      l->worker, "lease_until_ms", (json_int_t)l->lease_until_ms, "lease_left_s",
                      (double)(l->lease_until_ms - now) / 1000.0, "started_ms",
                      (json_int_t)l->started_ms, "attempt", (json_int_t)l->attempts));
    }
    for (int i = 0; i < TQ_CLASS_COUNT; i++) {
        const struct tq_snapshot_class *sc = &snap.cls[i];
        json_t *o = json_pack("{s:I, s:I}", "queued", (json_int_t)sc->queued, "running",
                              (json_int_t)sc->running);
        json_object_set_new(o, "oldest_queued_age_s",
                            sc->oldest_enq_ms > 0
                                ? json_real((double)(now - sc->oldest_enq_ms) / 1000.0)
                                : json_null());
        json_object_set_new(jclasses, tq_job_class_name((enum tq_job_class)i), o);
    }

    /* Tiles follow the data: the watcher's figures, when one runs (tq_watch_run.h). */
    struct tq_watch_figures wf;
    int have_wf = tq_watch_figures_read(c, &wf);
    if (have_wf < 0) {
        fprintf(stderr, "tileq status: Redis: %s\n", c->err ? c->errstr : "HMGET failed");
        goto cleanup;
    }

    if (json) {
        json_object_set_new(root, "time_ms", json_integer(now));
        if (have_wf)
            json_object_set_new(root, "changes",
                                json_pack("{s:I, s:I, s:I, s:I}", "backlog", (json_int_t)wf.backlog,
                                          "oldest_ms", (json_int_t)wf.oldest_ms, "last_id",
                                          (json_int_t)wf.last_id, "figures_age_ms",
                                          (json_int_t)(now - wf.updated_ms)));
        json_object_set(root, "classes", jclasses);
        json_object_set_new(root, "dead_lettered", json_integer(snap.dead));
        json_object_set(root, "dead_newest", jdead);
        json_object_set_new(root, "renderlog_rejected", json_integer(snap.renderlog_rejected));
        json_object_set_new(root, "renders_last_minute",
                            json_pack("{s:I, s:I}", "jobs", (json_int_t)snap.ncompleted, "tiles",
                                      (json_int_t)tiles_min));
        json_object_set_new(root, "live_workers", json_integer(live));
        json_object_set(root, "workers", jworkers);
        json_object_set(root, "leases", jleases);
        if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
            goto cleanup;
        printf("\n");
        rc = TQ_EXIT_OK;
        goto cleanup;
    }

    printf("%-12s %9s %8s  %s\n", "class", "queued", "running", "oldest queued");
    for (int i = 0; i < TQ_CLASS_COUNT; i++)
        printf("%-12s %9lld %8lld  %s\n", tq_job_class_name((enum tq_job_class)i),
               snap.cls[i].queued, snap.cls[i].running,
               snap.cls[i].oldest_enq_ms > 0
                   ? tq_cli_duration(now - snap.cls[i].oldest_enq_ms, buf, sizeof buf)
                   : "-");
    printf("dead-lettered: %lld%s\n", snap.dead,
           snap.dead > TQ_STATUS_DEAD_SHOWN ? " (newest shown; tileq deadletter list)" : "");
    dead_print(jdead, "  ");
    if (snap.renderlog_rejected > 0)
        printf("render-log entries rejected: %lld (redis-cli XRANGE %s - +)\n",
               snap.renderlog_rejected, TQ_QUEUE_RENDERLOG_REJECTED_KEY);
    if (have_wf)
        printf("changes: backlog %lld, oldest %s (tileq watch run, %s ago)\n", wf.backlog,
               wf.backlog ? tq_cli_duration(wf.oldest_ms, buf, sizeof buf) : "-",
               tq_cli_duration(now - wf.updated_ms, buf2, sizeof buf2));
    printf("renders, last minute: %lld tiles (%zu jobs)\n", tiles_min, snap.ncompleted);
    printf("workers: %ld live of %zu\n", live, snap.nworkers);
    for (size_t i = 0; i < json_array_size(jworkers); i++) {
        json_t *wk = json_array_get(jworkers, i);
        printf("  %-24s host %-16s pid %-7lld seen %s ago%s\n",
               json_string_value(json_object_get(wk, "id")),
               json_string_value(json_object_get(wk, "host")),
               (long long)json_integer_value(json_object_get(wk, "pid")),
               tq_cli_duration((int64_t)(json_real_value(json_object_get(wk, "seen_ago_s")) * 1000),
                               buf, sizeof buf),
               json_is_true(json_object_get(wk, "live")) ? "" : "  (not live)");
    }
    printf("leases: %lld\n", snap.running_leases);
    for (size_t i = 0; i < snap.nleases && i < TQ_STATUS_LEASES_SHOWN; i++) {
        json_t *l = json_array_get(jleases, i);
        long long started = json_integer_value(json_object_get(l, "started_ms"));
        double left = json_real_value(json_object_get(l, "lease_left_s"));
        printf("  %-28s %-11s worker %-20s attempt %lld  running %s  lease %s %s\n",
               json_string_value(json_object_get(l, "id")),
               json_string_value(json_object_get(l, "class")),
               json_string_value(json_object_get(l, "worker")),
               (long long)json_integer_value(json_object_get(l, "attempt")),
               tq_cli_duration(started > 0 ? now - started : 0, buf, sizeof buf),
               left >= 0 ? "ends in" : "EXPIRED",
               tq_cli_duration((int64_t)((left >= 0 ? left : -left) * 1000), buf2, sizeof buf2));
    }
    if (snap.running_leases > TQ_STATUS_LEASES_SHOWN)
        printf("  ... %lld more (--json lists all)\n",
               snap.running_leases - TQ_STATUS_LEASES_SHOWN);
    rc = TQ_EXIT_OK;
cleanup:
    tq_snapshot_clear(&snap);
    json_decref(jleases);
    json_decref(jworkers);
    json_decref(jclasses);
    json_decref(jdead);
    json_decref(root);
    return rc;
}

/* tileq status --check: the invariants of tq_wire.h (tq_queue_check), each "held" or its
 * violations. TQ_EXIT_OK when all hold, TQ_EXIT_FAIL when any is violated or on error. */
static int status_check(redisContext *c, long limit, int json)
{
    struct tq_check_result res;
    char err[512];
    int rc = TQ_EXIT_FAIL;
    json_t *root = NULL;

    long n = tq_queue_check(c, limit, &res, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "tileq status --check: %s\n", err);
        goto cleanup;
    }
    if (json) {
        json_t *invs = json_array(), *warns = json_array();
        root = json_pack("{s:b, s:b, s:I, s:I, s:o, s:o}", "held", n == 0, "stopped_early",
                         res.truncated, "jobs", (json_int_t)res.jobs, "done_markers",
                         (json_int_t)res.done_markers, "invariants", invs, "warnings", warns);
        if (root == NULL)
            goto cleanup;
        for (int i = 0; i < TQ_INV_COUNT; i++) {
            json_t *viol = json_array();
            json_array_append_new(invs, json_pack("{s:s, s:s, s:b, s:o}", "name",
                                                  tq_invariant_name((enum tq_invariant)i), "text",
                                                  tq_invariant_text((enum tq_invariant)i), "held",
                                                  res.violations[i] == 0, "violations", viol));
            for (size_t k = 0; k < res.nissues; k++)
                if ((int)res.issues[k].inv == i)
                    json_array_append_new(res.issues[k].warning ? warns : viol,
                                          json_pack("{s:s, s:s, s:s}", "invariant",
                                                    tq_invariant_name(res.issues[k].inv), "id",
                                                    res.issues[k].id, "what", res.issues[k].what));
        }
        if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
            goto cleanup;
        printf("\n");
    } else {
        for (int i = 0; i < TQ_INV_COUNT; i++) {
            printf("%-10s %s: %s\n", tq_invariant_name((enum tq_invariant)i),
                   tq_invariant_text((enum tq_invariant)i),
                   res.violations[i] ? "VIOLATED" : "held");
            for (size_t k = 0; k < res.nissues; k++)
                if ((int)res.issues[k].inv == i && !res.issues[k].warning)
                    printf("  %s%s%s\n", res.issues[k].id, res.issues[k].id[0] ? ": " : "",
                           res.issues[k].what);
        }
        for (size_t k = 0; k < res.nissues; k++)
            if (res.issues[k].warning)
                printf("warning (%s): %s: %s\n", tq_invariant_name(res.issues[k].inv),
                       res.issues[k].id, res.issues[k].what);
        printf("checked %ld job%s and %ld done marker%s: %s\n", res.jobs, res.jobs == 1 ? "" : "s",
               res.done_markers, res.done_markers == 1 ? "" : "s",
               n == 0 ? "all invariants held" : "invariants violated");
        if (res.truncated)
            printf("stopped early at the limit (--limit): jobs missing from their list or set "
                   "and the runcount sums were not checked\n");
    }
    rc = n == 0 ? TQ_EXIT_OK : TQ_EXIT_FAIL;
cleanup:
    json_decref(root);
    tq_check_result_clear(&res);
    return rc;
}

int tq_cli_status(const char *config_path, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"check", no_argument, NULL, 'k'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int json = 0, check = 0, opt, status;
    long limit = 0;
    char *end;
    struct tq_config *cfg;
    redisContext *c;

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (opt == 'j') {
            json = 1;
        } else if (opt == 'k') {
            check = 1;
        } else if (opt == 'l') {
            limit = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || limit <= 0) {
                fprintf(stderr, "tileq status: --limit wants a positive number, not '%s'\n",
                        optarg);
                return TQ_EXIT_USAGE;
            }
        } else if (opt == 'h') {
            fputs(STATUS_USAGE, stdout);
            return TQ_EXIT_OK;
        } else {
            fprintf(stderr, "tileq status: unknown option '%s'\n(tileq status --help for usage)\n",
                    argv[optind - 1]);
            return TQ_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tileq status: unexpected argument '%s'\n", argv[optind]);
        return TQ_EXIT_USAGE;
    }
    if (limit > 0 && !check) {
        fprintf(stderr, "tileq status: --limit goes with --check\n");
        return TQ_EXIT_USAGE;
    }
    cfg = tq_cli_config_load("status", config_path, 0, &status);
    if (cfg == NULL)
        return status;
    status = TQ_EXIT_FAIL;
    c = tq_cli_redis_connect("status", cfg);
    if (c != NULL) {
        status = check ? status_check(c, limit, json) : status_run(cfg, c, json);
        redisFree(c);
    }
    tq_config_free(cfg);
    return status;
}

/* ---- deadletter ------------------------------------------------------------------------ */

/* Appends to arr the dead-lettered jobs ranked first..last in the dead set, oldest first
 * (newest: newest first), as {id, ref, class, attempts, dead_ms, dead_at, last_error}:
 * ref is the reference id a client's 500 names (tq_job_ref). 0, or -1 (said on stderr by
 * cmd, "status" or "deadletter"). */
static int dead_read(redisContext *c, const char *cmd, long first, long last, int newest,
                     json_t *arr)
{
    int rc = -1;
    redisReply *ids = NULL;
    char when[64], ref[TQ_JOB_REF_LEN];

    ids = cmd_or_fail(c, cmd,
                      redisCommand(c, "%s %s %ld %ld WITHSCORES", newest ? "ZREVRANGE" : "ZRANGE",
                                   TQ_QUEUE_DEAD_KEY, first, last));
    if (ids == NULL)
        goto cleanup;
    size_t n = ids->elements / 2;
    for (size_t i = 0; i < n; i++)
        redisAppendCommand(c,
                           "HMGET %s%s " TQ_JOB_F_CLS " " TQ_JOB_F_ATTEMPTS " " TQ_JOB_F_LAST_ERROR,
                           TQ_QUEUE_JOB_KEY_PREFIX, ids->element[2 * i]->str);
    for (size_t i = 0; i < n; i++) {
        redisReply *h = NULL;
        if (redisGetReply(c, (void **)&h) != REDIS_OK || h == NULL) {
            fprintf(stderr, "tileq %s: redis: %s\n", cmd, c->errstr);
            goto cleanup;
        }
        const char *id = ids->element[2 * i]->str;
        long long dead_ms = atoll(ids->element[2 * i + 1]->str);
        int ok = h->type == REDIS_REPLY_ARRAY && h->elements == 3;
        long long cls =
            ok && h->element[0]->type == REDIS_REPLY_STRING ? reply_ll(h->element[0]) : -1;
        const char *cname =
            cls >= 0 && cls < TQ_CLASS_COUNT ? tq_job_class_name((enum tq_job_class)cls) : "?";
        long long att = ok ? reply_ll(h->element[1]) : 0;
        const char *lerr = ok ? reply_str(h->element[2]) : "";
        format_time(dead_ms, when, sizeof when);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "id", id, "ref",
                                             tq_job_ref(id, ref), "class", cname, "attempts",
                                             (json_int_t)att, "dead_ms", (json_int_t)dead_ms,
                                             "dead_at", when, "last_error", lerr));
        freeReplyObject(h);
    }
    rc = 0;
cleanup:
    if (ids)
        freeReplyObject(ids);
    return rc;
}

/* Prints the dead jobs of arr (dead_read's) as a table, each line indented by indent. */
static void dead_print(const json_t *arr, const char *indent)
{
    size_t i;
    const json_t *d;

    if (json_array_size(arr) > 0)
        printf("%s%-28s %-8s %-11s %8s  %-20s  %s\n", indent, "id", "ref", "class", "attempts",
               "dead since", "last error");
    json_array_foreach(arr, i, d)
    {
        printf("%s%-28s %-8s %-11s %8lld  %-20s  %s\n", indent,
               json_string_value(json_object_get(d, "id")),
               json_string_value(json_object_get(d, "ref")),
               json_string_value(json_object_get(d, "class")),
               (long long)json_integer_value(json_object_get(d, "attempts")),
               json_string_value(json_object_get(d, "dead_at")),
               json_string_value(json_object_get(d, "last_error")));
    }
}

static int dl_list(redisContext *c, int json)
{
    int rc = TQ_EXIT_FAIL;
    json_t *arr = json_array();
    size_t n;

    if (arr == NULL || dead_read(c, "deadletter", 0, -1, 0, arr) != 0)
        goto cleanup;
    n = json_array_size(arr);
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        printf("\n");
    } else {
        dead_print(arr, "");
        printf("%zu dead-lettered job%s\n", n, n == 1 ? "" : "s");
    }
    rc = TQ_EXIT_OK;
cleanup:
    json_decref(arr);
    return rc;
}

/* Retries (retry=1) or purges one dead job. 1 done, 0 not dead-lettered, -1 error. */
static int dl_one(const struct tq_config *cfg, redisContext *c, const char *id, int retry)
{
    char err[512];
    int rc = -1;
    redisReply *h = NULL;

    if (!retry) {
        rc = tq_queue_dead_purge(c, id, err, sizeof err);
        if (rc < 0)
            fprintf(stderr, "tileq deadletter: %s\n", err);
        return rc;
    }
    h = cmd_or_fail(c, "deadletter",
                    redisCommand(c, "HMGET %s%s " TQ_JOB_F_STATE " " TQ_JOB_F_PAYLOAD,
                                 TQ_QUEUE_JOB_KEY_PREFIX, id));
    if (h == NULL)
        return -1;
    if (h->elements != 2 || strcmp(reply_str(h->element[0]), TQ_STATE_DEAD) != 0) {
        rc = 0;
        goto cleanup;
    }
    struct tq_job job;
    if (h->element[1]->type != REDIS_REPLY_STRING ||
        tq_job_decode(h->element[1]->str, h->element[1]->len, &job, err, sizeof err) != 0) {
        fprintf(stderr, "tileq deadletter: %s: undecodable job (%s); purge it instead\n", id,
                h->element[1]->type == REDIS_REPLY_STRING ? err : "no payload");
        rc = -1;
        goto cleanup;
    }
    job.reason = TQ_REASON_RETRY;
    job.enqueued_ms = tq_now_ms();
    enum tq_enqueue_result res = tq_queue_enqueue(c, &job, cfg->queue.cap[job.cls],
                                                  TQ_ENQ_MODE_RETRY, 0, 0, err, sizeof err);
    if (res == TQ_ENQ_ERROR || res == TQ_ENQ_FULL) {
        fprintf(stderr, "tileq deadletter: retrying %s: %s\n", id,
                res == TQ_ENQ_FULL ? "its class is full, try later" : err);
        rc = -1;
        goto cleanup;
    }
    rc = 1;
cleanup:
    freeReplyObject(h);
    return rc;
}

int tq_cli_deadletter(const char *config_path, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int json = 0, all = 0, opt, status;
    struct tq_config *cfg = NULL;
    redisContext *c = NULL;
    redisReply *ids = NULL;

    if (argc < 2) {
        fputs(DEADLETTER_USAGE, stderr);
        return TQ_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(DEADLETTER_USAGE, stdout);
        return TQ_EXIT_OK;
    }
    int is_list = strcmp(sub, "list") == 0, is_retry = strcmp(sub, "retry") == 0,
        is_purge = strcmp(sub, "purge") == 0;
    if (!is_list && !is_retry && !is_purge) {
        fprintf(stderr, "tileq deadletter: unknown action '%s' (list, retry or purge)\n", sub);
        return TQ_EXIT_USAGE;
    }
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc - 1, argv + 1, "+h", opts, NULL)) != -1) {
        if (opt == 'j' && is_list) {
            json = 1;
        } else if (opt == 'a' && !is_list) {
            all = 1;
        } else if (opt == 'h') {
            fputs(DEADLETTER_USAGE, stdout);
            return TQ_EXIT_OK;
        } else {
            fprintf(stderr, "tileq deadletter %s: unknown option '%s'\n", sub,
                    argv[optind]); /* (argv+1)[optind-1] */
            return TQ_EXIT_USAGE;
        }
    }
    int nids = argc - 1 - optind;
    char **idv = argv + 1 + optind;
    if (is_list && nids > 0) {
        fprintf(stderr, "tileq deadletter list: unexpected argument '%s'\n", idv[0]);
        return TQ_EXIT_USAGE;
    }
    if (!is_list && (all == (nids > 0))) {
        fprintf(stderr, "tileq deadletter %s: give job ids or --all\n", sub);
        return TQ_EXIT_USAGE;
    }
    cfg = tq_cli_config_load("deadletter", config_path, 0, &status);
    if (cfg == NULL)
        return status;
    status = TQ_EXIT_FAIL;
    c = tq_cli_redis_connect("deadletter", cfg);
    if (c == NULL)
        goto cleanup;
    if (is_list) {
        status = dl_list(c, json);
        goto cleanup;
    }
    if (all) {
        ids = cmd_or_fail(c, "deadletter", redisCommand(c, "ZRANGE %s 0 -1", TQ_QUEUE_DEAD_KEY));
        if (ids == NULL)
            goto cleanup;
        nids = (int)ids->elements;
    }
    int done = 0, missing = 0, failed = 0;
    for (int i = 0; i < nids; i++) {
        const char *id = all ? ids->element[i]->str : idv[i];
        int r = dl_one(cfg, c, id, is_retry);
        if (r < 0) {
            failed++;
            if (c->err)
                break;
        } else if (r == 0) {
            fprintf(stderr, "tileq deadletter %s: %s is not dead-lettered\n", sub, id);
            missing++;
        } else {
            done++;
        }
    }
    printf("%s %d job%s%s\n", is_retry ? "re-queued" : "purged", done, done == 1 ? "" : "s",
           missing ? " (some ids were not dead-lettered)" : "");
    status = failed || missing ? TQ_EXIT_FAIL : TQ_EXIT_OK;
cleanup:
    if (ids)
        freeReplyObject(ids);
    if (c)
        redisFree(c);
    tq_config_free(cfg);
    return status;
}

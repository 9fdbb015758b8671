/* Unit tests for tq_config: parsing, defaults, validation messages, env overrides, and
 * tq_redis_url_parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tq_config.h"

static const char *const env_vars[] = {"TQ_REDIS_URL",           "TQ_PG_CONNINFO",
                                       "TQ_CACHE_DIR",           "TQ_LISTEN",
                                       "TQ_WORKER_ID",           "TQ_LOG_LEVEL",
                                       "TQ_REDIS_SENTINELS",     "TQ_REDIS_SENTINEL_MASTER",
                                       "TQ_REDIS_CLUSTER_NODES", "TQ_REDIS_USER",
                                       "TQ_REDIS_PASSWORD",      "TQ_REDIS_PASSWORD_FILE",
                                       "TQ_PG_PASSWORD_FILE",    "TQ_TRUSTED_PROXIES",
                                       "TQ_METRICS_ALLOW"};

static int clear_env(void **state)
{
    for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++)
        unsetenv(env_vars[i]);
    return 0;
}

#define BASE                                                                                       \
    "redis_url = \"redis://127.0.0.1:6379/0\";\n"                                                  \
    "pg_conninfo = \"host=127.0.0.1 dbname=tileq\";\n"                                             \
    "cache_dir = \"/tmp/tq-cache\";\n"

#define DEMO_TILESET                                                                               \
    "tilesets = ( { name = \"demo\"; minzoom = 0; maxzoom = 14; metatile = 8;\n"                   \
    "               extent = 4096; buffer = 64; statement_timeout_ms = 1500;\n"                    \
    "               layers = ( { name = \"places\"; minzoom = 2; maxzoom = 14;\n"                  \
    "                            sql = \"SELECT geom, name FROM places WHERE geom && !BBOX!\"; "   \
    "},\n"                                                                                         \
    "                          { name = \"roads\";\n"                                              \
    "                            sql = \"SELECT geom FROM roads WHERE geom && !BBOX! AND !ZOOM! "  \
    "> 3\"; } ); } );\n"

static struct tq_config *load(const char *text, char *err, size_t errsize)
{
    err[0] = '\0';
    return tq_config_load_string(text, "tileq.conf", err, errsize);
}

static void test_full_example(void **state)
{
    const char *text = BASE
        "listen = \"0.0.0.0:9090\";\n"
        "worker_id = \"w1\";\n"
        "log_level = \"debug\";\n"
        "queue = { max_attempts = 5; lease_seconds = 10; "
        "render_timeout_seconds = 20; fair_every = 4; dead_cooldown_seconds = 0;\n"
        "  cap = { interactive = 1; dirty = 2; bulk = 3; };\n"
        "  running_cap = { interactive = 0; dirty = 4; bulk = 1; }; };\n"
        "http = { cache_control = \"no-cache\"; cors_origin = \"https://x\"; };\n" DEMO_TILESET;
    char err[256];
    struct tq_config *cfg = load(text, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_string_equal(cfg->path, "tileq.conf");
    assert_string_equal(cfg->redis_url, "redis://127.0.0.1:6379/0");
    assert_string_equal(cfg->pg_conninfo, "host=127.0.0.1 dbname=tileq");
    assert_string_equal(cfg->cache_dir, "/tmp/tq-cache");
    assert_string_equal(cfg->listen_host, "0.0.0.0");
    assert_int_equal(cfg->listen_port, 9090);
    assert_string_equal(cfg->worker_id, "w1");
    assert_string_equal(cfg->log_level, "debug");
    assert_int_equal(cfg->queue.max_attempts, 5);
    assert_int_equal(cfg->queue.lease_seconds, 10);
    assert_int_equal(cfg->queue.render_timeout_seconds, 20);
    assert_int_equal(cfg->queue.fair_every, 4);
    assert_int_equal(cfg->queue.dead_cooldown_seconds, 0);
    assert_int_equal(cfg->queue.cap[TQ_CLASS_INTERACTIVE], 1);
    assert_int_equal(cfg->queue.cap[TQ_CLASS_DIRTY], 2);
    assert_int_equal(cfg->queue.cap[TQ_CLASS_BULK], 3);
    assert_int_equal(cfg->queue.running_cap[TQ_CLASS_DIRTY], 4);
    assert_int_equal(cfg->queue.running_cap[TQ_CLASS_BULK], 1);
    assert_string_equal(cfg->http.cache_control, "no-cache");
    assert_string_equal(cfg->http.cors_origin, "https://x");
    assert_int_equal(cfg->ntilesets, 1);
    const struct tq_tileset_config *ts = tq_config_tileset(cfg, "demo");
    assert_non_null(ts);
    assert_ptr_equal(ts, &cfg->tilesets[0]);
    assert_null(tq_config_tileset(cfg, "nope"));
    assert_null(tq_config_tileset(cfg, NULL));
    assert_int_equal(ts->minzoom, 0);
    assert_int_equal(ts->maxzoom, 14);
    assert_int_equal(ts->metatile, 8);
    assert_int_equal(ts->extent, 4096);
    assert_int_equal(ts->buffer, 64);
    assert_int_equal(ts->statement_timeout_ms, 1500);
    assert_int_equal(ts->nlayers, 2);
    assert_string_equal(ts->layers[0].name, "places");
    assert_int_equal(ts->layers[0].minzoom, 2);
    assert_string_equal(ts->layers[1].name, "roads");
    assert_int_equal(ts->layers[1].minzoom, 0); /* inherited from the tileset */
    assert_int_equal(ts->layers[1].maxzoom, 14);
    assert_non_null(strstr(ts->layers[1].sql, "!ZOOM!"));
    tq_config_free(cfg);
}

static void test_defaults(void **state)
{
    char err[256];
    struct tq_config *cfg = load(BASE, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 8080);
    assert_null(cfg->worker_id);
    assert_string_equal(cfg->log_level, "info");
    assert_int_equal(cfg->queue.max_attempts, 3);
    assert_int_equal(cfg->queue.lease_seconds, 30);
    assert_int_equal(cfg->queue.render_timeout_seconds, 60);
    assert_int_equal(cfg->queue.fair_every, 10);
    assert_int_equal(cfg->queue.dead_cooldown_seconds, 300);
    assert_int_equal(cfg->queue.cap[TQ_CLASS_INTERACTIVE], 10000);
    assert_int_equal(cfg->queue.cap[TQ_CLASS_DIRTY], 100000);
    assert_int_equal(cfg->queue.cap[TQ_CLASS_BULK], 100000);
    for (int i = 0; i < TQ_CLASS_COUNT; i++)
        assert_int_equal(cfg->queue.running_cap[i], 0);
    assert_string_equal(cfg->http.cache_control, "public, max-age=3600");
    assert_string_equal(cfg->http.cors_origin, "*");
    assert_int_equal(cfg->ntilesets, 0); /* no tilesets: published from geometry_columns */
    assert_null(cfg->tilesets);
    tq_config_free(cfg);

    /* tileset defaults */
    cfg = load(BASE "tilesets = ( { name = \"t\"; layers = ( { name = \"l\"; "
                    "sql = \"SELECT geom FROM x WHERE geom && !BBOX!\"; } ); } );",
               err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->tilesets[0].minzoom, 0);
    assert_int_equal(cfg->tilesets[0].maxzoom, 14);
    assert_int_equal(cfg->tilesets[0].metatile, 8);
    assert_int_equal(cfg->tilesets[0].extent, 4096);
    assert_int_equal(cfg->tilesets[0].buffer, 64);
    assert_int_equal(cfg->tilesets[0].statement_timeout_ms, TQ_STATEMENT_TIMEOUT_MS_DEFAULT);
    assert_int_equal(TQ_STATEMENT_TIMEOUT_MS_DEFAULT, 30000);
    tq_config_free(cfg);

    /* an explicitly empty list is fine too */
    cfg = load(BASE "tilesets = ();", err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(cfg->ntilesets, 0);
    tq_config_free(cfg);
}

/* Loads text and expects failure with exactly want as the message. */
static void expect_error(const char *text, const char *want)
{
    char err[512];
    struct tq_config *cfg = load(text, err, sizeof err);
    if (cfg != NULL) {
        tq_config_free(cfg);
        fail_msg("accepted config, expected: %s", want);
    }
    if (strcmp(err, want) != 0)
        fail_msg("got \"%s\"\nwant \"%s\"", err, want);
}

#define TS_HEAD "tilesets = ( { name = \"demo\";\n"
#define LAYER_OK                                                                                   \
    "layers = ( { name = \"l\"; sql = \"SELECT geom FROM t WHERE geom && !BBOX!\"; } );"

static void test_validation_messages(void **state)
{
    /* line numbers: BASE is lines 1-3 */
    expect_error(BASE TS_HEAD "maxzoom = 31;\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].maxzoom: must be 0..30");
    expect_error(BASE TS_HEAD "minzoom = -1;\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].minzoom: must be 0..30");
    expect_error(BASE TS_HEAD "minzoom = 10; maxzoom = 5;\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].minzoom: minzoom 10 is greater than maxzoom 5");
    expect_error(BASE TS_HEAD "metatile = 0;\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].metatile: must be 1..64");
    expect_error(BASE TS_HEAD "metatile = 65;\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].metatile: must be 1..64");
    expect_error(BASE TS_HEAD "metatile = \"8\";\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].metatile: must be an integer");
    expect_error(BASE TS_HEAD "extent = 0;\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].extent: must be 1..65536");
    expect_error(BASE TS_HEAD "buffer = -1;\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].buffer: must be 0..65536");
    expect_error(BASE TS_HEAD "extent = 256; buffer = 512;\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].buffer: must not exceed extent 256");
    expect_error(BASE TS_HEAD "metatil = 8;\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].metatil: unknown key");
    expect_error(BASE "tilesets = ( { minzoom = 0;\n" LAYER_OK " } );",
                 "tileq.conf:4: tilesets.[0].name: required");
    expect_error(BASE "tilesets = ( { name = \"a b\";\n" LAYER_OK " } );",
                 "tileq.conf:4: tilesets.[0].name: must be 1..63 characters of [A-Za-z0-9_-]");
    expect_error(BASE "tilesets = ( { name = \"\";\n" LAYER_OK " } );",
                 "tileq.conf:4: tilesets.[0].name: must be 1..63 characters of [A-Za-z0-9_-]");
    expect_error(BASE
                 "tilesets = ( { name = "
                 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\";\n" LAYER_OK
                 " } );",
                 "tileq.conf:4: tilesets.[0].name: must be 1..63 characters of [A-Za-z0-9_-]");
    expect_error(BASE "tilesets = ( { name = \"../etc\";\n" LAYER_OK " } );",
                 "tileq.conf:4: tilesets.[0].name: must be 1..63 characters of [A-Za-z0-9_-]");
    expect_error(BASE "tilesets = ( { name = \"a\";\n" LAYER_OK " },\n"
                      "             { name = \"a\";\n" LAYER_OK " } );",
                 "tileq.conf:6: tilesets.[1].name: duplicate tileset name \"a\"");
    expect_error(BASE TS_HEAD "minzoom = 0; } );",
                 "tileq.conf:4: tilesets.[0].layers: required (at least one layer)");
    expect_error(BASE TS_HEAD "layers = ();\n } );",
                 "tileq.conf:5: tilesets.[0].layers: must hold 1..32 layers");
    expect_error(BASE TS_HEAD "layers = { name = \"x\"; };\n } );",
                 "tileq.conf:5: tilesets.[0].layers: must be a list ( { ... }, ... )");
    expect_error(BASE TS_HEAD
                 "layers = ( { name = \"l\";\n sql = \"SELECT geom FROM t\"; } ); } );",
                 "tileq.conf:6: tilesets.[0].layers.[0].sql: must contain the !BBOX! token");
    expect_error(BASE TS_HEAD "layers = ( { name = \"l\";\n sql = \"  \"; } ); } );",
                 "tileq.conf:6: tilesets.[0].layers.[0].sql: must not be empty");
    expect_error(BASE TS_HEAD "layers = ( { name = \"l\"; } ); } );",
                 "tileq.conf:5: tilesets.[0].layers.[0].sql: required");
    expect_error(BASE TS_HEAD "layers = ( { sql = \"!BBOX!\"; } ); } );",
                 "tileq.conf:5: tilesets.[0].layers.[0].name: required");
    expect_error(BASE TS_HEAD "layers = ( { name = \"l\"; sql = \"!BBOX!\"; },\n"
                              "{ name = \"l\"; sql = \"!BBOX!\"; } ); } );",
                 "tileq.conf:6: tilesets.[0].layers.[1].name: duplicate layer name \"l\"");
    expect_error(BASE TS_HEAD
                 "layers = ( { name = \"l\"; sql = \"!BBOX!\";\n maxzoom = 40; } ); } );",
                 "tileq.conf:6: tilesets.[0].layers.[0].maxzoom: must be 0..30");
    expect_error(BASE TS_HEAD
                 "layers = ( { name = \"l\"; sql = \"!BBOX!\";\n filter = 1; } ); } );",
                 "tileq.conf:6: tilesets.[0].layers.[0].filter: unknown key");
    expect_error(BASE "tilesets = { name = \"x\"; };",
                 "tileq.conf:4: tilesets: must be a list ( { ... }, ... )");
    expect_error(BASE "tilesets = ( 1 );",
                 "tileq.conf:4: tilesets.[0]: must be a group { name = ...; layers = (...); }");

    /* top level */
    expect_error(BASE "cache_dri = \"/x\";", "tileq.conf:4: cache_dri: unknown key");
    expect_error(BASE "listen = \"8080\";",
                 "tileq.conf:4: listen: must be \"host:port\" with port 0..65535");
    expect_error(BASE "listen = \"h:65536\";",
                 "tileq.conf:4: listen: must be \"host:port\" with port 0..65535");
    expect_error(BASE "listen = \"h:80x\";",
                 "tileq.conf:4: listen: must be \"host:port\" with port 0..65535");
    expect_error(BASE "listen = 8080;", "tileq.conf:4: listen: must be a string");
    expect_error(BASE "log_level = \"loud\";",
                 "tileq.conf:4: log_level: must be debug, info, warn or error");
    expect_error("pg_conninfo = \"x\";\ncache_dir = \"/c\";\nredis_url = \"http://x\";\n",
                 "tileq.conf:3: redis_url: must be redis://[[user]:password@]host[:port][/db] or "
                 "host:port");
    expect_error("redis_url = \"h:1\";\npg_conninfo = \"x\";\n",
                 "tileq.conf: cache_dir: required (in the file or as TQ_CACHE_DIR)");
    expect_error("cache_dir = \"/c\";\npg_conninfo = \"x\";\n",
                 "tileq.conf: redis_url: required (in the file or as TQ_REDIS_URL)");
    expect_error("cache_dir = \"/c\";\nredis_url = \"h:1\";\npg_conninfo = \"\";\n",
                 "tileq.conf: pg_conninfo: required (in the file or as TQ_PG_CONNINFO)");

    /* queue and http */
    expect_error(BASE "queue = { max_attempts = 0; };",
                 "tileq.conf:4: queue.max_attempts: must be 1..1000");
    expect_error(BASE "queue = { lease = 3; };", "tileq.conf:4: queue.lease: unknown key");
    expect_error(BASE "queue = { dead_cooldown_seconds = -1; };",
                 "tileq.conf:4: queue.dead_cooldown_seconds: must be 0..31536000");
    expect_error(BASE TS_HEAD "statement_timeout_ms = 0;\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].statement_timeout_ms: must be 1..86400000");
    expect_error(BASE "queue = { cap = { interactive = 0; }; };",
                 "tileq.conf:4: queue.cap.interactive: must be 1..9223372036854775807");
    expect_error(BASE "queue = { running_cap = { bulk = -1; }; };",
                 "tileq.conf:4: queue.running_cap.bulk: must be 0..9223372036854775807");
    expect_error(BASE "queue = { cap = { urgent = 3; }; };",
                 "tileq.conf:4: queue.cap.urgent: unknown key");
    expect_error(BASE "queue = { cap = 3; };", "tileq.conf:4: queue.cap: must be a group { ... }");
    expect_error(BASE "queue = 3;", "tileq.conf:4: queue: must be a group { ... }");
    expect_error(BASE "http = { cors = \"*\"; };", "tileq.conf:4: http.cors: unknown key");
    expect_error(BASE "http = { cors_origin = 1; };",
                 "tileq.conf:4: http.cors_origin: must be a string");
}

static void test_syntax_error(void **state)
{
    char err[256];
    struct tq_config *cfg = load(BASE "tilesets = ( { name = \"x\" ", err, sizeof err);
    assert_null(cfg);
    assert_true(strncmp(err, "tileq.conf:4: ", 14) == 0);
    cfg = load("redis_url = \"x\";\nredis_url = \"y\";\n", err, sizeof err);
    assert_null(cfg);
    assert_true(strncmp(err, "tileq.conf:2: ", 14) == 0);
    cfg = tq_config_load("/nonexistent/dir/tileq.conf", err, sizeof err);
    assert_null(cfg);
    assert_non_null(strstr(err, "/nonexistent/dir/tileq.conf"));
}

static void test_env_overrides(void **state)
{
    char err[256];
    setenv("TQ_REDIS_URL", "redis://10.0.0.1:7000/2", 1);
    setenv("TQ_PG_CONNINFO", "dbname=other", 1);
    setenv("TQ_CACHE_DIR", "/var/cache/x", 1);
    setenv("TQ_LISTEN", "[::1]:8181", 1);
    setenv("TQ_WORKER_ID", "host-7", 1);
    setenv("TQ_LOG_LEVEL", "warn", 1);
    struct tq_config *cfg = load(BASE "listen = \"127.0.0.1:1\";", err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_string_equal(cfg->redis_url, "redis://10.0.0.1:7000/2");
    assert_string_equal(cfg->pg_conninfo, "dbname=other");
    assert_string_equal(cfg->cache_dir, "/var/cache/x");
    assert_string_equal(cfg->listen_host, "::1");
    assert_int_equal(cfg->listen_port, 8181);
    assert_string_equal(cfg->worker_id, "host-7");
    assert_string_equal(cfg->log_level, "warn");
    tq_config_free(cfg);

    /* required values may come from the environment alone */
    cfg = load("", err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_string_equal(cfg->cache_dir, "/var/cache/x");
    tq_config_free(cfg);

    /* bad values from the environment name the variable */
    setenv("TQ_LISTEN", "nonsense", 1);
    expect_error(BASE, "TQ_LISTEN: \"nonsense\" must be \"host:port\"");
    setenv("TQ_LISTEN", ":9000", 1);
    cfg = load(BASE, err, sizeof err);
    assert_non_null(cfg);
    assert_string_equal(cfg->listen_host, "0.0.0.0");
    assert_int_equal(cfg->listen_port, 9000);
    tq_config_free(cfg);
    setenv("TQ_LOG_LEVEL", "chatty", 1);
    expect_error(BASE, "TQ_LOG_LEVEL: must be debug, info, warn or error");
    setenv("TQ_LOG_LEVEL", "", 1); /* empty = unset */
    setenv("TQ_REDIS_URL", "ftp://x", 1);
    expect_error(BASE,
                 "TQ_REDIS_URL: must be redis://[[user]:password@]host[:port][/db] or host:port");
    clear_env(NULL);
}

/* Redis Sentinel: redis_sentinels + redis_sentinel_master, from the file or the environment. */
static void test_sentinels(void **state)
{
    char err[512];
    struct tq_config *cfg = load(BASE, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->nredis_sentinels, 0);
    assert_null(cfg->redis_sentinels);
    assert_null(cfg->redis_sentinel_master);
    tq_config_free(cfg);

    cfg = load(BASE "redis_sentinels = [ \"10.0.0.1:26379\", \"s2.example:26380\", "
                    "\"[::1]:5000\" ];\nredis_sentinel_master = \"tileq\";\n",
               err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->nredis_sentinels, 3);
    assert_string_equal(cfg->redis_sentinels[0].host, "10.0.0.1");
    assert_int_equal(cfg->redis_sentinels[0].port, 26379);
    assert_string_equal(cfg->redis_sentinels[1].host, "s2.example");
    assert_int_equal(cfg->redis_sentinels[1].port, 26380);
    assert_string_equal(cfg->redis_sentinels[2].host, "::1");
    assert_int_equal(cfg->redis_sentinels[2].port, 5000);
    assert_string_equal(cfg->redis_sentinel_master, "tileq");
    tq_config_free(cfg);

    /* a list ( ... ) works as well as an array [ ... ] */
    cfg =
        load(BASE "redis_sentinels = ( \"a:1\" ); redis_sentinel_master = \"m\";", err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->nredis_sentinels, 1);
    assert_string_equal(cfg->redis_sentinels[0].host, "a");
    assert_int_equal(cfg->redis_sentinels[0].port, 1);
    tq_config_free(cfg);

    /* line numbers: BASE is lines 1-3 */
    expect_error(BASE "redis_sentinels = [ \"a:1\", \"b\" ];\nredis_sentinel_master = \"m\";",
                 "tileq.conf:4: redis_sentinels.[1]: must be \"host:port\" with port 1..65535");
    expect_error(BASE "redis_sentinels = [ \"a:0\" ];\nredis_sentinel_master = \"m\";",
                 "tileq.conf:4: redis_sentinels.[0]: must be \"host:port\" with port 1..65535");
    expect_error(BASE "redis_sentinels = [ \"a:70000\" ];\nredis_sentinel_master = \"m\";",
                 "tileq.conf:4: redis_sentinels.[0]: must be \"host:port\" with port 1..65535");
    expect_error(BASE "redis_sentinels = [ \"redis://a:1\" ];\nredis_sentinel_master = \"m\";",
                 "tileq.conf:4: redis_sentinels.[0]: must be \"host:port\" with port 1..65535");
    expect_error(BASE "redis_sentinels = [ \"[::1]\" ];\nredis_sentinel_master = \"m\";",
                 "tileq.conf:4: redis_sentinels.[0]: must be \"host:port\" with port 1..65535");
    expect_error(BASE "redis_sentinels = ( \"a:1\", 5 );\nredis_sentinel_master = \"m\";",
                 "tileq.conf:4: redis_sentinels.[1]: must be a \"host:port\" string");
    expect_error(BASE "redis_sentinels = \"a:1\";\nredis_sentinel_master = \"m\";",
                 "tileq.conf:4: redis_sentinels: must be a non-empty array of \"host:port\" "
                 "strings");
    expect_error(BASE "redis_sentinels = [ ];\nredis_sentinel_master = \"m\";",
                 "tileq.conf:4: redis_sentinels: must be a non-empty array of \"host:port\" "
                 "strings");
    expect_error(BASE "redis_sentinels = [ \"a:1\" ];\n",
                 "tileq.conf: redis_sentinel_master: required with redis_sentinels (in the file "
                 "or as TQ_REDIS_SENTINEL_MASTER)");
    expect_error(BASE "redis_sentinel_master = \"m\";\n",
                 "tileq.conf:4: redis_sentinel_master: needs redis_sentinels (or "
                 "TQ_REDIS_SENTINELS)");
    expect_error(BASE "redis_sentinels = [ \"a:1\" ];\nredis_sentinel_master = \"my master\";",
                 "tileq.conf:5: redis_sentinel_master: must be 1..128 characters, no blanks");
    expect_error(BASE "redis_sentinels = [ \"a:1\" ];\nredis_sentinel_master = 3;",
                 "tileq.conf:5: redis_sentinel_master: must be a string");
    expect_error(BASE "redis_sentinels = [ \"a:1\", \"a:2\", \"a:3\", \"a:4\", \"a:5\", \"a:6\", "
                      "\"a:7\", \"a:8\", \"a:9\", \"a:10\", \"a:11\", \"a:12\", \"a:13\", "
                      "\"a:14\", \"a:15\", \"a:16\", \"a:17\" ];\nredis_sentinel_master = \"m\";",
                 "tileq.conf:4: redis_sentinels.[16]: at most 16 sentinels");

    /* the environment replaces the file's list and name */
    setenv("TQ_REDIS_SENTINELS", " 127.0.0.1:26379 , s2:26380,s3:1", 1);
    setenv("TQ_REDIS_SENTINEL_MASTER", "envmaster", 1);
    cfg = load(BASE "redis_sentinels = [ \"a:1\" ];\nredis_sentinel_master = \"m\";", err,
               sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->nredis_sentinels, 3);
    assert_string_equal(cfg->redis_sentinels[0].host, "127.0.0.1");
    assert_int_equal(cfg->redis_sentinels[0].port, 26379);
    assert_string_equal(cfg->redis_sentinels[1].host, "s2");
    assert_int_equal(cfg->redis_sentinels[2].port, 1);
    assert_string_equal(cfg->redis_sentinel_master, "envmaster");
    tq_config_free(cfg);
    setenv("TQ_REDIS_SENTINELS", "127.0.0.1:26379,nonsense", 1);
    expect_error(BASE,
                 "TQ_REDIS_SENTINELS: \"nonsense\": must be \"host:port\" with port 1..65535");
    setenv("TQ_REDIS_SENTINELS", " , ", 1);
    expect_error(BASE, "TQ_REDIS_SENTINELS: \"\": must be \"host:port\" with port 1..65535");
    setenv("TQ_REDIS_SENTINELS", ",,", 1);
    expect_error(BASE, "TQ_REDIS_SENTINELS: must be \"host:port,host:port,...\"");
    setenv("TQ_REDIS_SENTINELS", "127.0.0.1:26379", 1);
    setenv("TQ_REDIS_SENTINEL_MASTER", "a b", 1);
    expect_error(BASE, "TQ_REDIS_SENTINEL_MASTER: must be 1..128 characters, no blanks");
    unsetenv("TQ_REDIS_SENTINELS");
    setenv("TQ_REDIS_SENTINEL_MASTER", "m", 1);
    expect_error(BASE, "TQ_REDIS_SENTINEL_MASTER: needs redis_sentinels (or TQ_REDIS_SENTINELS)");
    clear_env(NULL);
}

/* Redis Cluster: redis_cluster_nodes from the file or TQ_REDIS_CLUSTER_NODES; db 0 only; not
 * with sentinels. */
static void test_cluster_nodes(void **state)
{
    char err[512];
    struct tq_config *cfg;

    cfg = load(BASE "redis_cluster_nodes = [ \"10.0.0.1:7000\", \"[::1]:7001\" ];\n", err,
               sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->nredis_cluster_nodes, 2);
    assert_string_equal(cfg->redis_cluster_nodes[0].host, "10.0.0.1");
    assert_int_equal(cfg->redis_cluster_nodes[0].port, 7000);
    assert_string_equal(cfg->redis_cluster_nodes[1].host, "::1");
    assert_int_equal(cfg->redis_cluster_nodes[1].port, 7001);
    assert_int_equal(cfg->nredis_sentinels, 0);
    struct tq_redis_target t = tq_config_redis_target(cfg);
    assert_int_equal(t.ncluster_nodes, 2);
    assert_ptr_equal(t.cluster_nodes, cfg->redis_cluster_nodes);
    tq_config_free(cfg);

    expect_error(BASE "redis_cluster_nodes = [ \"a:1\", \"b\" ];\n",
                 "tileq.conf:4: redis_cluster_nodes.[1]: must be \"host:port\" with port 1..65535");
    expect_error(BASE "redis_cluster_nodes = [ ];\n",
                 "tileq.conf:4: redis_cluster_nodes: must be a non-empty array of \"host:port\" "
                 "strings");
    expect_error(BASE "redis_cluster_nodes = [ \"a:1\", \"a:2\", \"a:3\", \"a:4\", \"a:5\", "
                      "\"a:6\", \"a:7\", \"a:8\", \"a:9\", \"a:10\", \"a:11\", \"a:12\", "
                      "\"a:13\", \"a:14\", \"a:15\", \"a:16\", \"a:17\" ];\n",
                 "tileq.conf:4: redis_cluster_nodes.[16]: at most 16 cluster nodes");
    expect_error("redis_url = \"redis://127.0.0.1:6379/2\";\n"
                 "pg_conninfo = \"host=127.0.0.1 dbname=tileq\";\n"
                 "cache_dir = \"/tmp/tq-cache\";\n"
                 "redis_cluster_nodes = [ \"a:1\" ];\n",
                 "tileq.conf: redis_url: database 2 with redis_cluster_nodes: Redis Cluster has "
                 "database 0 only");
    expect_error(BASE "redis_cluster_nodes = [ \"a:1\" ];\nredis_sentinels = [ \"a:2\" ];\n"
                      "redis_sentinel_master = \"m\";\n",
                 "tileq.conf: redis_cluster_nodes: cannot go with redis_sentinels (a cluster "
                 "fails over by itself)");

    setenv("TQ_REDIS_CLUSTER_NODES", " 127.0.0.1:7000 ,127.0.0.1:7001", 1);
    cfg = load(BASE "redis_cluster_nodes = [ \"a:1\" ];\n", err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->nredis_cluster_nodes, 2);
    assert_string_equal(cfg->redis_cluster_nodes[0].host, "127.0.0.1");
    assert_int_equal(cfg->redis_cluster_nodes[1].port, 7001);
    tq_config_free(cfg);
    setenv("TQ_REDIS_CLUSTER_NODES", "127.0.0.1:7000,nonsense", 1);
    expect_error(BASE,
                 "TQ_REDIS_CLUSTER_NODES: \"nonsense\": must be \"host:port\" with port 1..65535");
    clear_env(NULL);
}

static void test_load_file(void **state)
{
    char dir[] = "/tmp/tq-config-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], inc[256];
    snprintf(path, sizeof path, "%s/tileq.conf", dir);
    snprintf(inc, sizeof inc, "%s/tilesets.conf", dir);
    FILE *f = fopen(inc, "w");
    assert_non_null(f);
    fputs(DEMO_TILESET, f);
    fclose(f);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(BASE "@include \"tilesets.conf\"\n", f);
    fclose(f);
    char err[256];
    struct tq_config *cfg = tq_config_load(path, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_string_equal(cfg->path, path);
    assert_int_equal(cfg->ntilesets, 1);
    tq_config_free(cfg);

    /* errors name the file they are in */
    f = fopen(path, "w");
    fputs(BASE "\n\nlisten = 3;\n", f);
    fclose(f);
    cfg = tq_config_load(path, err, sizeof err);
    assert_null(cfg);
    char want[300];
    snprintf(want, sizeof want, "%s:6: listen: must be a string", path);
    assert_string_equal(err, want);
    unlink(path);
    unlink(inc);
    rmdir(dir);
}

static void expect_url(const char *url, const char *host, int port, const char *password, int db)
{
    char *h = NULL, *pw = NULL;
    int p = -1, d = -1;
    if (tq_redis_url_parse(url, &h, &p, &pw, &d) != 0)
        fail_msg("rejected %s", url);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
    if (password == NULL)
        assert_null(pw);
    else
        assert_string_equal(pw, password);
    assert_int_equal(d, db);
    free(h);
    free(pw);
}

static void test_redis_url(void **state)
{
    expect_url("redis://127.0.0.1:6379/0", "127.0.0.1", 6379, NULL, 0);
    expect_url("redis://localhost", "localhost", 6379, NULL, 0);
    expect_url("redis://localhost/", "localhost", 6379, NULL, 0);
    expect_url("redis://h:7000/15", "h", 7000, NULL, 15);
    expect_url("redis://:secret@h:7000/1", "h", 7000, "secret", 1);
    expect_url("redis://default:s%40c%3Aret@h", "h", 6379, "s@c:ret", 0);
    expect_url("redis://:p@ss@h", "h", 6379, "p@ss", 0);
    expect_url("redis://[::1]:6380/2", "::1", 6380, NULL, 2);
    expect_url("127.0.0.1:6390", "127.0.0.1", 6390, NULL, 0);
    expect_url("redis-host", "redis-host", 6379, NULL, 0);

    const char *bad[] = {"",
                         "redis://",
                         "redis://:6379",
                         "redis://h:0",
                         "redis://h:65536",
                         "redis://h:12x",
                         "redis://h:",
                         "redis://h/x",
                         "redis://h/1/2",
                         "redis://user@h",
                         "redis://:bad%zz@h",
                         "redis://:nul%00@h",
                         "redis://[::1",
                         "redis://[::1]x",
                         "rediss://h",
                         "http://h:80",
                         "h:p",
                         "a:b:c"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *h = (char *)1, *pw = (char *)1;
        int p, d;
        if (tq_redis_url_parse(bad[i], &h, &p, &pw, &d) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_null(h);
        assert_null(pw);
    }
    char *h, *pw;
    int p, d;
    assert_int_equal(tq_redis_url_parse(NULL, &h, &p, &pw, &d), -1);
}

/* crash-safe cache: cache_fsync is a boolean, true by default. */
static void test_cache_fsync(void **state)
{
    char err[256];
    struct tq_config *cfg = load(BASE DEMO_TILESET, err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(cfg->cache_fsync, 1);
    tq_config_free(cfg);
    cfg = load(BASE "cache_fsync = false;\n" DEMO_TILESET, err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(cfg->cache_fsync, 0);
    tq_config_free(cfg);
    cfg = load(BASE "cache_fsync = true;\n" DEMO_TILESET, err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(cfg->cache_fsync, 1);
    tq_config_free(cfg);
    assert_null(load(BASE "cache_fsync = 0;\n" DEMO_TILESET, err, sizeof err));
    assert_string_equal(err, "tileq.conf:4: cache_fsync: must be true or false");
}

/* Tiles follow the data: a tileset's watch list. */
static void test_watch_list(void **state)
{
    (void)state;
    char err[256];
    struct tq_config *cfg = load(BASE DEMO_TILESET, err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(cfg->tilesets[0].nwatch, 0);
    assert_null(cfg->tilesets[0].watch);
    tq_config_free(cfg);
    cfg = load(BASE TS_HEAD "watch = [ \"demo.points\", \"results\" ];\n" LAYER_OK " } );", err,
               sizeof err);
    assert_non_null(cfg);
    assert_int_equal(cfg->tilesets[0].nwatch, 2);
    assert_string_equal(cfg->tilesets[0].watch[0], "demo.points");
    assert_string_equal(cfg->tilesets[0].watch[1], "results");
    tq_config_free(cfg);
    expect_error(BASE TS_HEAD "watch = [ ];\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].watch: must be a non-empty array of table names "
                 "[ \"schema.table\", ... ]");
    expect_error(BASE TS_HEAD "watch = \"demo.points\";\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].watch: must be a non-empty array of table names "
                 "[ \"schema.table\", ... ]");
    expect_error(BASE TS_HEAD "watch = ( \"\" );\n" LAYER_OK " } );",
                 "tileq.conf:5: tilesets.[0].watch: element 0: must be a table name (a string "
                 "of 1..255 bytes)");
}

/* The coordinator's keys: holding misses while Redis is away, hostile clients. */
static void test_coord_keys(void **state)
{
    char err[256];
    struct tq_config *cfg = load(BASE, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->queue.hold_seconds, 10);
    assert_int_equal(cfg->queue.hold_max, 10000);
    assert_int_equal(cfg->http.max_connections, 768);
    assert_int_equal(cfg->http.read_deadline_seconds, 10);
    assert_int_equal(cfg->http.processes, 1);
    tq_config_free(cfg);

    cfg = load(BASE "queue = { hold_seconds = 0; hold_max = 5; };\n"
                    "http = { max_connections = 3; read_deadline_seconds = 7; processes = 2; };\n",
               err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->queue.hold_seconds, 0);
    assert_int_equal(cfg->queue.hold_max, 5);
    assert_int_equal(cfg->http.max_connections, 3);
    assert_int_equal(cfg->http.read_deadline_seconds, 7);
    assert_int_equal(cfg->http.processes, 2);
    tq_config_free(cfg);
    expect_error(BASE "http = { processes = 0; };", "tileq.conf:4: http.processes: must be 1..256");
    expect_error(BASE "http = { processes = 257; };",
                 "tileq.conf:4: http.processes: must be 1..256");

    expect_error(BASE "queue = { hold_seconds = -1; };",
                 "tileq.conf:4: queue.hold_seconds: must be 0..3600");
    expect_error(BASE "queue = { hold_max = -2; };",
                 "tileq.conf:4: queue.hold_max: must be 0..100000000");
    expect_error(BASE "http = { max_connections = 0; };",
                 "tileq.conf:4: http.max_connections: must be 1..1000000");
    expect_error(BASE "http = { read_deadline_seconds = 0; };",
                 "tileq.conf:4: http.read_deadline_seconds: must be 1..3600");
    expect_error(BASE "http = { read_deadline = 3; };",
                 "tileq.conf:4: http.read_deadline: unknown key");
}

/* Secrets (issue 16 item 3): password files, the environment, ACL users, and no password in
 * any message. */
static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_secrets(void **state)
{
    char err[512], dir[] = "/tmp/tq-secret-test-XXXXXX", rpw[128], ppw[128], text[1024];
    struct tq_config *cfg;
    char *user, *pw;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(rpw, sizeof rpw, "%s/redis.pw", dir);
    snprintf(ppw, sizeof ppw, "%s/pg.pw", dir);
    write_file(rpw, "r3dis-s3cret\n");
    write_file(ppw, "pg s3cret'\\\r\nsecond line ignored\n");

    /* the files, named in the config */
    snprintf(text, sizeof text,
             BASE "redis_user = \"tileq\";\nredis_password_file = \"%s\";\n"
                  "pg_password_file = \"%s\";\n",
             rpw, ppw);
    cfg = load(text, err, sizeof err);
    assert_non_null(cfg);
    assert_string_equal(cfg->redis_user, "tileq");
    assert_string_equal(cfg->redis_password, "r3dis-s3cret");
    assert_string_equal(cfg->pg_password, "pg s3cret'\\");
    struct tq_redis_target t = tq_config_redis_target(cfg);
    assert_int_equal(tq_redis_credentials(&t, &user, &pw), 0);
    assert_string_equal(user, "tileq");
    assert_string_equal(pw, "r3dis-s3cret");
    free(user);
    free(pw);
    tq_config_free(cfg);

    /* the environment wins: TQ_REDIS_PASSWORD over every file, the variables' files over
     * the config's */
    setenv("TQ_REDIS_PASSWORD", "from-env", 1);
    setenv("TQ_PG_PASSWORD_FILE", rpw, 1);
    setenv("TQ_REDIS_USER", "envuser", 1);
    cfg = load(text, err, sizeof err);
    assert_non_null(cfg);
    assert_string_equal(cfg->redis_password, "from-env");
    assert_string_equal(cfg->pg_password, "r3dis-s3cret");
    assert_string_equal(cfg->redis_user, "envuser");
    tq_config_free(cfg);
    unsetenv("TQ_REDIS_PASSWORD");
    unsetenv("TQ_PG_PASSWORD_FILE");
    unsetenv("TQ_REDIS_USER");

    /* none: the URL's user and password */
    cfg = load("redis_url = \"redis://alice:p%40ss@127.0.0.1:6379/0\";\n"
               "pg_conninfo = \"dbname=tileq\";\ncache_dir = \"/tmp/x\";\n",
               err, sizeof err);
    assert_non_null(cfg);
    assert_null(cfg->redis_password);
    assert_null(cfg->pg_password);
    t = tq_config_redis_target(cfg);
    assert_int_equal(tq_redis_credentials(&t, &user, &pw), 0);
    assert_string_equal(user, "alice");
    assert_string_equal(pw, "p@ss");
    free(user);
    free(pw);
    tq_config_free(cfg);
    /* "default" is Redis's own user: the same as none (AUTH password) */
    struct tq_redis_target d = {.url = "redis://default:x@h"};
    assert_int_equal(tq_redis_credentials(&d, &user, &pw), 0);
    assert_null(user);
    assert_string_equal(pw, "x");
    free(pw);

    /* a bad file: the message names it, never its content */
    snprintf(text, sizeof text, BASE "redis_password_file = \"%s/missing\";\n", dir);
    assert_null(load(text, err, sizeof err));
    assert_non_null(strstr(err, "redis_password_file"));
    assert_non_null(strstr(err, "missing"));
    write_file(rpw, "\nr3dis-s3cret\n");
    snprintf(text, sizeof text, BASE "redis_password_file = \"%s\";\n", rpw);
    assert_null(load(text, err, sizeof err));
    assert_non_null(strstr(err, "the first line is empty"));
    assert_null(strstr(err, "s3cret"));
    setenv("TQ_PG_PASSWORD_FILE", dir, 1); /* a directory */
    assert_null(load(BASE, err, sizeof err));
    assert_non_null(strstr(err, "TQ_PG_PASSWORD_FILE: password file"));
    unsetenv("TQ_PG_PASSWORD_FILE");
    expect_error(BASE "redis_user = \"tileq\";\n",
                 "tileq.conf: redis_user: needs a password (redis_password_file, "
                 "TQ_REDIS_PASSWORD, TQ_REDIS_PASSWORD_FILE or redis_url's)");
    setenv("TQ_REDIS_PASSWORD", "x", 1);
    cfg = load(BASE "redis_user = \"tileq\";\n", err, sizeof err);
    assert_non_null(cfg);
    tq_config_free(cfg);
    unsetenv("TQ_REDIS_PASSWORD");
    expect_error(BASE "redis_user = \"a b\";\n",
                 "tileq.conf: redis_user: must be 1..128 characters, no blanks");
    expect_error(BASE "worker_id = \"host a\";\n",
                 "tileq.conf:4: worker_id: must be 1..255 bytes of printable ASCII without blanks");
    expect_error(BASE "worker_id = \"host\\na\";\n",
                 "tileq.conf:4: worker_id: must be 1..255 bytes of printable ASCII without blanks");
    setenv("TQ_REDIS_URL", "redis://u:s3cret@h:99999", 1);
    assert_null(load(BASE, err, sizeof err));
    assert_null(strstr(err, "s3cret"));
    unsetenv("TQ_REDIS_URL");

    unlink(rpw);
    unlink(ppw);
    rmdir(dir);
}

/* 1 when addr is in the list l. */
static int listed(const struct tq_cidr_list *l, const char *addr)
{
    struct tq_ip ip;
    assert_int_equal(tq_ip_parse(addr, &ip), 0);
    return tq_cidr_list_match(l, &ip);
}

/* http.trusted_proxies and http.metrics_allow (issue 16): defaults, lists, env, errors. */
static void test_address_lists(void **state)
{
    char err[512];
    struct tq_config *cfg;

    (void)state;
    cfg = load(BASE, err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->http.trusted_proxies.n, 0); /* nobody's forwarded headers count */
    assert_false(listed(&cfg->http.trusted_proxies, "127.0.0.1"));
    assert_true(listed(&cfg->http.metrics_allow, "127.0.0.1"));
    assert_true(listed(&cfg->http.metrics_allow, "127.1.2.3"));
    assert_true(listed(&cfg->http.metrics_allow, "::1"));
    assert_false(listed(&cfg->http.metrics_allow, "10.0.0.1"));
    tq_config_free(cfg);

    cfg = load(BASE "http = { trusted_proxies = [ \"10.0.0.0/8\", \"::1\" ];\n"
                    "         metrics_allow = ( \"192.0.2.7\" ); };\n",
               err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->http.trusted_proxies.n, 2);
    assert_true(listed(&cfg->http.trusted_proxies, "10.9.8.7"));
    assert_true(listed(&cfg->http.trusted_proxies, "::1"));
    assert_false(listed(&cfg->http.trusted_proxies, "127.0.0.1"));
    assert_int_equal(cfg->http.metrics_allow.n, 1); /* replaces the default */
    assert_true(listed(&cfg->http.metrics_allow, "192.0.2.7"));
    assert_false(listed(&cfg->http.metrics_allow, "127.0.0.1"));
    tq_config_free(cfg);

    cfg = load(BASE "http = { metrics_allow = [ ]; };\n", err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->http.metrics_allow.n, 0); /* empty: nobody */
    tq_config_free(cfg);

    setenv("TQ_TRUSTED_PROXIES", " 172.16.0.0/12 , fd00::/8,", 1);
    setenv("TQ_METRICS_ALLOW", "", 1);
    cfg = load(BASE "http = { trusted_proxies = [ \"10.0.0.0/8\" ]; };\n", err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    assert_int_equal(cfg->http.trusted_proxies.n, 2);
    assert_true(listed(&cfg->http.trusted_proxies, "172.31.0.1"));
    assert_true(listed(&cfg->http.trusted_proxies, "fd12::1"));
    assert_false(listed(&cfg->http.trusted_proxies, "10.0.0.1"));
    assert_int_equal(cfg->http.metrics_allow.n, 0);
    tq_config_free(cfg);
    setenv("TQ_TRUSTED_PROXIES", "10.0.0.0/8,proxy.example", 1);
    cfg = load(BASE, err, sizeof err);
    assert_null(cfg);
    assert_string_equal(err, "TQ_TRUSTED_PROXIES: \"proxy.example\": not a numeric IPv4 or IPv6 "
                             "address (no host names)");
    unsetenv("TQ_TRUSTED_PROXIES");
    unsetenv("TQ_METRICS_ALLOW");

    expect_error(BASE "http = { trusted_proxies = \"10.0.0.0/8\"; };",
                 "tileq.conf:4: http.trusted_proxies: must be an array of addresses "
                 "[ \"10.0.0.0/8\", \"::1\", ... ]");
    expect_error(BASE "http = { trusted_proxies = [ 10 ]; };",
                 "tileq.conf:4: http.trusted_proxies.[0]: must be a string \"ADDRESS\" or "
                 "\"ADDRESS/BITS\"");
    expect_error(BASE "http = { trusted_proxies = [ \"10.0.0.1/8\" ]; };",
                 "tileq.conf:4: http.trusted_proxies.[0]: \"10.0.0.1/8\": host bits are set "
                 "after the prefix (e.g. write 10.0.0.0/8)");
    expect_error(BASE "http = { metrics_allow = [ \"::1\", \"localhost\" ]; };",
                 "tileq.conf:4: http.metrics_allow.[1]: \"localhost\": not a numeric IPv4 or "
                 "IPv6 address (no host names)");
    expect_error(BASE "http = { metrics_allow = [ \"10.0.0.0/33\" ]; };",
                 "tileq.conf:4: http.metrics_allow.[0]: \"10.0.0.0/33\": an IPv4 prefix length "
                 "is 0..32");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_full_example, clear_env),
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_watch_list, clear_env),
        cmocka_unit_test_setup(test_coord_keys, clear_env),
        cmocka_unit_test_setup(test_validation_messages, clear_env),
        cmocka_unit_test_setup(test_syntax_error, clear_env),
        cmocka_unit_test_setup(test_env_overrides, clear_env),
        cmocka_unit_test_setup(test_load_file, clear_env),
        cmocka_unit_test_setup(test_redis_url, clear_env),
        cmocka_unit_test_setup(test_sentinels, clear_env),
        cmocka_unit_test_setup(test_cluster_nodes, clear_env),
        cmocka_unit_test_setup(test_cache_fsync, clear_env),
        cmocka_unit_test_setup(test_secrets, clear_env),
        cmocka_unit_test_setup(test_address_lists, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

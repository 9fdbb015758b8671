/* tq_config — the one configuration file every tileq program reads (libconfig syntax),
 * plus environment overrides for what differs per host:
 *   TQ_REDIS_URL, TQ_PG_CONNINFO, TQ_CACHE_DIR, TQ_LISTEN, TQ_WORKER_ID, TQ_LOG_LEVEL,
 *   TQ_REDIS_SENTINELS ("host:port,host:port,..."), TQ_REDIS_SENTINEL_MASTER,
 *   TQ_REDIS_CLUSTER_NODES ("host:port,host:port,..."),
 *   TQ_REDIS_USER, TQ_REDIS_PASSWORD, TQ_REDIS_PASSWORD_FILE, TQ_PG_PASSWORD_FILE (Secrets)
 *   TQ_TRUSTED_PROXIES, TQ_METRICS_ALLOW ("10.0.0.0/8,::1"; set but empty: an empty list)
 *
 * Example:
 *   redis_url   = "redis://127.0.0.1:6379/0";
 *   redis_sentinels = [ "10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379" ];  # optional
 *   redis_sentinel_master = "tileq";                        # with redis_sentinels
 *   redis_cluster_nodes = [ "10.0.0.1:7000", "10.0.0.2:7000" ];  # optional, Redis Cluster
 *   pg_conninfo = "host=127.0.0.1 port=5432 dbname=tileq";
 *   cache_dir   = "/var/cache/tileq";
 *   listen      = "127.0.0.1:8080";
 *   cache_fsync = true;   # fsync tiles before rename, directories once per metatile
 *   queue = { max_attempts = 3; lease_seconds = 30; render_timeout_seconds = 60;
 *             dead_cooldown_seconds = 300;
 *             hold_seconds = 10; hold_max = 10000;      # misses held while Redis is away
 *             cap = { interactive = 10000; dirty = 100000; bulk = 100000; };
 *             running_cap = { interactive = 0; dirty = 0; bulk = 0; }; };  # 0 = no cap
 *   http = { cache_control = "public, max-age=3600"; cors_origin = "*";
 *            public_url = "https://tiles.example.com/tq";   # optional, see below
 *            static_dir = "/usr/share/tileq/static";       # optional, see below
 *            max_connections = 768; read_deadline_seconds = 10;
 *            processes = 1;   # coordinator processes sharing the port (SO_REUSEPORT)
 *            trusted_proxies = [ "127.0.0.1", "10.0.0.0/8" ];  # forwarded headers from these
 *            metrics_allow = [ "127.0.0.1", "::1" ]; };        # /metrics and /health for these
 *   tilesets = ( { name = "demo"; minzoom = 0; maxzoom = 14; metatile = 8;
 *                  extent = 4096; buffer = 64; statement_timeout_ms = 30000;
 *                  bounds = [ -180.0, -85.0511, 180.0, 85.0511 ];  # optional, w s e n (EPSG:4326)
 *                  center = [ 2.35, 48.85, 10.0 ];                 # optional, lon lat zoom
 *                  layers = ( { name = "places"; minzoom = 0; maxzoom = 14;
 *                               sql = "SELECT geom, name FROM places WHERE geom && !BBOX!"; } ); }
 * );
 *
 * bounds and center: libconfig arrays [ ] hold one type only, so write every number with a
 * decimal point ([ -180.0, -85.0511, 180.0, 85.0511 ]) or use a list ( -180, -85.0511, ... ).
 * http.public_url: the absolute URL clients reach the coordinators under (behind a proxy);
 * TileJSON "tiles" URLs start with it. Unset: built from each request's Host and
 * X-Forwarded-Proto/-Host/-Prefix headers. http.static_dir: where the preview page's files
 * (MapLibre GL JS included) are; unset: the coordinator looks in the install's
 * share/tileq/static, then in the build tree's static/.
 *
 * Redis Sentinel: with redis_sentinels (and redis_sentinel_master, the name the sentinels
 * monitor), every program asks the sentinels for the master's address before each connect
 * (tq_redis.h) and the host:port of redis_url is not used; its password and db are.
 * Redis Cluster: with redis_cluster_nodes (a few "seed" nodes of the cluster), every program
 * asks them which master holds the slot of the {tq} hash tag and connects there; redis_url
 * gives the password only (its db must be 0).
 *
 * Secrets: a password is best kept out of the config file and of every command line.
 *   redis_user = "tileq";                          # Redis ACL user (TQ_REDIS_USER)
 *   redis_password_file = "/etc/tileq/redis.pw";   # first line (TQ_REDIS_PASSWORD_FILE)
 *   pg_password_file = "/etc/tileq/pg.pw";         # first line (TQ_PG_PASSWORD_FILE)
 * TQ_REDIS_PASSWORD (the password itself) wins over a password file, which wins over a
 * password in redis_url; a user in redis_url ("redis://user:pw@host") is the ACL user when
 * redis_user is not set. pg_password_file's password wins over one in pg_conninfo; without
 * it libpq's own ways work as always (PGPASSWORD, PGPASSFILE, ~/.pgpass, passfile=).
 * Password files are read once at load; their content is never printed, and conninfo
 * strings and Redis URLs are printed redacted (tq_secret.h).
 *
 * With no tileset configured, every table in geometry_columns is published as a one-layer
 * tileset (tq_discover.h fills cfg->tilesets at start).
 *
 * The config is loaded once at start and is read-only afterwards; one struct owns every
 * string in it and tq_config_free() frees them all. */
#ifndef TQ_CONFIG_H
#define TQ_CONFIG_H

#include <stddef.h>

#include "tq_cidr.h"
#include "tq_job.h"
#include "tq_redis.h"
#include "tq_tileset.h"

#define TQ_MAX_LAYERS 32
#define TQ_MAX_TILESETS 256

struct tq_layer_config {
    char *name;
    char *sql; /* with !BBOX! and !ZOOM! tokens */
    int minzoom, maxzoom;
};

struct tq_tileset_config {
    char *name; /* tq_tileset_name_valid (tq_tileset.h) */
    int minzoom, maxzoom;
    unsigned metatile; /* tiles a side, 1..TQ_METATILE_MAX (64), default 8 */
    unsigned extent;   /* default 4096 */
    unsigned buffer;   /* default 64 */
    size_t nlayers;
    struct tq_layer_config *layers;
    double bounds[4];           /* w, s, e, n in degrees; default the Web Mercator world */
    double center[3];           /* lon, lat, zoom; default the middle of bounds at minzoom */
    int has_bounds, has_center; /* set in the config (or found by discovery) */
    /* Bounded renders (issue 10): PostgreSQL's statement_timeout for each render statement
     * of this tileset, in ms (1..86400000, default TQ_STATEMENT_TIMEOUT_MS_DEFAULT). A render
     * past it fails with PostgreSQL's message and counts as a failed attempt; the worker's
     * lease is capped at (timeout x render statements of the job) + a margin. */
    int statement_timeout_ms;
    /* Tiles follow the data (issue 11): the tables (\"schema.table\" or \"table\") whose
     * changes expire this tileset's tiles, when set (`watch = [ "demo.points" ];`); unset
     * (nwatch 0): `tileq watch install` finds them from the layers' SQL (tq_watch_sql.h). */
    size_t nwatch;
    char **watch;
};

/* 30 s: a hundred times what the heaviest metatile of the demo and benchmark data takes
 * (a few hundred ms), below the 60 s a client waits by default (queue.render_timeout_seconds),
 * so a pathological metatile fails and is retried while its requester still waits, and at
 * most max_attempts x 30 s of a worker goes into it. */
#define TQ_STATEMENT_TIMEOUT_MS_DEFAULT 30000

struct tq_queue_config {
    int max_attempts;                 /* default 3 */
    int lease_seconds;                /* default 30 */
    int render_timeout_seconds;       /* coordinator's wait before 504, default 60 */
    long cap[TQ_CLASS_COUNT];         /* max queued jobs per class (full beyond) */
    long running_cap[TQ_CLASS_COUNT]; /* max running jobs per class, 0 = unlimited */
    int fair_every; /* every n-th claim takes the lowest class first (0 = never), default 10 */
    /* Dead letters stay dead (issue 10): for this long after a job was dead-lettered, an
     * enqueue answers "dead" with its reason and renders nothing (default 300, 0 = off). */
    int dead_cooldown_seconds;
    /* Coordinator: holding misses while Redis is away (tq_wait.h). */
    int hold_seconds; /* a held request's bound before 503, default 10; 0 = never hold */
    long hold_max;    /* held requests at most (new misses past it get 503), default 10000 */
};

struct tq_http_config {
    char *cache_control; /* default "public, max-age=3600" */
    char *cors_origin;   /* default "*" */
    char *public_url;    /* default NULL: from the request's headers */
    char *static_dir;    /* default NULL: see above */
    /* Coordinator: hostile clients (tq_conns.h). */
    int max_connections;       /* client connections at most; past it, stop accepting; 768 */
    int read_deadline_seconds; /* a whole request must arrive within it (first byte on), 10 */
    /* Coordinator: who may say what (issue 16). trusted_proxies: the peers whose
     * X-Forwarded-For/-Proto/-Host/-Prefix headers count (default none: a client's own are
     * ignored). metrics_allow: the client addresses (behind trusted proxies: the one
     * X-Forwarded-For names) that GET /metrics and /health answer; others get 403 (default
     * 127.0.0.0/8 and ::1). Env TQ_TRUSTED_PROXIES / TQ_METRICS_ALLOW ("a,b/n,...") replace
     * the file's lists. */
    struct tq_cidr_list trusted_proxies;
    struct tq_cidr_list metrics_allow;
    /* Coordinator: processes serving the listen port (SO_REUSEPORT), 1..256, default 1. */
    int processes;
};

#define TQ_MAX_SENTINELS 16

struct tq_config {
    char *path; /* the file it came from */
    char *redis_url;
    /* Redis Sentinel (redis_sentinels, redis_sentinel_master): nredis_sentinels 0 = not used,
     * else redis_sentinel_master is set too. */
    size_t nredis_sentinels;
    struct tq_hostport *redis_sentinels;
    char *redis_sentinel_master;
    /* Redis Cluster (redis_cluster_nodes): seed nodes asked which master holds the {tq} slot
     * (tq_redis.h); 0 = not a cluster. Never with sentinels; redis_url's db is then 0. */
    size_t nredis_cluster_nodes;
    struct tq_hostport *redis_cluster_nodes;
    char *pg_conninfo;
    char *cache_dir;
    char *listen_host;
    int listen_port;
    char *worker_id; /* default host:pid, filled by the worker when absent */
    char *log_level; /* default "info" */
    struct tq_queue_config queue;
    struct tq_http_config http;
    /* crash-safe cache: fsync each tile file before its rename and each directory that
     * received tiles once per batch (tq_cache.h); default 1 */
    int cache_fsync;
    /* Secrets (issue 16 item 3; see "Secrets" above): never on a command line, never
     * printed. */
    char *redis_user;     /* an ACL user; NULL: redis_url's, else "default" */
    char *redis_password; /* NULL: redis_url's (if any) */
    char *pg_password;    /* NULL: libpq's own (conninfo, PGPASSWORD, ~/.pgpass) */
    size_t ntilesets;
    struct tq_tileset_config *tilesets;
};

/* Loads and validates path, then applies the TQ_* environment overrides. Returns a new
 * config the caller frees with tq_config_free(), or NULL with a message in err naming the
 * file, line and bad key, e.g. "tileq.conf:12: tilesets.[0].maxzoom: must be 0..30". */
struct tq_config *tq_config_load(const char *path, char *err, size_t errsize);

/* Same, from a string (tests). name is used in messages. */
struct tq_config *tq_config_load_string(const char *text, const char *name, char *err,
                                        size_t errsize);

void tq_config_free(struct tq_config *cfg);

/* The Redis cfg names (tq_redis.h), pointing into cfg. */
struct tq_redis_target tq_config_redis_target(const struct tq_config *cfg);

/* The tileset called name, or NULL. */
const struct tq_tileset_config *tq_config_tileset(const struct tq_config *cfg, const char *name);

#endif

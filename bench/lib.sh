# shellcheck shell=bash
# bench/lib.sh — shared by the benchmarks: a Release build, a throwaway PostgreSQL+PostGIS
# cluster and a Redis server on free loopback ports (deploy/stack.sh), tileq processes, and
# cleanup of everything on exit. Source it after `set -euo pipefail`.
#
# Environment: TQ_BENCH_BUILD_DIR (default build-release/; configured and built here with
# -DCMAKE_BUILD_TYPE=Release; TQ_BENCH_NO_BUILD=1 uses it as it is), TQ_BENCH_KEEP=1 keeps
# the temp dir (logs) at the end. The config's cache_fsync starts true; b_set_fsync on|off
# changes it and restarts the workers.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../deploy/stack.sh
source "$BENCH_ROOT/deploy/stack.sh"
BUILD=${TQ_BENCH_BUILD_DIR:-$BENCH_ROOT/build-release}
B_PIDS=()
B_WORKER_NAMES=()

b_build() {
    if [[ ${TQ_BENCH_NO_BUILD:-0} == 1 ]]; then
        [[ -x $BUILD/worker/tileq-worker && -x $BUILD/bench/tq-bench-sql ]] ||
            tq_die "TQ_BENCH_NO_BUILD=1 but $BUILD is not built"
    else
        cmake -S "$BENCH_ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null ||
        tq_die "cmake configure failed"
    cmake --build "$BUILD" -j2 --target tileq-coordinator tileq-worker tq-bench-enqueue \
        tq-bench-sql tq-bench-tilecheck >/dev/null || tq_die "build failed"
    fi
    grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" ||
        tq_die "$BUILD is not a Release build"
}

b_cleanup() {
    local f
    for f in "${B_PIDS[@]}"; do
        tq_stop_pidfile "$f" 20
    done
    if [[ -n ${B_DIR:-} && -d $B_DIR ]]; then
        tq_redis_stop "$B_DIR"
        tq_pg_stop "$B_DIR"
        if [[ ${TQ_BENCH_KEEP:-0} == 1 ]]; then
            echo "kept $B_DIR" >&2
        else
            rm -rf "$B_DIR"
        fi
    fi
}

# b_services: temp dir $B_DIR, PostgreSQL ($B_PG_PORT, database tileq with PostGIS and the
# render log table) and Redis ($B_REDIS_PORT).
b_services() {
    B_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tqbench.XXXXXX")
    trap b_cleanup EXIT
    tq_free_port B_PG_PORT
    tq_free_port B_REDIS_PORT
    tq_pg_start "$B_DIR" "$B_PG_PORT"
    tq_redis_start "$B_DIR" "$B_REDIS_PORT"
    B_CONNINFO="host=127.0.0.1 port=$B_PG_PORT dbname=tileq user=tileq"
    b_psql -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    PGOPTIONS="-c client_min_messages=warning" b_psql -f "$BENCH_ROOT/sql/render_log.sql" >/dev/null
    mkdir -p "$B_DIR/cache"
}

b_psql() {
    psql -X -q -At -h 127.0.0.1 -p "$B_PG_PORT" -U tileq -d tileq -v ON_ERROR_STOP=1 "$@"
}

b_redis() {
    redis-cli -h 127.0.0.1 -p "$B_REDIS_PORT" "$@"
}

# b_config TILESETS_TEXT: writes $B_DIR/tileq.conf with the given tilesets = (...) body.
b_config() {
    cat >"$B_DIR/tileq.conf" <<CONF
redis_url   = "redis://127.0.0.1:$B_REDIS_PORT/0";
pg_conninfo = "$B_CONNINFO";
cache_dir   = "$B_DIR/cache";
listen      = "127.0.0.1:1";
log_level   = "info";
cache_fsync = true;
queue = { max_attempts = 3; lease_seconds = 30; render_timeout_seconds = 120;
          cap = { interactive = 100000; dirty = 100000; bulk = 1000000; };
          running_cap = { interactive = 0; dirty = 0; bulk = 0; }; };
tilesets = ( $1 );
CONF
}

# b_worker NAME / b_coordinator NAME: started in the background; the coordinator's URL goes
# to B_URL.
b_worker() {
    local i n before
    [[ " ${B_WORKER_NAMES[*]} " == *" $1 "* ]] || {
        B_WORKER_NAMES+=("$1")
        B_PIDS+=("$B_DIR/$1.pid")
    }
    before=$(grep -c 'event=pg_connected' "$B_DIR/$1.log" 2>/dev/null || true)
    TQ_WORKER_ID=bench-$1 tq_start_bg "$B_DIR/$1.pid" "$B_DIR/$1.log" \
        "$BUILD/worker/tileq-worker" -c "$B_DIR/tileq.conf"
    for ((i = 0; i < 300; i++)); do
        n=$(grep -c 'event=pg_connected' "$B_DIR/$1.log" 2>/dev/null || true)
        ((${n:-0} > ${before:-0})) && return 0
        sleep 0.1
    done
    tail -n 20 "$B_DIR/$1.log" >&2
    tq_die "worker $1 did not connect"
}

# b_set_fsync on|off: sets cache_fsync in the config and restarts every worker (b_worker) so
# that it applies (the coordinator does not write tiles).
b_set_fsync() {
    local v=true name
    [[ $1 == off ]] && v=false
    sed -i "s/^cache_fsync = .*/cache_fsync = $v;/" "$B_DIR/tileq.conf"
    for name in "${B_WORKER_NAMES[@]}"; do
        tq_stop_pidfile "$B_DIR/$name.pid" 20
        b_worker "$name"
    done
}

b_coordinator() {
    local port
    tq_free_port port
    B_PIDS+=("$B_DIR/$1.pid")
    TQ_LISTEN=127.0.0.1:$port tq_start_bg "$B_DIR/$1.pid" "$B_DIR/$1.log" \
        "$BUILD/coordinator/tileq-coordinator" -c "$B_DIR/tileq.conf"
    tq_wait_http "http://127.0.0.1:$port/health" 30 "$B_DIR/$1.pid" "$B_DIR/$1.log"
    B_URL=http://127.0.0.1:$port
}

# The demo layers' queries (as deploy/tileq.conf.in).
B_L_AREAS='SELECT geom, name, kind FROM demo.areas WHERE geom && !BBOX! AND minzoom <= !ZOOM! ORDER BY id'
B_L_ROADS='SELECT geom, name, kind FROM demo.roads WHERE geom && !BBOX! AND minzoom <= !ZOOM! ORDER BY id'
B_L_PLACES='SELECT geom, name, kind, population FROM demo.points WHERE geom && !BBOX! AND minzoom <= !ZOOM! ORDER BY id'

# b_demo_mt NWORKERS: after b_services, loads the demo data (scale ${SCALE:-1}), writes a
# config with tilesets "mt1" (metatile 1) and "mt8" (metatile 8) of the demo layers, and
# starts NWORKERS workers w1..wN.
b_demo_mt() {
    local i layers
    echo "loading the demo data (scale ${SCALE:-1})..."
    PGOPTIONS="-c client_min_messages=warning" tq_load_demo "$BENCH_ROOT" "$B_PG_PORT" \
        -v scale="${SCALE:-1}"
    layers="layers = (
  { name = \"areas\"; sql = \"$B_L_AREAS\"; },
  { name = \"roads\"; sql = \"$B_L_ROADS\"; },
  { name = \"places\"; sql = \"$B_L_PLACES\"; } );"
    b_config "{ name = \"mt1\"; minzoom = 0; maxzoom = 14; metatile = 1; $layers },
  { name = \"mt8\"; minzoom = 0; maxzoom = 14; metatile = 8; $layers }"
    for ((i = 1; i <= $1; i++)); do b_worker "w$i"; done
}

# b_median: the median of the numbers on stdin (one per line).
b_median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# b_div A B: A/B with 3 decimals.
b_div() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.3f\n", a / b }'
}

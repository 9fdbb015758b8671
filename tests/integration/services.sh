#!/usr/bin/env bash
# services.sh start|stop — the integration tests' fixture (ctest FIXTURES_SETUP/CLEANUP).
#
# start: in a new temp dir, a PostgreSQL+PostGIS cluster (initdb as an unprivileged user when
#   run as root) with sql/*.sql loaded, a Redis server (no persistence), the tileq config
#   (deploy/tileq.conf.in filled in), tileq-coordinator and two tileq-workers from the build
#   dir; all on 127.0.0.1 and free ports. Waits for GET /health, then writes $TQ_IT_ENV_FILE
#   (a shell file of exports) for the tests.
# stop: stops everything start started (also after a half-failed start), copies the logs to
#   $TQ_BUILD_DIR/tests/integration/logs/, removes the temp dir, and fails when a sanitizer
#   reported an error (or a leak) in a tileq process's log.
#
# Environment (set by tests/integration/CMakeLists.txt): TQ_BUILD_DIR, TQ_SOURCE_DIR,
# TQ_IT_ENV_FILE. Optional: TQ_IT_SCALE (demo data size, default 0.3), TQ_IT_WORKERS (2).
set -euo pipefail

: "${TQ_BUILD_DIR:?set TQ_BUILD_DIR to the build dir}"
: "${TQ_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${TQ_IT_ENV_FILE:=$TQ_BUILD_DIR/tests/integration/services.env}"
# shellcheck source=../../deploy/stack.sh
source "$TQ_SOURCE_DIR/deploy/stack.sh"

# The temp dir of a running (or half-started) fixture is recorded here before anything
# starts, so stop can always find it.
STATE_FILE="$TQ_IT_ENV_FILE.dir"
LOG_COPY_DIR="$(dirname "$TQ_IT_ENV_FILE")/logs"

do_stop() {
    local dir status=0 f
    [[ -f $STATE_FILE ]] || {
        echo "services: nothing to stop"
        return 0
    }
    dir=$(cat "$STATE_FILE")
    if [[ -d $dir ]]; then
        for f in "$dir"/coordinator*.pid "$dir"/worker*.pid; do
            [[ -e $f ]] && tq_stop_pidfile "$f" 30
        done
        tq_redis_stop "$dir"
        tq_pg_stop "$dir"
        rm -rf "$LOG_COPY_DIR"
        mkdir -p "$LOG_COPY_DIR"
        cp "$dir"/*.log "$dir"/pglog/*.log "$dir"/tileq.conf "$LOG_COPY_DIR"/ 2>/dev/null || true
        for f in "$dir"/coordinator*.log "$dir"/worker*.log; do
            [[ -e $f ]] || continue
            tq_sanitizer_report "$f" "services: sanitizer report in $(basename "$f"):" 40 120 ||
                status=1
        done
        rm -rf "$dir"
    fi
    rm -f "$STATE_FILE" "$TQ_IT_ENV_FILE"
    echo "services: stopped (logs in $LOG_COPY_DIR)"
    return $status
}

do_start() {
    local dir pg_port redis_port http_port coord worker conf i nworkers
    # A fixture left over from an interrupted run goes first.
    [[ -f $STATE_FILE ]] && do_stop || true

    coord=$TQ_BUILD_DIR/coordinator/tileq-coordinator
    worker=$TQ_BUILD_DIR/worker/tileq-worker
    [[ -x $coord ]] || tq_die "$coord not built"
    [[ -x $worker ]] || tq_die "$worker not built"

    mkdir -p "$(dirname "$TQ_IT_ENV_FILE")"
    # Short path: the PostgreSQL unix socket path must stay under ~100 bytes.
    dir=$(mktemp -d "${TMPDIR:-/tmp}/tqit.XXXXXX")
    echo "$dir" >"$STATE_FILE"
    # On any failure below, stop what did start (ctest runs the cleanup test anyway; a
    # manual run would leave servers behind).
    trap 'if [[ ${started:-0} != 1 ]]; then echo "services: start failed" >&2; do_stop >&2 || true; fi' EXIT

    tq_free_port pg_port
    tq_free_port redis_port
    tq_free_port http_port

    tq_pg_start "$dir" "$pg_port"
    tq_redis_start "$dir" "$redis_port"
    tq_load_demo "$TQ_SOURCE_DIR" "$pg_port" -v scale="${TQ_IT_SCALE:-0.3}"

    mkdir -p "$dir/cache"
    conf=$dir/tileq.conf
    tq_write_config "$TQ_SOURCE_DIR/deploy/tileq.conf.in" "$conf" "$redis_port" "$pg_port" \
        "$dir/cache" "$http_port"

    nworkers=${TQ_IT_WORKERS:-2}
    for ((i = 1; i <= nworkers; i++)); do
        TQ_WORKER_ID=it-worker-$i tq_start_bg "$dir/worker$i.pid" "$dir/worker$i.log" \
            "$worker" -c "$conf"
    done
    tq_start_bg "$dir/coordinator1.pid" "$dir/coordinator1.log" "$coord" -c "$conf"
    tq_wait_http "http://127.0.0.1:$http_port/health" 30 "$dir/coordinator1.pid" \
        "$dir/coordinator1.log"
    for ((i = 1; i <= nworkers; i++)); do
        tq_alive "$(cat "$dir/worker$i.pid")" || {
            tail -n 30 "$dir/worker$i.log" >&2
            tq_die "tileq-worker $i exited"
        }
    done
    started=1

    cat >"$TQ_IT_ENV_FILE.tmp" <<EOF
# written by tests/integration/services.sh start; removed by stop
export TQ_IT_DIR='$dir'
export TQ_SOURCE_DIR='$TQ_SOURCE_DIR'
export TQ_BUILD_DIR='$TQ_BUILD_DIR'
export TQ_TEST_CONFIG='$conf'
export TQ_TEST_CACHE_DIR='$dir/cache'
export TQ_TEST_PG_PORT='$pg_port'
export TQ_TEST_PG_CONNINFO='host=127.0.0.1 port=$pg_port dbname=tileq user=tileq'
export TQ_TEST_REDIS_PORT='$redis_port'
export TQ_TEST_REDIS_URL='redis://127.0.0.1:$redis_port/0'
export TQ_TEST_HTTP_PORT='$http_port'
export TQ_TEST_BASE_URL='http://127.0.0.1:$http_port'
export TQ_TEST_WORKERS='$nworkers'
EOF
    mv "$TQ_IT_ENV_FILE.tmp" "$TQ_IT_ENV_FILE"
    echo "services: up in $dir (postgres $pg_port, redis $redis_port, coordinator $http_port," \
        "$nworkers workers); env in $TQ_IT_ENV_FILE"
}

case ${1:-} in
start) do_start ;;
stop) do_stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac

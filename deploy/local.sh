#!/usr/bin/env bash
# deploy/local.sh up [--coordinators N] [--workers M] [--nginx] | down | status
#
# up: the whole tileq stack natively on 127.0.0.1: installs missing Debian packages
#   (apt-get), builds (Release) into build/, creates a throwaway PostgreSQL+PostGIS cluster
#   (run as an unprivileged user when we are root) and loads the demo data (sql/*.sql), starts
#   Redis (AOF, appendfsync everysec: appendonlydir/ in the state dir), writes the config,
#   starts N coordinators (default 1), M workers (default 2) and the watcher (`tileq watch
#   install`, then `tileq watch run`: tiles follow the data) in the background, waits until
#   every coordinator answers /ready (Redis reached, layer schemas published), checks that
#   every endpoint serves the TileJSON and that the sample tile renders, and then prints one
#   line per endpoint, a sample tile URL and the config file (usable as `tileq -c FILE ...`).
#   --nginx: also nginx in front (deploy/nginx.conf.in; nginx-light installed when missing):
#   cache hits straight from the cache dir, misses to the coordinators (upstream group).
# down: stops everything up started (pidfiles) and removes the state dir. Idempotent.
# status: shows what runs.
#
# Everything lives in the state dir ${TILEQ_LOCAL_DIR:-${TMPDIR:-/tmp}/tileq-local-$UID}:
# pgdata/, cache/, tileq.conf, *.pid, logs (*.log, pglog/postgres.log).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=stack.sh
source "$ROOT/deploy/stack.sh"

STATE=${TILEQ_LOCAL_DIR:-${TMPDIR:-/tmp}/tileq-local-$(id -u)}
BUILD=$ROOT/build

usage() {
    echo "usage: $0 up [--coordinators N] [--workers M] [--nginx] | down | status" >&2
    exit 2
}

running() {
    local f
    for f in "$STATE"/*.pid "$STATE/pgdata/postmaster.pid" "$STATE/nginx/nginx.pid"; do
        [[ -f $f ]] && tq_alive "$(head -n 1 "$f")" && return 0
    done
    return 1
}

do_down() {
    local f
    if [[ ! -d $STATE ]]; then
        echo "tileq local stack: not running"
        return 0
    fi
    tq_nginx_stop "$STATE/nginx"
    for f in "$STATE"/coordinator*.pid "$STATE"/worker*.pid "$STATE"/watch.pid; do
        [[ -e $f ]] && tq_stop_pidfile "$f" 30
    done
    tq_redis_stop "$STATE"
    tq_pg_stop "$STATE"
    rm -rf "$STATE"
    echo "tileq local stack: stopped"
}

do_status() {
    local f pid
    if [[ ! -d $STATE ]]; then
        echo "tileq local stack: not running"
        return 0
    fi
    for f in "$STATE"/*.pid "$STATE/pgdata/postmaster.pid" "$STATE/nginx/nginx.pid"; do
        [[ -f $f ]] || continue
        pid=$(head -n 1 "$f")
        if tq_alive "$pid"; then
            echo "$(basename "$(dirname "$f")")/$(basename "$f"): pid $pid running"
        else
            echo "$(basename "$(dirname "$f")")/$(basename "$f"): pid $pid NOT running"
        fi
    done
    [[ -f $STATE/endpoints ]] && cat "$STATE/endpoints"
    return 0
}

do_up() {
    local ncoord=1 nwork=2 nginx=0 i pg_port redis_port conf port nginx_port ups
    local -a ports=()
    while [[ $# -gt 0 ]]; do
        case $1 in
        --coordinators)
            [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage
            ncoord=$2
            shift 2
            ;;
        --workers)
            [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage
            nwork=$2
            shift 2
            ;;
        --nginx)
            nginx=1
            shift
            ;;
        *) usage ;;
        esac
    done

    if running; then
        do_status
        tq_die "already up (state in $STATE); run '$0 down' first"
    fi
    rm -rf "$STATE"

    tq_install_packages
    [[ $nginx == 1 ]] && tq_install_nginx

    tq_say "building (Release) into $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
    cmake --build "$BUILD" -j"${TQ_JOBS:-2}" >"$BUILD/build.log" 2>&1 || {
        tail -n 40 "$BUILD/build.log" >&2
        tq_die "build failed (full log: $BUILD/build.log)"
    }

    mkdir -p "$STATE/cache"
    # If anything below fails, stop what did start.
    trap 'if [[ ${started:-0} != 1 ]]; then tq_say "up failed; stopping what started"; do_down >&2 || true; fi' EXIT

    tq_free_port pg_port
    tq_free_port redis_port
    for ((i = 1; i <= ncoord; i++)); do
        tq_free_port port
        ports+=("$port")
    done

    tq_say "starting PostgreSQL on 127.0.0.1:$pg_port and Redis on 127.0.0.1:$redis_port"
    tq_pg_start "$STATE" "$pg_port"
    tq_redis_start "$STATE" "$redis_port" --aof
    tq_say "loading the demo data (sql/demo_data.sql)"
    tq_load_demo "$ROOT" "$pg_port"

    conf=$STATE/tileq.conf
    tq_write_config "$ROOT/deploy/tileq.conf.in" "$conf" "$redis_port" "$pg_port" "$STATE/cache" \
        "${ports[0]}"

    for ((i = 1; i <= nwork; i++)); do
        TQ_WORKER_ID="$(uname -n)-local-worker-$i" tq_start_bg "$STATE/worker$i.pid" \
            "$STATE/worker$i.log" "$BUILD/worker/tileq-worker" -c "$conf"
    done
    # Tiles follow the data: the triggers on the tables the tilesets read, and the watcher.
    "$BUILD/cli/tileq" -c "$conf" watch install >"$STATE/watch-install.log" 2>&1 || {
        cat "$STATE/watch-install.log" >&2
        tq_die "tileq watch install failed"
    }
    tq_start_bg "$STATE/watch.pid" "$STATE/watch.log" "$BUILD/cli/tileq" -c "$conf" watch run
    for ((i = 1; i <= ncoord; i++)); do
        port=${ports[i - 1]}
        TQ_LISTEN="127.0.0.1:$port" tq_start_bg "$STATE/coordinator$i.pid" \
            "$STATE/coordinator$i.log" "$BUILD/coordinator/tileq-coordinator" -c "$conf"
    done
    for ((i = 1; i <= ncoord; i++)); do
        # Ready, not only live: Redis reached and the tilesets' layer schema published by a
        # worker (before that, TileJSON answers 503 and the preview map fails).
        tq_wait_http "http://127.0.0.1:${ports[i - 1]}/ready" 60 "$STATE/coordinator$i.pid" \
            "$STATE/coordinator$i.log"
    done
    tq_alive "$(cat "$STATE/watch.pid")" || {
        tail -n 30 "$STATE/watch.log" >&2
        tq_die "tileq watch run exited"
    }
    for ((i = 1; i <= nwork; i++)); do
        tq_alive "$(cat "$STATE/worker$i.pid")" || {
            tail -n 30 "$STATE/worker$i.log" >&2
            tq_die "tileq-worker $i exited"
        }
    done
    if [[ $nginx == 1 ]]; then
        tq_free_port nginx_port
        ups=()
        for port in "${ports[@]}"; do
            ups+=("127.0.0.1:$port")
        done
        tq_nginx_write_config "$ROOT/deploy/nginx.conf.in" "$STATE/nginx.conf" "$STATE/nginx" \
            "127.0.0.1:$nginx_port" "$STATE/cache" "${ups[@]}"
        tq_nginx_start "$STATE/nginx.conf" "$STATE/nginx" "http://127.0.0.1:$nginx_port/nginx-health"
    fi
    # Every endpoint printed below answers: TileJSON on each, and the tile renders.
    local base
    for base in "${ports[@]/#/http://127.0.0.1:}" ${nginx_port:+"http://127.0.0.1:$nginx_port"}; do
        curl -fsS --max-time 10 "$base/demo.json" | grep -q '"vector_layers"' ||
            tq_die "$base/demo.json is not TileJSON with vector_layers"
    done
    curl -fsS --max-time 60 -o /dev/null "http://127.0.0.1:${nginx_port:-${ports[0]}}/demo/10/518/352.mvt" ||
        tq_die "the demo tile did not render"
    started=1

    {
        for port in "${ports[@]}"; do
            echo "coordinator: http://127.0.0.1:$port"
        done
        [[ $nginx == 1 ]] && echo "nginx: http://127.0.0.1:$nginx_port"
        echo "tile: http://127.0.0.1:${nginx_port:-${ports[0]}}/demo/10/518/352.mvt"
        echo "config: $conf"
        echo "logs: $STATE/*.log${nginx_port:+ $STATE/nginx/*.log}"
    } >"$STATE/endpoints"
    cat "$STATE/endpoints"
    tq_say "($nwork workers; PostgreSQL: psql -h 127.0.0.1 -p $pg_port -U tileq tileq;" \
        "stop with: $0 down)"
}

case ${1:-} in
up)
    shift
    do_up "$@"
    ;;
down) do_down ;;
status) do_status ;;
*) usage ;;
esac

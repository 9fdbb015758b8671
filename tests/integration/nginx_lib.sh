# shellcheck shell=bash
# nginx_lib.sh — for tests/integration/test_nginx*.sh and test_worker_kill.sh: a private
# cluster of the native topology (deploy/local.sh up --nginx) next to the shared fixture.
# It uses the fixture's PostgreSQL (demo data) but its own Redis server, cache dir,
# coordinators, workers and nginx (deploy/nginx.conf.in), all on free loopback ports in a
# temp dir, so the fixture's own workers never take its jobs and the counts it checks are its
# own. Source it after lib.sh; call ng_up; everything stops on exit (ng_down, via the EXIT
# trap), which also copies the logs to $TQ_BUILD_DIR/tests/integration/logs/<test>/ and fails
# the test when a sanitizer reported an error in a tileq process.
#
# After ng_up: NG_DIR, NG_CONF, NG_CACHE, NG_URL (nginx), NG_REDIS_PORT, NG_COORD_PORTS[i],
# NG_WORKER_IDS[i] (1-based: coordinator i = $NG_DIR/coordinator$i.pid, worker i likewise).

# shellcheck source=../../deploy/stack.sh
source "$TQ_SOURCE_DIR/deploy/stack.sh"

NG_DIR=""
NG_COORD_PORTS=()
NG_WORKER_IDS=()
NG_NCOORD=0
NG_NWORK=0
NG_TEST=$(basename "$0" .sh)

ng_redis() {
    redis-cli -h 127.0.0.1 -p "$NG_REDIS_PORT" "$@"
}

# ng_up NCOORD NWORKERS [LEASE_SECONDS]: starts the cluster and waits for nginx and every
# coordinator to answer.
ng_up() {
    local ncoord=$1 nwork=$2 lease=${3:-30} i port nport ups=()
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] ||
        tq_die "nginx is not installed (tests/run.sh installs it)"
    NG_NCOORD=$ncoord
    NG_NWORK=$nwork
    NG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tqng.XXXXXX")
    # nginx's workers run as nobody when we are root: they must reach the cache.
    chmod 755 "$NG_DIR"
    trap 'ng_down' EXIT
    mkdir -p "$NG_DIR/cache"
    NG_CACHE=$NG_DIR/cache
    NG_CONF=$NG_DIR/tileq.conf

    tq_free_port NG_REDIS_PORT
    tq_free_port nport
    for ((i = 1; i <= ncoord; i++)); do
        tq_free_port port
        NG_COORD_PORTS[i]=$port
        ups+=("127.0.0.1:$port")
    done
    tq_redis_start "$NG_DIR" "$NG_REDIS_PORT"
    tq_write_config "$TQ_SOURCE_DIR/deploy/tileq.conf.in" "$NG_CONF" "$NG_REDIS_PORT" \
        "$TQ_TEST_PG_PORT" "$NG_CACHE" "${NG_COORD_PORTS[1]}"
    sed -i -e "s/lease_seconds = [0-9]*;/lease_seconds = $lease;/" "$NG_CONF"
    # NG_CONF_APPEND (optional): more top-level settings for this cluster's config.
    [[ -z ${NG_CONF_APPEND:-} ]] || printf '%s\n' "$NG_CONF_APPEND" >>"$NG_CONF"

    for ((i = 1; i <= nwork; i++)); do
        NG_WORKER_IDS[i]=ng-$NG_TEST-${NG_DIR##*.}-worker-$i
        TQ_WORKER_ID=${NG_WORKER_IDS[i]} tq_start_bg "$NG_DIR/worker$i.pid" "$NG_DIR/worker$i.log" \
            "$TQ_BUILD_DIR/worker/tileq-worker" -c "$NG_CONF"
    done
    for ((i = 1; i <= ncoord; i++)); do
        TQ_LISTEN=127.0.0.1:${NG_COORD_PORTS[i]} tq_start_bg "$NG_DIR/coordinator$i.pid" \
            "$NG_DIR/coordinator$i.log" "$TQ_BUILD_DIR/coordinator/tileq-coordinator" -c "$NG_CONF"
    done
    for ((i = 1; i <= ncoord; i++)); do
        tq_wait_http "http://127.0.0.1:${NG_COORD_PORTS[i]}/health" 30 "$NG_DIR/coordinator$i.pid" \
            "$NG_DIR/coordinator$i.log"
    done
    tq_nginx_write_config "$TQ_SOURCE_DIR/deploy/nginx.conf.in" "$NG_DIR/nginx.conf" \
        "$NG_DIR/nginx" "127.0.0.1:$nport" "$NG_CACHE" "${ups[@]}"
    tq_nginx_start "$NG_DIR/nginx.conf" "$NG_DIR/nginx" "http://127.0.0.1:$nport/nginx-health"
    NG_URL=http://127.0.0.1:$nport
    echo "cluster: nginx $NG_URL, coordinators ${NG_COORD_PORTS[*]}, $nwork workers," \
        "redis $NG_REDIS_PORT, in $NG_DIR"
}

# Stops everything ng_up started (pidfiles), keeps the logs, removes the temp dirs.
ng_down() {
    local f logs status=0
    if [[ -n $NG_DIR && -d $NG_DIR ]]; then
        tq_nginx_stop "$NG_DIR/nginx"
        # A test may have left a process frozen (SIGSTOP): it must see the SIGTERM.
        for f in "$NG_DIR"/coordinator*.pid "$NG_DIR"/worker*.pid; do
            [[ -e $f ]] && kill -CONT "$(cat "$f")" 2>/dev/null || true
        done
        for f in "$NG_DIR"/coordinator*.pid "$NG_DIR"/worker*.pid; do
            [[ -e $f ]] && tq_stop_pidfile "$f" 30
        done
        tq_redis_stop "$NG_DIR"
        logs=$TQ_BUILD_DIR/tests/integration/logs/$NG_TEST
        rm -rf "$logs"
        mkdir -p "$logs"
        cp "$NG_DIR"/*.log "$NG_DIR"/nginx/*.log "$NG_DIR"/*.conf "$logs"/ 2>/dev/null || true
        for f in "$NG_DIR"/coordinator*.log "$NG_DIR"/worker*.log; do
            [[ -e $f ]] || continue
            tq_sanitizer_report "$f" "FAIL: sanitizer report in $(basename "$f"):" 40 80 || status=1
        done
        rm -rf "$NG_DIR"
        NG_DIR=""
    fi
    rm -rf "$IT_TMP"
    # An exit status already set by the test wins; a sanitizer report fails a passing test.
    [[ $status -eq 0 ]] || exit 1
}

# ng_get PATH NAME [curl args...]: GET $NG_URL$PATH through nginx; body $IT_TMP/NAME.body,
# headers $IT_TMP/NAME.headers; prints the status ("000" when the connection failed).
ng_get() {
    local path=$1
    shift
    it_fetch_url "$NG_URL$path" "$@"
}

# ng_upstream_count: how many requests nginx has sent to a coordinator so far (access log
# lines whose upstream address is not "-"; a retried request counts once).
ng_upstream_count() {
    grep -c ' up=127\.' "$NG_DIR/nginx/access.log" || true
}

# ng_coord_requests: the sum over the coordinators of tileq_http_requests_total from their
# /metrics, not counting this function's own earlier scrapes (each is counted once its reply
# went out; $NG_DIR/scrapes.<i> keeps how many there were), or "" when they do not export it.
ng_coord_requests() {
    local i sum=0 body n own
    for ((i = 1; i <= NG_NCOORD; i++)); do
        [[ -f $NG_DIR/coordinator$i.pid ]] || continue
        own=$(cat "$NG_DIR/scrapes.$i" 2>/dev/null || echo 0)
        echo $((own + 1)) >"$NG_DIR/scrapes.$i"
        body=$(curl -fsS --max-time 5 "http://127.0.0.1:${NG_COORD_PORTS[i]}/metrics" 2>/dev/null) ||
            return 0
        grep -q '^tileq_http_requests_total' <<<"$body" || return 0
        n=$(awk '/^tileq_http_requests_total/ { s += $NF } END { printf "%d", s }' <<<"$body")
        sum=$((sum + n - own))
    done
    echo "$sum"
}

# ng_ogr_layers FILE Z X Y: the layer names GDAL's MVT driver finds in the tile, space-separated.
ng_ogr_layers() {
    local f=$1 z=$2 x=$3 y=$4
    cp "$f" "$f.mvt"
    ogrinfo -ro -q -oo X="$x" -oo Y="$y" -oo Z="$z" "MVT:$f.mvt" 2>"$f.ogrerr" |
        sed -n 's/^[0-9]*: \([A-Za-z_]*\).*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//'
}

# ng_renders Z X Y: how many times this cluster's workers rendered demo tile Z/X/Y: render-log
# entries still in this cluster's Redis stream plus those already flushed to the fixture's
# tileq.render_log (by this test's workers), counted once per stream id.
ng_renders() {
    local z=$1 x=$2 y=$3
    {
        ng_redis --raw XRANGE '{tq}:renderlog' - + | awk -v z="$z" -v x="$x" -v y="$y" '
            /^[0-9]+-[0-9]+$/ { if (id != "" && ok == 4) print id; id = $0; ok = 0; k = ""; next }
            k == "" { k = $0; next }
            { if ((k == "tileset" && $0 == "demo") || (k == "z" && $0 == z) ||
                  (k == "x" && $0 == x) || (k == "y" && $0 == y)) ok++
              k = "" }
            END { if (id != "" && ok == 4) print id }'
        it_psql -c "SELECT stream_id FROM tileq.render_log WHERE tileset = 'demo' AND z = $z
                    AND x = $x AND y = $y AND worker LIKE 'ng-$NG_TEST-${NG_DIR##*.}-%'"
    } | sort -u | grep -c . || true
}

# ng_wait_queue_drained: waits (up to 30 s) until nothing is queued or running. A request is
# answered as soon as its own tile is rendered (an interactive job renders the requested tile
# first, then the rest of its metatile), so its job may still run when the answer arrives.
ng_wait_queue_drained() {
    local i
    for ((i = 0; i < 300; i++)); do
        # One atomic look (two commands could see a reaped job in neither place).
        [[ $(ng_redis EVAL "return redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2])" \
            2 '{tq}:q:interactive' '{tq}:running') == 0 ]] && return 0
        sleep 0.1
    done
    return 0
}

# shellcheck shell=bash
# watch_lib.sh — for tests/integration/test_watch*.sh: the watcher (tileq watch run) next to
# the private cluster of nginx_lib.sh, and polls for fresh tiles. Source after lib.sh and
# nginx_lib.sh, call ng_up, then wt_install and wt_start.

WT_M=20037508.342789244

wt_tileq() {
    "$TQ_BUILD_DIR/cli/tileq" -c "$NG_CONF" "$@"
}

# wt_install: tileq watch install (its output in $IT_TMP/install.out).
wt_install() {
    wt_tileq watch install >"$IT_TMP/install.out" 2>&1 || {
        cat "$IT_TMP/install.out" >&2
        return 1
    }
}

# wt_start [ARGS...]: starts `tileq watch run ARGS` in the background (pid and log in $NG_DIR)
# and waits (bounded) for its watch_started line.
wt_start() {
    local i n
    n=$(grep -c 'event=watch_started' "$NG_DIR/watch.log" 2>/dev/null || true)
    tq_start_bg "$NG_DIR/watch.pid" "$NG_DIR/watch.log" "$TQ_BUILD_DIR/cli/tileq" -c "$NG_CONF" \
        watch run "$@"
    for ((i = 0; i < 200; i++)); do
        (($(grep -c 'event=watch_started' "$NG_DIR/watch.log" 2>/dev/null || true) > n)) && return 0
        sleep 0.1
    done
    tail -n 20 "$NG_DIR/watch.log" >&2
    return 1
}

# wt_stop: SIGTERM the watcher; checks its log for sanitizer reports.
wt_stop() {
    [[ -n ${NG_DIR:-} && -f $NG_DIR/watch.pid ]] || return 0
    tq_stop_pidfile "$NG_DIR/watch.pid" 20
    tq_sanitizer_report "$NG_DIR/watch.log" "FAIL: sanitizer report in watch.log:" 40 80 ||
        it_fail "sanitizer report in the watcher's log"
}

# wt_tiles_of SQL_POINT ZMIN ZMAX: "z x y" lines of the tiles holding the point (an EPSG:3857
# geometry expression) at each zoom.
wt_tiles_of() {
    it_psql -F' ' -c "SELECT z, floor(($WT_M + ST_X(p)) / (2 * $WT_M / 2 ^ z))::int,
        floor(($WT_M - ST_Y(p)) / (2 * $WT_M / 2 ^ z))::int
        FROM (SELECT $1 AS p) s, generate_series($2, $3) z ORDER BY z"
}

# wt_cache_tiles FILE: fetches every "z x y" of FILE through nginx (caches them); fails on
# anything but 200/204.
wt_cache_tiles() {
    local z x y st
    while read -r z x y; do
        st=$(ng_get "/demo/$z/$x/$y.mvt" c)
        [[ $st == 200 || $st == 204 ]] || it_fail "caching demo/$z/$x/$y: HTTP $st"
    done <"$1"
}

# wt_cached z x y: true when the tile has a file in the cluster's cache (either form).
wt_cached() {
    compgen -G "$NG_CACHE/demo/$1/$2/$3.*" >/dev/null
}

# wt_fresh z x y: true when the tile is cached and nginx serves the contract's bytes over the
# data as it is now.
wt_fresh() {
    local st want
    wt_cached "$1" "$2" "$3" || return 1
    st=$(ng_get "/demo/$1/$2/$3.mvt" f)
    [[ $st == 200 || $st == 204 ]] || return 1
    want=$(it_psql -c "$(it_contract_sql "$1" "$2" "$3")")
    [[ $(it_hex "$IT_TMP/f.body") == "$want" ]]
}

# wt_stamps FILE: "z/x/y inode" of each cached tile of FILE (a stamp to wait past).
wt_stamps() {
    local z x y f
    while read -r z x y; do
        f=$(compgen -G "$NG_CACHE/demo/$z/$x/$y.*" | head -n 1) || true
        echo "$z/$x/$y $([[ -n $f ]] && stat -c %i:%.9Y "$f" 2>/dev/null || echo -)"
    done <"$1"
}

# wt_wait_fresh FILE LIMIT_MS START_NS STAMPS: waits (polling every 20 ms, at most LIMIT_MS
# after START_NS, a `date +%s%N`) until every tile of FILE is cached as a new file (another
# inode than in STAMPS, from wt_stamps before the change), then checks each against the
# contract SQL through nginx; a tile that does not match yet is polled again (a render from
# before the change being re-run). Prints the ms from START_NS until the last tile was fresh;
# status 1 when time ran out (the stale tiles on stderr).
wt_wait_fresh() {
    local file=$1 limit=$2 start=$3 stamps=$4 z x y f ino now left key
    local -A old=() seen=()
    while read -r key ino; do old[$key]=$ino; done <<<"$stamps"
    while :; do
        left=0
        now=$((($(date +%s%N) - start) / 1000000))
        while read -r z x y; do
            key=$z/$x/$y
            [[ -n ${seen[$key]:-} ]] && continue
            f=$(compgen -G "$NG_CACHE/demo/$key.*" | head -n 1) || true
            ino=$([[ -n $f ]] && stat -c %i:%.9Y "$f" 2>/dev/null || echo -)
            if [[ $ino != - && $ino != "${old[$key]:-}" ]]; then
                seen[$key]=$now
            else
                left=$((left + 1))
            fi
        done <"$file"
        if ((left == 0)); then
            # Every tile was written anew: are they the contract's bytes over the new data?
            local bad=0
            while read -r z x y; do
                wt_fresh "$z" "$x" "$y" && continue
                bad=1
                key=$z/$x/$y
                unset "seen[$key]"
                f=$(compgen -G "$NG_CACHE/demo/$key.*" | head -n 1) || true
                old[$key]=$([[ -n $f ]] && stat -c %i:%.9Y "$f" 2>/dev/null || echo -)
            done <"$file"
            if ((bad == 0)); then
                local max=0 v
                for v in "${seen[@]}"; do ((v > max)) && max=$v; done
                echo "$max"
                return 0
            fi
        fi
        if ((now > limit)); then
            while read -r z x y; do
                [[ -n ${seen[$z/$x/$y]:-} ]] || echo "not fresh after $now ms: demo/$z/$x/$y" >&2
            done <"$file"
            return 1
        fi
        sleep 0.02
    done
}

# wt_backlog: rows in tileq.changes.
wt_backlog() {
    it_psql -c "SELECT count(*) FROM tileq.changes"
}

# wt_wait_idle SECONDS: until the backlog is 0 and the cluster's queue holds no job
# (queued or running). Status 1 when time ran out.
wt_wait_idle() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        if [[ $(wt_backlog) == 0 ]] &&
            [[ $(ng_redis EVAL "return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[3]) + redis.call('ZCARD', KEYS[4])" 4 '{tq}:q:interactive' '{tq}:q:dirty' '{tq}:q:bulk' '{tq}:running') == 0 ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# shellcheck shell=bash
# warm_lib.sh — helpers for test_warm*.sh, test_expire*.sh, test_status*.sh (the tileq
# warm/expire/status/deadletter commands). Source after lib.sh and queue/qlib.sh: these tests
# run on a private stack (q_init) so their renders, render log rows and cache are theirs.
#   w_tileq ARGS...            tileq -c <private config> ARGS...
#   w_tiles_of_bbox W S E N Z  the tiles "z x y" covering a lon/lat bbox at zoom Z
#   w_tile_of_lonlat LON LAT Z "x y" of the tile holding a point
#   w_cached_hex Z X Y         the cached tile as hex ("" for an empty tile); status 1 when
#                              not cached
#   w_job_done_count           job_done lines in our workers' logs
#   w_wait_idle SECS           waits until no job is queued or running (bounded)
#   w_json_get EXPR            reads `tileq status --json` with a jq-less python expression

TILEQ_BIN=$TQ_BUILD_DIR/cli/tileq

w_tileq() {
    "$TILEQ_BIN" -c "$Q_DIR/tileq.conf" "$@"
}

w_tiles_of_bbox() {
    awk -v w="$1" -v s="$2" -v e="$3" -v n="$4" -v z="$5" 'BEGIN {
        pi = atan2(0, -1); N = 2 ^ z
        x0 = int((w + 180) / 360 * N); x1 = int((e + 180) / 360 * N)
        if (x1 >= N) x1 = N - 1
        y0 = int((1 - log(sin(n * pi / 180) / cos(n * pi / 180) + 1 / cos(n * pi / 180)) / pi) / 2 * N)
        y1 = int((1 - log(sin(s * pi / 180) / cos(s * pi / 180) + 1 / cos(s * pi / 180)) / pi) / 2 * N)
        if (y1 >= N) y1 = N - 1
        for (y = y0; y <= y1; y++) for (x = x0; x <= x1; x++) print z, x, y }'
}

w_tile_of_lonlat() {
    w_tiles_of_bbox "$1" "$2" "$1" "$2" "$3" | awk '{ print $2, $3 }'
}

w_cached_hex() {
    local base=$Q_DIR/cache/demo/$1/$2/$3
    if [[ -f $base.mvt.gz ]]; then
        gzip -dc <"$base.mvt.gz" | od -An -v -tx1 | tr -d ' \n'
    elif [[ -f $base.mvt ]]; then
        it_hex "$base.mvt"
    elif [[ -f $base.empty ]]; then
        echo ""
    else
        return 1
    fi
}

w_job_done_count() {
    cat "$Q_DIR"/w*.log 2>/dev/null | grep -c 'event=job_done' || true
}

w_status_json() {
    w_tileq status --json
}

# w_queue_busy: queued + running jobs over all classes.
w_queue_busy() {
    w_status_json | python3 -c 'import json,sys; d=json.load(sys.stdin)
print(sum(c["queued"] + c["running"] for c in d["classes"].values()))'
}

w_wait_idle() {
    local secs=$1 i
    for ((i = 0; i < secs * 5; i++)); do
        [[ $(w_queue_busy) == 0 ]] && return 0
        sleep 0.2
    done
    it_fail "queue still busy after ${secs}s"
    return 1
}

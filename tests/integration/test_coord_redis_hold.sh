#!/usr/bin/env bash
# The coordinator rides through a Redis outage (queue.hold_seconds): on a private stack
# (queue/qlib.sh: own Redis, 2 workers, 1 coordinator; hold_seconds = $HOLD):
#   1. Redis is killed (SIGKILL); cold-tile requests sent while it is away are held (the
#      tileq_held_requests gauge counts them); a cached tile is 200 meanwhile; Redis is
#      started again, empty, on the same port within the hold: every held request gets its
#      tile (200/204), none a 503.
#   2. Redis is killed again and kept away: cold-tile requests get 503 with Retry-After,
#      answered after the hold and within hold + a small margin; a cached tile is still 200;
#      tileq_hold_expired_total{how="timeout"} counts them.
#   3. Redis back: a cold tile is rendered again.
# The coordinator and workers never exit; no sanitizer report.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

HOLD=4
NCOLD=8

q_init coord_hold
sed -i -e "s/render_timeout_seconds = 60;/render_timeout_seconds = 60; hold_seconds = $HOLD;/" \
    "$Q_DIR/tileq.conf"
grep -q "hold_seconds = $HOLD;" "$Q_DIR/tileq.conf" || it_fail "config: hold_seconds not set"
q_start_stack 2 1
C=$Q_URL_c1

# metric NAME: its value in the coordinator's /metrics ("" when absent).
metric() {
    curl -s --max-time 5 "$C/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
health() {
    curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$C/health" 2>/dev/null || true
}
# wait_for WHAT CMD...: polls CMD (up to 30 s) until it succeeds.
wait_for() {
    local what=$1 i
    shift
    for ((i = 0; i < 300; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    it_fail "timed out waiting for $what"
    return 1
}
health_is() { [[ $(health) == "$1" ]]; }
held_is() { [[ $(metric tileq_held_requests) == "$1" ]]; }
# kill_redis: SIGKILL, wait until it is gone, drop whatever it persisted (the next start is
# empty), wait until the coordinator saw it go.
kill_redis() {
    local pid
    pid=$(cat "$Q_DIR/redis.pid")
    kill -KILL "$pid"
    wait_for "redis to exit" bash -c "! kill -0 $pid 2>/dev/null"
    rm -rf "$Q_DIR/redis.pid" "$Q_DIR/appendonlydir" "$Q_DIR"/*.aof "$Q_DIR/dump.rdb"
    wait_for "/health 503" health_is 503
}
# cold I: GET a z14 tile of a metatile of its own in the background; "I status seconds" in
# $IT_TMP/cold.I.txt, headers in $IT_TMP/cold.I.headers.
cold() {
    (curl -s -o /dev/null -D "$IT_TMP/cold.$1.headers" --max-time 90 \
        -w "$1 %{http_code} %{time_total}\n" \
        "$C/demo/14/$((8200 + 8 * $1))/$((5600 + 8 * ($1 % 4))).mvt" 2>/dev/null ||
        echo "$1 000 0") >"$IT_TMP/cold.$1.txt" &
}
cached() {
    curl -s -o /dev/null -D "$IT_TMP/cached.headers" --max-time 5 -w '%{http_code}' \
        "$C/demo/10/518/352.mvt" 2>/dev/null || true
}

it_check "before: a demo tile (cached from now on)" 200 "$(cached)"
it_check "before: held requests 0" 0 "$(metric tileq_held_requests)"

# --- 1. Redis back within the hold --------------------------------------------------------
echo "   killing Redis (SIGKILL)"
kill_redis
pids=()
for ((i = 0; i < NCOLD; i++)); do
    cold "$i"
    pids+=($!)
done
wait_for "$NCOLD held requests" held_is "$NCOLD"
it_check "outage: a cached tile is 200" 200 "$(cached)"
it_check "outage: the cached tile came from the cache" hit \
    "$(awk -F': *' 'tolower($1) == "x-tileq" { sub(/\r$/, "", $2); print $2 }' "$IT_TMP/cached.headers")"
echo "   starting Redis again (empty) on port $Q_REDIS_PORT"
tq_redis_start "$Q_DIR" "$Q_REDIS_PORT"
for p in "${pids[@]}"; do wait "$p" || true; done
cat "$IT_TMP"/cold.*.txt | sort -n >"$IT_TMP/phase1.txt"
echo "   held requests: $(awk '{ print $2 "/" $3 "s" }' "$IT_TMP/phase1.txt" | tr '\n' ' ')"
it_check "back within the hold: every held request got its tile (200/204)" "$NCOLD" \
    "$(awk '$2 == 200 || $2 == 204' "$IT_TMP/phase1.txt" | wc -l)"
it_check "back within the hold: held requests 0" 0 "$(metric tileq_held_requests)"
it_check "back within the hold: no hold ran out" 0 "$(metric 'tileq_hold_expired_total{how="timeout"}')"
grep -q 'event=hold ' "$Q_DIR/c1.log" || it_fail "the coordinator did not log event=hold"
grep -q 'event=events_resume' "$Q_DIR/c1.log" || it_fail "the events connection did not resume"

# --- 2. Redis kept away past the hold -----------------------------------------------------
rm -f "$IT_TMP"/cold.*
echo "   killing Redis again, keeping it away"
kill_redis
pids=()
for ((i = 100; i < 104; i++)); do
    cold "$i"
    pids+=($!)
done
it_check "outage: a cached tile is 200" 200 "$(cached)"
for p in "${pids[@]}"; do wait "$p" || true; done
it_check "long outage: a cached tile is still 200" 200 "$(cached)"
cat "$IT_TMP"/cold.*.txt | sort -n >"$IT_TMP/phase2.txt"
echo "   answers: $(awk '{ print $2 "/" $3 "s" }' "$IT_TMP/phase2.txt" | tr '\n' ' ')"
it_check "long outage: 503 for each cold tile" 4 "$(awk '$2 == 503' "$IT_TMP/phase2.txt" | wc -l)"
it_check "long outage: answered after the hold, within hold + 1.5 s" 4 \
    "$(awk -v h="$HOLD" '$3 >= h - 0.3 && $3 <= h + 1.5' "$IT_TMP/phase2.txt" | wc -l)"
for ((i = 100; i < 104; i++)); do
    ra=$(awk -F': *' 'tolower($1) == "retry-after" { sub(/\r$/, "", $2); print $2 }' \
        "$IT_TMP/cold.$i.headers")
    [[ -n $ra ]] || it_fail "long outage: cold tile $i: no Retry-After"
done
it_check "long outage: tileq_hold_expired_total{how=\"timeout\"}" 4 \
    "$(metric 'tileq_hold_expired_total{how="timeout"}')"
it_check "long outage: held requests 0" 0 "$(metric tileq_held_requests)"

# --- 3. back ------------------------------------------------------------------------------
tq_redis_start "$Q_DIR" "$Q_REDIS_PORT"
wait_for "/health 200" health_is 200
code=$(curl -s -o /dev/null --max-time 70 -w '%{http_code}' "$C/demo/14/8400/5700.mvt" || true)
[[ $code == 200 || $code == 204 ]] && echo "ok: after: a cold tile is rendered ($code)" ||
    it_fail "after: cold tile: status $code"

q_alive_check w1 w2 c1
q_finish
it_done

#!/usr/bin/env bash
# Redis restarted under load, on a private stack (queue/qlib.sh: own Redis, 2 coordinators,
# 2 workers). Two clients keep asking for cold demo tiles (a new metatile each time) while:
#   - a slow render is in flight (its request must be answered: 200, or 503 — never hang),
#   - Redis is shut down (SHUTDOWN NOSAVE): /health turns 503; cold-tile requests are held
#     (queue.hold_seconds = 1 here), then get 503 with Retry-After within a few seconds
#     (upper bound 5 s, generous), cached tiles are
#     still served,
#   - Redis is started again on the same port (empty: no persistence): coordinators and
#     workers reconnect by themselves, /health is 200 again, new cold tiles are rendered (200
#     or 204) through both coordinators.
# No process crashed (all still run, no connection refused/reset seen by a client, no
# sanitizer report in their logs after a clean SIGTERM).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

q_init redis_restart
# Cold tiles during the outage are held queue.hold_seconds before their 503 (see
# test_coord_redis_hold.sh); a short hold keeps this test's 5 s bound on those answers.
sed -i -e "s/render_timeout_seconds = 60;/render_timeout_seconds = 60; hold_seconds = 1;/" \
    "$Q_DIR/tileq.conf"
q_start_stack 2 2

STOP=$IT_TMP/stop-load
PHASE=$IT_TMP/phase # "before", "outage" (Redis down and seen so), "after" (back and seen so)
# set_phase PHASE: replaced by a rename, so that a load request never reads it half-written
# (an empty phase shifted its line's fields and failed the status check).
set_phase() {
    echo "$1" >"$PHASE.tmp"
    mv "$PHASE.tmp" "$PHASE"
}
set_phase before
# load NAME COORD_URL XBASE: one request every 100 ms whatever the answers take (each in a
# curl of its own), up to 600 (stops at $STOP), each for a tile of a new metatile at z12;
# one line per request "i phase status seconds" in $IT_TMP/load-NAME.txt, phase being the
# one the request was sent in.
load() {
    local name=$1 url=$2 xbase=$3 i x y ph
    for ((i = 0; i < 600; i++)); do
        [[ -f $STOP ]] && break
        x=$((xbase + (i % 60) * 8 + 3))
        y=$((1400 + (i / 60) * 8 + 3))
        ph=$(cat "$PHASE")
        (curl -s -o /dev/null --max-time 70 -w "$i $ph %{http_code} %{time_total}\n" \
            "$url/demo/12/$x/$y.mvt" 2>/dev/null || echo "$i $ph 000 0") >>"$IT_TMP/load-$name.txt" &
        sleep 0.1
    done
    wait
}
# health URL: the /health status code.
health() {
    curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$1/health" 2>/dev/null || true
}
# wait_load PHASE N: waits (up to 60 s: cold renders on a busy machine) until N load requests
# sent in PHASE were answered.
wait_load() {
    local i
    for ((i = 0; i < 600; i++)); do
        (($(cat "$IT_TMP"/load-*.txt 2>/dev/null | awk -v p="$1" '$2 == p' | wc -l) >= $2)) &&
            return 0
        sleep 0.1
    done
    it_fail "load: fewer than $2 answers to requests sent in phase $1"
}
# wait_health URL CODE: up to 30 s.
wait_health() {
    local i
    for ((i = 0; i < 300; i++)); do
        [[ $(health "$1") == "$2" ]] && return 0
        sleep 0.1
    done
    return 1
}

# A tile to serve from the cache during the outage.
it_check "before: a demo tile" 200 \
    "$(curl -s -o /dev/null --max-time 60 -w '%{http_code}' "$Q_URL_c1/demo/10/518/352.mvt" || true)"

load a "$Q_URL_c1" 1000 &
load_a=$!
load b "$Q_URL_c2" 2000 &
load_b=$!
wait_load before 10

# A slow render in flight when Redis goes away.
curl -s -o /dev/null --max-time 90 -w '%{http_code} %{time_total}' \
    "$Q_URL_c1/slow/14/8298/5636.mvt" >"$IT_TMP/inflight.txt" 2>/dev/null &
inflight=$!
for ((i = 0; i < 100; i++)); do
    [[ $(q_redis HGET '{tq}:job:slow/14/8296/5632' state) == running ]] && break
    sleep 0.05
done

echo "   shutting Redis down"
q_redis SHUTDOWN NOSAVE >/dev/null 2>&1 || true
for ((i = 0; i < 100; i++)); do
    tq_alive "$(cat "$Q_DIR/redis.pid" 2>/dev/null)" || break
    sleep 0.1
done
rm -f "$Q_DIR/redis.pid"
wait_health "$Q_URL_c1" 503 || it_fail "outage: c1 /health did not turn 503"
wait_health "$Q_URL_c2" 503 || it_fail "outage: c2 /health did not turn 503"
set_phase outage

# Cold tiles during the outage: 503 + Retry-After, quickly.
for ((i = 0; i < 6; i++)); do
    if ((i % 2)); then c=$Q_URL_c2; else c=$Q_URL_c1; fi
    out=$(curl -s -o /dev/null -D "$IT_TMP/outage$i.headers" --max-time 30 \
        -w '%{http_code} %{time_total}' "$c/demo/13/$((6000 + i * 8))/3000.mvt" || echo "000 30")
    read -r code secs <<<"$out"
    it_check "outage: cold tile $i: 503" 503 "$code"
    ra=$(awk -F': *' 'tolower($1) == "retry-after" { sub(/\r$/, "", $2); print $2 }' \
        "$IT_TMP/outage$i.headers")
    [[ -n $ra ]] || it_fail "outage: cold tile $i: no Retry-After"
    awk -v s="$secs" 'BEGIN { exit !(s < 5) }' ||
        it_fail "outage: cold tile $i took $secs s (bound 5 s)"
done
it_check "outage: a cached tile is still served" 200 \
    "$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$Q_URL_c2/demo/10/518/352.mvt" || true)"
wait_load outage 10

set_phase before # "between": requests sent now may see Redis either way
echo "   starting Redis again on port $Q_REDIS_PORT"
tq_redis_start "$Q_DIR" "$Q_REDIS_PORT"
wait_health "$Q_URL_c1" 200 || it_fail "after: c1 /health did not come back"
wait_health "$Q_URL_c2" 200 || it_fail "after: c2 /health did not come back"
set_phase after

# New cold tiles through both coordinators succeed (the workers may still be backing off:
# the request waits for them, within render_timeout_seconds).
for ((i = 0; i < 6; i++)); do
    if ((i % 2)); then c=$Q_URL_c2; else c=$Q_URL_c1; fi
    code=$(curl -s -o /dev/null -D "$IT_TMP/after$i.headers" --max-time 70 -w '%{http_code}' \
        "$c/demo/13/$((7000 + i * 8))/3000.mvt" || echo 000)
    [[ $code == 200 || $code == 204 ]] || it_fail "after: cold tile $i: status $code"
done
echo "ok: after: 6 cold tiles rendered"
wait "$inflight" || true
it_check "after: the in-flight slow tile at the outage was answered" 1 \
    "$(grep -cE '^(200|503) ' "$IT_TMP/inflight.txt" || true)"
echo "   in-flight slow tile: $(cat "$IT_TMP/inflight.txt")"

# Let the load run on a little (5 more answers to requests sent after), then stop it.
wait_load after $(($(cat "$IT_TMP"/load-*.txt | awk '$2 == "after"' | wc -l) + 5))
touch "$STOP"
wait "$load_a" "$load_b" || true
cat "$IT_TMP"/load-*.txt >"$IT_TMP/load.txt"
echo "   load: $(wc -l <"$IT_TMP/load.txt") requests; phase/status counts:" \
    "$(awk '{ print $2 "/" $3 }' "$IT_TMP/load.txt" | sort | uniq -c | tr '\n' ' ')"
echo "   load: slowest answer per phase:" \
    "$(sort -k4 -g "$IT_TMP/load.txt" | awk '{ m[$2] = $3 "/" $4 "s" } END { for (p in m) printf "%s %s  ", p, m[p] }')"
it_check "load: no failed connection (000) or unexpected status" 0 \
    "$(awk '$3 != 200 && $3 != 204 && $3 != 503' "$IT_TMP/load.txt" | wc -l)"
n_outage=$(awk '$2 == "outage"' "$IT_TMP/load.txt" | wc -l)
((n_outage > 0)) || it_fail "load: no request sent during the outage"
# A request sent in the last moments of the outage may still be held when Redis is back
# (or reach the coordinator late on a loaded machine): it is then enqueued and rendered.
it_check "load: requests sent during the outage got 503 within 5 s, or were held and rendered" \
    "$n_outage" "$(awk '$2 == "outage" && (($3 == 503 && $4 < 5) || $3 == 200 || $3 == 204)' \
    "$IT_TMP/load.txt" | wc -l)"
awk '$2 == "outage" && !($3 == 503 && $4 < 5)' "$IT_TMP/load.txt" | head -n 10 >&2
n_503=$(awk '$2 == "outage" && $3 == 503' "$IT_TMP/load.txt" | wc -l)
((n_503 > n_outage / 2)) || it_fail "load: only $n_503 of $n_outage outage requests got 503"
n_after=$(awk '$2 == "after"' "$IT_TMP/load.txt" | wc -l)
((n_after > 0)) || it_fail "load: no request sent after Redis came back"
it_check "load: requests sent after Redis came back succeeded" "$n_after" \
    "$(awk '$2 == "after" && ($3 == 200 || $3 == 204)' "$IT_TMP/load.txt" | wc -l)"

# A worker that found Redis gone may still be in its reconnect backoff (up to 5 s) when the
# other worker has rendered everything: wait for its second redis_connected (up to 20 s).
for n in w1 w2; do
    for ((i = 0; i < 200; i++)); do
        (($(grep -c 'event=redis_connected' "$Q_DIR/$n.log") >= 2)) && break
        sleep 0.1
    done
    (($(grep -c 'event=redis_connected' "$Q_DIR/$n.log") >= 2)) && echo "ok: $n reconnected" ||
        it_fail "$n did not log a second redis_connected"
done
q_alive_check w1 w2 c1 c2
q_finish
it_done

#!/usr/bin/env bash
# Hostile clients cannot take a coordinator away (http.max_connections,
# http.read_deadline_seconds), on a private stack (queue/qlib.sh: own Redis, 1 worker,
# 1 coordinator with max_connections = $CAP and read_deadline_seconds = $DEADLINE):
#   1. A slow client sends a request one header byte every 0.5 s (each byte would reset
#      libevent's own 30 s timeout): it is cut off at the read deadline, long before its
#      request is whole, while other clients' requests (/health, a cached tile) keep being
#      answered at once.
#   2. $CAP idle connections: the coordinator stops accepting; a request on an extra
#      connection is not answered, and stays so past the read deadline (idle connections
#      keep their idle timeout); once the idle ones close, the extra one is served and the
#      coordinator answers new connections at once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

CAP=8
DEADLINE=2

q_init coord_hostile
printf 'http = { max_connections = %d; read_deadline_seconds = %d; };\n' "$CAP" "$DEADLINE" \
    >>"$Q_DIR/tileq.conf"
q_start_stack 1 1
C=$Q_URL_c1
PORT=${C##*:}

ms_now() { echo $(($(date +%s%N) / 1000000)); }
metric() {
    curl -s --max-time 5 "$C/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
# wait_log EVENT N: until the coordinator logged event=EVENT N times (up to 30 s).
wait_log() {
    local i
    for ((i = 0; i < 300; i++)); do
        (($(grep -c "event=$1 " "$Q_DIR/c1.log" || true) >= $2)) && return 0
        sleep 0.1
    done
    it_fail "the coordinator did not log event=$1 $2 time(s)"
}

TILE=/demo/10/518/352.mvt
it_check "a demo tile (cached from now on)" 200 \
    "$(curl -s -o /dev/null --max-time 60 -w '%{http_code}' "$C$TILE" || true)"

# --- 1. a slow client -----------------------------------------------------------------------
# slow_client: writes a request one byte every 0.5 s; prints "cut MS SENT" when a write fails
# (the coordinator closed the connection MS ms after the first byte, SENT bytes sent), or
# "whole MS" when the whole request went out.
slow_client() {
    local pad req start i
    pad=$(printf 'a%.0s' {1..40})
    req=$'GET /health HTTP/1.1\r\nHost: slow\r\nX-Pad: '"$pad"$'\r\n\r\n'
    trap '' PIPE
    exec 5<>"/dev/tcp/127.0.0.1/$PORT"
    start=$(ms_now)
    for ((i = 0; i < ${#req}; i++)); do
        if ! printf '%s' "${req:i:1}" >&5 2>/dev/null; then
            echo "cut $(($(ms_now) - start)) $i"
            return 0
        fi
        sleep 0.5
    done
    echo "whole $(($(ms_now) - start))"
}
slow_client >"$IT_TMP/slow.txt" &
slow=$!
# Other clients meanwhile: one request after another until the slow one is done.
n=0
while kill -0 "$slow" 2>/dev/null; do
    for path in /health "$TILE"; do
        curl -s -o /dev/null --max-time 5 -w "%{http_code} %{time_total}\n" "$C$path" \
            >>"$IT_TMP/others.txt" || echo "000 5" >>"$IT_TMP/others.txt"
        n=$((n + 1))
    done
    sleep 0.2
done
wait "$slow" || true
read -r how ms sent <"$IT_TMP/slow.txt" || true
echo "   slow client: $how after $ms ms, $sent bytes sent; $n other requests meanwhile"
it_check "slow client: cut off" cut "$how"
awk -v ms="${ms:-0}" -v d="$DEADLINE" 'BEGIN { exit !(ms >= d * 1000 && ms <= d * 1000 + 2500) }' ||
    it_fail "slow client: cut off after $ms ms (deadline $DEADLINE s, bound + 2.5 s)"
it_check "slow client: tileq_http_read_deadline_total" 1 "$(metric tileq_http_read_deadline_total)"
grep -q 'event=read_deadline ' "$Q_DIR/c1.log" || it_fail "no event=read_deadline logged"
((n >= 4)) || it_fail "only $n other requests while the slow client ran"
it_check "other clients: every request 200 in under 1 s" "$n" \
    "$(awk '$1 == 200 && $2 < 1' "$IT_TMP/others.txt" | wc -l)"

# --- 2. the connection cap ------------------------------------------------------------------
# CAP - 1 idle connections, then (once the coordinator counts them with the scrape's own)
# one more: the cap.
idle=()
for ((i = 1; i < CAP; i++)); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    idle+=("$fd")
done
for ((i = 0; i < 300; i++)); do
    [[ $(metric tileq_http_connections) == "$CAP" ]] && break
    sleep 0.1
done
it_check "cap: $((CAP - 1)) idle connections + the scrape's" "$CAP" "$(metric tileq_http_connections)"
exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
idle+=("$fd")
wait_log accept_paused 1
# Two extra connections (the kernel queues them); a whole request on one of them.
exec {x1}<>"/dev/tcp/127.0.0.1/$PORT"
exec {x2}<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /health HTTP/1.0\r\n\r\n' >&"$x1"
# (the reader must not inherit the idle connections, or closing them here would not close them)
(
    for fd in "${idle[@]}" "$x2"; do exec {fd}>&-; done
    exec timeout 60 cat <&"$x1" >"$IT_TMP/extra.txt"
) &
extra=$!
t0=$(ms_now)
# Not served at the cap, also past the read deadline (the idle connections are not cut).
code=$(curl -s -o /dev/null --max-time $((DEADLINE + 1)) -w '%{http_code}' "$C/health" || true)
it_check "cap: a new connection is not served" 000 "$code"
it_check "cap: the extra connection's request is not answered" 0 "$(wc -c <"$IT_TMP/extra.txt")"
it_check "cap: idle connections were not cut by the read deadline" 1 \
    "$(grep -c 'event=read_deadline ' "$Q_DIR/c1.log" || true)"
# Close the idle ones: the queued connections are accepted and served.
for fd in "${idle[@]}"; do exec {fd}>&-; done
wait "$extra" || true
t1=$(ms_now)
((t1 - t0 < 10000)) || it_fail "cap: the extra connection waited $((t1 - t0)) ms (idle timeout?)"
echo "   extra connection answered $((t1 - t0)) ms after its request: $(head -n 1 "$IT_TMP/extra.txt" | tr -d '\r')"
it_check "cap: the extra connection is served once the idle ones closed" 1 \
    "$(head -n 1 "$IT_TMP/extra.txt" | grep -c '^HTTP/1\.[01] 200')"
wait_log accept_resumed 1
out=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' "$C/health" || echo "000 5")
read -r code secs <<<"$out"
it_check "after: /health on a new connection" 200 "$code"
awk -v s="$secs" 'BEGIN { exit !(s < 1) }' || it_fail "after: /health took $secs s"
it_check "after: a cached tile" 200 "$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$C$TILE" || true)"
exec {x1}>&- {x2}>&-

q_alive_check w1 c1
q_finish
it_done

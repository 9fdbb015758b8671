#!/usr/bin/env bash
# Stopping one of two coordinators under a steady stream of requests through nginx loses none
# of them: four clients keep asking nginx for cold tiles (each its own metatile, so a render
# and a waiter on a coordinator) and /health; coordinator 2 is stopped (SIGTERM: it drains:
# no new connection, idle ones closed, its waiters answered when their render is done, new
# requests on open connections 503 "shutting down", then it exits) while they run; the
# clients go on for a while. Every response must be 200 (204 for an empty tile); nginx must
# have sent requests to both coordinators before the stop and only to coordinator 1 after.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nginx_lib.sh"

ng_up 2 3

CLIENTS=4
AFTER=20  # requests each client makes after the stop
MAX=300   # bound on each client's requests
STOPPED=$IT_TMP/stopped

# client N: requests until it made AFTER requests after the stop (or MAX in all); one line
# "status path" per request in $IT_TMP/client.N.
client() {
    local n=$1 i=0 after=0 path code
    while ((i < MAX && after < AFTER)); do
        if ((i % 2 == 0)); then
            # A distinct metatile per request: z14, x and y multiples of 8 around Europe.
            path=/demo/14/$((8192 + 8 * (n * MAX + i) % 1024))/$((5376 + 8 * ((n * MAX + i) / 128 % 64))).mvt
        else
            path=/health
        fi
        code=$(curl -s -o /dev/null --max-time 60 -w '%{http_code}' "$NG_URL$path" || true)
        echo "$code $path" >>"$IT_TMP/client.$n"
        i=$((i + 1))
        [[ -e $STOPPED ]] && after=$((after + 1))
    done
}

pids=()
for ((n = 1; n <= CLIENTS; n++)); do
    client "$n" &
    pids+=($!)
done

# Stop coordinator 2 once the stream is flowing and both coordinators took requests.
c1=127.0.0.1:${NG_COORD_PORTS[1]}
c2=127.0.0.1:${NG_COORD_PORTS[2]}
for ((i = 0; i < 600; i++)); do
    if [[ $(cat "$IT_TMP"/client.* 2>/dev/null | wc -l) -ge 40 ]] &&
        grep -q "up=$c2" "$NG_DIR/nginx/access.log"; then
        break
    fi
    sleep 0.05
done
lines_before=$(wc -l <"$NG_DIR/nginx/access.log")
echo "stopping coordinator 2 ($c2) after $(cat "$IT_TMP"/client.* | wc -l) requests"
tq_stop_pidfile "$NG_DIR/coordinator2.pid" 30
touch "$STOPPED"
grep -q '"event":"shutdown"\|shutdown' "$NG_DIR/coordinator2.log" ||
    it_fail "coordinator 2 did not log its shutdown"

for pid in "${pids[@]}"; do
    wait "$pid" || it_fail "client $pid failed"
done

total=$(cat "$IT_TMP"/client.* | wc -l)
bad=$(cat "$IT_TMP"/client.* | grep -vcE '^(200|204) ' || true)
echo "$total requests through nginx; answers: $(cut -d' ' -f1 "$IT_TMP"/client.* | sort | uniq -c | tr '\n' ' ')"
it_check "every request answered 200/204 (none lost)" 0 "$bad"
if [[ $bad -gt 0 ]]; then
    grep -vE '^(200|204) ' "$IT_TMP"/client.* | head -n 20 >&2
fi
[[ $total -ge $((CLIENTS * AFTER)) ]] || it_fail "only $total requests made"
# grep -c reads all its input: with pipefail, grep -q's early exit made head fail (SIGPIPE)
# and the check read "no" although coordinator 2 had served requests.
it_check "coordinator 2 served requests before the stop" yes \
    "$( (($(head -n "$lines_before" "$NG_DIR/nginx/access.log" | grep -c "up=$c2 ") > 0)) && echo yes || echo no)"
after_c1=$(tail -n +"$((lines_before + 1))" "$NG_DIR/nginx/access.log" | grep -c "$c1" || true)
[[ $after_c1 -gt 0 ]] || it_fail "no request reached coordinator 1 after the stop"
# A request that failed over shows both addresses in $upstream_addr ("c2, c1").
retried=$(grep -c "up=$c2, $c1" "$NG_DIR/nginx/access.log" || true)
grep "up=$c2, $c1" "$NG_DIR/nginx/access.log" | head -n 5 || true
echo "requests nginx retried on coordinator 1 after coordinator 2 failed them: $retried"
ng_wait_queue_drained
it_check "no job left queued or running" "0 0" \
    "$(ng_redis LLEN '{tq}:q:interactive') $(ng_redis ZCARD '{tq}:running')"

it_done

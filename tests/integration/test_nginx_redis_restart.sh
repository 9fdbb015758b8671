#!/usr/bin/env bash
# Redis killed and started again (empty) under load through nginx over 2 coordinators and 3
# workers costs no request: four clients keep asking nginx for cold tiles (a metatile of
# their own each time) while Redis is killed (SIGKILL), the coordinators see it gone
# (/health 503, polled), and Redis is started again on the same port with nothing in it 2 s
# after the kill (once every client waits on a held request).
# The coordinators hold the misses meanwhile and enqueue them once Redis is back; nginx never
# marks a coordinator down. Every answer must be 200/204, and nginx's error log must not say
# "no live upstreams".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nginx_lib.sh"

ng_up 2 3

CLIENTS=4
AFTER=15 # requests each client makes after Redis is back
MAX=400  # bound on each client's requests
BACK=$IT_TMP/back
KILLED=$IT_TMP/killed

# client N: cold tiles until it made AFTER requests after Redis came back (or MAX in all); one
# line "status seconds phase path" per request in $IT_TMP/client.N.
client() {
    local n=$1 i=0 after=0 path out ph
    while ((i < MAX && after < AFTER)); do
        path=/demo/14/$((9216 + 8 * ((n * MAX + i) % 512)))/$((5376 + 8 * ((n * MAX + i) / 512 % 64))).mvt
        ph=before
        [[ -e $KILLED ]] && ph=outage
        [[ -e $BACK ]] && ph=after
        out=$(curl -s -o /dev/null --max-time 90 -w '%{http_code} %{time_total}' "$NG_URL$path" ||
            true)
        echo "$out $ph $path" >>"$IT_TMP/client.$n"
        i=$((i + 1))
        [[ -e $BACK ]] && after=$((after + 1))
    done
}

health() {
    curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$1/health" 2>/dev/null ||
        true
}
# wait_health CODE: until both coordinators' /health answer CODE (up to 30 s).
wait_health() {
    local i
    for ((i = 0; i < 300; i++)); do
        [[ $(health "${NG_COORD_PORTS[1]}") == "$1" && $(health "${NG_COORD_PORTS[2]}") == "$1" ]] &&
            return 0
        sleep 0.1
    done
    it_fail "coordinators' /health did not turn $1"
}

pids=()
for ((n = 1; n <= CLIENTS; n++)); do
    client "$n" &
    pids+=($!)
done

# Kill Redis once the stream is flowing.
for ((i = 0; i < 600; i++)); do
    [[ $(cat "$IT_TMP"/client.* 2>/dev/null | wc -l) -ge 20 ]] && break
    sleep 0.05
done
echo "killing Redis (SIGKILL) after $(cat "$IT_TMP"/client.* | wc -l) requests"
rpid=$(cat "$NG_DIR/redis.pid")
touch "$KILLED"
kill -KILL "$rpid"
for ((i = 0; i < 100; i++)); do
    tq_alive "$rpid" || break
    sleep 0.05
done
rm -rf "$NG_DIR/redis.pid" "$NG_DIR/appendonlydir" "$NG_DIR"/*.aof "$NG_DIR/dump.rdb"
wait_health 503
# The outage lasts (as in the report that led here) 2 s from the kill, and at least until
# every client waits on a held request (the coordinators' tileq_held_requests).
held_total() {
    local i sum=0 v
    for ((i = 1; i <= 2; i++)); do
        v=$(curl -s --max-time 5 "http://127.0.0.1:${NG_COORD_PORTS[i]}/metrics" |
            awk '$1 == "tileq_held_requests" { print $2 }')
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
end=$(($(date +%s%N) + 2000000000))
for ((i = 0; i < 300; i++)); do
    (($(date +%s%N) >= end)) && (($(held_total) >= CLIENTS)) && break
    sleep 0.1
done
held_at_restart=$(held_total)
echo "requests held by the coordinators: $held_at_restart"
echo "starting Redis again (empty) after $(cat "$IT_TMP"/client.* | wc -l) requests"
tq_redis_start "$NG_DIR" "$NG_REDIS_PORT"
wait_health 200
touch "$BACK"

for pid in "${pids[@]}"; do
    wait "$pid" || it_fail "client $pid failed"
done

total=$(cat "$IT_TMP"/client.* | wc -l)
bad=$(cat "$IT_TMP"/client.* | grep -vcE '^(200|204) ' || true)
echo "$total requests through nginx; answers by phase: $(awk '{ print $3 "/" $1 }' "$IT_TMP"/client.* |
    sort | uniq -c | tr '\n' ' ')"
echo "slowest answer: $(cat "$IT_TMP"/client.* | sort -k2 -g | tail -n 1)"
it_check "every request answered 200/204 (none lost)" 0 "$bad"
if [[ $bad -gt 0 ]]; then
    grep -vhE '^(200|204) ' "$IT_TMP"/client.* | head -n 20 >&2
fi
# (a request in flight at the kill is held too, so a client may send none "during" it)
((held_at_restart >= CLIENTS)) ||
    it_fail "only $held_at_restart requests were held when Redis came back (clients: $CLIENTS)"
it_check "nginx never ran out of upstreams" 0 \
    "$(grep -c 'no live upstreams' "$NG_DIR/nginx/error.log" || true)"
held=$(cat "$NG_DIR"/coordinator*.log | grep -c 'event=hold ' || true)
echo "metatiles held by the coordinators during the outage: $held"
((held > 0)) || it_fail "no coordinator held a request (the outage was not seen)"
ng_wait_queue_drained

it_done

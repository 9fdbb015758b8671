#!/usr/bin/env bash
# Half-closed clients (issue 16 item 5), on a private stack (queue/qlib.sh: own Redis, one
# coordinator, no worker at first, so jobs stay queued and clients wait). A raw client
# (edge_client.py) sends its request and then:
#  - shuts down its write side (HTTP/1.1, as `printf 'GET ...' | nc -N`): it is still a
#    waiter (its job keeps its holder), and once a worker renders, it gets
#    "100 Continue" (the probe that told it from a closed socket), then 200 with the tile's
#    bytes and "Connection: close";
#  - the same over HTTP/1.0: no interim response (none is allowed there), 200 with the tile;
#  - closes the socket (FIN, as curl --max-time does) or resets it (SO_LINGER 0): gone, as
#    before: the coordinator releases its job (holders 0, demoted to bulk);
#  - half-closed with a 4 KiB receive buffer, reading only after 1 s, a 1 MB file (the
#    preview page's maplibre-gl.js) answered at once: the whole file arrives (evhttp used to
#    free the connection at the client's FIN with the reply half written).
# The coordinator serves other clients throughout and afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

CLIENT=$(dirname "$0")/edge_client.py
q_init edgehalf
q_start_stack 0 1
port=${Q_URL_c1##*:}
client() { python3 "$CLIENT" 127.0.0.1 "$port" "$@"; }
holders() { q_redis HGET "{tq}:job:$1" holders; }
# wait_holders JOB N: until JOB's holders count is N (bounded, 10 s).
wait_holders() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ $(holders "$1") == "$2" ]] && return 0
        sleep 0.1
    done
    return 1
}

# Jobs: metatile 8 at z10, one per client.
half11=demo/10/512/352 half10=demo/10/520/352 closed=demo/10/528/352 reset=demo/10/536/352
client half11 /demo/10/515/355.mvt "$IT_TMP/half11.body" >"$IT_TMP/half11.out" &
pid11=$!
client half10 /demo/10/523/355.mvt "$IT_TMP/half10.body" >"$IT_TMP/half10.out" &
pid10=$!
client close /demo/10/531/355.mvt /dev/null --when "$IT_TMP/go.close" >/dev/null &
pidc=$!
client reset /demo/10/539/355.mvt /dev/null --when "$IT_TMP/go.reset" >/dev/null &
pidr=$!
for j in $half11 $half10 $closed $reset; do
    wait_holders "$j" 1 || it_fail "$j: its client never became a waiter (holders $(holders "$j"))"
done

# The closing and the resetting client leave; the half-closed ones stay.
touch "$IT_TMP/go.close" "$IT_TMP/go.reset"
wait "$pidc" "$pidr"
wait_holders "$closed" 0 || true
wait_holders "$reset" 0 || true
it_check "close (FIN, then the probe's reset): job released" "0 2" \
    "$(holders "$closed") $(q_redis HGET "{tq}:job:$closed" cls)"
it_check "reset (RST): job released" "0 2" "$(holders "$reset") $(q_redis HGET "{tq}:job:$reset" cls)"
# The probes of the half-closed clients went out with the closed one's (same 200 ms look);
# give a late reset time to show, then they must still be waiting.
sleep 1
it_check "half-closed HTTP/1.1: still waiting (holders 1, interactive)" "1 0" \
    "$(holders "$half11") $(q_redis HGET "{tq}:job:$half11" cls)"
it_check "half-closed HTTP/1.0: still waiting (holders 1, interactive)" "1 0" \
    "$(holders "$half10") $(q_redis HGET "{tq}:job:$half10" cls)"
it_check "meanwhile: another client is served (/health)" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$Q_URL_c1/health")"

# A worker renders: the half-closed clients get their tiles.
q_start_worker w1
q_wait_worker w1
wait "$pid11" "$pid10"
len11=$(curl -s --max-time 60 -o "$IT_TMP/ref11.body" -w '%{size_download}' "$Q_URL_c1/demo/10/515/355.mvt")
len10=$(curl -s --max-time 60 -o "$IT_TMP/ref10.body" -w '%{size_download}' "$Q_URL_c1/demo/10/523/355.mvt")
it_check "half-closed HTTP/1.1: 100 Continue, then 200 with the tile, Connection: close" \
    "interim=100 status=200 connection=close length=$len11" "$(cat "$IT_TMP/half11.out")"
it_check "half-closed HTTP/1.1: the tile's bytes" "$(it_hex "$IT_TMP/ref11.body")" \
    "$(it_hex "$IT_TMP/half11.body")"
it_check "half-closed HTTP/1.0: no interim, 200 with the tile, Connection: close" \
    "interim=- status=200 connection=close length=$len10" "$(cat "$IT_TMP/half10.out")"
it_check "half-closed HTTP/1.0: the tile's bytes" "$(it_hex "$IT_TMP/ref10.body")" \
    "$(it_hex "$IT_TMP/half10.body")"
[[ -s $IT_TMP/ref11.body ]] || it_fail "the reference tile is empty: pick a tile with features"

# A reply larger than the socket buffers, to a half-closed client that reads late.
static=$TQ_BUILD_DIR/static/maplibre-gl.js
[[ -s $static ]] || static=$TQ_BUILD_DIR/static/map.html
name=$(basename "$static")
size=$(stat -c %s "$static")
out=$(client half11 "/static/$name" "$IT_TMP/big.body" --rcvbuf 4096 --delay 1)
it_check "half-closed, slow reader, /static/$name ($size bytes): all of it" \
    "interim=- status=200 connection=- length=$size" "$out"
cmp -s "$static" "$IT_TMP/big.body" || it_fail "half-closed, slow reader: bytes differ"

it_check "after: a tile over a new connection" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 "$Q_URL_c1/demo/10/547/355.mvt")"
q_alive_check c1 w1
q_finish
it_done

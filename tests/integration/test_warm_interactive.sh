#!/usr/bin/env bash
# Interactive requests during a warm are served ahead of the bulk backlog. On a private stack
# (own Redis, two workers, a coordinator): the latency of cold tile requests on an idle
# system, then while `tileq warm` keeps hundreds of bulk jobs queued. Prints the figures and
# asserts a generous bound only (busy median < idle median + 2 s, each < 10 s), and that the
# bulk backlog was still there when the requests had been answered (they jumped it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"
source "$(dirname "$0")/warm_lib.sh"

q_init warmint
q_start_worker w1
q_start_worker w2
q_start_coordinator c1
q_wait_worker w1
q_wait_worker w2

# fetch Z X Y: prints the seconds a cold request took (status must be 200 or 204).
fetch() {
    local out status secs
    out=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code} %{time_total}' \
        "$Q_URL_c1/demo/$1/$2/$3.mvt")
    read -r status secs <<<"$out"
    [[ $status == 200 || $status == 204 ]] || it_fail "GET /demo/$1/$2/$3.mvt: $status"
    echo "$secs"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Tokyo at z12, each tile in its own metatile (8×8), none in the warmed area (Europe).
idle=()
for x in 3624 3632 3640 3648 3656; do idle+=("$(fetch 12 "$x" 1612)"); done
idle_med=$(printf '%s\n' "${idle[@]}" | median)
echo "idle: ${idle[*]} s (median $idle_med s)"

"$TILEQ_BIN" -c "$Q_DIR/tileq.conf" warm --tileset demo --bbox -10,36,30,60 --zoom 8-12 \
    --max-queued 400 >"$IT_TMP/warm.out" 2>"$IT_TMP/warm.err" &
wpid=$!
queued=0
for ((i = 0; i < 100; i++)); do # until the backlog is there (bounded: 20 s)
    queued=$(q_redis LLEN '{tq}:q:bulk')
    ((queued >= 300)) && break
    sleep 0.2
done
echo "bulk backlog before the requests: $queued jobs"
((queued >= 300)) || it_fail "the warm did not build a backlog ($queued jobs)"

busy=()
for x in 3624 3632 3640 3648 3656; do busy+=("$(fetch 12 "$x" 1620)"); done
after=$(q_redis LLEN '{tq}:q:bulk')
busy_med=$(printf '%s\n' "${busy[@]}" | median)
echo "during the warm: ${busy[*]} s (median $busy_med s); bulk backlog after them: $after jobs"
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true

python3 - "$idle_med" "$busy_med" "${busy[@]}" <<'PY' || it_fail "interactive latency bound exceeded"
import sys
idle, busy, each = float(sys.argv[1]), float(sys.argv[2]), [float(v) for v in sys.argv[3:]]
print(f"latency during warm / idle (medians): {busy / idle if idle else float('inf'):.1f}x")
sys.exit(0 if busy < idle + 2.0 and max(each) < 10.0 else 1)
PY
((after >= 100)) || it_fail "the bulk backlog drained ($after left): requests did not jump it"

q_finish
it_done

#!/usr/bin/env bash
# Redis Cluster, on a private stack: 3 masters on loopback (deploy/stack.sh
# tq_redis_cluster_start: redis-server --cluster-enabled yes ×3, redis-cli --cluster create),
# 2 workers, 1 coordinator and the CLI configured with redis_cluster_nodes (their redis_url
# points at a port where nothing listens: only its password and db count). Every tileq key is
# under the {tq} hash tag, so the queue lives on one slot of one master:
#   1. every program connects to the master of the {tq} slot (found with CLUSTER SLOTS);
#      a redis_url with db 1 is refused (a cluster has database 0 only);
#   2. enqueue, claim, ack: a cold tile renders (200/204);
#      heartbeat: a render longer than the 2 s lease finishes on attempt 1;
#      reap: the worker rendering a slow job is SIGKILLed, the other reaps it (attempt 2);
#   3. a herd: 40 concurrent requests for one cold tile through the coordinator → 1 render;
#   4. tileq warm --wait of a small area; /metrics reads the queue (tileq_redis_up 1);
#   5. MOVED: the {tq} slot is moved to another master (keys migrated as
#      redis-cli --cluster reshard does) while cold tiles are requested: the workers and both
#      coordinator connections follow it (redis_connected ... port=<new master>), a new cold
#      tile renders, tileq status works;
#   6. ASK: the slot's keys are migrated to the third master but the slot not yet assigned
#      (the old owner answers ASK): the coordinator sends the command again after ASKING to
#      the third (redis_ask); a cold tile requested then is held and answered once the slot
#      is assigned; everyone ends on the third master; tileq status --check holds at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

Q_ID="q$$x$RANDOM-cluster"
Q_DIR=$IT_TMP/q
Q_LOG_COPY=$TQ_BUILD_DIR/tests/integration/logs/queue-cluster
Q_REDIS_PORT=1 # q_config's redis_url: its host:port must not be used
rm -rf "$Q_LOG_COPY"
mkdir -p "$Q_DIR/cache"
TILEQ=$TQ_BUILD_DIR/cli/tileq

c_cleanup() {
    local f
    q_cleanup
    tq_redis_cluster_stop "$Q_DIR"
    mkdir -p "$Q_LOG_COPY"
    for f in "$Q_DIR"/rc/*/redis.log; do
        [[ -f $f ]] && cp "$f" "$Q_LOG_COPY/rc-$(basename "$(dirname "$f")").log"
    done
    return 0
}
trap 'c_cleanup; rm -rf "$IT_TMP"' EXIT

tq_free_port P1
tq_free_port P2
tq_free_port P3
tq_redis_cluster_start "$Q_DIR" "$P1" "$P2" "$P3"
SLOT=$(redis-cli -p "$P1" cluster keyslot '{tq}')
OWNER=$(tq_redis_cluster_owner "$P1" "$SLOT")
echo "   cluster masters $P1 $P2 $P3; slot of {tq}: $SLOT, on $OWNER"
# q_redis (qlib.sh's helpers use it): the cluster, following redirections.
q_redis() {
    redis-cli -c -h 127.0.0.1 -p "$P1" "$@"
}
{
    echo "redis_cluster_nodes = [ \"127.0.0.1:$P1\", \"127.0.0.1:$P2\", \"127.0.0.1:$P3\" ];"
    q_config
} >"$Q_DIR/tileq.conf"

# ---- 1. connect, db != 0 refused -----------------------------------------------------------
sed "s|^redis_url .*|redis_url = \"redis://127.0.0.1:1/1\";|" "$Q_DIR/tileq.conf" >"$Q_DIR/db1.conf"
rc=0
out=$("$TILEQ" -c "$Q_DIR/db1.conf" status 2>&1) || rc=$?
if ((rc != 0)) && grep -q 'database 0 only' <<<"$out"; then
    echo "ok: redis_url with db 1 refused: $(head -n 1 <<<"$out")"
else
    it_fail "redis_url with db 1 and redis_cluster_nodes (exit $rc): $out"
fi
out=$("$TILEQ" -c "$Q_DIR/tileq.conf" status 2>&1) || it_fail "tileq status on the cluster: $out"

q_start_stack 2 1

# c_last_port FILE [CONN]: the port of FILE's last redis_connected line (of connection CONN).
c_last_port() {
    grep -E "event=redis_connected ${2:+conn=$2 }" "$1" 2>/dev/null | tail -n 1 |
        sed -n 's/.* port=\([0-9]*\) .*/\1/p'
}
# c_wait_on PORT: the workers and both coordinator connections last connected to PORT (up to
# 60 s each).
c_wait_on() {
    local port=$1 what i
    for what in "w1.log" "w2.log" "c1.log command" "c1.log events"; do
        for ((i = 0; i < 600; i++)); do
            # shellcheck disable=SC2086
            [[ $(c_last_port "$Q_DIR"/$what) == "$port" ]] && break
            sleep 0.1
        done
        if ((i < 600)); then
            echo "ok: ${what/.log/} connected to port $port"
        else
            # shellcheck disable=SC2086
            it_fail "${what/.log/} did not connect to port $port (last: $(c_last_port "$Q_DIR"/$what))"
        fi
    done
}
# c_get PATH: status of one request to the coordinator.
c_get() {
    curl -s -o /dev/null --max-time 70 -w '%{http_code}' "$Q_URL_c1$1" || echo 000
}
# c_status_live: tileq status shows both workers live.
c_status_live() {
    local i out
    for ((i = 0; i < 100; i++)); do
        out=$("$TILEQ" -c "$Q_DIR/tileq.conf" status 2>&1) && grep -q '^workers: 2 live' <<<"$out" &&
            {
                echo "ok: tileq status ($1): workers: 2 live"
                return 0
            }
        sleep 0.1
    done
    it_fail "tileq status ($1): $out"
}
# c_check: tileq status --check holds (through the cluster).
c_check() {
    local out rc=0
    out=$("$TILEQ" -c "$Q_DIR/tileq.conf" status --check 2>&1) || rc=$?
    if ((rc == 0)); then
        echo "ok: tileq status --check ($1): $(tail -n 1 <<<"$out")"
    else
        it_fail "tileq status --check ($1), exit $rc:"
        echo "$out" >&2
    fi
}
# c_wait_running JOB: waits up to 15 s for JOB to be running; prints the worker (w1, w2).
c_wait_running() {
    local jk="{tq}:job:$1" i wid
    for ((i = 0; i < 300; i++)); do
        if [[ $(q_redis HGET "$jk" state) == running ]]; then
            wid=$(q_redis HGET "$jk" worker)
            echo "${wid#"$Q_ID"-}"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

c_wait_on "$OWNER"
c_status_live "slot on $OWNER"

# ---- 2. enqueue, claim, heartbeat, ack, reap -------------------------------------------------
code=$(c_get /demo/10/518/352.mvt)
[[ $code == 200 || $code == 204 ]] && echo "ok: cold tile $code" || it_fail "cold tile: $code"
n=$(q_wait_log "event=job_done job=demo/10/512/352 .*ack=ok" 1)
it_check "cold tile: rendered and acked once" 1 "$n"

# Q_SLEEP (2 s) per render of "slow" and a 2 s lease: only heartbeats keep the lease.
code=$(c_get /slow/12/2074/1410.mvt)
it_check "heartbeat: a render longer than the lease answers" 200 "$code"
n=$(q_wait_log "event=job_done job=slow/12/2072/1408 attempt=1 .*ack=ok" 1)
it_check "heartbeat: acked on attempt 1" 1 "$n"

job=slow/14/8296/5632
curl -s -o "$IT_TMP/reap.body" --max-time 120 -w '%{http_code}' "$Q_URL_c1/slow/14/8298/5636.mvt" \
    >"$IT_TMP/reap.status" 2>/dev/null &
fetch_pid=$!
if victim=$(c_wait_running "$job"); then
    echo "   $job is being rendered by $victim; SIGKILL"
    vpid=$(q_pid "$victim")
    kill -KILL "$vpid"
    wait "$vpid" 2>/dev/null || true
    wait "$fetch_pid" || true
    it_check "reap: the waiting request gets 200" 200 "$(cat "$IT_TMP/reap.status")"
    n=$(q_wait_log "event=job_done job=$job attempt=2 .*ack=ok" 1)
    it_check "reap: rendered again on attempt 2 by the other worker" 1 "$n"
    grep -qh 'event=reaped' "$Q_DIR"/w*.log || it_fail "reap: nobody logged event=reaped"
    rm -f "$Q_DIR/$victim.pid"
    q_start_worker "$victim" # back to 2 workers, on the same slot's master
    q_wait_worker "$victim"
else
    it_fail "$job never ran"
fi

# ---- 3. a herd: many clients, one cold tile, one render ------------------------------------
urls=()
for ((i = 0; i < 40; i++)); do urls+=("$Q_URL_c1/demo/11/1040/708.mvt"); done
res=$(q_parallel_get "$IT_TMP/herd" "${urls[@]}")
ok=$(cut -d'|' -f2 <<<"$res" | grep -cE '^(200|204)$' || true)
it_check "herd: 40 requests answered 200/204" 40 "$ok"
q_wait_log "event=job_done job=demo/11/1040/704 " 1 >/dev/null
it_check "herd: 1 render" 1 "$(q_renders demo/11/1040/704)"

# ---- 4. tileq warm ---------------------------------------------------------------------------
rc=0
out=$("$TILEQ" -c "$Q_DIR/tileq.conf" warm --tileset demo --bbox 2.2,48.8,2.5,48.9 --zoom 6-9 \
    --wait 2>"$IT_TMP/warm.err") || rc=$?
echo "   warm: $out"
it_check "warm --wait: exit status" 0 "$rc"
[[ -f $Q_DIR/cache/demo/9/259/176.mvt.gz ]] && echo "ok: warm: demo/9/259/176 cached" ||
    it_fail "warm: demo/9/259/176 not cached"
c_check "before the move"
# /metrics reads the queue with one script on the slot's master.
metrics=$(curl -s --max-time 10 "$Q_URL_c1/metrics" || true)
it_check "/metrics: tileq_redis_up" "tileq_redis_up 1" "$(grep -m1 '^tileq_redis_up ' <<<"$metrics")"

# ---- 5. MOVED: the {tq} slot moves to another master while tiles are requested ------------
for p in "$P1" "$P2" "$P3"; do [[ $p != "$OWNER" ]] && NEW=$p && break; done
STOP=$IT_TMP/stop-load
: >"$IT_TMP/load.txt"
(
    i=0
    while [[ ! -f $STOP ]]; do
        # a new z13 metatile each time (x, y multiples of 8)
        code=$(c_get "/demo/13/$((4096 + 8 * i))/2816.mvt")
        echo "$i $code" >>"$IT_TMP/load.txt"
        i=$((i + 1))
    done
) &
load_pid=$!
q_wait_log "event=job_done job=demo/13/" 2 >/dev/null
echo "   moving slot $SLOT from $OWNER to $NEW"
tq_redis_cluster_move_slot "$SLOT" "$OWNER" "$NEW"
it_check "the cluster names the new master" "$NEW" "$(tq_redis_cluster_owner "$P1" "$SLOT")"
c_wait_on "$NEW"
grep -q 'event=redis_moved' "$Q_DIR"/c1.log &&
    echo "ok: the coordinator followed MOVED: $(grep -h 'event=redis_moved' "$Q_DIR"/c1.log | head -n 1)" ||
    echo "   (the coordinator found the new master without a MOVED reply)"
code=$(c_get /demo/10/530/360.mvt)
[[ $code == 200 || $code == 204 ]] && echo "ok: cold tile after the move $code" ||
    it_fail "cold tile after the move: $code"
# 3 more cold tiles of the load after the move, then stop it (up to 60 s).
n=$(wc -l <"$IT_TMP/load.txt")
for ((i = 0; i < 600; i++)); do
    (($(wc -l <"$IT_TMP/load.txt") >= n + 3)) && break
    sleep 0.1
done
touch "$STOP"
wait "$load_pid" || true
bad=$(awk '$2 != 200 && $2 != 204' "$IT_TMP/load.txt" | wc -l)
echo "   load during the move: $(wc -l <"$IT_TMP/load.txt") cold tiles, $bad not 200/204"
it_check "load during the move: every cold tile 200/204" 0 "$bad"
c_status_live "slot on $NEW"
it_check "no {tq} key left on the old master" 0 "$(redis-cli -p "$OWNER" cluster countkeysinslot "$SLOT")"

# ---- 6. ASK: the slot half-migrated (every key on the target, the source still its owner) --
for p in "$P1" "$P2" "$P3"; do [[ $p != "$OWNER" && $p != "$NEW" ]] && THIRD=$p && break; done
echo "   migrating slot $SLOT's keys from $NEW to $THIRD (the slot stays $NEW's)"
tq_redis_cluster_migrate_slot "$SLOT" "$NEW" "$THIRD"
curl -s -o /dev/null --max-time 70 -w '%{http_code}' "$Q_URL_c1/demo/10/546/360.mvt" \
    >"$IT_TMP/ask.status" 2>/dev/null &
ask_pid=$!
for ((i = 0; i < 300; i++)); do
    grep -q "event=redis_ask .* port=$THIRD\$" "$Q_DIR/c1.log" && break
    sleep 0.1
done
if ((i < 300)); then
    echo "ok: the coordinator followed ASK:" \
        "$(grep -h "event=redis_ask .* port=$THIRD\$" "$Q_DIR/c1.log" | head -n 1)"
else
    it_fail "the coordinator logged no redis_ask while the slot's keys were on $THIRD"
fi
tq_redis_cluster_assign_slot "$SLOT" "$THIRD"
wait "$ask_pid" || true
code=$(cat "$IT_TMP/ask.status")
[[ $code == 200 || $code == 204 ]] && echo "ok: the cold tile asked during the migration: $code" ||
    it_fail "the cold tile asked during the migration: $code"
c_wait_on "$THIRD"

q_alive_check c1 w1 w2
for n in "${Q_NAMES[@]}"; do
    [[ -f $Q_DIR/$n.pid ]] && tq_stop_pidfile "$Q_DIR/$n.pid" 20
done
q_sanitizer_check
c_check "at the end"
it_done

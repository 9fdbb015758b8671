#!/usr/bin/env bash
# The fault test (issue 10, "Must show"): cold-tile load through nginx over 2 coordinators and
# 3 workers while parts of the stack die, one fault per phase. A private stack (fault_lib.sh:
# its own PostgreSQL with the demo data, Redis with AOF, nginx, leases of 3 s, the demo
# tileset up to z16); FL_CLIENTS (8) clients each ask nginx for one cold tile after another
# (z12–z16 around the demo cities, every tile in a metatile nobody asked for before, so each
# request is a miss; at most FL_MAX_PER_CLIENT each per phase). A phase starts when nothing
# runs and nginx uses every coordinator again; its fault comes once the load flows; it goes on
# until the fault's effect is over (polled: the job reaped, /health back, the new master
# seen...) and then FL_AFTER more answers came. The phases:
#   1. SIGKILL a worker holding a job; a replacement is started (3 run again);
#   2. SIGKILL Redis, start it again on the same port and data dir (AOF) 2 s later (the
#      outage of issue 10's report; at least until both coordinators logged redis_down);
#   3. fail over a Sentinel-managed Redis master to its replica: before this phase the stack
#      moves to a group of master, replica and 3 sentinels (tq_redis_sentinel_group_start of
#      deploy/stack.sh; programs configured with TQ_REDIS_SENTINELS/_MASTER) and stays there;
#      the master is killed (SIGKILL) and the sentinels promote the replica;
#   4. restart PostgreSQL (fast shutdown: renders in flight are cut off);
#   5. SIGTERM a coordinator; a replacement is started on its port;
#   6. SIGSTOP a worker holding a job until its lease ran out, another worker claimed the job
#      and finished it, then SIGCONT it.
# Per phase one row: requests, answers other than 200/204, tiles (200/204) whose bytes differ
# from the rendering contract's SQL (it_contract_sql), and stale writes (fault_lib.sh,
# fl_stale_writes: a cache write of a job under an older fencing token after one under a
# newer). Every count must be 0, and every phase must have run; the table is printed either
# way. Then `tileq status --check` must pass.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nginx_lib.sh"
source "$(dirname "$0")/fault_lib.sh"

LEASE=3
FL_AFTER=${FL_AFTER:-40}
SENTINEL_MASTER=tileq-fault
REDIS_DOWN_S=2

fl_up 2 3 "$LEASE"

PHASES=()
STARTS=()
SKIPPED=()

# run_phase NAME FAULT_FUNCTION: load, the fault once 16 answers came, then FL_AFTER answers
# after the function returned (it returns when the fault's effect is over).
run_phase() {
    local name=$1 fn=$2 p=$((${#PHASES[@]} + 1)) base t0=$SECONDS
    PHASES[p]=$name
    echo "== phase $p: $name"
    # What the previous phase did to the stack (an upstream nginx marked down...) is over.
    fl_settle || echo "   note: nginx did not pass /health to every coordinator within 30 s"
    STARTS[p]=$(fl_now)
    fl_load_start "$p"
    fl_wait_answers "$p" 16 60 || it_fail "phase $p: fewer than 16 answers in 60 s before the fault"
    "$fn" "$p" || true
    base=$(fl_answers "$p")
    fl_wait_answers "$p" $((base + FL_AFTER)) 120 ||
        it_fail "phase $p: fewer than $FL_AFTER answers within 120 s after the fault"
    (($(fl_answers "$p") >= base + FL_AFTER)) ||
        echo "   note: the clients reached their request bound," \
            "$((base + FL_AFTER - $(fl_answers "$p"))) answers short of $FL_AFTER after the fault"
    fl_load_stop "$p"
    echo "   $(fl_answers "$p") answers in $((SECONDS - t0)) s; status|X-Tileq:" "$(cat "$FL_DIR/load/$p"/answers.* |
        awk -F'|' '{ print $4 "|" $5 }' | sort | uniq -c | tr -s ' \n' ' ')"
}

# skip_phase NAME REASON: a phase that could not run (it fails the test).
skip_phase() {
    local p=$((${#PHASES[@]} + 1))
    PHASES[p]=$1
    STARTS[p]=$(fl_now)
    SKIPPED[p]=$2
    echo "== phase $p: $1: NOT RUN: $2"
}

fault_worker_kill() {
    local w
    fl_freeze_busy_worker || {
        it_fail "phase $1: no worker was seen holding a job within 30 s"
        return 1
    }
    w=${NG_WORKER_IDS[FL_VICTIM]}
    echo "   SIGKILL worker $FL_VICTIM ($w) holding $FL_VICTIM_JOB"
    kill -KILL "$(fl_wpid "$FL_VICTIM")"
    # (reaped here, so that bash does not report the killed job)
    wait "$(fl_wpid "$FL_VICTIM")" 2>/dev/null || true
    fl_start_worker $((NG_NWORK + 1))
    echo "   worker $NG_NWORK started in its place"
    fl_wait_job_moved "$FL_VICTIM_JOB" "$w" 30 ||
        it_fail "phase $1: $FL_VICTIM_JOB still held by the killed worker after 30 s"
    echo "   its job was reaped (left the killed worker)"
}

# coords_saw_redis_down SECS N1 N2...: waits until every coordinator i logged more than Ni
# redis_down lines (it saw Redis go away).
coords_saw_redis_down() {
    local secs=$1 k i ok
    shift
    local -a before=("$@")
    for ((k = 0; k < secs * 10; k++)); do
        ok=1
        for ((i = 1; i <= NG_NCOORD; i++)); do
            (($(grep -c 'event=redis_down' "$NG_DIR/coordinator$i.log" || true) > before[i - 1])) ||
                ok=0
        done
        ((ok)) && return 0
        sleep 0.1
    done
    return 1
}

fault_redis_kill() {
    local pid k i t0 before=()
    pid=$(cat "$NG_DIR/redis.pid")
    for ((i = 1; i <= NG_NCOORD; i++)); do
        before+=("$(grep -c 'event=redis_down' "$NG_DIR/coordinator$i.log" || true)")
    done
    echo "   SIGKILL Redis (pid $pid) for ${REDIS_DOWN_S} s"
    t0=$(date +%s%3N)
    kill -KILL "$pid"
    for ((k = 0; k < 100; k++)); do
        tq_alive "$pid" || break
        sleep 0.05
    done
    # The outage lasts REDIS_DOWN_S (the fault's length, as in issue 10's report), and at
    # least until both coordinators saw it (bounded: one with nothing to send may not notice).
    coords_saw_redis_down 10 "${before[@]}" && echo "   both coordinators logged redis_down" ||
        echo "   not both coordinators logged redis_down within 10 s"
    k=$((REDIS_DOWN_S * 1000 - ($(date +%s%3N) - t0)))
    ((k <= 0)) || sleep "$(printf '%d.%03d' $((k / 1000)) $((k % 1000)))"
    tq_redis_start "$NG_DIR" "$NG_REDIS_PORT" --aof
    echo "   Redis started again on port $NG_REDIS_PORT (AOF: $(ng_redis DBSIZE) keys)"
    fl_health_all 200 30 || it_fail "phase $1: the coordinators' /health not 200 within 30 s"
}

# Moves the stack to a Sentinel-managed group (not under load): coordinators and workers
# stopped (SIGTERM), the plain Redis stopped, the group started, the programs started again
# with TQ_REDIS_SENTINELS/TQ_REDIS_SENTINEL_MASTER (which the CLI sees too).
use_sentinel() {
    local i s list=""
    ng_wait_queue_drained
    for ((i = 1; i <= NG_NCOORD; i++)); do tq_stop_pidfile "$NG_DIR/coordinator$i.pid" 30; done
    for ((i = 1; i <= NG_NWORK; i++)); do tq_stop_pidfile "$NG_DIR/worker$i.pid" 30; done
    tq_redis_stop "$NG_DIR"
    FL_SENTINEL_DIR=$FL_DIR/sentinel
    mkdir -p "$FL_SENTINEL_DIR"
    tq_redis_sentinel_group_start "$FL_SENTINEL_DIR" "$SENTINEL_MASTER"
    for s in $TQ_RSG_SENTINEL_PORTS; do list+=${list:+,}127.0.0.1:$s; done
    export TQ_REDIS_SENTINELS=$list TQ_REDIS_SENTINEL_MASTER=$SENTINEL_MASTER
    NG_REDIS_PORT=$TQ_RSG_MASTER_PORT
    echo "   sentinel group: master $TQ_RSG_MASTER_PORT, replica $TQ_RSG_REPLICA_PORT," \
        "sentinels $TQ_RSG_SENTINEL_PORTS"
    # The worker killed in phase 1 stays dead: its slot is not restarted.
    for ((i = 1; i <= NG_NWORK; i++)); do
        [[ $i == "${KILLED_WORKER:-}" ]] || fl_start_worker "$i"
    done
    for ((i = 1; i <= NG_NCOORD; i++)); do fl_start_coordinator "$i"; done
}

fault_sentinel_failover() {
    local pid s port="" k
    s=${TQ_RSG_SENTINEL_PORTS%% *}
    pid=$(redis-cli -p "$TQ_RSG_MASTER_PORT" INFO server | tr -d '\r' |
        sed -n 's/^process_id:\([0-9]*\)$/\1/p')
    # The stack really uses the group: its keys are there.
    [[ -n $(redis-cli -p "$TQ_RSG_MASTER_PORT" --scan --pattern '{tq}:*' | head -n 1) ]] ||
        it_fail "phase $1: no {tq}: key on the sentinel-managed master (the stack is not on it)"
    echo "   SIGKILL the Redis master (port $TQ_RSG_MASTER_PORT, pid $pid)"
    kill -KILL "$pid"
    for ((k = 0; k < 300; k++)); do
        port=$(redis-cli -p "$s" SENTINEL get-master-addr-by-name "$SENTINEL_MASTER" 2>/dev/null |
            sed -n 2p)
        [[ $port == "$TQ_RSG_REPLICA_PORT" ]] && break
        sleep 0.1
    done
    if [[ $port != "$TQ_RSG_REPLICA_PORT" ]]; then
        it_fail "phase $1: the sentinels did not promote the replica within 30 s (master: $port)"
        return 1
    fi
    NG_REDIS_PORT=$port
    echo "   the sentinels promoted the replica (port $port)"
    fl_health_all 200 30 || it_fail "phase $1: the coordinators' /health not 200 within 30 s"
}

fault_pg_restart() {
    echo "   restarting PostgreSQL (fast shutdown)"
    tq_pg_stop "$FL_DIR/pg"
    tq_pg_start "$FL_DIR/pg" "$FL_PG_PORT"
    echo "   PostgreSQL accepts connections again"
}

fault_coordinator_term() {
    echo "   SIGTERM coordinator 2 (waiting for it to exit)"
    tq_stop_pidfile "$NG_DIR/coordinator2.pid" 30
    fl_start_coordinator 2
    echo "   coordinator 2 started again on port ${NG_COORD_PORTS[2]}"
}

fault_worker_stop() {
    local w pid size k
    fl_freeze_busy_worker || {
        it_fail "phase $1: no worker was seen holding a job within 30 s"
        return 1
    }
    w=${NG_WORKER_IDS[FL_VICTIM]}
    pid=$(fl_wpid "$FL_VICTIM")
    echo "   SIGSTOP worker $FL_VICTIM ($w) holding $FL_VICTIM_JOB"
    fl_wait_job_moved "$FL_VICTIM_JOB" "$w" 30 ||
        it_fail "phase $1: $FL_VICTIM_JOB still leased to the stopped worker after 30 s"
    fl_wait_job_gone "$FL_VICTIM_JOB" 30 && echo "   its lease ran out; another worker rendered it" ||
        echo "   its lease ran out; not finished by another worker within 30 s"
    size=$(stat -c %s "$NG_DIR/worker$FL_VICTIM.log")
    kill -CONT "$pid"
    echo "   SIGCONT worker $FL_VICTIM"
    for ((k = 0; k < 300; k++)); do
        (($(stat -c %s "$NG_DIR/worker$FL_VICTIM.log") > size)) && break
        sleep 0.1
    done
    grep -h "job=$FL_VICTIM_JOB " "$NG_DIR"/worker*.log | sed 's/^/     /' | cut -c1-200
}

run_phase "SIGKILL a worker" fault_worker_kill
KILLED_WORKER=$FL_VICTIM
run_phase "SIGKILL Redis, start it again" fault_redis_kill
if declare -F tq_redis_sentinel_group_start >/dev/null; then
    echo "== moving the stack to a Sentinel-managed Redis"
    use_sentinel
    run_phase "Sentinel failover" fault_sentinel_failover
else
    skip_phase "Sentinel failover" "deploy/stack.sh has no tq_redis_sentinel_group_start"
fi
run_phase "restart PostgreSQL" fault_pg_restart
run_phase "SIGTERM a coordinator" fault_coordinator_term
run_phase "SIGSTOP a worker past its lease" fault_worker_stop
END=$(fl_now)
ng_wait_queue_drained
echo "== phases done after $SECONDS s; checking the tiles and the workers' logs"

# The table (also kept in load/table).
TABLE=$FL_DIR/load/table
row() {
    # shellcheck disable=SC2059
    printf "$@" | tee -a "$TABLE"
}
read -r -a stale <<<"$(fl_stale_writes "${STARTS[@]}")"
echo
row 'fault test: %d coordinators, 3 workers, %d clients through nginx, lease %d s; %s .. %s\n' \
    "$NG_NCOORD" "$FL_CLIENTS" "$LEASE" "${STARTS[1]}" "$END"
row '%-34s %9s %12s %14s %13s\n' phase requests "not 200/204" "differ (SQL)" "stale writes"
for ((p = 1; p <= ${#PHASES[@]}; p++)); do
    if [[ -n ${SKIPPED[p]:-} ]]; then
        row '%-34s %9s %12s %14s %13s   not run: %s\n' "$p. ${PHASES[p]}" - - - - "${SKIPPED[p]}"
        it_fail "phase $p (${PHASES[p]}) did not run: ${SKIPPED[p]}"
        continue
    fi
    req=$(fl_answers "$p")
    bad=$(cat "$FL_DIR/load/$p"/answers.* | awk -F'|' '$4 != 200 && $4 != 204' | wc -l)
    diff=$(fl_contract_diff "$p")
    row '%-34s %9d %12d %14d %13d\n' "$p. ${PHASES[p]}" "$req" "$bad" "$diff" "${stale[p - 1]}"
    ((bad == 0)) || {
        it_fail "phase $p: $bad answers other than 200/204, e.g. (client|n|tile|status|X-Tileq|s):"
        cat "$FL_DIR/load/$p"/answers.* | awk -F'|' '$4 != 200 && $4 != 204 && n++ < 5' >&2
    }
    ((diff == 0)) || it_fail "phase $p: $diff tiles differ from the contract SQL"
    ((stale[p - 1] == 0)) || it_fail "phase $p: ${stale[p - 1]} stale writes reached the cache"
done

# The queue's invariants (tq_wire.h, checked by tq_queue_check) after every fault.
if "$TQ_BUILD_DIR/cli/tileq" -c "$NG_CONF" status --check; then
    echo "ok: tileq status --check"
else
    it_fail "tileq status --check failed after the faults"
fi
it_done

#!/usr/bin/env bash
# Fencing on real workers (queue/qlib.sh: own Redis, lease 2 s, tileset "slow" sleeps 2 s per
# render). Worker w1 claims a slow job and is SIGSTOPped mid-render, past its lease; w2's
# reaper returns the job, w2 claims it with the next token, renders, writes and acks it.
# Then w1 is SIGCONTed: its render result arrives, but before renaming any tile it checks
# its lease under its old token, is refused, logs lease_lost and writes nothing, acks
# nothing. Checked from the logs (job_claimed / tiles_written carry the tokens) and the
# cache: no tiles_written line of w1's token, the cached tiles are w2's (contract bytes).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

q_init fencing
q_start_stack 1 0
job=slow/10/512/352
"$TQ_BUILD_DIR/cli/tileq" -c "$Q_DIR/tileq.conf" warm --tileset slow --tiles - --zoom 10-10 \
    <<<"10/515/355" >/dev/null || it_fail "warm failed"
it_check "w1 claimed the job" 1 "$(q_wait_log "event=job_claimed job=$job " 1)"
kill -STOP "$(q_pid w1)"
t1=$(grep "event=job_claimed job=$job " "$Q_DIR/w1.log" | sed -E 's/.* token=([0-9]+).*/\1/')
echo "   w1 holds $job with token $t1, stopped"

q_start_worker w2
q_wait_worker w2
it_check "w2 claimed it after w1's lease ran out" 1 \
    "$(q_wait_log "event=job_claimed job=$job attempt=2 " 1)"
t2=$(grep "event=job_claimed job=$job " "$Q_DIR/w2.log" | sed -E 's/.* token=([0-9]+).*/\1/')
echo "   w2 holds it with token $t2"
((t2 > t1)) || it_fail "w2's token $t2 is not newer than w1's $t1"
it_check "w2 rendered, wrote and acked it" 1 "$(q_wait_log "event=job_done job=$job .*ack=ok" 1)"
it_check "w2 wrote its 64 tiles under its token" 1 \
    "$(grep -c "event=tiles_written job=$job token=$t2 tiles=64" "$Q_DIR/w2.log" || true)"
mtimes_before=$(find "$Q_DIR/cache/slow" -type f -printf '%p %T@\n' | sort | md5sum)

kill -CONT "$(q_pid w1)"
it_check "w1 found its lease lost" 1 "$(q_wait_log "event=lease_lost job=$job token=$t1 " 1)"
grep "event=lease_lost job=$job " "$Q_DIR/w1.log"
it_check "w1 wrote no tile of its stale render" 0 \
    "$(grep -c "event=tiles_written job=$job token=$t1 " "$Q_DIR/w1.log" || true)"
it_check "w1 did not ack" 0 "$(grep -c "event=job_done job=$job " "$Q_DIR/w1.log" || true)"
it_check "the cached tiles are untouched since w2 wrote them" "$mtimes_before" \
    "$(find "$Q_DIR/cache/slow" -type f -printf '%p %T@\n' | sort | md5sum)"
expected=$(it_psql -c "$(q_contract_slow 10 515 355)")
tile=$Q_DIR/cache/slow/10/515/355
if [[ -f $tile.mvt.gz ]]; then got=$(gzip -dc <"$tile.mvt.gz" | od -An -v -tx1 | tr -d ' \n'); elif [[ -f $tile.empty ]]; then got=""; else got=missing; fi
it_check "a cached tile equals the contract SQL's" "$expected" "$got"
it_check "the job left the queue" "" "$(q_redis HGET "{tq}:job:$job" state)"
q_alive_check w1 w2
q_finish
it_done

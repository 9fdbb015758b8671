#!/usr/bin/env bash
# Abandoned interactive jobs (queue/qlib.sh: own Redis, one coordinator, no worker at first,
# so jobs stay queued): a client asks for a tile and goes away (curl --max-time) before it is
# answered; the coordinator sees its last waiter leave and releases the job, which moves
# from the interactive class to bulk (still queued, demoted). A job that still has a waiting
# client stays interactive. A worker started afterwards renders both: the demoted one as
# bulk, the other as interactive (first-tile split), and the waiting client gets its tile.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

q_init abandoned
q_start_stack 0 1
gone=demo/10/512/352 kept=demo/10/520/352

# The client that stays waits in the background; the one that leaves gives up after 1 s.
curl -sS --max-time 60 -o "$IT_TMP/kept.body" -w '%{http_code}' "$Q_URL_c1/demo/10/523/355.mvt" \
    >"$IT_TMP/kept.status" 2>/dev/null &
kept_pid=$!
curl -sS --max-time 1 -o /dev/null "$Q_URL_c1/demo/10/515/355.mvt" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do
    [[ $(q_redis HGET "{tq}:job:$gone" cls) == 2 && $(q_redis HGET "{tq}:job:$kept" cls) == 0 ]] &&
        break
    sleep 0.1
done
it_check "the abandoned job: still queued, now in bulk" "queued 2" \
    "$(q_redis HGET "{tq}:job:$gone" state) $(q_redis HGET "{tq}:job:$gone" cls)"
it_check "the abandoned job: no holder left" 0 "$(q_redis HGET "{tq}:job:$gone" holders)"
it_check "queues: interactive holds the kept job only, bulk the abandoned one" \
    "$kept $gone" "$(q_redis LRANGE "{tq}:q:interactive" 0 -1) $(q_redis LRANGE "{tq}:q:bulk" 0 -1)"
it_check "the kept job: interactive, one holder" "0 1" \
    "$(q_redis HGET "{tq}:job:$kept" cls) $(q_redis HGET "{tq}:job:$kept" holders)"

q_start_worker w1
q_wait_worker w1
wait "$kept_pid" || true
it_check "the waiting client got its tile" 200 "$(cat "$IT_TMP/kept.status")"
it_check "the kept job rendered as interactive" 1 \
    "$(q_wait_log "event=job_claimed job=$kept attempt=1 class=interactive " 1)"
it_check "the abandoned job rendered as bulk" 1 \
    "$(q_wait_log "event=job_claimed job=$gone attempt=1 class=bulk " 1)"
it_check "the abandoned job finished" 1 "$(q_wait_log "event=job_done job=$gone .*ack=ok" 1)"
[[ -f $Q_DIR/cache/demo/10/515/355.mvt.gz || -f $Q_DIR/cache/demo/10/515/355.empty ]] ||
    it_fail "the abandoned job's tile is not in the cache"
q_alive_check c1 w1
q_finish
it_done

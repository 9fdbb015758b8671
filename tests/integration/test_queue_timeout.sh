#!/usr/bin/env bash
# Bounded renders, on a private stack (queue/qlib.sh: own Redis, max_attempts 3, lease 2 s,
# 2 workers, 1 coordinator): tileset "stuck" sleeps $Q_STUCK_SLEEP (30) s in its layer SQL and
# has statement_timeout_ms = $Q_STUCK_TIMEOUT_MS (400).
#  1. A request for one of its tiles gets 500 "render failed (ref R)" (the coordinator logs R
#     with PostgreSQL's statement-timeout message and the timeout; issue 16),
#     after exactly max_attempts renders, each cancelled by PostgreSQL (job_failed lines with
#     the reason), long before the 30 s sleep would end; the job is dead-lettered with the
#     reason, and `tileq deadletter list` shows it; no render of it is left running in
#     PostgreSQL.
#  2. The workers stay up, and a demo tile rendered after it (its own 30 s default timeout set
#     again on the same sessions) is served and equals the contract SQL's; the render log
#     (flushed on the same connection, under its own timeout) gets its rows.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

q_init timeout
q_start_stack 2 1

job=stuck/10/512/352
t0=$(date +%s%N)
status=$(curl -sS --max-time 60 -o "$IT_TMP/stuck.body" -w '%{http_code}' \
    "$Q_URL_c1/stuck/10/515/355.mvt" 2>/dev/null || true)
ms=$((($(date +%s%N) - t0) / 1000000))
echo "   stuck tile: HTTP $status after $ms ms: $(head -c 300 "$IT_TMP/stuck.body")"
it_check "stuck: HTTP 500" 500 "$status"
# The client gets a reference id; the reason (PostgreSQL's message, the timeout) is the
# operator's: the coordinator's log, last_error and `tileq deadletter list` (below).
ref=$(sed -n 's/^render failed (ref \([0-9a-f]\{8\}\))$/\1/p' "$IT_TMP/stuck.body")
[[ -n $ref ]] || it_fail "stuck: the body is not 'render failed (ref R)'"
grep -q 'statement timeout' "$IT_TMP/stuck.body" && it_fail "stuck: the body carries the reason"
grep -qE "event=job_dead id=$job ref=$ref error=.*canceling statement due to statement timeout.*statement_timeout_ms $Q_STUCK_TIMEOUT_MS" \
    "$Q_DIR"/c1.log ||
    it_fail "stuck: the coordinator's job_dead line lacks ref $ref, PostgreSQL's message or the timeout"
((ms < Q_STUCK_SLEEP * 1000)) || it_fail "stuck: answered after $ms ms, not bounded by the timeout"
it_check "stuck: 3 failed renders, each with the timeout reason" 3 \
    "$(q_wait_log "event=job_failed job=$job .*statement timeout" 3)"
it_check "stuck: attempts 1 and 2 retried" 2 \
    "$(cat "$Q_DIR"/w*.log | grep -cE "event=job_failed job=$job attempt=[12] ack=retry " || true)"
it_check "stuck: attempt 3 dead-lettered it" 1 \
    "$(cat "$Q_DIR"/w*.log | grep -c "event=job_failed job=$job attempt=3 ack=dead " || true)"
it_check "stuck: claimed 3 times" 3 "$(cat "$Q_DIR"/w*.log | grep -c "event=job_claimed job=$job " || true)"
it_check "stuck: job state, attempts" "dead 3" \
    "$(q_redis HGET "{tq}:job:$job" state) $(q_redis HGET "{tq}:job:$job" attempts)"
[[ $(q_redis HGET "{tq}:job:$job" last_error) == *"canceling statement due to statement timeout"* ]] ||
    it_fail "stuck: last_error: $(q_redis HGET "{tq}:job:$job" last_error)"
"$TQ_BUILD_DIR/cli/tileq" -c "$Q_DIR/tileq.conf" deadletter list | tee "$IT_TMP/dl.txt"
grep -E "^$job +$ref " "$IT_TMP/dl.txt" | grep -q 'statement timeout' ||
    it_fail "deadletter list: $job is not listed with the statement-timeout reason"
it_check "stuck: nothing of it in the cache" 0 "$(find "$Q_DIR/cache" -path '*/stuck/*' -type f | wc -l)"
# PostgreSQL cancelled every render: none of them still sleeps (polled: a cancel is async).
for ((i = 0; i < 100; i++)); do
    left=$(it_psql -c "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'
        AND query LIKE '%pg_sleep($Q_STUCK_SLEEP)%' AND pid <> pg_backend_pid()")
    ((left == 0)) && break
    sleep 0.1
done
it_check "stuck: no render left running in PostgreSQL" 0 "$left"

# ---- the workers go on with their default timeout -----------------------------------------
q_alive_check w1 w2 c1
status=$(curl -sS --max-time 60 -o "$IT_TMP/demo.body" -w '%{http_code}' \
    "$Q_URL_c1/demo/14/14549/6451.mvt" 2>/dev/null || true)
it_check "demo (after): HTTP 200" 200 "$status"
expected=$(it_psql -c "$(it_contract_sql 14 14549 6451)")
it_check "demo (after): the tile equals the contract SQL's" "$expected" "$(it_hex "$IT_TMP/demo.body")"
# The render-log flush shares the render connection but runs under its own timeout, not the
# stuck tileset's 400 ms: the demo job's 64 entries reach tileq.render_log.
it_check "render log: the demo job's 64 rows flushed" 64 \
    "$(q_wait_renderlog "job_id = 'demo/14/14544/6448'" 64)"
q_finish
it_done

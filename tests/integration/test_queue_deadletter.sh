#!/usr/bin/env bash
# Dead-lettering, on a private stack (queue/qlib.sh: own Redis, max_attempts 3, 2 coordinators,
# 2 workers): tileset "broken" has a layer whose SQL fails at execution (division by zero).
#  1. 20 concurrent requests for a broken tile (over both coordinators) all get 500 with
#     "render failed (ref R)" in the body, never the SQL error (issue 16: a client does not
#     see table or query text), after exactly max_attempts failed renders; the job sits in
#     {tq}:dead with its last error, and the reason is found from R: the coordinators' log
#     (job_dead ... ref=R error=...), `tileq deadletter list` and `tileq status` show R next
#     to the job and the SQL error. Demo tiles requested meanwhile are served (200).
#  2. The dead-letter cool-down (queue.dead_cooldown_seconds, default 300): 12 more requests
#     for the dead metatile (both coordinators, tiles all over it) get 500 with the reason at
#     once and nothing is rendered (no claim in any worker log, attempts stay 3, nothing
#     queued); tileq_dead_answers_total counts them. `tileq deadletter retry` re-queues it
#     at once (3 more failed renders); an expire of its tiles ends the cool-down too (the next
#     request renders: 3 more).
#  3. A malformed queue entry (payload not msgpack) is dead-lettered, not fatal; a request for
#     its metatile gets 500 (cool-down) until it is purged, then renders.
# Workers and coordinators stay up throughout and keep serving other tilesets.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

q_init deadletter
q_start_stack 2 2

job=broken/10/512/352
urls=()
for ((i = 0; i < 20; i++)); do
    if ((i % 2)); then c=$Q_URL_c2; else c=$Q_URL_c1; fi
    urls+=("$c/broken/10/$((512 + i % 8))/$((352 + i / 8)).mvt")
done
# Demo tiles asked for at the same time (each in a metatile of its own).
demo_urls=("$Q_URL_c1/demo/10/518/352.mvt" "$Q_URL_c2/demo/12/3637/1612.mvt"
    "$Q_URL_c1/demo/6/32/22.mvt" "$Q_URL_c2/demo/14/8298/5636.mvt")
q_parallel_get "$IT_TMP/demo1" "${demo_urls[@]}" >"$IT_TMP/demo1.txt" &
demo_pid=$!
q_parallel_get "$IT_TMP/broken" "${urls[@]}" >"$IT_TMP/broken.txt"
wait "$demo_pid" || true

it_check "broken: 20 answers" 20 "$(wc -l <"$IT_TMP/broken.txt")"
it_check "broken: all HTTP 500" 20 "$(awk -F'|' '$2 == 500' "$IT_TMP/broken.txt" | wc -l)"
it_check "broken: no X-Tileq on errors" 0 "$(awk -F'|' '$3 != ""' "$IT_TMP/broken.txt" | wc -l)"
echo "   body: $(head -c 200 "$IT_TMP/broken/0.body")"
ref=$(sed -n 's/^render failed (ref \([0-9a-f]\{8\}\))$/\1/p' "$IT_TMP/broken/0.body")
[[ -n $ref ]] || it_fail "broken: body is not 'render failed (ref R)': $(head -c 200 "$IT_TMP/broken/0.body")"
it_check "broken: every body is 'render failed (ref $ref)'" 20 \
    "$(grep -lx "render failed (ref $ref)" "$IT_TMP"/broken/*.body | wc -l)"
it_check "broken: no body carries the SQL error" 0 \
    "$(grep -l 'division by zero' "$IT_TMP"/broken/*.body | wc -l)"
grep -qE "event=job_dead id=$job ref=$ref error=.*division by zero" "$Q_DIR"/c1.log "$Q_DIR"/c2.log ||
    it_fail "broken: no 'job_dead id=$job ref=$ref error=...division by zero' in the coordinators' logs"
"$TQ_BUILD_DIR/cli/tileq" -c "$Q_DIR/tileq.conf" deadletter list >"$IT_TMP/dl.txt"
grep -E "^$job +$ref .*division by zero" "$IT_TMP/dl.txt" >/dev/null ||
    it_fail "broken: deadletter list does not show $job with ref $ref and the reason: $(cat "$IT_TMP/dl.txt")"
"$TQ_BUILD_DIR/cli/tileq" -c "$Q_DIR/tileq.conf" status >"$IT_TMP/status.txt"
grep -E "^  $job +$ref .*division by zero" "$IT_TMP/status.txt" >/dev/null ||
    it_fail "broken: tileq status does not show $job with ref $ref and the reason: $(cat "$IT_TMP/status.txt")"
it_check "broken: failed renders logged by the workers" 3 \
    "$(cat "$Q_DIR"/w*.log | grep -c "event=job_failed job=$job " || true)"
it_check "broken: the third failure dead-lettered it" 1 \
    "$(cat "$Q_DIR"/w*.log | grep -c "event=job_failed job=$job attempt=3 ack=dead" || true)"
it_check "broken: job state, attempts" "dead 3" \
    "$(q_redis HGET "{tq}:job:$job" state) $(q_redis HGET "{tq}:job:$job" attempts)"
[[ $(q_redis HGET "{tq}:job:$job" last_error) == *"division by zero"* ]] ||
    it_fail "broken: last_error lacks the SQL error: $(q_redis HGET "{tq}:job:$job" last_error)"
it_check "broken: in {tq}:dead" 1 "$(q_redis ZSCORE "{tq}:dead" "$job" | grep -c . || true)"
it_check "broken: nothing of it in the cache" 0 "$(find "$Q_DIR/cache" -path '*/broken/*' -type f | wc -l)"

it_check "demo (meanwhile): 4 answers, all 200" "4 4" \
    "$(wc -l <"$IT_TMP/demo1.txt") $(awk -F'|' '$2 == 200' "$IT_TMP/demo1.txt" | wc -l)"

# ---- 2. the cool-down: dead stays dead, nothing is rendered --------------------------------
claims() { cat "$Q_DIR"/w*.log | grep -c "event=job_claimed job=$job " || true; }
dead_answers() { # summed over both coordinators
    local u n=0 v
    for u in "$Q_URL_c1" "$Q_URL_c2"; do
        v=$(curl -sS --max-time 10 "$u/metrics" | awk '$1 == "tileq_dead_answers_total" {print $2}')
        n=$((n + ${v:-0}))
    done
    echo "$n"
}
it_check "claims of the broken job so far" 3 "$(claims)"
answers_before=$(dead_answers)
urls=()
for ((i = 0; i < 12; i++)); do
    if ((i % 2)); then c=$Q_URL_c2; else c=$Q_URL_c1; fi
    urls+=("$c/broken/10/$((512 + (i * 3) % 8))/$((352 + i % 8)).mvt")
done
q_parallel_get "$IT_TMP/cool" "${urls[@]}" >"$IT_TMP/cool.txt"
it_check "cool-down: 12 answers, all HTTP 500" "12 12" \
    "$(wc -l <"$IT_TMP/cool.txt") $(awk -F'|' '$2 == 500' "$IT_TMP/cool.txt" | wc -l)"
it_check "cool-down: every body is 'render failed (ref $ref)'" 12 \
    "$(grep -lx "render failed (ref $ref)" "$IT_TMP"/cool/*.body | wc -l)"
it_check "cool-down: tileq_dead_answers_total counted them" 12 $(($(dead_answers) - answers_before))
it_check "cool-down: no claim, no render (claims still 3)" 3 "$(claims)"
it_check "cool-down: job still dead, attempts 3, nothing queued" "dead 3 0" \
    "$(q_redis HGET "{tq}:job:$job" state) $(q_redis HGET "{tq}:job:$job" attempts) \
$(($(q_redis LLEN "{tq}:q:interactive") + $(q_redis LLEN "{tq}:q:bulk")))"
grep -qE "event=job_dead_cooling id=$job ref=$ref .*error=.*division by zero" "$Q_DIR"/c1.log \
    "$Q_DIR"/c2.log ||
    it_fail "cool-down: no job_dead_cooling line in the coordinators' logs"

# tileq deadletter retry: at once, 3 more failed renders, and dead again
"$TQ_BUILD_DIR/cli/tileq" -c "$Q_DIR/tileq.conf" deadletter retry "$job" >"$IT_TMP/retry.out" ||
    it_fail "deadletter retry failed: $(cat "$IT_TMP/retry.out")"
it_check "retry: 3 more claims (6 in all)" 6 "$(q_wait_log "event=job_claimed job=$job " 6)"
it_check "retry: 3 more failed renders (6 in all)" 6 \
    "$(q_wait_log "event=job_failed job=$job .*ack=(retry|dead)" 6)"
for ((i = 0; i < 300; i++)); do
    [[ $(q_redis HGET "{tq}:job:$job" state) == dead ]] && break
    sleep 0.1
done
it_check "retry: dead again" dead "$(q_redis HGET "{tq}:job:$job" state)"
status=$(curl -sS --max-time 60 -o "$IT_TMP/again.body" -w '%{http_code}' \
    "$Q_URL_c2/broken/10/515/355.mvt" 2>/dev/null || true)
it_check "after the retry, cooling down again: 500, no claim" "500 6" "$status $(claims)"

# an expire of its tiles ends the cool-down: the next request renders it (3 more attempts)
"$TQ_BUILD_DIR/cli/tileq" -c "$Q_DIR/tileq.conf" expire --tileset broken --tiles - \
    --min-zoom 10 --max-zoom 10 <<<"10/515/355" >"$IT_TMP/expire.out" 2>&1 ||
    it_fail "expire failed: $(cat "$IT_TMP/expire.out")"
it_check "expire: dead state dropped" "" "$(q_redis HGET "{tq}:job:$job" state)"
status=$(curl -sS --max-time 60 -o "$IT_TMP/again.body" -w '%{http_code}' \
    "$Q_URL_c1/broken/10/513/353.mvt" 2>/dev/null || true)
it_check "after the expire: 500 after rendering again" 500 "$status"
it_check "after the expire: body" "render failed (ref $ref)" "$(cat "$IT_TMP/again.body")"
[[ $(q_redis HGET "{tq}:job:$job" last_error) == *"division by zero"* ]] ||
    it_fail "after the expire: last_error lacks the SQL error"
it_check "after the expire: 3 more claims (9 in all)" 9 "$(claims)"

# ---- 3. a malformed queue entry ---------------------------------------------------------
bad=demo/3/0/0
q_redis HSET "{tq}:job:$bad" state queued cls 0 payload 'not msgpack at all' attempts 0 >/dev/null
q_redis RPUSH "{tq}:q:interactive" "$bad" >/dev/null
q_redis RPUSH "{tq}:wake" 1 >/dev/null
for ((i = 0; i < 100; i++)); do
    [[ $(q_redis HGET "{tq}:job:$bad" state) == dead ]] && break
    sleep 0.1
done
it_check "malformed entry: dead-lettered" dead "$(q_redis HGET "{tq}:job:$bad" state)"
[[ $(q_redis HGET "{tq}:job:$bad" last_error) == *"bad payload"* ]] ||
    it_fail "malformed entry: last_error: $(q_redis HGET "{tq}:job:$bad" last_error)"
# dead, so a request for one of its tiles is answered from the cool-down; purged, it renders
status=$(curl -sS --max-time 60 -o "$IT_TMP/bad.body" -w '%{http_code}' \
    "$Q_URL_c2/demo/3/4/2.mvt" 2>/dev/null || true)
it_check "malformed entry: a request in the cool-down gets 500" 500 "$status"
bad_ref=$(sed -n 's/^render failed (ref \([0-9a-f]\{8\}\))$/\1/p' "$IT_TMP/bad.body")
[[ -n $bad_ref ]] || it_fail "malformed entry: body: $(head -c 200 "$IT_TMP/bad.body")"
"$TQ_BUILD_DIR/cli/tileq" -c "$Q_DIR/tileq.conf" deadletter list --json >"$IT_TMP/dl.json"
it_check "malformed entry: deadletter list --json names its ref and reason" "$bad_ref bad payload" \
    "$(python3 -c 'import json,sys
d=[j for j in json.load(open(sys.argv[1])) if j["id"] == sys.argv[2]][0]
print(d["ref"], "bad payload" if "bad payload" in d["last_error"] else d["last_error"])' \
        "$IT_TMP/dl.json" "$bad")"
"$TQ_BUILD_DIR/cli/tileq" -c "$Q_DIR/tileq.conf" deadletter purge "$bad" >/dev/null ||
    it_fail "deadletter purge $bad failed"

# ---- still serving ----------------------------------------------------------------------
q_alive_check w1 w2 c1 c2
demo_urls=("$Q_URL_c1/demo/12/3638/1613.mvt" "$Q_URL_c2/demo/10/900/400.mvt"
    "$Q_URL_c1/demo/14/14549/6451.mvt" "$Q_URL_c2/demo/3/4/2.mvt")
q_parallel_get "$IT_TMP/demo2" "${demo_urls[@]}" >"$IT_TMP/demo2.txt"
it_check "demo (after): 4 answers, all 200 or 204" "4 4" \
    "$(wc -l <"$IT_TMP/demo2.txt") $(awk -F'|' '$2 == 200 || $2 == 204' "$IT_TMP/demo2.txt" | wc -l)"
expected=$(it_psql -c "$(it_contract_sql 14 14549 6451)")
it_check "demo (after): a tile equals the contract SQL's" "$expected" "$(it_hex "$IT_TMP/demo2/2.body")"
# The answer may come from the "partial" event, before the job is acked and logged: poll.
it_check "demo (after): rendered by our workers" 1 \
    "$(q_wait_log 'event=job_done job=demo/14/14544/6448 attempt=1 .*ack=ok' 1)"
q_alive_check w1 w2
q_finish
it_done

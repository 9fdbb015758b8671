#!/usr/bin/env bash
# Leases and crash recovery, on a private stack (queue/qlib.sh: own Redis, lease 2 s, a
# coordinator, 3 workers, a tileset whose render sleeps Q_SLEEP s):
#  1. SIGKILL the worker rendering a requested tile: after its lease expires another worker
#     reaps the job and renders it (attempt 2, reason retry in the render log), and the
#     waiting request still gets the tile (200, the contract's bytes).
#  2. SIGTERM the worker rendering a requested tile: it finishes that job (attempt 1), then
#     exits 0; the request gets the tile.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

q_init crash
q_start_stack 3 1

# q_wait_running JOB: waits up to 15 s for JOB to be running; prints the worker's name
# (w1..w3) holding it.
q_wait_running() {
    local jk="{tq}:job:$1" i st wid
    for ((i = 0; i < 300; i++)); do
        st=$(q_redis HGET "$jk" state)
        if [[ $st == running ]]; then
            wid=$(q_redis HGET "$jk" worker)
            echo "${wid#"$Q_ID"-}"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# ---- 1. SIGKILL mid-render --------------------------------------------------------------
z=14 x=8298 y=5636 job=slow/14/8296/5632
it_fetch_bg() { # like it_fetch, in the background against coordinator c1
    curl -sS --max-time 120 -o "$IT_TMP/$2.body" -D "$IT_TMP/$2.headers" -w '%{http_code}' \
        "$Q_URL_c1$1" >"$IT_TMP/$2.status" 2>"$IT_TMP/$2.curlerr" || true
}
it_fetch_bg "/slow/$z/$x/$y.mvt" killed &
fetch_pid=$!
victim=$(q_wait_running "$job") || {
    it_fail "$job never ran"
    victim=""
}
if [[ -n $victim ]]; then
    echo "   $job is being rendered by $victim; SIGKILL"
    vpid=$(q_pid "$victim")
    kill -KILL "$vpid"
    wait "$vpid" 2>/dev/null || true # our child: reap it quietly
    wait "$fetch_pid" || true
    it_check "SIGKILL: the waiting request gets 200" 200 "$(cat "$IT_TMP/killed.status")"
    expected=$(it_psql -c "$(q_contract_slow $z $x $y)")
    it_check "SIGKILL: body equals the contract SQL's" "$expected" "$(it_hex "$IT_TMP/killed.body")"
    it_check "SIGKILL: X-Tileq" miss "$(it_header killed X-Tileq)"
    # The victim never finished; another worker did, on attempt 2.
    # (The request was answered with the first tile, before the rest was rendered.)
    q_wait_job_gone "$job" || it_fail "SIGKILL: $job did not finish"
    q_wait_log "event=job_done job=$job " 1 >/dev/null # logged just after the ack
    it_check "SIGKILL: the victim logged no job_done" 0 \
        "$(grep -c "event=job_done job=$job " "$Q_DIR/$victim.log" || true)"
    done_line=$(cat "$Q_DIR"/w*.log | grep "event=job_done job=$job " || true)
    it_check "SIGKILL: one job_done in all" 1 "$(grep -c . <<<"$done_line" || true)"
    it_check "SIGKILL: rendered on attempt 2" "attempt=2" "$(grep -o 'attempt=[0-9]*' <<<"$done_line")"
    it_check "SIGKILL: render log rows of attempt 2 by another worker, reason retry" 64 \
        "$(q_wait_renderlog "job_id = '$job' AND attempt = 2 AND reason = 'retry' AND worker <> '$Q_ID-$victim'" 64)"
    it_check "SIGKILL: no render-log rows of attempt 1" 0 "$(q_rl_count "job_id = '$job' AND attempt = 1")"
    it_check "SIGKILL: the job is gone from the queue" "0 0" \
        "$(q_redis EXISTS "{tq}:job:$job") $(q_redis ZCARD "{tq}:running")"
    grep -h 'event=reaped' "$Q_DIR"/*.log >/dev/null ||
        it_fail "SIGKILL: nobody logged event=reaped"
    rm -f "$Q_DIR/$victim.pid"
fi

# ---- 2. SIGTERM mid-render: the job in hand is finished ---------------------------------
job=slow/14/8304/5632
it_fetch_bg "/slow/14/8306/5636.mvt" termed &
fetch_pid=$!
victim=$(q_wait_running "$job") || {
    it_fail "$job never ran"
    victim=""
}
if [[ -n $victim ]]; then
    echo "   $job is being rendered by $victim; SIGTERM"
    vpid=$(q_pid "$victim")
    kill -TERM "$vpid"
    wait "$fetch_pid" || true
    it_check "SIGTERM: the waiting request gets 200" 200 "$(cat "$IT_TMP/termed.status")"
    expected=$(it_psql -c "$(q_contract_slow 14 8306 5636)")
    it_check "SIGTERM: body equals the contract SQL's" "$expected" "$(it_hex "$IT_TMP/termed.body")"
    for ((i = 0; i < 200; i++)); do
        tq_alive "$vpid" || break
        sleep 0.1
    done
    tq_alive "$vpid" && it_fail "SIGTERM: $victim still runs 20 s after SIGTERM"
    it_check "SIGTERM: $victim finished the job (attempt 1) before exiting" 1 \
        "$(grep -c "event=job_done job=$job attempt=1 .*ack=ok" "$Q_DIR/$victim.log" || true)"
    grep -q 'event=worker_stop' "$Q_DIR/$victim.log" || it_fail "SIGTERM: $victim did not log worker_stop"
    it_check "SIGTERM: render log has the job's 64 tiles, attempt 1 by $victim" 64 \
        "$(q_wait_renderlog "job_id = '$job' AND attempt = 1 AND worker = '$Q_ID-$victim'" 64)"
    rm -f "$Q_DIR/$victim.pid"
fi

alive=()
for w in w1 w2 w3; do [[ -f $Q_DIR/$w.pid ]] && alive+=("$w"); done
q_alive_check c1 "${alive[@]}"
q_finish
it_done

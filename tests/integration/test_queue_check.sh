#!/usr/bin/env bash
# tileq status --check: the queue's invariants (tq_wire.h) against a live Redis.
#  - states built by the real scripts (a worker renders demo jobs: done markers; the broken
#    tileset: dead letters after 3 failed attempts; the slow tileset: one running job, the
#    rest queued in bulk; the worker is then killed so nothing moves): every invariant holds,
#    exit status 0, --json says so;
#  - then Redis is corrupted by hand, one way per invariant, each reported with the job id
#    and exit status 1, and undone; at the end everything holds again;
#  - a left-over id in a q list (no job hash) is a warning, exit status 0; --limit reports
#    that it stopped early; bad arguments exit 2.
set -euo pipefail
export Q_SLEEP=20 # the slow tileset's render outlasts the test: its job stays running
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"
source "$(dirname "$0")/warm_lib.sh"

CHECK_OUT=$IT_TMP/check.out

# check: runs tileq status --check ARGS..., output in $CHECK_OUT; prints the exit status.
check() {
    local rc=0
    w_tileq status --check "$@" >"$CHECK_OUT" 2>&1 || rc=$?
    echo "$rc"
}

# expect_violation WHAT INVARIANT PATTERN: --check exits 1, INVARIANT is VIOLATED and its
# report matches PATTERN (grep -E).
expect_violation() {
    local what=$1 inv=$2 pattern=$3 rc
    rc=$(check)
    if [[ $rc == 1 ]] && grep -qE "^$inv .*VIOLATED\$" "$CHECK_OUT" && grep -qE "$pattern" "$CHECK_OUT"; then
        echo "ok: $what: $inv violated ($(grep -E "$pattern" "$CHECK_OUT" | head -n 1 | sed 's/^ *//'))"
    else
        it_fail "$what: expected exit 1 and '$inv' VIOLATED matching '$pattern', got exit $rc:"
        cat "$CHECK_OUT" >&2
    fi
}

expect_held() {
    local what=$1 rc
    rc=$(check)
    if [[ $rc == 0 ]] && grep -q "all invariants held" "$CHECK_OUT" && ! grep -q VIOLATED "$CHECK_OUT"; then
        echo "ok: $what: all invariants held"
    else
        it_fail "$what: expected all invariants held, exit $rc:"
        cat "$CHECK_OUT" >&2
    fi
}

q_init check
expect_held "an empty queue"

q_start_worker w1
q_wait_worker w1
w_tileq warm --tileset demo --bbox 2.3,48.8,2.4,48.9 --zoom 0-3 --wait >/dev/null 2>&1 ||
    it_fail "warm demo --wait failed"
rc=0
w_tileq warm --tileset broken --bbox 2.3,48.8,2.4,48.9 --zoom 3-4 --wait >/dev/null 2>&1 || rc=$?
it_check "warm broken --wait: exit status 1 (dead-lettered)" 1 "$rc"
w_tileq warm --tileset slow --bbox -10,35,30,60 --zoom 4-5 >/dev/null 2>&1 ||
    it_fail "warm slow failed"
for ((i = 0; i < 100; i++)); do
    [[ $(q_redis ZCARD "{tq}:running") == 1 ]] && break
    sleep 0.1
done
kill -KILL "$(q_pid w1)"
rm -f "$Q_DIR/w1.pid"

RUN=$(q_redis ZRANGE "{tq}:running" 0 0)
Q1=$(q_redis LINDEX "{tq}:q:bulk" 0)
D1=$(q_redis ZRANGE "{tq}:dead" 0 0)
[[ -n $RUN && -n $Q1 && -n $D1 ]] || {
    it_fail "states not built: running '$RUN', queued '$Q1', dead '$D1'"
    it_done
}
echo "running $RUN, queued $Q1 (+$(($(q_redis LLEN "{tq}:q:bulk") - 1))), dead $D1 (+$(($(q_redis ZCARD "{tq}:dead") - 1))), done markers $(q_redis --scan --pattern '{tq}:done:*' | wc -l)"
expect_held "queued, running, dead and done jobs built by the scripts"
rc=$(check --json)
it_check "--check --json: exit status" 0 "$rc"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["held"] and len(d["invariants"]) == 7 and all(i["held"] for i in d["invariants"]) and d["jobs"] >= 3 else 1)' \
    "$CHECK_OUT" || it_fail "--json: not all held: $(cat "$CHECK_OUT")"

# ---- one corruption per invariant, each undone --------------------------------------------
JQ1="{tq}:job:$Q1" JRUN="{tq}:job:$RUN" JD1="{tq}:job:$D1"

q_redis LPUSH "{tq}:q:bulk" "$Q1" >/dev/null
expect_violation "a queued id twice in its list" queued "$Q1: queued in class bulk, but in q:bulk \(2x\)"
q_redis LREM "{tq}:q:bulk" 1 "$Q1" >/dev/null

q_redis RPUSH "{tq}:q:dirty" "$Q1" >/dev/null
expect_violation "a queued id also in another class's list" queued "$Q1: .*in q:dirty"
q_redis LREM "{tq}:q:dirty" 1 "$Q1" >/dev/null

q_redis LREM "{tq}:q:bulk" 1 "$Q1" >/dev/null
expect_violation "a queued job in no list" queued "$Q1: queued in class bulk, but in no q list"
q_redis LPUSH "{tq}:q:bulk" "$Q1" >/dev/null

until_ms=$(q_redis HGET "$JRUN" lease_until)
q_redis ZREM "{tq}:running" "$RUN" >/dev/null
expect_violation "a running job not in running" running "$RUN: running, not in running"
q_redis ZADD "{tq}:running" $((until_ms + 5)) "$RUN" >/dev/null
expect_violation "running's score is not lease_until" running "$RUN: in running at $((until_ms + 5)), but lease_until"
q_redis ZADD "{tq}:running" "$until_ms" "$RUN" >/dev/null

token=$(q_redis HGET "$JRUN" token)
q_redis HSET "$JRUN" token $(($(q_redis GET "{tq}:fence") + 1)) >/dev/null
expect_violation "a token past the fence" running "token [0-9]+ is past fence"
q_redis HSET "$JRUN" token "$token" >/dev/null

q_redis HSET "$JRUN" lease_cap $((until_ms - 1)) >/dev/null
expect_violation "lease_until past lease_cap" running "$RUN: lease_until $until_ms past lease_cap"
q_redis HDEL "$JRUN" lease_cap >/dev/null

q_redis RPUSH "{tq}:q:interactive" "$RUN" >/dev/null
expect_violation "a running job also queued" running "$RUN: running, but in q:interactive"
q_redis LREM "{tq}:q:interactive" 1 "$RUN" >/dev/null

q_redis HINCRBY "{tq}:runcount" 2 1 >/dev/null
expect_violation "runcount above the running jobs" runcount "runcount\[2\] \(bulk\) = 2, running jobs: 1"
q_redis HINCRBY "{tq}:runcount" 2 -1 >/dev/null
q_redis HINCRBY "{tq}:runcount" 0 -1 >/dev/null
expect_violation "a negative runcount" runcount "runcount\[0\] = '-1'"
q_redis HINCRBY "{tq}:runcount" 0 1 >/dev/null

dead_ms=$(q_redis HGET "$JD1" dead_ms)
q_redis ZREM "{tq}:dead" "$D1" >/dev/null
expect_violation "a dead job not in dead" dead "$D1: dead, not in dead"
q_redis ZADD "{tq}:dead" "$dead_ms" "$D1" >/dev/null
lerr=$(q_redis HGET "$JD1" last_error)
q_redis HDEL "$JD1" last_error >/dev/null
expect_violation "a dead job without last_error" dead "$D1: dead without last_error"
q_redis HSET "$JD1" last_error "$lerr" >/dev/null

q_redis HSET "$JQ1" state dead >/dev/null
expect_violation "a queued id whose hash says dead" dead "$Q1: dead, but in q:bulk"
q_redis HSET "$JQ1" state queued >/dev/null

q_redis HSET "$JQ1" state waiting >/dev/null
expect_violation "an unknown state" job-fields "$Q1: state 'waiting'"
q_redis HSET "$JQ1" state queued >/dev/null
q_redis HSET "$JQ1" holders -1 >/dev/null
expect_violation "negative holders" job-fields "$Q1: holders '-1'"
q_redis HSET "$JQ1" holders 0 >/dev/null

q_redis ZADD "{tq}:running" 1 demo/9/0/0 >/dev/null
expect_violation "an id in running without a job hash" entries "demo/9/0/0: no job hash, but in running"
q_redis ZREM "{tq}:running" demo/9/0/0 >/dev/null

q_redis SET "{tq}:done:demo/9/8/8" 1 >/dev/null
expect_violation "a done marker without a TTL" done-ttl "demo/9/8/8: done marker without a TTL"
q_redis DEL "{tq}:done:demo/9/8/8" >/dev/null

# a left-over id (no job hash) in a q list: tolerated by claim, a warning
q_redis RPUSH "{tq}:q:bulk" demo/9/1/1 >/dev/null
rc=$(check)
it_check "a left-over id in a q list: exit status 0" 0 "$rc"
grep -q "^warning (entries): demo/9/1/1: left-over id in q:bulk" "$CHECK_OUT" ||
    it_fail "no warning for the left-over id: $(cat "$CHECK_OUT")"
q_redis LREM "{tq}:q:bulk" 1 demo/9/1/1 >/dev/null

expect_held "every corruption undone"
rc=$(check --limit 1)
it_check "--limit 1: exit status 0 (what was read holds)" 0 "$rc"
grep -q "^stopped early" "$CHECK_OUT" || it_fail "--limit 1 does not say it stopped early"

rc=0
w_tileq status --check --limit x >/dev/null 2>&1 || rc=$?
it_check "--limit x: exit status 2" 2 "$rc"
rc=0
w_tileq status --limit 5 >/dev/null 2>&1 || rc=$?
it_check "--limit without --check: exit status 2" 2 "$rc"

q_finish
it_done

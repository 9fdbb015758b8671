#!/usr/bin/env bash
# A render log that never jams: a render-log stream entry PostgreSQL rejects among good ones
# (every field passes tq_renderlog_check, which catches hostile values before SQL —
# test_renderlog_hostile.sh —, so the rejection comes from a CHECK constraint this test adds
# for one byte count: the backstop for what the check cannot know), then a malformed one (z
# not a number). The fixture's workers flush the stream: the good entries reach
# tileq.render_log; each bad one is set aside in {tq}:renderlog:rejected with its reason and
# its fields, is gone from the render-log stream and from the consumer group's pending list,
# and is logged; /metrics (tileq_renderlog_rejected) and `tileq status` count them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RL='{tq}:renderlog'
REJ='{tq}:renderlog:rejected'
W=rltest-$$-$RANDOM # the worker name in our entries: our rows in tileq.render_log
POISON_BYTES=$((400000000 + RANDOM)) # rejected by the constraint below, and only this test's
CONSTRAINT=rltest_poison_$$
TILEQ=$TQ_BUILD_DIR/cli/tileq

it_redis DEL "$REJ" >/dev/null
# The render log's table exists once a worker flushed (the fixture's workers do at start).
for ((i = 0; i < 300; i++)); do
    [[ $(it_psql -c "SELECT to_regclass('tileq.render_log') IS NOT NULL") == t ]] && break
    sleep 0.1
done
it_psql -c "ALTER TABLE tileq.render_log ADD CONSTRAINT $CONSTRAINT
    CHECK (bytes <> $POISON_BYTES) NOT VALID" >/dev/null
trap 'it_psql -c "ALTER TABLE tileq.render_log DROP CONSTRAINT IF EXISTS $CONSTRAINT" >/dev/null; rm -rf "$IT_TMP"' EXIT

# add_entry Y BYTES [Z]: XADDs one entry as a worker writes it; prints its id.
add_entry() {
    it_redis XADD "$RL" '*' tileset demo z "${3:-3}" x 1 y "$1" job demo/3/0/0 attempt 1 \
        reason warm worker "$W" started_ms "$now" duration_ms 1.5 metatile_ms 12.0 bytes "$2"
}

rows() { it_psql -c "SELECT count(*) FROM tileq.render_log WHERE worker = '$W'"; }

# wait_for WHAT EXPECTED COMMAND...: polls COMMAND (30 s at most) until it prints EXPECTED.
wait_for() {
    local what=$1 want=$2 got i
    shift 2
    for ((i = 0; i < 300; i++)); do
        got=$("$@")
        [[ $got == "$want" ]] && break
        sleep 0.1
    done
    it_check "$what" "$want" "$got"
}

metric() {
    curl -sS --max-time 10 "$TQ_TEST_BASE_URL/metrics" |
        awk '$1 == "tileq_renderlog_rejected" { print $2 }'
}

# field ENTRY_INDEX NAME: a field of the rejected stream's entry (0 = oldest).
field() {
    it_redis --raw EVAL "local e = redis.call('XRANGE', KEYS[1], '-', '+')[tonumber(ARGV[1]) + 1]
        if not e then return '' end
        for i = 1, #e[2], 2 do if e[2][i] == ARGV[2] then return e[2][i + 1] end end
        return ''" 1 "$REJ" "$1" "$2"
}

now=$(date +%s%3N)

# ---- a poison entry among good ones -----------------------------------------------------
ids=()
for y in 0 1 2; do ids+=("$(add_entry $y 100)"); done
poison=$(add_entry 3 $POISON_BYTES)
for y in 4 5; do ids+=("$(add_entry $y 100)"); done

wait_for "the 5 good entries reach tileq.render_log" 5 rows
wait_for "the poison entry is in $REJ" 1 it_redis XLEN "$REJ"
it_check "rejected entry: stream_id" "$poison" "$(field 0 stream_id)"
err=$(field 0 error)
[[ $err == *"$CONSTRAINT"* ]] && echo "ok: rejected entry: PostgreSQL's reason ($err)" ||
    it_fail "rejected entry: error '$err' does not name the constraint $CONSTRAINT"
it_check "rejected entry keeps its fields" "$W $POISON_BYTES 3 demo/3/0/0" \
    "$(field 0 worker) $(field 0 bytes) $(field 0 y) $(field 0 job)"
it_check "the poison entry is not in tileq.render_log" 0 \
    "$(it_psql -c "SELECT count(*) FROM tileq.render_log WHERE stream_id = '$poison'")"
it_check "the good entries are, under their stream ids" 5 \
    "$(it_psql -c "SELECT count(*) FROM tileq.render_log WHERE stream_id IN ($(printf "'%s'," "${ids[@]}" | sed 's/,$//'))")"
it_check "the poison entry is gone from $RL" "" "$(it_redis XRANGE "$RL" "$poison" "$poison")"
it_check "and not pending in the group" "" "$(it_redis XPENDING "$RL" pg "$poison" "$poison" 1)"
grep -q "event=renderlog_rejected stream_id=$poison " "$TQ_IT_DIR"/worker*.log &&
    echo "ok: a worker logged the rejected entry" ||
    it_fail "no renderlog_rejected line for $poison in the workers' logs"
it_check "/metrics tileq_renderlog_rejected" 1 "$(metric)"
it_check "tileq status --json: renderlog_rejected" 1 \
    "$("$TILEQ" -c "$TQ_TEST_CONFIG" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["renderlog_rejected"])')"
"$TILEQ" -c "$TQ_TEST_CONFIG" status | grep -q '^render-log entries rejected: 1 ' &&
    echo "ok: tileq status shows it" || it_fail "tileq status does not show the rejected entry"

# ---- a malformed entry among good ones --------------------------------------------------
ids+=("$(add_entry 6 100)")
bad=$(add_entry 5 100 abc)
ids+=("$(add_entry 7 100)")
wait_for "the 2 good entries around a malformed one reach tileq.render_log" 7 rows
wait_for "the malformed entry is in $REJ" 2 it_redis XLEN "$REJ"
it_check "malformed entry: stream_id" "$bad" "$(field 1 stream_id)"
it_check "malformed entry: reason" "malformed entry: bad z/x/y" "$(field 1 error)"
it_check "malformed entry: gone from $RL" "" "$(it_redis XRANGE "$RL" "$bad" "$bad")"
it_check "/metrics tileq_renderlog_rejected" 2 "$(metric)"

it_redis DEL "$REJ" >/dev/null
it_done

#!/usr/bin/env bash
# Hostile render-log entries (issue 16 item 7): entries XADDed straight into {tq}:renderlog
# (redis-cli, as anyone who can write to Redis could) with a forged tileset, worker,
# started_ms, duration or job. The fixture's workers flush the stream: every hostile entry is
# stopped by tq_renderlog_check before SQL and set aside in {tq}:renderlog:rejected with
# "malformed entry: <reason>" (the reason per case below); none reaches tileq.render_log;
# the good entries XADDed between them do; the workers keep flushing and the coordinator
# keeps serving tiles afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RL='{tq}:renderlog'
REJ='{tq}:renderlog:rejected'
W=rlhostile-$$-$RANDOM # the worker name of the good entries (and the base of bad ones)
now=$(date +%s%3N)

it_redis DEL "$REJ" >/dev/null

# entry FIELD VALUE: XADDs one entry like a worker's with FIELD set to VALUE; prints its id.
entry() {
    local -A f=([tileset]=demo [z]=3 [x]=1 [y]=2 [job]=demo/3/0/0 [attempt]=1 [reason]=warm
        [worker]=$W [started_ms]=$now [duration_ms]=1.5 [metatile_ms]=12.0 [bytes]=100)
    f[$1]=$2
    local args=() k
    for k in tileset z x y job attempt reason worker started_ms duration_ms metatile_ms bytes; do
        args+=("$k" "${f[$k]}")
    done
    it_redis XADD "$RL" '*' "${args[@]}"
}

# entry_stdin FIELD: the same with FIELD's value read from stdin, byte for byte (NUL bytes
# included: redis-cli -x sends stdin as the last argument).
entry_stdin() {
    local -A f=([tileset]=demo [z]=3 [x]=1 [y]=2 [job]=demo/3/0/0 [attempt]=1 [reason]=warm
        [worker]=$W [started_ms]=$now [duration_ms]=1.5 [metatile_ms]=12.0 [bytes]=100)
    local args=() k
    for k in tileset z x y job attempt reason worker started_ms duration_ms metatile_ms bytes; do
        [[ $k == "$1" ]] || args+=("$k" "${f[$k]}")
    done
    it_redis -x XADD "$RL" '*' "${args[@]}" "$1"
}

# Cases: "FIELD|VALUE|expected reason" (the reason after "malformed entry: ").
BAD_TILESET='bad tileset: must be 1..63 bytes of [A-Za-z0-9_-]'
BAD_WORKER='bad worker: must be 1..255 bytes of printable ASCII without blanks'
BAD_STARTED='bad started_ms: must be unix ms from 2000-01-01 to a day from now'
BAD_DURATION='bad duration: must be 0..86400000 ms'
BAD_JOB="bad job id: must be <tileset>/<z>/<mx>/<my> of the entry's tile"
long64=$(printf 'a%.0s' {1..64})
long256=$(printf 'w%.0s' {1..256})
cases=(
    "tileset|demo"$'\n'"event=forged|$BAD_TILESET"
    "tileset|demo'); DROP TABLE tileq.render_log; --|$BAD_TILESET"
    "tileset|../etc|$BAD_TILESET"
    "tileset|$long64|$BAD_TILESET"
    "tileset||$BAD_TILESET"
    "worker|$W"$'\n'"2026-01-01 event=forged|$BAD_WORKER"
    "worker|$W x|$BAD_WORKER"
    "worker|$W"$'\x1b'"[31m|$BAD_WORKER"
    "worker|wörker-$W|$BAD_WORKER"
    "worker|$long256|$BAD_WORKER"
    "worker||$BAD_WORKER"
    "started_ms|-1|$BAD_STARTED"
    "started_ms|0|$BAD_STARTED"
    "started_ms|4000000000000000000|$BAD_STARTED"
    "started_ms|99999999999999999999999|$BAD_STARTED"
    "started_ms|$((now + 2 * 86400000))|$BAD_STARTED"
    "started_ms|1e300|$BAD_STARTED"
    "started_ms| $now|$BAD_STARTED"
    "started_ms|+$now|$BAD_STARTED"
    "duration_ms|1e300|$BAD_DURATION"
    "duration_ms|nan|$BAD_DURATION"
    "duration_ms|inf|$BAD_DURATION"
    "metatile_ms|-1|$BAD_DURATION"
    "job|other/3/0/0|$BAD_JOB"
    "job|demo/4/0/0|$BAD_JOB"
    "job|demo/3/0/0/../x|$BAD_JOB"
    "job|demo/3/8/0|$BAD_JOB"
)

good=()
bad_ids=()
bad_why=()
good+=("$(entry y 0)")
for c in "${cases[@]}"; do
    field=${c%%|*}
    rest=${c#*|}
    value=${rest%|*}
    bad_ids+=("$(entry "$field" "$value")")
    bad_why+=("malformed entry: ${rest##*|}")
done
# NUL bytes: the value Redis holds is longer than the C string a check would see.
bad_ids+=("$(printf 'demo\0evil' | entry_stdin tileset)")
bad_why+=("malformed entry: NUL byte in a field")
bad_ids+=("$(printf '%s\0x' "$W" | entry_stdin worker)")
bad_why+=("malformed entry: NUL byte in a field")
good+=("$(entry y 1)")
nbad=${#bad_ids[@]}

# Polls (30 s at most) until every hostile entry is in the rejected stream.
for ((i = 0; i < 300; i++)); do
    [[ $(it_redis XLEN "$REJ") -ge $nbad ]] && break
    sleep 0.1
done
it_check "all $nbad hostile entries are in $REJ" "$nbad" "$(it_redis XLEN "$REJ")"

# reason ID: the error field of the rejected entry with stream_id ID.
reason() {
    it_redis --raw EVAL "for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
            local f = {}
            for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
            if f['stream_id'] == ARGV[1] then return f['error'] end
        end
        return 'NOT REJECTED'" 1 "$REJ" "$1"
}

for ((i = 0; i < nbad; i++)); do
    desc=${cases[i]:-NUL byte case $((i - ${#cases[@]}))}
    desc=${desc%|*}
    it_check "rejected: $(printf '%q' "$desc")" "${bad_why[i]}" "$(reason "${bad_ids[i]}")"
done

idlist=$(printf "'%s'," "${bad_ids[@]}" | sed 's/,$//')
it_check "no hostile entry reached tileq.render_log" 0 \
    "$(it_psql -c "SELECT count(*) FROM tileq.render_log WHERE stream_id IN ($idlist)")"
it_check "the tables are all there" t \
    "$(it_psql -c "SELECT to_regclass('tileq.render_log') IS NOT NULL")"
for ((i = 0; i < 300; i++)); do
    [[ $(it_psql -c "SELECT count(*) FROM tileq.render_log WHERE worker = '$W'") == 2 ]] && break
    sleep 0.1
done
it_check "the good entries around them reached tileq.render_log" 2 \
    "$(it_psql -c "SELECT count(*) FROM tileq.render_log WHERE stream_id IN ('${good[0]}', '${good[1]}')")"
left=0
for id in "${bad_ids[@]}"; do
    [[ -z $(it_redis XRANGE "$RL" "$id" "$id") ]] || left=$((left + 1))
done
it_check "no hostile entry is left in $RL" 0 "$left"
if grep -a 'event=forged' "$TQ_IT_DIR"/worker*.log | grep -qv 'event=renderlog_rejected'; then
    it_fail "a forged line starts in a worker's log"
else
    echo "ok: no forged log line in the workers' logs"
fi

# The workers go on flushing, and the coordinator serves.
after=$(entry y 3)
for ((i = 0; i < 300; i++)); do
    [[ $(it_psql -c "SELECT count(*) FROM tileq.render_log WHERE stream_id = '$after'") == 1 ]] && break
    sleep 0.1
done
it_check "a good entry after them still reaches tileq.render_log" 1 \
    "$(it_psql -c "SELECT count(*) FROM tileq.render_log WHERE stream_id = '$after'")"
it_check "the coordinator still serves a tile" 200 "$(it_fetch /demo/0/0/0.mvt z0)"

it_redis DEL "$REJ" >/dev/null
it_done

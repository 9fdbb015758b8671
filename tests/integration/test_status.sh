#!/usr/bin/env bash
# tileq status and tileq deadletter on a private stack, and the warm/expire argument errors.
#  - no worker: warm without --wait queues bulk jobs; status shows them, their oldest age, no
#    live worker; a worker starts: status lists it live with host and pid, and a lease of the
#    slow tileset while it renders; renders per minute counted;
#  - the broken tileset: warm --wait exits 1 (jobs dead-lettered); deadletter list shows the
#    errors; warming them again in the cool-down queues nothing and counts them failed;
#    retry re-queues; purge --all empties the list;
#  - bad arguments: message and exit status 2.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"
source "$(dirname "$0")/warm_lib.sh"

jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

q_init status
w_tileq warm --tileset demo --bbox -10,35,30,60 --zoom 5-7 >"$IT_TMP/w.out" 2>&1 ||
    it_fail "warm without --wait: $(cat "$IT_TMP/w.out")"
cat "$IT_TMP/w.out"
sleep 1.1
st=$(w_status_json)
queued=$(jget 'd["classes"]["bulk"]["queued"]' <<<"$st")
echo "bulk queued: $queued"
((queued > 0)) || it_fail "status: nothing queued in bulk"
age=$(jget 'd["classes"]["bulk"]["oldest_queued_age_s"]' <<<"$st")
python3 -c "import sys; sys.exit(0 if $age >= 1.0 else 1)" || it_fail "oldest queued age $age < 1 s"
it_check "status: no live worker yet" 0 "$(jget 'd["live_workers"]' <<<"$st")"
w_tileq status | tee "$IT_TMP/status.txt"
grep -qE '^bulk +[0-9]+ +0 ' "$IT_TMP/status.txt" || it_fail "text status: no bulk line"

q_start_worker w1
q_wait_worker w1
w_wait_idle 60
w_tileq warm --tileset slow --bbox 2.3,48.8,2.4,48.9 --zoom 5 >/dev/null 2>&1
for ((i = 0; i < 50; i++)); do
    st=$(w_status_json)
    [[ $(jget 'len(d["leases"])' <<<"$st") == 1 ]] && break
    sleep 0.2
done
echo "$st" | head -c 2000
it_check "status: one live worker" 1 "$(jget 'd["live_workers"]' <<<"$st")"
it_check "status: worker host" "$(uname -n)" "$(jget '[w["host"] for w in d["workers"]][0]' <<<"$st")"
it_check "status: worker pid" "$(q_pid w1)" "$(jget '[w["pid"] for w in d["workers"]][0]' <<<"$st")"
it_check "status: the lease is the slow job's" "slow/5/" \
    "$(jget 'd["leases"][0]["id"][:7]' <<<"$st")"
it_check "status: the lease's worker" "$Q_ID-w1" "$(jget 'd["leases"][0]["worker"]' <<<"$st")"
jget 'd["leases"][0]["lease_left_s"] > 0 and d["classes"]["bulk"]["running"] == 1' <<<"$st" |
    grep -q True || it_fail "status: lease not in the future or bulk not running"
((queued <= $(jget 'd["renders_last_minute"]["jobs"]' <<<"$st"))) ||
    it_fail "status: renders per minute below the jobs just rendered"
w_wait_idle 30

# ---- dead letters ---------------------------------------------------------------------------
rc=0
w_tileq warm --tileset broken --bbox 2.3,48.8,2.4,48.9 --zoom 3-4 --wait >"$IT_TMP/b.out" \
    2>"$IT_TMP/b.err" || rc=$?
cat "$IT_TMP/b.out" "$IT_TMP/b.err"
it_check "warm of a failing tileset --wait: exit status 1" 1 "$rc"
grep -q "2 jobs failed" "$IT_TMP/b.err" || it_fail "warm does not report the 2 failed jobs"
w_tileq deadletter list | tee "$IT_TMP/dl.txt"
it_check "deadletter list: 2 jobs" 2 "$(grep -c '^broken/' "$IT_TMP/dl.txt")"
grep -q 'division by zero' "$IT_TMP/dl.txt" || it_fail "deadletter list: no error text"
it_check "status: 2 dead-lettered" 2 "$(w_status_json | jget 'd["dead_lettered"]')"
# within the dead-letter cool-down, warming them again queues nothing and counts them failed
rc=0
w_tileq warm --tileset broken --bbox 2.3,48.8,2.4,48.9 --zoom 3-4 >"$IT_TMP/b2.out" \
    2>"$IT_TMP/b2.err" || rc=$?
cat "$IT_TMP/b2.out" "$IT_TMP/b2.err"
it_check "warm of dead-lettered metatiles: exit status 1" 1 "$rc"
grep -q ", 2 dead-lettered (not rendered)" "$IT_TMP/b2.out" ||
    it_fail "warm does not count the 2 dead-lettered metatiles"
grep -q "2 jobs failed" "$IT_TMP/b2.err" || it_fail "warm does not report them failed"
it_check "warm of dead-lettered metatiles: nothing queued" 0 "$(q_redis LLEN "{tq}:q:bulk")"
id=$(w_tileq deadletter list --json | jget 'd[0]["id"]')
out=$(w_tileq deadletter retry "$id")
it_check "deadletter retry ID" "re-queued 1 job" "$out"
rc=0
w_tileq deadletter retry broken/9/0/0 >/dev/null 2>&1 || rc=$?
it_check "deadletter retry of an id not dead: exit status" 1 "$rc"
for ((i = 0; i < 100; i++)); do # it fails again (3 attempts) and comes back
    [[ $(w_tileq deadletter list --json | jget 'len(d)') == 2 ]] && break
    sleep 0.2
done
it_check "after retry: dead again (attempts start over)" 3 \
    "$(w_tileq deadletter list --json | jget '[j["attempts"] for j in d if j["id"] == "'"$id"'"][0]')"
out=$(w_tileq deadletter purge --all)
it_check "deadletter purge --all" "purged 2 jobs" "$out"
it_check "deadletter list empty" 0 "$(w_tileq deadletter list --json | jget 'len(d)')"
it_check "no job hash left" "" "$(q_redis --scan --pattern '{tq}:job:broken*')"

# ---- bad arguments ----------------------------------------------------------------------------
expect_usage() { # DESCRIPTION MESSAGE-PART ARGS...
    local what=$1 msg=$2 rc=0
    shift 2
    w_tileq "$@" >"$IT_TMP/u.out" 2>"$IT_TMP/u.err" || rc=$?
    it_check "$what: exit status" 2 "$rc"
    grep -qF -- "$msg" "$IT_TMP/u.err" || it_fail "$what: no '$msg' in: $(cat "$IT_TMP/u.err")"
}
expect_usage "inverted bbox" "inverted bbox: west 30 is east of east -10" \
    warm --tileset demo --bbox 30,35,-10,60 --zoom 0-6
expect_usage "inverted bbox (lat)" "inverted bbox: south 60" \
    expire --tileset demo --bbox -10,60,30,35 --zoom 0-6
expect_usage "latitude beyond 85.0511" "north latitude 86 beyond ±85.0511" \
    warm --tileset demo --bbox -10,35,30,86 --zoom 0-6
expect_usage "zoom beyond the tileset's" "zoom 15 outside tileset demo's range 0-14" \
    warm --tileset demo --bbox -10,35,30,60 --zoom 10-15
expect_usage "expire zoom beyond the tileset's" "zoom 20 outside tileset demo's range 0-14" \
    expire --tileset demo --tiles /dev/null --max-zoom 20
expect_usage "unknown tileset" "unknown tileset 'nope'" \
    warm --tileset nope --bbox -10,35,30,60 --zoom 0-6
expect_usage "unreadable tile list" "cannot open tile list $IT_TMP/none.txt" \
    expire --tileset demo --tiles "$IT_TMP/none.txt"
printf '5/16/11\n\n6/32/x\n' >"$IT_TMP/bad.txt"
expect_usage "bad tile list line" "$IT_TMP/bad.txt:3: '6/32/x' is not a tile" \
    warm --tileset demo --tiles "$IT_TMP/bad.txt" --zoom 0-6
printf '5/16/11\n5/32/1\n' >"$IT_TMP/bad2.txt"
expect_usage "tile outside the grid" "<stdin>:2: tile 5/32/1 outside the grid" \
    expire --tileset demo --tiles - <"$IT_TMP/bad2.txt"
expect_usage "missing zoom" "--zoom A-B is required" warm --tileset demo --bbox 1,2,3,4
expect_usage "bad zoom" "bad zoom range 'x'" warm --tileset demo --bbox 1,2,3,4 --zoom x
expect_usage "unknown option" "unknown option '--bogus'" status --bogus
expect_usage "deadletter action" "unknown action 'drop'" deadletter drop
it_check "bad arguments changed nothing in the queue" 0 "$(w_queue_busy)"

q_finish
it_done

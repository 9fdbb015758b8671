#!/usr/bin/env bash
# tileq warm on a private stack (own Redis, two workers; the fixture's PostGIS):
#  1. warm a bbox at z0-z6 with --wait: every tile of the bbox is cached and equals the
#     rendering contract's SQL run directly; warm again: 0 renders;
#  2. kill `tileq warm --wait` (SIGKILL) midway through a bigger area, run it again: it
#     completes, and the render log shows no tile rendered twice (render_log rows of our
#     workers = distinct tiles = tile files in our cache).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"
source "$(dirname "$0")/warm_lib.sh"

q_init warm
q_start_worker w1
q_start_worker w2
q_wait_worker w1
q_wait_worker w2

# ---- 1. z0-z6 of a bbox ------------------------------------------------------------------
BBOX=(-9.7 36.3 29.6 59.7)
rc=0
out=$(w_tileq warm --tileset demo --bbox "$(IFS=,; echo "${BBOX[*]}")" --zoom 0-6 --wait 2>"$IT_TMP/warm1.err") || rc=$?
echo "$out"
it_check "warm z0-6 --wait: exit status" 0 "$rc"
renders1=$(w_job_done_count)
echo "jobs rendered by the first warm: $renders1"
((renders1 > 0)) || it_fail "the first warm rendered nothing"

ntiles=0 nempty=0 bad=0
while read -r z x y; do
    ntiles=$((ntiles + 1))
    if ! got=$(w_cached_hex "$z" "$x" "$y"); then
        it_fail "tile $z/$x/$y not cached after warm --wait"
        bad=$((bad + 1))
        continue
    fi
    expected=$(it_psql -c "$(it_contract_sql "$z" "$x" "$y")")
    [[ -z $expected ]] && nempty=$((nempty + 1))
    if [[ $got != "$expected" ]]; then
        it_fail "tile $z/$x/$y: cached bytes differ from the contract SQL's"
        bad=$((bad + 1))
    fi
done < <(for z in 0 1 2 3 4 5 6; do w_tiles_of_bbox "${BBOX[@]}" "$z"; done)
echo "checked $ntiles tiles of the bbox ($nempty empty): $bad bad"
((ntiles > 50)) || it_fail "only $ntiles tiles in the bbox: the test area is wrong"
it_check "every tile of the bbox cached and equal to the contract SQL" 0 "$bad"

rc=0
out=$(w_tileq warm --tileset demo --bbox "$(IFS=,; echo "${BBOX[*]}")" --zoom 0-6 --wait 2>/dev/null) || rc=$?
echo "$out"
it_check "warm again: exit status" 0 "$rc"
[[ $out == *" 0 queued"* ]] || it_fail "warm again queued jobs: $out"
sleep 0.5
it_check "warm again: 0 renders" "$renders1" "$(w_job_done_count)"

# ---- 2. interrupted and run again -----------------------------------------------------------
# A bigger area: z7-z9 of central Europe, about 1,400 tiles, queue kept at 8 jobs.
BBOX2=2.1,44.2,16.9,53.8
# The workers are stopped while the warm fills its 8 queue places, so the kill always lands
# while the warm is alive and waiting (on an idle machine an unpaused warm can finish first).
before=$(w_job_done_count)
kill -STOP "$(q_pid w1)" "$(q_pid w2)"
"$TILEQ_BIN" -c "$Q_DIR/tileq.conf" warm --tileset demo --bbox $BBOX2 --zoom 7-9 --wait \
    --max-queued 8 >"$IT_TMP/warm2a.out" 2>"$IT_TMP/warm2a.err" &
wpid=$!
for ((i = 0; i < 100; i++)); do # until the warm has queued 8 jobs (bounded: 20 s)
    (($(w_queue_busy) >= 8)) && break
    sleep 0.2
done
it_check "the warm has queued 8 jobs and waits" 8 "$(w_queue_busy)"
kill -KILL "$wpid"
wait "$wpid" 2>/dev/null || true
kill -CONT "$(q_pid w1)" "$(q_pid w2)"
w_wait_idle 60
mid=$(( $(w_job_done_count) - before ))
echo "killed tileq warm --wait after $mid jobs"
((mid > 0)) || it_fail "the jobs of the interrupted warm were not rendered"

rc=0
out=$(w_tileq warm --tileset demo --bbox $BBOX2 --zoom 7-9 --wait --max-queued 8 2>"$IT_TMP/warm2b.err") || rc=$?
echo "$out"
it_check "warm run again after the kill: exit status" 0 "$rc"
[[ $out == *"cached (skipped)"* ]] || it_fail "unexpected summary: $out"
cached_skipped=$(sed -n 's/.*metatiles: \([0-9]*\) cached.*/\1/p' <<<"$out")
echo "metatiles skipped as cached on the second run: $cached_skipped"
((cached_skipped > 0)) || it_fail "the second run found nothing cached"
w_wait_idle 60

nfiles=$(find "$Q_DIR/cache/demo" -type f \( -name '*.mvt.gz' -o -name '*.mvt' -o -name '*.empty' \) | wc -l)
rows=$(q_wait_renderlog "true" "$nfiles")
dups=$(q_rl_count "(tileset, z, x, y) IN (SELECT tileset, z, x, y FROM tileq.render_log
        WHERE worker LIKE '$Q_ID-%' GROUP BY 1, 2, 3, 4 HAVING count(*) > 1)")
echo "render log: $rows rows for $nfiles cached tiles, $dups rows of tiles rendered twice"
it_check "render log: no tile rendered twice" 0 "$dups"
it_check "render log: one row per cached tile" "$nfiles" "$rows"

# Every tile of the second area is there.
missing=0
for z in 7 8 9; do
    while read -r z x y; do
        w_cached_hex "$z" "$x" "$y" >/dev/null || missing=$((missing + 1))
    done < <(w_tiles_of_bbox 2.1 44.2 16.9 53.8 "$z")
done
it_check "second area: every tile cached" 0 "$missing"

q_finish
it_done

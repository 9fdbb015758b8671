#!/usr/bin/env bash
# Cache temp files (issue 16 item 4). Planted in the fixture's cache: temp files a crashed
# writer would leave (".tmp.<host>.<pid>.<random>", ".tmp.broken.…", two hours old), a live
# writer's (a few seconds old), a stale one that is a symlink and one that is a directory,
# and an old tile. A third worker started on the fixture's config sweeps at start, while the
# fixture's two workers write tiles into the same directories (tileq warm --force of the
# planted tiles' area): the stale temp files are gone and counted in its cache_tmp_sweep log
# line, everything else is left, no worker failed a write, the tiles written meanwhile are
# whole, and no temp file of theirs is left behind. The coordinator serves throughout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$TQ_SOURCE_DIR/deploy/stack.sh"

C=$TQ_TEST_CACHE_DIR
TILEQ=$TQ_BUILD_DIR/cli/tileq
WORKER=$TQ_BUILD_DIR/worker/tileq-worker
ID=sweep-$$-$RANDOM
D=$C/demo/6/32 # a column of z6 tiles (Africa/Atlantic): warmed below
mkdir -p "$D" "$C/demo/6"

old() { touch -h -d '2 hours ago' "$1"; }
stale=("$D/.tmp.deadhost.4242.00000000deadbeef" "$D/.tmp.broken.deadhost.4242.00000000feedface"
    "$C/demo/6/.tmp.deadhost.4243.0000000012345678")
for f in "${stale[@]}"; do
    echo "left by a crashed writer" >"$f"
    old "$f"
done
young=$D/.tmp.livehost.77.00000000cafecafe
echo "a live writer's" >"$young"
touch -d '5 seconds ago' "$young"
ln -s /etc/hostname "$D/.tmp.symlink.1.0000000000000001"
old "$D/.tmp.symlink.1.0000000000000001"
mkdir "$D/.tmp.dir.1.0000000000000002"
old "$D/.tmp.dir.1.0000000000000002"
echo "not a tile, not a temp file" >"$D/notes.txt"
old "$D/notes.txt"

# The fixture's workers write into the same directories meanwhile.
"$TILEQ" -c "$TQ_TEST_CONFIG" warm --tileset demo --bbox -10,-30,10,30 --zoom 6-7 --force \
    --wait >"$IT_TMP/warm.txt" 2>&1 &
warm_pid=$!

TQ_WORKER_ID=$ID tq_start_bg "$IT_TMP/w.pid" "$IT_TMP/w.log" "$WORKER" -c "$TQ_TEST_CONFIG"
for ((i = 0; i < 300; i++)); do
    grep -q 'event=cache_tmp_sweep ' "$IT_TMP/w.log" 2>/dev/null && break
    sleep 0.1
done
line=$(grep 'event=cache_tmp_sweep ' "$IT_TMP/w.log" || true)
echo "sweep: $line"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
it_check "the sweep removed the 3 stale temp files" 3 "$(field removed)"
[[ $(field young) -ge 1 ]] && echo "ok: young temp files left: $(field young)" ||
    it_fail "no young temp file counted"
it_check "the symlink and the directory skipped" 2 "$(field skipped)"
it_check "no unlink failed" 0 "$(field failed)"
it_check "the sweep was complete" 1 "$(field complete)"
[[ -n $(field elapsed_ms) ]] && echo "ok: elapsed_ms=$(field elapsed_ms)" || it_fail "no elapsed_ms"

left=0
for f in "${stale[@]}"; do [[ -e $f ]] && left=$((left + 1)); done
it_check "the stale temp files are gone" 0 "$left"
it_check "the live writer's temp file is left" "a live writer's" "$(cat "$young")"
[[ -L $D/.tmp.symlink.1.0000000000000001 && -e /etc/hostname ]] &&
    echo "ok: the symlink (and what it points at) is left" || it_fail "the symlink went"
[[ -d $D/.tmp.dir.1.0000000000000002 ]] && echo "ok: the directory is left" ||
    it_fail "the directory went"
[[ -f $D/notes.txt ]] && echo "ok: other files are left" || it_fail "notes.txt went"

wait "$warm_pid" && echo "ok: tileq warm --force finished" ||
    it_fail "tileq warm: $(tail -n 3 "$IT_TMP/warm.txt")"
tq_stop_pidfile "$IT_TMP/w.pid" 20
if grep -hE 'event=(job_failed|job_dead)' "$TQ_IT_DIR"/worker*.log "$IT_TMP/w.log" |
    grep -q 'demo/[67]/'; then
    it_fail "a worker failed a job: $(grep -hE 'event=(job_failed|job_dead)' \
        "$TQ_IT_DIR"/worker*.log "$IT_TMP/w.log" | tail -n 2)"
else
    echo "ok: no worker failed a job"
fi
# Temp files of the writes: none left (the planted young one aside).
extra=$(find "$C/demo/6" "$C/demo/7" -name '.tmp.*' ! -path "$young" \
    ! -name '.tmp.symlink.*' ! -name '.tmp.dir.*' | wc -l)
it_check "no temp file left by the writes" 0 "$extra"
it_check "a tile of the swept column is served" 200 "$(it_fetch /demo/6/32/31.mvt t1)"
[[ -f $D/31.mvt.gz || -f $D/31.mvt || -f $D/31.empty ]] && echo "ok: and it is in the cache" ||
    it_fail "demo/6/32/31 not in the cache"
tq_sanitizer_report "$IT_TMP/w.log" "FAIL: sanitizer report in the sweeping worker's log:" 30 60 ||
    it_fail "sanitizer"

rm -rf "$young" "$D/.tmp.symlink.1.0000000000000001" "$D/.tmp.dir.1.0000000000000002" "$D/notes.txt"
it_done

#!/usr/bin/env bash
# tileq expire on a private stack (own Redis, two workers; the fixture's PostGIS):
#  1. warm z0-z8 around Paris; rename the place "Paris" (demo.points, restored at the end);
#     expire its z8 tile (osm2pgsql list on stdin) over z0-8 with --rerender: the tiles on the
#     way up (parents) show the new name and equal the contract SQL; tiles of other metatiles
#     are untouched (same inode and mtime); the tiles of its metatiles not listed are left
#     alone (same inode), still equal to the contract;
#  2. expire without --rerender deletes tiles and their children, queues nothing;
#  3. a render in flight when its metatile is expired is marked and renders again
#     (tileset "slow", which sleeps per render).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"
source "$(dirname "$0")/warm_lib.sh"

PLACE_ID=28 # "Paris" in sql/demo_data.sql, minzoom 2
orig=$(it_psql -c "SELECT name FROM demo.points WHERE id = $PLACE_ID")
it_check "demo place $PLACE_ID is Paris" Paris "$orig"
restore() { it_psql -c "UPDATE demo.points SET name = 'Paris' WHERE id = $PLACE_ID" >/dev/null || true; }

q_init expire
trap 'restore; q_cleanup; rm -rf "$IT_TMP"' EXIT
q_start_worker w1
q_start_worker w2
q_wait_worker w1
q_wait_worker w2

BBOX=-4,46.1,6,49.9
w_tileq warm --tileset demo --bbox $BBOX --zoom 0-8 --wait >/dev/null 2>&1 ||
    it_fail "warm z0-8 around Paris failed"

read -r px py < <(w_tile_of_lonlat 2.35 48.86 8)
echo "Paris is in tile 8/$px/$py"
# Tiles of other metatiles (far from Paris at z8, metatile 8) and one of Paris's metatile
# that is neither Paris's tile nor an ancestor.
FAR=(8/$((px - px % 8 - 1))/$py 7/$(((px >> 1) - (px >> 1) % 8 - 1))/$((py >> 1)))
SAME="8/$((px ^ 1))/$py"
declare -A stamp_before hex_before
for t in "${FAR[@]}" "$SAME"; do
    f=$(ls "$Q_DIR/cache/demo/$t".* 2>/dev/null | head -n 1) || true
    [[ -n $f ]] || { it_fail "tile $t not cached by the warm"; stamp_before[$t]=none; continue; }
    stamp_before[$t]=$(stat -c '%i %y' "$f")
done
for z in 2 5 8; do
    t="$z/$((px >> (8 - z)))/$((py >> (8 - z)))"
    hex_before[$t]=$(w_cached_hex ${t//\// })
done

it_psql -c "UPDATE demo.points SET name = 'Paris (changed)' WHERE id = $PLACE_ID" >/dev/null
rc=0
out=$(echo "8/$px/$py" | w_tileq expire --tileset demo --tiles - --min-zoom 0 --max-zoom 8 \
    --rerender) || rc=$?
echo "$out"
it_check "expire --rerender: exit status" 0 "$rc"
[[ $out == *"9 tiles deleted"* ]] || it_fail "expected 9 tiles deleted (z0-8 ancestors): $out"
w_wait_idle 60
for z in 2 5 8; do
    t="$z/$((px >> (8 - z)))/$((py >> (8 - z)))"
    read -r tz tx ty <<<"${t//\// }"
    got=$(w_cached_hex "$tz" "$tx" "$ty") || { it_fail "tile $t not re-rendered"; continue; }
    expected=$(it_psql -c "$(it_contract_sql "$tz" "$tx" "$ty")")
    it_check "tile $t after expire: equals the contract SQL (new data)" "$expected" "$got"
    [[ $got != "${hex_before[$t]}" ]] || it_fail "tile $t did not change"
    # The new name is in the tile ("Paris (changed)" in hex).
    [[ $got == *"$(printf 'Paris (changed)' | od -An -v -tx1 | tr -d ' \n')"* ]] ||
        it_fail "tile $t does not show the new name"
done
for t in "${FAR[@]}"; do
    f=$(ls "$Q_DIR/cache/demo/$t".* 2>/dev/null | head -n 1) || true
    it_check "tile $t (another metatile) untouched" "${stamp_before[$t]}" \
        "$([[ -n $f ]] && stat -c '%i %y' "$f")"
done
read -r sz sx sy <<<"${SAME//\// }"
it_check "tile $SAME (same metatile, not expired) equals the contract SQL" \
    "$(it_psql -c "$(it_contract_sql "$sz" "$sx" "$sy")")" "$(w_cached_hex "$sz" "$sx" "$sy")"

# ---- 2. without --rerender: the tile and its children go, nothing is queued -----------------
t7="7/$((px >> 1))/$((py >> 1))"
rc=0
out=$(echo "$t7" | w_tileq expire --tileset demo --tiles - --min-zoom 7 --max-zoom 8) || rc=$?
echo "$out"
it_check "expire (no --rerender): exit status" 0 "$rc"
gone=0
for t in "$t7" "8/$((px & ~1))/$((py & ~1))" "8/$((px | 1))/$((py | 1))"; do
    ls "$Q_DIR/cache/demo/$t".* >/dev/null 2>&1 || gone=$((gone + 1))
done
it_check "z7 tile and its z8 children deleted" 3 "$gone"
it_check "nothing queued without --rerender" 0 "$(w_queue_busy)"
w_cached_hex 6 $((px >> 2)) $((py >> 2)) >/dev/null || it_fail "the z6 parent (outside 7-8) was deleted"

# ---- 3. a render in flight is marked and renders again ------------------------------------
# The render blocks on a lock held by a psql session of ours, so it is surely in flight when
# expire runs (a 2 s sleep alone can end first on a loaded machine).
restore
mkfifo "$IT_TMP/lock.in"
psql -X -q -h 127.0.0.1 -p "$TQ_TEST_PG_PORT" -U tileq -d tileq <"$IT_TMP/lock.in" >/dev/null 2>&1 &
lock_pid=$!
exec 7>"$IT_TMP/lock.in"
echo "BEGIN; LOCK TABLE demo.points IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600) /* tq-expire-lock */;" >&7
for ((i = 0; i < 100; i++)); do # until the lock is held (bounded: 10 s)
    [[ $(it_psql -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
          WHERE c.relname = 'points' AND l.mode = 'AccessExclusiveLock' AND l.granted") == 1 ]] && break
    sleep 0.1
done
w_tileq warm --tileset slow --bbox 2.3,48.8,2.4,48.9 --zoom 5 >/dev/null 2>&1
read -r sx5 sy5 < <(w_tile_of_lonlat 2.35 48.86 5)
job="slow/5/$((sx5 - sx5 % 8))/$((sy5 - sy5 % 8))"
for ((i = 0; i < 100; i++)); do # until a worker holds it (bounded: 20 s)
    [[ $(w_status_json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["leases"]))') == 1 ]] && break
    sleep 0.2
done
out=$(echo "5/$sx5/$sy5" | w_tileq expire --tileset slow --tiles - --min-zoom 5 --max-zoom 5)
echo "$out"
it_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE query LIKE '%tq-expire-lock%' AND pid <> pg_backend_pid()" >/dev/null
exec 7>&-
wait "$lock_pid" || true
[[ $out == *"1 renders in flight marked"* ]] || it_fail "the running render was not marked: $out"
for ((i = 0; i < 150; i++)); do # two renders of Q_SLEEP s each (bounded: 30 s)
    (($(q_renders "$job") >= 2)) && [[ $(w_queue_busy) == 0 ]] && break
    sleep 0.2
done
it_check "render in flight during expire: rendered again" 2 "$(q_renders "$job")"
# The render again carries the reason of the expire that marked it, not the warm's.
reasons=""
for ((i = 0; i < 150; i++)); do # workers move the render log every ~2 s (bounded: 30 s)
    reasons=$(it_psql -c "SELECT string_agg(DISTINCT reason, ',' ORDER BY reason)
        FROM tileq.render_log WHERE job_id = '$job' AND worker LIKE '$Q_ID-%'")
    [[ $reasons == expire,warm ]] && break
    sleep 0.2
done
it_check "render in flight during expire: the render again has reason expire" expire,warm "$reasons"

q_finish
it_done

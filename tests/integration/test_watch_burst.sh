#!/usr/bin/env bash
# Tiles follow the data under load (issue 11), on a private cluster (nginx_lib.sh; the
# fixture's PostGIS) with `tileq watch run`:
#  1. a burst of 10,000 single-row UPDATEs (each its own transaction) over 40 places around
#     Paris whose tiles z10-14 are cached; the watcher is SIGKILLed in the middle of it and
#     started again: afterwards every one of those tiles is cached again and equals the
#     contract SQL over the final data, and no metatile was rendered (reason change, render
#     log) more often than the watcher's batches that touched it, plus one (the batch in
#     flight at the kill, expired again: its deletions were not committed);
#  2. a 100k-row UPDATE (demo.points plus 10,000 rows added for the test) in one statement:
#     it records one change row; its tiles are fresh within a bound measured and printed,
#     and the dirty class never holds more than --max-queued jobs (sampled every 20 ms).
# The demo data is restored at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nginx_lib.sh"
source "$(dirname "$0")/watch_lib.sh"

MAX_QUEUED=16
BURST=10000
PLACES=40
ADD_BASE=$(it_psql -c "SELECT max(id) + 100000 FROM demo.points")

restore() {
    it_psql -c "UPDATE demo.points SET name = split_part(name, '|', 1) WHERE name LIKE '%|%';
        DELETE FROM demo.points WHERE id >= $ADD_BASE" >/dev/null 2>&1 || true
    "$TQ_BUILD_DIR/cli/tileq" -c "$NG_CONF" watch uninstall >/dev/null 2>&1 || true
}
it_check "no demo name holds '|' (the test's marker)" 0 \
    "$(it_psql -c "SELECT count(*) FROM demo.points WHERE name LIKE '%|%'")"
NG_CONF_APPEND="cache_fsync = false;"
ng_up 1 3
trap 'wt_stop; restore; ng_down' EXIT
wt_install || it_fail "watch install failed"
wt_start --max-queued $MAX_QUEUED || it_fail "the watcher did not start"

# -- 1. SIGKILL in the middle of a burst of single-row updates -------------------------
it_psql -c "SELECT id FROM demo.points WHERE minzoom <= 10
    ORDER BY geom <-> ST_Transform(ST_SetSRID(ST_MakePoint(2.35, 48.86), 4326), 3857) LIMIT $PLACES" \
    >"$IT_TMP/ids"
: >"$IT_TMP/burst.tiles"
while read -r id; do
    wt_tiles_of "(SELECT geom FROM demo.points WHERE id = $id)" 10 14 >>"$IT_TMP/burst.tiles"
done <"$IT_TMP/ids"
sort -u -o "$IT_TMP/burst.tiles" "$IT_TMP/burst.tiles"
wt_cache_tiles "$IT_TMP/burst.tiles"
echo "$(wc -l <"$IT_TMP/burst.tiles") tiles cached around Paris"
wt_wait_idle 60 || it_fail "the cluster did not settle before the burst"
rl_where="worker LIKE 'ng-$NG_TEST-${NG_DIR##*.}-%'"
rl_before=$(it_psql -c "SELECT count(*) FROM tileq.render_log WHERE $rl_where")

mapfile -t ids <"$IT_TMP/ids"
for ((i = 0; i < BURST; i++)); do
    echo "UPDATE demo.points SET name = split_part(name, '|', 1) || '|b$i' WHERE id = ${ids[i % PLACES]};"
done >"$IT_TMP/burst.sql"
it_psql -f "$IT_TMP/burst.sql" >/dev/null &
burst_pid=$!
# Kill once the watcher has consumed part of the burst (bounded wait).
for ((i = 0; i < 600; i++)); do
    consumed=$(it_psql -c "SELECT consumed FROM tileq.watch_position")
    ((consumed >= BURST / 5)) && break
    sleep 0.05
done
kill -9 "$(cat "$NG_DIR/watch.pid")"
echo "watcher SIGKILLed after $consumed of $BURST changes consumed"
wait "$burst_pid" || it_fail "the burst's psql failed"
it_check "the burst recorded every change not yet consumed" "$BURST" \
    "$(it_psql -c "SELECT consumed + (SELECT count(*) FROM tileq.changes) FROM tileq.watch_position")"
rm -f "$NG_DIR/watch.pid"
wt_start --max-queued $MAX_QUEUED || it_fail "the watcher did not start again"
wt_wait_idle 120 || it_fail "backlog or queue not empty 120 s after the burst"
stale=0
while read -r z x y; do
    wt_fresh "$z" "$x" "$y" || {
        stale=$((stale + 1))
        echo "stale or missing after the burst: demo/$z/$x/$y" >&2
    }
done <"$IT_TMP/burst.tiles"
it_check "every cached tile of the burst is fresh after the restart" 0 "$stale"
batches=$(grep -c 'event=watch_batch' "$NG_DIR/watch.log" || true)
for ((i = 0; i < 100; i++)); do # workers move the render log every ~2 s
    pending=$(ng_redis XLEN '{tq}:renderlog')
    [[ $pending == 0 ]] && break
    sleep 0.1
done
read -r max_renders metatiles < <(it_psql -F' ' -c "SELECT coalesce(max(n), 0), count(*) FROM
    (SELECT job_id, count(DISTINCT started) AS n FROM tileq.render_log
     WHERE $rl_where AND reason = 'change' AND z BETWEEN 10 AND 14 GROUP BY job_id) s")
echo "burst: $BURST changes in $batches batches; $metatiles metatiles re-rendered, at most $max_renders times each"
((max_renders <= batches + 1)) && echo "ok: no metatile rendered more often than its batches + 1" ||
    it_fail "a metatile was rendered $max_renders times for $batches batches"
((metatiles > 0)) || it_fail "no change render in the render log"

# -- 2. a 100k-row UPDATE ----------------------------------------------------------------
rows=$(it_psql -c "SELECT count(*) FROM demo.points")
add=$((100000 - rows))
((add > 0)) || add=0
it_psql -c "INSERT INTO demo.points (id, name, kind, population, minzoom, geom)
    SELECT $ADD_BASE + g, 'bulk', 'village', 1, 14, ST_Translate(p.geom, (g % 100) * 20, (g / 100) * 20)
    FROM generate_series(1, $add) g,
         (SELECT geom FROM demo.points WHERE id = ${ids[0]}) p"
wt_wait_idle 120 || it_fail "not idle after the insert"
wt_tiles_of "(SELECT geom FROM demo.points WHERE id = 28)" 2 14 >"$IT_TMP/bulk.tiles"
head -n 60 "$IT_TMP/burst.tiles" >>"$IT_TMP/bulk.tiles"
wt_cache_tiles "$IT_TMP/bulk.tiles"
wt_wait_idle 60 || it_fail "not idle before the 100k update"
st=$(wt_stamps "$IT_TMP/bulk.tiles")
changes_before=$(it_psql -c "SELECT last_value FROM tileq.changes_id_seq")
(
    max=0
    while [[ ! -e $IT_TMP/sampler.stop ]]; do
        n=$(ng_redis LLEN '{tq}:q:dirty')
        ((n > max)) && max=$n
        echo "$max" >"$IT_TMP/sampler.max"
        sleep 0.02
    done
) &
sampler=$!
t_stmt=$(date +%s%N)
n=$(it_psql -c "WITH u AS (UPDATE demo.points SET name = split_part(name, '|', 1) || '|u' RETURNING 1)
    SELECT count(*) FROM u")
t0=$(date +%s%N)
echo "100k UPDATE: $n rows in $(((t0 - t_stmt) / 1000000)) ms"
it_check "the UPDATE touched 100,000 rows" 100000 "$n"
it_check "one change row for the 100k-row statement" $((changes_before + 1)) \
    "$(it_psql -c "SELECT last_value FROM tileq.changes_id_seq")"
if ms=$(wt_wait_fresh "$IT_TMP/bulk.tiles" 60000 "$t0" "$st"); then
    echo "ok: 100k-row UPDATE: every sampled cached tile (z2-14) fresh $ms ms after COMMIT"
else
    it_fail "100k-row UPDATE: tiles not fresh within 60 s"
fi
wt_wait_idle 120 || it_fail "not idle after the 100k update"
touch "$IT_TMP/sampler.stop"
wait "$sampler" || true
max=$(cat "$IT_TMP/sampler.max")
echo "dirty class at most $max jobs (--max-queued $MAX_QUEUED)"
((max <= MAX_QUEUED)) && echo "ok: Redis never held more than --max-queued dirty jobs" ||
    it_fail "the dirty class held $max jobs, over --max-queued $MAX_QUEUED"
grep 'event=watch_batch' "$NG_DIR/watch.log" | tail -n 1
grep -q 'event=watch_batch changes=1 .* merged=[1-9]' "$NG_DIR/watch.log" &&
    echo "ok: the bulk change's zooms were merged into their covered ranges" ||
    it_fail "no merged ranges for the bulk change"
wt_stop
it_done

#!/usr/bin/env bash
# An interactive job answers its first requester as soon as that tile is ready (the "partial"
# event), before the rest of the metatile is rendered, on a private stack (queue/qlib.sh: own
# Redis, one worker, one coordinator, the fixture's PostgreSQL). Tileset "slow" (metatile 8):
# its layer sleeps Q_SLEEP s per execution, so the worker's two queries (the first tile alone,
# then the other 63 tiles) take Q_SLEEP s each.
#  1. One cold request for a tile inside the metatile (not its top-left): 200, X-Tileq: miss,
#     and when the answer arrives the job is still running ({tq}:job:<id> state "running",
#     the worker logged job_partial for that tile but no job_done yet).
#  2. The 64 tiles of the metatile, requested at once while the job still runs: all 200 or
#     204, each equal to the rendering contract's SQL; one job for the metatile in all (one
#     job_claimed, one job_done).
#  3. JIT per render: the first tile's one-tile render (the first at z10) and the metatile
#     render ran without JIT (jit=0); a tile of another metatile at z10, rendered after that
#     slow one-tile render, with it (jit=1).
#  4. The render log has each of the 64 tiles exactly once; the first tile's row is the one
#     rendered alone (its duration is its own query's time).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

q_init first_tile
q_start_stack 1 1

job=slow/10/512/352
# The first tile: one with data by the contract, not the metatile's top-left.
fx="" fy=""
for ((y = 352; y < 360; y++)); do
    for ((x = 512; x < 520; x++)); do
        [[ -z $fx ]] && ((x != 512 || y != 352)) || continue
        [[ -n $(it_psql -c "$(q_contract_slow 10 $x $y)") ]] && fx=$x fy=$y
    done
done
[[ -n $fx ]] || it_fail "no tile of $job has data by the contract; pick another metatile"
echo "   first tile: 10/$fx/$fy"

# ---- 1. the first requester -----------------------------------------------------------------
code=$(curl -sS --max-time 60 -o "$IT_TMP/first.body" -D "$IT_TMP/first.headers" -w '%{http_code}' \
    "$Q_URL_c1/slow/10/$fx/$fy.mvt")
state=$(q_redis HGET "{tq}:job:$job" state)
partial=$(grep -c "event=job_partial job=$job tile=10/$fx/$fy " "$Q_DIR/w1.log" || true)
done_at_answer=$(q_renders "$job")
xq=$(awk -F': *' 'tolower($1) == "x-tileq" { sub(/\r$/, "", $2); print $2 }' "$IT_TMP/first.headers")
it_check "first tile: HTTP 200" 200 "$code"
it_check "first tile: X-Tileq miss" miss "$xq"
it_check "first tile: the job still runs when the answer arrives" running "$state"
it_check "first tile: the worker announced it (job_partial)" 1 "$partial"
it_check "first tile: no job_done yet when the answer arrives" 0 "$done_at_answer"

# ---- 2. the 64 tiles, while the rest of the metatile renders ------------------------------
urls=()
for ((y = 352; y < 360; y++)); do
    for ((x = 512; x < 520; x++)); do
        urls+=("$Q_URL_c1/slow/10/$x/$y.mvt")
    done
done
q_parallel_get "$IT_TMP/meta" "${urls[@]}" >"$IT_TMP/meta.txt"
it_check "64 tiles: 64 answers" 64 "$(wc -l <"$IT_TMP/meta.txt")"
it_check "64 tiles: all HTTP 200 or 204" 64 "$(awk -F'|' '$2 == 200 || $2 == 204' "$IT_TMP/meta.txt" | wc -l)"
echo "   X-Tileq counts: $(cut -d'|' -f3 "$IT_TMP/meta.txt" | sort | uniq -c | tr '\n' ' ')"
: >"$IT_TMP/meta.sql"
for ((y = 352; y < 360; y++)); do
    for ((x = 512; x < 520; x++)); do
        echo "$(q_contract_slow 10 $x $y);" >>"$IT_TMP/meta.sql"
    done
done
it_psql -f "$IT_TMP/meta.sql" >"$IT_TMP/meta.expected"
bad=0 i=0 nonempty=0
while IFS= read -r exp; do
    [[ $(it_hex "$IT_TMP/meta/$i.body") == "$exp" ]] || bad=$((bad + 1))
    [[ -n $exp ]] && nonempty=$((nonempty + 1))
    i=$((i + 1))
done <"$IT_TMP/meta.expected"
it_check "64 tiles: contract SQL rows" 64 "$i"
it_check "64 tiles: tiles differing from the contract SQL's" 0 "$bad"
((nonempty >= 8)) || it_fail "only $nonempty non-empty tiles: the data is not where the test looks"
first_exp=$(it_psql -c "$(q_contract_slow 10 $fx $fy)")
it_check "first tile: the early answer equals the contract SQL's" "$first_exp" "$(it_hex "$IT_TMP/first.body")"
it_check "one job for the metatile: claimed once" 1 \
    "$(grep -c "event=job_claimed job=$job " "$Q_DIR/w1.log" || true)"
# The answers came with the ok event, which the ack sends before the worker logs job_done.
q_wait_log "event=job_done job=$job " 1 >/dev/null
it_check "one job for the metatile: done once" 1 "$(q_renders "$job")"
it_check "the job's done line counts the 64 tiles" 1 \
    "$(grep -c "event=job_done job=$job attempt=1 tiles=64 .*first_sql_ms=" "$Q_DIR/w1.log" || true)"

# ---- 3. JIT per render, from what it costs ----------------------------------------------------
# The first one-tile render at z10 went without JIT (nothing known yet); it took Q_SLEEP
# seconds (>= 100 ms), so the next one-tile render at z10 gets it; metatile renders never.
it_check "JIT: the first tile, first one-tile render at z10: jit=0" 1 \
    "$(grep -c "event=job_partial job=$job tile=10/$fx/$fy .* jit=0" "$Q_DIR/w1.log" || true)"
it_check "JIT: the rest of the metatile (a metatile statement): jit=0" 1 \
    "$(grep -c "event=job_done job=$job attempt=1 tiles=64 .* jit=0" "$Q_DIR/w1.log" || true)"
gx="" gy=""
for ((y = 352; y < 360; y++)); do
    for ((x = 520; x < 528; x++)); do
        if [[ -n $(it_psql -c "$(q_contract_slow 10 $x $y)") ]]; then
            gx=$x gy=$y
            break 2
        fi
    done
done
if [[ -n $gx ]]; then
    job2=slow/10/520/352
    it_check "JIT: a tile of another metatile at z10: 200" 200 \
        "$(curl -sS --max-time 60 -o /dev/null -w '%{http_code}' "$Q_URL_c1/slow/10/$gx/$gy.mvt")"
    it_check "JIT: its one-tile render, after a slow one at z10: jit=1" 1 \
        "$(grep -c "event=job_partial job=$job2 tile=10/$gx/$gy .* jit=1" "$Q_DIR/w1.log" || true)"
    q_wait_log "event=job_done job=$job2 " 1 >/dev/null
else
    it_fail "no tile of slow/10/520..527/352..359 has data by the contract; pick another metatile"
fi

# ---- 4. the render log ----------------------------------------------------------------------
it_check "render log: 64 rows for $job" 64 "$(q_wait_renderlog "job_id = '$job'" 64)"
q_alive_check w1 c1
q_finish
it_check "render log: each tile once" "64|64" \
    "$(it_psql -c "SELECT count(*) || '|' || count(DISTINCT (x, y)) FROM tileq.render_log
                   WHERE worker LIKE '$Q_ID-%' AND job_id = '$job'")"
it_check "render log: the first tile was rendered alone, before the others" "true|true" \
    "$(it_psql -c "SELECT bool_and(f.duration_ms = f.metatile_ms)::text || '|' || bool_and(f.started <= o.started)::text
                   FROM tileq.render_log f JOIN tileq.render_log o ON o.job_id = f.job_id
                    AND o.worker = f.worker AND (o.x, o.y) <> (f.x, f.y)
                   WHERE f.worker LIKE '$Q_ID-%' AND f.job_id = '$job' AND f.x = $fx AND f.y = $fy")"
it_done

#!/usr/bin/env bash
# Dedup across coordinators: on a private stack (queue/qlib.sh: own Redis, 2 coordinators,
# 2 workers, the fixture's PostgreSQL), with a tileset whose render sleeps Q_SLEEP s:
#  1. 200 concurrent requests for one cold tile, spread over both coordinators: all 200 get
#     200 and the same bytes (equal to the rendering contract's), exactly one says
#     X-Tileq: miss (the others joined, or hit if they came after), and the metatile was
#     rendered exactly once (workers' job_done lines, and tileq.render_log: 64 rows, attempt 1).
#  2. 64 concurrent requests for the 64 tiles of one cold metatile, over both coordinators:
#     one render, one miss, every tile equal to the contract's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

q_init dedup
q_start_stack 2 2

# ---- 1. 200 requests, one tile ----------------------------------------------------------
z=14 x=8298 y=5636 job=slow/14/8296/5632
urls=()
for ((i = 0; i < 200; i++)); do
    if ((i % 2)); then urls+=("$Q_URL_c2/slow/$z/$x/$y.mvt"); else urls+=("$Q_URL_c1/slow/$z/$x/$y.mvt"); fi
done
q_parallel_get "$IT_TMP/one" "${urls[@]}" >"$IT_TMP/one.txt"
it_check "200 requests: 200 answers" 200 "$(wc -l <"$IT_TMP/one.txt")"
it_check "200 requests: all HTTP 200" 200 "$(awk -F'|' '$2 == 200' "$IT_TMP/one.txt" | wc -l)"
it_check "200 requests: exactly one X-Tileq: miss" 1 "$(awk -F'|' '$3 == "miss"' "$IT_TMP/one.txt" | wc -l)"
it_check "200 requests: the others joined or hit" 199 \
    "$(awk -F'|' '$3 == "joined" || $3 == "hit"' "$IT_TMP/one.txt" | wc -l)"
echo "   X-Tileq counts: $(cut -d'|' -f3 "$IT_TMP/one.txt" | sort | uniq -c | tr '\n' ' ')"
echo "   slowest answer: $(cut -d'|' -f4 "$IT_TMP/one.txt" | sort -n | tail -n 1) s (render sleeps ${Q_SLEEP} s)"
it_check "200 requests: one distinct body" 1 "$(md5sum "$IT_TMP"/one/*.body | cut -d' ' -f1 | sort -u | wc -l)"
expected=$(it_psql -c "$(q_contract_slow $z $x $y)")
[[ -n $expected ]] || it_fail "contract SQL gives an empty tile for slow/$z/$x/$y; pick a tile with data"
it_check "200 requests: body equals the contract SQL's" "$expected" "$(it_hex "$IT_TMP/one/0.body")"
q_wait_job_gone "$job" || it_fail "$job did not finish"
q_wait_log "event=job_done job=$job " 1 >/dev/null # logged just after the ack
it_check "200 requests: workers logged one render of $job" 1 "$(q_renders "$job")"
it_check "200 requests: render log has the metatile's 64 tiles" 64 \
    "$(q_wait_renderlog "job_id = '$job'" 64)"

# ---- 2. 64 requests, the 64 tiles of one metatile ---------------------------------------
job2=slow/10/512/352
urls=()
for ((x = 512; x < 520; x++)); do
    for ((y = 352; y < 360; y++)); do
        if (((x + y) % 2)); then c=$Q_URL_c2; else c=$Q_URL_c1; fi
        urls+=("$c/slow/10/$x/$y.mvt")
    done
done
q_parallel_get "$IT_TMP/meta" "${urls[@]}" >"$IT_TMP/meta.txt"
it_check "64 tiles: 64 answers" 64 "$(wc -l <"$IT_TMP/meta.txt")"
it_check "64 tiles: all HTTP 200 or 204" 64 "$(awk -F'|' '$2 == 200 || $2 == 204' "$IT_TMP/meta.txt" | wc -l)"
it_check "64 tiles: exactly one X-Tileq: miss" 1 "$(awk -F'|' '$3 == "miss"' "$IT_TMP/meta.txt" | wc -l)"
echo "   X-Tileq counts: $(cut -d'|' -f3 "$IT_TMP/meta.txt" | sort | uniq -c | tr '\n' ' ')"
# The answers came with the ok event, which the ack sends before the worker logs job_done.
q_wait_log "event=job_done job=$job2 " 1 >/dev/null
it_check "64 tiles: workers logged one render of $job2" 1 "$(q_renders "$job2")"
# Every tile equals its contract SQL (one psql session, 64 queries).
i=0
: >"$IT_TMP/meta.sql"
for ((x = 512; x < 520; x++)); do
    for ((y = 352; y < 360; y++)); do
        echo "$(q_contract_slow 10 $x $y);" >>"$IT_TMP/meta.sql"
    done
done
it_psql -f "$IT_TMP/meta.sql" >"$IT_TMP/meta.expected"
bad=0
i=0
while IFS= read -r exp; do
    [[ $(it_hex "$IT_TMP/meta/$i.body") == "$exp" ]] || bad=$((bad + 1))
    i=$((i + 1))
done <"$IT_TMP/meta.expected"
it_check "64 tiles: contract SQL rows" 64 "$i"
it_check "64 tiles: tiles differing from the contract SQL's" 0 "$bad"

q_alive_check w1 w2 c1 c2
# Stop everything (the workers flush their last render-log entries), then count again:
# nothing rendered twice, at any time.
q_finish
it_check "render log: $job rows (one render, attempt 1)" "64 1" \
    "$(q_rl_count "job_id = '$job'") $(it_psql -c "SELECT string_agg(DISTINCT attempt::text, ',') FROM tileq.render_log WHERE worker LIKE '$Q_ID-%' AND job_id = '$job'")"
it_check "render log: $job2 rows (one render)" 64 "$(q_rl_count "job_id = '$job2'")"
# (An interactive job renders its first tile alone, then the rest: two "started" per job.)
it_check "render log: our workers rendered 2 metatiles in all, no tile twice" "2|128|128" \
    "$(it_psql -c "SELECT count(DISTINCT job_id) || '|' || count(*) || '|' || count(DISTINCT (job_id, x, y)) FROM tileq.render_log WHERE worker LIKE '$Q_ID-%'")"
it_done

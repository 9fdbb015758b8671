#!/usr/bin/env bash
# The duplicate-render report against a real run: a burst of concurrent cold requests
# (8 clients per tile, tiles in 4 metatiles at z9 and z11), then
# `tileq report --flush --format json`, whose counts must equal the renders the workers
# made according to their own logs (job_done ... tiles=N) and the rows in tileq.render_log.
# Also: csv has its header and one row per tile, html is one self-contained page, text and
# bad usage (exit 2).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TILEQ=$TQ_BUILD_DIR/cli/tileq
[[ -x $TILEQ ]] || {
    echo "FAIL: $TILEQ not built" >&2
    exit 1
}
command -v jq >/dev/null || {
    echo "FAIL: jq is needed (apt-get install jq)" >&2
    exit 1
}

# z x y — metatiles (size 8): 9/256/176 (two tiles), 9/264/176, 9/256/184, 11/1032/704 (two)
TILES=("9 259 176" "9 260 177" "9 265 176" "9 259 185" "11 1037 704" "11 1038 705")
JOBS=(demo/9/256/176 demo/9/264/176 demo/9/256/184 demo/11/1032/704)
CLIENTS=8

# Cold: no cached tile at these zooms (also when the test runs twice on one fixture).
rm -rf "$TQ_TEST_CACHE_DIR/demo/9" "$TQ_TEST_CACHE_DIR/demo/11"

# Where the workers' logs are now: only what they write from here on counts.
declare -A LOG_START
for f in "$TQ_IT_DIR"/worker*.log; do
    LOG_START[$f]=$(wc -l <"$f")
done
since=$(($(date +%s) - 1))

# The burst: every client of every tile at once.
pids=()
for t in "${TILES[@]}"; do
    read -r z x y <<<"$t"
    for ((c = 0; c < CLIENTS; c++)); do
        curl -sS --max-time 120 -o /dev/null -w '%{http_code}\n' \
            "$TQ_TEST_BASE_URL/demo/$z/$x/$y.mvt" >"$IT_TMP/burst_${z}_${x}_${y}_$c" 2>&1 &
        pids+=($!)
    done
done
for p in "${pids[@]}"; do wait "$p" || true; done
bad=$(cat "$IT_TMP"/burst_* | grep -cvE '^(200|204)$' || true)
it_check "all $((${#TILES[@]} * CLIENTS)) concurrent requests answered 200/204" 0 "$bad"

# The workers' own account: job_done lines for our jobs (logged right after the ack that
# answered the clients, so poll briefly for the last ones).
worker_jobs() {
    local f
    for f in "$TQ_IT_DIR"/worker*.log; do
        tail -n +"$((${LOG_START[$f]} + 1))" "$f"
    done | grep 'event=job_done' | grep -E "job=($(
        IFS='|'
        echo "${JOBS[*]}"
    )) " || true
}
for ((i = 0; i < 100; i++)); do
    (($(worker_jobs | wc -l) >= ${#JOBS[@]})) && break
    sleep 0.1
done
jobs_done=$(worker_jobs | wc -l)
tiles_rendered=$(worker_jobs | sed -E 's/.* tiles=([0-9]+).*/\1/' | awk '{s += $1} END {print s + 0}')
echo "workers: $jobs_done metatile renders, $tiles_rendered tiles"
((tiles_rendered > 0)) || it_fail "the workers logged no renders for the burst"

# The report, after moving everything still in Redis into PostgreSQL.
"$TILEQ" -c "$TQ_TEST_CONFIG" report --flush --since "@$since" --tileset demo --zoom 9-11 \
    --top 1000 --format json >"$IT_TMP/report.json"
j() { jq -r "$1" "$IT_TMP/report.json"; }
it_check "report: renders = tiles the workers rendered" "$tiles_rendered" "$(j .summary.renders)"
it_check "report: metatile renders = jobs the workers finished" "$jobs_done" \
    "$(j .summary.metatile_renders)"
rows=$(it_psql -c "SELECT count(*) FROM tileq.render_log WHERE tileset = 'demo' AND z IN (9, 11)
                    AND started >= to_timestamp($since)")
it_check "report: renders = rows in tileq.render_log (flushed, none twice)" "$rows" \
    "$(j .summary.renders)"
distinct=$(it_psql -c "SELECT count(DISTINCT (z, x, y)) FROM tileq.render_log
                        WHERE tileset = 'demo' AND z IN (9, 11) AND started >= to_timestamp($since)")
it_check "report: distinct tiles" "$distinct" "$(j .summary.tiles)"
it_check "report: duplicates = renders - distinct tiles" "$((rows - distinct))" \
    "$(j .summary.duplicates)"
it_check "report: one render per metatile under the burst (no duplicates)" 0 \
    "$(j .summary.duplicates)"
it_check "report: per-zoom renders add up" "$(j .summary.renders)" \
    "$(j '[.zooms[].renders] | add')"
for t in "${TILES[@]}"; do
    read -r z x y <<<"$t"
    it_check "report: $z/$x/$y rendered once" 1 \
        "$(j "[.top_tiles[] | select(.z == $z and .x == $x and .y == $y) | .renders] | add")"
done

# csv: a header naming the columns, one row per tile.
"$TILEQ" -c "$TQ_TEST_CONFIG" report --since "@$since" --tileset demo --zoom 9-11 --top 1000 \
    --format csv >"$IT_TMP/report.csv"
# (database, user and tables are --pglog's columns: not there for the render log)
it_check "csv: header" "tileset,z,x,y,renders,duplicates,total_ms,mean_ms,max_ms,first,last,reasons" \
    "$(head -n 1 "$IT_TMP/report.csv")"
it_check "csv: one row per tile" "$distinct" "$(($(wc -l <"$IT_TMP/report.csv") - 1))"

# html: one page, the chart inline, nothing fetched.
"$TILEQ" -c "$TQ_TEST_CONFIG" report --since "@$since" --format html -o "$IT_TMP/report.html"
grep -q '<svg' "$IT_TMP/report.html" || it_fail "html: no inline SVG chart"
if grep -qE '(src|href)=' "$IT_TMP/report.html"; then it_fail "html: refers to outside resources"; fi
if grep -q '<th>database</th>' "$IT_TMP/report.html"; then it_fail "html: --pglog's columns shown"; fi
echo "ok: html report is self-contained ($(wc -c <"$IT_TMP/report.html") bytes)"

# text, for people; and without a config, through --pg
"$TILEQ" report --pg "$TQ_TEST_PG_CONNINFO" --since "@$since" --zoom 9-11 >"$IT_TMP/report.txt"
grep -q "^renders  *$tiles_rendered\$" "$IT_TMP/report.txt" || it_fail "text report: renders line"
if grep -q 'database user tables' "$IT_TMP/report.txt"; then it_fail "text report: --pglog's columns shown"; fi
cat "$IT_TMP/report.txt"

# bad usage: exit 2; runtime failure: exit 1
set +e
"$TILEQ" report --format xml >/dev/null 2>&1
it_check "bad --format exits 2" 2 $?
"$TILEQ" report --pg "host=127.0.0.1 port=1 connect_timeout=2" >/dev/null 2>&1
it_check "unreachable PostgreSQL exits 1" 1 $?
set -e

it_done

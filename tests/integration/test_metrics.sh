#!/usr/bin/env bash
# GET /metrics on the fixture's coordinator:
# - every line follows the Prometheus text exposition format 0.0.4 (HELP/TYPE comment lines,
#   samples with escaped label values and a float value), every sample belongs to a metric
#   with a TYPE line, and every histogram series has increasing cumulative buckets ending in
#   le="+Inf" equal to its _count;
# - a miss and a joined request (two tiles of one cold metatile asked while the fixture's
#   workers are frozen, so both wait: tileq_waiters 2, tileq_pending_metatiles 1, the job
#   queued in tileq_queue_jobs{class="interactive",state="queued"}), then a hit and a 404,
#   move tileq_http_requests_total{status,served} by exactly one each, the render wait
#   histogram by one for miss and joined, tileq_enqueue_total{result="new"} by one;
# - after the render, the workers' figures (published through Redis) show it: renders,
#   tiles, SQL seconds and the render duration histogram of that zoom.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

METRICS_URL=$TQ_TEST_BASE_URL/metrics
WORKER_PIDS=()
for f in "$TQ_IT_DIR"/worker*.pid; do
    WORKER_PIDS+=("$(cat "$f")")
done
# Never leave the fixture's workers frozen.
trap 'kill -CONT "${WORKER_PIDS[@]}" 2>/dev/null || true; rm -rf "$IT_TMP"' EXIT

# scrape NAME: GET /metrics into $IT_TMP/NAME.metrics; prints the status.
scrape() {
    curl -sS --max-time 30 -o "$IT_TMP/$1.metrics" -D "$IT_TMP/$1.headers" -w '%{http_code}' \
        "$METRICS_URL" 2>"$IT_TMP/$1.curlerr" || true
}

# value NAME SAMPLE: the value of the sample line whose name and labels are exactly SAMPLE
# ("" when absent).
value() {
    awk -v s="$2" 'index($0, s " ") == 1 && length($0) > length(s) { v = $NF } END { print v }' \
        "$IT_TMP/$1.metrics"
}

# vnum NAME SAMPLE: as value, 0 when absent.
vnum() {
    local v
    v=$(value "$1" "$2")
    echo "${v:-0}"
}

# sum NAME PREFIX: the sum of the values of the samples whose line starts with PREFIX.
sum() {
    awk -v p="$2" 'index($0, p) == 1 { s += $NF } END { printf "%.6f\n", s }' "$IT_TMP/$1.metrics"
}

# check_format NAME: the exposition format checks described above.
check_format() {
    local f=$IT_TMP/$1.metrics bad
    local name='[a-zA-Z_:][a-zA-Z0-9_:]*' lname='[a-zA-Z_][a-zA-Z0-9_]*'
    local lval='"([^"\\]|\\[\\"n])*"'
    local labels="\\{($lname=$lval(,$lname=$lval)*,?)?\\}"
    local num='[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?|Inf)|NaN'
    [[ -s $f ]] || {
        it_fail "$1: empty /metrics body"
        return
    }
    bad=$(grep -nvE -e "^# HELP $name( .*)?\$" -e "^# TYPE $name (counter|gauge|histogram|summary|untyped)\$" \
        -e "^$name($labels)? ($num)( -?[0-9]+)?\$" "$f" || true)
    if [[ -n $bad ]]; then
        it_fail "$1: lines outside the exposition grammar: $(head -n 5 <<<"$bad")"
    else
        echo "ok: $1: every line matches the exposition grammar ($(wc -l <"$f") lines)"
    fi
    [[ $(tail -c 1 "$f" | od -An -c | tr -d ' ') == '\n' ]] || it_fail "$1: last line not terminated"
    # Structure: TYPE once per name and before its samples; histogram series complete.
    bad=$(awk '
        function fail(m) { print NR ": " m; bad = 1 }
        /^# TYPE / {
            if ($3 in type) fail("second TYPE for " $3)
            if ($3 in seen) fail("TYPE for " $3 " after its samples")
            type[$3] = $4; next
        }
        /^# HELP / { if ($3 in help) fail("second HELP for " $3); help[$3] = 1; next }
        {
            line = $0; sub(/ [^ ]+$/, "", line)     # name{labels}
            val = $NF
            n = line; sub(/\{.*/, "", n)
            seen[n] = 1
            if (n in type) { if (type[n] == "histogram") fail("histogram sample without suffix: " n); next }
            base = n; suf = ""
            if (match(n, /_(bucket|sum|count)$/)) { base = substr(n, 1, RSTART - 1); suf = substr(n, RSTART + 1) }
            if (!(base in type)) { fail("no TYPE for " n); next }
            seen[base] = 1
            if (type[base] != "histogram") { fail(n " has a suffix but " base " is a " type[base]); next }
            series = line; sub(/^[^{]*/, "", series)
            if (suf == "bucket") {
                if (!match(series, /le="[^"]*"/)) { fail("bucket without le: " line); next }
                le = substr(series, RSTART + 4, RLENGTH - 5)
                key = base substr(series, 1, RSTART - 1) substr(series, RSTART + RLENGTH)
                gsub(/,\}$/, "}", key); gsub(/\{,/, "{", key); gsub(/\{\}$/, "", key); gsub(/,,/, ",", key)
                if (key in last && val + 0 < last[key]) fail("buckets not cumulative: " line)
                if (key in lastle && le != "+Inf" && le + 0 <= lastle[key]) fail("le not increasing: " line)
                last[key] = val + 0; lastle[key] = (le == "+Inf") ? 1e308 : le + 0
                if (le == "+Inf") inf[key] = val
            } else if (suf == "count") {
                key = base series
                count[key] = val
            }
        }
        END {
            for (k in count) if (!(k in inf)) fail("no le=\"+Inf\" bucket for " k)
                             else if (inf[k] != count[k]) fail("+Inf bucket " inf[k] " != _count " count[k] " for " k)
            for (k in inf) if (!(k in count)) fail("no _count for " k)
        }' "$f")
    if [[ -n $bad ]]; then
        it_fail "$1: structure: $(head -n 5 <<<"$bad")"
    else
        echo "ok: $1: every sample has a TYPE, histograms have cumulative buckets and +Inf = _count"
    fi
}

# ---- format, with nothing special going on ------------------------------------------------
it_check "GET /metrics status" 200 "$(scrape m0)"
it_check "GET /metrics Content-Type" "text/plain; version=0.0.4; charset=utf-8" \
    "$(it_header m0 Content-Type)"
check_format m0
for m in tileq_http_requests_total tileq_render_wait_seconds tileq_waiters \
    tileq_pending_metatiles tileq_enqueue_total tileq_redis_reconnects_total tileq_redis_up \
    tileq_queue_jobs tileq_queue_dead_jobs tileq_worker_renders_total \
    tileq_worker_render_duration_seconds tileq_worker_sql_seconds_total \
    tileq_worker_render_failures_total; do
    grep -q "^# TYPE $m " "$IT_TMP/m0.metrics" || it_fail "no TYPE line for $m"
done
it_check "tileq_redis_up" 1 "$(value m0 tileq_redis_up)"
for c in interactive dirty bulk; do
    for s in queued running; do
        [[ -n $(value m0 "tileq_queue_jobs{class=\"$c\",state=\"$s\"}") ]] ||
            it_fail "no tileq_queue_jobs{class=\"$c\",state=\"$s\"}"
    done
done
for conn in command events; do
    [[ -n $(value m0 "tileq_redis_reconnects_total{connection=\"$conn\"}") ]] ||
        it_fail "no tileq_redis_reconnects_total{connection=\"$conn\"}"
done

# ---- a miss and a joined request ----------------------------------------------------------
# A cold z14 metatile (8x8 tiles, the demo's maxzoom) no other test asks for: one not in
# the cache.
Z=14
for ((i = 0; i < 50; i++)); do
    MX=$((8 * (1024 + RANDOM % 128))) MY=$((8 * (672 + RANDOM % 32)))
    compgen -G "$TQ_TEST_CACHE_DIR/demo/$Z/$MX/*" >/dev/null || break
done
T1=/demo/$Z/$MX/$MY.mvt
T2=/demo/$Z/$((MX + 3))/$((MY + 5)).mvt

it_check "before: status" 200 "$(scrape before)"
renders_before=$(sum before 'tileq_worker_renders_total{')
zoom_count_before=$(sum before "tileq_worker_render_duration_seconds_count{")
kill -STOP "${WORKER_PIDS[@]}"
it_fetch "$T1" t1 >"$IT_TMP/t1.status" &
p1=$!
it_fetch "$T2" t2 >"$IT_TMP/t2.status" &
p2=$!
# Both requests wait for the frozen workers (bounded poll, not a timing assertion).
waiters=""
for ((i = 0; i < 200; i++)); do
    scrape waiting >/dev/null
    waiters=$(value waiting tileq_waiters)
    [[ $waiters == 2 ]] && break
    sleep 0.1
done
it_check "while both wait: tileq_waiters" 2 "$waiters"
it_check "while both wait: tileq_pending_metatiles" 1 "$(value waiting tileq_pending_metatiles)"
it_check "while both wait: the job is queued (tileq_queue_jobs interactive queued)" 1 \
    "$(value waiting 'tileq_queue_jobs{class="interactive",state="queued"}')"
check_format waiting
kill -CONT "${WORKER_PIDS[@]}"
wait "$p1" "$p2"
it_check "$T1: status" 200 "$(cat "$IT_TMP/t1.status")"
it_check "$T2: status" 200 "$(cat "$IT_TMP/t2.status")"
labels="$(it_header t1 X-Tileq) $(it_header t2 X-Tileq)"
[[ $labels == "miss joined" || $labels == "joined miss" ]] ||
    it_fail "X-Tileq of the two waiting requests: '$labels', expected one miss and one joined"
it_check "$T1 again: status" 200 "$(it_fetch "$T1" hit)"
it_check "$T1 again: X-Tileq" hit "$(it_header hit X-Tileq)"
it_check "unknown tileset: status" 404 "$(it_fetch /nosuch/1/0/0.mvt unknown)"

it_check "after: status" 200 "$(scrape after)"
check_format after
for s in miss joined hit; do
    key="tileq_http_requests_total{status=\"200\",served=\"$s\"}"
    it_check "$key moved by one" $(($(vnum before "$key") + 1)) "$(vnum after "$key")"
done
key='tileq_http_requests_total{status="404",served="none"}'
it_check "$key moved by one" $(($(vnum before "$key") + 1)) "$(vnum after "$key")"
key='tileq_http_requests_total{status="200",served="none"}'
(($(vnum after "$key") > $(vnum before "$key"))) || it_fail "$key did not count the scrapes"
for s in miss joined; do
    key="tileq_render_wait_seconds_count{served=\"$s\"}"
    it_check "$key moved by one" $(($(vnum before "$key") + 1)) "$(vnum after "$key")"
done
key='tileq_enqueue_total{result="new"}'
it_check "$key moved by one" $(($(vnum before "$key") + 1)) "$(vnum after "$key")"
it_check "after: tileq_waiters" 0 "$(value after tileq_waiters)"
it_check "after: tileq_pending_metatiles" 0 "$(value after tileq_pending_metatiles)"

# ---- the workers' figures show the render (they publish about every second) --------------
# (Wait for this zoom's histogram too: a render of an earlier test published late moves the
# total first.)
z_hist="^tileq_worker_render_duration_seconds_count\\{worker=\"it-worker-[0-9]+\",zoom=\"$Z\"\\} [1-9]"
for ((i = 0; i < 100; i++)); do
    scrape workers >/dev/null
    renders_after=$(sum workers 'tileq_worker_renders_total{')
    awk -v a="$renders_after" -v b="$renders_before" 'BEGIN { exit !(a >= b + 1) }' &&
        grep -qE "$z_hist" "$IT_TMP/workers.metrics" && break
    sleep 0.2
done
awk -v a="$renders_after" -v b="$renders_before" 'BEGIN { exit !(a >= b + 1) }' ||
    it_fail "tileq_worker_renders_total did not move after a render ($renders_before -> $renders_after)"
check_format workers
zoom_count=$(sum workers "tileq_worker_render_duration_seconds_count{")
awk -v a="$zoom_count" -v b="$zoom_count_before" 'BEGIN { exit !(a >= b + 1) }' ||
    it_fail "tileq_worker_render_duration_seconds_count did not move ($zoom_count_before -> $zoom_count)"
grep -qE "$z_hist" "$IT_TMP/workers.metrics" || it_fail "no render duration histogram for zoom $Z"
grep -qE '^tileq_worker_tiles_total\{worker="it-worker-[0-9]+"\} [1-9]' "$IT_TMP/workers.metrics" ||
    it_fail "no tileq_worker_tiles_total > 0"
grep -qE '^tileq_worker_sql_seconds_total\{worker="it-worker-[0-9]+"\} [0-9.e+-]*[1-9]' \
    "$IT_TMP/workers.metrics" || it_fail "no tileq_worker_sql_seconds_total > 0"
it_check "tileq_workers_reporting" "$TQ_TEST_WORKERS" "$(value workers tileq_workers_reporting)"
echo "ok: worker figures: renders $renders_before -> $renders_after"

it_done

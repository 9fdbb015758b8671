#!/usr/bin/env bash
# bench/cold_tile.sh — cold-tile latency through the coordinator ÷ the raw ST_AsMVT query time
# of the same tile (the classic CARTO benchmark tile: 100,000 random points inside z16/0/0).
#
#   bench/cold_tile.sh            (env: RUNS=11 WARMUP=2 FSYNC="on off", TQ_BENCH_BUILD_DIR,
#                                  TQ_BENCH_KEEP=1)
#
# Starts its own PostgreSQL+PostGIS, Redis, one coordinator and one worker (Release build),
# creates bench.points (100,000 points, seeded) and two tilesets over the same one-layer SQL:
# "mt1" (metatile 1) and "mt8" (metatile 8). Then, RUNS times each (after WARMUP runs):
#   raw:  the rendering contract's SQL for 16/0/0 (ST_AsMVT over ST_AsMVTGeom of the layer,
#         buffer 64, extent 4096) over libpq, binary result (tq-bench-sql), client wall time;
#   mtN:  GET /mtN/16/0/0.mvt through the coordinator with the tile cold (the previous run's job
#         finished, its cached tiles and {tq}:done:* key deleted first), curl's time_total;
#         every answer must be 200 + miss. With metatile 8 the answer comes when the worker
#         has rendered that tile alone (the "partial" event), before the other 63.
# The mtN runs are made once per FSYNC mode (the config's cache_fsync, the worker restarted in
# between): "on" fsyncs each tile before its rename and each directory once per batch.
# Each cold fetch is preceded by two raw queries (JIT on, JIT off; warm connections), so the
# series share the machine's moments: the ratio is median(mtN) / the faster of those two
# series' medians (aim: <= 1.10). Prints the medians and those ratios, where the time
# goes (queue, SQL, write, read+send, the rest; see cold()), and fsync on / off. Last,
# tq-bench-tilecheck: what the broken-tile check of a cache hit costs on this tile.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-11}
WARMUP=${WARMUP:-2}
FSYNC=${FSYNC:-on off}
LAYER_SQL='SELECT geom, id FROM bench.points WHERE geom && !BBOX!'

b_build
b_services
echo "loading 100,000 random points inside z16/0/0..."
b_psql <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA bench;
SELECT setseed(0.16);
CREATE TABLE bench.points AS
  SELECT i AS id,
         ST_SetSRID(ST_MakePoint(ST_XMin(e) + random() * (ST_XMax(e) - ST_XMin(e)),
                                 ST_YMin(e) + random() * (ST_YMax(e) - ST_YMin(e))), 3857)::geometry(Point, 3857) AS geom
  FROM generate_series(1, 100000) i, ST_TileEnvelope(16, 0, 0) e;
ALTER TABLE bench.points ADD PRIMARY KEY (id);
CREATE INDEX ON bench.points USING gist (geom);
VACUUM ANALYZE bench.points;
SQL

ts() { # NAME METATILE
    printf '{ name = "%s"; minzoom = 0; maxzoom = 20; metatile = %d; extent = 4096; buffer = 64;
    layers = ( { name = "points"; sql = "%s"; } ); }' "$1" "$2" "$LAYER_SQL"
}
b_config "$(ts mt1 1), $(ts mt8 8)"
b_worker w1
b_coordinator c1

# The contract SQL for 16/0/0.
env="ST_TileEnvelope(16, 0, 0)"
bbox="ST_Expand($env, (2 * 20037508.342789244::float8 / 2 ^ 16) * 64 / 4096)"
layer=${LAYER_SQL//'!BBOX!'/$bbox}
RAW_SQL="SELECT COALESCE((SELECT ST_AsMVT(q, 'points', 4096, 'geom') FROM (SELECT ST_AsMVTGeom(l.geom, $env, 4096, 64, true) AS geom, l.id FROM ($layer) l WHERE l.geom && $bbox) q), ''::bytea)"

# The reference is the faster of PostgreSQL's defaults and JIT off (the worker decides JIT per
# render: on for a one-tile statement, off for a metatile one; a reference slowed by JIT
# compiling would flatter the ratio).
raw_ms="" raw_opts=""
for opts in "" " options='-c jit=off'"; do
    "$BUILD/bench/tq-bench-sql" "$B_CONNINFO$opts" "$WARMUP" "$RAW_SQL" >/dev/null
    raw=$("$BUILD/bench/tq-bench-sql" "$B_CONNINFO$opts" "$RUNS" "$RAW_SQL")
    ms=$(sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' <<<"$raw")
    raw_bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$raw")
    echo "raw query${opts:+ with$opts}: median $ms ms"
    if [[ -z $raw_ms ]] || awk -v a="$ms" -v b="$raw_ms" 'BEGIN { exit !(a < b) }'; then
        raw_ms=$ms raw_opts=$opts
    fi
done

# raw_once: one more raw query with PostgreSQL's defaults and one with JIT off (each on a warm
# connection), in ms, as "on off": taken right before each cold fetch, so that the series
# see the same moments (this VM's query times move by 10-20% from one minute to the next; a
# shared machine's load moves them all alike). The reference is the faster of the two series.
raw_once() {
    local on off
    on=$("$BUILD/bench/tq-bench-sql" "$B_CONNINFO" 1 "$RAW_SQL" 1 |
        sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p')
    off=$("$BUILD/bench/tq-bench-sql" "$B_CONNINFO options='-c jit=off'" 1 "$RAW_SQL" 1 |
        sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p')
    echo "$on $off"
}

# wait_job NAME: until NAME/16/0/0's job is gone (finished), bounded.
wait_job() {
    local i
    for ((i = 0; i < 600; i++)); do
        [[ $(b_redis EXISTS "{tq}:job:$1/16/0/0") == 0 ]] && return 0
        sleep 0.1
    done
}

# cold NAME: one cold fetch of NAME/16/0/0, then one hit of it; prints
# "total_ms queue_ms sql_ms write_ms hit_ms rest_ms jit added_ms": the cold answer's time (curl's
# time_total),
# the job's time in the queue (job_claimed's queued_ms: from the coordinator creating the job
# to the worker's claim, one host's clock), the worker's SQL and cache write of the requested
# tile (job_partial with metatile 8, job_done with metatile 1), and a hit of the same tile right
# after (connect, cache read, send: what the cold answer also does once the tile is written),
# and what is left of the total (this run's: the request up to the enqueue, the completion
# event and the coordinator's wake-up); whether the worker used JIT; total - SQL.
cold() {
    local name=$1 out code xq secs i queued line sql write hit jit
    # An interactive job answers its first tile before it renders the rest of the metatile:
    # let the previous run's job finish first (a request now would wait for it).
    for ((i = 0; i < 600; i++)); do
        [[ $(b_redis EXISTS "{tq}:job:$name/16/0/0") == 0 ]] && break
        sleep 0.1
    done
    rm -rf "${B_DIR:?}/cache/$name/16"
    b_redis DEL "{tq}:done:$name/16/0/0" >/dev/null
    out=$(curl -sS -o "$B_DIR/tile.mvt" -D "$B_DIR/tile.headers" --max-time 120 \
        -w '%{http_code} %{time_total}' "$B_URL/$name/16/0/0.mvt")
    read -r code secs <<<"$out"
    xq=$(awk -F': *' 'tolower($1) == "x-tileq" { sub(/\r$/, "", $2); print $2 }' "$B_DIR/tile.headers")
    [[ $code == 200 && $xq == miss ]] || tq_die "$name/16/0/0: status $code, X-Tileq '$xq'"
    [[ $(stat -c %s "$B_DIR/tile.mvt") == "$raw_bytes" ]] ||
        tq_die "$name/16/0/0: $(stat -c %s "$B_DIR/tile.mvt") bytes, the raw query gives $raw_bytes"
    hit=$(curl -sS -o /dev/null -w '%{time_total}' "$B_URL/$name/16/0/0.mvt")
    wait_job "$name"
    queued=$(grep "event=job_claimed job=$name/16/0/0 " "$B_DIR/w1.log" | tail -n 1 |
        sed -n 's/.* queued_ms=\([0-9-]*\).*/\1/p')
    if [[ $name == mt1 ]]; then
        line=$(grep "event=job_done job=$name/16/0/0 " "$B_DIR/w1.log" | tail -n 1)
    else
        line=$(grep "event=job_partial job=$name/16/0/0 " "$B_DIR/w1.log" | tail -n 1)
    fi
    sql=$(sed -n 's/.* sql_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    write=$(sed -n 's/.* write_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    jit=$(sed -n 's/.* jit=\([01]\).*/\1/p' <<<"$line")
    awk -v s="$secs" -v q="$queued" -v sql="$sql" -v w="$write" -v h="$hit" \
        -v j="${jit:-0}" 'BEGIN { printf "%.1f %.1f %s %s %.1f %.1f %d %.1f\n", s * 1000, q, sql,
                 w, h * 1000, s * 1000 - q - sql - w - h * 1000, j, s * 1000 - sql }'
}

declare -A med
col_median() { # FILE COLUMN
    awk -v c="$2" '{ print $c }' "$1" | b_median
}
for mode in $FSYNC; do
    b_set_fsync "$mode"
    for name in mt1 mt8; do
        for ((i = 0; i < WARMUP; i++)); do cold "$name" >/dev/null; done
        : >"$B_DIR/$name.$mode.times"
        : >"$B_DIR/$name.$mode.raw"
        for ((i = 0; i < RUNS; i++)); do
            raw_once >>"$B_DIR/$name.$mode.raw"
            cold "$name" >>"$B_DIR/$name.$mode.times"
        done
        f=$B_DIR/$name.$mode.times
        med[$name.$mode]=$(col_median "$f" 1)
        med[$name.$mode.raw_on]=$(col_median "$B_DIR/$name.$mode.raw" 1)
        med[$name.$mode.raw_off]=$(col_median "$B_DIR/$name.$mode.raw" 2)
        med[$name.$mode.raw]=$(awk -v a="${med[$name.$mode.raw_on]}" \
            -v b="${med[$name.$mode.raw_off]}" 'BEGIN { print (a < b ? a : b) }')
        med[$name.$mode.queue]=$(col_median "$f" 2)
        med[$name.$mode.sql]=$(col_median "$f" 3)
        med[$name.$mode.write]=$(col_median "$f" 4)
        med[$name.$mode.hit]=$(col_median "$f" 5)
        med[$name.$mode.rest]=$(col_median "$f" 6)
        med[$name.$mode.jit]=$(awk '$7 == 1 { n++ } END { print n + 0 }' "$f")
        med[$name.$mode.over]=$(col_median "$f" 8)
    done
done

echo
echo "cold tile z16/0/0, 100,000 points, tile $raw_bytes bytes; $RUNS runs each (after $WARMUP warm-up), medians:"
printf '  %-40s %7.1f ms (%s)\n' "raw ST_AsMVT query (libpq), first" "$raw_ms" \
    "$([[ -n $raw_opts ]] && echo "JIT off" || echo "JIT on")"
for mode in $FSYNC; do
    for name in mt1 mt8; do
        printf '  %-40s %7.1f ms   raw next to it: JIT on %5.1f, off %5.1f ms   ratio %s\n' \
            "through the coordinator, $name, fsync $mode" "${med[$name.$mode]}" \
            "${med[$name.$mode.raw_on]}" "${med[$name.$mode.raw_off]}" \
            "$(b_div "${med[$name.$mode]}" "${med[$name.$mode.raw]}")"
    done
done
echo "  ratio = median(coordinator) / the faster median of the raw queries (JIT on, JIT off) run"
echo "  right before each fetch; aim <= 1.10"
echo
echo "what tileq adds to the query: median over the runs of (answer time - the worker's SQL time"
echo "of that answer), robust to the query's own noise (this VM's query times swing by 10-30%"
echo "from one run to the next); with SQL/raw ~1 below, (raw + added) / raw is the ratio:"
for mode in $FSYNC; do
    for name in mt1 mt8; do
        printf '  %-40s added %5.1f ms   (raw %5.1f + added) / raw = %s\n' \
            "$name, fsync $mode" "${med[$name.$mode.over]}" "${med[$name.$mode.raw]}" \
            "$(awk -v r="${med[$name.$mode.raw]}" -v o="${med[$name.$mode.over]}" \
                'BEGIN { printf "%.3f", (r + o) / r }')"
    done
done
echo
echo "where the time goes (medians, ms): queue = the job's creation by the coordinator to the"
echo "worker's claim; SQL and write = the worker's, of the requested tile; read+send = a hit of the"
echo "tile right after (connect, cache read, send); rest = total - those, per run (the request up to"
echo "the enqueue, the completion event, the coordinator's wake-up); each column is its own median,"
echo "so they need not add up:"
printf '  %-16s %8s %8s %8s %8s %10s %8s %8s %6s\n' "" total queue SQL write read+send rest \
    "SQL/raw" "JIT"
for mode in $FSYNC; do
    for name in mt1 mt8; do
        printf '  %-16s %8.1f %8.1f %8.1f %8.1f %10.1f %8.1f %8s %3s/%s\n' "$name fsync $mode" \
            "${med[$name.$mode]}" "${med[$name.$mode.queue]}" "${med[$name.$mode.sql]}" \
            "${med[$name.$mode.write]}" "${med[$name.$mode.hit]}" \
            "${med[$name.$mode.rest]}" \
            "$(b_div "${med[$name.$mode.sql]}" "${med[$name.$mode.raw]}")" "${med[$name.$mode.jit]}" "$RUNS"
    done
done
if [[ $FSYNC == "on off" ]]; then
    for name in mt1 mt8; do
        printf '  %s: fsync on / off %s (%+.1f ms)\n' "$name" \
            "$(b_div "${med[$name.on]}" "${med[$name.off]}")" \
            "$(awk -v a="${med[$name.on]}" -v b="${med[$name.off]}" 'BEGIN { print a - b }')"
    done
fi
echo
echo "broken-tile check of a cache hit on this tile (tq-bench-tilecheck, Release):"
"$BUILD/bench/tq-bench-tilecheck" 20 "$B_DIR/tile.mvt"

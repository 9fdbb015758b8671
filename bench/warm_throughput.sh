#!/usr/bin/env bash
# bench/warm_throughput.sh — `tileq warm --wait` throughput over a region at z0–z12:
# metatile 8 ÷ metatile 1, and ÷ one SQL per tile (the rendering contract's statement, as
# tests/integration/lib.sh writes it) run back to back over the same number of connections.
#
#   bench/warm_throughput.sh   (env: ROUNDS=3 WORKERS=2 SCALE=1 ZMIN=0 ZMAX=12
#                               BBOX="1.0 48.0 4.0 50.0" (west south east north),
#                               FSYNC="on off", TQ_BENCH_BUILD_DIR, TQ_BENCH_KEEP=1)
#
# Own PostgreSQL+PostGIS (demo data at SCALE), Redis and WORKERS workers (Release build, see
# bench/lib.sh); tilesets "mt1" and "mt8" with the demo layers. Each round, cache and queue
# emptied first: `tileq warm --tileset mtN --bbox … --zoom ZMIN-ZMAX --wait` (its own
# tiles/s figure: tiles rendered / wall time from the first enqueue to the last completion,
# the feeder's low-water mark at its default); then the tiles of the bbox (what mt1 renders)
# as one contract SQL each, split over WORKERS psql sessions running in parallel, each
# statement after the other. The warms are made once per FSYNC mode each round (the config's
# cache_fsync, workers restarted in between; the order of the modes alternates between
# rounds). Prints per round and the medians, the two ratios, and fsync on / off.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-2}
ZMIN=${ZMIN:-0}
ZMAX=${ZMAX:-12}
read -r WEST SOUTH EAST NORTH <<<"${BBOX:-1.0 48.0 4.0 50.0}"
read -r -a MODES <<<"${FSYNC:-on off}"

b_build
cmake --build "$BUILD" -j2 --target tileq >/dev/null || tq_die "building tileq failed"
b_services
b_demo_mt "$WORKERS"

# The tiles "z x y" of the bbox at zoom z.
tiles_of_bbox() {
    awk -v w="$WEST" -v s="$SOUTH" -v e="$EAST" -v n="$NORTH" -v z="$1" 'BEGIN {
        pi = atan2(0, -1); N = 2 ^ z
        x0 = int((w + 180) / 360 * N); x1 = int((e + 180) / 360 * N); if (x1 >= N) x1 = N - 1
        y0 = int((1 - log(sin(n * pi / 180) / cos(n * pi / 180) + 1 / cos(n * pi / 180)) / pi) / 2 * N)
        y1 = int((1 - log(sin(s * pi / 180) / cos(s * pi / 180) + 1 / cos(s * pi / 180)) / pi) / 2 * N)
        if (y1 >= N) y1 = N - 1
        for (y = y0; y <= y1; y++) for (x = x0; x <= x1; x++) print z, x, y }'
}

# The rendering contract's statement for one tile (extent 4096, buffer 64).
contract_sql() {
    local z=$1 x=$2 y=$3 env bbox sql name attrs out=""
    env="ST_TileEnvelope($z, $x, $y)"
    bbox="ST_Expand($env, (2 * 20037508.342789244::float8 / 2 ^ $z) * 64 / 4096)"
    for name in areas roads places; do
        case $name in
        areas) sql=$B_L_AREAS attrs="l.name, l.kind" ;;
        roads) sql=$B_L_ROADS attrs="l.name, l.kind" ;;
        places) sql=$B_L_PLACES attrs="l.name, l.kind, l.population" ;;
        esac
        sql=${sql//'!BBOX!'/$bbox}
        sql=${sql//'!ZOOM!'/$z}
        out+="${out:+ || }COALESCE((SELECT ST_AsMVT(q, '$name', 4096, 'geom') FROM"
        out+=" (SELECT ST_AsMVTGeom(l.geom, $env, 4096, 64, true) AS geom, $attrs"
        out+=" FROM ($sql) l WHERE l.geom && $bbox) q), ''::bytea)"
    done
    printf 'SELECT length(%s);\n' "$out"
}

ntiles=0
for ((z = ZMIN; z <= ZMAX; z++)); do tiles_of_bbox "$z"; done >"$B_DIR/tiles.txt"
ntiles=$(wc -l <"$B_DIR/tiles.txt")
for ((i = 0; i < WORKERS; i++)); do : >"$B_DIR/sql$i.sql"; done
i=0
while read -r z x y; do
    contract_sql "$z" "$x" "$y" >>"$B_DIR/sql$((i % WORKERS)).sql"
    i=$((i + 1))
done <"$B_DIR/tiles.txt"
echo "bbox $WEST,$SOUTH,$EAST,$NORTH z$ZMIN-$ZMAX: $ntiles tiles; $WORKERS workers / connections"

warm_rate() { # TILESET: tiles/s of one warm from empty
    b_redis FLUSHALL >/dev/null
    rm -rf "$B_DIR/cache/$1"
    local out
    out=$("$BUILD/cli/tileq" -c "$B_DIR/tileq.conf" warm --tileset "$1" \
        --bbox "$WEST,$SOUTH,$EAST,$NORTH" --zoom "$ZMIN-$ZMAX" --wait 2>/dev/null) ||
        tq_die "tileq warm failed: $out"
    sed -n 's/.*; \([0-9]*\) tiles rendered in \([0-9.]*\) s (\([0-9.]*\) tiles\/s).*/\1 \2 \3/p' <<<"$out"
}

sql_rate() { # one contract statement per tile, WORKERS sessions in parallel
    local t0 t1 i pids=()
    t0=$(date +%s.%N)
    for ((i = 0; i < WORKERS; i++)); do
        b_psql -f "$B_DIR/sql$i.sql" >/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || tq_die "per-tile SQL failed"; done
    t1=$(date +%s.%N)
    awk -v n="$ntiles" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d %.3f %.1f\n", n, b - a, n / (b - a) }'
}

: >"$B_DIR/rs"
for mode in "${MODES[@]}"; do : >"$B_DIR/r8.$mode" && : >"$B_DIR/r1.$mode"; done
sql_rate >/dev/null # warm PostgreSQL's caches once
for ((r = 1; r <= ROUNDS; r++)); do
    order=("${MODES[@]}")
    ((r % 2 == 0 && ${#MODES[@]} == 2)) && order=("${MODES[1]}" "${MODES[0]}")
    for mode in "${order[@]}"; do
        b_set_fsync "$mode"
        read -r t8 s8 v8 < <(warm_rate mt8)
        read -r t1 s1 v1 < <(warm_rate mt1)
        printf 'round %d, fsync %s: metatile 8: %s tiles in %s s = %s tiles/s; metatile 1: %s tiles in %s s = %s tiles/s\n' \
            "$r" "$mode" "$t8" "$s8" "$v8" "$t1" "$s1" "$v1"
        echo "$v8" >>"$B_DIR/r8.$mode"
        echo "$v1" >>"$B_DIR/r1.$mode"
    done
    read -r ts ss vs < <(sql_rate)
    printf 'round %d: per-tile SQL: %s tiles in %s s = %s tiles/s\n' "$r" "$ts" "$ss" "$vs"
    echo "$vs" >>"$B_DIR/rs"
done
ms=$(b_median <"$B_DIR/rs")
declare -A m8 m1
for mode in "${MODES[@]}"; do
    m8[$mode]=$(b_median <"$B_DIR/r8.$mode")
    m1[$mode]=$(b_median <"$B_DIR/r1.$mode")
    echo "medians over $ROUNDS rounds, fsync $mode: metatile 8 ${m8[$mode]} tiles/s, metatile 1 ${m1[$mode]} tiles/s, per-tile SQL $ms tiles/s"
    echo "  warm metatile 8 / metatile 1:   $(b_div "${m8[$mode]}" "${m1[$mode]}")"
    echo "  warm metatile 8 / per-tile SQL: $(b_div "${m8[$mode]}" "$ms")"
done
if [[ ${MODES[*]} == "on off" ]]; then
    echo "fsync on / off: metatile 8 $(b_div "${m8[on]}" "${m8[off]}"), metatile 1 $(b_div "${m1[on]}" "${m1[off]}")"
fi

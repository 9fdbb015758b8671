#!/usr/bin/env bash
# bench/metatile_throughput.sh — rendering throughput with metatile 8 ÷ with metatile 1, over
# a z8–z12 area of the demo data.
#
#   bench/metatile_throughput.sh   (env: ROUNDS=3 WORKERS=2 SCALE=1 ZMIN=8 ZMAX=12
#                                   BBOX="1.0 48.0 4.0 50.0" (west south east north),
#                                   TQ_BENCH_BUILD_DIR, TQ_BENCH_KEEP=1)
#
# Starts its own PostgreSQL+PostGIS (demo data, sql/demo_data.sql at SCALE), Redis and WORKERS
# workers (Release build); two tilesets with the demo layers: "mt1" (metatile 1) and "mt8"
# (metatile 8). Each round, for each tileset (cache and queue emptied first): enqueue every
# metatile job covering BBOX at ZMIN..ZMAX (tq-bench-enqueue, the queue's ENQUEUE script),
# then wait until the queue is drained (no job queued or running). Reports, as medians over
# ROUNDS:
#   tiles/s      tiles rendered (every tile of every metatile) / wall time
#   area time    wall time to render every tile of the area (metatile 8 renders some tiles
#                outside it as well: this is the ratio a user waiting for the area sees)
# and the ratios mt8 ÷ mt1. Aim: tiles/s ratio >= 4.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-2}
ZMIN=${ZMIN:-8}
ZMAX=${ZMAX:-12}
read -r WEST SOUTH EAST NORTH <<<"${BBOX:-1.0 48.0 4.0 50.0}"

b_build
b_services
b_demo_mt "$WORKERS"

# drain_wait: until nothing is queued or running (bounded: 30 min).
drain_wait() {
    local i n
    for ((i = 0; i < 90000; i++)); do
        n=$(b_redis EVAL "return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) +
            redis.call('LLEN', KEYS[3]) + redis.call('ZCARD', KEYS[4])" 4 '{tq}:q:interactive' \
            '{tq}:q:dirty' '{tq}:q:bulk' '{tq}:running')
        [[ $n == 0 ]] && return 0
        sleep 0.02
    done
    tq_die "queue not drained after 30 min"
}

now() { date +%s.%N; }

# round NAME: one timed render of the area; appends "tiles seconds area_tiles jobs" to
# $B_DIR/NAME.runs.
round() {
    local name=$1 out t0 t1 jobs tiles area dead
    rm -rf "${B_DIR:?}/cache/$name"
    b_redis FLUSHDB >/dev/null
    t0=$(now)
    out=$("$BUILD/bench/tq-bench-enqueue" "redis://127.0.0.1:$B_REDIS_PORT/0" "$name" \
        "${name#mt}" "$ZMIN" "$ZMAX" "$WEST" "$SOUTH" "$EAST" "$NORTH")
    drain_wait
    t1=$(now)
    dead=$(b_redis ZCARD '{tq}:dead')
    [[ $dead == 0 ]] || tq_die "$name: $dead jobs dead-lettered"
    jobs=$(sed -n 's/.*jobs=\([0-9]*\).*/\1/p' <<<"$out")
    tiles=$(sed -n 's/.*tiles=\([0-9]*\) .*/\1/p' <<<"$out")
    area=$(sed -n 's/.*area_tiles=\([0-9]*\).*/\1/p' <<<"$out")
    local cached
    cached=$(find "$B_DIR/cache/$name" -type f | wc -l)
    [[ $cached == "$tiles" ]] || tq_die "$name: $cached tiles in the cache, expected $tiles"
    echo "$tiles $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $area $jobs" \
        >>"$B_DIR/$name.runs"
    echo "  round: $name jobs=$jobs tiles=$tiles in $(tail -n 1 "$B_DIR/$name.runs" | cut -d' ' -f2) s"
}

# A warm-up (the data into shared buffers, plans prepared) that is not counted.
round mt8 >/dev/null
round mt1 >/dev/null
rm -f "$B_DIR"/mt*.runs
for ((r = 0; r < ROUNDS; r++)); do
    if ((r % 2)); then round mt8; round mt1; else round mt1; round mt8; fi
done

declare -A tps secs
for name in mt1 mt8; do
    tps[$name]=$(awk '{ print $1 / $2 }' "$B_DIR/$name.runs" | b_median)
    secs[$name]=$(awk '{ print $2 }' "$B_DIR/$name.runs" | b_median)
done
read -r t1 _ area1 jobs1 <"$B_DIR/mt1.runs"
read -r t8 _ area8 jobs8 <"$B_DIR/mt8.runs"
echo
echo "demo data (scale ${SCALE:-1}), z$ZMIN-z$ZMAX over lon $WEST..$EAST lat $SOUTH..$NORTH ($area1 tiles)," \
    "$WORKERS workers, $ROUNDS rounds, medians:"
printf '  %-12s %6s jobs %6s tiles %9.2f s %10.1f tiles/s\n' mt1 "$jobs1" "$t1" "${secs[mt1]}" "${tps[mt1]}"
printf '  %-12s %6s jobs %6s tiles %9.2f s %10.1f tiles/s\n' mt8 "$jobs8" "$t8" "${secs[mt8]}" "${tps[mt8]}"
echo "  tiles/s ratio mt8/mt1: $(b_div "${tps[mt8]}" "${tps[mt1]}")   (aim >= 4)"
echo "  area time ratio mt1/mt8: $(b_div "${secs[mt1]}" "${secs[mt8]}")"

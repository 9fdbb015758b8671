#!/usr/bin/env bash
# bench/watch_trigger.sh — what `tileq watch install`'s triggers cost the writer: a
# 100,000-row UPDATE on a watched table against the same UPDATE on an identical table
# without triggers, alternating, RUNS times each (default 9); medians and their ratio.
#
#   bench/watch_trigger.sh            # RUNS=9 ROWS=100000
#
# Two tables with the same 100,000 random points (seeded, EPSG:4326, so the trigger's
# extents are transformed to 3857 as for most user data), a GiST index and a text column:
# bench.watched (read by the tileset of the config, so `tileq watch install` puts its three
# triggers on it) and bench.plain (read by no tileset: no trigger). Each run updates every
# row's text (a new row version each, as an application's bulk edit does) and its geometry
# in place, timed over libpq by tq-bench-sql (client side, to the end of the statement;
# autocommit, so the COMMIT is included; as `WITH u AS (UPDATE … RETURNING 1) SELECT count(*)`
# because tq-bench-sql wants a result). VACUUM after each pair keeps the tables' sizes
# alike. Read: ratio = median(watched) / median(plain) - the trigger's cost is the scans of
# the transition tables for two ST_Extent and one row in tileq.changes per statement.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-9}
ROWS=${ROWS:-100000}

b_build
cmake --build "$BUILD" -j2 --target tileq >/dev/null || tq_die "build of tileq failed"
b_services
b_psql -c "CREATE SCHEMA bench;
    SELECT setseed(0.42);
    CREATE TABLE bench.watched AS SELECT g AS id, 'p' || g AS name,
        ST_SetSRID(ST_MakePoint(random() * 360 - 180, random() * 170 - 85), 4326)::geometry(Point, 4326) AS geom
        FROM generate_series(1, $ROWS) g;
    CREATE TABLE bench.plain AS TABLE bench.watched;
    ALTER TABLE bench.watched ADD PRIMARY KEY (id);
    ALTER TABLE bench.plain ADD PRIMARY KEY (id);
    CREATE INDEX ON bench.watched USING gist (geom);
    CREATE INDEX ON bench.plain USING gist (geom);" >/dev/null
b_psql -c "VACUUM ANALYZE bench.watched" -c "VACUUM ANALYZE bench.plain" >/dev/null
b_config '{ name = "w"; minzoom = 0; maxzoom = 14;
    layers = ( { name = "p"; sql = "SELECT ST_Transform(geom, 3857) AS geom, name FROM bench.watched WHERE geom && ST_Transform(!BBOX!, 4326)"; } ); }'
"$BUILD/cli/tileq" -c "$B_DIR/tileq.conf" watch install || tq_die "watch install failed"
[[ $(b_psql -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'bench.watched'::regclass AND tgname LIKE 'tileq_watch%'") == 3 ]] ||
    tq_die "bench.watched has not its 3 triggers"
[[ $(b_psql -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'bench.plain'::regclass AND NOT tgisinternal") == 0 ]] ||
    tq_die "bench.plain has triggers"

one() { # one TABLE: ms of one UPDATE of every row
    "$BUILD/bench/tq-bench-sql" "$B_CONNINFO" 1 \
        "WITH u AS (UPDATE bench.$1 SET name = name || '.', geom = ST_Translate(geom, 0.0001, 0)
         RETURNING 1) SELECT count(*) FROM u" |
        sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

one watched >/dev/null # warm-up: caches, plans
one plain >/dev/null
: >"$B_DIR/watched.ms"
: >"$B_DIR/plain.ms"
for ((i = 1; i <= RUNS; i++)); do
    # Alternate which goes first, so a drift in the machine's load hits both alike.
    if ((i % 2)); then
        one watched >>"$B_DIR/watched.ms"
        one plain >>"$B_DIR/plain.ms"
    else
        one plain >>"$B_DIR/plain.ms"
        one watched >>"$B_DIR/watched.ms"
    fi
    b_psql -c "VACUUM bench.watched" -c "VACUUM bench.plain" >/dev/null
done
changes=$(b_psql -c "SELECT count(*) FROM tileq.changes")
w=$(median <"$B_DIR/watched.ms")
p=$(median <"$B_DIR/plain.ms")
echo "watched (3 triggers): $(tr '\n' ' ' <"$B_DIR/watched.ms")ms"
echo "plain (no trigger):   $(tr '\n' ' ' <"$B_DIR/plain.ms")ms"
echo "change rows recorded: $changes (one per UPDATE of the watched table)"
awk -v w="$w" -v p="$p" -v n="$ROWS" 'BEGIN {
    printf "%d-row UPDATE, median of %d: watched %.1f ms, plain %.1f ms, ratio %.3f\n", n, '"$RUNS"', w, p, w / p }'

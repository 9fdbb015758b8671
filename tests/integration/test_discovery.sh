#!/usr/bin/env bash
# With no tileset in the config, every table in geometry_columns is published as a
# one-layer tileset (tq_discover.h), by the coordinator and the worker alike. Starts its own
# coordinator and worker on the fixture's PostgreSQL with such a config, on Redis database 1
# and a cache dir of its own (so the fixture's workers never see these jobs; the coordinator
# first, alone: live (/health) but not ready (/ready 503, saying why) until the worker has
# published the layer schemas), plus a table in
# EPSG:4326 and one without a primary key; checks the catalog, a TileJSON (fields, bounds
# from the table's extent) and tiles equal to the rendering contract's bytes over the
# discovered layer SQL (ST_Transform to 3857 for the 4326 table). Needs jq.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$TQ_SOURCE_DIR/deploy/stack.sh"

D=$IT_TMP/disc
mkdir -p "$D/cache"
cleanup() {
    tq_stop_pidfile "$D/coordinator.pid" 20 || true
    tq_stop_pidfile "$D/worker.pid" 20 || true
    it_psql -c "DROP SCHEMA IF EXISTS tqdisc CASCADE" >/dev/null 2>&1 || true
    local status=0 f
    for f in "$D"/*.log; do
        [[ -e $f ]] || continue
        cp "$f" "$TQ_BUILD_DIR/tests/integration/discovery_$(basename "$f")" || true
        tq_sanitizer_report "$f" "FAIL: sanitizer report in $(basename "$f"):" 30 80 || status=1
    done
    rm -rf "$IT_TMP"
    ((status == 0)) || exit 1
}
trap cleanup EXIT

it_psql <<'SQL' >/dev/null
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS tqdisc CASCADE;
CREATE SCHEMA tqdisc;
-- lon/lat points around Paris, with a primary key
CREATE TABLE tqdisc.spots (id integer PRIMARY KEY, label text, rank double precision, open boolean,
                           geom geometry(Point, 4326));
INSERT INTO tqdisc.spots
SELECT i, 'spot ' || i, i / 10.0, i % 2 = 0,
       ST_SetSRID(ST_MakePoint(2.25 + (i % 10) * 0.02, 48.80 + (i / 10) * 0.015), 4326)
FROM generate_series(0, 99) i;
-- no primary key: ordered by ctid
CREATE TABLE tqdisc.nokey (label text, geom geometry(LineString, 3857));
INSERT INTO tqdisc.nokey VALUES
  ('a', ST_Transform(ST_SetSRID(ST_MakeLine(ST_MakePoint(2.3, 48.8), ST_MakePoint(2.4, 48.9)), 4326), 3857)),
  ('b', ST_Transform(ST_SetSRID(ST_MakeLine(ST_MakePoint(2.3, 48.9), ST_MakePoint(2.4, 48.8)), 4326), 3857));
-- a hostile name (issue 16): a newline and a forged log line in it, geometry without SRID (so
-- discovery skips it with a log line that names it, and the catalog is unchanged)
CREATE TABLE tqdisc."evil
2024-05-01T10:00:00Z level=error event=forged x=1" (geom geometry(Point));
ANALYZE tqdisc.spots;
ANALYZE tqdisc.nokey;
ANALYZE demo.points;
SQL

tq_free_port port
cat >"$D/tileq.conf" <<EOF
redis_url   = "redis://127.0.0.1:$TQ_TEST_REDIS_PORT/1";
pg_conninfo = "host=127.0.0.1 port=$TQ_TEST_PG_PORT dbname=tileq user=tileq";
cache_dir   = "$D/cache";
listen      = "127.0.0.1:$port";
# no tilesets: discovered from geometry_columns
EOF
it_redis -n 1 FLUSHDB >/dev/null
tq_start_bg "$D/coordinator.pid" "$D/coordinator.log" \
    "$TQ_BUILD_DIR/coordinator/tileq-coordinator" -c "$D/tileq.conf"
tq_wait_http "http://127.0.0.1:$port/health" 60 "$D/coordinator.pid" "$D/coordinator.log"
B=http://127.0.0.1:$port
get() { # get PATH NAME [curl args]: status; body in $IT_TMP/NAME.body
    curl -sS --max-time 120 -o "$IT_TMP/$2.body" -D "$IT_TMP/$2.headers" -w '%{http_code}' \
        "${@:3}" "$B$1" || true
}

# Live, not ready, until a worker has published the tilesets' layer schemas.
it_check "no worker yet: /health (live)" 200 "$(get /health live)"
it_check "no worker yet: /ready" 503 "$(get /ready notready)"
it_check "no worker yet: /ready says why" 1 \
    "$(grep -c '^not ready: the layer schema of tileset .* is not published yet' "$IT_TMP/notready.body")"
TQ_WORKER_ID=disc-worker tq_start_bg "$D/worker.pid" "$D/worker.log" \
    "$TQ_BUILD_DIR/worker/tileq-worker" -c "$D/tileq.conf"
for _ in $(seq 1 600); do
    [[ $(get /ready ready) == 200 ]] && break
    sleep 0.1
done
it_check "worker up: /ready" "200 ready" "$(get /ready ready) $(cat "$IT_TMP/ready.body")"

it_check "catalog: status" 200 "$(get /catalog cat)"
it_check "catalog: one tileset per geometry column, ordered by schema and table" \
    '["areas","cities","land","points","roads","nokey","spots"]' \
    "$(jq -c '[.tilesets[].name]' "$IT_TMP/cat.body")"
it_check "catalog: each has one layer named like it" "true" \
    "$(jq -c '[.tilesets[] | .layers == [.name]] | all' "$IT_TMP/cat.body")"
# The hostile table name is quoted in the log line that skips it: no forged line.
it_check "discovery: a table name with a newline is logged quoted" 1 \
    "$(grep -cF 'event=discover_skip table="tqdisc.evil\n2024-05-01T10:00:00Z level=error event=forged x=1" column=geom reason=unknown_srid' "$D/coordinator.log")"
it_check "discovery: no log line forged by a table name" 0 \
    "$(grep -c '^2024-05-01T10:00:00Z level=error event=forged' "$D/coordinator.log" || true)"

# The worker publishes the layer schemas once it has prepared the tilesets.
for _ in $(seq 1 120); do
    [[ $(get /spots.json spots) == 200 ]] && break
    sleep 0.5
done
it_check "spots.json: status" 200 "$(get /spots.json spots)"
S=$IT_TMP/spots.body
it_check "spots.json: vector_layers" \
    '[{"id":"spots","fields":{"id":"Number","label":"String","rank":"Number","open":"Boolean"},"minzoom":0,"maxzoom":14}]' \
    "$(jq -c .vector_layers "$S")"
# ST_EstimatedExtent: the data's extent (2.25 48.8 2.43 48.935), a little larger.
it_check "spots.json: bounds hold the table's extent, within 0.01°" true \
    "$(jq '.bounds as [$w, $s, $e, $n] | $w <= 2.25 and $w > 2.24 and $s <= 48.8 and $s > 48.79
           and $e >= 2.43 and $e < 2.44 and $n >= 48.935 and $n < 48.945' "$S")"
it_check "spots.json: center in the middle of the bounds" true \
    "$(jq '(.center[0] - (.bounds[0] + .bounds[2]) / 2 | fabs) < 1e-6 and
           (.center[1] - (.bounds[1] + .bounds[3]) / 2 | fabs) < 1e-6' "$S")"
it_check "points.json: fields of demo.points" \
    '{"id":"Number","name":"String","kind":"String","population":"Number","minzoom":"Number"}' \
    "$(get /points.json points >/dev/null; jq -c '.vector_layers[0].fields' "$IT_TMP/points.body")"

# contract Z X Y LAYER LAYER-SQL ATTRS: the contract's tile bytes (hex) for one layer.
contract() {
    local z=$1 x=$2 y=$3 name=$4 sql=$5 attrs=$6
    local env="ST_TileEnvelope($z, $x, $y)"
    local bbox="ST_Expand($env, (2 * 20037508.342789244::float8 / 2 ^ $z) * 64 / 4096)"
    sql=${sql//'!BBOX!'/$bbox}
    it_psql -c "SELECT encode(COALESCE((SELECT ST_AsMVT(q, '$name', 4096, 'geom') FROM
        (SELECT ST_AsMVTGeom(l.geom, $env, 4096, 64, true) AS geom, $attrs
         FROM ($sql) l WHERE l.geom && $bbox) q), ''::bytea), 'hex')"
}
for zxy in "12 2074 1409" "14 8297 5636" "10 518 352"; do
    read -r z x y <<<"$zxy"
    exp=$(contract "$z" "$x" "$y" spots \
        "SELECT ST_Transform(geom, 3857) AS geom, id, label, rank, open FROM tqdisc.spots WHERE geom && ST_Transform(!BBOX!, 4326) ORDER BY id" \
        "l.id, l.label, l.rank, l.open")
    [[ -n $exp ]] || it_fail "spots $z/$x/$y: the contract gives an empty tile; pick another"
    it_check "spots/$z/$x/$y: status" 200 "$(get "/spots/$z/$x/$y.mvt" "s_$z")"
    it_check "spots/$z/$x/$y (EPSG:4326 table): bytes equal the contract SQL's" "$exp" \
        "$(it_hex "$IT_TMP/s_$z.body")"
done
exp=$(contract 10 518 352 nokey \
    "SELECT geom AS geom, label FROM tqdisc.nokey WHERE geom && !BBOX! ORDER BY ctid" "l.label")
it_check "nokey/10/518/352: status" 200 "$(get /nokey/10/518/352.mvt nk)"
it_check "nokey/10/518/352 (no primary key): bytes equal the contract SQL's" "$exp" \
    "$(it_hex "$IT_TMP/nk.body")"
exp=$(contract 10 518 352 roads \
    "SELECT geom AS geom, id, name, kind, minzoom FROM demo.roads WHERE geom && !BBOX! ORDER BY id" \
    "l.id, l.name, l.kind, l.minzoom")
it_check "roads/10/518/352: status" 200 "$(get /roads/10/518/352.mvt rd)"
it_check "roads/10/518/352: bytes equal the contract SQL's" "$exp" "$(it_hex "$IT_TMP/rd.body")"
it_check "the fixture's tileset is not published here" 404 "$(get /demo/0/0/0.mvt demo)"

it_done

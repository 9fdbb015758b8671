#!/usr/bin/env bash
# Metatile rendering = per-tile rendering contract, byte for byte, on awkward data.
#
# A private stack (queue/qlib.sh: own Redis, one worker, one coordinator, the fixture's
# PostgreSQL) with three tilesets over the same layers, metatile 8, 3 and 1 (metatile 1 uses
# the one-tile statement; 3 gives metatiles cut by the grid's edge), extent/buffer varied.
# Table tqmi.f holds points on tile edges and corners, at the margin (just inside, on, just
# outside) for several zooms, near the origin (a tile corner at every zoom) and near the
# world's top-left corner (clamped metatiles), lines along tile edges and across many tiles,
# a polygon with a hole that swallows whole tiles (ST_AsMVTGeom gives NULL there), polygons
# that collapse to nothing when clipped/snapped, tile-sized polygons, a NULL and an EMPTY
# geometry. Layers: one with a column named tq_rn (the statement's own column prefix must
# step aside) and one with an odd quoted name, one gated to z4-z12, one always empty, one
# using !ZOOM! and a descending ORDER BY (feature order).
# Every tile of z0-z3 and windows of tiles around the origin and the top-left corner at
# z5, z8, z12, z16 are fetched through the coordinator (so every one of them was rendered by
# a metatile statement) and compared with the contract SQL of that tile alone.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"

q_init metatile_identity

it_psql <<'SQL' >/dev/null
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS tqmi CASCADE;
CREATE SCHEMA tqmi;
CREATE TABLE tqmi.f (id serial PRIMARY KEY, name text, geom geometry(Geometry, 3857));
-- Points around tile edges/corners and margins near the origin and near the world's
-- top-left corner, for several zooms.
INSERT INTO tqmi.f (name, geom)
SELECT 'p' || z || ':' || k || ':' || j,
       ST_SetSRID(ST_MakePoint(ox + k * w + dx * m, oy + j * w + dy * m), 3857)
FROM (VALUES (3), (5), (8), (12), (16)) zz(z),
     LATERAL (SELECT 2 * 20037508.342789244 / 2 ^ z AS w,
                     2 * 20037508.342789244 / 2 ^ z * 64 / 4096 AS m) s,
     (VALUES (0.0, 0.0), (-20037508.342789244, 20037508.342789244)) o(ox, oy),
     generate_series(-1, 1) k, generate_series(-1, 1) j,
     unnest(ARRAY[-1.001, -1, -0.999, -0.5, -0.0001, 0, 0.0001, 0.5, 0.999, 1, 1.001]) dx,
     unnest(ARRAY[-1.001, -0.5, 0, 0.5, 1.001]) dy;
-- Random points around the origin.
SELECT setseed(0.42);
INSERT INTO tqmi.f (name, geom)
SELECT CASE WHEN i % 4 = 0 THEN NULL ELSE 'r' || i END,
       ST_SetSRID(ST_MakePoint((random() - 0.5) * 8e5, (random() - 0.5) * 8e5), 3857)
FROM generate_series(1, 3000) i;
-- Lines along tile edges and across many tiles.
INSERT INTO tqmi.f (name, geom) VALUES
  ('edge-h', ST_GeomFromText('LINESTRING(-1000000 0, 1000000 0)', 3857)),
  ('edge-v', ST_GeomFromText('LINESTRING(0 -1000000, 0 1000000)', 3857)),
  ('edge-z8', ST_SetSRID(ST_MakeLine(ST_MakePoint(-2e6, 156543.03392804097), ST_MakePoint(2e6, 156543.03392804097)), 3857)),
  ('world-top', ST_GeomFromText('LINESTRING(-20037508.342789244 20037508.342789244, 0 20037508.342789244)', 3857)),
  ('world-left', ST_GeomFromText('LINESTRING(-20037508.342789244 20037508.342789244, -20037508.342789244 0)', 3857)),
  ('diag', ST_GeomFromText('LINESTRING(-3000000 -2000000, 3000000 2500000)', 3857)),
  ('diag2', ST_GeomFromText('LINESTRING(-19000000 19500000, 1000 -700, 2500000 -3000000)', 3857));
INSERT INTO tqmi.f (name, geom)
SELECT 'line' || i, ST_SetSRID(ST_MakeLine(ST_MakePoint((random() - 0.5) * 2e6, (random() - 0.5) * 2e6),
                                           ST_MakePoint((random() - 0.5) * 2e6, (random() - 0.5) * 2e6)), 3857)
FROM generate_series(1, 40) i;
-- Polygons: a hole that contains whole tiles at high zoom (clipped to nothing there),
-- tiny ones that vanish when snapped, tile-sized ones, big ones over many tiles.
INSERT INTO tqmi.f (name, geom) VALUES
  ('holed', ST_GeomFromText('POLYGON((-3000000 -3000000, 3000000 -3000000, 3000000 3000000, -3000000 3000000, -3000000 -3000000),
                                      (-2000 -2000, 2000 -2000, 2000 2000, -2000 2000, -2000 -2000))', 3857)),
  ('tiny', ST_GeomFromText('POLYGON((10 10, 10.001 10, 10.001 10.001, 10 10.001, 10 10))', 3857)),
  ('tiny-edge', ST_GeomFromText('POLYGON((-0.0005 -0.0005, 0.0005 -0.0005, 0.0005 0.0005, -0.0005 0.0005, -0.0005 -0.0005))', 3857)),
  ('tile-z8', ST_TileEnvelope(8, 128, 127)),
  ('tile-z12', ST_TileEnvelope(12, 2047, 2048)),
  ('corner-tile-z5', ST_TileEnvelope(5, 0, 0)),
  ('null', NULL),
  ('empty', 'SRID=3857;POLYGON EMPTY'::geometry);
INSERT INTO tqmi.f (name, geom)
SELECT 'poly' || i, ST_Buffer(ST_SetSRID(ST_MakePoint((random() - 0.5) * 2e6, (random() - 0.5) * 2e6), 3857),
                              random() * 3e5, 3)
FROM generate_series(1, 30) i;
CREATE INDEX ON tqmi.f USING gist (geom);
ANALYZE tqmi.f;
SQL

# Layers: name | sql | attributes (contract select list) | minzoom | maxzoom
LAYERS=(
    'features|SELECT geom, id, name, id * 7 AS tq_rn, upper(name) AS \"Odd Name\" FROM tqmi.f WHERE geom && !BBOX! ORDER BY id|l.id, l.name, l.tq_rn, l."Odd Name"|0|20'
    'gated|SELECT geom, id FROM tqmi.f WHERE geom && !BBOX! AND id % 3 = 0 ORDER BY id|l.id|4|12'
    'nothing|SELECT geom, id FROM tqmi.f WHERE geom && !BBOX! AND id < 0 ORDER BY id|l.id|0|20'
    'zoomed|SELECT geom, !ZOOM! AS z, id FROM tqmi.f WHERE geom && !BBOX! AND id % 5 = 0 ORDER BY id DESC|l.z, l.id|0|20'
)
# Tilesets: name metatile extent buffer
TILESETS=("mi8 8 4096 64" "mi3 3 512 16" "mi1 1 4096 64")

layers_conf() {
    local entry name sql attrs minz maxz out="" sep=""
    for entry in "${LAYERS[@]}"; do
        IFS='|' read -r name sql attrs minz maxz <<<"$entry"
        out+="$sep{ name = \"$name\"; minzoom = $minz; maxzoom = $maxz; sql = \"$sql\"; }"
        sep=", "
    done
    echo "$out"
}

{
    q_config | sed '/^tilesets = (/,$d'
    echo "tilesets = ("
    sep=""
    for t in "${TILESETS[@]}"; do
        read -r name mt ext buf <<<"$t"
        echo "$sep{ name = \"$name\"; minzoom = 0; maxzoom = 20; metatile = $mt; extent = $ext; buffer = $buf;"
        echo "  layers = ( $(layers_conf) ); }"
        sep=", "
    done
    echo ");"
} >"$Q_DIR/tileq.conf"

q_start_worker w1
q_wait_worker w1
q_start_coordinator c1

# contract TILESET EXTENT BUFFER Z X Y: the contract SQL of one tile, as hex.
contract() {
    local ext=$1 buf=$2 z=$3 x=$4 y=$5 entry name sql attrs minz maxz joined=""
    local env="ST_TileEnvelope($z, $x, $y)"
    local bbox="ST_Expand($env, (2 * 20037508.342789244::float8 / 2 ^ $z) * $buf / $ext)"
    for entry in "${LAYERS[@]}"; do
        IFS='|' read -r name sql attrs minz maxz <<<"$entry"
        ((z >= minz && z <= maxz)) || continue
        sql=${sql//'\"'/'"'}
        sql=${sql//'!BBOX!'/$bbox}
        sql=${sql//'!ZOOM!'/$z}
        joined+="${joined:+ || }COALESCE((SELECT ST_AsMVT(q, '$name', $ext, 'geom') FROM"
        joined+=" (SELECT ST_AsMVTGeom(l.geom, $env, $ext, $buf, true) AS geom, $attrs"
        joined+=" FROM ($sql) l WHERE l.geom && $bbox) q), ''::bytea)"
    done
    printf "SELECT encode(%s, 'hex');\n" "$joined"
}

# The tiles to check, "z x y", one per line.
tiles() {
    local z n c x y lo hi
    for z in 0 1 2 3 5 8 12 16; do
        n=$((1 << z))
        if ((n <= 8)); then
            for ((x = 0; x < n; x++)); do for ((y = 0; y < n; y++)); do echo "$z $x $y"; done; done
            continue
        fi
        c=$((n / 2))
        lo=$((c - 4)) hi=$((c + 3))
        for ((x = lo; x <= hi; x++)); do for ((y = lo; y <= hi; y++)); do echo "$z $x $y"; done; done
        for ((x = 0; x < 4; x++)); do for ((y = 0; y < 4; y++)); do echo "$z $x $y"; done; done
    done
}
tiles >"$IT_TMP/tiles.txt"
ntiles=$(wc -l <"$IT_TMP/tiles.txt")

for t in "${TILESETS[@]}"; do
    read -r name mt ext buf <<<"$t"
    urls=()
    : >"$IT_TMP/$name.sql"
    while read -r z x y; do
        urls+=("$Q_URL_c1/$name/$z/$x/$y.mvt")
        contract "$ext" "$buf" "$z" "$x" "$y" >>"$IT_TMP/$name.sql"
    done <"$IT_TMP/tiles.txt"
    q_parallel_get "$IT_TMP/$name" "${urls[@]}" >"$IT_TMP/$name.txt"
    it_check "$name (metatile $mt): $ntiles answers, all 200 or 204" "$ntiles" \
        "$(awk -F'|' '$2 == 200 || $2 == 204' "$IT_TMP/$name.txt" | wc -l)"
    it_psql -f "$IT_TMP/$name.sql" >"$IT_TMP/$name.expected"
    bad=0 i=0 nonempty=0
    while IFS= read -r exp; do
        got=$(it_hex "$IT_TMP/$name/$i.body")
        if [[ $got != "$exp" ]]; then
            bad=$((bad + 1))
            ((bad <= 5)) && echo "   differs: $name/$(sed -n "$((i + 1))p" "$IT_TMP/tiles.txt" | tr ' ' '/')" \
                "(${#got} hex chars, contract ${#exp})" >&2
        fi
        [[ -n $exp ]] && nonempty=$((nonempty + 1))
        i=$((i + 1))
    done <"$IT_TMP/$name.expected"
    it_check "$name: contract rows" "$ntiles" "$i"
    it_check "$name: tiles differing from the contract SQL's" 0 "$bad"
    echo "   $name: $nonempty of $ntiles tiles have features"
    ((nonempty > ntiles / 3)) || it_fail "$name: too few non-empty tiles ($nonempty), the data is not where the test looks"
done

q_alive_check w1 c1
q_finish
it_psql -c "DROP SCHEMA tqmi CASCADE" >/dev/null 2>&1 || true
it_done

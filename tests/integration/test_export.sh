#!/usr/bin/env bash
# tileq export on a private stack (own Redis, two workers; the fixture's PostGIS), demo z0-10
# over Portugal and the Atlantic west of it (the demo data stops at 10°W: empty sea tiles):
#  1. bad arguments exit 2, before anything is rendered;
#  2. an export to PMTiles killed (SIGKILL) while warming, then run again: it completes, no
#     archive exists before that, and the render log shows every tile rendered once;
#  3. the PMTiles archive read back by the `pmtiles` npm package (the reference reader):
#     header, metadata vector_layers, every tile byte-equal to the cache after decompression,
#     empty tiles absent; the same for an archive with leaf directories;
#  4. an export of the same area to MBTiles renders nothing; sqlite3 shows the metadata and
#     every tile of the tiles view equals the cache (TMS rows, gzip), images < tiles (dedup);
#     GDAL's ogrinfo opens it and lists the demo layers at a few zooms.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/queue/qlib.sh"
source "$(dirname "$0")/warm_lib.sh"

for need in sqlite3 ogrinfo python3; do
    command -v "$need" >/dev/null || {
        echo "FAIL: $need is not installed (sqlite3, gdal-bin, python3)" >&2
        exit 1
    }
done
modules=$(it_node_modules) || exit 1

q_init export
q_start_worker w1
q_start_worker w2
q_wait_worker w1
q_wait_worker w2

BBOX=-13,36.8,-6.5,42.2
Z=0-10
PM=$Q_DIR/demo.pmtiles
MB=$Q_DIR/demo.mbtiles

# ---- 1. bad arguments ------------------------------------------------------------------------
bad() {
    local rc=0
    w_tileq export "$@" >/dev/null 2>"$IT_TMP/bad.err" || rc=$?
    it_check "export $* exits 2 ($(head -c 120 "$IT_TMP/bad.err" | tr '\n' ' '))" 2 "$rc"
}
bad --bbox $BBOX -o "$PM"
bad --tileset demo --bbox $BBOX
bad --tileset demo -o "$Q_DIR/demo.zip"
bad --tileset demo --zoom 3-1 -o "$PM"
bad --tileset demo --zoom 0-20 -o "$PM"
bad --tileset demo --bbox 10,50,5,53 -o "$PM"
bad --tileset nosuch -o "$PM"
bad --tileset demo -o "$PM" --what
it_check "bad arguments rendered nothing" 0 "$(w_job_done_count)"

# ---- 2. killed while warming, run again -----------------------------------------------------------
"$TILEQ_BIN" -c "$Q_DIR/tileq.conf" export --tileset demo --bbox $BBOX --zoom $Z -o "$PM" \
    --max-queued 2 >"$IT_TMP/export1.out" 2>"$IT_TMP/export1.err" &
epid=$!
for ((i = 0; i < 150; i++)); do # until some of its jobs are done (bounded: 30 s)
    (($(w_job_done_count) >= 2)) && break
    sleep 0.2
done
kill -KILL "$epid"
wait "$epid" 2>/dev/null || true
mid=$(w_job_done_count)
echo "killed tileq export after $mid jobs"
((mid > 0)) || it_fail "the interrupted export rendered nothing before the kill"
[[ ! -e $PM ]] || it_fail "an archive exists after the killed export"

rc=0
out=$(w_tileq export --tileset demo --bbox $BBOX --zoom $Z -o "$PM" --max-queued 2 \
    2>"$IT_TMP/export2.err") || rc=$?
echo "$out"
it_check "export run again after the kill: exit status" 0 "$rc"
[[ $out == *"cached (skipped)"* && $out == *"export demo z0-10 to $PM"* ]] ||
    it_fail "unexpected output: $out $(cat "$IT_TMP/export2.err")"
[[ -s $PM ]] || it_fail "no archive at $PM"
ls "$Q_DIR"/demo.pmtiles.* 2>/dev/null && it_fail "temp files left next to the archive"
w_wait_idle 60

nfiles=$(find "$Q_DIR/cache/demo" -type f \( -name '*.mvt.gz' -o -name '*.mvt' -o -name '*.empty' \) | wc -l)
rows=$(q_wait_renderlog "true" "$nfiles")
dups=$(q_rl_count "(tileset, z, x, y) IN (SELECT tileset, z, x, y FROM tileq.render_log
        WHERE worker LIKE '$Q_ID-%' GROUP BY 1, 2, 3, 4 HAVING count(*) > 1)")
echo "render log: $rows rows for $nfiles cached tiles, $dups rows of tiles rendered twice"
it_check "render log: no tile rendered twice" 0 "$dups"
it_check "render log: one row per cached tile" "$nfiles" "$rows"

# ---- 3. the PMTiles archive, read by the reference reader -------------------------------------------
tiles=$IT_TMP/tiles.txt
IFS=, read -r W S E N <<<"$BBOX"
for z in $(seq 0 10); do w_tiles_of_bbox "$W" "$S" "$E" "$N" "$z"; done >"$tiles"
ntiles=$(wc -l <"$tiles")
nempty=0
while read -r z x y; do
    if [[ -f $Q_DIR/cache/demo/$z/$x/$y.empty ]]; then nempty=$((nempty + 1)); fi
done <"$tiles"
echo "area: $ntiles tiles, $nempty of them empty"
((nempty > 0)) || it_fail "no empty tile in the area: the test area is wrong"
[[ $out == *"$ntiles tiles read from the cache"* ]] || it_fail "export did not read $ntiles tiles"
if TQ_BROWSER_MODULES=$modules node "$TQ_SOURCE_DIR/tests/browser/pmtiles_check.cjs" "$PM" \
    "$Q_DIR/cache/demo" "$tiles" 0 10 >"$IT_TMP/pmcheck.out" 2>&1; then
    cat "$IT_TMP/pmcheck.out"
    echo "ok: the pmtiles reader read every tile back equal to the cache"
else
    head -40 "$IT_TMP/pmcheck.out"
    it_fail "the pmtiles reader check failed"
fi

# The same with leaf directories (a root of at most 300 bytes: TQ_PMTILES_ROOT_MAX).
rc=0
out=$(TQ_PMTILES_ROOT_MAX=300 w_tileq export --tileset demo --bbox $BBOX --zoom $Z \
    -o "$Q_DIR/leaves.pmtiles" 2>"$IT_TMP/export4.err") || rc=$?
it_check "export with leaf directories: exit status" 0 "$rc"
if TQ_BROWSER_MODULES=$modules node "$TQ_SOURCE_DIR/tests/browser/pmtiles_check.cjs" \
    "$Q_DIR/leaves.pmtiles" "$Q_DIR/cache/demo" "$tiles" 0 10 >"$IT_TMP/pmcheck2.out" 2>&1; then
    grep -o 'root [0-9]* B, leaves [0-9]* B' "$IT_TMP/pmcheck2.out" | grep -qv 'leaves 0 B' ||
        it_fail "no leaf directories: $(head -1 "$IT_TMP/pmcheck2.out")"
    echo "ok: with leaf directories too: $(grep -o 'root [0-9]* B, leaves [0-9]* B' "$IT_TMP/pmcheck2.out")"
else
    head -40 "$IT_TMP/pmcheck2.out"
    it_fail "the pmtiles reader check of the archive with leaves failed"
fi

# ---- 4. MBTiles ------------------------------------------------------------------------------
before=$(w_job_done_count)
rc=0
out=$(w_tileq export --tileset demo --bbox $BBOX --zoom $Z -o "$MB" 2>"$IT_TMP/export3.err") || rc=$?
echo "$out"
it_check "export to MBTiles: exit status" 0 "$rc"
[[ $out == *" 0 queued"* ]] || it_fail "the MBTiles export queued jobs: $out"
it_check "export to MBTiles: 0 renders (everything cached)" "$before" "$(w_job_done_count)"

echo "metadata:"
sqlite3 "$MB" "SELECT name, substr(value, 1, 100) FROM metadata ORDER BY name" | sed 's/^/  /'
meta() { sqlite3 "$MB" "SELECT value FROM metadata WHERE name = '$1'"; }
it_check "metadata name" demo "$(meta name)"
it_check "metadata format" pbf "$(meta format)"
it_check "metadata minzoom" 0 "$(meta minzoom)"
it_check "metadata maxzoom" 10 "$(meta maxzoom)"
it_check "metadata bounds" "-13.000000,36.800000,-6.500000,42.200000" "$(meta bounds)"
[[ $(meta center) =~ ^-9\.750*,39\.50*,[0-9]+$ ]] || it_fail "metadata center: $(meta center)"
layers=$(meta json | python3 -c 'import json,sys
print(",".join(sorted(l["id"] for l in json.load(sys.stdin)["vector_layers"])))')
it_check "metadata json vector_layers" "areas,places,roads" "$layers"
ntile_rows=$(sqlite3 "$MB" "SELECT count(*) FROM tiles")
nimages=$(sqlite3 "$MB" "SELECT count(*) FROM images")
echo "MBTiles: $ntile_rows tiles, $nimages images"
it_check "MBTiles: one row per non-empty tile" "$((ntiles - nempty))" "$ntile_rows"
((nimages < ntile_rows)) || it_fail "MBTiles: no tile deduplicated ($nimages images)"
# Every tile of the view, gunzipped, equals the cache (TMS row → XYZ y).
if python3 - "$MB" "$Q_DIR/cache/demo" >"$IT_TMP/mbcheck.out" 2>&1 <<'EOF'; then
import gzip, os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
bad = n = 0
for z, x, row, data in db.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
    y = (1 << z) - 1 - row
    base = os.path.join(sys.argv[2], str(z), str(x), str(y))
    want = open(base + ".mvt.gz" if os.path.exists(base + ".mvt.gz") else base + ".mvt", "rb").read()
    if want[:2] == b"\x1f\x8b":
        want = gzip.decompress(want)
    n += 1
    if data[:2] != b"\x1f\x8b" or gzip.decompress(data) != want:
        bad += 1
        print("differs: %d/%d/%d" % (z, x, y))
print("%d tiles compared, %d differ" % (n, bad))
sys.exit(1 if bad else 0)
EOF
    cat "$IT_TMP/mbcheck.out"
    echo "ok: every MBTiles tile equals the cache (gzip, TMS rows)"
else
    head -20 "$IT_TMP/mbcheck.out"
    it_fail "MBTiles tiles differ from the cache"
fi
for z in 4 7 10; do
    if ogr=$(ogrinfo -ro -so -oo ZOOM_LEVEL=$z "$MB" 2>&1); then
        for layer in areas roads places; do
            grep -q "^[0-9]*: $layer" <<<"$ogr" || it_fail "ogrinfo z$z does not list layer $layer: $ogr"
        done
        n=$(ogrinfo -ro -so -oo ZOOM_LEVEL=$z "$MB" places 2>&1 | sed -n 's/^Feature Count: //p')
        echo "ok: ogrinfo opens the MBTiles at z$z and lists areas, roads, places ($n places)"
        [[ ${n:-0} -gt 0 ]] || it_fail "ogrinfo z$z: no places"
    else
        it_fail "ogrinfo cannot open $MB at z$z: $ogr"
    fi
done

q_finish
it_done

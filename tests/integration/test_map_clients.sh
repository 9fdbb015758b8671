#!/usr/bin/env bash
# What map clients (MapLibre, OpenLayers, QGIS) rely on: TileJSON validated field by field
# against the demo tileset and its PostgreSQL tables; a tile fetched through the TileJSON's
# URL template equals the rendering contract's bytes; gzip and plain decode to the same MVT
# whatever the cache holds (plain or gzip); ETag / If-None-Match → 304; HEAD; 405 and the
# CORS preflight; the catalog; the preview page and its static files. Needs jq.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || {
    echo "FAIL: jq is not installed" >&2
    exit 1
}
B=$TQ_TEST_BASE_URL
# body_size NAME: bytes of the last it_fetch NAME body (curl writes no file for no body).
body_size() {
    if [[ -e $IT_TMP/$1.body ]]; then stat -c %s "$IT_TMP/$1.body"; else echo 0; fi
}
# jq_check DESCRIPTION FILE FILTER EXPECTED: the filter's compact output.
jq_check() {
    it_check "$1" "$4" "$(jq -c "$3" "$2" 2>&1)"
}

# ---- TileJSON ---------------------------------------------------------------------------
# The layer schema comes from the workers (published once they have prepared the tileset):
# 503 + Retry-After until then.
status=000
for _ in $(seq 1 120); do
    status=$(it_fetch /demo.json tj)
    [[ $status == 503 ]] || break
    it_check "TileJSON before the schema is published: Retry-After" 2 "$(it_header tj Retry-After)"
    sleep 0.5
done
it_check "GET /demo.json: status" 200 "$status"
it_check "GET /demo.json: Content-Type" application/json "$(it_header tj Content-Type)"
it_check "GET /demo.json: CORS" "*" "$(it_header tj Access-Control-Allow-Origin)"
T=$IT_TMP/tj.body
jq_check "tilejson" "$T" .tilejson '"3.0.0"'
jq_check "name" "$T" .name '"demo"'
jq_check "scheme" "$T" .scheme '"xyz"'
jq_check "tiles (from the Host header)" "$T" .tiles "[\"$B/demo/{z}/{x}/{y}.mvt\"]"
jq_check "minzoom" "$T" .minzoom 0
jq_check "maxzoom" "$T" .maxzoom 14
jq_check "bounds (default: the Web Mercator world)" "$T" .bounds '[-180,-85.0511288,180,85.0511288]'
jq_check "center (default: middle of bounds at minzoom)" "$T" .center '[0,0,0]'
jq_check "vector_layers ids, in config order" "$T" '[.vector_layers[].id]' \
    '["areas","roads","places"]'
jq_check "vector_layers zooms" "$T" '[.vector_layers[] | [.minzoom, .maxzoom]]' \
    '[[0,14],[0,14],[0,14]]'
# fields: every column of the layer query but geom, typed as ST_AsMVT writes them; the
# demo tables' column types come from PostgreSQL.
mvt_type() {
    case $1 in
    smallint | integer | bigint | real | "double precision") echo Number ;;
    boolean) echo Boolean ;;
    *) echo String ;;
    esac
}
for layer_table in areas:areas roads:roads places:points; do
    layer=${layer_table%%:*} table=${layer_table#*:}
    cols="name kind"
    [[ $layer == places ]] && cols="name kind population"
    expected="{"
    for c in $cols; do
        t=$(it_psql -c "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                        WHERE attrelid = 'demo.$table'::regclass AND attname = '$c'")
        expected+="\"$c\":\"$(mvt_type "$t")\","
    done
    expected="${expected%,}}"
    jq_check "fields of $layer (types from demo.$table)" "$T" \
        ".vector_layers[] | select(.id == \"$layer\") | .fields" "$expected"
done

# Absolute URLs behind a proxy.
it_fetch /demo.json tj_proxy -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Host: tiles.example.com' \
    -H 'X-Forwarded-Prefix: /tq/' >/dev/null
jq_check "tiles behind a proxy (X-Forwarded-Proto/-Host/-Prefix)" "$IT_TMP/tj_proxy.body" \
    '.tiles[0]' '"https://tiles.example.com/tq/demo/{z}/{x}/{y}.mvt"'
it_fetch /demo.json tj_host -H 'Host: maps.example.org:8080' >/dev/null
jq_check "tiles from another Host header" "$IT_TMP/tj_host.body" '.tiles[0]' \
    '"http://maps.example.org:8080/demo/{z}/{x}/{y}.mvt"'
it_fetch /demo.json tj_bad -H 'X-Forwarded-Host: evil"host/<x>' >/dev/null
jq_check "a malformed X-Forwarded-Host is ignored" "$IT_TMP/tj_bad.body" '.tiles[0]' \
    "\"$B/demo/{z}/{x}/{y}.mvt\""
it_check "unknown tileset .json: 404" 404 "$(it_fetch /nope.json nope)"

# ---- a tile through the URL template ------------------------------------------------------
Z=10 X=518 Y=352 # Paris
url=$(jq -r .tiles[0] "$T")
url=${url//\{z\}/$Z}
url=${url//\{x\}/$X}
url=${url//\{y\}/$Y}
status=$(curl -sS --max-time 120 -o "$IT_TMP/tpl.body" -D "$IT_TMP/tpl.headers" -w '%{http_code}' "$url")
it_check "tile via the TileJSON template ($url): status" 200 "$status"
expected=$(it_psql -c "$(it_contract_sql $Z $X $Y)")
it_check "tile via the TileJSON template: bytes equal the contract SQL's" "$expected" \
    "$(it_hex "$IT_TMP/tpl.body")"
plain_hex=$expected
plain_len=$(stat -c %s "$IT_TMP/tpl.body")

# ---- tile response headers, gzip ----------------------------------------------------------
P=/demo/$Z/$X/$Y.mvt
it_fetch "$P" plain >/dev/null
it_check "plain: no Content-Encoding" "" "$(it_header plain Content-Encoding)"
it_check "plain: Vary" Accept-Encoding "$(it_header plain Vary)"
it_check "plain: Cache-Control from the config" "public, max-age=3600" "$(it_header plain Cache-Control)"
it_check "plain: Access-Control-Allow-Origin" "*" "$(it_header plain Access-Control-Allow-Origin)"
it_check "plain: Content-Length" "$plain_len" "$(it_header plain Content-Length)"
etag=$(it_header plain ETag)
[[ $etag =~ ^\"[^\"]+\"$ ]] && echo "ok: strong ETag $etag" || it_fail "ETag '$etag' is not a strong tag"

# gzip_case NAME ACCEPT-ENCODING EXPECT(gzip|plain)
gzip_case() {
    it_fetch "$P" "$1" -H "Accept-Encoding: $2" >/dev/null
    local ce
    ce=$(it_header "$1" Content-Encoding)
    if [[ $3 == gzip ]]; then
        it_check "Accept-Encoding '$2': Content-Encoding" gzip "$ce"
        gunzip -c <"$IT_TMP/$1.body" >"$IT_TMP/$1.dec" 2>/dev/null || it_fail "'$2': body is not gzip"
        it_check "Accept-Encoding '$2': decodes to the plain tile" "$plain_hex" "$(it_hex "$IT_TMP/$1.dec")"
    else
        it_check "Accept-Encoding '$2': no Content-Encoding" "" "$ce"
        it_check "Accept-Encoding '$2': plain bytes" "$plain_hex" "$(it_hex "$IT_TMP/$1.body")"
    fi
}
gzip_case gz1 "gzip" gzip
gzip_case gz2 "deflate, gzip;q=0.8, br" gzip
gzip_case gz3 "*" gzip
gzip_case gz4 "gzip;q=0" plain
gzip_case gz5 "identity;q=1, gzip;q=0.5" plain
gzip_case gz6 "br" plain
gzip_case gz7 "x-gzip" gzip
etag_gz=$(it_header gz1 ETag)
[[ $etag_gz != "$etag" && -n $etag_gz ]] && echo "ok: the gzip representation has its own ETag" ||
    it_fail "gzip ETag '$etag_gz' vs plain '$etag'"

# Whatever the cache holds: a legacy cache's plain .mvt is served plain or gzip too, with the
# ETags of the stored (.mvt.gz) form.
GZ_TILE=/demo/9/259/176.mvt
it_fetch $GZ_TILE gzt_plain >/dev/null
it_fetch $GZ_TILE gzt_gz -H 'Accept-Encoding: gzip' >/dev/null
f=$TQ_TEST_CACHE_DIR/demo/9/259/176.mvt
if [[ -s $f.gz ]]; then
    orig_hex=$(it_hex "$IT_TMP/gzt_plain.body")
    gzip -dc <"$f.gz" >"$f.tmp.test" && mv "$f.tmp.test" "$f" && mv "$f.gz" "$f.gz.test"
    it_fetch $GZ_TILE gzt_a >/dev/null
    it_check "legacy plain tile, plain client: plain bytes" "$orig_hex" "$(it_hex "$IT_TMP/gzt_a.body")"
    it_check "legacy plain tile, plain client: no Content-Encoding" "" "$(it_header gzt_a Content-Encoding)"
    it_check "legacy plain tile, plain client: same ETag as when stored gzip" \
        "$(it_header gzt_plain ETag)" "$(it_header gzt_a ETag)"
    it_fetch $GZ_TILE gzt_b -H 'Accept-Encoding: gzip' >/dev/null
    gunzip -c <"$IT_TMP/gzt_b.body" >"$IT_TMP/gzt_b.dec" 2>/dev/null || it_fail "legacy plain tile: body not gzip"
    it_check "legacy plain tile, gzip client: decodes to the tile" "$orig_hex" "$(it_hex "$IT_TMP/gzt_b.dec")"
    it_check "legacy plain tile, gzip client: same ETag as when stored gzip" \
        "$(it_header gzt_gz ETag)" "$(it_header gzt_b ETag)"
    mv "$f.gz.test" "$f.gz" && rm "$f"
else
    it_fail "$GZ_TILE was not cached as a non-empty tile"
fi

# ---- ETag round trip, HEAD, empty tiles ---------------------------------------------------
it_check "If-None-Match: the ETag → 304" 304 "$(it_fetch "$P" inm1 -H "If-None-Match: $etag")"
it_check "304: empty body" 0 "$(body_size inm1)"
it_check "304: ETag" "$etag" "$(it_header inm1 ETag)"
it_check "304: Cache-Control" "public, max-age=3600" "$(it_header inm1 Cache-Control)"
it_check "If-None-Match: weak form, in a list → 304" 304 \
    "$(it_fetch "$P" inm2 -H "If-None-Match: \"nope\", W/$etag")"
it_check "If-None-Match: * → 304" 304 "$(it_fetch "$P" inm3 -H 'If-None-Match: *')"
it_check "If-None-Match: another tag → 200" 200 "$(it_fetch "$P" inm4 -H 'If-None-Match: "0-0"')"
it_check "If-None-Match: gzip ETag with gzip → 304" 304 \
    "$(it_fetch "$P" inm5 -H "If-None-Match: $etag_gz" -H 'Accept-Encoding: gzip')"

it_check "HEAD: status" 200 "$(it_fetch "$P" head -I)"
it_check "HEAD: no body" 0 "$(curl -sS -I --max-time 30 -o /dev/null -w '%{size_download}' "$B$P")"
it_check "HEAD: Content-Length as GET's" "$plain_len" "$(it_header head Content-Length)"
it_check "HEAD: ETag as GET's" "$etag" "$(it_header head ETag)"
it_check "HEAD: Content-Type" application/vnd.mapbox-vector-tile "$(it_header head Content-Type)"

EMPTY=/demo/5/4/20.mvt # South Pacific
it_check "empty tile: 204" 204 "$(it_fetch $EMPTY empty)"
e_etag=$(it_header empty ETag)
[[ -n $e_etag ]] && echo "ok: empty tile has an ETag" || it_fail "empty tile has no ETag"
it_check "empty tile: no Content-Encoding even with gzip" "" \
    "$(it_fetch $EMPTY empty_gz -H 'Accept-Encoding: gzip' >/dev/null; it_header empty_gz Content-Encoding)"
it_check "empty tile: If-None-Match → 304" 304 "$(it_fetch $EMPTY empty_inm -H "If-None-Match: $e_etag")"

# ---- methods ------------------------------------------------------------------------------
for m in POST PUT DELETE PATCH; do
    it_check "$m $P: 405" 405 "$(it_fetch "$P" "m_$m" -X "$m")"
    it_check "$m $P: Allow" "GET, HEAD, OPTIONS" "$(it_header "m_$m" Allow)"
done
it_check "OPTIONS (CORS preflight): 204" 204 "$(it_fetch "$P" pre -X OPTIONS \
    -H 'Origin: http://example.org' -H 'Access-Control-Request-Method: GET' \
    -H 'Access-Control-Request-Headers: if-none-match')"
it_check "preflight: Allow-Origin" "*" "$(it_header pre Access-Control-Allow-Origin)"
it_check "preflight: Allow-Methods" "GET, HEAD, OPTIONS" "$(it_header pre Access-Control-Allow-Methods)"
it_check "preflight: Allow-Headers" "if-none-match" "$(it_header pre Access-Control-Allow-Headers)"

# ---- catalog, preview page, static files --------------------------------------------------
it_check "GET /catalog: status" 200 "$(it_fetch /catalog cat)"
jq_check "catalog: tilesets" "$IT_TMP/cat.body" '[.tilesets[] | [.name, .tilejson, .layers]]' \
    "[[\"demo\",\"$B/demo.json\",[\"areas\",\"roads\",\"places\"]]]"
tj_url=$(jq -r '.tilesets[0].tilejson' "$IT_TMP/cat.body")
it_check "catalog's TileJSON URL answers with the same document" "$(jq -c . "$T")" \
    "$(curl -sS --max-time 30 "$tj_url" | jq -c .)"

it_check "GET /: status" 200 "$(it_fetch / index)"
grep -q 'href="map/demo"' "$IT_TMP/index.body" && echo "ok: / links to map/demo" ||
    it_fail "/ does not link to map/demo"
it_check "GET /map/demo: status" 200 "$(it_fetch /map/demo map)"
it_check "GET /map/demo: Content-Type" "text/html; charset=utf-8" "$(it_header map Content-Type)"
it_check "GET /map/nope: 404" 404 "$(it_fetch /map/nope map404)"
for f in maplibre-gl.js maplibre-gl.css preview.js; do
    it_check "GET /static/$f" 200 "$(it_fetch "/static/$f" "st_$f")"
done
grep -q 'maplibregl' "$IT_TMP/st_maplibre-gl.js.body" && echo "ok: maplibre-gl.js is MapLibre" ||
    it_fail "maplibre-gl.js does not look like MapLibre"
it_check "GET /static/.hidden: 404" 404 "$(it_fetch /static/.hidden hidden)"
it_check "GET /static/a/b: 404" 404 "$(it_fetch /static/a/b sub)"

it_done

#!/usr/bin/env bash
# Tiles over HTTP equal, byte for byte, what the rendering contract's SQL returns for the same
# tile when run directly (tests/integration/lib.sh, it_contract_sql), at several zooms and
# over empty ocean (204); a second fetch is a cache hit; a neighbour in the same metatile is
# already cached and also equal; gzip, when offered, decodes to the same bytes; GDAL's MVT
# driver opens a tile and finds the demo layers.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# z x y what
TILES=(
    "0 0 0 world"
    "3 4 2 Europe"
    "6 32 22 Paris-region"
    "10 518 352 Paris"
    "14 8298 5636 Paris-centre"
    "14 14549 6451 Tokyo-centre"
    "12 3637 1612 Tokyo"
    "5 4 20 South-Pacific"
)
EMPTY_TILE="5 4 20"

# The first fetch may be joined rather than miss when a render of that metatile was already
# under way; anything else is wrong.
for t in "${TILES[@]}"; do
    read -r z x y what <<<"$t"
    path="/demo/$z/$x/$y.mvt"
    expected=$(it_psql -c "$(it_contract_sql "$z" "$x" "$y")")

    if [[ "$z $x $y" == "$EMPTY_TILE" ]]; then
        it_check "$path ($what): contract SQL gives an empty tile" "" "$expected"
    elif [[ -z $expected ]]; then
        it_fail "$path ($what): contract SQL gives an empty tile; the demo data should cover it"
    fi

    name="t_${z}_${x}_${y}"
    status=$(it_fetch "$path" "$name")
    if [[ -z $expected ]]; then
        it_check "$path ($what): status" 204 "$status"
    else
        it_check "$path ($what): status" 200 "$status"
        it_check "$path ($what): Content-Type" "application/vnd.mapbox-vector-tile" \
            "$(it_header "$name" Content-Type)"
    fi
    xq=$(it_header "$name" X-Tileq)
    [[ $xq == miss || $xq == joined || $xq == hit ]] ||
        it_fail "$path ($what): X-Tileq '$xq' is not miss|joined|hit"
    got=$(it_hex "$IT_TMP/$name.body")
    if [[ $got == "$expected" ]]; then
        echo "ok: $path ($what): $((${#got} / 2)) bytes equal the contract SQL's (X-Tileq: $xq)"
    else
        it_fail "$path ($what): bytes differ from the contract SQL's ($((${#got} / 2)) bytes" \
            "over HTTP, $((${#expected} / 2)) from SQL)"
    fi

    status=$(it_fetch "$path" "${name}_again")
    it_check "$path ($what): second fetch status" "$([[ -z $expected ]] && echo 204 || echo 200)" \
        "$status"
    it_check "$path ($what): second fetch X-Tileq" hit "$(it_header "${name}_again" X-Tileq)"
    it_check "$path ($what): second fetch bytes" "$expected" "$(it_hex "$IT_TMP/${name}_again.body")"
done

# A neighbour in the same metatile (8×8 at z14: x 8296..8303, y 5632..5639) was rendered by
# the same job: already in the cache, and equal to rendering it alone.
path=/demo/14/8299/5637.mvt
expected=$(it_psql -c "$(it_contract_sql 14 8299 5637)")
status=$(it_fetch "$path" neighbour)
it_check "$path (metatile neighbour): status" "$([[ -z $expected ]] && echo 204 || echo 200)" "$status"
it_check "$path (metatile neighbour): X-Tileq" hit "$(it_header neighbour X-Tileq)"
it_check "$path (metatile neighbour): bytes equal the contract SQL's" "$expected" \
    "$(it_hex "$IT_TMP/neighbour.body")"

# .pbf is the same tile.
status=$(it_fetch /demo/10/518/352.pbf pbf)
it_check "/demo/10/518/352.pbf: status" 200 "$status"
it_check "/demo/10/518/352.pbf: same bytes as .mvt" "$(it_hex "$IT_TMP/t_10_518_352.body")" \
    "$(it_hex "$IT_TMP/pbf.body")"

# gzip when the client accepts it (plain bytes otherwise, checked above).
status=$(it_fetch /demo/10/518/352.mvt gz -H 'Accept-Encoding: gzip')
it_check "gzip fetch: status" 200 "$status"
if [[ $(it_header gz Content-Encoding) == gzip ]]; then
    gunzip -c <"$IT_TMP/gz.body" >"$IT_TMP/gz.plain" || it_fail "gzip body does not decode"
    it_check "gzip body decodes to the tile" "$(it_hex "$IT_TMP/t_10_518_352.body")" \
        "$(it_hex "$IT_TMP/gz.plain")"
else
    it_check "no Content-Encoding: plain tile bytes" "$(it_hex "$IT_TMP/t_10_518_352.body")" \
        "$(it_hex "$IT_TMP/gz.body")"
fi

# GDAL's MVT driver opens the Paris z10 tile and lists the demo layers.
cp "$IT_TMP/t_10_518_352.body" "$IT_TMP/paris.mvt"
if ogr=$(ogrinfo -ro -q -oo X=518 -oo Y=352 -oo Z=10 "MVT:$IT_TMP/paris.mvt" 2>&1); then
    for layer in areas roads places; do
        if grep -qE "^[0-9]+: $layer( |$)" <<<"$ogr"; then
            echo "ok: ogrinfo lists layer $layer"
        else
            it_fail "ogrinfo does not list layer $layer: $ogr"
        fi
    done
    n=$(ogrinfo -ro -so -oo X=518 -oo Y=352 -oo Z=10 "MVT:$IT_TMP/paris.mvt" places 2>&1 |
        sed -n 's/^Feature Count: //p')
    [[ ${n:-0} -gt 0 ]] && echo "ok: ogrinfo reads $n places" ||
        it_fail "ogrinfo finds no features in layer places"
else
    it_fail "ogrinfo cannot open the tile: $ogr"
fi

it_done

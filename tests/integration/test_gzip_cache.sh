#!/usr/bin/env bash
# The precompressed cache (a private cluster of nginx, one coordinator and one worker:
# nginx_lib.sh):
# - a rendered tile is stored as {y}.mvt.gz (gzip), with no plain {y}.mvt beside it;
# - the coordinator sends those stored bytes as they are to a gzip client, and the inflated
#   tile to a client without gzip; each representation has its own strong ETag, the same on
#   every request; If-None-Match with either → 304; HEAD shows the GET's length;
# - nginx serves the same file (gzip_static) without reaching the coordinator: the stored
#   bytes to a gzip client, inflated (gunzip) to the others, .pbf like .mvt; If-None-Match
#   with its ETag → 304;
# - a legacy cache's plain {y}.mvt is still served by both, in both representations, with the
#   same bytes and (coordinator) the same ETags as the compressed form of that tile; a render
#   of that tile replaces it with {y}.mvt.gz; tileq expire removes either form.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nginx_lib.sh"

ng_up 1 1
C=http://127.0.0.1:${NG_COORD_PORTS[1]}
GZ='Accept-Encoding: gzip'

c_get() { # PATH NAME [curl args]
    local path=$1
    shift
    it_fetch_url "$C$path" "$@"
}

# ---- the stored form --------------------------------------------------------------------
Z=12 X=2074 Y=1409 # Paris
p=/demo/$Z/$X/$Y.mvt
f=$NG_CACHE/demo/$Z/$X/$Y
it_check "$p cold through the coordinator (gzip client): status" 200 "$(c_get "$p" cold -H "$GZ")"
it_check "$p cold: Content-Encoding" gzip "$(it_header cold Content-Encoding)"
[[ -s $f.mvt.gz ]] && echo "ok: stored as $Z/$X/$Y.mvt.gz" || it_fail "no $f.mvt.gz after the render"
[[ ! -e $f.mvt ]] && echo "ok: no plain .mvt beside it" || it_fail "$f.mvt exists"
gzip -t "$f.mvt.gz" 2>/dev/null && echo "ok: the stored file is gzip" || it_fail "$f.mvt.gz is not gzip"
gzip -dc <"$f.mvt.gz" >"$IT_TMP/plain.ref"
[[ -s $IT_TMP/plain.ref ]] || it_fail "the stored tile inflates to nothing"

# ---- the coordinator: both representations ------------------------------------------------
it_check "coordinator gzip hit: status" 200 "$(c_get "$p" c_gz -H "$GZ")"
it_check "coordinator gzip hit: X-Tileq" hit "$(it_header c_gz X-Tileq)"
it_check "coordinator gzip hit: Content-Encoding" gzip "$(it_header c_gz Content-Encoding)"
it_check "coordinator gzip hit: the stored bytes as they are" "$(it_hex "$f.mvt.gz")" \
    "$(it_hex "$IT_TMP/c_gz.body")"
it_check "coordinator gzip hit: Vary" Accept-Encoding "$(it_header c_gz Vary)"
it_check "coordinator plain hit: status" 200 "$(c_get "$p" c_plain)"
it_check "coordinator plain hit: no Content-Encoding" "" "$(it_header c_plain Content-Encoding)"
it_check "coordinator plain hit: the inflated tile" "$(it_hex "$IT_TMP/plain.ref")" \
    "$(it_hex "$IT_TMP/c_plain.body")"
it_check "coordinator plain hit: Content-Length" "$(stat -c %s "$IT_TMP/plain.ref")" \
    "$(it_header c_plain Content-Length)"
etag_gz=$(it_header c_gz ETag)
etag_plain=$(it_header c_plain ETag)
[[ $etag_gz == \"*\" && $etag_plain == \"*\" ]] && echo "ok: both ETags strong" ||
    it_fail "ETags not strong: '$etag_gz' '$etag_plain'"
[[ $etag_gz != "$etag_plain" ]] && echo "ok: the two representations have different ETags" ||
    it_fail "gzip and plain share the ETag $etag_gz"
c_get "$p" c_gz2 -H "$GZ" >/dev/null
c_get "$p" c_plain2 >/dev/null
it_check "coordinator gzip ETag stable" "$etag_gz" "$(it_header c_gz2 ETag)"
it_check "coordinator plain ETag stable" "$etag_plain" "$(it_header c_plain2 ETag)"
it_check "cold answer's ETag = the hit's (gzip)" "$etag_gz" "$(it_header cold ETag)"
it_check "If-None-Match (gzip tag), gzip client: 304" 304 \
    "$(c_get "$p" inm1 -H "$GZ" -H "If-None-Match: $etag_gz")"
it_check "If-None-Match (plain tag), plain client: 304" 304 \
    "$(c_get "$p" inm2 -H "If-None-Match: $etag_plain")"
it_check "If-None-Match (plain tag), gzip client: 304 (same tile)" 304 \
    "$(c_get "$p" inm3 -H "$GZ" -H "If-None-Match: $etag_plain")"
it_check "304 carries the representation's ETag" "$etag_gz" "$(it_header inm3 ETag)"
it_check "If-None-Match with another tag: 200" 200 \
    "$(c_get "$p" inm4 -H "$GZ" -H 'If-None-Match: "1-00000000"')"
it_check "HEAD gzip: Content-Length of the stored bytes" "$(stat -c %s "$f.mvt.gz")" \
    "$(c_get "$p" head_gz -I -H "$GZ" >/dev/null; it_header head_gz Content-Length)"

# ---- nginx: the same file ---------------------------------------------------------------
ups_before=$(ng_upstream_count)
it_check "nginx gzip hit: status" 200 "$(ng_get "$p" n_gz -H "$GZ")"
it_check "nginx gzip hit: X-Tileq" hit "$(it_header n_gz X-Tileq)"
it_check "nginx gzip hit: Content-Encoding" gzip "$(it_header n_gz Content-Encoding)"
it_check "nginx gzip hit: Content-Type" application/vnd.mapbox-vector-tile "$(it_header n_gz Content-Type)"
it_check "nginx gzip hit: the stored bytes as they are" "$(it_hex "$f.mvt.gz")" \
    "$(it_hex "$IT_TMP/n_gz.body")"
it_check "nginx gzip hit: Vary" Accept-Encoding "$(it_header n_gz Vary)"
it_check "nginx plain hit: status" 200 "$(ng_get "$p" n_plain)"
it_check "nginx plain hit: no Content-Encoding" "" "$(it_header n_plain Content-Encoding)"
it_check "nginx plain hit: the inflated tile (gunzip)" "$(it_hex "$IT_TMP/plain.ref")" \
    "$(it_hex "$IT_TMP/n_plain.body")"
it_check "nginx .pbf, gzip: the same bytes" 200 "$(ng_get "/demo/$Z/$X/$Y.pbf" n_pbf -H "$GZ")"
it_check "nginx .pbf: stored bytes" "$(it_hex "$f.mvt.gz")" "$(it_hex "$IT_TMP/n_pbf.body")"
n_etag_gz=$(it_header n_gz ETag)
n_etag_plain=$(it_header n_plain ETag)
[[ -n $n_etag_gz && $n_etag_gz != "$n_etag_plain" ]] &&
    echo "ok: nginx: the gzip ETag ($n_etag_gz) is not the inflated one's ($n_etag_plain)" ||
    it_fail "nginx ETags: gzip '$n_etag_gz', plain '$n_etag_plain'"
it_check "nginx If-None-Match (its gzip tag): 304" 304 \
    "$(ng_get "$p" n_inm -H "$GZ" -H "If-None-Match: $n_etag_gz")"
it_check "nginx hits: no coordinator reached" "$ups_before" "$(ng_upstream_count)"

# ---- a legacy cache: plain {y}.mvt ---------------------------------------------------------
# Tile p is turned into the legacy form by hand (a cache written before tiles were compressed).
cp "$f.mvt.gz" "$IT_TMP/stored.gz"
gzip -dc <"$f.mvt.gz" >"$f.mvt.tmp" && mv "$f.mvt.tmp" "$f.mvt" && rm "$f.mvt.gz"
it_check "legacy, coordinator gzip: status" 200 "$(c_get "$p" l_gz -H "$GZ")"
it_check "legacy, coordinator gzip: X-Tileq" hit "$(it_header l_gz X-Tileq)"
it_check "legacy, coordinator gzip: Content-Encoding" gzip "$(it_header l_gz Content-Encoding)"
it_check "legacy, coordinator gzip: the bytes the compressed form sends" \
    "$(it_hex "$IT_TMP/stored.gz")" "$(it_hex "$IT_TMP/l_gz.body")"
it_check "legacy, coordinator gzip: the compressed form's ETag" "$etag_gz" "$(it_header l_gz ETag)"
it_check "legacy, coordinator plain: status" 200 "$(c_get "$p" l_plain)"
it_check "legacy, coordinator plain: bytes" "$(it_hex "$IT_TMP/plain.ref")" \
    "$(it_hex "$IT_TMP/l_plain.body")"
it_check "legacy, coordinator plain: the compressed form's ETag" "$etag_plain" \
    "$(it_header l_plain ETag)"
it_check "legacy, coordinator If-None-Match: 304" 304 \
    "$(c_get "$p" l_inm -H "$GZ" -H "If-None-Match: $etag_gz")"
ups_before=$(ng_upstream_count)
it_check "legacy, nginx gzip: status" 200 "$(ng_get "$p" ln_gz -H "$GZ")"
it_check "legacy, nginx gzip: Content-Encoding" gzip "$(it_header ln_gz Content-Encoding)"
gzip -dc <"$IT_TMP/ln_gz.body" >"$IT_TMP/ln_gz.dec" 2>/dev/null || it_fail "legacy, nginx gzip: not gzip"
it_check "legacy, nginx gzip: decodes to the tile" "$(it_hex "$IT_TMP/plain.ref")" \
    "$(it_hex "$IT_TMP/ln_gz.dec")"
it_check "legacy, nginx plain: status" 200 "$(ng_get "$p" ln_plain)"
it_check "legacy, nginx plain: no Content-Encoding" "" "$(it_header ln_plain Content-Encoding)"
it_check "legacy, nginx plain: bytes" "$(it_hex "$IT_TMP/plain.ref")" "$(it_hex "$IT_TMP/ln_plain.body")"
it_check "legacy, nginx: no coordinator reached" "$ups_before" "$(ng_upstream_count)"

# expire removes the legacy file; the render that follows stores .mvt.gz
echo "$Z/$X/$Y" | "$TQ_BUILD_DIR/cli/tileq" -c "$NG_CONF" expire --tileset demo --tiles - \
    --min-zoom "$Z" --max-zoom "$Z" >"$IT_TMP/expire.out" 2>&1 ||
    it_fail "tileq expire: $(cat "$IT_TMP/expire.out")"
[[ ! -e $f.mvt ]] && echo "ok: tileq expire removed the legacy $Z/$X/$Y.mvt" ||
    it_fail "legacy $f.mvt still there after expire ($(cat "$IT_TMP/expire.out"))"
it_check "after expire: rendered again" 200 "$(c_get "$p" again -H "$GZ")"
for ((i = 0; i < 100; i++)); do [[ -s $f.mvt.gz ]] && break; sleep 0.1; done
[[ -s $f.mvt.gz && ! -e $f.mvt ]] && echo "ok: the render stored $Z/$X/$Y.mvt.gz" ||
    it_fail "after the render: $(ls "$f".* 2>&1)"
it_check "after the render: same ETag (same tile)" "$etag_gz" "$(it_header again ETag)"

it_done

#!/usr/bin/env bash
# nginx in front of two coordinators (deploy/nginx.conf.in, a private cluster: nginx_lib.sh):
# - a cold tile is rendered once (one render-log entry, one job) and answered by a
#   coordinator; repeating it is answered by nginx from the cache without reaching a
#   coordinator: nginx's access log shows no upstream for it, the coordinators' request
#   counters (tileq_http_requests_total on their /metrics) do not move, and it is still
#   served while both coordinators are frozen (SIGSTOP);
# - with and without Accept-Encoding: gzip, cold and cached, the tile decodes to the same
#   bytes and GDAL's MVT driver reads the demo layers from it;
# - an empty tile is 204 through nginx, cold and cached, with the coordinator's headers;
# - /health, /catalog-like paths and malformed tile paths are passed to the coordinators.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nginx_lib.sh"

ng_up 2 2

# ---- a cold tile, then the same tile from nginx's cache ----------------------------------
Z=12 X=2074 Y=1409 # Paris
path=/demo/$Z/$X/$Y.mvt
ups_before=$(ng_upstream_count)
status=$(ng_get "$path" cold)
it_check "$path cold: status" 200 "$status"
xq=$(it_header cold X-Tileq)
[[ $xq == miss || $xq == joined ]] || it_fail "$path cold: X-Tileq '$xq', expected miss|joined"
it_check "$path cold: Content-Type" application/vnd.mapbox-vector-tile "$(it_header cold Content-Type)"
it_check "$path cold: reached a coordinator once" $((ups_before + 1)) "$(ng_upstream_count)"
[[ -s $NG_CACHE/demo/$Z/$X/$Y.mvt.gz ]] || it_fail "$path cold: not in the cache after the render"
# A miss is how a tile reaches a coordinator, not an error (log_not_found off).
it_check "$path cold: no 'No such file' line in nginx's error.log" 0 \
    "$(grep -c 'No such file or directory' "$NG_DIR/nginx/error.log" || true)"

# Rendered once (render log: this cluster's Redis stream and what its workers flushed to
# PostgreSQL), and nothing left in the queue.
ng_wait_queue_drained
it_check "$path cold: rendered once" 1 "$(ng_renders $Z $X $Y)"
it_check "$path cold: no job queued or running afterwards" "0 0" \
    "$(ng_redis LLEN '{tq}:q:interactive') $(ng_redis ZCARD '{tq}:running')"

before_metrics=$(ng_coord_requests)
ups_before=$(ng_upstream_count)
for i in 1 2 3; do
    status=$(ng_get "$path" hit$i)
    it_check "$path repeat $i: status" 200 "$status"
    it_check "$path repeat $i: X-Tileq" hit "$(it_header hit$i X-Tileq)"
    it_check "$path repeat $i: same bytes" "$(it_hex "$IT_TMP/cold.body")" "$(it_hex "$IT_TMP/hit$i.body")"
done
it_check "$path repeated: Content-Type" application/vnd.mapbox-vector-tile "$(it_header hit1 Content-Type)"
it_check "$path repeated: Access-Control-Allow-Origin" "*" "$(it_header hit1 Access-Control-Allow-Origin)"
it_check "$path repeated: Cache-Control as the coordinator's" "$(it_header cold Cache-Control)" \
    "$(it_header hit1 Cache-Control)"
it_check "$path repeated: no coordinator reached (nginx access log)" "$ups_before" "$(ng_upstream_count)"
after_metrics=$(ng_coord_requests)
[[ -n $before_metrics && -n $after_metrics ]] ||
    it_fail "coordinators' /metrics has no tileq_http_requests_total"
it_check "$path repeated: coordinators' tileq_http_requests_total unchanged" \
    "$before_metrics" "$after_metrics"
it_check "$path repeated: still rendered once" 1 "$(ng_renders $Z $X $Y)"

# Both coordinators frozen: a cached tile is still served (nginx alone), a cold one is not.
kill -STOP "$(cat "$NG_DIR/coordinator1.pid")" "$(cat "$NG_DIR/coordinator2.pid")"
status=$(ng_get "$path" frozen --max-time 10)
kill -CONT "$(cat "$NG_DIR/coordinator1.pid")" "$(cat "$NG_DIR/coordinator2.pid")"
it_check "$path with both coordinators stopped (SIGSTOP): status" 200 "$status"
it_check "$path with both coordinators stopped: X-Tileq" hit "$(it_header frozen X-Tileq)"

# ---- gzip or not, cold and cached: GDAL reads the tile -----------------------------------
# z x y first: cold tiles of two other metatiles (one asked plain first, one gzip first) and
# the cached one above.
for t in "13 4149 2818 plain" "11 1818 806 gzip" "$Z $X $Y plain"; do
    read -r z x y first <<<"$t"
    p=/demo/$z/$x/$y.mvt
    if [[ $first == plain ]]; then
        status=$(ng_get "$p" "gz_$z")
        st2=$(ng_get "$p" "gzc_$z" -H 'Accept-Encoding: gzip')
    else
        st2=$(ng_get "$p" "gzc_$z" -H 'Accept-Encoding: gzip')
        status=$(ng_get "$p" "gz_$z")
    fi
    it_check "$p gzip: status" 200 "$st2"
    it_check "$p plain: status" 200 "$status"
    it_check "$p plain: no Content-Encoding" "" "$(it_header "gz_$z" Content-Encoding)"
    it_check "$p gzip: Content-Encoding" gzip "$(it_header "gzc_$z" Content-Encoding)"
    it_check "$p gzip: Vary" Accept-Encoding "$(it_header "gzc_$z" Vary)"
    if gzip -dc <"$IT_TMP/gzc_$z.body" >"$IT_TMP/gunz_$z.body" 2>/dev/null; then
        it_check "$p gzip: decodes to the plain bytes" "$(it_hex "$IT_TMP/gz_$z.body")" \
            "$(it_hex "$IT_TMP/gunz_$z.body")"
    else
        it_fail "$p gzip: body is not gzip"
    fi
    it_check "$p plain: GDAL MVT layers" "areas places roads" \
        "$(ng_ogr_layers "$IT_TMP/gz_$z.body" "$z" "$x" "$y")"
    it_check "$p gzip (decoded): GDAL MVT layers" "areas places roads" \
        "$(ng_ogr_layers "$IT_TMP/gunz_$z.body" "$z" "$x" "$y")"
done

# ---- an empty tile: 204 cold and cached ---------------------------------------------------
p=/demo/5/4/20.mvt # South Pacific
status=$(ng_get "$p" empty_cold)
it_check "$p cold: status" 204 "$status"
xq=$(it_header empty_cold X-Tileq)
[[ $xq == miss || $xq == joined || $xq == hit ]] || it_fail "$p cold: X-Tileq '$xq'"
[[ -f $NG_CACHE/demo/5/4/20.empty ]] || it_fail "$p: no .empty marker in the cache"
ups_before=$(ng_upstream_count)
for enc in "" gzip; do
    status=$(ng_get "$p" "empty_hit$enc" ${enc:+-H "Accept-Encoding: $enc"})
    it_check "$p cached (Accept-Encoding '$enc'): status" 204 "$status"
    it_check "$p cached: X-Tileq" hit "$(it_header "empty_hit$enc" X-Tileq)"
    it_check "$p cached: empty body" 0 "$(stat -c %s "$IT_TMP/empty_hit$enc.body")"
    for h in Content-Type Access-Control-Allow-Origin Cache-Control; do
        it_check "$p cached: $h as the coordinator's 204" "$(it_header empty_cold "$h")" \
            "$(it_header "empty_hit$enc" "$h")"
    done
done
it_check "$p cached: no coordinator reached" "$ups_before" "$(ng_upstream_count)"

# ---- everything else goes to the coordinators ---------------------------------------------
ups_before=$(ng_upstream_count)
before_metrics=$(ng_coord_requests)
it_check "/health through nginx" 200 "$(ng_get /health health)"
it_check "/health body" ok "$(cat "$IT_TMP/health.body")"
it_check "malformed tile path (leading zero): the coordinator's 400" 400 "$(ng_get /demo/012/0/0.mvt lz)"
it_check "unknown tileset: the coordinator's 404" 404 "$(ng_get /nosuch/1/0/0.mvt unk)"
it_check "outside the grid: the coordinator's 404" 404 "$(ng_get /demo/1/5/0.mvt grid)"
it_check "double slash is not merged into a hit: 400" 400 "$(ng_get /demo//12/$X/$Y.mvt dbl)"
it_check "POST on a cached tile: the coordinator's 405" 405 "$(ng_get "$path" post -X POST)"
it_check "those requests reached a coordinator" $((ups_before + 6)) "$(ng_upstream_count)"
it_check "those requests moved the coordinators' tileq_http_requests_total by 6" \
    $((before_metrics + 6)) "$(ng_coord_requests)"
it_check "nginx's own health" 200 "$(ng_get /nginx-health nh)"

it_done

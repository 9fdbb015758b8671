#!/usr/bin/env bash
# The preview page shows an exported PMTiles archive with no tileq server in the path: the
# fixture's stack exports demo z0-8 over Iberia and France (tileq export), then nginx serves a
# plain directory (the page as map/demo, static/ with MapLibre, pmtiles.js and preview.js, and
# the archive); headless Chromium opens map/demo?pmtiles=../demo.pmtiles, the pmtiles package
# reads the archive with HTTP range requests as a MapLibre protocol, and every demo layer is
# drawn (tests/browser/pmtiles_preview_test.cjs). Screenshot:
# $TQ_BUILD_DIR/tests/browser/pmtiles_preview.png.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$TQ_SOURCE_DIR/deploy/stack.sh"

CHROMIUM=${TQ_CHROMIUM:-/usr/bin/chromium}
[[ -x $CHROMIUM ]] || {
    echo "FAIL: $CHROMIUM is not installed (tests/run.sh installs chromium)" >&2
    exit 1
}
modules=$(it_node_modules) || exit 1
[[ -f $TQ_BUILD_DIR/static/pmtiles.js && -f $TQ_BUILD_DIR/static/maplibre-gl.js ]] || {
    echo "FAIL: $TQ_BUILD_DIR/static lacks pmtiles.js or maplibre-gl.js (npm missing at build?)" >&2
    exit 1
}
tq_install_nginx

# The site: what a static host would hold. nginx's workers run as nobody under root.
site=$IT_TMP/site
mkdir -p "$site/map" "$site/static"
chmod 755 "$IT_TMP"
cp "$TQ_BUILD_DIR"/static/* "$site/static/"
cp "$TQ_BUILD_DIR/static/map.html" "$site/map/demo"
rc=0
"$TQ_BUILD_DIR/cli/tileq" -c "$TQ_TEST_CONFIG" export --tileset demo --bbox -10,36,8,51.5 \
    --zoom 0-8 -o "$site/demo.pmtiles" >"$IT_TMP/export.out" 2>"$IT_TMP/export.err" || rc=$?
cat "$IT_TMP/export.out"
it_check "tileq export to $site/demo.pmtiles: exit status" 0 "$rc"
((rc == 0)) || cat "$IT_TMP/export.err" >&2
chmod -R a+rX "$site"

tq_free_port port
state=$IT_TMP/nginx
mkdir -p "$state"
user=""
[[ $(id -u) -eq 0 ]] && user="user nobody nogroup;"
cat >"$state/nginx.conf" <<CONF
$user
worker_processes 1;
pid $state/nginx.pid;
error_log $state/error.log warn;
events { worker_connections 64; }
http {
    client_body_temp_path $state/client_body_temp;
    proxy_temp_path $state/proxy_temp;
    fastcgi_temp_path $state/fastcgi_temp;
    uwsgi_temp_path $state/uwsgi_temp;
    scgi_temp_path $state/scgi_temp;
    access_log $state/access.log;
    types { text/html html; text/javascript js; text/css css; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        root $site;
        location /map/ { default_type text/html; }
    }
}
CONF
trap 'tq_nginx_stop "$state" || true; rm -rf "$IT_TMP"' EXIT
tq_nginx_start "$state/nginx.conf" "$state" "http://127.0.0.1:$port/map/demo"

# nginx answers ranges of a static file itself: the PMTiles reader's only need.
code=$(curl -sS -o "$IT_TMP/range.bin" -w '%{http_code}' -H 'Range: bytes=0-126' \
    "http://127.0.0.1:$port/demo.pmtiles")
it_check "nginx answers a range of the archive with 206" 206 "$code"
it_check "the range holds the PMTiles v3 header" "PMTiles" "$(head -c 7 "$IT_TMP/range.bin")"

shot=$TQ_BUILD_DIR/tests/browser/pmtiles_preview.png
rm -f "$shot"
TQ_BROWSER_MODULES=$modules TQ_CHROMIUM=$CHROMIUM \
    node "$TQ_SOURCE_DIR/tests/browser/pmtiles_preview_test.cjs" \
    "http://127.0.0.1:$port/map/demo?pmtiles=../demo.pmtiles" "$shot" |
    grep -v 'GL Driver Message' || it_fail "the browser test failed (output above)"
[[ -s $shot ]] && echo "ok: screenshot saved as $shot" || it_fail "no screenshot at $shot"
it_done

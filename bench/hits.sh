#!/usr/bin/env bash
# bench/hits.sh — cache hits per second: the coordinator (1 and 2 processes: http.processes,
# SO_REUSEPORT) against nginx (deploy/nginx.conf.in, gzip_static/gunzip) serving the same
# cached tile, with and without Accept-Encoding: gzip.
#
#   bench/hits.sh            (env: ROUNDS=5 DURATION=8 CONNS=32 TILE=10/518/352 SCALE=1,
#                             TQ_BENCH_BUILD_DIR, TQ_BENCH_NO_BUILD=1, TQ_BENCH_KEEP=1)
#
# Starts its own PostgreSQL+PostGIS (demo data), Redis, one worker, two coordinators on the
# same config ("c1": http.processes = 1, "c2": http.processes = 2) and nginx in front of c1.
# The tile is rendered once (a miss), then every configuration is measured ROUNDS times,
# interleaved round by round (so a busy moment of the machine falls on all of them), with
# `wrk -t1 -c$CONNS -d${DURATION}s` (installed from Debian when missing): req/s of each run,
# the median per configuration, and the ratios of the medians:
#   - coordinator gzip ÷ nginx identity (aim: >= 0.9), nginx gzip ÷ nginx identity (>= 0.9);
#   - the same against nginx sending a plain file as it is (sendfile, no gunzip): the tile's
#     plain bytes as a legacy {y}.mvt at PLAIN_TILE (a tile no render touches here), the
#     static-file speed of the old uncompressed cache;
#   - 2 processes ÷ 1, identity and gzip.
# Every configuration's answer is checked first (status 200, X-Tileq hit, Content-Encoding as
# asked, the body the stored file or its inflation); wrk's non-2xx count must be 0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
CONNS=${CONNS:-32}
TILE=${TILE:-10/518/352}
PLAIN_TILE=${PLAIN_TILE:-10/600/352}

install_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    local TQ_APT_PACKAGES=(wrk)
    tq_install_packages
}
install_wrk
tq_install_nginx
b_build
b_services
echo "loading the demo data (scale ${SCALE:-1})..."
PGOPTIONS="-c client_min_messages=warning" tq_load_demo "$BENCH_ROOT" "$B_PG_PORT" \
    -v scale="${SCALE:-1}"
b_config "{ name = \"demo\"; minzoom = 0; maxzoom = 14; metatile = 8; layers = (
  { name = \"areas\"; sql = \"$B_L_AREAS\"; },
  { name = \"roads\"; sql = \"$B_L_ROADS\"; },
  { name = \"places\"; sql = \"$B_L_PLACES\"; } ); }"
b_worker w1
b_coordinator c1
C1=$B_URL
# c2: the same config with http.processes = 2.
sed 's/^http = .*//' "$B_DIR/tileq.conf" >"$B_DIR/tileq2.conf"
echo 'http = { processes = 2; };' >>"$B_DIR/tileq2.conf"
tq_free_port c2_port
B_PIDS+=("$B_DIR/c2.pid")
TQ_LISTEN=127.0.0.1:$c2_port tq_start_bg "$B_DIR/c2.pid" "$B_DIR/c2.log" \
    "$BUILD/coordinator/tileq-coordinator" -c "$B_DIR/tileq2.conf"
tq_wait_http "http://127.0.0.1:$c2_port/health" 30 "$B_DIR/c2.pid" "$B_DIR/c2.log"
C2=http://127.0.0.1:$c2_port
for ((i = 0; i < 100; i++)); do
    (($(grep -c 'event=listening' "$B_DIR/c2.log" || true) >= 2)) && break
    sleep 0.1
done
echo "c2: $(grep -c 'event=listening' "$B_DIR/c2.log" || true) processes listening on port $c2_port"

tq_free_port ng_port
mkdir -p "$B_DIR/nginx"
chmod 755 "$B_DIR"
tq_nginx_write_config "$BENCH_ROOT/deploy/nginx.conf.in" "$B_DIR/nginx.conf" "$B_DIR/nginx" \
    "127.0.0.1:$ng_port" "$B_DIR/cache" "${C1#http://}"
tq_nginx_start "$B_DIR/nginx.conf" "$B_DIR/nginx" "http://127.0.0.1:$ng_port/nginx-health"
NG=http://127.0.0.1:$ng_port
trap 'tq_nginx_stop "$B_DIR/nginx"; b_cleanup' EXIT

# The tile, rendered once.
path=/demo/$TILE.mvt
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 "$C1$path")
[[ $code == 200 ]] || tq_die "$path: $code (expected 200: pick a TILE with features)"
stored=$B_DIR/cache/demo/$TILE.mvt.gz
for ((i = 0; i < 100; i++)); do [[ -s $stored ]] && break; sleep 0.1; done
[[ -s $stored ]] || tq_die "$stored not written"
gzip -dc <"$stored" >"$B_DIR/plain.ref"
echo "tile $TILE: $(stat -c %s "$B_DIR/plain.ref") bytes, stored gzip $(stat -c %s "$stored") bytes"

mkdir -p "$B_DIR/cache/demo/${PLAIN_TILE%/*}"
cp "$B_DIR/plain.ref" "$B_DIR/cache/demo/$PLAIN_TILE.mvt"
chmod 644 "$B_DIR/cache/demo/$PLAIN_TILE.mvt"

# path_of CONFIG: the tile's path for that configuration.
path_of() { [[ $1 == nginx_plainfile ]] && echo "/demo/$PLAIN_TILE.mvt" || echo "$path"; }

# check NAME URL ENC: one answer of the configuration, as it must be.
check() {
    local name=$1 url=$2 enc=$3 h=() want
    [[ $enc == gzip ]] && h=(-H 'Accept-Encoding: gzip')
    curl -s -D "$B_DIR/$name.h" -o "$B_DIR/$name.b" "${h[@]}" "$url$(path_of "$name")"
    grep -qi '^x-tileq: hit' "$B_DIR/$name.h" || tq_die "$name: not a hit: $(head -1 "$B_DIR/$name.h")"
    if [[ $enc == gzip ]]; then
        grep -qi '^content-encoding: gzip' "$B_DIR/$name.h" || tq_die "$name: not gzip"
        want=$stored
    else
        ! grep -qi '^content-encoding' "$B_DIR/$name.h" || tq_die "$name: encoded"
        want=$B_DIR/plain.ref
    fi
    cmp -s "$want" "$B_DIR/$name.b" || tq_die "$name: body differs from $want"
}

CONFIGS=(nginx_plainfile nginx_identity nginx_gzip c1_identity c1_gzip c2_identity c2_gzip)
url_of() { case $1 in nginx_*) echo "$NG" ;; c1_*) echo "$C1" ;; c2_*) echo "$C2" ;; esac; }
enc_of() { [[ $1 == *_gzip ]] && echo gzip || echo identity; }
for c in "${CONFIGS[@]}"; do check "$c" "$(url_of "$c")" "$(enc_of "$c")"; done
echo "answers checked: 200 hit, the stored bytes to gzip clients, the inflated tile to the others"

# run CONFIG: one wrk run; appends req/s to $B_DIR/CONFIG.rps.
run() {
    local c=$1 h=() out rps non2xx
    [[ $(enc_of "$c") == gzip ]] && h=(-H 'Accept-Encoding: gzip')
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "${h[@]}" "$(url_of "$c")$(path_of "$c")")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
    [[ -z $non2xx ]] || tq_die "$c: $non2xx non-2xx answers"
    echo "$rps" >>"$B_DIR/$c.rps"
    printf '  %-15s %10.0f req/s\n' "$c" "$rps"
}

echo "wrk -t1 -c$CONNS -d${DURATION}s, $ROUNDS rounds:"
for ((r = 1; r <= ROUNDS; r++)); do
    echo "round $r"
    for c in "${CONFIGS[@]}"; do run "$c"; done
done

declare -A med
echo
echo "medians of $ROUNDS runs (req/s):"
printf '  %-17s %12s %12s\n' "" identity gzip
for who in nginx c1 c2; do
    for enc in identity gzip; do med[${who}_$enc]=$(b_median <"$B_DIR/${who}_$enc.rps"); done
    label=$who
    [[ $who == c1 ]] && label="coordinator x1"
    [[ $who == c2 ]] && label="coordinator x2"
    printf '  %-17s %12.0f %12.0f\n' "$label" "${med[${who}_identity]}" "${med[${who}_gzip]}"
done
echo
echo "ratios of the medians:"
echo "  coordinator x1 gzip / nginx identity:  $(b_div "${med[c1_gzip]}" "${med[nginx_identity]}")   (aim >= 0.9)"
echo "  coordinator x2 gzip / nginx identity:  $(b_div "${med[c2_gzip]}" "${med[nginx_identity]}")   (aim >= 0.9)"
echo "  nginx gzip / nginx identity:           $(b_div "${med[nginx_gzip]}" "${med[nginx_identity]}")   (aim >= 0.9)"
med[nginx_plainfile]=$(b_median <"$B_DIR/nginx_plainfile.rps")
echo "  nginx, a plain file as it is (legacy .mvt, identity): $(printf '%.0f' "${med[nginx_plainfile]}") req/s"
echo "  coordinator x1 gzip / nginx plain file: $(b_div "${med[c1_gzip]}" "${med[nginx_plainfile]}")"
echo "  coordinator x2 gzip / nginx plain file: $(b_div "${med[c2_gzip]}" "${med[nginx_plainfile]}")"
echo "  nginx gzip / nginx plain file:          $(b_div "${med[nginx_gzip]}" "${med[nginx_plainfile]}")"
echo "  coordinator gzip / identity (x1):      $(b_div "${med[c1_gzip]}" "${med[c1_identity]}")"
echo "  coordinator x2 / x1, identity:         $(b_div "${med[c2_identity]}" "${med[c1_identity]}")"
echo "  coordinator x2 / x1, gzip:             $(b_div "${med[c2_gzip]}" "${med[c1_gzip]}")"

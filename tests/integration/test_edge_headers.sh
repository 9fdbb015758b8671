#!/usr/bin/env bash
# Headers a client can forge (issue 16 item 1), on a private cluster (nginx_lib.sh: nginx in
# front of a coordinator, deploy/nginx.conf.in and deploy/tileq.conf.in, whose
# http.trusted_proxies is loopback: the nginx), plus a coordinator that trusts no proxy
# (TQ_TRUSTED_PROXIES=""), reached directly.
#  - through nginx, a client's X-Forwarded-Host and X-Forwarded-Prefix never reach a
#    coordinator (nginx clears them): TileJSON tile URLs keep the Host the client used;
#  - through nginx, an upstream load balancer's X-Forwarded-Proto (https, any case, first of
#    a list) is carried through: the tile URLs are https://; anything but http/https is
#    replaced by nginx's own scheme;
#  - directly at a coordinator that trusts no proxy, every X-Forwarded-* is ignored;
#  - directly at a coordinator that trusts this peer, they count (what nginx relies on).
# Afterwards both still serve tiles.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nginx_lib.sh"

ng_up 1 1
nhost=${NG_URL#http://}
# The TileJSON needs the layer schema a worker publishes.
for ((i = 0; i < 300; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${NG_COORD_PORTS[1]}/ready") == 200 ]] &&
        break
    sleep 0.1
done

# A coordinator that trusts no proxy (env override of the same config).
tq_free_port p2
TQ_TRUSTED_PROXIES="" TQ_LISTEN=127.0.0.1:$p2 tq_start_bg "$NG_DIR/coordinator2.pid" \
    "$NG_DIR/coordinator2.log" "$TQ_BUILD_DIR/coordinator/tileq-coordinator" -c "$NG_CONF"
tq_wait_http "http://127.0.0.1:$p2/ready" 30 "$NG_DIR/coordinator2.pid" "$NG_DIR/coordinator2.log"

# tiles URL NAME [curl args]: .tiles[0] of the TileJSON at URL.
tiles() {
    local url=$1 name=$2 code
    shift 2
    code=$(it_fetch_url "$url" "$name" "$@")
    [[ $code == 200 ]] || it_fail "$name: HTTP $code: $(head -c 300 "$IT_TMP/$name.body")"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tiles"][0])' "$IT_TMP/$name.body"
}
T='{z}/{x}/{y}.mvt'

# ---- through nginx ----------------------------------------------------------------------
it_check "nginx, no forwarded headers" "http://$nhost/demo/$T" "$(tiles "$NG_URL/demo.json" n0)"
it_check "nginx, X-Forwarded-Host: evil.example → ignored" "http://$nhost/demo/$T" \
    "$(tiles "$NG_URL/demo.json" n1 -H 'X-Forwarded-Host: evil.example')"
it_check "nginx, X-Forwarded-Prefix: /evil → ignored" "http://$nhost/demo/$T" \
    "$(tiles "$NG_URL/demo.json" n2 -H 'X-Forwarded-Prefix: /evil')"
it_check "nginx, X-Forwarded-Host and -Prefix, catalog → ignored" "http://$nhost/demo.json" \
    "$(it_fetch_url "$NG_URL/catalog" n3 -H 'X-Forwarded-Host: evil.example' \
        -H 'X-Forwarded-Prefix: /evil' >/dev/null
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tilesets"][0]["tilejson"])' \
        "$IT_TMP/n3.body")"
it_check "nginx, a load balancer's X-Forwarded-Proto: https → carried" "https://$nhost/demo/$T" \
    "$(tiles "$NG_URL/demo.json" n4 -H 'X-Forwarded-Proto: https')"
it_check "nginx, X-Forwarded-Proto: HTTPS, http (a chain) → https" "https://$nhost/demo/$T" \
    "$(tiles "$NG_URL/demo.json" n5 -H 'X-Forwarded-Proto: HTTPS, http')"
it_check "nginx, X-Forwarded-Proto: javascript → nginx's scheme" "http://$nhost/demo/$T" \
    "$(tiles "$NG_URL/demo.json" n6 -H 'X-Forwarded-Proto: javascript')"
it_check "nginx, X-Forwarded-Proto: https://evil.example → nginx's scheme" "http://$nhost/demo/$T" \
    "$(tiles "$NG_URL/demo.json" n7 -H 'X-Forwarded-Proto: https://evil.example')"

# ---- directly at a coordinator that trusts no proxy ---------------------------------------
c2=127.0.0.1:$p2
it_check "untrusting coordinator, X-Forwarded-Host/-Proto/-Prefix → all ignored" "http://$c2/demo/$T" \
    "$(tiles "http://$c2/demo.json" d1 -H 'X-Forwarded-Host: evil.example' \
        -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Prefix: /evil')"
it_check "untrusting coordinator, Host is still used" "http://maps.example.org:8080/demo/$T" \
    "$(tiles "http://$c2/demo.json" d2 -H 'Host: maps.example.org:8080' \
        -H 'X-Forwarded-Host: evil.example')"

# ---- directly at a coordinator that trusts this peer (loopback, as nginx is) ---------------
c1=127.0.0.1:${NG_COORD_PORTS[1]}
it_check "trusting coordinator, from a trusted peer: X-Forwarded-* count" \
    "https://tiles.example.com/tq/demo/$T" \
    "$(tiles "http://$c1/demo.json" t1 -H 'X-Forwarded-Host: tiles.example.com' \
        -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Prefix: /tq/')"

# ---- still serving --------------------------------------------------------------------------
it_check "after: a tile through nginx" 200 "$(ng_get /demo/10/518/352.mvt after1)"
it_check "after: a tile at the untrusting coordinator" 200 \
    "$(it_fetch_url "http://$c2/demo/10/519/352.mvt" after2)"
it_done

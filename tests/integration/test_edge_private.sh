#!/usr/bin/env bash
# What is public (issue 16 item 2): /metrics and /health (queue state, worker host names)
# answer only the client addresses of http.metrics_allow, at nginx and at the coordinators
# alike; everyone else gets 403 "forbidden". A private cluster (nginx_lib.sh) whose nginx
# allows 10.0.0.0/8 only (TQ_NGINX_METRICS_ALLOW; this test's client is 127.0.0.1), plus
# coordinators reached directly, started from the same config with env overrides:
#   c2  metrics_allow 192.0.2.1, trusts no proxy: the peer is the client, X-Forwarded-For
#       is not believed;
#   c3  metrics_allow 192.0.2.1, trusts 127.0.0.1: the client is the rightmost untrusted
#       X-Forwarded-For entry; a malformed entry makes it unknown (refused).
# Tiles, TileJSON and /ready stay public; everything keeps serving.
# (The other half of item 2, 500 bodies without the PostgreSQL error: test_queue_deadletter.sh
# and test_queue_timeout.sh.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nginx_lib.sh"

TQ_NGINX_METRICS_ALLOW="10.0.0.0/8" ng_up 1 1
coord() { # coord NAME METRICS_ALLOW TRUSTED: starts a coordinator; prints its port
    local port
    tq_free_port port
    TQ_METRICS_ALLOW=$2 TQ_TRUSTED_PROXIES=$3 TQ_LISTEN=127.0.0.1:$port \
        tq_start_bg "$NG_DIR/coordinator$1.pid" "$NG_DIR/coordinator$1.log" \
        "$TQ_BUILD_DIR/coordinator/tileq-coordinator" -c "$NG_CONF"
    tq_wait_http "http://127.0.0.1:$port/ready" 30 "$NG_DIR/coordinator$1.pid" \
        "$NG_DIR/coordinator$1.log" >/dev/null
    echo "$port"
}
p2=$(coord 2 192.0.2.1 "")
p3=$(coord 3 192.0.2.1 127.0.0.1)
c1=http://127.0.0.1:${NG_COORD_PORTS[1]} c2=http://127.0.0.1:$p2 c3=http://127.0.0.1:$p3

# get URL NAME [curl args]: "STATUS BODY" (body's first line).
get() {
    local code
    code=$(it_fetch_url "$@")
    echo "$code $(head -n 1 "$IT_TMP/$2.body")"
}

# ---- nginx ------------------------------------------------------------------------------
it_check "nginx /metrics from 127.0.0.1 (not allowed)" "403 forbidden" "$(get "$NG_URL/metrics" n1)"
it_check "nginx /health from 127.0.0.1 (not allowed)" "403 forbidden" "$(get "$NG_URL/health" n2)"
it_check "nginx /metrics, forged X-Forwarded-For: 10.1.1.1" "403 forbidden" \
    "$(get "$NG_URL/metrics" n3 -H 'X-Forwarded-For: 10.1.1.1')"
it_check "nginx /metrics?x=1 (a query)" "403 forbidden" "$(get "$NG_URL/metrics?x=1" n4)"
it_check "nginx /%6Detrics (encoded)" "403 forbidden" "$(get "$NG_URL/%6Detrics" n5)"
it_check "nginx //metrics (not merged: the coordinator's 400)" "400 '..' or '//' in path" \
    "$(get "$NG_URL//metrics" n6)"
it_check "nginx 403: text/plain" "text/plain" "$(it_header n1 Content-Type)"
grep -q 'tileq_' "$IT_TMP"/n*.body && it_fail "nginx: a refused answer carries metrics"
it_check "nginx /ready stays public" 200 "$(ng_get /ready ready)"
it_check "nginx TileJSON stays public" 200 "$(ng_get /demo.json tj)"

# ---- a coordinator that trusts no proxy -------------------------------------------------
it_check "c2 /metrics from 127.0.0.1" "403 forbidden" "$(get "$c2/metrics" d1)"
it_check "c2 /health from 127.0.0.1" "403 forbidden" "$(get "$c2/health" d2)"
it_check "c2 /metrics, forged X-Forwarded-For: 192.0.2.1" "403 forbidden" \
    "$(get "$c2/metrics" d3 -H 'X-Forwarded-For: 192.0.2.1')"
it_check "c2 /health, HEAD" 403 "$(it_fetch_url "$c2/health" d4 -I)"
it_check "c2 /%6Detrics (not decoded: not /metrics)" "400 escaped or reserved character in path" \
    "$(get "$c2/%6Detrics" d5)"

# ---- a coordinator behind a trusted proxy (this peer) ------------------------------------
it_check "c3 /health for client 192.0.2.1 (via a trusted proxy)" "200 ok" \
    "$(get "$c3/health" t1 -H 'X-Forwarded-For: 192.0.2.1')"
code=$(it_fetch_url "$c3/metrics" t2 -H 'X-Forwarded-For: 192.0.2.1')
it_check "c3 /metrics for client 192.0.2.1" 200 "$code"
grep -q '^tileq_' "$IT_TMP/t2.body" || it_fail "c3 /metrics: no tileq_ series"
it_check "c3 /metrics, client 203.0.113.5 behind a forged 192.0.2.1" "403 forbidden" \
    "$(get "$c3/metrics" t3 -H 'X-Forwarded-For: 192.0.2.1, 203.0.113.5')"
it_check "c3 /metrics, two X-Forwarded-For lines (the last names 203.0.113.5)" "403 forbidden" \
    "$(get "$c3/metrics" t4 -H 'X-Forwarded-For: 192.0.2.1' -H 'X-Forwarded-For: 203.0.113.5')"
it_check "c3 /metrics, malformed X-Forwarded-For entry" "403 forbidden" \
    "$(get "$c3/metrics" t5 -H 'X-Forwarded-For: 192.0.2.1, 192.0.2.1:80')"
it_check "c3 /metrics, empty entry" "403 forbidden" \
    "$(get "$c3/metrics" t6 -H 'X-Forwarded-For: 192.0.2.1,')"
it_check "c3 /metrics, no X-Forwarded-For (the peer, 127.0.0.1)" "403 forbidden" \
    "$(get "$c3/metrics" t7)"

# ---- the default (deploy/tileq.conf.in): loopback allowed ---------------------------------
it_check "c1 /health from 127.0.0.1 (allowed)" "200 ok" "$(get "$c1/health" a1)"

# ---- still serving ------------------------------------------------------------------------
it_check "after: a tile through nginx" 200 "$(ng_get /demo/10/518/352.mvt after1)"
it_check "after: a tile at c2" 200 "$(it_fetch_url "$c2/demo/10/519/352.mvt" after2)"
it_check "after: a tile at c3" 200 "$(it_fetch_url "$c3/demo/10/520/352.mvt" after3)"
it_done

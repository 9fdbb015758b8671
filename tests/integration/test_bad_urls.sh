#!/usr/bin/env bash
# Malformed and out-of-range tile requests get 400/404 without touching Redis: no new key
# appears in Redis while they are served (and none of them names a job).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

long=$(head -c 10240 /dev/zero | tr '\0' 'a')
# expected-status path what
CASES=(
    "400 /demo/a/0/0.mvt non-numeric z"
    "400 /demo/1/x/0.mvt non-numeric x"
    "400 /demo/1/0/1y.mvt junk after y"
    "400 /demo/1/-1/0.mvt negative x"
    "400 /demo/-1/0/0.mvt negative z"
    "400 /demo/1/0/+1.mvt signed y"
    "400 /demo/31/0/0.mvt z=31"
    "400 /demo/99999999999999999999/0/0.mvt z overflow"
    "404 /demo/3/8/0.mvt x=2^z"
    "404 /demo/3/0/8.mvt y=2^z"
    "404 /demo/0/1/0.mvt x=1 at z0"
    "404 /demo/15/0/0.mvt z above the tileset's maxzoom"
    "404 /nosuch/0/0/0.mvt unknown tileset"
    "400 /demo/../demo/0/0/0.mvt .. in the path"
    "400 /demo/0/0/../0.mvt .. as a component"
    "400 /demo/%2e%2e/0/0/0.mvt percent-encoded .."
    "400 //demo/0/0/0.mvt empty component"
    "400 /demo/$long/0/0.mvt 10 KB path"
    "404 /demo/0/0/0.png not a tile route"
)

before=$(it_redis_keys)

for c in "${CASES[@]}"; do
    read -r want path what <<<"$c"
    status=$(it_fetch "$path" bad)
    short=$path
    ((${#short} > 60)) && short="${short:0:40}...(${#path} bytes)"
    it_check "$short ($what)" "$want" "$status"
done

after=$(it_redis_keys)
# Keys the workers write on their own meanwhile (registry, render log stream, layer schemas
# for TileJSON, their figures for /metrics) are not caused by requests.
new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed '/^$/d' |
    grep -vxF -e '{tq}:workers' -e '{tq}:renderlog' -e '{tq}:schema' -e '{tq}:wmetrics' |
    grep -v '^{tq}:wmetrics:' || true)
if [[ -n $new ]]; then
    it_fail "bad requests created Redis keys: $new"
else
    echo "ok: no Redis key created by bad requests"
fi
# No job for any of those tiles anywhere in Redis (queues, job hashes).
for key in $after; do
    type=$(it_redis type "$key")
    case $type in
    list) vals=$(it_redis lrange "$key" 0 -1) ;;
    zset) vals=$(it_redis zrange "$key" 0 -1) ;;
    hash) vals=$(it_redis hkeys "$key") ;;
    set) vals=$(it_redis smembers "$key") ;;
    *) vals="" ;;
    esac
    if grep -qE '(^|/)(nosuch|demo/(31|15|-1|\.\.))(/|$)' <<<"$key
$vals"; then
        it_fail "Redis key $key refers to a bad request"
    fi
done

it_done

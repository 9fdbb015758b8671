#!/usr/bin/env bash
# deploy/docker-compose.yml and deploy/Dockerfile without a Docker engine (there is none in
# CI): `docker-compose config` accepts the file and lists the topology's services; the
# entrypoint scripts parse; the nginx config the nginx image's entrypoint writes passes
# `nginx -t`; the runtime Debian packages the Dockerfile installs exist in apt.
# Skipped (passes with a note) when docker-compose or nginx is not installed.
set -euo pipefail
: "${TQ_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
D=$TQ_SOURCE_DIR/deploy
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tqdc.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail=0
ok() { echo "ok: $*"; }
bad() {
    echo "FAIL: $*" >&2
    fail=1
}

if ! command -v docker-compose >/dev/null 2>&1; then
    echo "skipped: docker-compose is not installed (tests/run.sh installs it)"
    exit 0
fi

# One `config` run (docker-compose starts slowly); services and volumes from its output.
if cfg=$(docker-compose -f "$D/docker-compose.yml" config 2>"$TMP/err"); then
    ok "docker-compose config"
else
    cat "$TMP/err" >&2
    bad "docker-compose config rejects deploy/docker-compose.yml"
fi
services=$(sed -n '/^services:/,/^[a-z]/s/^  \([a-z0-9-]*\):$/\1/p' <<<"$cfg" | sort | tr '\n' ' ')
[[ $services == "coordinator-1 coordinator-2 nginx postgis redis worker " ]] &&
    ok "services: $services" || bad "services: '$services'"
volumes=$(sed -n '/^volumes:/,/^[a-z]/s/^  \([a-z0-9-]*\):.*$/\1/p' <<<"$cfg" | sort | tr '\n' ' ')
[[ $volumes == "pg-data tile-cache " ]] && ok "volumes: $volumes" || bad "volumes: '$volumes'"
# Every service but redis/postgis mounts the one cache volume; each has a healthcheck
# except the workers (no listener).
n=$(grep -c 'tile-cache:/var/cache/tileq' <<<"$cfg" || true)
[[ $n -eq 4 ]] && ok "4 services share the cache volume" || bad "$n services mount the cache volume"
n=$(grep -c '^    healthcheck:' <<<"$cfg" || true)
[[ $n -eq 5 ]] && ok "5 healthchecks" || bad "$n healthchecks"

for f in "$D"/docker/*.sh; do
    sh -n "$f" && ok "sh -n $(basename "$f")" || bad "$(basename "$f") does not parse"
done

# The runtime packages of the Dockerfile's tileq and nginx stages exist in Debian's apt lists
# (skipped when the lists were cleaned).
if apt-cache show zlib1g >/dev/null 2>&1; then
    for p in $(sed -n '/^FROM debian:12 AS \(tileq\|nginx\)/,/^COPY/p' "$D/Dockerfile" |
        grep -oE '\b(lib[a-z0-9.+-]+|zlib1g|curl|ca-certificates|nginx-light)\b' | sort -u); do
        apt-cache show "$p" >/dev/null 2>&1 || bad "Dockerfile installs $p, unknown to apt"
    done
    ok "the Dockerfile's runtime packages exist in apt"
fi

# The nginx image's entrypoint, with its paths moved into TMP and nginx -t instead of nginx.
if command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; then
    mkdir -p "$TMP/etc" "$TMP/state"
    cp "$D/nginx.conf.in" "$TMP/etc/"
    sed -e "s|/etc/tileq|$TMP/etc|g" -e "s|/var/lib/tileq-nginx|$TMP/state|g" \
        -e 's|^exec nginx .*|true|' "$D/docker/nginx-entrypoint.sh" >"$TMP/ne.sh"
    TQ_NGINX_UPSTREAMS="127.0.0.1:1 127.0.0.1:2" TQ_NGINX_LISTEN=127.0.0.1:1 \
        TQ_CACHE_DIR=$TMP/cache sh "$TMP/ne.sh"
    rm -f "$TMP/state"/*.log
    if PATH=$PATH:/usr/sbin nginx -t -q -p "$TMP/state" -e "$TMP/state/error.log" \
        -c "$TMP/etc/nginx.conf" 2>"$TMP/err"; then
        ok "nginx -t accepts the config the nginx image writes"
    else
        cat "$TMP/err" >&2
        bad "nginx -t rejects the config the nginx image writes"
    fi
    n=$(grep -c 'server 127.0.0.1:[12] max_fails' "$TMP/etc/nginx.conf" || true)
    [[ $n -eq 2 ]] && ok "two upstream servers" || bad "$n upstream servers"
fi

[[ $fail -eq 0 ]] && echo "all checks passed"
exit $fail

#!/usr/bin/env bash
# tests/docker/test_compose.sh — the compose cluster (deploy/docker-compose.yml,
# deploy/Dockerfile) built and run on a Docker engine, under its own compose project
# (tqdockertest) and a free host port for nginx, so it collides with nothing else:
#   - `debian:12` made with debootstrap when missing (deploy/docker/debian-base.sh);
#   - the images built from a copy of the repository whose deploy/docker/extra-ca/ holds
#     this host's extra CA certificates (/usr/local/share/ca-certificates/*.crt, npm's
#     cafile), which are never written into the source tree; their sizes printed;
#   - `up -d --scale worker=3`: the time until nginx serves the demo TileJSON;
#   - tiles through nginx, byte for byte the rendering contract's SQL run in the postgis
#     container (a miss, then the same tile as an nginx cache hit);
#   - a herd of 200 clients through nginx on one cold tile: 1 render (render-log stream
#     plus tileq.render_log);
#   - workers scaled 3 → 5 → 3 (containers and live heartbeats in `tileq status`);
#   - a worker container killed (`docker kill`) while it renders (the render is held on a
#     table lock): the waiting request still gets its tile, rendered by another worker once
#     the lease has run out;
#   - `docker-compose down -v`: no container, network or volume of the project is left.
# Exits 77 (ctest SKIP_RETURN_CODE) with the reason when Docker cannot run here. The images
# (and the build cache) stay, so that the next run builds only what changed.
set -euo pipefail
: "${TQ_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
SRC=$TQ_SOURCE_DIR
PROJECT=${TQ_DOCKER_PROJECT:-tqdockertest}
skip() {
    echo "SKIPPED: $*"
    exit 77
}
command -v docker >/dev/null || skip "no docker CLI (tests/run.sh installs docker.io)"
command -v docker-compose >/dev/null || skip "no docker-compose (tests/run.sh installs it)"
docker info >/dev/null 2>&1 || skip "no Docker engine answers (dockerd not running or not permitted here)"
if ! docker image inspect debian:12 >/dev/null 2>&1; then
    [[ $(id -u) == 0 ]] && command -v debootstrap >/dev/null ||
        skip "no debian:12 image, and debootstrap (as root) is not available to make one"
fi

# lib.sh (it_check, it_contract_sql ...) with an env file of our own: the layers come from
# deploy/tileq.conf.in, which the images are configured from.
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/tqdocker.XXXXXX")
printf 'TQ_TEST_CONFIG=%q\n' "$SRC/deploy/tileq.conf.in" >"$TMPD/env"
TQ_IT_ENV_FILE=$TMPD/env
# shellcheck source=../integration/lib.sh
source "$SRC/tests/integration/lib.sh"
CTX=$TMPD/ctx
DC=(docker-compose -p "$PROJECT" -f "$CTX/deploy/docker-compose.yml")
cleanup() {
    local rc=$?
    if [[ -f $CTX/deploy/docker-compose.yml ]]; then
        if ((rc != 0 || IT_FAILURES > 0)); then
            echo "--- docker-compose ps / logs (tail) ---" >&2
            "${DC[@]}" ps >&2 || true
            "${DC[@]}" logs --no-color --tail=30 >&2 || true
        fi
        "${DC[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    fi
    rm -rf "$TMPD" "$IT_TMP"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- the base image and the build context ---------------------------------------------------
t0=$(now)
sh "$SRC/deploy/docker/debian-base.sh" debian:12
echo "base image debian:12 ready ($(secs "$t0") s)"
mkdir -p "$CTX"
tar -C "$SRC" --exclude=./.git --exclude=./build --exclude='./build-*' --exclude='*/node_modules' \
    -cf - . | tar -C "$CTX" -xf -
ca=0
for f in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    [[ -f $f ]] || continue
    cp "$f" "$CTX/deploy/docker/extra-ca/host-$ca-$(basename "$f")"
    ca=$((ca + 1))
done
npm_ca=$(npm config get cafile 2>/dev/null | tail -n 1 || true)
if [[ -f $npm_ca && $(readlink -f "$npm_ca") != /etc/ssl/certs/ca-certificates.crt ]]; then
    cp "$npm_ca" "$CTX/deploy/docker/extra-ca/host-npm-cafile.crt"
    ca=$((ca + 1))
fi
echo "build context: $CTX ($ca extra CA file(s) from this host in deploy/docker/extra-ca/)"

# ---- compose config -------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export TQ_NGINX_PORT=$port TQ_NGINX_BIND=127.0.0.1 TQ_IMAGE_PREFIX=tileq
cfg=$("${DC[@]}" config)
services=$("${DC[@]}" config --services | sort | tr '\n' ' ')
it_check "services" "coordinator-1 coordinator-2 nginx postgis redis watcher worker " "$services"
it_check "healthchecks on every service" 7 "$(grep -c '^    healthcheck:' <<<"$cfg" || true)"
it_check "5 services share the cache volume" 5 "$(grep -c 'tile-cache:/var/cache/tileq' <<<"$cfg" || true)"
for f in "$SRC"/deploy/docker/*.sh; do
    sh -n "$f" || it_fail "$(basename "$f") does not parse"
done
"${DC[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true # a previous run's leftovers

# ---- build -------------------------------------------------------------------------------------
t0=$(now)
if ! "${DC[@]}" build >"$TMPD/build.log" 2>&1; then
    tail -n 60 "$TMPD/build.log" >&2
    it_fail "docker-compose build failed"
    exit 1
fi
echo "images built in $(secs "$t0") s (layers cached from earlier runs are reused)"
for img in tileq tileq-nginx tileq-postgis tileq-redis debian:12; do
    [[ $img == *:* ]] || img=$img:latest
    printf 'image %-22s %6.1f MB\n' "$img" \
        "$(docker image inspect -f '{{.Size}}' "$img" | awk '{ print $1 / 1e6 }')"
done
docker run --rm --entrypoint sh tileq:latest -c 'command -v cc gcc cmake npm' >/dev/null 2>&1 &&
    it_fail "the tileq runtime image contains build tools"

# ---- up ----------------------------------------------------------------------------------------
t0=$(now)
"${DC[@]}" up -d --scale worker=3 >"$TMPD/up.log" 2>&1 || {
    cat "$TMPD/up.log" >&2
    it_fail "docker-compose up failed"
    exit 1
}
NG=http://127.0.0.1:$port
ok=0
for ((i = 0; i < 600; i++)); do
    if curl -fsS --max-time 5 "$NG/demo.json" 2>/dev/null | grep -q '"vector_layers"'; then
        ok=1
        break
    fi
    sleep 0.2
done
it_check "nginx serves the demo TileJSON after up" 1 "$ok"
echo "cluster up (up -d returned, nginx serving TileJSON) in $(secs "$t0") s"
tj=$(curl -fsS "$NG/demo.json")
it_check "TileJSON 3.0.0" 1 "$(grep -c '"tilejson": "3.0.0"' <<<"$tj")"
for s in postgis redis coordinator-1 coordinator-2 nginx; do
    it_check "$s healthy" healthy \
        "$(docker inspect -f '{{.State.Health.Status}}' "$("${DC[@]}" ps -q "$s")")"
done

# docker exec on the containers' ids (docker-compose exec costs a second per call).
PG=$("${DC[@]}" ps -q postgis)
RD=$("${DC[@]}" ps -q redis)
C1=$("${DC[@]}" ps -q coordinator-1)
dc_psql() { docker exec "$PG" psql -X -q -At -U tileq -d tileq -v ON_ERROR_STOP=1 "$@"; }
dc_redis() { docker exec "$RD" redis-cli "$@"; }
dc_tileq() { docker exec "$C1" tileq-entrypoint tileq "$@"; }

# ---- tiles through nginx = the contract ----------------------------------------------------------
it_check "a coordinator answers /ready" ready "$(docker exec "$C1" curl -fsS http://127.0.0.1:8080/ready)"

for zxy in "10 518 352" "12 2073 1409" "6 32 21"; do
    read -r z x y <<<"$zxy"
    want=$(dc_psql -c "$(it_contract_sql "$z" "$x" "$y")")
    for pass in miss hit; do
        code=$(it_fetch_url "$NG/demo/$z/$x/$y.mvt" t)
        [[ $code == 200 || $code == 204 ]] || it_fail "$z/$x/$y ($pass): HTTP $code"
        it_check "$z/$x/$y through nginx ($pass, HTTP $code) = the contract's bytes" "$want" \
            "$(it_hex "$IT_TMP/t.body")"
    done
done

# ---- tiles follow the data (the watcher service) ---------------------------------------------
# The cached 10/518/352 after an UPDATE of the places in it: fresh through nginx (bounded: 30 s).
W=$("${DC[@]}" ps -q watcher)
for ((i = 0; i < 300; i++)); do
    [[ $(docker inspect -f '{{.State.Health.Status}}' "$W") == healthy ]] && break
    sleep 0.1
done
it_check "watcher healthy" healthy "$(docker inspect -f '{{.State.Health.Status}}' "$W")"
before=$(dc_psql -c "$(it_contract_sql 10 518 352)")
changed=$(dc_psql -c "WITH u AS (UPDATE demo.points SET name = name || ' (changed)'
    WHERE geom && ST_TileEnvelope(10, 518, 352) AND minzoom <= 10 RETURNING 1)
    SELECT count(*) FROM u")
want=$(dc_psql -c "$(it_contract_sql 10 518 352)")
((changed > 0)) && [[ $want != "$before" ]] ||
    it_fail "the UPDATE changed no place of 10/518/352 ($changed rows): the test area is wrong"
t0=$(now)
fresh=no
for ((i = 0; i < 300; i++)); do
    code=$(it_fetch_url "$NG/demo/10/518/352.mvt" t)
    if [[ $code == 200 && $(it_hex "$IT_TMP/t.body") == "$want" ]]; then
        fresh=yes
        break
    fi
    sleep 0.1
done
echo "10/518/352 fresh through nginx $(secs "$t0") s after the UPDATE's commit"
it_check "after an UPDATE: the cached tile is the contract's bytes over the new data" yes "$fresh"

# ---- herd --------------------------------------------------------------------------------------
# renders Z X Y: render-log entries of demo Z/X/Y still in Redis's stream plus those already
# moved into tileq.render_log, counted once per stream id.
renders() {
    local z=$1 x=$2 y=$3
    {
        dc_redis --raw XRANGE '{tq}:renderlog' - + | awk -v z="$z" -v x="$x" -v y="$y" '
            /^[0-9]+-[0-9]+$/ { if (id != "" && ok == 4) print id; id = $0; ok = 0; k = ""; next }
            k == "" { k = $0; next }
            { if ((k == "tileset" && $0 == "demo") || (k == "z" && $0 == z) ||
                  (k == "x" && $0 == x) || (k == "y" && $0 == y)) ok++
              k = "" }
            END { if (id != "" && ok == 4) print id }'
        dc_psql -c "SELECT stream_id FROM tileq.render_log WHERE tileset = 'demo' AND z = $z
                    AND x = $x AND y = $y"
    } | sort -u | grep -c . || true
}
wait_drained() {
    for ((i = 0; i < 300; i++)); do
        [[ $(dc_redis EVAL "return redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2])" \
            2 '{tq}:q:interactive' '{tq}:running') == 0 ]] && return 0
        sleep 0.1
    done
}
z=13 x=4150 y=2818
: >"$TMPD/herd.cfg"
for ((i = 0; i < 200; i++)); do
    printf 'url = "%s/demo/%s/%s/%s.mvt"\noutput = "/dev/null"\n' "$NG" $z $x $y >>"$TMPD/herd.cfg"
done
t0=$(now)
curl -sS --parallel --parallel-immediate --parallel-max 200 --max-time 120 \
    -w '%{http_code}\n' -K "$TMPD/herd.cfg" >"$TMPD/herd.codes" 2>"$TMPD/herd.err" || true
herd_secs=$(secs "$t0")
wait_drained
echo "herd: 200 clients through nginx on cold demo/$z/$x/$y in $herd_secs s: $(sort "$TMPD/herd.codes" | uniq -c | tr '\n' ' ')"
it_check "herd: 200 answers 200" 200 "$(grep -c '^200$' "$TMPD/herd.codes" || true)"
it_check "herd: rendered once" 1 "$(renders $z $x $y)"

# ---- scale 3 → 5 → 3 -----------------------------------------------------------------------------
live_workers() { dc_tileq status | sed -n 's/^workers: \([0-9]*\) live.*/\1/p'; }
running_workers() { "${DC[@]}" ps -q worker | xargs -r docker inspect -f '{{.State.Running}}' | grep -c true || true; }
wait_workers() { # N: N worker containers running and N live heartbeats
    for ((i = 0; i < 300; i++)); do
        [[ $(running_workers) == "$1" && $(live_workers) == "$1" ]] && return 0
        sleep 0.2
    done
}
for n in 5 3; do
    t0=$(now)
    "${DC[@]}" up -d --no-recreate --scale worker=$n worker >/dev/null 2>&1 || it_fail "scale to $n"
    wait_workers $n
    echo "scaled to $n workers in $(secs "$t0") s: $(dc_tileq status | grep '^workers:')"
    it_check "scaled to $n: worker containers running" $n "$(running_workers)"
done
# A worker stopped by the scale-down deregisters; wait for the heartbeats to agree.
wait_workers 3
it_check "scaled back to 3: live workers" 3 "$(live_workers)"

# ---- a worker killed mid-render -------------------------------------------------------------
# The render blocks on a lock held by a psql session of ours, so it is surely mid-render
# when the worker holding it is killed.
z=12 x=2081 y=1411 # a metatile no earlier step has rendered
mkfifo "$TMPD/lock.in"
docker exec -i "$PG" psql -X -q -U tileq -d tileq <"$TMPD/lock.in" >/dev/null 2>&1 &
lock_pid=$!
exec 7>"$TMPD/lock.in"
echo "BEGIN; LOCK TABLE demo.areas IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600) /* tq-lock */;" >&7
for ((i = 0; i < 100; i++)); do
    [[ $(dc_psql -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'areas' AND l.mode = 'AccessExclusiveLock' AND l.granted") == 1 ]] && break
    sleep 0.1
done
t0=$(now)
it_fetch_url "$NG/demo/$z/$x/$y.mvt" killed >"$TMPD/killed.code" &
req_pid=$!
victim=""
for ((i = 0; i < 100; i++)); do
    victim=$(dc_tileq status | awk '/^  demo\/12\// { for (i = 1; i <= NF; i++) if ($i == "worker") print $(i + 1) }' | head -n 1)
    [[ -n $victim ]] && break
    sleep 0.1
done
victim_host=${victim%%:*}
if [[ -z $victim_host ]]; then
    it_fail "no worker took the render"
else
    docker kill "$victim_host" >/dev/null
    echo "killed worker container $victim_host (worker $victim) mid-render of demo/$z/$x/$y at $(secs "$t0") s"
fi
dc_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%tq-lock%' AND pid <> pg_backend_pid()" >/dev/null
exec 7>&-
wait "$lock_pid" || true
wait "$req_pid" || true
code=$(cat "$TMPD/killed.code")
echo "the waiting request got HTTP $code after $(secs "$t0") s (lease 30 s)"
[[ $code == 200 || $code == 204 ]] || it_fail "killed worker: the waiting request got HTTP $code"
it_check "killed worker: the tile = the contract's bytes" \
    "$(dc_psql -c "$(it_contract_sql $z $x $y)")" "$(it_hex "$IT_TMP/killed.body")"
# Who rendered it, from the render log (Redis stream, or PostgreSQL once flushed).
by=$({
    dc_redis --raw XRANGE '{tq}:renderlog' - + | awk -v z=$z -v x=$x -v y=$y '
        /^[0-9]+-[0-9]+$/ { if (ok == 4) print w " attempt " a; ok = 0; k = ""; next }
        k == "" { k = $0; next }
        { if ((k == "tileset" && $0 == "demo") || (k == "z" && $0 == z) ||
              (k == "x" && $0 == x) || (k == "y" && $0 == y)) ok++
          if (k == "worker") w = $0; if (k == "attempt") a = $0; k = "" }
        END { if (ok == 4) print w " attempt " a }'
    dc_psql -c "SELECT worker || ' attempt ' || attempt FROM tileq.render_log WHERE tileset = 'demo'
                AND z = $z AND x = $x AND y = $y"
} | sort -u | paste -sd, -)
echo "demo/$z/$x/$y rendered by: $by"
# (A restarted container keeps its hostname, and its worker is pid 1 again: the same worker
# id, so the attempt number tells the new claim from the killed one.)
[[ -n $by && $by != "$victim attempt 1" ]] || it_fail "killed worker: rendered by '$by'"

# ---- down -v -------------------------------------------------------------------------------------
t0=$(now)
"${DC[@]}" down -v --remove-orphans -t 10 >/dev/null 2>&1 || it_fail "docker-compose down -v"
echo "down -v in $(secs "$t0") s"
f=label=com.docker.compose.project=$PROJECT
it_check "after down -v: containers" "" "$(docker ps -aq --filter "$f")"
it_check "after down -v: networks" "" "$(docker network ls -q --filter "$f")"
it_check "after down -v: volumes" "" "$(docker volume ls -q --filter "$f")"
it_done

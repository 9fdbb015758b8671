#!/usr/bin/env bash
# Secrets (issue 16 item 3). A private stack whose services want passwords: PostgreSQL (its
# own cluster: role tq_secret logs in with scram-sha-256 only) and Redis (requirepass for
# "default", and an ACL user "tqacl"); a worker, a coordinator and the CLI configured with
# redis_user and password files (redis_password_file, pg_password_file). Checks:
#   - every program works: a tile is rendered and served, the render log reaches PostgreSQL,
#     tileq status / warm / report (also report --flush without a config, from
#     --pg-password-file / --redis-user / --redis-password-file, and from the environment:
#     PGPASSWORD, TQ_REDIS_PASSWORD; "default" with TQ_REDIS_PASSWORD alone);
#   - a wrong password fails with the server's reason and names no password;
#   - a password given in --pg / --redis draws a warning and is gone from the process's
#     command line (/proc/PID/cmdline, what ps shows) while it runs;
#   - no password appears in any output, log, /metrics, /health, status or ps listing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$TQ_SOURCE_DIR/deploy/stack.sh"

S=$IT_TMP/s
chmod 755 "$IT_TMP" # PostgreSQL runs as an unprivileged user when we are root
mkdir -p "$S/cache" "$S/out"
TILEQ=$TQ_BUILD_DIR/cli/tileq
PGPW="pg-$RANDOM$RANDOM-Secret"
ACLPW="acl-$RANDOM$RANDOM-Secret"
DEFPW="def-$RANDOM$RANDOM-Secret"
NAMES=()

cleanup() {
    local n
    for n in "${NAMES[@]}"; do tq_stop_pidfile "$S/$n.pid" 20; done
    [[ -n ${FAKE_PID:-} ]] && kill "$FAKE_PID" 2>/dev/null
    [[ -f $S/redis.pid ]] && tq_redis_stop "$S"
    tq_pg_stop "$S"
    mkdir -p "$TQ_BUILD_DIR/tests/integration/logs/secrets"
    cp "$S"/*.log "$S"/out/* "$TQ_BUILD_DIR/tests/integration/logs/secrets/" 2>/dev/null || true
    rm -rf "$IT_TMP"
}
trap cleanup EXIT

# ---- PostgreSQL: tq_secret logs in with its password only ------------------------------
tq_free_port PG_PORT
tq_pg_start "$S" "$PG_PORT"
spsql() { psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U tileq -d tileq -v ON_ERROR_STOP=1 "$@"; }
# The password goes through stdin, never a command line.
spsql <<EOF >/dev/null
CREATE EXTENSION IF NOT EXISTS postgis;
SET password_encryption = 'scram-sha-256';
CREATE ROLE tq_secret LOGIN PASSWORD '$PGPW';
ALTER DATABASE tileq OWNER TO tq_secret;
CREATE SCHEMA sec AUTHORIZATION tq_secret;
CREATE TABLE sec.pts AS
    SELECT i AS id, ST_SetSRID(ST_MakePoint(x * 500000.0, y * 500000.0), 3857) AS geom
    FROM generate_series(-10, 10) x, generate_series(-10, 10) y,
         LATERAL (SELECT (x + 10) * 21 + y + 10 AS i) n;
ALTER TABLE sec.pts OWNER TO tq_secret;
EOF
hba=$S/pgdata/pg_hba.conf
{
    echo "host all tq_secret 127.0.0.1/32 scram-sha-256"
    echo "host all tileq 127.0.0.1/32 trust"
    echo "local all all trust"
} >"$hba.new"
chown --reference="$hba" "$hba.new"
mv "$hba.new" "$hba"
spsql -c "SELECT pg_reload_conf()" >/dev/null
for ((i = 0; i < 50; i++)); do
    PGPASSWORD=wrong psql -X -At -h 127.0.0.1 -p "$PG_PORT" -U tq_secret -d tileq -c 'SELECT 1' \
        >/dev/null 2>&1 || break
    sleep 0.1
done
it_check "PostgreSQL refuses tq_secret without its password" 1 \
    "$(PGPASSWORD=wrong psql -X -At -h 127.0.0.1 -p "$PG_PORT" -U tq_secret -d tileq \
        -c 'SELECT 1' >/dev/null 2>&1 && echo 0 || echo 1)"

# ---- Redis: requirepass for "default", ACL user tqacl ----------------------------------
tq_free_port R_PORT
tq_redis_start "$S" "$R_PORT"
printf 'ACL SETUSER tqacl on >%s ~* &* +@all\nCONFIG SET requirepass %s\n' "$ACLPW" "$DEFPW" |
    redis-cli -h 127.0.0.1 -p "$R_PORT" >/dev/null
sredis() { REDISCLI_AUTH=$ACLPW redis-cli --no-auth-warning --user tqacl -h 127.0.0.1 -p "$R_PORT" "$@"; }
it_check "Redis refuses a client without a password" NOAUTH \
    "$(redis-cli -h 127.0.0.1 -p "$R_PORT" GET x 2>&1 | grep -o NOAUTH || true)"
it_check "the ACL user gets in" PONG "$(sredis PING)"

# ---- the config: users and password files ----------------------------------------------
printf '%s\n' "$PGPW" >"$S/pg.pw"
printf '%s\n' "$ACLPW" >"$S/redis.pw"
printf 'not-the-password\n' >"$S/wrong.pw"
chmod 600 "$S"/*.pw
tq_free_port HTTP_PORT
write_conf() { # write_conf FILE REDIS_PW_FILE PG_PW_FILE
    cat >"$1" <<EOF
redis_url = "redis://127.0.0.1:$R_PORT/0";
pg_conninfo = "host=127.0.0.1 port=$PG_PORT dbname=tileq user=tq_secret";
cache_dir = "$S/cache";
listen = "127.0.0.1:$HTTP_PORT";
cache_fsync = false;
# secrets
redis_user = "tqacl";
redis_password_file = "$2";
pg_password_file = "$3";
tilesets = (
  { name = "sec"; minzoom = 0; maxzoom = 10; metatile = 2;
    layers = ( { name = "pts"; sql = "SELECT geom, id FROM sec.pts WHERE geom && !BBOX!"; } ); }
);
EOF
}
write_conf "$S/tileq.conf" "$S/redis.pw" "$S/pg.pw"
write_conf "$S/badpg.conf" "$S/redis.pw" "$S/wrong.pw"
write_conf "$S/badredis.conf" "$S/wrong.pw" "$S/pg.pw"

start() { # start NAME BINARY
    NAMES+=("$1")
    TQ_WORKER_ID=secret-$1 tq_start_bg "$S/$1.pid" "$S/$1.log" "$2" -c "$S/tileq.conf"
}
start worker "$TQ_BUILD_DIR/worker/tileq-worker"
start coordinator "$TQ_BUILD_DIR/coordinator/tileq-coordinator"
tq_wait_http "http://127.0.0.1:$HTTP_PORT/health" 30 "$S/coordinator.pid" "$S/coordinator.log"
ps -eo args >"$S/out/ps-running.txt"

# ---- every program works ---------------------------------------------------------------
for ((i = 0; i < 300; i++)); do
    code=$(curl -sS -o "$S/out/tile.mvt" -w '%{http_code}' --max-time 30 \
        "http://127.0.0.1:$HTTP_PORT/sec/0/0/0.mvt" 2>/dev/null || true)
    [[ $code == 200 ]] && break
    sleep 0.2
done
it_check "the coordinator serves a tile the worker rendered (ACL user, scram password)" 200 "$code"
[[ -s $S/out/tile.mvt ]] && echo "ok: the tile has bytes" || it_fail "empty tile"
for ((i = 0; i < 150; i++)); do
    n=$(spsql -c "SELECT count(*) FROM tileq.render_log WHERE worker = 'secret-worker'" 2>/dev/null || echo 0)
    ((n > 0)) && break
    sleep 0.2
done
((n > 0)) && echo "ok: the worker flushed the render log as tq_secret ($n rows)" ||
    it_fail "no render-log row reached PostgreSQL"

"$TILEQ" -c "$S/tileq.conf" status >"$S/out/status.txt" 2>&1 &&
    echo "ok: tileq status" || it_fail "tileq status: $(cat "$S/out/status.txt")"
grep -q 'secret-worker' "$S/out/status.txt" && echo "ok: status lists the worker" ||
    it_fail "status does not list the worker"
"$TILEQ" -c "$S/tileq.conf" warm --tileset sec --bbox -60,-60,60,60 --zoom 0-3 --wait >"$S/out/warm.txt" 2>&1 &&
    echo "ok: tileq warm" || it_fail "tileq warm: $(tail -n 5 "$S/out/warm.txt")"
"$TILEQ" -c "$S/tileq.conf" report --flush >"$S/out/report-config.txt" 2>&1 &&
    echo "ok: tileq report --flush with the config" ||
    it_fail "tileq report: $(cat "$S/out/report-config.txt")"
grep -qE '^ *renders' "$S/out/report-config.txt" || grep -qi 'render' "$S/out/report-config.txt" ||
    it_fail "the report says nothing about renders"
curl -sS "http://127.0.0.1:$HTTP_PORT/metrics" >"$S/out/metrics.txt"
curl -sS "http://127.0.0.1:$HTTP_PORT/health" >"$S/out/health.txt"

PGCI="host=127.0.0.1 port=$PG_PORT dbname=tileq user=tq_secret"
RURL="redis://127.0.0.1:$R_PORT/0"
"$TILEQ" report --pg "$PGCI" --pg-password-file "$S/pg.pw" --flush --redis "$RURL" \
    --redis-user tqacl --redis-password-file "$S/redis.pw" >"$S/out/report-files.txt" 2>&1 &&
    echo "ok: tileq report --pg-password-file --redis-user --redis-password-file" ||
    it_fail "report with password files: $(cat "$S/out/report-files.txt")"
PGPASSWORD=$PGPW TQ_REDIS_USER=tqacl TQ_REDIS_PASSWORD=$ACLPW \
    "$TILEQ" report --pg "$PGCI" --flush --redis "$RURL" >"$S/out/report-env.txt" 2>&1 &&
    echo "ok: tileq report from PGPASSWORD, TQ_REDIS_USER, TQ_REDIS_PASSWORD" ||
    it_fail "report from the environment: $(cat "$S/out/report-env.txt")"
TQ_PG_PASSWORD_FILE=$S/pg.pw TQ_REDIS_PASSWORD=$DEFPW \
    "$TILEQ" report --pg "$PGCI" --flush --redis "$RURL" >"$S/out/report-default.txt" 2>&1 &&
    echo "ok: tileq report as Redis's default user (TQ_REDIS_PASSWORD), TQ_PG_PASSWORD_FILE" ||
    it_fail "report as default: $(cat "$S/out/report-default.txt")"
TQ_REDIS_PASSWORD=$DEFPW TQ_REDIS_USER= "$TILEQ" -c "$S/tileq.conf" status \
    >"$S/out/status-env.txt" 2>&1 && it_fail "status: TQ_REDIS_PASSWORD did not win over the file" ||
    echo "ok: TQ_REDIS_PASSWORD wins over redis_password_file (default's password as tqacl: refused)"

# ---- wrong passwords: the server's reason, no password ---------------------------------
"$TILEQ" -c "$S/badpg.conf" report >"$S/out/badpg.txt" 2>&1 &&
    it_fail "report with a wrong PostgreSQL password succeeded" ||
    { grep -q 'password authentication failed' "$S/out/badpg.txt" &&
        echo "ok: wrong PostgreSQL password: $(head -c 160 "$S/out/badpg.txt")" ||
        it_fail "wrong PostgreSQL password: $(cat "$S/out/badpg.txt")"; }
"$TILEQ" -c "$S/badredis.conf" status >"$S/out/badredis.txt" 2>&1 &&
    it_fail "status with a wrong Redis password succeeded" ||
    { grep -q 'WRONGPASS' "$S/out/badredis.txt" &&
        echo "ok: wrong Redis password: $(head -c 160 "$S/out/badredis.txt")" ||
        it_fail "wrong Redis password: $(cat "$S/out/badredis.txt")"; }
NAMES+=(badworker)
TQ_WORKER_ID=secret-bad tq_start_bg "$S/badworker.pid" "$S/badworker.log" \
    "$TQ_BUILD_DIR/worker/tileq-worker" -c "$S/badredis.conf"
for ((i = 0; i < 100; i++)); do
    grep -q WRONGPASS "$S/badworker.log" 2>/dev/null && break
    sleep 0.1
done
grep -q WRONGPASS "$S/badworker.log" && echo "ok: a worker with a wrong Redis password logs WRONGPASS" ||
    it_fail "the bad worker's log: $(tail -n 5 "$S/badworker.log")"
tq_stop_pidfile "$S/badworker.pid" 20

# ---- a password on the command line: warned about, blanked from argv --------------------
tq_free_port FAKE_PORT
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(60)' "$FAKE_PORT" &
FAKE_PID=$!
for ((i = 0; i < 50; i++)); do
    (echo >"/dev/tcp/127.0.0.1/$FAKE_PORT") 2>/dev/null && break
    sleep 0.1
done
# A server that never answers: the report waits (connect_timeout) while we read its argv.
"$TILEQ" report --pg "host=127.0.0.1 port=$FAKE_PORT dbname=x password=$PGPW connect_timeout=4" \
    >"$S/out/report-argv.txt" 2>&1 &
rpid=$!
# (Between its exec and its option parsing the process still shows what it was given: the
# window a password on a command line is open, which is why files and the environment are the
# way. We look once it started waiting for the server.)
cmdline=""
for ((i = 0; i < 60; i++)); do
    cmdline=$(tr '\0' ' ' <"/proc/$rpid/cmdline" 2>/dev/null || true)
    [[ $cmdline == *"***"* ]] && break
    sleep 0.05
done
ps -eo args | grep -F "port=$FAKE_PORT" >"$S/out/ps-report.txt" || true
tr '\0' ' ' <"/proc/$rpid/cmdline" >"$S/out/report-cmdline.txt" 2>/dev/null || true
wait "$rpid" || true
[[ $cmdline == *"password=***"* ]] && echo "ok: the running report's argv: $cmdline" ||
    it_fail "the running report's argv is '$cmdline'"
grep -q 'warning: --pg holds a password' "$S/out/report-argv.txt" &&
    echo "ok: tileq report warns about --pg password=" || it_fail "no warning: $(cat "$S/out/report-argv.txt")"
"$TILEQ" report --pg "$PGCI" --flush --redis "redis://tqacl:$ACLPW@127.0.0.1:$R_PORT/0" \
    --pg-password-file "$S/pg.pw" >"$S/out/report-url.txt" 2>&1 &&
    echo "ok: tileq report with redis://user:password@ (ACL user in the URL)" ||
    it_fail "report with the URL's user: $(cat "$S/out/report-url.txt")"
grep -q 'warning: --redis holds a password' "$S/out/report-url.txt" &&
    echo "ok: and warns about it" || it_fail "no --redis warning: $(cat "$S/out/report-url.txt")"

# ---- the coordinator and worker still serve ----------------------------------------------
it_check "a tile after all this" 200 "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 \
    "http://127.0.0.1:$HTTP_PORT/sec/1/0/0.mvt")"
for n in worker coordinator; do tq_stop_pidfile "$S/$n.pid" 20; done
NAMES=()

# ---- no password anywhere -------------------------------------------------------------------
leaks=0
for f in "$S"/*.log "$S"/out/* "$S"/pglog/*.log; do
    [[ -f $f ]] || continue
    for pw in "$PGPW" "$ACLPW" "$DEFPW"; do
        if grep -aqF "$pw" "$f"; then
            it_fail "a password is in $(basename "$f"): $(grep -aF "$pw" "$f" | head -n 2)"
            leaks=$((leaks + 1))
        fi
    done
done
it_check "no password in any log, output, /metrics, /health, status or ps listing" 0 "$leaks"
for f in "$S"/worker.log "$S"/coordinator.log "$S"/badworker.log; do
    tq_sanitizer_report "$f" "FAIL: sanitizer report in $(basename "$f"):" 30 60 ||
        IT_FAILURES=$((IT_FAILURES + 1))
done
it_done

# shellcheck shell=bash
# queue/qlib.sh — a private tileq stack for the render-queue tests (test_queue_*.sh): their own
# Redis server, coordinators and workers with their own config, on the fixture's PostgreSQL
# (demo data). The fixture's workers never see these jobs, so tilesets they do not know
# ("slow", "broken") are safe here.
#
# Source it after lib.sh. It gives:
#   q_init NAME              temp dir, Redis on a free port, config (q_config below)
#   q_start_worker NAME      a tileq-worker with id "$Q_ID-NAME" (pid in $Q_DIR/NAME.pid)
#   q_start_coordinator NAME a tileq-coordinator on a free port; sets Q_URL_<NAME>
#   q_start_stack NW NC      workers w1..wNW (waited for), then coordinators c1..cNC
#   q_pid NAME               the pid of a process started above
#   q_renders JOB            rendered ("job_done") count of job JOB in our workers' logs
#   q_wait_log PATTERN N     waits (bounded) until N lines of our logs match PATTERN (grep -E)
#   q_wait_job_gone JOB      waits (bounded) until JOB left the queue (finished or dead)
#   q_wait_renderlog SQL_WHERE N  waits (bounded) until tileq.render_log has N rows of ours
#   q_finish                 stops everything (SIGTERM), checks the logs for sanitizer reports
#                            and the queue's invariants (tileq status --check)
# Every process is also stopped by the EXIT trap when the test dies early.
#
# The config (queue.lease_seconds = 2, max_attempts = 3, cache_fsync = false) has three
# tilesets:
#   demo    the demo layers (as deploy/tileq.conf.in)
#   slow    one layer "places" = the demo places layer plus a one-time
#           pg_sleep($Q_SLEEP) per execution (an uncorrelated sub-select: an InitPlan, run once
#           per render of a metatile whatever the number of rows)
#   broken  one layer whose SQL fails at execution on every zoom (division by zero
#           computed from !ZOOM!)
#   stuck   as slow, with pg_sleep($Q_STUCK_SLEEP) (default 30 s), and statement_timeout_ms =
#           $Q_STUCK_TIMEOUT_MS (default 400): every render of it runs past its timeout

: "${TQ_BUILD_DIR:?}"
: "${TQ_SOURCE_DIR:?}"
# shellcheck source=../../../deploy/stack.sh
source "$TQ_SOURCE_DIR/deploy/stack.sh"

Q_COORD_BIN=$TQ_BUILD_DIR/coordinator/tileq-coordinator
Q_WORKER_BIN=$TQ_BUILD_DIR/worker/tileq-worker
Q_SLEEP=${Q_SLEEP:-2}
Q_STUCK_SLEEP=${Q_STUCK_SLEEP:-30}
Q_STUCK_TIMEOUT_MS=${Q_STUCK_TIMEOUT_MS:-400}
Q_NAMES=()

# The places layer's SQL (without the sleep): the contract for tileset "slow" uses it.
Q_PLACES_SQL='SELECT geom, name, kind, population FROM demo.points WHERE geom && !BBOX! AND minzoom <= !ZOOM! ORDER BY id'

q_cleanup() {
    local n
    for n in "${Q_NAMES[@]}"; do
        [[ -f $Q_DIR/$n.pid ]] && tq_stop_pidfile "$Q_DIR/$n.pid" 20
    done
    [[ -n ${Q_DIR:-} && -f $Q_DIR/redis.pid ]] && tq_redis_stop "$Q_DIR"
    if [[ -n ${Q_DIR:-} && -d $Q_DIR ]]; then
        mkdir -p "$Q_LOG_COPY"
        cp "$Q_DIR"/*.log "$Q_DIR"/tileq.conf "$Q_LOG_COPY"/ 2>/dev/null || true
    fi
    return 0
}

# q_init NAME: everything under $IT_TMP/q; logs are copied to
# $TQ_BUILD_DIR/tests/integration/logs/queue-NAME/ at the end.
q_init() {
    Q_ID="q$$x$RANDOM-$1"
    Q_DIR=$IT_TMP/q
    Q_LOG_COPY=$TQ_BUILD_DIR/tests/integration/logs/queue-$1
    rm -rf "$Q_LOG_COPY"
    mkdir -p "$Q_DIR/cache"
    [[ -x $Q_COORD_BIN && -x $Q_WORKER_BIN ]] || {
        echo "FAIL: $Q_COORD_BIN or $Q_WORKER_BIN not built" >&2
        exit 1
    }
    trap 'q_cleanup; rm -rf "$IT_TMP"' EXIT
    tq_free_port Q_REDIS_PORT
    tq_redis_start "$Q_DIR" "$Q_REDIS_PORT"
    q_config >"$Q_DIR/tileq.conf"
}

q_redis() {
    redis-cli -h 127.0.0.1 -p "$Q_REDIS_PORT" "$@"
}

q_config() {
    cat <<EOF
redis_url   = "redis://127.0.0.1:$Q_REDIS_PORT/0";
pg_conninfo = "$TQ_TEST_PG_CONNINFO";
cache_dir   = "$Q_DIR/cache";
listen      = "127.0.0.1:1";
log_level   = "info";
# A throwaway cache (like the fixture's PostgreSQL, fsync=off): the load these tests drive is
# sized for a cache without fsync (with it, 2 sanitizer workers on a busy 2-core VM fell
# behind test_queue_redis_restart's 20 new metatiles/s). The fixture's own stack keeps the
# default (true).
cache_fsync = false;

queue = {
  max_attempts = 3;
  lease_seconds = 2;
  render_timeout_seconds = 60;
  cap = { interactive = 10000; dirty = 100000; bulk = 100000; };
  running_cap = { interactive = 0; dirty = 0; bulk = 0; };
};

tilesets = (
  { name = "demo"; minzoom = 0; maxzoom = 14; metatile = 8; extent = 4096; buffer = 64;
    layers = (
      { name = "areas";
        sql = "SELECT geom, name, kind FROM demo.areas WHERE geom && !BBOX! AND minzoom <= !ZOOM! ORDER BY id"; },
      { name = "roads";
        sql = "SELECT geom, name, kind FROM demo.roads WHERE geom && !BBOX! AND minzoom <= !ZOOM! ORDER BY id"; },
      { name = "places";
        sql = "$Q_PLACES_SQL"; }
    ); },
  { name = "slow"; minzoom = 0; maxzoom = 14; metatile = 8; extent = 4096; buffer = 64;
    layers = (
      { name = "places";
        sql = "SELECT geom, name, kind, population FROM demo.points WHERE geom && !BBOX! AND minzoom <= !ZOOM! AND (SELECT count(*) FROM pg_sleep($Q_SLEEP)) = 1 ORDER BY id"; }
    ); },
  { name = "stuck"; minzoom = 0; maxzoom = 14; metatile = 8; extent = 4096; buffer = 64;
    statement_timeout_ms = $Q_STUCK_TIMEOUT_MS;
    layers = (
      { name = "places";
        sql = "SELECT geom, name FROM demo.points WHERE geom && !BBOX! AND minzoom <= !ZOOM! AND (SELECT count(*) FROM pg_sleep($Q_STUCK_SLEEP)) = 1 ORDER BY id"; }
    ); },
  { name = "broken"; minzoom = 0; maxzoom = 14; metatile = 8; extent = 4096; buffer = 64;
    layers = (
      { name = "places";
        sql = "SELECT geom, name FROM demo.points WHERE geom && !BBOX! AND 1 / (!ZOOM! - !ZOOM!) = 1 ORDER BY id"; }
    ); }
);
EOF
}

q_pid() {
    cat "$Q_DIR/$1.pid"
}

q_start_worker() {
    local n=$1
    Q_NAMES+=("$n")
    TQ_WORKER_ID=$Q_ID-$n tq_start_bg "$Q_DIR/$n.pid" "$Q_DIR/$n.log" "$Q_WORKER_BIN" \
        -c "$Q_DIR/tileq.conf"
}

# q_start_coordinator NAME: waits for /health; sets Q_URL_NAME=http://127.0.0.1:PORT.
q_start_coordinator() {
    local n=$1 port
    tq_free_port port
    Q_NAMES+=("$n")
    TQ_LISTEN=127.0.0.1:$port tq_start_bg "$Q_DIR/$n.pid" "$Q_DIR/$n.log" "$Q_COORD_BIN" \
        -c "$Q_DIR/tileq.conf"
    tq_wait_http "http://127.0.0.1:$port/health" 30 "$Q_DIR/$n.pid" "$Q_DIR/$n.log"
    printf -v "Q_URL_$n" '%s' "http://127.0.0.1:$port"
}

# q_start_stack NWORKERS NCOORDINATORS: workers w1..wN, each waited for (q_wait_worker), then
# coordinators c1..cM (q_start_coordinator).
q_start_stack() {
    local i
    for ((i = 1; i <= $1; i++)); do q_start_worker "w$i"; done
    for ((i = 1; i <= $1; i++)); do q_wait_worker "w$i"; done
    for ((i = 1; i <= $2; i++)); do q_start_coordinator "c$i"; done
}

# q_wait_worker NAME: waits (up to 30 s) until the worker logged pg_connected.
q_wait_worker() {
    local i
    for ((i = 0; i < 300; i++)); do
        grep -q 'event=pg_connected' "$Q_DIR/$1.log" 2>/dev/null && return 0
        tq_alive "$(q_pid "$1")" || break
        sleep 0.1
    done
    tail -n 20 "$Q_DIR/$1.log" >&2
    echo "FAIL: worker $1 did not connect" >&2
    exit 1
}

# q_wait_job_gone JOB: waits (up to 30 s) until JOB has left the queue ({tq}:job:JOB gone).
# An interactive job answers its first tile (the "partial" event) before it renders the rest
# of its metatile; and the worker logs job_done just after the ack that removed the job: a
# test that counts job_done lines waits for them with q_wait_log.
q_wait_job_gone() {
    local i
    for ((i = 0; i < 300; i++)); do
        [[ $(q_redis EXISTS "{tq}:job:$1") == 0 ]] && return 0
        sleep 0.1
    done
    echo "FAIL: $1 still in the queue after 30 s" >&2
    return 1
}

# q_wait_log PATTERN N: waits (up to 30 s) until at least N lines of our processes' logs
# match the extended regex PATTERN; prints the last count (the caller checks it). Log lines
# a test expects after an HTTP answer may come later than the answer (the "partial" event
# answers before the rest of the metatile is rendered and acked).
q_wait_log() {
    local pattern=$1 n=$2 i c=0
    for ((i = 0; i < 300; i++)); do
        c=$(cat "$Q_DIR"/*.log 2>/dev/null | grep -cE "$pattern" || true)
        ((c >= n)) && break
        sleep 0.1
    done
    echo "$c"
}

# q_renders JOB: how many times our workers logged job_done for JOB (any ack).
q_renders() {
    cat "$Q_DIR"/*.log 2>/dev/null | grep -c "event=job_done job=$1 " || true
}

# q_rl_sql WHERE: SQL counting our rows of tileq.render_log (our workers' ids) matching WHERE.
q_rl_count() {
    it_psql -c "SELECT count(*) FROM tileq.render_log WHERE worker LIKE '$Q_ID-%' AND ($1)"
}

# q_wait_renderlog WHERE N: waits up to 30 s until q_rl_count WHERE reaches N (the workers
# flush the Redis stream every ~2 s); prints the last count.
q_wait_renderlog() {
    local where=$1 n=$2 i c=0
    for ((i = 0; i < 150; i++)); do
        c=$(q_rl_count "$where")
        ((c >= n)) && break
        sleep 0.2
    done
    echo "$c"
}

# q_sanitizer_check: fails the test for a sanitizer report in any of our logs.
q_sanitizer_check() {
    local f
    for f in "$Q_DIR"/*.log; do
        [[ $f == */redis.log ]] && continue
        # (the message is it_fail's; the count is kept the same way)
        tq_sanitizer_report "$f" "FAIL: sanitizer report in $(basename "$f"):" 30 60 ||
            IT_FAILURES=$((IT_FAILURES + 1))
    done
}

# q_alive_check NAME...: each process still runs.
q_alive_check() {
    local n
    for n in "$@"; do
        if tq_alive "$(q_pid "$n")"; then
            echo "ok: $n still runs"
        else
            it_fail "$n exited; end of its log:"
            tail -n 20 "$Q_DIR/$n.log" >&2
        fi
    done
}

# q_check_invariants: tileq status --check on our Redis (when it runs) holds.
q_check_invariants() {
    local out rc=0
    [[ $(q_redis PING 2>/dev/null) == PONG ]] || return 0
    out=$("$TQ_BUILD_DIR/cli/tileq" -c "$Q_DIR/tileq.conf" status --check 2>&1) || rc=$?
    if ((rc == 0)); then
        echo "ok: tileq status --check: $(tail -n 1 <<<"$out")"
    else
        it_fail "tileq status --check at the end (exit $rc):"
        echo "$out" >&2
    fi
}

# q_finish: SIGTERM every process (a clean exit runs LeakSanitizer), then the log check and
# the queue's invariants.
q_finish() {
    local n
    for n in "${Q_NAMES[@]}"; do
        [[ -f $Q_DIR/$n.pid ]] && tq_stop_pidfile "$Q_DIR/$n.pid" 20
    done
    q_sanitizer_check
    q_check_invariants
    q_cleanup
}

# q_contract_slow Z X Y: SQL giving, as hex, tile Z/X/Y of tileset "slow" by the rendering
# contract (its one layer is the places layer plus a sleep that does not change the rows).
q_contract_slow() {
    local z=$1 x=$2 y=$3
    local env="ST_TileEnvelope($z, $x, $y)"
    local bbox="ST_Expand($env, (2 * 20037508.342789244::float8 / 2 ^ $z) * 64 / 4096)"
    local sql=${Q_PLACES_SQL//'!BBOX!'/$bbox}
    sql=${sql//'!ZOOM!'/$z}
    printf "SELECT encode(COALESCE((SELECT ST_AsMVT(q, 'places', 4096, 'geom') FROM"
    printf " (SELECT ST_AsMVTGeom(l.geom, %s, 4096, 64, true) AS geom, l.name, l.kind," "$env"
    printf " l.population FROM (%s) l WHERE l.geom && %s) q), ''::bytea), 'hex')" "$sql" "$bbox"
}

# q_parallel_get OUTDIR URL...: fetches every URL at once (one curl, --parallel), body of the
# i-th in OUTDIR/i.body; prints one line per URL: "i|status|x-tileq|seconds" (in URL order).
q_parallel_get() {
    local out=$1 i=0 u
    shift
    mkdir -p "$out"
    : >"$out/curl.cfg"
    for u in "$@"; do
        printf 'url = "%s"\noutput = "%s/%d.body"\n' "$u" "$out" "$i" >>"$out/curl.cfg"
        i=$((i + 1))
    done
    curl -sS --parallel --parallel-immediate --parallel-max 300 --max-time 120 \
        -w '%{urlnum}|%{http_code}|%header{x-tileq}|%{time_total}\n' -K "$out/curl.cfg" \
        2>"$out/curl.err" | sort -n || true
}

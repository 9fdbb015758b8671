# shellcheck shell=bash
# fault_lib.sh — for tests/integration/test_faults.sh: a private stack of the native topology
# (nginx_lib.sh's cluster: nginx, coordinators, workers, its own Redis and cache) on a private
# PostgreSQL+PostGIS cluster with the demo data (a fault restarts it, so it is not the
# fixture's), cold-tile load through nginx, and the measures of each phase: answers,
# tiles compared with the rendering contract's SQL, stale cache writes in the workers' logs.
#
# Source it after lib.sh and nginx_lib.sh. It gives:
#   fl_up NCOORD NWORK LEASE   the stack (Redis switched to AOF, demo tileset up to z16) and
#                              FL_NTILES distinct cold tiles (z12–z16, a metatile each) for
#                              FL_CLIENTS clients; everything stops on exit (fl_down)
#   fl_start_worker I          worker I (pid $NG_DIR/workerI.pid), waits for pg_connected
#   fl_start_coordinator I     coordinator I on NG_COORD_PORTS[I], waits for /health
#   fl_freeze_busy_worker      SIGSTOPs a worker while it holds a running job: FL_VICTIM (its
#                              index) and FL_VICTIM_JOB
#   fl_wait_job_moved JOB W    waits until JOB is no longer held by worker id W
#   fl_settle                  waits until nothing runs and nginx uses every coordinator
#   fl_load_start P / fl_load_stop P / fl_answers P / fl_wait_answers P N SECS
#                              the load of phase P (FL_CLIENTS clients, each a cold tile at a
#                              time, at most FL_MAX_PER_CLIENT requests each)
#   fl_contract_diff P         how many 200/204 answers of phase P differ from the contract
#   fl_stale_writes STARTS...  stale cache writes per phase, from the workers' logs
#   fl_now                     UTC time as the logs write it (ts=...)

FL_DIR=""
FL_CLIENTS=${FL_CLIENTS:-8}
FL_MAX_PER_CLIENT=${FL_MAX_PER_CLIENT:-100}
FL_NTILES=0
FL_SENTINEL_DIR=""
FL_VICTIM=""
FL_VICTIM_JOB=""
# Logs and per-phase answers are kept here (services_stop empties tests/integration/logs/).
FL_KEEP=$TQ_BUILD_DIR/tests/integration/$NG_TEST

fl_now() {
    date -u +%Y-%m-%dT%H:%M:%S.%3NZ
}

# fl_up NCOORD NWORK LEASE_SECONDS
fl_up() {
    local ncoord=$1 nwork=$2 lease=$3 c
    FL_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tqfl.XXXXXX")
    # The PostgreSQL server user (not us when we are root) must reach its dir below.
    chmod 755 "$FL_DIR"
    trap 'fl_down' EXIT
    mkdir -p "$FL_DIR/pg" "$FL_DIR/src/deploy" "$FL_DIR/load"
    tq_free_port FL_PG_PORT
    tq_pg_start "$FL_DIR/pg" "$FL_PG_PORT"
    tq_load_demo "$TQ_SOURCE_DIR" "$FL_PG_PORT" -v scale="${TQ_IT_SCALE:-0.3}"
    # it_psql, it_contract_sql and ng_up use these: from here on they mean our cluster.
    TQ_TEST_PG_PORT=$FL_PG_PORT
    TQ_TEST_PG_CONNINFO="host=127.0.0.1 port=$FL_PG_PORT dbname=tileq user=tileq"

    # ng_up fills deploy/*.conf.in of TQ_SOURCE_DIR: the same templates, the demo tileset
    # up to z16.
    sed -e 's/^\([[:space:]]*maxzoom = \)[0-9]*;/\116;/' "$TQ_SOURCE_DIR/deploy/tileq.conf.in" \
        >"$FL_DIR/src/deploy/tileq.conf.in"
    grep -q 'maxzoom = 16;' "$FL_DIR/src/deploy/tileq.conf.in" ||
        tq_die "cannot set maxzoom in deploy/tileq.conf.in"
    cp "$TQ_SOURCE_DIR/deploy/nginx.conf.in" "$FL_DIR/src/deploy/"
    TQ_SOURCE_DIR=$FL_DIR/src ng_up "$ncoord" "$nwork" "$lease"
    trap 'fl_down' EXIT
    TQ_TEST_CONFIG=$NG_CONF

    # Redis with AOF from now on (a restart must find the queue again); wait for the first
    # rewrite so that a SIGKILL after this cannot leave no AOF at all.
    ng_redis CONFIG SET appendfsync everysec >/dev/null
    ng_redis CONFIG SET appendonly yes >/dev/null
    for ((c = 0; c < 300; c++)); do
        [[ $(ng_redis INFO persistence | tr -d '\r' |
            grep -cxE 'aof_rewrite_in_progress:0|aof_enabled:1') == 2 ]] && break
        sleep 0.1
    done

    # Cold tiles: around every demo city, at z12..z16, the metatiles (8x8) within 2 metatiles
    # of it, one tile each (picked by a hash), in a hashed order; client c gets every
    # FL_CLIENTS-th. Nobody requested any of them before, and no two share a metatile.
    it_psql -F/ >"$FL_DIR/tiles" <<'SQL'
WITH m AS (
  SELECT DISTINCT z, (floor((ST_X(c.geom) + 20037508.342789244) / (40075016.68557849 / 2 ^ z))::int / 8) + dx AS mx,
                     (floor((20037508.342789244 - ST_Y(c.geom)) / (40075016.68557849 / 2 ^ z))::int / 8) + dy AS my
  FROM demo.cities c, generate_series(12, 16) z, generate_series(-2, 2) dx, generate_series(-2, 2) dy)
SELECT z, mx * 8 + abs(hashtext(z || '/' || mx || '/' || my)) % 8,
       my * 8 + abs(hashtext(my || '/' || mx || '/' || z)) % 8
FROM m WHERE mx >= 0 AND my >= 0 AND mx < 2 ^ z / 8 AND my < 2 ^ z / 8
ORDER BY md5(z || '/' || mx || '/' || my);
SQL
    FL_NTILES=$(wc -l <"$FL_DIR/tiles")
    ((FL_NTILES >= FL_CLIENTS * FL_MAX_PER_CLIENT * 6)) || tq_die "only $FL_NTILES cold tiles"
    for ((c = 1; c <= FL_CLIENTS; c++)); do
        awk -v n="$FL_CLIENTS" -v c="$c" 'NR % n == c % n' "$FL_DIR/tiles" >"$FL_DIR/tiles.$c"
        echo 0 >"$FL_DIR/pos.$c"
    done
    echo "private PostgreSQL on port $FL_PG_PORT; $FL_NTILES cold tiles for $FL_CLIENTS" \
        "clients; set up in $SECONDS s"
}

# Stops the stack (ng_down; it fails the test on a sanitizer report), the sentinel group and
# PostgreSQL; keeps the logs and the answers in $FL_KEEP.
fl_down() {
    local status=0
    [[ -n $FL_DIR && -d $FL_DIR ]] || return 0
    rm -rf "$FL_KEEP"
    mkdir -p "$FL_KEEP"
    cp -r "$NG_DIR"/*.log "$NG_DIR"/nginx/*.log "$FL_DIR/load" "$FL_DIR"/pg/pglog/*.log \
        "$FL_KEEP"/ 2>/dev/null || true
    (ng_down) || status=1
    if [[ -n $FL_SENTINEL_DIR ]]; then
        cp -r "$FL_SENTINEL_DIR" "$FL_KEEP/sentinel" 2>/dev/null || true
        tq_redis_sentinel_group_stop "$FL_SENTINEL_DIR" || true
    fi
    tq_pg_stop "$FL_DIR/pg"
    rm -rf "$FL_DIR"
    FL_DIR=""
    echo "logs and answers kept in $FL_KEEP (test ran ${SECONDS} s)"
    [[ $status -eq 0 ]] || exit 1
}

# fl_wpid I: worker I's pid ("" once it was stopped and its pid file removed).
fl_wpid() {
    cat "$NG_DIR/worker$1.pid" 2>/dev/null || true
}

# fl_start_worker I: starts worker I as ng_up does (id NG_WORKER_IDS[I]) and waits (30 s)
# until it logged pg_connected after this start.
fl_start_worker() {
    local i=$1 n0 k
    NG_WORKER_IDS[i]=ng-$NG_TEST-${NG_DIR##*.}-worker-$i
    n0=$(grep -c 'event=pg_connected' "$NG_DIR/worker$i.log" 2>/dev/null || true)
    TQ_WORKER_ID=${NG_WORKER_IDS[i]} tq_start_bg "$NG_DIR/worker$i.pid" "$NG_DIR/worker$i.log" \
        "$TQ_BUILD_DIR/worker/tileq-worker" -c "$NG_CONF"
    ((i > NG_NWORK)) && NG_NWORK=$i
    for ((k = 0; k < 300; k++)); do
        (($(grep -c 'event=pg_connected' "$NG_DIR/worker$i.log" || true) > ${n0:-0})) && return 0
        tq_alive "$(fl_wpid "$i")" || break
        sleep 0.1
    done
    it_fail "worker $i did not connect to PostgreSQL; end of its log:"
    tail -n 20 "$NG_DIR/worker$i.log" >&2
    return 1
}

# fl_start_coordinator I: starts coordinator I on its port and waits (30 s) for /health.
fl_start_coordinator() {
    local i=$1
    TQ_LISTEN=127.0.0.1:${NG_COORD_PORTS[i]} tq_start_bg "$NG_DIR/coordinator$i.pid" \
        "$NG_DIR/coordinator$i.log" "$TQ_BUILD_DIR/coordinator/tileq-coordinator" -c "$NG_CONF"
    tq_wait_http "http://127.0.0.1:${NG_COORD_PORTS[i]}/health" 30 "$NG_DIR/coordinator$i.pid" \
        "$NG_DIR/coordinator$i.log"
}

# fl_health_all CODE SECS: waits until every coordinator's /health answers CODE.
fl_health_all() {
    local code=$1 secs=$2 i k ok
    for ((k = 0; k < secs * 10; k++)); do
        ok=1
        for ((i = 1; i <= NG_NCOORD; i++)); do
            [[ $(curl -s -o /dev/null --max-time 2 -w '%{http_code}' \
                "http://127.0.0.1:${NG_COORD_PORTS[i]}/health" 2>/dev/null) == "$code" ]] || ok=0
        done
        ((ok)) && return 0
        sleep 0.1
    done
    return 1
}

# fl_settle: waits (bounded) until the previous phase is over for the whole stack: nothing
# queued or running, and nginx passing requests to every coordinator again (a coordinator it
# marked down after failures is left alone for fail_timeout): /health through nginx until the
# access log shows a 200 from each. Returns 1 when nginx did not use them all within 30 s.
fl_settle() {
    local n0 k i ok
    ng_wait_queue_drained
    n0=$(wc -l <"$NG_DIR/nginx/access.log")
    for ((k = 0; k < 300; k++)); do
        curl -s -o /dev/null --max-time 5 "$NG_URL/health" || true
        ok=1
        for ((i = 1; i <= NG_NCOORD; i++)); do
            awk -v n0="$n0" -v up="up=127.0.0.1:${NG_COORD_PORTS[i]}" '
                NR > n0 && index($0, "\"GET /health HTTP/1.1\" 200 ") && index($0, up " ") { f = 1 }
                END { exit !f }' "$NG_DIR/nginx/access.log" || ok=0
        done
        ((ok)) && return 0
        sleep 0.1
    done
    return 1
}

# fl_worker_index ID: the index I of the worker whose id is ID ("" when none of ours).
fl_worker_index() {
    local i
    for ((i = 1; i <= NG_NWORK; i++)); do
        [[ ${NG_WORKER_IDS[i]:-} == "$1" ]] && echo "$i" && return 0
    done
    return 0
}

# fl_freeze_busy_worker: waits (up to 30 s) until a live worker holds a running job and
# leaves it frozen (SIGSTOP). Renders take milliseconds, so a look and then a signal would
# mostly find the job done: every live worker is frozen for the look (one EVAL: the running
# jobs and who holds them), the first holder stays frozen, the others go on. Sets FL_VICTIM
# (its index) and FL_VICTIM_JOB; returns 1 when no worker was caught holding a job.
fl_freeze_busy_worker() {
    local k i id w pids=() held
    FL_VICTIM=""
    FL_VICTIM_JOB=""
    for ((k = 0; k < 600; k++)); do
        pids=()
        for ((i = 1; i <= NG_NWORK; i++)); do
            tq_alive "$(fl_wpid "$i")" && pids+=("$(fl_wpid "$i")")
        done
        kill -STOP "${pids[@]}"
        held=$(ng_redis EVAL "local r = {}
            for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
              local h = redis.call('HMGET', KEYS[2] .. id, 'worker', 'state')
              if h[2] == 'running' and h[1] then r[#r + 1] = id .. ' ' .. h[1] end
            end
            return r" 2 '{tq}:running' '{tq}:job:' 2>/dev/null || true)
        while read -r id w; do
            i=$(fl_worker_index "$w")
            if [[ -n $i ]] && tq_alive "$(fl_wpid "$i")"; then
                FL_VICTIM=$i
                FL_VICTIM_JOB=$id
                break
            fi
        done <<<"$held"
        for ((i = 1; i <= NG_NWORK; i++)); do
            [[ $i == "$FL_VICTIM" ]] || kill -CONT "$(fl_wpid "$i")" 2>/dev/null || true
        done
        [[ -n $FL_VICTIM ]] && return 0
        sleep 0.05
    done
    return 1
}

# fl_wait_job_moved JOB WORKER_ID SECS: waits until JOB is held by another worker, queued
# again or finished (its hash gone), i.e. not by WORKER_ID any more.
fl_wait_job_moved() {
    local job=$1 w=$2 secs=$3 k
    for ((k = 0; k < secs * 10; k++)); do
        [[ $(ng_redis HGET "{tq}:job:$job" worker 2>/dev/null) != "$w" ||
            $(ng_redis HGET "{tq}:job:$job" state 2>/dev/null) != running ]] && return 0
        sleep 0.1
    done
    return 1
}

# fl_wait_job_gone JOB SECS: waits until JOB's hash is gone (rendered and acked).
fl_wait_job_gone() {
    local k
    for ((k = 0; k < $2 * 10; k++)); do
        [[ $(ng_redis EXISTS "{tq}:job:$1" 2>/dev/null) == 0 ]] && return 0
        sleep 0.1
    done
    return 1
}

# fl_client P C: client C of phase P: asks nginx for its next cold tile, one at a time, until
# $FL_DIR/load/P/stop exists or it made FL_MAX_PER_CLIENT requests. One line per answer in
# load/P/answers.C: "C|N|Z/X/Y|status|X-Tileq|seconds", the body (gzip decoded) in
# load/P/C.N.body. A request not answered within 30 s counts as status 000.
fl_client() {
    local p=$1 c=$2 n=0 pos out d=$FL_DIR/load/$1
    local -a tiles
    mapfile -t tiles <"$FL_DIR/tiles.$c"
    pos=$(cat "$FL_DIR/pos.$c")
    while ((n < FL_MAX_PER_CLIENT && pos < ${#tiles[@]})) && [[ ! -e $d/stop ]]; do
        out=$(curl -s --compressed --max-time 30 -o "$d/$c.$n.body" \
            -w '%{http_code}|%header{x-tileq}|%{time_total}' "$NG_URL/demo/${tiles[pos]}.mvt" \
            2>/dev/null) || true
        echo "$c|$n|${tiles[pos]}|${out:-000||}" >>"$d/answers.$c"
        n=$((n + 1))
        pos=$((pos + 1))
        echo "$pos" >"$FL_DIR/pos.$c"
    done
}

# fl_load_start P: starts the FL_CLIENTS clients of phase P (pids in FL_LOAD_PIDS).
fl_load_start() {
    local c
    mkdir -p "$FL_DIR/load/$1"
    FL_LOAD_PIDS=()
    for ((c = 1; c <= FL_CLIENTS; c++)); do
        fl_client "$1" "$c" &
        FL_LOAD_PIDS+=($!)
    done
}

# fl_load_stop P: tells the clients of phase P to stop and waits for them.
fl_load_stop() {
    touch "$FL_DIR/load/$1/stop"
    wait "${FL_LOAD_PIDS[@]}" || true
}

# fl_answers P: how many answers phase P has so far.
fl_answers() {
    cat "$FL_DIR/load/$1"/answers.* 2>/dev/null | wc -l
}

# fl_wait_answers P N SECS: waits until phase P has N answers (or its clients are done).
fl_wait_answers() {
    local p=$1 n=$2 secs=$3 k pid alive
    for ((k = 0; k < secs * 10; k++)); do
        (($(fl_answers "$p") >= n)) && return 0
        alive=0
        for pid in "${FL_LOAD_PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        ((alive)) || return 0
        sleep 0.1
    done
    return 1
}

# fl_contract_diff P: the number of phase P's 200/204 answers whose body differs from the
# rendering contract's bytes (it_contract_sql, run as one psql script with md5 instead of
# hex); the differing tiles go to stderr.
fl_contract_diff() {
    local d=$FL_DIR/load/$1 tpl c n t z x y sql
    cat "$d"/answers.* 2>/dev/null | awk -F'|' '$4 == 200 || $4 == 204' >"$d/ok" || true
    [[ -s $d/ok ]] || {
        echo 0
        return 0
    }
    # One statement built once with placeholders, filled in per tile.
    tpl=$(it_contract_sql @Z@ @X@ @Y@) || return 1
    tpl=${tpl%", 'hex')"}
    tpl="SELECT md5(${tpl#"SELECT encode("});"
    : >"$d/contract.sql"
    : >"$d/bodies"
    while IFS="|" read -r c n t _; do
        IFS=/ read -r z x y <<<"$t"
        sql=${tpl//@Z@/$z}
        sql=${sql//@X@/$x}
        printf '%s\n' "${sql//@Y@/$y}" >>"$d/contract.sql"
        echo "$d/$c.$n.body" >>"$d/bodies"
    done <"$d/ok"
    it_psql -f "$d/contract.sql" >"$d/contract.md5"
    xargs md5sum <"$d/bodies" | cut -d' ' -f1 >"$d/got.md5"
    paste -d' ' "$d/contract.md5" "$d/got.md5" "$d/ok" | awk '
        $1 != $2 { bad++; if (bad <= 5) print "  tile differs from the contract: " $3 >"/dev/stderr" }
        END { print bad + 0 }'
}

# fl_stale_writes START1 START2 ...: per phase (phase i from STARTi to the next start), how many
# stale cache writes the workers logged: a batch of job J renamed into the cache under token t
# after a batch of J under a larger token was in the cache. Batches are the workers'
# "tiles_written job=J token=t renamed_ms=R done_ms=D" lines: the batch's last rename happened
# at or after R, every rename of it before D (both on this host's clock), so a batch A is stale
# when some batch B of J has a larger token and A's R > B's D — exact, whatever the log line's
# own time, even when a worker was stopped between a rename and its log line. When no worker
# logs those (no fencing tokens), "job_partial"/"job_done" (logged right after the worker
# renamed tiles into the cache) stand in, with their log time as R and D and the attempt of the
# worker's claim of J (job_claimed attempt=, counted up by every claim) as the token, and the
# mode is said on stderr. Prints one count per phase, space-separated.
fl_stale_writes() {
    local mode=token f
    grep -qs 'event=tiles_written ' "$NG_DIR"/worker*.log || mode=attempt
    [[ $mode == token ]] ||
        echo "  (no tiles_written lines in the workers' logs: stale writes measured from" \
            "job_partial/job_done and the claim's attempt)" >&2
    for f in "$NG_DIR"/worker*.log; do
        awk -v mode="$mode" '
            { ts = ""; ev = ""; job = ""; tok = ""; att = ""; r = ""; d = ""
              for (i = 1; i <= NF; i++) {
                  k = substr($i, 1, index($i, "=") - 1); v = substr($i, index($i, "=") + 1)
                  if (k == "ts") ts = v; else if (k == "event") ev = v; else if (k == "job") job = v
                  else if (k == "token") tok = v; else if (k == "attempt") att = v
                  else if (k == "renamed_ms") r = v; else if (k == "done_ms") d = v
              } }
            mode == "token" && ev == "tiles_written" { print ts, job, tok, r, d, FILENAME }
            mode == "attempt" && ev == "job_claimed" { cur[job] = att }
            mode == "attempt" && (ev == "job_partial" || ev == "job_done") {
                print ts, job, (att != "" ? att : cur[job]), ts, ts, FILENAME }' "$f"
    done | awk -v starts="$*" '
        BEGIN { np = split(starts, st, " ") }
        { p = 1
          for (i = 1; i <= np; i++) if ($1 >= st[i]) p = i
          m = ++nb[$2]; ph[$2, m] = p; tk[$2, m] = $3 + 0; rn[$2, m] = $4; dn[$2, m] = $5
          at[$2, m] = $1 " (" $6 ")" }
        END {
          for (j in nb)
              for (a = 1; a <= nb[j]; a++)
                  for (b = 1; b <= nb[j]; b++)
                      if (tk[j, b] > tk[j, a] && rn[j, a] > dn[j, b]) {
                          n[ph[j, a]]++
                          printf "  stale write: %s token %.0f after token %.0f at %s\n", j, \
                              tk[j, a], tk[j, b], at[j, a] >"/dev/stderr"
                          break
                      }
          for (i = 1; i <= np; i++) printf "%d%s", n[i], (i < np ? " " : "\n") }'
}

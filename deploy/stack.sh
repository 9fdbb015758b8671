# shellcheck shell=bash
# deploy/stack.sh — shell functions shared by deploy/local.sh and the integration test
# fixture (tests/integration/services.sh): a throwaway PostgreSQL+PostGIS cluster, a Redis
# server (or a Sentinel-managed master, replica and 3 sentinels), tileq's config file and
# tileq's processes, all on 127.0.0.1 and free ports.
# Source it; it defines functions only (prefix tq_) and sets no shell options.

TQ_APT_PACKAGES=(build-essential cmake pkg-config libevent-dev libhiredis-dev libpq-dev
    libmsgpack-dev libcmocka-dev libconfig-dev libjansson-dev zlib1g-dev libdeflate-dev
    libsqlite3-dev postgresql-15 postgresql-15-postgis-3 redis-server gdal-bin curl)

tq_say() { printf '%s\n' "$*" >&2; }
tq_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Installs the Debian packages in TQ_APT_PACKAGES that are missing (apt-get update first,
# only when something is missing). Needs root, or sudo, when something is missing.
tq_install_packages() {
    local missing=() p status
    for p in "${TQ_APT_PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    tq_say "installing missing packages: ${missing[*]}"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || tq_die "missing packages (${missing[*]}) and no sudo"
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
        tq_die "apt-get update failed"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" || tq_die "apt-get install failed"
}

# The directory holding initdb/pg_ctl/postgres (newest installed major version).
tq_pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n $d && -x $d/initdb ]] || tq_die "PostgreSQL server binaries not found under /usr/lib/postgresql"
    printf '%s\n' "$d"
}

# The OS user the PostgreSQL server runs as: ourselves, or when we are root (initdb and
# postgres refuse to run as root) "postgres" when it exists, else a "tileq" system user.
tq_pg_os_user() {
    if [[ $(id -u) -ne 0 ]]; then
        id -un
    elif id postgres >/dev/null 2>&1; then
        echo postgres
    else
        id tileq >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin tileq ||
            tq_die "cannot create system user tileq"
        echo tileq
    fi
}

# Runs a command as user $1 (plain exec when it is ourselves).
tq_run_as() {
    local user=$1
    shift
    if [[ $user == "$(id -un)" ]]; then
        "$@"
    else
        # From /, which any user can enter (the caller's cwd may be root's home).
        (cd / && runuser -u "$user" -- "$@")
    fi
}

# tq_free_port VAR: sets VAR to a TCP port on 127.0.0.1 that nothing listens on now and that
# tq_free_port did not hand out before in this shell (call it directly, not in $(...), or the
# record of ports handed out is lost). Ports come from below the kernel's ephemeral range, so
# the local end of some outgoing connection (curl, a Redis client) cannot take one between
# the check and the server's bind().
TQ_PORTS_GIVEN=" "
tq_free_port() {
    local p i low=32768 span
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    span=$((low - 10000))
    ((span >= 1000)) || span=1000
    for ((i = 0; i < 500; i++)); do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % span))
        [[ $TQ_PORTS_GIVEN == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            TQ_PORTS_GIVEN+="$p "
            printf -v "$1" '%s' "$p"
            return 0
        fi
    done
    tq_die "no free port found"
}

# tq_pg_start DIR PORT: creates a cluster in DIR/pgdata (superuser "tileq", trust auth,
# loopback only, unix socket in DIR/pgsock, log in DIR/pglog/postgres.log), starts it
# and creates database "tileq".
# DIR must exist; its permissions are opened so the server user can reach it.
tq_pg_start() {
    local dir=$1 port=$2 bindir user
    bindir=$(tq_pg_bindir)
    user=$(tq_pg_os_user)
    chmod 755 "$dir"
    mkdir -p "$dir/pgdata" "$dir/pgsock" "$dir/pglog"
    chown "$user" "$dir/pgdata" "$dir/pgsock" "$dir/pglog"
    chmod 700 "$dir/pgdata"
    if [[ ! -f $dir/pgdata/PG_VERSION ]]; then
        tq_run_as "$user" "$bindir/initdb" -D "$dir/pgdata" -U tileq --auth=trust -E UTF8 \
            --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            {
                cat "$dir/initdb.log" >&2
                tq_die "initdb failed"
            }
    fi
    # The cluster is throwaway: durability off, sized for a small machine.
    tq_run_as "$user" "$bindir/pg_ctl" -D "$dir/pgdata" -l "$dir/pglog/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/pgsock \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c shared_buffers=256MB -c max_connections=100 -c log_min_messages=warning" \
        start >/dev/null || {
        tail -n 30 "$dir/pglog/postgres.log" >&2
        tq_die "PostgreSQL did not start"
    }
    psql -X -q -h 127.0.0.1 -p "$port" -U tileq -d postgres -v ON_ERROR_STOP=1 \
        -c "SELECT 1 FROM pg_database WHERE datname = 'tileq'" -t | grep -q 1 ||
        psql -X -q -h 127.0.0.1 -p "$port" -U tileq -d postgres -v ON_ERROR_STOP=1 \
            -c "CREATE DATABASE tileq" || tq_die "cannot create database tileq"
}

# tq_pg_stop DIR: stops the cluster in DIR/pgdata if it runs.
tq_pg_stop() {
    local dir=$1 bindir user
    [[ -f $dir/pgdata/postmaster.pid ]] || return 0
    bindir=$(tq_pg_bindir)
    user=$(stat -c %U "$dir/pgdata")
    tq_run_as "$user" "$bindir/pg_ctl" -D "$dir/pgdata" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

# tq_redis_start DIR PORT [--aof] [redis-server options...]: a Redis server on 127.0.0.1:PORT,
# pidfile DIR/redis.pid, log DIR/redis.log, data in DIR. No persistence unless --aof is given:
# then an append-only file fsynced every second (appendonly yes, appendfsync everysec; no RDB
# snapshots), which a restart in the same DIR reads back. Waits until it answers PING.
tq_redis_start() {
    local dir=$1 port=$2 i persist=(--appendonly no)
    shift 2
    if [[ ${1:-} == --aof ]]; then
        persist=(--appendonly yes --appendfsync everysec)
        shift
    fi
    redis-server --bind 127.0.0.1 --port "$port" --save '' "${persist[@]}" --daemonize yes \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" "$@" ||
        tq_die "redis-server did not start"
    for ((i = 0; i < 100; i++)); do
        redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.1
    done
    tail -n 20 "$dir/redis.log" >&2
    tq_die "redis-server does not answer on port $port"
}

# tq_stop_pidfile FILE [SECONDS]: SIGTERM the process in FILE, wait for it to exit (SIGKILL
# after SECONDS, default 20), remove FILE. Returns 0 also when nothing runs.
# tq_alive PID: true when PID runs (a zombie waiting to be reaped counts as gone).
tq_alive() {
    local st
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    kill -0 "$1" 2>/dev/null || return 1
    st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)
    [[ $st != Z ]]
}

tq_stop_pidfile() {
    local f=$1 secs=${2:-20} pid i
    [[ -f $f ]] || return 0
    pid=$(cat "$f" 2>/dev/null || true)
    if tq_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < secs * 20; i++)); do
            tq_alive "$pid" || break
            sleep 0.05
        done
        if tq_alive "$pid"; then
            tq_say "pid $pid ($f) did not exit after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$f"
}

tq_redis_stop() {
    tq_stop_pidfile "$1/redis.pid"
}

# tq_load_demo SRCDIR PORT [psql args...]: loads sql/demo_data.sql, then the other sql/*.sql
# files (render log table...) into database tileq.
tq_load_demo() {
    local src=$1 port=$2 f
    shift 2
    psql -X -q -h 127.0.0.1 -p "$port" -U tileq -d tileq -v ON_ERROR_STOP=1 "$@" \
        -f "$src/sql/demo_data.sql" >/dev/null || tq_die "loading sql/demo_data.sql failed"
    for f in "$src"/sql/*.sql; do
        [[ $f == */demo_data.sql ]] && continue
        psql -X -q -h 127.0.0.1 -p "$port" -U tileq -d tileq -v ON_ERROR_STOP=1 \
            -f "$f" >/dev/null || tq_die "loading $f failed"
    done
}

# tq_write_config TEMPLATE OUT REDIS_PORT PG_PORT CACHE_DIR LISTEN_PORT: fills the
# @...@ placeholders of deploy/tileq.conf.in.
tq_write_config() {
    local tpl=$1 out=$2 rport=$3 pport=$4 cache=$5 lport=$6
    sed -e "s|@REDIS_URL@|redis://127.0.0.1:$rport/0|g" \
        -e "s|@PG_CONNINFO@|host=127.0.0.1 port=$pport dbname=tileq user=tileq|g" \
        -e "s|@CACHE_DIR@|$cache|g" \
        -e "s|@LISTEN@|127.0.0.1:$lport|g" "$tpl" >"$out" || tq_die "cannot write $out"
}

# tq_start_bg PIDFILE LOGFILE CMD...: starts CMD in the background (own session, stdin from
# /dev/null, stdout+stderr to LOGFILE) and writes its pid to PIDFILE.
tq_start_bg() {
    local pidfile=$1 log=$2
    shift 2
    setsid "$@" </dev/null >>"$log" 2>&1 &
    echo $! >"$pidfile"
}

# tq_wait_http URL SECONDS PIDFILE LOG: waits until URL answers 200, fails early when the
# process in PIDFILE died (and shows the end of LOG).
tq_wait_http() {
    local url=$1 secs=$2 pidfile=$3 log=$4 i
    for ((i = 0; i < secs * 10; i++)); do
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            return 0
        fi
        if ! tq_alive "$(cat "$pidfile")"; then
            tail -n 30 "$log" >&2
            tq_die "process of $pidfile exited before $url answered"
        fi
        sleep 0.1
    done
    tail -n 30 "$log" >&2
    tq_die "$url did not answer within $secs s"
}

# tq_sanitizer_report LOG MESSAGE CONTEXT MAXLINES: when AddressSanitizer, LeakSanitizer or
# UndefinedBehaviorSanitizer reported in LOG, prints MESSAGE and the report (CONTEXT lines
# after each match, at most MAXLINES) to stderr and returns 1; else returns 0.
tq_sanitizer_report() {
    local log=$1 msg=$2 ctx=$3 max=$4
    local re='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'
    grep -qE "$re" "$log" || return 0
    echo "$msg" >&2
    grep -E -A "$ctx" "$re" "$log" | head -n "$max" >&2
    return 1
}

# ---- Redis Sentinel: a master, a replica and 3 sentinels on loopback -----------------------

# tq_redis_wait_replica PORT MASTER_PORT SECONDS: polls until the Redis on PORT replicates the
# one on MASTER_PORT with its link up; 1 when that did not happen within SECONDS.
tq_redis_wait_replica() {
    local port=$1 master=$2 i info
    for ((i = 0; i < $3 * 20; i++)); do
        info=$(redis-cli -p "$port" info replication 2>/dev/null | tr -d '\r')
        grep -q "^master_port:$master\$" <<<"$info" &&
            grep -q '^master_link_status:up' <<<"$info" && return 0
        sleep 0.05
    done
    return 1
}

# tq_redis_sentinel_group_start DIR MASTERNAME: starts a Redis master (DIR/rsg/a) and one
# replica of it (DIR/rsg/b), both with AOF (everysec), and 3 sentinels (DIR/rsg/s1..s3,
# quorum 2) monitoring them as MASTERNAME, on free loopback ports. Sentinel timeouts are
# short (down-after 1000 ms, failover-timeout 5000 ms) so a failover completes in a few
# seconds. Waits until the replica is in sync and every sentinel sees the master, the replica
# and the 2 other sentinels. Sets TQ_RSG_MASTER_PORT, TQ_RSG_REPLICA_PORT and
# TQ_RSG_SENTINEL_PORTS (space-separated). Call it directly, not in $(...).
tq_redis_sentinel_group_start() {
    local dir=$1 name=$2 mport rport sp i ok s
    mkdir -p "$dir/rsg/a" "$dir/rsg/b"
    tq_free_port mport
    tq_free_port rport
    tq_redis_start "$dir/rsg/a" "$mport" --aof
    tq_redis_start "$dir/rsg/b" "$rport" --aof --replicaof 127.0.0.1 "$mport"
    tq_redis_wait_replica "$rport" "$mport" 10 ||
        tq_die "replica on port $rport did not sync with the master on $mport"
    TQ_RSG_MASTER_PORT=$mport
    TQ_RSG_REPLICA_PORT=$rport
    TQ_RSG_SENTINEL_PORTS=""
    for s in 1 2 3; do
        tq_free_port sp
        mkdir -p "$dir/rsg/s$s"
        cat >"$dir/rsg/s$s/sentinel.conf" <<EOF2
bind 127.0.0.1
port $sp
daemonize yes
pidfile $dir/rsg/s$s/sentinel.pid
logfile $dir/rsg/s$s/sentinel.log
dir $dir/rsg/s$s
sentinel monitor $name 127.0.0.1 $mport 2
sentinel down-after-milliseconds $name 1000
sentinel failover-timeout $name 5000
sentinel parallel-syncs $name 1
EOF2
        redis-server "$dir/rsg/s$s/sentinel.conf" --sentinel || tq_die "sentinel $s did not start"
        TQ_RSG_SENTINEL_PORTS+="${TQ_RSG_SENTINEL_PORTS:+ }$sp"
    done
    # Sentinels find the replica in the master's INFO and each other through hello messages
    # (every 2 s), so this takes a few seconds.
    for ((i = 0; i < 600; i++)); do
        ok=1
        for sp in $TQ_RSG_SENTINEL_PORTS; do
            tq_rsg_sentinel_ready "$sp" "$name" "$mport" || {
                ok=0
                break
            }
        done
        ((ok)) && return 0
        sleep 0.05
    done
    for s in 1 2 3; do tail -n 10 "$dir/rsg/s$s/sentinel.log" >&2; done
    tq_die "the sentinels do not see master $name (port $mport), its replica and each other"
}

# tq_rsg_sentinel_ready PORT NAME MASTERPORT: true when the sentinel on PORT names
# 127.0.0.1:MASTERPORT as NAME's master and knows 1 replica and 2 other sentinels.
tq_rsg_sentinel_ready() {
    local port=$1 name=$2 mport=$3 info
    info=$(redis-cli -p "$port" sentinel master "$name" 2>/dev/null) || return 1
    [[ $(redis-cli -p "$port" sentinel get-master-addr-by-name "$name" 2>/dev/null | tail -n 1) == "$mport" ]] ||
        return 1
    grep -A1 -x 'num-slaves' <<<"$info" | tail -n 1 | grep -qx 1 || return 1
    grep -A1 -x 'num-other-sentinels' <<<"$info" | tail -n 1 | grep -qx 2
}

# tq_redis_sentinel_group_stop DIR: stops the sentinels, then both Redis servers.
tq_redis_sentinel_group_stop() {
    local dir=$1 s
    for s in 1 2 3; do tq_stop_pidfile "$dir/rsg/s$s/sentinel.pid"; done
    tq_redis_stop "$dir/rsg/a"
    tq_redis_stop "$dir/rsg/b"
}

# ---- Redis Cluster ---------------------------------------------------------------------------

# tq_redis_cluster_start DIR PORT1 PORT2 PORT3: a Redis Cluster of 3 masters (no replicas) on
# 127.0.0.1:PORT1..3, one node per DIR/rc/PORT (nodes.conf, redis.log, redis.pid), the 16384
# slots split by `redis-cli --cluster create`. Waits until every node says cluster_state:ok
# and they all agree on the slot map (CLUSTER SLOTS alike on the three). Node timeout 2 s.
tq_redis_cluster_start() {
    local dir=$1 p i ok ref
    shift
    (($# == 3)) || tq_die "tq_redis_cluster_start DIR PORT1 PORT2 PORT3"
    for p in "$@"; do
        mkdir -p "$dir/rc/$p"
        tq_redis_start "$dir/rc/$p" "$p" --cluster-enabled yes \
            --cluster-config-file "$dir/rc/$p/nodes.conf" --cluster-node-timeout 2000
    done
    redis-cli --cluster create "127.0.0.1:$1" "127.0.0.1:$2" "127.0.0.1:$3" --cluster-yes \
        >"$dir/rc/create.log" 2>&1 || {
        cat "$dir/rc/create.log" >&2
        tq_die "redis-cli --cluster create failed"
    }
    for ((i = 0; i < 600; i++)); do
        ok=1
        ref=$(redis-cli -p "$1" cluster slots 2>/dev/null | sort)
        for p in "$@"; do
            redis-cli -p "$p" cluster info 2>/dev/null | tr -d '\r' | grep -qx 'cluster_state:ok' ||
                ok=0
            [[ $(redis-cli -p "$p" cluster slots 2>/dev/null | sort) == "$ref" ]] || ok=0
        done
        ((ok)) && return 0
        sleep 0.05
    done
    for p in "$@"; do tail -n 10 "$dir/rc/$p/redis.log" >&2; done
    tq_die "the Redis Cluster on ports $* did not reach cluster_state:ok"
}

# tq_redis_cluster_stop DIR: stops every node tq_redis_cluster_start started in DIR.
tq_redis_cluster_stop() {
    local d
    for d in "$1"/rc/*/; do
        [[ -f $d/redis.pid ]] && tq_redis_stop "${d%/}"
    done
    return 0
}

# tq_redis_cluster_owner PORT SLOT: the port of the master serving SLOT, as the node on PORT
# sees it.
tq_redis_cluster_owner() {
    local slot=$2
    redis-cli -p "$1" cluster slots | tr -d '\r' | awk -v s="$slot" '
        { v[++n] = $0 }
        END {
            # redis-cli prints the nested arrays flat: start, end, ip, port, id, ...; a range
            # starts where a number <= 16383 is followed by another one and then an address.
            for (i = 1; i + 3 <= n; i++)
                if (v[i] ~ /^[0-9]+$/ && v[i + 1] ~ /^[0-9]+$/ && v[i + 2] ~ /\./ &&
                    v[i] + 0 <= s && s <= v[i + 1] + 0) { print v[i + 3]; exit }
        }'
}

# tq_redis_cluster_move_slot SLOT FROM_PORT TO_PORT: moves SLOT and its keys from the master
# on FROM_PORT to the one on TO_PORT, the way `redis-cli --cluster reshard` does:
# tq_redis_cluster_migrate_slot, then tq_redis_cluster_assign_slot. Clients meanwhile get ASK
# (or TRYAGAIN), then MOVED.
tq_redis_cluster_move_slot() {
    tq_redis_cluster_migrate_slot "$@"
    tq_redis_cluster_assign_slot "$1" "$3"
}

# tq_redis_cluster_migrate_slot SLOT FROM_PORT TO_PORT: IMPORTING on the target, MIGRATING on
# the source, MIGRATE the keys 100 at a time, and stops there: the source still owns the
# slot and answers ASK for every key of it (all are on the target now).
tq_redis_cluster_migrate_slot() {
    local slot=$1 from=$2 to=$3 fid tid keys
    fid=$(redis-cli -p "$from" cluster myid)
    tid=$(redis-cli -p "$to" cluster myid)
    [[ $(redis-cli -p "$to" cluster setslot "$slot" importing "$fid") == OK ]] ||
        tq_die "SETSLOT IMPORTING on $to failed"
    [[ $(redis-cli -p "$from" cluster setslot "$slot" migrating "$tid") == OK ]] ||
        tq_die "SETSLOT MIGRATING on $from failed"
    while :; do
        mapfile -t keys < <(redis-cli -p "$from" cluster getkeysinslot "$slot" 100)
        ((${#keys[@]} > 0)) && [[ -n ${keys[0]} ]] || break
        redis-cli -p "$from" migrate 127.0.0.1 "$to" "" 0 5000 replace keys "${keys[@]}" >/dev/null ||
            tq_die "MIGRATE from $from to $to failed"
    done
}

# tq_redis_cluster_assign_slot SLOT TO_PORT: CLUSTER SETSLOT SLOT NODE <TO_PORT's id> on the
# target, then on every other master; waits until every master names TO_PORT as its owner.
tq_redis_cluster_assign_slot() {
    local slot=$1 to=$2 tid p i ok masters
    tid=$(redis-cli -p "$to" cluster myid)
    masters=$(redis-cli -p "$to" cluster nodes | awk '$3 ~ /master/ { split($2, a, "[:@]"); print a[2] }')
    for p in "$to" $masters; do
        redis-cli -p "$p" cluster setslot "$slot" node "$tid" >/dev/null || true
    done
    for ((i = 0; i < 600; i++)); do
        ok=1
        for p in $masters; do
            [[ $(tq_redis_cluster_owner "$p" "$slot") == "$to" ]] || ok=0
        done
        ((ok)) && return 0
        sleep 0.05
    done
    tq_die "slot $slot: the masters do not all name port $to as its owner"
}

# ---- nginx in front of the coordinators (deploy/nginx.conf.in) ----------------------------

# Installs nginx (nginx-light, else nginx) when no nginx binary is there.
tq_install_nginx() {
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] && return 0
    local TQ_APT_PACKAGES=(nginx-light)
    apt-cache show nginx-light >/dev/null 2>&1 || TQ_APT_PACKAGES=(nginx)
    tq_install_packages
}

tq_nginx_bin() {
    if command -v nginx >/dev/null 2>&1; then command -v nginx; else echo /usr/sbin/nginx; fi
}

# tq_nginx_write_config TEMPLATE OUT STATE_DIR LISTEN CACHE_DIR UPSTREAM... : fills the
# placeholders of deploy/nginx.conf.in; each UPSTREAM is host:port of a coordinator.
# TQ_NGINX_CACHE_CONTROL and TQ_NGINX_CORS_ORIGIN override the headers nginx adds to hits
# (default: deploy/tileq.conf.in's values); TQ_NGINX_METRICS_ALLOW (addresses and ranges,
# space- or comma-separated; default "127.0.0.0/8 ::1", as http.metrics_allow) the clients
# that may GET /metrics and /health through nginx.
tq_nginx_write_config() {
    local tpl=$1 out=$2 state=$3 listen=$4 cache=$5 u ups="" user="" allow="" list
    shift 5
    for u in "$@"; do
        ups+="        server $u max_fails=0;\n"
    done
    list=${TQ_NGINX_METRICS_ALLOW-127.0.0.0/8 ::1} # set but empty: nobody
    for u in ${list//,/ }; do
        [[ $u =~ ^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$ ]] || tq_die "TQ_NGINX_METRICS_ALLOW: bad address '$u'"
        allow+="            allow $u;\n"
    done
    # As root, the master drops its workers to nobody (tiles are 0644, dirs 0755).
    [[ $(id -u) -eq 0 ]] && user="user nobody nogroup;"
    mkdir -p "$state"
    sed -e "s|@USER@|$user|g" -e "s|@STATE_DIR@|$state|g" -e "s|@LISTEN@|$listen|g" \
        -e "s|@CACHE_DIR@|$cache|g" -e "s|@UPSTREAMS@|${ups%\\n}|g" \
        -e "s|@CACHE_CONTROL@|${TQ_NGINX_CACHE_CONTROL:-public, max-age=3600}|g" \
        -e "s|@CORS_ORIGIN@|${TQ_NGINX_CORS_ORIGIN:-*}|g" \
        -e "s|@METRICS_ALLOW@|${allow%\\n}|g" "$tpl" >"$out" ||
        tq_die "cannot write $out"
}

# tq_nginx_start CONF STATE_DIR URL: checks CONF, starts nginx (daemon; pid in
# STATE_DIR/nginx.pid, logs STATE_DIR/{error,access}.log) and waits until URL answers.
tq_nginx_start() {
    local conf=$1 state=$2 url=$3 nginx i
    nginx=$(tq_nginx_bin)
    "$nginx" -t -q -p "$state" -e "$state/error.log" -c "$conf" || tq_die "nginx -t failed for $conf"
    "$nginx" -p "$state" -e "$state/error.log" -c "$conf" || {
        tail -n 20 "$state/error.log" >&2
        tq_die "nginx did not start"
    }
    for ((i = 0; i < 100; i++)); do
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    tail -n 20 "$state/error.log" >&2
    tq_die "nginx does not answer $url"
}

# tq_nginx_stop STATE_DIR: stops the nginx whose pid file is STATE_DIR/nginx.pid.
tq_nginx_stop() {
    tq_stop_pidfile "$1/nginx.pid"
}

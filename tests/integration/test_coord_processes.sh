#!/usr/bin/env bash
# The coordinator on every core (http.processes = 2, next to the fixture's coordinator, on its
# Redis, workers and cache):
# - two processes listen on the one port (two listening sockets, SO_REUSEPORT) under a parent;
#   tiles are answered, by both of them (each one's read bytes grow under 40 new connections);
# - a process killed (SIGKILL), right after the start or later, is logged and forked again;
#   requests are answered meanwhile;
# - SIGTERM to the parent stops them all, exit status 0, no process left;
# - a port another program holds (without SO_REUSEPORT): the processes cannot bind, and the
#   parent exits 1 at once instead of restarting them forever.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$TQ_SOURCE_DIR/deploy/stack.sh"

D=$IT_TMP/procs
mkdir -p "$D"
CONF=$D/tileq.conf
sed 's/^\( *\)read_deadline_seconds = \([0-9]*\);/\1read_deadline_seconds = \2;\n\1processes = 2;/' \
    "$TQ_TEST_CONFIG" >"$CONF"
grep -q 'processes = 2;' "$CONF" || it_fail "could not set http.processes in $CONF"
tq_free_port PORT
URL=http://127.0.0.1:$PORT
COORD=$TQ_BUILD_DIR/coordinator/tileq-coordinator
LOG=$D/coordinator.log
parent=""
cleanup_procs() {
    [[ -n $parent ]] && kill -KILL "$parent" 2>/dev/null || true
    pkill -KILL -P "${parent:-0}" 2>/dev/null || true
}
trap 'cleanup_procs; rm -rf "$IT_TMP"' EXIT

listening() { ss -Htln "sport = :$PORT" | wc -l; }
children() { pgrep -P "$parent" | sort | tr '\n' ' ' | sed 's/ $//'; }
rchar() { awk '/^rchar:/ { print $2 }' "/proc/$1/io"; }
# wait_for DESCRIPTION COMMAND...: polls COMMAND (bounded, 10 s).
wait_for() {
    local what=$1 i
    shift
    for ((i = 0; i < 100; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    it_fail "$what: not within 10 s"
    return 1
}
two_listening() { [[ $(listening) == 2 ]]; }
two_children() { [[ $(wc -w <<<"$(children)") == 2 ]]; }

TQ_LISTEN=127.0.0.1:$PORT setsid "$COORD" -c "$CONF" </dev/null >>"$LOG" 2>&1 &
parent=$!
echo "$parent" >"$D/coordinator.pid"
tq_wait_http "$URL/health" 30 "$D/coordinator.pid" "$LOG"
wait_for "two processes" two_children
wait_for "two listening sockets on port $PORT" two_listening
it_check "listening sockets on port $PORT (SO_REUSEPORT)" 2 "$(listening)"
it_check "processes logged event=listening" 2 "$(grep -c 'event=listening' "$LOG" || true)"

# A process killed right after the start (within the parent's 2 s start grace): a crash, not a
# start failure (those exit with an error by themselves), so it is forked again.
read -r e1 _ <<<"$(children)"
kill -KILL "$e1"
restarted_early() { grep -q "event=coordinator_process_exited .*pid=$e1 .*action=restart" "$LOG" &&
    two_children && [[ " $(children) " != *" $e1 "* ]] && two_listening; }
wait_for "a process killed at start: logged and forked again" restarted_early &&
    echo "ok: a process killed at start was forked again ($(children))"

# A tile (cached through the fixture's coordinator first), then 40 new connections.
P=/demo/9/259/176.mvt
it_check "the tile through the fixture" 200 "$(it_fetch "$P" first)"
read -r k1 k2 <<<"$(children)"
r1=$(rchar "$k1")
r2=$(rchar "$k2")
ok=0
for ((i = 0; i < 40; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' "$URL$P") == 200 ]] &&
        ok=$((ok + 1))
done
it_check "40 requests on new connections: 200" 40 "$ok"
(($(rchar "$k1") > r1 && $(rchar "$k2") > r2)) &&
    echo "ok: both processes served (their read bytes grew)" ||
    it_fail "one process did not serve: rchar $r1 -> $(rchar "$k1"), $r2 -> $(rchar "$k2")"

# SIGKILL one: logged, forked again; the other answers meanwhile.
kill -KILL "$k1"
it_check "with one process killed: 200" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --retry 3 --retry-connrefused "$URL$P")"
restarted() { grep -q "event=coordinator_process_exited .*pid=$k1 .*action=restart" "$LOG" &&
    two_children && [[ " $(children) " != *" $k1 "* ]] && two_listening; }
wait_for "the killed process logged and forked again" restarted &&
    echo "ok: the killed process was logged and forked again ($(children))"
it_check "after the restart: 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL$P")"

# SIGTERM: all stop, status 0.
kids=$(children)
kill -TERM "$parent"
rc=0
wait "$parent" || rc=$?
it_check "SIGTERM: the parent's exit status" 0 "$rc"
left=0
for k in $kids; do kill -0 "$k" 2>/dev/null && left=$((left + 1)); done
it_check "SIGTERM: processes left" 0 "$left"
parent=""

# A port held by another program: exit 1 at once, not a restart loop.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
time.sleep(60)' "$PORT" &
holder=$!
for ((i = 0; i < 50; i++)); do [[ $(listening) == 1 ]] && break; sleep 0.1; done
start=$(date +%s)
rc=0
TQ_LISTEN=127.0.0.1:$PORT timeout 30 "$COORD" -c "$CONF" </dev/null >"$D/busy.log" 2>&1 || rc=$?
kill "$holder" 2>/dev/null || true
it_check "port taken: exit status" 1 "$rc"
(($(date +%s) - start < 15)) && echo "ok: port taken: exited without restarting forever" ||
    it_fail "port taken: took $(($(date +%s) - start)) s"
grep -q "cannot listen" "$D/busy.log" && echo "ok: port taken: says why" ||
    it_fail "port taken: no 'cannot listen' in $(tail -n 5 "$D/busy.log")"

it_done

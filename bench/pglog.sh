#!/usr/bin/env bash
# bench/pglog.sh — `tileq report --pglog` against pgbadger -j 1 on the same generated log:
# MB/s (file size / wall time, median of the runs) and peak RSS (/usr/bin/time -v), and the
# ratios tileq / pgbadger; then tileq's peak RSS on two crafted hostile logs (stderr and
# csvlog, tq-bench-pglog-gen's hostile modes).
#
#   bench/pglog.sh            # SIZE_MB=400 RUNS=3 PGB_RUNS=1 HOSTILE_MB=200
#
# The log: tq-bench-pglog-gen SIZE_MB (stderr, log_line_prefix
# '%m [%p] user=%u,db=%d,app=%a,client=%h ', 12 backends, simple statements over 8 lines,
# the extended protocol with DETAIL parameters, Mapnik-style BOX3D queries, noise lines).
# Both tools are given that prefix. tileq runs with every core (its default) and with
# --threads 1; pgbadger with -j 1 (one process; the issue's reference), text output.
# Nothing else runs here: no services.
set -euo pipefail
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../deploy/stack.sh
source "$BENCH_ROOT/deploy/stack.sh"

SIZE_MB=${SIZE_MB:-400}
RUNS=${RUNS:-3}
PGB_RUNS=${PGB_RUNS:-1}
HOSTILE_MB=${HOSTILE_MB:-200}
PREFIX='%m [%p] user=%u,db=%d,app=%a,client=%h '
BUILD=${TQ_BENCH_BUILD_DIR:-$BENCH_ROOT/build-release}

TQ_APT_PACKAGES+=(pgbadger time)
tq_install_packages
if [[ ${TQ_BENCH_NO_BUILD:-0} != 1 ]]; then
    cmake -S "$BENCH_ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null ||
        tq_die "cmake configure failed"
    cmake --build "$BUILD" -j2 --target tileq tq-bench-pglog-gen >/dev/null || tq_die "build failed"
fi
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" ||
    tq_die "$BUILD is not a Release build"
TILEQ=$BUILD/cli/tileq
GEN=$BUILD/bench/tq-bench-pglog-gen

DIR=$(mktemp -d "${TMPDIR:-/tmp}/tqbench-pglog.XXXXXX")
trap '[[ ${TQ_BENCH_KEEP:-0} == 1 ]] && echo "kept $DIR" >&2 || rm -rf "$DIR"' EXIT

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# measure NAME CMD...: one run; appends "seconds rss_kb cpu_seconds" to $DIR/NAME.runs (CPU:
# user + system, the figure a busy machine distorts least)
measure() {
    local name=$1
    shift
    /usr/bin/time -v -o "$DIR/$name.time" "$@" >"$DIR/$name.out" 2>"$DIR/$name.err" ||
        tq_die "$name failed: $(tail -n 5 "$DIR/$name.err")"
    local wall rss cpu
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
                        for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$DIR/$name.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DIR/$name.time")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$DIR/$name.time")
    echo "$wall $rss $cpu" >>"$DIR/$name.runs"
    printf '  %-14s %8.2f s  %8.1f MB/s  %7.1f MB RSS  %6.2f s CPU\n' "$name" "$wall" \
        "$(awk -v b="$BYTES" -v s="$wall" 'BEGIN {print b / 1e6 / s}')" \
        "$(awk -v k="$rss" 'BEGIN {print k / 1024}')" "$cpu"
}

echo "generating a ${SIZE_MB} MB log..."
"$GEN" "$SIZE_MB" 1 >"$DIR/pg.log" 2>"$DIR/gen.err"
BYTES=$(stat -c %s "$DIR/pg.log")
echo "log: $BYTES bytes, $(cat "$DIR/gen.err")"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$DIR/pg.log" >/dev/null # in the page cache for every run alike

for ((r = 1; r <= RUNS; r++)); do
    echo "round $r"
    measure tileq "$TILEQ" report --pglog --prefix "$PREFIX" "$DIR/pg.log"
    measure tileq_1thread "$TILEQ" report --pglog --threads 1 --prefix "$PREFIX" "$DIR/pg.log"
    if ((r <= PGB_RUNS)); then
        measure pgbadger pgbadger -j 1 -q -f stderr --prefix "$PREFIX" -x text \
            -o "$DIR/pgbadger.txt" "$DIR/pg.log"
    fi
done

echo "hostile logs (tileq, every core):"
"$GEN" "$HOSTILE_MB" 1 hostile >"$DIR/hostile.log" 2>/dev/null
"$GEN" "$HOSTILE_MB" 1 hostile-csv >"$DIR/hostile.csv" 2>/dev/null
BYTES=$(stat -c %s "$DIR/hostile.log")
measure hostile_stderr "$TILEQ" report --pglog "$DIR/hostile.log"
sed -n 3p "$DIR/hostile_stderr.out"
BYTES=$(stat -c %s "$DIR/hostile.csv")
measure hostile_csvlog "$TILEQ" report --pglog "$DIR/hostile.csv"
sed -n 3p "$DIR/hostile_csvlog.out"

BYTES=$(stat -c %s "$DIR/pg.log")
med() { awk -v c="$2" '{print $c}' "$DIR/$1.runs" | median; }
mbs() { awk -v b="$BYTES" -v s="$(med "$1" 1)" 'BEGIN {printf "%.1f", b / 1e6 / s}'; }
rss() { awk -v k="$(med "$1" 2)" 'BEGIN {printf "%.1f", k / 1024}'; }
echo
echo "renders found: tileq $(sed -n 4p "$DIR/tileq.out" | awk '{print $2}'), pgbadger's queries: $(grep -m1 -E '^Number of queries' "$DIR/pgbadger.txt" || echo '?')"
echo "medians over $RUNS runs (pgbadger: $PGB_RUNS) of a $BYTES-byte log:"
printf '  %-22s %10s %10s %10s\n' tool "MB/s" "RSS MB" "CPU s"
for n in tileq tileq_1thread pgbadger; do
    printf '  %-22s %10s %10s %10s\n' "$n" "$(mbs $n)" "$(rss $n)" "$(med $n 3)"
done
printf '  %-22s %10s\n' "tileq / pgbadger" "$(awk -v a="$(med pgbadger 1)" -v b="$(med tileq 1)" 'BEGIN {printf "%.1fx", a / b}')"
printf '  %-22s %10s\n' "tileq 1 thread / pgbadger" "$(awk -v a="$(med pgbadger 1)" -v b="$(med tileq_1thread 1)" 'BEGIN {printf "%.1fx", a / b}')"
printf '  %-22s %10s\n' "tileq / tileq 1 thread" "$(awk -v a="$(med tileq_1thread 1)" -v b="$(med tileq 1)" 'BEGIN {printf "%.2fx", a / b}')"
# every --threads gives the same report (tq_report_merge): the last runs' outputs compared
cmp -s "$DIR/tileq.out" "$DIR/tileq_1thread.out" && same=yes || same=NO
printf '  %-22s %10s\n' "same report, 1 thread" "$same"
printf '  %-22s %10s MB\n' "hostile stderr RSS" "$(rss hostile_stderr)"
printf '  %-22s %10s MB\n' "hostile csvlog RSS" "$(rss hostile_csvlog)"

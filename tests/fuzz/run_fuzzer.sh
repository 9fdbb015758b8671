#!/usr/bin/env bash
# tests/fuzz/run_fuzzer.sh — the fuzz tests' driver (tests/fuzz/CMakeLists.txt).
#
#   run_fuzzer.sh build SOURCE_DIR BUILD_DIR
#       Configures BUILD_DIR with clang and TQ_FUZZ=ON (only the libraries under test and the
#       harnesses, with -fsanitize=fuzzer-no-link,address,undefined) and builds tq_fuzzers.
#       Fails, saying what to install, when clang or its libFuzzer runtime is missing.
#       Environment: TQ_FUZZ_CC (default clang), TQ_JOBS (build jobs, default 2).
#   run_fuzzer.sh run NAME FUZZER FUZZ_SOURCE_DIR WORK_DIR SECONDS
#       Runs FUZZER for SECONDS over WORK_DIR/corpus (new inputs go there, kept between
#       runs), FUZZ_SOURCE_DIR/corpus/NAME and FUZZ_SOURCE_DIR/regress/NAME, with
#       NAME.dict when there is one. Fails when the fuzzer finds a crash, a leak, a timeout
#       or a broken property; the input is saved under WORK_DIR/artifacts/ and the message
#       says how to replay it and make it a regression test.
set -euo pipefail

die() {
    printf 'run_fuzzer.sh: %s\n' "$*" >&2
    exit 1
}

build() {
    local src=$1 build=$2 cc=${TQ_FUZZ_CC:-clang}
    command -v "$cc" >/dev/null ||
        die "$cc not found: the fuzz tests need clang and its libFuzzer runtime" \
            "(Debian: apt-get install clang libclang-rt-dev; tests/run.sh installs them)"
    cmake -S "$src" -B "$build" -DTQ_FUZZ=ON -DCMAKE_BUILD_TYPE=Fuzz \
        -DCMAKE_C_COMPILER="$cc" -DBUILD_TESTING=OFF ||
        die "configuring the fuzz tree $build failed (see above)"
    cmake --build "$build" --target tq_fuzzers -j"${TQ_JOBS:-2}" ||
        die "building the fuzzers in $build failed (see above)"
}

run() {
    local name=$1 fuzzer=$2 src=$3 work=$4 seconds=$5
    local args=() dirs=() log status=0 before after f
    [[ -x $fuzzer ]] || die "$fuzzer missing: the fuzz_build test builds it (ctest runs it first)"
    mkdir -p "$work/corpus" "$work/artifacts"
    dirs=("$work/corpus" "$src/corpus/$name")
    [[ -d $src/regress/$name ]] && dirs+=("$src/regress/$name")
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$work/artifacts/")
    [[ -f $src/$name.dict ]] && args+=(-dict="$src/$name.dict")
    log=$work/fuzz.log
    before=$(ls "$work/artifacts" | wc -l)
    echo "fuzzing $name for ${seconds}s: $fuzzer ${args[*]} ${dirs[*]}"
    "$fuzzer" "${args[@]}" "${dirs[@]}" >"$log" 2>&1 || status=$?
    after=$(ls "$work/artifacts" | wc -l)
    grep -E '^#[0-9]+ +(INITED|DONE)|^stat::' "$log" || true
    if [[ $status -ne 0 || $after -ne $before ]]; then
        tail -n 60 "$log"
        echo "FAILED: fuzz_$name found a failing input (exit status $status; full log: $log)."
        for f in $(ls -t "$work/artifacts" | head -n $((after - before > 0 ? after - before : 1))); do
            echo "  saved: $work/artifacts/$f"
            echo "  replay: $fuzzer $work/artifacts/$f"
            echo "  regression test: cp $work/artifacts/$f $src/regress/$name/ (then fix the parser)"
        done
        exit 1
    fi
    echo "fuzz_$name: no failure in ${seconds}s"
}

case ${1:-} in
build) build "$2" "$3" ;;
run) run "$2" "$3" "$4" "$5" "$6" ;;
*) die "usage: run_fuzzer.sh build SOURCE_DIR BUILD_DIR | run NAME FUZZER FUZZ_SOURCE_DIR WORK_DIR SECONDS" ;;
esac

#!/usr/bin/env bash
# tests/run.sh [ctest args...] — installs what is missing (Debian packages, apt-get), builds
# tileq with AddressSanitizer + UndefinedBehaviorSanitizer (CMAKE_BUILD_TYPE=Sanitize) into
# build-sanitize/, and runs every test through ctest: the cmocka unit tests and the
# integration tests (a fixture starts PostgreSQL+PostGIS, Redis, the coordinator and workers
# on free loopback ports), and the fuzz tests (tests/fuzz/: each libFuzzer harness, built
# with clang in build-sanitize/fuzz-clang/, runs ~30 s; their inputs are replayed too).
# Exits with ctest's status. Extra arguments go to ctest, e.g.
#   tests/run.sh -L unit          tests/run.sh -R bad_urls          tests/run.sh -L fuzz
# Environment: TQ_TEST_BUILD_DIR (default build-sanitize), TQ_JOBS (build jobs, default 2).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=../deploy/stack.sh
source "$ROOT/deploy/stack.sh"

# The nginx tests (tests/integration/test_nginx*.sh) need nginx; the docker test
# (tests/docker/test_compose.sh) a Docker engine, docker-compose and debootstrap (it makes
# the debian:12 base image when missing). The fuzz tests (tests/fuzz/) build their fuzzers
# with clang and its libFuzzer runtime (libclang_rt.fuzzer, in libclang-rt-dev →
# libclang-rt-14-dev on Debian 12).
TQ_APT_PACKAGES+=(nginx-light docker-compose docker.io debootstrap clang libclang-rt-dev)
tq_install_packages

# dockerd, started here when no engine answers (as root; CI has no systemd). Where it cannot
# start (no root, no cgroups...), the docker test skips and says why.
if ! docker info >/dev/null 2>&1 && [[ $(id -u) == 0 ]] && command -v dockerd >/dev/null; then
    echo "starting dockerd (log: /var/log/tileq-dockerd.log)"
    (setsid dockerd >/var/log/tileq-dockerd.log 2>&1 &)
    for ((i = 0; i < 300; i++)); do
        docker info >/dev/null 2>&1 && break
        sleep 0.1
    done
    docker info >/dev/null 2>&1 || echo "note: dockerd did not start; see /var/log/tileq-dockerd.log"
fi

# The map-client tests need jq; the build fetches MapLibre GL JS with npm; the browser test
# (tests/integration/test_browser.sh) drives Debian's Chromium with playwright-core from npm.
# Node.js may come from elsewhere (NodeSource ships npm inside its nodejs), so node and npm
# are checked as commands, not as Debian packages.
extra=()
[[ -x /usr/bin/chromium ]] || extra+=(chromium)
command -v jq >/dev/null || extra+=(jq)
command -v clang-format >/dev/null || extra+=(clang-format) # tests/format_check.sh
command -v node >/dev/null || extra+=(nodejs)
command -v npm >/dev/null || extra+=(npm)
if ((${#extra[@]} > 0)); then
    saved=("${TQ_APT_PACKAGES[@]}")
    TQ_APT_PACKAGES=("${extra[@]}")
    tq_install_packages
    TQ_APT_PACKAGES=("${saved[@]}")
fi

BUILD=${TQ_TEST_BUILD_DIR:-$ROOT/build-sanitize}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Sanitize -DTQ_WERROR=ON
cmake --build "$BUILD" -j"${TQ_JOBS:-2}"

# playwright-core for the browser test, from tests/browser/package-lock.json (the test does
# the same when run alone; done here so that a registry problem shows up before ctest).
browser_dir=$BUILD/tests/browser
mkdir -p "$browser_dir"
if ! cmp -s "$ROOT/tests/browser/package-lock.json" "$browser_dir/.installed-lock.json" ||
    [[ ! -d $browser_dir/node_modules/playwright-core ]]; then
    cp "$ROOT/tests/browser/package.json" "$ROOT/tests/browser/package-lock.json" "$browser_dir/"
    (cd "$browser_dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$ROOT/tests/browser/package-lock.json" "$browser_dir/.installed-lock.json"
fi

# LeakSanitizer needs ptrace-like access to the process; some sandboxes forbid it and then
# every sanitized program dies at exit. Probe once with a leak-free program.
probe_dir=$(mktemp -d)
leaks=1
printf 'int main(void) { return 0; }\n' >"$probe_dir/p.c"
if cc -fsanitize=address -o "$probe_dir/p" "$probe_dir/p.c" 2>/dev/null; then
    if ! ASAN_OPTIONS=detect_leaks=1 "$probe_dir/p" >/dev/null 2>&1; then
        leaks=0
        echo "note: LeakSanitizer does not work here (ptrace restricted?); running with detect_leaks=0"
    fi
fi
rm -rf "$probe_dir"
export ASAN_OPTIONS="detect_leaks=$leaks:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

cd "$BUILD"
status=0
ctest --output-on-failure "$@" || status=$?
if [[ $status -eq 0 ]]; then
    echo "tests/run.sh: all tests passed (build: $BUILD)"
else
    echo "tests/run.sh: ctest failed with status $status (build: $BUILD; server logs of the" \
        "integration fixture: $BUILD/tests/integration/logs/)"
fi
exit $status

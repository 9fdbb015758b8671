#!/usr/bin/env bash
# The preview map in a real browser: Debian's headless Chromium, driven by playwright-core
# (tests/browser/package.json + package-lock.json, installed with `npm ci` into
# $TQ_BUILD_DIR/tests/browser when missing or when the lock file changed; tests/run.sh does
# it before ctest), opens /, follows the link to the demo map, waits for the tiles, checks
# that features of every layer were drawn, that no tile request failed and that a click
# shows a feature's attributes (tests/browser/preview_test.cjs). The screenshot is kept as
# $TQ_BUILD_DIR/tests/browser/preview.png.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CHROMIUM=${TQ_CHROMIUM:-/usr/bin/chromium}
[[ -x $CHROMIUM ]] || {
    echo "FAIL: $CHROMIUM is not installed (tests/run.sh installs chromium)" >&2
    exit 1
}
dir=$(it_node_modules) || exit 1
src=$TQ_SOURCE_DIR/tests/browser

shot=$dir/preview.png
rm -f "$shot"
# The demo tileset's layer schema is published by the workers once they have prepared it.
for _ in $(seq 1 120); do
    [[ $(it_fetch /demo.json tj) == 200 ]] && break
    sleep 0.5
done
TQ_BROWSER_MODULES=$dir TQ_CHROMIUM=$CHROMIUM \
    node "$src/preview_test.cjs" "$TQ_TEST_BASE_URL" demo "$shot" |
    grep -v 'GL Driver Message' || it_fail "the browser test failed (output above)"
[[ -s $shot ]] && echo "ok: screenshot saved as $shot" || it_fail "no screenshot at $shot"
it_done

#!/usr/bin/env bash
# with_env.sh PROGRAM [ARGS...] — runs an integration test program with the fixture's
# environment (TQ_TEST_REDIS_PORT, TQ_TEST_PG_CONNINFO, TQ_TEST_BASE_URL, ...; see
# services.sh) exported.
set -euo pipefail
: "${TQ_IT_ENV_FILE:?TQ_IT_ENV_FILE not set (run through ctest)}"
[[ -f $TQ_IT_ENV_FILE ]] || {
    echo "with_env: $TQ_IT_ENV_FILE missing: services_start did not run or failed" >&2
    exit 1
}
# shellcheck disable=SC1090
source "$TQ_IT_ENV_FILE"
exec "$@"

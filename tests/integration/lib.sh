# shellcheck shell=bash
# lib.sh — helpers for tests/integration/test_*.sh. Source it after `set -euo pipefail`.
# Reads the fixture's env file (services.sh) and gives: it_psql, it_redis, it_fetch,
# it_hex, it_contract_sql, it_check/it_fail, it_done, it_node_modules.

: "${TQ_IT_ENV_FILE:?TQ_IT_ENV_FILE not set (run through ctest)}"
if [[ ! -f $TQ_IT_ENV_FILE ]]; then
    echo "FAIL: $TQ_IT_ENV_FILE missing: services_start did not run or failed" >&2
    exit 1
fi
# shellcheck disable=SC1090
source "$TQ_IT_ENV_FILE"

IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tqtest.XXXXXX")
IT_FAILURES=0
trap 'rm -rf "$IT_TMP"' EXIT

it_fail() {
    echo "FAIL: $*" >&2
    IT_FAILURES=$((IT_FAILURES + 1))
}

# it_check DESCRIPTION EXPECTED ACTUAL
it_check() {
    if [[ $2 == "$3" ]]; then
        echo "ok: $1"
    else
        it_fail "$1: expected '$2', got '$3'"
    fi
}

# Ends the test: exit 1 when any check failed.
it_done() {
    if ((IT_FAILURES > 0)); then
        echo "$IT_FAILURES check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
}

it_psql() {
    psql -X -q -At -h 127.0.0.1 -p "$TQ_TEST_PG_PORT" -U tileq -d tileq -v ON_ERROR_STOP=1 "$@"
}

it_redis() {
    redis-cli -h 127.0.0.1 -p "$TQ_TEST_REDIS_PORT" "$@"
}

# it_fetch_url URL NAME [curl args...]: GET URL (path sent as is), body in
# $IT_TMP/NAME.body, headers in $IT_TMP/NAME.headers; prints the HTTP status ("000" when
# the connection failed).
it_fetch_url() {
    local url=$1 name=$2
    shift 2
    curl -sS --path-as-is --max-time 120 -o "$IT_TMP/$name.body" -D "$IT_TMP/$name.headers" \
        -w '%{http_code}' "$@" "$url" 2>"$IT_TMP/$name.curlerr" || true
}

# it_fetch PATH NAME [curl args...]: it_fetch_url of $TQ_TEST_BASE_URL$PATH.
it_fetch() {
    local path=$1
    shift
    it_fetch_url "$TQ_TEST_BASE_URL$path" "$@"
}

# it_header NAME HEADER: the value of HEADER in the last it_fetch NAME response ("" if none).
it_header() {
    awk -v h="$(tr '[:upper:]' '[:lower:]' <<<"$2")" -F': *' '
        { sub(/\r$/, "") }
        tolower($1) == h { v = substr($0, index($0, ":") + 1); sub(/^ +/, "", v) }
        END { print v }' "$IT_TMP/$1.headers"
}

# it_hex FILE: the file's bytes as lower-case hex, one line ("" for an empty file).
it_hex() {
    od -An -v -tx1 "$1" | tr -d ' \n'
}

# it_layers: the demo tileset's layers from the written config, one "name<TAB>sql" per line,
# in config order (each layer's sql is on one line in deploy/tileq.conf.in).
it_layers() {
    awk 'match($0, /name = "[^"]+"/) { n = substr($0, RSTART + 8, RLENGTH - 9) }
         match($0, /sql = ".*";/) { print n "\t" substr($0, RSTART + 7, RLENGTH - 9) }' \
        "$TQ_TEST_CONFIG"
}

# it_contract_sql Z X Y: SQL printing, as hex, the bytes the rendering contract says tile
# Z/X/Y of the demo tileset has (extent 4096, buffer 64): per layer in config order,
# ST_AsMVT over ST_AsMVTGeom of the layer's rows, !BBOX! being the tile envelope expanded by
# the buffer and !ZOOM! the zoom; layers concatenated. Written here independently of the
# worker, which renders whole metatiles in one query and must produce the same bytes.
it_contract_sql() {
    local z=$1 x=$2 y=$3 name sql attrs joined=""
    local env="ST_TileEnvelope($z, $x, $y)"
    local bbox="ST_Expand($env, (2 * 20037508.342789244::float8 / 2 ^ $z) * 64 / 4096)"
    while IFS=$'\t' read -r name sql; do
        case $name in
        areas | roads) attrs="l.name, l.kind" ;;
        places) attrs="l.name, l.kind, l.population" ;;
        *)
            echo "it_contract_sql: unknown layer $name" >&2
            return 1
            ;;
        esac
        sql=${sql//'!BBOX!'/$bbox}
        sql=${sql//'!ZOOM!'/$z}
        joined+="${joined:+ || }COALESCE((SELECT ST_AsMVT(q, '$name', 4096, 'geom') FROM"
        joined+=" (SELECT ST_AsMVTGeom(l.geom, $env, 4096, 64, true) AS geom, $attrs"
        joined+=" FROM ($sql) l WHERE l.geom && $bbox) q), ''::bytea)"
    done < <(it_layers)
    [[ -n $joined ]] || {
        echo "it_contract_sql: no layers found in $TQ_TEST_CONFIG" >&2
        return 1
    }
    printf "SELECT encode(%s, 'hex')" "$joined"
}

# it_redis_keys: every key in the fixture's Redis database 0, sorted.
it_redis_keys() {
    it_redis --scan | sort
}

# it_node_modules: the tests' npm modules (tests/browser/package.json + package-lock.json:
# playwright-core, pmtiles), installed with `npm ci` into $TQ_BUILD_DIR/tests/browser when
# missing or when the lock file changed (tests/run.sh does it before ctest). Prints that
# directory; status 1 when node/npm are missing or npm ci failed.
it_node_modules() {
    local dir=$TQ_BUILD_DIR/tests/browser src=$TQ_SOURCE_DIR/tests/browser need
    for need in node npm; do
        command -v "$need" >/dev/null || {
            echo "FAIL: $need is not installed (tests/run.sh installs nodejs and npm)" >&2
            return 1
        }
    done
    mkdir -p "$dir"
    if ! cmp -s "$src/package-lock.json" "$dir/.installed-lock.json" ||
        [[ ! -d $dir/node_modules/playwright-core || ! -d $dir/node_modules/pmtiles ]]; then
        cp "$src/package.json" "$src/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2 || {
            echo "FAIL: npm ci in $dir failed" >&2
            return 1
        }
        cp "$src/package-lock.json" "$dir/.installed-lock.json"
    fi
    echo "$dir"
}

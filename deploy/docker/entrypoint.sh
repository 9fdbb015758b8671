#!/bin/sh
# deploy/docker/entrypoint.sh — the tileq image's entrypoint. The config file is
# $TQ_CONFIG when that file exists (mount your own), else it is written from
# /etc/tileq/tileq.conf.in (mountable too) with the TQ_* environment filled in; the programs
# apply the TQ_* overrides (TQ_REDIS_URL, TQ_PG_CONNINFO, TQ_CACHE_DIR, TQ_LISTEN,
# TQ_WORKER_ID, TQ_LOG_LEVEL) on top of either. Then runs the command with -c CONFIG:
#   tileq-coordinator | tileq-worker | tileq SUBCOMMAND ... ; anything else runs as is.
set -eu
CONFIG=${TQ_CONFIG:-/etc/tileq/tileq.conf}
if [ ! -f "$CONFIG" ]; then
    CONFIG=/run/tileq/tileq.conf
    sed -e "s|@REDIS_URL@|${TQ_REDIS_URL:-redis://redis:6379/0}|g" \
        -e "s|@PG_CONNINFO@|${TQ_PG_CONNINFO:-host=postgis dbname=tileq user=tileq}|g" \
        -e "s|@CACHE_DIR@|${TQ_CACHE_DIR:-/var/cache/tileq}|g" \
        -e "s|@LISTEN@|${TQ_LISTEN:-0.0.0.0:8080}|g" \
        /etc/tileq/tileq.conf.in >"$CONFIG.$$"
    # Renamed into place: a healthcheck or `exec` running this at the same time never
    # reads a half-written file.
    mv -f "$CONFIG.$$" "$CONFIG"
fi
case ${1:-} in
tileq-coordinator | tileq-worker | tileq)
    prog=$1
    shift
    exec "$prog" -c "$CONFIG" "$@"
    ;;
*) exec "$@" ;;
esac

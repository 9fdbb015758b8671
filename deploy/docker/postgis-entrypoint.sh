#!/bin/sh
# deploy/docker/postgis-entrypoint.sh — the postgis image's entrypoint (runs as postgres).
# On an empty data volume: initdb, then, on a server listening on its Unix socket only,
# role and database tileq (password $POSTGRES_PASSWORD, default tileq), PostGIS, the demo
# data (sql/demo_data.sql, scaled by $TILEQ_DEMO_SCALE, default 1) and the other sql/*.sql
# files (render log table ...); the marker file "tileq-ready" is written last, so a
# half-initialised volume is never taken for a ready one (the healthcheck looks for it).
# Then runs postgres in the foreground with the extra arguments ("-c max_connections=200").
set -eu
SQL=/usr/share/tileq/sql
if [ ! -f "$PGDATA/tileq-ready" ]; then
    rm -rf "${PGDATA:?}"/* 2>/dev/null || true
    initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >/dev/null
    echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    psql="psql -X -q -v ON_ERROR_STOP=1 -U postgres"
    $psql -d postgres -c "CREATE ROLE tileq LOGIN SUPERUSER PASSWORD '${POSTGRES_PASSWORD:-tileq}'"
    $psql -d postgres -c "CREATE DATABASE tileq OWNER tileq"
    $psql -d tileq -c "CREATE EXTENSION IF NOT EXISTS postgis"
    $psql -d tileq -U tileq -v scale="${TILEQ_DEMO_SCALE:-1}" -f "$SQL/demo_data.sql" >/dev/null
    for f in "$SQL"/*.sql; do
        [ "$f" = "$SQL/demo_data.sql" ] && continue
        $psql -d tileq -U tileq -f "$f" >/dev/null
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    touch "$PGDATA/tileq-ready"
    echo "tileq-postgis: database tileq initialised with the demo data"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"

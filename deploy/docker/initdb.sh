#!/bin/sh
# deploy/docker/initdb.sh — run once by the postgis/postgis image on a fresh data volume
# (/docker-entrypoint-initdb.d): loads tileq's demo data (sql/demo_data.sql, mounted at
# /tileq-sql) and then the other sql/*.sql files (render log table ...).
# TILEQ_DEMO_SCALE (default 1) scales the number of generated places.
set -eu
psql="psql -X -q -v ON_ERROR_STOP=1 --username $POSTGRES_USER --dbname $POSTGRES_DB"
$psql -v scale="${TILEQ_DEMO_SCALE:-1}" -f /tileq-sql/demo_data.sql
for f in /tileq-sql/*.sql; do
    [ "$f" = /tileq-sql/demo_data.sql ] && continue
    $psql -f "$f"
done

#!/usr/bin/env bash
# tileq report --pglog on logs generated in SQL (issues 12 and 16):
#  1. a syslog log written with log_line_prefix '%t %u %d %a ' (the CARTO format) by 5
#     interleaved backends: 300 renders of distinct z10 tiles (render i is tile 10/i/3i mod
#     1024, by user u(i%3) in database gis_(i%2), application "tiler app", a comment /* r=i */
#     in its query), split over two syslog lines each ("#011" continuation), every third one
#     through the extended protocol (execute + DETAIL parameters). With --prefix, and
#     without it (guessed), the database and user are right in every format: text, csv,
#     json, html, renders (one CSV row per render, the syslog host a column), and --load
#     puts the same rows in a table.
#  2. hostile lines in that log: a duration of 1e300 ms (malformed), ST_TileEnvelope(1e300,
#     0, 0) (off-grid), a 2 MB statement (truncated, still a render of 3/1/1), a query that
#     uses a 600 KB parameter 20,000 times (the substitution bounded: truncated, still a
#     render of 3/2/2); a csvlog file with a quote never closed before 1.5 MB of lines and
#     3 records after them (read).
#  3. a 20 MB stderr log (10 chunks of 2 MB) with ties: 80 tiles rendered 3 times each,
#     started at the same ms, with durations 1, 2, 3 ms by users ta, tb, tc in a rotating
#     order. The whole json report is the same with 1, 2 and 3 threads (each thread
#     aggregates its chunks, the parts are merged); its figures are those of the file read
#     whole (gzip: one chunk); the ties follow tq_report's rules (user tc, the 3 ms render
#     the first: 3 ms of duplicate time).
#  4. bad usage exits 2; an unreachable PostgreSQL for --load exits 1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TILEQ=$TQ_BUILD_DIR/cli/tileq
[[ -x $TILEQ ]] || it_fail "$TILEQ not built"
command -v jq >/dev/null || it_fail "jq is needed (apt-get install jq)"
N=300
PREFIX='%t %u %d %a '

# ---- 1. the syslog log -------------------------------------------------------------------
it_psql >"$IT_TMP/sys.log" <<SQL
SELECT line FROM (
  SELECT i, k, format('May  1 10:%s:%s pghost1 postgres[%s]: [%s-%s] %s', lpad((i / 60)::text, 2, '0'),
                      lpad((i % 60)::text, 2, '0'), 1000 + i % 5, seq, part, text) AS line
  FROM (
    SELECT i, 0 AS k, i * 2 AS seq, 1 AS part,
           format('2024-05-01 10:00:00 UTC u%s gis_%s tiler app LOG:  duration: %s.5 ms  statement: '
                  'SELECT ST_AsMVT(q) /* r=%s */ FROM (SELECT ST_AsMVTGeom(geom, ST_TileEnvelope(10, %s, %s)) FROM roads',
                  i % 3, i % 2, i % 40, i, i, (3 * i) % 1024) AS text
    FROM generate_series(0, $N - 1) i WHERE i % 3 <> 0
    UNION ALL
    SELECT i, 1, i * 2, 2, format('#011WHERE geom && ST_TileEnvelope(10, %s, %s)) AS q', i, (3 * i) % 1024)
    FROM generate_series(0, $N - 1) i WHERE i % 3 <> 0
    UNION ALL
    SELECT i, 0, i * 2, 1,
           format('2024-05-01 10:00:00 UTC u%s gis_%s tiler app LOG:  duration: %s.25 ms  execute <unnamed>: '
                  'SELECT ST_AsMVT(q) /* r=%s */ FROM (SELECT geom FROM roads WHERE geom && ST_TileEnvelope(\$1, \$2, \$3)) AS q',
                  i % 3, i % 2, i % 40, i)
    FROM generate_series(0, $N - 1) i WHERE i % 3 = 0
    UNION ALL
    SELECT i, 1, i * 2 + 1, 1,
           format('2024-05-01 10:00:00 UTC u%s gis_%s tiler app DETAIL:  parameters: \$1 = ''10'', \$2 = ''%s'', \$3 = ''%s''',
                  i % 3, i % 2, i, (3 * i) % 1024)
    FROM generate_series(0, $N - 1) i WHERE i % 3 = 0
  ) m
  UNION ALL -- hostile lines, from backend 2000 (after the renders)
  SELECT 100000 + j, 0, format('May  1 11:00:00 pghost1 postgres[2000]: [%s-1] 2024-05-01 11:00:00 UTC u0 gis_0 tiler app %s',
                               j, text)
  FROM (VALUES
    (1, 'LOG:  duration: 1e300 ms  statement: SELECT ST_TileEnvelope(1, 0, 0)'),
    (2, 'LOG:  duration: 1 ms  statement: SELECT ST_TileEnvelope(1e300, 0, 0)'),
    (3, 'LOG:  duration: 2 ms  statement: SELECT ST_AsMVT(q) FROM (SELECT ST_TileEnvelope(3, 1, 1) FROM roads WHERE id IN ('
        || repeat('1234567,', 262144) || '0)) q'),
    (4, 'LOG:  duration: 3 ms  execute S_1: SELECT ST_TileEnvelope(\$1, 2, 2) FROM roads WHERE a IN ('
        || repeat('\$2, ', 20000) || '0)'),
    (5, 'DETAIL:  parameters: \$1 = ''3'', \$2 = ''' || repeat('x', 600000) || ''''),
    (6, 'LOG:  statement: SELECT 1')
  ) AS h(j, text)
) l ORDER BY i, k;
SQL
lines=$(wc -l <"$IT_TMP/sys.log")
echo "syslog log: $lines lines, $(wc -c <"$IT_TMP/sys.log") bytes"

# Every format with --prefix, then without it: the CARTO prefix is guessed (two words that
# can be names after the time and its zone: user, database).
for MODE in --prefix guessed; do
    PFX=()
    [[ $MODE == --prefix ]] && PFX=(--prefix "$PREFIX")
    echo "-- $MODE"
    report() { "$TILEQ" report --pglog "${PFX[@]}" "$@"; }

    report --format json --top 1000 "$IT_TMP/sys.log" >"$IT_TMP/r.json"
    j() { jq -r "$1" "$IT_TMP/r.json"; }
    it_check "$MODE: json: renders (300 + the 2 long ones)" $((N + 2)) "$(j .summary.renders)"
    it_check "$MODE: json: every line read" "$lines" "$(j .input.lines)"
    it_check "$MODE: json: 1e300 ms duration is malformed" 1 "$(j .input.malformed)"
    it_check "$MODE: json: ST_TileEnvelope(1e300, 0, 0) is off-grid" 1 "$(j .input.off_grid)"
    it_check "$MODE: json: the 2 MB statement and the parameter bomb are truncated, not dropped" true \
        "$(j '.input.truncated >= 2')"
    it_check "$MODE: json: 3/1/1 (the 2 MB statement) rendered" 1 \
        "$(j '[.top_tiles[] | select(.z == 3 and .x == 1 and .y == 1) | .renders] | add')"
    it_check "$MODE: json: 3/2/2 (the parameter bomb) rendered" 1 \
        "$(j '[.top_tiles[] | select(.z == 3 and .x == 2 and .y == 2) | .renders] | add')"
    it_check "$MODE: json: every z10 tile once" "$N 1" \
        "$(j '[.top_tiles[] | select(.z == 10)] | "\(length) \([.[].renders] | max)"')"
    it_check "$MODE: json: database and user of every render" 0 \
        "$(j '[.top_tiles[] | select(.z == 10) | select(.database != "gis_\(.x % 2)" or .user != "u\(.x % 3)")] | length')"

    # text: the top tile lines end with "/ DATABASE USER TABLES"
    report --top 1000 "$IT_TMP/sys.log" >"$IT_TMP/r.txt"
    # (each twice: in the top tiles and in the top metatiles)
    it_check "$MODE: text: 10/5/15 by u2 in gis_1" 2 "$(grep -cE ' 10/5/15 .* / gis_1 u2 roads$' "$IT_TMP/r.txt")"
    it_check "$MODE: text: 10/6/18 by u0 in gis_0" 2 "$(grep -cE ' 10/6/18 .* / gis_0 u0 roads$' "$IT_TMP/r.txt")"
    # csv: tileset,z,x,y,...,database,user,tables
    report --top 1000 --format csv "$IT_TMP/sys.log" >"$IT_TMP/r.csv"
    it_check "$MODE: csv: database and user of every z10 tile" 0 \
        "$(awk -F, 'NR > 1 && $2 == 10 && ($(NF-2) != "gis_" ($3 % 2) || $(NF-1) != "u" ($3 % 3))' "$IT_TMP/r.csv" | wc -l)"
    it_check "$MODE: csv: one row per tile" $((N + 2)) "$(($(wc -l <"$IT_TMP/r.csv") - 1))"
    report --top 1000 --format html "$IT_TMP/sys.log" >"$IT_TMP/r.html"
    it_check "$MODE: html: 10/7/21 by u1 in gis_1" 1 \
        "$(grep -c '<td>10/7/21</td>.*<td>gis_1</td><td>u1</td><td>roads</td>' "$IT_TMP/r.html" || true)"

    # renders: one CSV row per render, loaded with psql's \copy to check it
    report --format renders "$IT_TMP/sys.log" >"$IT_TMP/renders.csv"
    it_check "$MODE: renders: the header" "host,database,user,tables,timestamp,duration_ms,bbox,z,x,y,metatile,query" \
        "$(head -n 1 "$IT_TMP/renders.csv")"
    COLS='host text, database text, "user" text, tables text, started timestamptz, duration_ms double precision,
          bbox text, z integer, x bigint, y bigint, metatile integer, query text'
    it_psql -c "DROP TABLE IF EXISTS pglog_csv, pglog_loaded" -c "CREATE TABLE pglog_csv ($COLS)" \
        -c "\\copy pglog_csv FROM '$IT_TMP/renders.csv' (FORMAT csv, HEADER)"
    it_check "$MODE: renders: one row per render" $((N + 2)) "$(it_psql -c 'SELECT count(*) FROM pglog_csv')"
    CHECK_SQL="SELECT count(*) FROM TABLE_NAME WHERE z = 10 AND NOT (
                 database = 'gis_' || (substring(query FROM 'r=([0-9]+)')::int % 2)
                 AND \"user\" = 'u' || (substring(query FROM 'r=([0-9]+)')::int % 3)
                 AND x = substring(query FROM 'r=([0-9]+)')::int AND metatile = 1
                 AND host = 'pghost1' AND tables = 'roads'
                 AND abs(ST_XMin(bbox::box2d) - ST_XMin(ST_TileEnvelope(z, x::int, y::int))) < 1e-3
                 AND abs(ST_YMin(bbox::box2d) - ST_YMin(ST_TileEnvelope(z, x::int, y::int))) < 1e-3
                 AND abs(ST_XMax(bbox::box2d) - ST_XMax(ST_TileEnvelope(z, x::int, y::int))) < 1e-3
                 AND abs(ST_YMax(bbox::box2d) - ST_YMax(ST_TileEnvelope(z, x::int, y::int))) < 1e-3)"
    it_check "$MODE: renders: host, database, user, tile, bbox of every render" 0 \
        "$(it_psql -c "${CHECK_SQL//TABLE_NAME/pglog_csv}")"
    it_check "$MODE: renders: the execute's parameters are substituted in its query" 100 \
        "$(it_psql -c "SELECT count(*) FROM pglog_csv WHERE query ~ 'FROM roads WHERE geom && ST_TileEnvelope\(10, [0-9]+, [0-9]+\)\) AS q$'")"

    # --load: the same rows in a table created by tileq, in batches
    report --load "$TQ_TEST_PG_CONNINFO" --table pglog_loaded "$IT_TMP/sys.log" 2>"$IT_TMP/load.err"
    cat "$IT_TMP/load.err"
    it_check "$MODE: --load: rows" $((N + 2)) "$(it_psql -c 'SELECT count(*) FROM pglog_loaded')"
    it_check "$MODE: --load: the same rows as --format renders" "0 0" \
        "$(it_psql -c "SELECT (SELECT count(*) FROM (TABLE pglog_csv EXCEPT ALL TABLE pglog_loaded) a),
                              (SELECT count(*) FROM (TABLE pglog_loaded EXCEPT ALL TABLE pglog_csv) b)" | tr '|' ' ')"
    it_check "$MODE: --load: host, database, user, tile, bbox of every render" 0 \
        "$(it_psql -c "${CHECK_SQL//TABLE_NAME/pglog_loaded}")"
    report --load "$TQ_TEST_PG_CONNINFO" --table pglog_loaded "$IT_TMP/sys.log" 2>/dev/null
    it_check "$MODE: --load again: appended to the existing table" $((2 * (N + 2))) \
        "$(it_psql -c 'SELECT count(*) FROM pglog_loaded')"
    it_psql -c "DROP TABLE pglog_csv, pglog_loaded"
done

# ---- 2. a csvlog quote never closed ------------------------------------------------------
it_psql >"$IT_TMP/bad.csv" <<'SQL'
WITH rec(r) AS (SELECT '2024-05-01 10:00:00.000 UTC,"u","gis",7,"h:1",a.1,1,"SELECT",'
                       '2024-05-01 10:00:00 UTC,1/1,0,LOG,00000,"duration: 1.5 ms  statement: '
                       'SELECT ST_TileEnvelope(2, 1, 1) FROM pts",,,,,,,,,"psql"')
SELECT r FROM rec
UNION ALL SELECT '2024-05-01 10:00:00.000 UTC,"u","gis",7,"h:1",a.1,1,"SELECT",2024-05-01 '
                 '10:00:00 UTC,1/1,0,LOG,00000,"duration: 1 ms  statement: SELECT ''never closed'
UNION ALL SELECT 'filler filler filler filler filler filler' FROM generate_series(1, 40000)
UNION ALL SELECT r FROM rec, generate_series(1, 3);
SQL
for t in 1 2; do
    "$TILEQ" report --pglog --threads $t --format json "$IT_TMP/bad.csv" >"$IT_TMP/bad.json"
    it_check "csvlog, open quote, $t thread(s): the records after the limit are read" 4 \
        "$(jq -r .summary.renders "$IT_TMP/bad.json")"
    it_check "csvlog, open quote, $t thread(s): one malformed record" 1 \
        "$(jq -r .input.malformed "$IT_TMP/bad.json")"
done

# ---- 3. threads: a 20 MB stderr log in chunks ----------------------------------------------
it_psql >"$IT_TMP/big.log" <<'SQL'
SELECT CASE WHEN i % 1000 = 500 THEN
  (SELECT string_agg(format('2024-05-01 10:%s:00.00%s UTC [%s] user=t%s,db=gis LOG:  duration: %s.000 ms  '
                            'statement: SELECT ST_AsMVT(q) FROM (SELECT ST_AsMVTGeom(geom, '
                            'ST_TileEnvelope(14, %s, 1)) FROM roads) AS q',
                            lpad((i / 2000 % 60)::text, 2, '0'), d, 4000 + k, chr(97 + (k + i / 1000) % 3),
                            d, i / 1000), E'\n' ORDER BY k)
   FROM (VALUES (0, 1), (1, 3), (2, 2)) v(k, d))
WHEN i % 2 = 0 THEN
  format(E'2024-05-01 10:%s:00.000 UTC [%s] user=u,db=gis LOG:  duration: %s.5 ms  statement: SELECT ST_AsMVT(q)\n'
         || E'\tFROM (SELECT ST_AsMVTGeom(geom, ST_TileEnvelope(%s, %s, %s)) FROM roads) AS q %s',
         lpad((i / 2000 % 60)::text, 2, '0'), 3000 + i % 11, i % 97, 4 + i % 9, i % 16, (i * 7) % 16,
         repeat(' ', 120))
ELSE
  format(E'2024-05-01 10:%s:00.000 UTC [%s] user=u,db=gis LOG:  execute <unnamed>: SELECT 1 FROM pts '
         || E'WHERE geom && ST_TileEnvelope($1, $2, $3)\n'
         || E'2024-05-01 10:%s:00.000 UTC [%s] user=u,db=gis DETAIL:  parameters: $1 = ''%s'', $2 = ''%s'', $3 = ''%s''\n'
         || E'2024-05-01 10:%s:00.000 UTC [%s] user=u,db=gis LOG:  duration: %s.25 ms',
         lpad((i / 2000 % 60)::text, 2, '0'), 3000 + i % 11, lpad((i / 2000 % 60)::text, 2, '0'),
         3000 + i % 11, 4 + i % 9, i % 16, (i * 3) % 16, lpad((i / 2000 % 60)::text, 2, '0'),
         3000 + i % 11, i % 53)
END
FROM generate_series(0, 80000) i;
SQL
echo "stderr log: $(wc -c <"$IT_TMP/big.log") bytes"
for t in 1 2 3; do
    "$TILEQ" report --pglog --threads $t --format json --top 100000 "$IT_TMP/big.log" >"$IT_TMP/big.$t.json"
done
for t in 2 3; do
    cmp -s "$IT_TMP/big.1.json" "$IT_TMP/big.$t.json" ||
        it_fail "20 MB log: $t threads differ from 1: $(diff "$IT_TMP/big.1.json" "$IT_TMP/big.$t.json" | head -n 6)"
    it_check "20 MB log: the json report of $t threads is that of 1" same same
done
FIGURES='[.summary.renders, .summary.tiles, .summary.duplicates, (.summary.render_seconds * 1000 | round),
          .input.lines, .input.malformed, .input.skipped, .input.entries]'
gzip -c "$IT_TMP/big.log" >"$IT_TMP/big.log.gz"
"$TILEQ" report --pglog --format json "$IT_TMP/big.log.gz" | jq -c "$FIGURES" >"$IT_TMP/big.whole"
cat "$IT_TMP/big.whole"
it_check "20 MB log: in chunks, the figures of the file read whole" "$(cat "$IT_TMP/big.whole")" \
    "$(jq -c "$FIGURES" "$IT_TMP/big.1.json")"
it_check "20 MB log: every render" $((80001 - 80 + 3 * 80)) "$(jq '.summary.renders' "$IT_TMP/big.1.json")"
it_check "20 MB log: 80 tiles rendered 3 times at the same ms, by tc (the greatest user), 3 ms of duplicates" \
    "80 0" "$(jq -r '[.top_tiles[] | select(.z == 14 and .y == 1)] |
    "\(length) \([.[] | select(.renders != 3 or .user != "tc" or .duplicate_ms != 3 or .max_ms != 3)] | length)"' \
        "$IT_TMP/big.1.json")"

# ---- 4. usage ------------------------------------------------------------------------------
set +e
"$TILEQ" report --pglog --prefix '%t %z ' "$IT_TMP/sys.log" >/dev/null 2>"$IT_TMP/u.err"
it_check "--prefix with an unknown escape exits 2" 2 $?
grep -q "unknown escape '%z'" "$IT_TMP/u.err" || it_fail "--prefix: $(cat "$IT_TMP/u.err")"
"$TILEQ" report --format renders >/dev/null 2>&1
it_check "--format renders without --pglog exits 2" 2 $?
"$TILEQ" report --pglog --threads 0 "$IT_TMP/sys.log" >/dev/null 2>&1
it_check "--threads 0 exits 2" 2 $?
"$TILEQ" report --pglog --load "host=127.0.0.1 port=1 connect_timeout=2" "$IT_TMP/sys.log" \
    >/dev/null 2>&1
it_check "--load to an unreachable PostgreSQL exits 1" 1 $?
"$TILEQ" report --pglog --load "$TQ_TEST_PG_CONNINFO" --table 'a.b.c' "$IT_TMP/sys.log" \
    >/dev/null 2>&1
it_check "--load --table a.b.c exits 1" 1 $?
set -e

it_done

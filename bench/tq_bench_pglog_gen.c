/* tq-bench-pglog-gen MB [SEED [MODE]] — writes a PostgreSQL stderr log of about MB megabytes
 * to stdout, shaped like a tile stack's log (bench/pglog.sh reads it with tileq and pgbadger).
 * MODE "hostile": a log crafted against a parser's memory instead (see hostile() below);
 * "hostile-csv": a csvlog whose records leave a quote open before megabytes of lines.
 *
 * log_line_prefix '%m [%p] user=%u,db=%d,app=%a,client=%h ' (pgbadger's --prefix takes it
 * as it is), 12 backends interleaved, and per render one of, in turn:
 *   - "duration: N ms  statement: SELECT ST_AsMVT(...) ST_TileEnvelope(z, x, y) ..." over
 *     several lines (a continuation line per clause, as psql and most tilers send them);
 *   - the extended protocol: "duration: N ms  parse <unnamed>", "bind", "execute <unnamed>:
 *     ... ST_TileEnvelope($1, $2, $3) ..." and its "DETAIL:  parameters: $1 = '12', ...";
 *   - a Mapnik-style "ST_SetSRID('BOX3D(...)'::box3d, 3857)" query of one tile.
 * Between renders: connections, checkpoints and short non-tile statements (about one line in
 * five). Tiles are drawn from a pool so that some are rendered more than once. The last line
 * on stderr: "renders=N lines=L bytes=B". Deterministic for a given SEED. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char COLUMNS[] =
    "osm_id, name, highway, railway, waterway, \"natural\", landuse, amenity, shop, tourism, "
    "leisure, building, \"addr:housenumber\", ref, layer, tunnel, bridge, surface, access, "
    "oneway, service, construction, z_order, way_area";

#define MERC 20037508.342789244

/* Every 4 MB or so, one of: a 3 MB one-line statement; a 4 MB message of 40,000 continuation
 * lines; 300 backends each holding a 64 KB statement that waits for its duration (which
 * never comes); a query using a 512 KB parameter 20,000 times; absurd numbers (1e300 ms,
 * ST_TileEnvelope(1e300, 0, 0)); then 1,000 ordinary renders. */
static uint64_t hostile(uint64_t want)
{
    uint64_t bytes = 0;
    static char big[3u << 20];
    const char *pre = "2024-05-01 10:00:00.000 UTC";
    for (unsigned round = 0; bytes < want; round++) {
        int n = 0;
        switch (round % 5) {
        case 0:
            memset(big, '7', sizeof big - 1);
            big[sizeof big - 1] = '\0';
            n = printf("%s [1] user=a,db=b LOG:  duration: 1 ms  statement: SELECT "
                       "ST_TileEnvelope(5, 1, 1) FROM t WHERE a = %s\n",
                       pre, big);
            break;
        case 1:
            n = printf("%s [2] user=a,db=b LOG:  duration: 1 ms  statement: SELECT "
                       "ST_TileEnvelope(5, 2, 2) FROM t WHERE\n",
                       pre);
            for (int i = 0; i < 40000; i++)
                n += printf("\t a = 'continuation line %08d of one message, about a hundred "
                            "bytes long .....'\n",
                            i);
            break;
        case 2:
            memset(big, 'x', 65536);
            big[65536] = '\0';
            for (int i = 0; i < 300; i++) /* 19 MB held: more than a reader may hold */
                n += printf("%s [%d] user=a,db=b LOG:  execute S_1: SELECT ST_TileEnvelope(5, 3, "
                            "3) FROM t WHERE a = '%s'\n",
                            pre, 10000 + i, big);
            break;
        case 3:
            n = printf("%s [3] user=a,db=b LOG:  duration: 1 ms  execute S_1: SELECT "
                       "ST_TileEnvelope($1, 4, 4) FROM t WHERE a IN (",
                       pre);
            for (int i = 0; i < 20000; i++)
                n += printf("$2, ");
            n += printf("0)\n%s [3] user=a,db=b DETAIL:  parameters: $1 = '5', $2 = '", pre);
            memset(big, 'y', 512u << 10);
            big[512u << 10] = '\0';
            n += printf("%s'\n", big);
            break;
        default:
            n = printf("%s [4] user=a,db=b LOG:  duration: 1e300 ms  statement: SELECT "
                       "ST_TileEnvelope(5, 5, 5)\n"
                       "%s [4] user=a,db=b LOG:  duration: 1 ms  statement: SELECT "
                       "ST_TileEnvelope(1e300, 0, 0)\n",
                       pre, pre);
        }
        for (int i = 0; i < 1000; i++)
            n += printf("%s [5] user=a,db=b LOG:  duration: 2 ms  statement: SELECT "
                        "ST_TileEnvelope(8, %d, %d) FROM roads\n",
                        pre, i % 256, i / 256);
        bytes += (uint64_t)n;
    }
    return bytes;
}

/* Records that open a quote and never close it, before 2 MB of lines, then 1,000 good ones. */
static uint64_t hostile_csv(uint64_t want)
{
    uint64_t bytes = 0;
#define GOOD_CSV                                                                                   \
    "2024-05-01 10:00:00.000 UTC,\"a\",\"b\",7,\"h:1\",a.1,1,\"SELECT\",2024-05-01 10:00:00 "      \
    "UTC,1/1,0,LOG,00000,\"duration: 1.5 ms  statement: SELECT ST_TileEnvelope(8, %d, %d) FROM "   \
    "pts\",,,,,,,,,\"psql\"\n"
    while (bytes < want) {
        int n = printf("2024-05-01 10:00:00.000 UTC,\"a\",\"b\",7,\"h:1\",a.1,1,\"SELECT\","
                       "2024-05-01 10:00:00 UTC,1/1,0,LOG,00000,\"duration: 1 ms  statement: "
                       "SELECT 'never closed\n");
        for (int i = 0; i < 40000; i++)
            n += printf("filler line %08d inside a quote that is never closed ..\n", i);
        for (int i = 0; i < 1000; i++)
            n += printf(GOOD_CSV, i % 256, i / 256);
        bytes += (uint64_t)n;
    }
    return bytes;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tq-bench-pglog-gen MB [SEED]\n");
        return 2;
    }
    uint64_t want = (uint64_t)(strtod(argv[1], NULL) * 1e6);
    if (argc > 2)
        rng_state ^= strtoull(argv[2], NULL, 10) * 0x9E3779B97F4A7C15ull;
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    if (argc > 3 && (strcmp(argv[3], "hostile") == 0 || strcmp(argv[3], "hostile-csv") == 0)) {
        uint64_t b = strcmp(argv[3], "hostile") == 0 ? hostile(want) : hostile_csv(want);
        fflush(stdout);
        fprintf(stderr, "bytes=%" PRIu64 "\n", b);
        return ferror(stdout) ? 1 : 0;
    }

    enum { POOL = 50000 };
    static int pz[POOL];
    static uint32_t px[POOL], py[POOL];
    for (int i = 0; i < POOL; i++) {
        pz[i] = 8 + (int)(rng() % 9); /* z8..z16 */
        uint32_t n = 1u << pz[i];
        px[i] = (uint32_t)(rng() % n);
        py[i] = (uint32_t)(rng() % n);
    }
    static const char *const tables[] = {"planet_osm_line", "planet_osm_polygon",
                                         "planet_osm_point", "planet_osm_roads"};
    uint64_t bytes = 0, lines = 0, renders = 0;
    int64_t t = 1714557600000; /* 2024-05-01 10:00:00 UTC */
    char ts[64], pre[160];
    for (uint64_t i = 0; bytes < want; i++) {
        t += (int64_t)(rng() % 40);
        time_t sec = (time_t)(t / 1000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        size_t tl = strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(ts + tl, sizeof ts - tl, ".%03d UTC", (int)(t % 1000));
        int pid = 4000 + (int)(rng() % 12);
        snprintf(pre, sizeof pre, "%s [%d] user=osm,db=gis,app=tiler,client=10.0.0.%d ", ts, pid,
                 pid % 250);
        int n = 0;
        uint64_t r = rng();
        if (r % 5 == 0) { /* noise */
            switch ((r >> 8) % 3) {
            case 0:
                n = printf("%sLOG:  connection authorized: user=osm database=gis "
                           "application_name=tiler\n",
                           pre);
                lines++;
                break;
            case 1:
                n = printf("%sLOG:  duration: 0.%03d ms  statement: SELECT 1\n", pre,
                           (int)(r % 1000));
                lines++;
                break;
            default:
                n = printf("%sLOG:  checkpoint complete: wrote %d buffers (0.1%%); 0 WAL "
                           "file(s) added, 0 removed, 1 recycled; write=2.01 s, sync=0.002 "
                           "s, total=2.03 s\n",
                           pre, (int)(r % 5000));
                lines++;
            }
            bytes += (uint64_t)n;
            continue;
        }
        size_t k = (size_t)((r >> 16) % POOL);
        /* a few hot tiles: every 4th render picks from the first 500 */
        if ((r >> 40) % 4 == 0)
            k %= 500;
        int z = pz[k];
        uint32_t x = px[k], y = py[k];
        const char *tab = tables[(r >> 48) % 4];
        double ms = (double)(r % 400000) / 1000.0 + 1.0;
        switch (renders % 3) {
        case 0:
            n = printf("%sLOG:  duration: %.3f ms  statement: SELECT ST_AsMVT(q, '%s', 4096, "
                       "'geom') FROM (\n"
                       "\t  SELECT %s,\n"
                       "\t    ST_AsMVTGeom(way, ST_TileEnvelope(%d, %u, %u), 4096, 64, true) AS "
                       "geom\n"
                       "\t  FROM %s\n"
                       "\t  WHERE way && ST_TileEnvelope(%d, %u, %u, margin => (64.0 / 4096))\n"
                       "\t    AND (highway IS NOT NULL OR railway IS NOT NULL OR building IS "
                       "NOT NULL OR landuse IS NOT NULL)\n"
                       "\t  ORDER BY z_order, way_area DESC\n"
                       "\t) AS q WHERE geom IS NOT NULL\n",
                       pre, ms, tab, COLUMNS, z, x, y, tab, z, x, y);
            lines += 8;
            break;
        case 1:
            n = printf("%sLOG:  duration: 0.%03d ms  parse <unnamed>: SELECT ST_AsMVT(q, '%s', "
                       "4096, 'geom') FROM (SELECT %s, ST_AsMVTGeom(way, ST_TileEnvelope($1, "
                       "$2, $3), 4096, 64, true) AS geom FROM %s WHERE way && "
                       "ST_TileEnvelope($1, $2, $3, margin => (64.0 / 4096))) AS q\n",
                       pre, (int)(r % 1000), tab, COLUMNS, tab);
            n += printf("%sLOG:  duration: 0.%03d ms  bind <unnamed>: SELECT ST_AsMVT(q, '%s', "
                        "4096, 'geom') FROM (SELECT %s, ST_AsMVTGeom(way, ST_TileEnvelope($1, "
                        "$2, $3), 4096, 64, true) AS geom FROM %s WHERE way && "
                        "ST_TileEnvelope($1, $2, $3, margin => (64.0 / 4096))) AS q\n",
                        pre, (int)((r >> 10) % 1000), tab, COLUMNS, tab);
            n += printf("%sDETAIL:  parameters: $1 = '%d', $2 = '%u', $3 = '%u'\n", pre, z, x, y);
            n += printf("%sLOG:  duration: %.3f ms  execute <unnamed>: SELECT ST_AsMVT(q, '%s', "
                        "4096, 'geom') FROM (SELECT %s, ST_AsMVTGeom(way, ST_TileEnvelope($1, "
                        "$2, $3), 4096, 64, true) AS geom FROM %s WHERE way && "
                        "ST_TileEnvelope($1, $2, $3, margin => (64.0 / 4096))) AS q\n",
                        pre, ms, tab, COLUMNS, tab);
            n += printf("%sDETAIL:  parameters: $1 = '%d', $2 = '%u', $3 = '%u'\n", pre, z, x, y);
            lines += 5;
            break;
        default: {
            double T = 2 * MERC / (double)(1u << z);
            double x0 = -MERC + x * T, y1 = MERC - y * T;
            n = printf("%sLOG:  duration: %.3f ms  statement: SELECT ST_AsBinary(\"way\") AS "
                       "geom, %s FROM (SELECT way, %s FROM %s WHERE highway IS NOT NULL) AS "
                       "data WHERE \"way\" && ST_SetSRID('BOX3D(%.10f %.10f,%.10f %.10f)'::"
                       "box3d, 3857)\n",
                       pre, ms, COLUMNS, COLUMNS, tab, x0, y1 - T, x0 + T, y1);
            lines += 1;
        }
        }
        renders++;
        bytes += (uint64_t)n;
    }
    fflush(stdout);
    fprintf(stderr, "renders=%" PRIu64 " lines=%" PRIu64 " bytes=%" PRIu64 "\n", renders, lines,
            bytes);
    return ferror(stdout) ? 1 : 0;
}

/* tq-bench-sql — runs one SQL statement N times over libpq (binary results, like the
 * worker) and prints "median_ms=… min_ms=… max_ms=… bytes=…" (bytes: total size of the first
 * row's first column, e.g. a tile). For the benchmarks.
 *
 *   tq-bench-sql CONNINFO N SQL [SKIP]
 *
 * Each run is timed from sending the query to having the whole result (client side). SKIP
 * runs (default 0) go first on the same connection, untimed: a warm connection, like the
 * worker's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "tq_time.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int rc = 1;
    double *ms = NULL;
    long bytes = -1;

    if ((argc != 4 && argc != 5) || atoi(argv[2]) < 1 || (argc == 5 && atoi(argv[4]) < 0)) {
        fprintf(stderr, "usage: %s CONNINFO N SQL [SKIP]\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[2]), skip = argc == 5 ? atoi(argv[4]) : 0;
    PGconn *pg = PQconnectdb(argv[1]);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(pg));
        goto cleanup;
    }
    ms = calloc((size_t)n, sizeof *ms);
    if (ms == NULL)
        goto cleanup;
    for (int i = -skip; i < n; i++) {
        double t0 = tq_mono_ms();
        PGresult *res = PQexecParams(pg, argv[3], 0, NULL, NULL, NULL, NULL, 1);
        if (i >= 0)
            ms[i] = tq_mono_ms() - t0;
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "query: %s", PQerrorMessage(pg));
            PQclear(res);
            goto cleanup;
        }
        if (PQntuples(res) > 0 && PQnfields(res) > 0)
            bytes = PQgetlength(res, 0, 0);
        PQclear(res);
    }
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
    printf("median_ms=%.3f min_ms=%.3f max_ms=%.3f bytes=%ld\n", median, ms[0], ms[n - 1], bytes);
    rc = 0;
cleanup:
    free(ms);
    PQfinish(pg);
    return rc;
}

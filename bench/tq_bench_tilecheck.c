/* tq-bench-tilecheck — what checking a tile costs on every cache hit (tq_cache_check), next
 * to the rest of the hit (tq_cache_read: open, fstat, read; the check of a file is remembered
 * after its first read, so a hit on a file read before does not check it again). For the
 * benchmarks.
 *
 *   tq-bench-tilecheck N FILE...
 *
 * For each FILE (a tile as the cache holds it): the median over 15 batches of N calls of
 * tq_cache_check on the plain bytes and on their gzip encoding, and of tq_cache_read of the
 * tile written into a temp cache (gzip, as the worker writes it); prints one line per file, ns
 * per call and per KiB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tq_cache.h"
#include "tq_gzip.h"
#include "tq_time.h"

#define BATCHES 15

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile size_t sink; /* keeps the calls from being optimized away */

/* Median ns per call of N calls of tq_cache_check(data, len), or of tq_cache_read when dir. */
static double time_calls(long n, const void *data, size_t len, const char *dir, struct tq_tile t)
{
    double per[BATCHES];
    char err[256];
    for (int b = 0; b < BATCHES; b++) {
        double t0 = (tq_mono_ms() * 1e6);
        for (long i = 0; i < n; i++) {
            if (dir == NULL) {
                sink += tq_cache_check(data, len) == NULL;
            } else {
                char *got = NULL;
                size_t glen = 0;
                sink += (size_t)tq_cache_read(dir, "b", t, &got, &glen, err, sizeof err);
                free(got);
            }
        }
        per[b] = ((tq_mono_ms() * 1e6) - t0) / (double)n;
    }
    qsort(per, BATCHES, sizeof per[0], cmp_double);
    return per[BATCHES / 2];
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    } else {
        *len = (size_t)n;
    }
    if (f)
        fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/tq-bench-tilecheck-XXXXXX", err[256];
    struct tq_tile t = {0, 0, 0};
    int rc = 1;

    if (argc < 3 || atol(argv[1]) < 1) {
        fprintf(stderr, "usage: %s N FILE...\n", argv[0]);
        return 2;
    }
    long n = atol(argv[1]);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    tq_cache_set_fsync(0);
    printf("%-40s %9s %12s %9s %12s %12s\n", "tile", "bytes", "check ns", "ns/KiB", "gzip check",
           "read (hit)");
    for (int i = 2; i < argc; i++) {
        size_t len, gzlen;
        unsigned char *data = slurp(argv[i], &len), *gz = NULL;
        if (data == NULL || tq_cache_check(data, len) != NULL) {
            fprintf(stderr, "%s: not readable, or not a whole tile\n", argv[i]);
            free(data);
            goto cleanup;
        }
        if (tq_gzip_compress(data, len, &gz, &gzlen) != 0 ||
            tq_cache_write(dir, "b", t, data, len, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], gz ? err : "gzip failed");
            free(data);
            free(gz);
            goto cleanup;
        }
        double check = time_calls(n, data, len, NULL, t);
        double gzcheck = time_calls(n, gz, gzlen, NULL, t);
        double read = time_calls(n, NULL, 0, dir, t);
        const char *base = strrchr(argv[i], '/');
        printf("%-40s %9zu %12.0f %9.1f %12.0f %12.0f\n", base ? base + 1 : argv[i], len, check,
               check / ((double)len / 1024.0), gzcheck, read);
        free(data);
        free(gz);
    }
    rc = 0;
cleanup:
    tq_cache_remove(dir, "b", t);
    char sub[sizeof dir + 16];
    snprintf(sub, sizeof sub, "%s/b/0/0", dir);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/b/0", dir);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/b", dir);
    rmdir(sub);
    rmdir(dir);
    return rc;
}

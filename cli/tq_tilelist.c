/* tq_tilelist — see tq_tilelist.h. */
#include "tq_tilelist.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_u32(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return -1;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > 0xffffffffULL)
            return -1;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

int tq_tilelist_parse_line(const char *line, struct tq_tile *t, char *err, size_t errsize)
{
    const char *p = line;
    uint64_t v[3];

    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '\n' || *p == '\r' || *p == '#')
        return 0;
    const char *start = p;
    for (int i = 0; i < 3; i++) {
        if (parse_u32(&p, &v[i]) != 0 || (i < 2 && *p++ != '/'))
            goto bad;
    }
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p != '\0')
        goto bad;
    if (v[0] > TQ_TILE_MAX_ZOOM) {
        snprintf(err, errsize, "zoom %llu above %d", (unsigned long long)v[0], TQ_TILE_MAX_ZOOM);
        return -1;
    }
    if (tq_tile_valid((int)v[0], (int64_t)v[1], (int64_t)v[2]) != 0) {
        snprintf(err, errsize, "tile %llu/%llu/%llu outside the grid (x and y below %u at zoom %d)",
                 (unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2],
                 tq_tile_grid_size((int)v[0]), (int)v[0]);
        return -1;
    }
    t->z = (int)v[0];
    t->x = (uint32_t)v[1];
    t->y = (uint32_t)v[2];
    return 1;
bad : {
    size_t n = strcspn(start, "\r\n");
    snprintf(err, errsize, "'%.*s' is not a tile (z/x/y expected)", n > 60 ? 60 : (int)n, start);
    return -1;
}
}

static int tile_cmp(const void *a, const void *b)
{
    const struct tq_tile *x = a, *y = b;
    if (x->z != y->z)
        return x->z < y->z ? -1 : 1;
    if (x->y != y->y)
        return x->y < y->y ? -1 : 1;
    if (x->x != y->x)
        return x->x < y->x ? -1 : 1;
    return 0;
}

long tq_tilelist_read(FILE *f, const char *name, struct tq_tile **tiles, char *err, size_t errsize)
{
    char *line = NULL, why[256];
    size_t cap = 0, n = 0, alloc = 0;
    long lineno = 0, rc = -1;
    struct tq_tile *arr = NULL, t;

    *tiles = NULL;
    errno = 0;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        int r = tq_tilelist_parse_line(line, &t, why, sizeof why);
        if (r < 0) {
            snprintf(err, errsize, "%s:%ld: %s", name, lineno, why);
            goto cleanup;
        }
        if (r == 0)
            continue;
        if (n == alloc) {
            size_t na = alloc ? alloc * 2 : 256;
            struct tq_tile *p = realloc(arr, na * sizeof *arr);
            if (p == NULL) {
                snprintf(err, errsize, "%s:%ld: out of memory", name, lineno);
                goto cleanup;
            }
            arr = p;
            alloc = na;
        }
        arr[n++] = t;
    }
    if (ferror(f)) {
        snprintf(err, errsize, "%s:%ld: read error: %s", name, lineno + 1,
                 strerror(errno ? errno : EIO));
        goto cleanup;
    }
    /* Sorted (zoom, row, column) and without duplicates. */
    if (n > 1) {
        qsort(arr, n, sizeof *arr, tile_cmp);
        size_t w = 1;
        for (size_t i = 1; i < n; i++)
            if (tile_cmp(&arr[i], &arr[w - 1]) != 0)
                arr[w++] = arr[i];
        n = w;
    }
    *tiles = arr;
    arr = NULL;
    rc = (long)n;
cleanup:
    free(arr);
    free(line);
    return rc;
}

long tq_tilelist_load(const char *path, struct tq_tile **tiles, char *err, size_t errsize)
{
    if (strcmp(path, "-") == 0)
        return tq_tilelist_read(stdin, "<stdin>", tiles, err, errsize);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        *tiles = NULL;
        snprintf(err, errsize, "cannot open tile list %s: %s", path, strerror(errno));
        return -1;
    }
    long n = tq_tilelist_read(f, path, tiles, err, errsize);
    fclose(f);
    return n;
}

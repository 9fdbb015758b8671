/* tq_cache_scan — see tq_cache_scan.h. */
#include "tq_cache_scan.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_cache.h"

/* A decimal number < 2^32 at the start of s, ending at '\0' or at a '.' followed by an
 * extension without another '.' (a tile file, not ".tmp.host.pid.rand"). 0 or -1. */
static int parse_name(const char *s, int want_ext, uint32_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return -1;
        p++;
    }
    if (want_ext) {
        if (strcmp(p, ".mvt") != 0 && strcmp(p, ".empty") != 0 && strcmp(p, ".mvt.gz") != 0)
            return -1;
    } else if (*p != '\0') {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* The directory of zoom z: tq_cache_path of tile z/0/0 without its last two components. */
static int zoom_dir(const char *cache_dir, const char *tileset, int z, char *buf, size_t bufsize)
{
    struct tq_tile t = {z, 0, 0};
    if (tq_cache_path(cache_dir, tileset, t, buf, bufsize) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(buf, '/');
        if (slash == NULL)
            return -1;
        *slash = '\0';
    }
    return 0;
}

int tq_cache_scan_range(const char *cache_dir, const char *tileset, const struct tq_tile_range *r,
                        tq_cache_scan_fn fn, void *arg, char *err, size_t errsize)
{
    char zdir[4096], xdir[4096 + 16];
    DIR *zd = NULL, *xd = NULL;
    struct dirent *ze, *xe;
    int rc = -1;

    if (zoom_dir(cache_dir, tileset, r->z, zdir, sizeof zdir) != 0) {
        snprintf(err, errsize, "cache path too long");
        goto cleanup;
    }
    zd = opendir(zdir);
    if (zd == NULL) {
        if (errno == ENOENT || errno == ENOTDIR) {
            rc = 0;
        } else {
            snprintf(err, errsize, "cannot read %s: %s", zdir, strerror(errno));
        }
        goto cleanup;
    }
    while ((ze = readdir(zd)) != NULL) {
        uint32_t x, y, prev_y = UINT32_MAX;
        int have_prev = 0;
        if (parse_name(ze->d_name, 0, &x) != 0 || x < r->xmin || x > r->xmax)
            continue;
        if ((size_t)snprintf(xdir, sizeof xdir, "%s/%u", zdir, x) >= sizeof xdir)
            continue; /* cannot happen: zdir fits in 4096 bytes, x in 10 digits */
        xd = opendir(xdir);
        if (xd == NULL) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue; /* removed meanwhile, or not a directory */
            snprintf(err, errsize, "cannot read %s: %s", xdir, strerror(errno));
            goto cleanup;
        }
        while ((xe = readdir(xd)) != NULL) {
            if (parse_name(xe->d_name, 1, &y) != 0 || y < r->ymin || y > r->ymax)
                continue;
            /* y.mvt and y.empty of one tile (a write replacing one form by the other) are
             * usually listed apart; the callback may see a tile twice then, which removal
             * tolerates. Adjacent duplicates are dropped here. */
            if (have_prev && y == prev_y)
                continue;
            prev_y = y;
            have_prev = 1;
            struct tq_tile t = {r->z, x, y};
            int frc = fn(t, arg);
            if (frc != 0) {
                rc = frc;
                goto cleanup;
            }
        }
        closedir(xd);
        xd = NULL;
    }
    rc = 0;
cleanup:
    if (xd)
        closedir(xd);
    if (zd)
        closedir(zd);
    return rc;
}

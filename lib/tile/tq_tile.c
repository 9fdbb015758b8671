/* tq_tile — see tq_tile.h. */
#include "tq_tile.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

int tq_tile_valid(int z, int64_t x, int64_t y)
{
    if (z < 0 || z > TQ_TILE_MAX_ZOOM)
        return -1;
    int64_t n = (int64_t)1 << z;
    if (x < 0 || y < 0 || x >= n || y >= n)
        return -1;
    return 0;
}

uint32_t tq_tile_grid_size(int z)
{
    if (z < 0)
        z = 0;
    if (z > TQ_TILE_MAX_ZOOM)
        z = TQ_TILE_MAX_ZOOM;
    return (uint32_t)1 << z;
}

/* Same arithmetic as PostGIS ST_TileEnvelope (default bounds, margin 0), so the bounds are
 * bit-identical to what the database computes:
 *   size = (bounds.xmax - bounds.xmin) / 2^z
 *   xmin = bounds.xmin + size * x,  xmax = bounds.xmin + size * (x + 1)
 *   ymin = bounds.ymax - size * (y + 1),  ymax = bounds.ymax - size * y */
static struct tq_bbox corners_bounds(int z, uint32_t x0, uint32_t y0, uint32_t x1, uint32_t y1)
{
    const double bmin = -TQ_MERC_MAX, bmax = TQ_MERC_MAX;
    double n = (double)tq_tile_grid_size(z);
    double sx = (bmax - bmin) / n;
    double sy = (bmax - bmin) / n;
    struct tq_bbox b;
    b.xmin = bmin + sx * (double)x0;
    b.xmax = bmin + sx * ((double)x1 + 1.0);
    b.ymin = bmax - sy * ((double)y1 + 1.0);
    b.ymax = bmax - sy * (double)y0;
    return b;
}

struct tq_bbox tq_tile_bounds(struct tq_tile t)
{
    return corners_bounds(t.z, t.x, t.y, t.x, t.y);
}

/* The clamped metatile start and width along one axis. */
static void axis_clamp(uint32_t v, uint32_t size, uint32_t n, uint32_t *start, uint32_t *width)
{
    if (size >= n) {
        *start = 0;
        *width = n;
        return;
    }
    *start = v - v % size;
    *width = (n - *start < size) ? n - *start : size;
}

struct tq_metatile tq_tile_metatile(struct tq_tile t, uint32_t size)
{
    struct tq_metatile m;
    uint32_t n = tq_tile_grid_size(t.z);
    if (size == 0)
        size = 1;
    m.z = t.z;
    axis_clamp(t.x, size, n, &m.mx, &m.w);
    axis_clamp(t.y, size, n, &m.my, &m.h);
    return m;
}

struct tq_bbox tq_metatile_bounds(const struct tq_metatile *m)
{
    uint32_t w = m->w ? m->w : 1, h = m->h ? m->h : 1;
    return corners_bounds(m->z, m->mx, m->my, m->mx + w - 1, m->my + h - 1);
}

uint32_t tq_metatile_count(const struct tq_metatile *m)
{
    return m->w * m->h;
}

struct tq_tile tq_metatile_tile(const struct tq_metatile *m, uint32_t i)
{
    struct tq_tile t;
    uint32_t w = m->w ? m->w : 1;
    t.z = m->z;
    t.x = m->mx + i % w;
    t.y = m->my + i / w;
    return t;
}

int tq_metatile_contains(const struct tq_metatile *m, struct tq_tile t)
{
    return t.z == m->z && t.x >= m->mx && t.x - m->mx < m->w && t.y >= m->my && t.y - m->my < m->h;
}

static uint32_t clamp_index(double v, uint32_t n)
{
    if (!(v >= 0.0)) /* also NaN */
        return 0;
    if (v >= (double)n)
        return n - 1;
    return (uint32_t)v;
}

static double lon_to_tilex(double lon, double n)
{
    return (lon + 180.0) / 360.0 * n;
}

static double lat_to_tiley(double lat, double n)
{
    double r = lat * M_PI / 180.0;
    return (1.0 - log(tan(r) + 1.0 / cos(r)) / M_PI) / 2.0 * n;
}

int tq_tile_range_from_lonlat(double west, double south, double east, double north, int z,
                              struct tq_tile_range *out)
{
    if (z < 0 || z > TQ_TILE_MAX_ZOOM)
        return -1;
    if (isnan(west) || isnan(south) || isnan(east) || isnan(north))
        return -1;
    if (west < -180.0 || east > 180.0 || west > east)
        return -1;
    if (south < -90.0 || north > 90.0 || south > north)
        return -1;
    if (south < -TQ_LAT_MAX)
        south = -TQ_LAT_MAX;
    if (south > TQ_LAT_MAX)
        south = TQ_LAT_MAX;
    if (north > TQ_LAT_MAX)
        north = TQ_LAT_MAX;
    if (north < -TQ_LAT_MAX)
        north = -TQ_LAT_MAX;

    uint32_t n = tq_tile_grid_size(z);
    double nd = (double)n;
    out->z = z;
    out->xmin = clamp_index(floor(lon_to_tilex(west, nd)), n);
    out->xmax = clamp_index(floor(lon_to_tilex(east, nd)), n); /* east == 180 -> last column */
    out->ymin = clamp_index(floor(lat_to_tiley(north, nd)), n);
    out->ymax = clamp_index(floor(lat_to_tiley(south, nd)), n);
    if (out->ymin > out->ymax) { /* cannot happen after clamping, but stay a valid range */
        uint32_t tmp = out->ymin;
        out->ymin = out->ymax;
        out->ymax = tmp;
    }
    return 0;
}

/* Parses one unsigned decimal component ending at stop (or at the string's end when stop is
 * '\0'). Advances *s past it. 0 or -1 (empty, non-digit, > 2^32-1). */
static int parse_component(const char **s, char stop, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return -1;
        p++;
        digits++;
    }
    if (digits == 0 || *p != stop)
        return -1;
    *s = stop ? p + 1 : p;
    *out = v;
    return 0;
}

int tq_tile_parse(const char *s, struct tq_tile *t)
{
    uint64_t z, x, y;
    if (s == NULL)
        return -1;
    if (parse_component(&s, '/', &z) != 0 || parse_component(&s, '/', &x) != 0 ||
        parse_component(&s, '\0', &y) != 0)
        return -1;
    if (z > TQ_TILE_MAX_ZOOM || tq_tile_valid((int)z, (int64_t)x, (int64_t)y) != 0)
        return -1;
    t->z = (int)z;
    t->x = (uint32_t)x;
    t->y = (uint32_t)y;
    return 0;
}

/* One zoom of a range: 1 or 2 digits, at most TQ_TILE_MAX_ZOOM. */
static int parse_zoom(const char *s, size_t len, int *out)
{
    int v = 0;
    if (len == 0 || len > 2)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > TQ_TILE_MAX_ZOOM)
        return -1;
    *out = v;
    return 0;
}

int tq_zoom_range_parse(const char *s, int *zmin, int *zmax, char *err, size_t errsize)
{
    const char *dash = s ? strchr(s, '-') : NULL;
    int a, b;

    if (s == NULL)
        goto bad;
    if (dash == NULL) {
        if (parse_zoom(s, strlen(s), &a) != 0)
            goto bad;
        b = a;
    } else if (parse_zoom(s, (size_t)(dash - s), &a) != 0 ||
               parse_zoom(dash + 1, strlen(dash + 1), &b) != 0) {
        goto bad;
    }
    if (a > b) {
        if (err && errsize)
            snprintf(err, errsize, "inverted zoom range '%s': %d is above %d", s, a, b);
        return -1;
    }
    *zmin = a;
    *zmax = b;
    return 0;
bad:
    if (err && errsize)
        snprintf(err, errsize, "bad zoom range '%s': expected A-B or A, zooms 0..%d", s ? s : "",
                 TQ_TILE_MAX_ZOOM);
    return -1;
}

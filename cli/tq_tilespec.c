/* tq_tilespec — see tq_tilespec.h. */
#include "tq_tilespec.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- bbox and zooms ---------------------------------------------------------------- */

static int parse_double(const char *s, size_t len, double *out)
{
    char buf[64], *end;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, &end);
    while (*end == ' ')
        end++;
    if (*end != '\0' || errno != 0 || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int tq_bbox_parse(const char *s, double out[4], char *err, size_t errsize)
{
    static const char *const names[] = {"west", "south", "east", "north"};
    const char *p = s;
    double v[4];

    for (int i = 0; i < 4; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if ((i < 3 && comma == NULL) || (i == 3 && comma != NULL) ||
            parse_double(p, len, &v[i]) != 0) {
            snprintf(err, errsize, "bad bbox '%s': expected W,S,E,N in degrees (4 numbers)", s);
            return -1;
        }
        p = comma ? comma + 1 : p + len;
    }
    for (int i = 0; i < 4; i += 2)
        if (v[i] < -180.0 || v[i] > 180.0) {
            snprintf(err, errsize, "bbox %s longitude %g outside -180..180", names[i], v[i]);
            return -1;
        }
    for (int i = 1; i < 4; i += 2)
        if (v[i] < -TQ_LAT_MAX || v[i] > TQ_LAT_MAX) {
            snprintf(err, errsize,
                     "bbox %s latitude %g beyond ±85.0511 (the limit of Web Mercator tiles)",
                     names[i], v[i]);
            return -1;
        }
    if (v[0] > v[2]) {
        snprintf(err, errsize, "inverted bbox: west %g is east of east %g (W,S,E,N expected)", v[0],
                 v[2]);
        return -1;
    }
    if (v[1] > v[3]) {
        snprintf(err, errsize, "inverted bbox: south %g is north of north %g (W,S,E,N expected)",
                 v[1], v[3]);
        return -1;
    }
    memcpy(out, v, sizeof v);
    return 0;
}

/* ---- tile lists ---------------------------------------------------------------------- */

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

/* ---- expansion and metatiles --------------------------------------------------------- */

struct tq_tile_range tq_tile_range_at_zoom(struct tq_tile t, int z)
{
    struct tq_tile_range r = {.z = z};
    if (z <= t.z) {
        int d = t.z - z;
        r.xmin = r.xmax = t.x >> d;
        r.ymin = r.ymax = t.y >> d;
    } else {
        int d = z - t.z;
        r.xmin = t.x << d;
        r.ymin = t.y << d;
        r.xmax = r.xmin + ((1u << d) - 1);
        r.ymax = r.ymin + ((1u << d) - 1);
    }
    return r;
}

void tq_metatile_iter_init(struct tq_metatile_iter *it, const struct tq_tile_range *r,
                           uint32_t size)
{
    it->r = *r;
    it->size = size ? size : 1;
    it->mx = r->xmin - r->xmin % it->size;
    it->my = r->ymin - r->ymin % it->size;
    it->done = r->xmin > r->xmax || r->ymin > r->ymax;
}

int tq_metatile_iter_next(struct tq_metatile_iter *it, struct tq_metatile *m)
{
    if (it->done)
        return 0;
    struct tq_tile t = {it->r.z, it->mx, it->my};
    *m = tq_tile_metatile(t, it->size);
    /* Next column, else next row (64-bit so the last metatile of z30 does not wrap). */
    uint64_t nx = (uint64_t)m->mx + m->w;
    if (nx <= it->r.xmax) {
        it->mx = (uint32_t)nx;
    } else {
        uint64_t ny = (uint64_t)m->my + m->h;
        if (ny > it->r.ymax) {
            it->done = 1;
        } else {
            it->my = (uint32_t)ny;
            it->mx = it->r.xmin - it->r.xmin % it->size;
        }
    }
    return 1;
}

/* Sum of the clamped metatile widths along one axis meeting [lo, hi]. */
static uint64_t axis_tiles(uint32_t lo, uint32_t hi, uint32_t size, uint32_t grid)
{
    if (size > grid)
        size = grid;
    uint64_t first = lo - lo % size;
    uint64_t last = (uint64_t)hi - hi % size + size;
    if (last > grid)
        last = grid;
    return last - first;
}

uint64_t tq_tile_range_metatile_tiles(const struct tq_tile_range *r, uint32_t size)
{
    if (r->xmin > r->xmax || r->ymin > r->ymax)
        return 0;
    uint32_t grid = tq_tile_grid_size(r->z);
    if (size == 0)
        size = 1;
    return axis_tiles(r->xmin, r->xmax, size, grid) * axis_tiles(r->ymin, r->ymax, size, grid);
}

int tq_tile_range_clip(const struct tq_tile_range *r, const struct tq_metatile *m,
                       struct tq_tile_range *out)
{
    if (r->z != m->z)
        return 0;
    uint32_t mxmax = m->mx + m->w - 1, mymax = m->my + m->h - 1;
    out->z = r->z;
    out->xmin = r->xmin > m->mx ? r->xmin : m->mx;
    out->ymin = r->ymin > m->my ? r->ymin : m->my;
    out->xmax = r->xmax < mxmax ? r->xmax : mxmax;
    out->ymax = r->ymax < mymax ? r->ymax : mymax;
    return out->xmin <= out->xmax && out->ymin <= out->ymax;
}

/* ---- options ------------------------------------------------------------------------- */

enum {
    OPT_TILESET = 256,
    OPT_BBOX,
    OPT_TILES,
    OPT_ZOOM,
    OPT_MINZOOM,
    OPT_MAXZOOM,
    OPT_FORCE,
    OPT_WAIT,
    OPT_RERENDER,
    OPT_MAXQUEUED
};

static const struct option area_options[] = {{"tileset", required_argument, NULL, OPT_TILESET},
                                             {"bbox", required_argument, NULL, OPT_BBOX},
                                             {"tiles", required_argument, NULL, OPT_TILES},
                                             {"zoom", required_argument, NULL, OPT_ZOOM},
                                             {"min-zoom", required_argument, NULL, OPT_MINZOOM},
                                             {"max-zoom", required_argument, NULL, OPT_MAXZOOM},
                                             {"force", no_argument, NULL, OPT_FORCE},
                                             {"wait", no_argument, NULL, OPT_WAIT},
                                             {"rerender", no_argument, NULL, OPT_RERENDER},
                                             {"max-queued", required_argument, NULL, OPT_MAXQUEUED},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

/* Shared option loop; is_warm selects which options apply. */
static int area_parse(int argc, char **argv, int is_warm, struct tq_area_opts *o, char *err,
                      size_t errsize)
{
    char why[256];
    int opt;

    memset(o, 0, sizeof *o);
    o->max_queued = TQ_WARM_DEFAULT_MAX_QUEUED;
    optind = 0; /* GNU getopt: reinitialise (the command may parse twice, tests do) */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", area_options, NULL)) != -1) {
        switch (opt) {
        case OPT_TILESET:
            o->tileset = optarg;
            break;
        case OPT_BBOX:
            if (tq_bbox_parse(optarg, o->bbox, why, sizeof why) != 0) {
                snprintf(err, errsize, "--bbox: %s", why);
                return -1;
            }
            o->has_bbox = 1;
            break;
        case OPT_TILES:
            o->tiles = optarg;
            break;
        case OPT_ZOOM:
            if (tq_zoom_range_parse(optarg, &o->zmin, &o->zmax, why, sizeof why) != 0) {
                snprintf(err, errsize, "--zoom: %s", why);
                return -1;
            }
            o->has_zoom = 1;
            break;
        case OPT_MINZOOM:
        case OPT_MAXZOOM: {
            int a, b;
            if (is_warm)
                goto unknown;
            if (tq_zoom_range_parse(optarg, &a, &b, why, sizeof why) != 0 || a != b) {
                snprintf(err, errsize, "--%s: bad zoom '%s' (0..%d)",
                         opt == OPT_MINZOOM ? "min-zoom" : "max-zoom", optarg, TQ_TILE_MAX_ZOOM);
                return -1;
            }
            if (opt == OPT_MINZOOM) {
                o->has_min_zoom = 1;
                o->min_zoom = a;
            } else {
                o->has_max_zoom = 1;
                o->max_zoom = a;
            }
            break;
        }
        case OPT_FORCE:
        case OPT_WAIT:
        case OPT_MAXQUEUED:
            if (!is_warm)
                goto unknown;
            if (opt == OPT_FORCE) {
                o->force = 1;
            } else if (opt == OPT_WAIT) {
                o->wait = 1;
            } else {
                char *end;
                errno = 0;
                long v = strtol(optarg, &end, 10);
                if (*optarg == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 10000000) {
                    snprintf(err, errsize, "--max-queued: '%s' is not a number in 1..10000000",
                             optarg);
                    return -1;
                }
                o->max_queued = v;
            }
            break;
        case OPT_RERENDER:
            if (is_warm)
                goto unknown;
            o->rerender = 1;
            break;
        case 'h':
            o->help = 1;
            return 0;
        case ':':
            snprintf(err, errsize, "%s needs a value", argv[optind - 1]);
            return -1;
        default:
        unknown:
            snprintf(err, errsize, "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(err, errsize, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (o->tileset == NULL) {
        snprintf(err, errsize, "--tileset NAME is required");
        return -1;
    }
    if (o->has_bbox == (o->tiles != NULL)) {
        snprintf(err, errsize, "give either --bbox W,S,E,N or --tiles FILE (- for stdin)");
        return -1;
    }
    if (is_warm && !o->has_zoom) {
        snprintf(err, errsize, "--zoom A-B is required");
        return -1;
    }
    if (!is_warm && o->has_bbox && !o->has_zoom) {
        snprintf(err, errsize, "--bbox needs --zoom A-B");
        return -1;
    }
    if (!is_warm && o->tiles && o->has_zoom) {
        snprintf(err, errsize, "with --tiles, the zoom range is --min-zoom/--max-zoom");
        return -1;
    }
    if (o->has_min_zoom && o->has_max_zoom && o->min_zoom > o->max_zoom) {
        snprintf(err, errsize, "--min-zoom %d is above --max-zoom %d", o->min_zoom, o->max_zoom);
        return -1;
    }
    return 0;
}

int tq_warm_opts_parse(int argc, char **argv, struct tq_area_opts *o, char *err, size_t errsize)
{
    return area_parse(argc, argv, 1, o, err, errsize);
}

int tq_expire_opts_parse(int argc, char **argv, struct tq_area_opts *o, char *err, size_t errsize)
{
    return area_parse(argc, argv, 0, o, err, errsize);
}

int tq_area_opts_zooms(const struct tq_area_opts *o, const struct tq_tileset_config *ts, int *lo,
                       int *hi, char *err, size_t errsize)
{
    int a = ts->minzoom, b = ts->maxzoom;
    if (o->has_zoom) {
        a = o->zmin;
        b = o->zmax;
    }
    if (o->has_min_zoom)
        a = o->min_zoom;
    if (o->has_max_zoom)
        b = o->max_zoom;
    if (a > b) {
        snprintf(err, errsize, "empty zoom range %d-%d", a, b);
        return -1;
    }
    if (a < ts->minzoom || b > ts->maxzoom) {
        snprintf(err, errsize, "zoom %d outside tileset %s's range %d-%d", a < ts->minzoom ? a : b,
                 ts->name, ts->minzoom, ts->maxzoom);
        return -1;
    }
    *lo = a;
    *hi = b;
    return 0;
}

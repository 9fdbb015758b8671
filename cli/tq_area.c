/* tq_area — see tq_area.h. */
#include "tq_area.h"

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

int tq_area_bbox_parse(const char *s, double out[4], char *err, size_t errsize)
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

/* export's own table: only its options are known to it (an unknown option is named as the
 * user wrote it). */
static const struct option export_options[] = {
    {"tileset", required_argument, NULL, OPT_TILESET},
    {"bbox", required_argument, NULL, OPT_BBOX},
    {"zoom", required_argument, NULL, OPT_ZOOM},
    {"output", required_argument, NULL, 'o'},
    {"max-queued", required_argument, NULL, OPT_MAXQUEUED},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

enum area_command { AREA_WARM, AREA_EXPIRE, AREA_EXPORT };

/* The one option loop of warm, expire and export; cmd selects which options apply. */
static int area_parse(int argc, char **argv, enum area_command cmd, struct tq_area_opts *o,
                      char *err, size_t errsize)
{
    const int is_warm = cmd == AREA_WARM, is_expire = cmd == AREA_EXPIRE,
              is_export = cmd == AREA_EXPORT;
    char why[256];
    int opt;

    memset(o, 0, sizeof *o);
    o->max_queued = TQ_WARM_DEFAULT_MAX_QUEUED;
    if (is_export) { /* the whole world unless --bbox; warming always waits */
        o->wait = 1;
        o->has_bbox = 1;
        o->bbox[0] = -180;
        o->bbox[1] = -TQ_LAT_MAX;
        o->bbox[2] = 180;
        o->bbox[3] = TQ_LAT_MAX;
    }
    optind = 0; /* GNU getopt: reinitialise (the command may parse twice, tests do) */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, is_export ? "+:ho:" : "+:h",
                              is_export ? export_options : area_options, NULL)) != -1) {
        switch (opt) {
        case OPT_TILESET:
            o->tileset = optarg;
            break;
        case OPT_BBOX:
            if (tq_area_bbox_parse(optarg, o->bbox, why, sizeof why) != 0) {
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
            if (!is_warm && !(is_export && opt == OPT_MAXQUEUED))
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
        case 'o': /* only in export's table */
            o->output = optarg;
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
    if (is_export && o->output == NULL) {
        snprintf(err, errsize, "-o FILE.pmtiles|FILE.mbtiles is required");
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
    if (is_expire && o->has_bbox && !o->has_zoom) {
        snprintf(err, errsize, "--bbox needs --zoom A-B");
        return -1;
    }
    if (is_expire && o->tiles && o->has_zoom) {
        snprintf(err, errsize, "with --tiles, the zoom range is --min-zoom/--max-zoom");
        return -1;
    }
    if (o->has_min_zoom && o->has_max_zoom && o->min_zoom > o->max_zoom) {
        snprintf(err, errsize, "--min-zoom %d is above --max-zoom %d", o->min_zoom, o->max_zoom);
        return -1;
    }
    return 0;
}

int tq_area_warm_parse(int argc, char **argv, struct tq_area_opts *o, char *err, size_t errsize)
{
    return area_parse(argc, argv, AREA_WARM, o, err, errsize);
}

int tq_area_expire_parse(int argc, char **argv, struct tq_area_opts *o, char *err, size_t errsize)
{
    return area_parse(argc, argv, AREA_EXPIRE, o, err, errsize);
}

int tq_area_export_parse(int argc, char **argv, struct tq_area_opts *o, char *err, size_t errsize)
{
    return area_parse(argc, argv, AREA_EXPORT, o, err, errsize);
}

int tq_area_zooms(const struct tq_area_opts *o, const struct tq_tileset_config *ts, int *lo,
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

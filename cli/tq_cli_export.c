/* tileq export — one archive file of an area of a tileset: PMTiles v3 or MBTiles 1.3.
 *
 * Two steps:
 *  1. warm: the missing metatiles of the area are rendered through the queue's bulk class,
 *     exactly as `tileq warm --wait` does (tq_cli_warm_area: same progress bar, same resume:
 *     what is cached is skipped, what is queued or running is coalesced);
 *  2. write: the tiles of the area are read from the cache, zoom by zoom in tile-id (Hilbert)
 *     order, and streamed into the archive (tq_pmtiles, tq_mbtiles), with a progress bar.
 * Interrupted and run again, step 1 renders only what is still missing, so no tile is
 * rendered twice; step 2 starts over (it only reads the cache). The archive appears at its
 * path only when complete (written as PATH.partial, then renamed). */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tq_cache.h"
#include "tq_cli.h"
#include "tq_cliutil.h"
#include "tq_mbtiles.h"
#include "tq_pmtiles.h"
#include "tq_tilejson.h"
#include "tq_area.h"
#include "tq_time.h"

static const char EXPORT_USAGE[] =
    "usage: tileq [-c FILE] export --tileset T [--bbox W,S,E,N] [--zoom A-B]\n"
    "                           -o FILE.pmtiles|FILE.mbtiles [--max-queued N]\n"
    "\n"
    "Renders what is missing of an area through the queue (bulk class, as warm --wait),\n"
    "then writes the area's tiles from the cache into one archive file:\n"
    "PMTiles v3 (clustered, deduplicated, gzip) or MBTiles 1.3 (deduplicated, gzip).\n"
    "\n"
    "  --tileset T        the tileset (as in the configuration)\n"
    "  --bbox W,S,E,N     lon/lat degrees (default: the whole world)\n"
    "  --zoom A-B         zoom range (default: the tileset's)\n"
    "  -o, --output FILE  the archive; its extension chooses the format\n"
    "  --max-queued N     keep the bulk class under N queued jobs (default 256)\n"
    "\n"
    "Exit status: 0 done, 1 failure (Redis, dead-lettered jobs, a write error), 2 bad\n"
    "arguments.\n";

enum { FMT_PMTILES = 1, FMT_MBTILES };

static int format_of(const char *path)
{
    size_t n = strlen(path);
    if (n > 8 && strcmp(path + n - 8, ".pmtiles") == 0)
        return FMT_PMTILES;
    if (n > 8 && strcmp(path + n - 8, ".mbtiles") == 0)
        return FMT_MBTILES;
    return 0;
}

/* Parses export's options into o (tq_area_export_parse), then checks the archive's name. */
static int export_opts_parse(int argc, char **argv, struct tq_area_opts *o, char *err,
                             size_t errsize)
{
    int rc = tq_area_export_parse(argc, argv, o, err, errsize);
    if (rc != 0 || o->help)
        return rc;
    if (format_of(o->output) == 0) {
        snprintf(err, errsize, "-o %s: the name must end in .pmtiles or .mbtiles", o->output);
        return -1;
    }
    return 0;
}

/* The archive's JSON metadata: name, description, version, type, format and the TileJSON
 * vector_layers (fields from the layer schema the workers publish, when Redis has it). A
 * malloc'd string the caller frees, NULL on failure (printed). */
static char *metadata_json(const struct tq_area_cmd *a)
{
    json_t *schema = NULL, *tj = NULL, *doc = NULL;
    redisReply *r = NULL;
    char *out = NULL;

    redisContext *c = tq_cli_redis_connect("export", a->cfg);
    if (c == NULL)
        goto cleanup;
    r = redisCommand(c, "HGET %s %s", TQ_SCHEMA_KEY, a->ts->name);
    if (r != NULL && r->type == REDIS_REPLY_STRING)
        schema = json_loads(r->str, 0, NULL); /* NULL: fields left {} (as the coordinator) */
    tj = tq_tilejson_build(a->ts, "", schema);
    doc = json_object();
    if (tj == NULL || doc == NULL)
        goto oom;
    json_object_set_new(doc, "name", json_string(a->ts->name));
    json_object_set_new(doc, "description", json_string("tileq export"));
    json_object_set_new(doc, "version", json_string("1"));
    json_object_set_new(doc, "type", json_string("overlay"));
    json_object_set_new(doc, "format", json_string("pbf"));
    json_object_set(doc, "vector_layers", json_object_get(tj, "vector_layers"));
    out = json_dumps(doc, JSON_COMPACT);
    if (out == NULL)
        goto oom;
    goto cleanup;
oom:
    fprintf(stderr, "tileq export: out of memory\n");
cleanup:
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    json_decref(schema);
    json_decref(tj);
    json_decref(doc);
    return out;
}

/* The archive being written: one of the two writers. */
struct sink {
    int format;
    struct tq_pmtiles *pm;
    struct tq_mbtiles *mb;
};

static int sink_add(struct sink *s, struct tq_tile t, uint64_t id, const void *data, size_t len,
                    char *err, size_t errsize)
{
    if (s->format == FMT_PMTILES)
        return tq_pmtiles_add(s->pm, id, data, len, err, errsize);
    return tq_mbtiles_add(s->mb, t, data, len, err, errsize);
}

struct progress {
    long long done, total;
    int64_t start_ms, last_ms;
    int tty;
};

static void progress_show(struct progress *p, int final)
{
    int64_t now = tq_now_ms();
    if (!final && now - p->last_ms < (p->tty ? 200 : 5000))
        return;
    if (final && !p->tty)
        return;
    p->last_ms = now;
    double secs = (double)(now - p->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)p->done / secs : 0;
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 1.0;
    char eta[32] = "?", bar[31];
    if (rate > 0)
        tq_cli_duration((int64_t)((double)(p->total - p->done) / rate * 1000.0), eta, sizeof eta);
    if (p->tty)
        fprintf(stderr, "\r[%s] %lld/%lld tiles written %5.1f%%  %.0f tiles/s  ETA %s\033[K%s",
                tq_cli_bar(frac, bar, sizeof bar), p->done, p->total, frac * 100, rate, eta,
                final ? "\n" : "");
    else
        fprintf(stderr, "export: %lld/%lld tiles written (%.1f%%), %.0f tiles/s, ETA %s\n", p->done,
                p->total, frac * 100, rate, eta);
    fflush(stderr);
}

/* Step 2: every tile of the area, from the cache into the sink. 0, or -1 (printed). */
static int write_tiles(const struct tq_area_cmd *a, struct sink *s, struct progress *p)
{
    const struct tq_area_opts *o = &a->o;
    char err[1024];
    char *data = NULL;
    int rc = -1;

    for (int z = a->lo; z <= a->hi; z++) {
        struct tq_tile_range r;
        struct tq_hilbert_iter it;
        struct tq_tile t;
        uint64_t id;
        if (tq_tile_range_from_lonlat(o->bbox[0], o->bbox[1], o->bbox[2], o->bbox[3], z, &r) != 0)
            continue;
        tq_hilbert_iter_init(&it, &r);
        while (tq_hilbert_iter_next(&it, &t, &id)) {
            size_t len;
            int got =
                tq_cache_read(a->cfg->cache_dir, a->ts->name, t, &data, &len, err, sizeof err);
            if (got < 0) {
                fprintf(stderr, "\ntileq export: %s\n", err);
                goto cleanup;
            }
            if (got == 0) {
                fprintf(stderr,
                        "\ntileq export: tile %d/%u/%u is not in the cache after warming "
                        "(expired meanwhile?); run the export again\n",
                        t.z, t.x, t.y);
                goto cleanup;
            }
            if (sink_add(s, t, id, data, len, err, sizeof err) != 0) {
                fprintf(stderr, "\ntileq export: %s\n", err);
                goto cleanup;
            }
            free(data);
            data = NULL;
            p->done++;
            progress_show(p, 0);
        }
    }
    rc = 0;
cleanup:
    free(data);
    return rc;
}

/* The zoom at which the bbox is about 2 tiles wide, within lo..hi: the archive's center. */
static int center_zoom(const double *bbox, int lo, int hi)
{
    double w = bbox[2] - bbox[0];
    int z = w > 0 ? (int)floor(log2(720.0 / w)) : hi;
    return z < lo ? lo : z > hi ? hi : z;
}

int tq_cli_export(const char *config_path, int argc, char **argv)
{
    struct tq_area_cmd a;
    struct sink s = {0, NULL, NULL};
    struct progress p;
    char err[1024], *json = NULL, *dir = NULL;
    int status = tq_area_cmd_start(&a, "export", EXPORT_USAGE, export_opts_parse,
                                   "--zoom: ", config_path, argc, argv);
    if (status >= 0)
        return status;
    status = TQ_EXIT_FAIL;
    const struct tq_area_opts *o = &a.o;
    s.format = format_of(o->output);

    /* A directory we cannot write to fails now, not after the warm. */
    dir = strdup(o->output);
    if (dir == NULL || access(dirname(dir), W_OK) != 0) {
        fprintf(stderr, "tileq export: cannot write into the directory of %s: %s\n", o->output,
                strerror(errno));
        goto cleanup;
    }

    /* 1. warm */
    if (tq_cli_warm_area(&a, "export") != TQ_EXIT_OK)
        goto cleanup;

    /* 2. write */
    json = metadata_json(&a);
    if (json == NULL)
        goto cleanup;
    memset(&p, 0, sizeof p);
    p.tty = isatty(STDERR_FILENO);
    for (int z = a.lo; z <= a.hi; z++) {
        struct tq_tile_range r;
        if (tq_tile_range_from_lonlat(o->bbox[0], o->bbox[1], o->bbox[2], o->bbox[3], z, &r) == 0)
            p.total += (long long)(r.xmax - r.xmin + 1) * (long long)(r.ymax - r.ymin + 1);
    }
    if (s.format == FMT_PMTILES)
        s.pm = tq_pmtiles_open(o->output, err, sizeof err);
    else
        s.mb = tq_mbtiles_open(o->output, err, sizeof err);
    if (s.pm == NULL && s.mb == NULL) {
        fprintf(stderr, "tileq export: %s\n", err);
        goto cleanup;
    }
    /* A test knob: a small root forces leaf directories on a small area (test_export.sh reads
     * such an archive with the reference reader). */
    const char *root_max = getenv("TQ_PMTILES_ROOT_MAX");
    if (s.pm && root_max && atol(root_max) > TQ_PMTILES_HEADER_LEN + 32)
        tq_pmtiles_set_dir_limits(s.pm, (size_t)atol(root_max), 16);
    p.start_ms = p.last_ms = tq_now_ms();
    if (write_tiles(&a, &s, &p) != 0)
        goto cleanup;

    struct tq_archive_info info;
    memset(&info, 0, sizeof info);
    info.name = a.ts->name;
    info.description = "tileq export";
    info.minzoom = a.lo;
    info.maxzoom = a.hi;
    memcpy(info.bounds, o->bbox, sizeof info.bounds);
    info.center[0] = (o->bbox[0] + o->bbox[2]) / 2;
    info.center[1] = (o->bbox[1] + o->bbox[3]) / 2;
    info.center[2] = center_zoom(o->bbox, a.lo, a.hi);
    info.metadata_json = json;

    uint64_t addressed, stored, empty, data_bytes;
    int fin;
    if (s.format == FMT_PMTILES) {
        fin = tq_pmtiles_finish(s.pm, &info, err, sizeof err);
        struct tq_pmtiles_stats st;
        tq_pmtiles_stats(s.pm, &st);
        addressed = st.addressed;
        stored = st.contents;
        empty = st.empty;
        data_bytes = st.data_bytes;
    } else {
        fin = tq_mbtiles_finish(s.mb, &info, err, sizeof err);
        struct tq_mbtiles_stats st;
        tq_mbtiles_stats(s.mb, &st);
        addressed = st.addressed;
        stored = st.contents;
        empty = st.empty;
        data_bytes = st.data_bytes;
    }
    progress_show(&p, 1);
    if (fin != 0) {
        fprintf(stderr, "tileq export: %s\n", err);
        goto cleanup;
    }
    double secs = (double)(tq_now_ms() - p.start_ms) / 1000.0;
    printf("export %s z%d-%d to %s: %lld tiles read from the cache in %.1f s (%.0f tiles/s); "
           "%llu with data, %llu empty (left out); %llu stored (dedup ratio %.2f), %llu bytes of "
           "tile data\n",
           a.ts->name, a.lo, a.hi, o->output, p.done, secs, secs > 0 ? (double)p.done / secs : 0,
           (unsigned long long)addressed, (unsigned long long)empty, (unsigned long long)stored,
           stored ? (double)addressed / (double)stored : 0.0, (unsigned long long)data_bytes);
    fflush(stdout);
    status = TQ_EXIT_OK;
cleanup:
    tq_pmtiles_free(s.pm);
    tq_mbtiles_free(s.mb);
    free(json);
    free(dir);
    tq_area_cmd_free(&a);
    return status;
}

/* tileq expire — deletes cached tiles after the data changed, optionally re-rendering them.
 *
 * Each listed tile (osm2pgsql expire format, or the tiles of a bbox per zoom) is expanded to
 * its parents and children within the zoom range, as tegola's cache purge does. The expiry
 * itself (mark renders in flight, delete, then with --rerender queue in the dirty class) is
 * tq_expire's, shared with `tileq watch run`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tq_cli.h"
#include "tq_cliutil.h"
#include "tq_expire.h"
#include "tq_area.h"
#include "tq_tile_range.h"
#include "tq_tilelist.h"
#include "tq_time.h"

static const char EXPIRE_USAGE[] =
    "usage: tileq [-c FILE] expire --tileset T (--tiles FILE|- | --bbox W,S,E,N --zoom A-B)\n"
    "                           [--min-zoom A] [--max-zoom B] [--rerender]\n"
    "\n"
    "Deletes cached tiles: each listed tile and its parents and children within the zoom\n"
    "range (default: the tileset's; --zoom for a bbox). Renders of affected metatiles in\n"
    "flight are marked to render again; dead-lettered ones are dropped (their cool-down\n"
    "ends: the next request renders them).\n"
    "\n"
    "  --tileset T        the tileset (as in the configuration)\n"
    "  --tiles FILE       tiles z/x/y, one per line (osm2pgsql expire format; - = stdin)\n"
    "  --bbox W,S,E,N     lon/lat degrees, with --zoom A-B\n"
    "  --min-zoom A, --max-zoom B   the zoom range tiles are expanded over\n"
    "  --rerender         queue the affected metatiles in the dirty class\n"
    "\n"
    "Exit status: 0 done, 1 failure (Redis, cache), 2 bad arguments.\n";

int tq_cli_expire(const char *config_path, int argc, char **argv)
{
    struct tq_area_cmd a;
    struct tq_expire *e = NULL;
    redisContext *c = NULL;
    int status;

    /* Reads (and checks) the whole tile list before anything is deleted. */
    status = tq_area_cmd_start(&a, "expire", EXPIRE_USAGE, tq_area_expire_parse, "", config_path,
                               argc, argv);
    if (status >= 0)
        return status;
    status = TQ_EXIT_FAIL;
    const struct tq_area_opts *o = &a.o;
    const struct tq_tileset_config *ts = a.ts;
    const int lo = a.lo, hi = a.hi;
    c = tq_cli_redis_connect("expire", a.cfg);
    if (c == NULL)
        goto cleanup;
    e = tq_expire_new(a.cfg, c, TQ_REASON_EXPIRE);
    if (e == NULL) {
        fprintf(stderr, "tileq expire: out of memory\n");
        goto cleanup;
    }

    for (int z = lo; z <= hi; z++) {
        struct tq_tile_range r;
        if (o->tiles == NULL) {
            if (tq_tile_range_from_lonlat(o->bbox[0], o->bbox[1], o->bbox[2], o->bbox[3], z, &r) ==
                    0 &&
                tq_expire_range(e, ts, &r) != 0)
                goto failed;
            continue;
        }
        for (long i = 0; i < a.ntiles; i++) {
            r = tq_tile_range_at_zoom(a.tiles[i], z);
            if (tq_expire_range(e, ts, &r) != 0)
                goto failed;
        }
    }
    if (o->rerender && tq_expire_rerender(e, TQ_REASON_EXPIRE, 0, 0, NULL) != 0)
        goto failed;
    const struct tq_expire_stats st = tq_expire_stats(e);

    printf("expire %s z%d-%d: %lld tiles deleted (%lld looked at) in %zu metatiles; %ld renders "
           "in flight marked to render again",
           ts->name, lo, hi, st.removed, st.examined, st.metatiles, st.marked);
    if (o->rerender)
        printf("; %ld metatiles queued for re-rendering (dirty class, %ld new)", st.requeued,
               st.enqueued_new);
    printf("\n");
    status = TQ_EXIT_OK;
    goto cleanup;
failed:
    fprintf(stderr, "tileq expire: %s\n", tq_expire_error(e));
cleanup:
    tq_expire_free(e);
    if (c)
        redisFree(c);
    tq_area_cmd_free(&a);
    return status;
}

/* fuzz_tile_path — the request-target parser (tq_tile_path_parse, tq_tile_path_is) and the
 * CLI's "z/x/y" parser (tq_tile_parse). The input is the target (up to its first NUL).
 * Properties:
 *   - a result is one of the four values; *why is NULL exactly on OK;
 *   - OK: the tile is inside the grid, the tileset is 1..63 bytes of [A-Za-z0-9_-], and
 *     re-formatting the result gives back the target's path byte for byte (the syntax has
 *     one spelling per tile), which parses the same; "z/x/y" parses to the same tile;
 *   - OUTSIDE: z <= 30 and the tileset is valid;
 *   - appending a query string to a target without one changes nothing (within the limit);
 *   - tq_tile_path_is(t, p) is 1 exactly when t is p followed by nothing or '?...'. */
#include "tq_fuzz.h"

#include "tq_tile_path.h"

/* The definition tq_tile_path_is must agree with. */
static int path_is_model(const char *t, const char *p)
{
    size_t n = strlen(p);
    return strncmp(t, p, n) == 0 && (t[n] == '\0' || t[n] == '?');
}

static void check_ok(const char *target, const struct tq_tile_path *tp)
{
    char again[TQ_TILE_PATH_MAX + 64], zxy[64];
    struct tq_tile_path tp2;
    struct tq_tile t;
    const char *why = "unset";
    size_t plen = strcspn(target, "?");

    TQ_FUZZ_CHECK(tq_tile_valid(tp->tile.z, tp->tile.x, tp->tile.y) == 0);
    TQ_FUZZ_CHECK(tq_fuzz_tileset_name_ok(tp->tileset));
    TQ_FUZZ_CHECK(strcmp(tp->ext, "mvt") == 0 || strcmp(tp->ext, "pbf") == 0);
    int n = snprintf(again, sizeof again, "/%s/%d/%u/%u.%s", tp->tileset, tp->tile.z, tp->tile.x,
                     tp->tile.y, tp->ext);
    TQ_FUZZ_CHECK(n > 0 && (size_t)n == plen && memcmp(again, target, plen) == 0);
    TQ_FUZZ_CHECK(tq_tile_path_parse(again, &tp2, &why) == TQ_TILE_PATH_OK && why == NULL);
    TQ_FUZZ_CHECK(strcmp(tp2.tileset, tp->tileset) == 0 && tp2.tile.z == tp->tile.z &&
                  tp2.tile.x == tp->tile.x && tp2.tile.y == tp->tile.y &&
                  strcmp(tp2.ext, tp->ext) == 0);
    snprintf(zxy, sizeof zxy, "%d/%u/%u", tp->tile.z, tp->tile.x, tp->tile.y);
    TQ_FUZZ_CHECK(tq_tile_parse(zxy, &t) == 0);
    TQ_FUZZ_CHECK(t.z == tp->tile.z && t.x == tp->tile.x && t.y == tp->tile.y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *target = tq_fuzz_cstr(data, size);
    struct tq_tile_path tp;
    struct tq_tile t;
    const char *why = "unset";
    size_t len = strlen(target);

    memset(&tp, 0xa5, sizeof tp);
    enum tq_tile_path_result r = tq_tile_path_parse(target, &tp, &why);
    TQ_FUZZ_CHECK(r == TQ_TILE_PATH_OK || r == TQ_TILE_PATH_MALFORMED ||
                  r == TQ_TILE_PATH_OUTSIDE || r == TQ_TILE_PATH_NOT_TILE);
    TQ_FUZZ_CHECK((r == TQ_TILE_PATH_OK) == (why == NULL));
    TQ_FUZZ_CHECK(tq_tile_path_parse(target, NULL, NULL) == r);
    if (len > TQ_TILE_PATH_MAX)
        TQ_FUZZ_CHECK(r == TQ_TILE_PATH_MALFORMED);
    if (r == TQ_TILE_PATH_OK)
        check_ok(target, &tp);
    if (r == TQ_TILE_PATH_OUTSIDE) {
        TQ_FUZZ_CHECK(tp.tile.z >= 0 && tp.tile.z <= TQ_TILE_MAX_ZOOM &&
                      tq_fuzz_tileset_name_ok(tp.tileset));
    }

    /* A query string is ignored. */
    if (strchr(target, '?') == NULL && len + 3 <= TQ_TILE_PATH_MAX) {
        char *q = malloc(len + 4);
        struct tq_tile_path tq;
        TQ_FUZZ_CHECK(q != NULL);
        memcpy(q, target, len);
        memcpy(q + len, "?a=", 4);
        TQ_FUZZ_CHECK(tq_tile_path_parse(q, &tq, NULL) == r);
        if (r == TQ_TILE_PATH_OK)
            TQ_FUZZ_CHECK(memcmp(&tq, &tp, sizeof tq) == 0);
        free(q);
    }

    /* tq_tile_path_is against the routes the coordinator matches and against itself. */
    static const char *const routes[] = {"/", "/health", "/metrics", "/catalog"};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        TQ_FUZZ_CHECK(tq_tile_path_is(target, routes[i]) == path_is_model(target, routes[i]));
    TQ_FUZZ_CHECK(tq_tile_path_is(target, target) == 1);
    TQ_FUZZ_CHECK(tq_tile_path_is(NULL, target) == 0);
    if (len > 0) {
        const char *half = target + len / 2;
        TQ_FUZZ_CHECK(tq_tile_path_is(target, half) == path_is_model(target, half));
        TQ_FUZZ_CHECK(tq_tile_path_is(half, target) == path_is_model(half, target));
    }

    /* "z/x/y" (tileq warm/expire arguments): digits and two slashes only, leading zeros
     * allowed, so the canonical spelling is the target without them. */
    if (tq_tile_parse(target, &t) == 0) {
        char again[64], canon[TQ_TILE_PATH_MAX + 2];
        size_t n = 0, slashes = 0;
        TQ_FUZZ_CHECK(tq_tile_valid(t.z, t.x, t.y) == 0);
        for (size_t i = 0; i < len && n < sizeof canon - 1; i++) {
            int starts = i == 0 || target[i - 1] == '/';
            TQ_FUZZ_CHECK((target[i] >= '0' && target[i] <= '9') || target[i] == '/');
            slashes += target[i] == '/';
            if (starts) /* drop the zeros before a component's last digit */
                while (target[i] == '0' && target[i + 1] >= '0' && target[i + 1] <= '9')
                    i++;
            canon[n++] = target[i];
        }
        canon[n] = '\0';
        TQ_FUZZ_CHECK(slashes == 2);
        snprintf(again, sizeof again, "%d/%u/%u", t.z, t.x, t.y);
        TQ_FUZZ_CHECK(strcmp(again, canon) == 0);
    }
    free(target);
    return 0;
}

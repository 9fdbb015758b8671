/* tq_tile_path — see tq_tile_path.h. */
#include "tq_tile_path.h"

#include <stdint.h>
#include <string.h>

static int set_why(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return 0;
}

/* Parses a plain decimal number of len bytes (no sign, no leading zero unless "0", at most
 * 10 digits) into *out. Returns 0, or -1. */
static int parse_decimal(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 10)
        return -1;
    if (s[0] == '0' && len > 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

enum tq_tile_path_result tq_tile_path_parse(const char *target, struct tq_tile_path *out,
                                            const char **why)
{
    enum tq_tile_path_result res = TQ_TILE_PATH_MALFORMED;
    const char *seg[4];
    size_t seglen[4];
    size_t len, plen, nseg = 0;
    const char *q;
    uint64_t z, x, y;
    struct tq_tile_path tp;

    memset(&tp, 0, sizeof tp);
    set_why(why, "malformed path");
    if (target == NULL)
        goto cleanup;
    /* Length first, so nothing below ever walks a huge input. */
    len = strnlen(target, TQ_TILE_PATH_MAX + 1);
    if (len > TQ_TILE_PATH_MAX) {
        set_why(why, "path too long");
        goto cleanup;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c <= 0x20 || c >= 0x7f) {
            set_why(why, "invalid byte in path");
            goto cleanup;
        }
    }
    q = memchr(target, '?', len);
    plen = q ? (size_t)(q - target) : len;
    if (plen == 0 || target[0] != '/') {
        set_why(why, "path must start with /");
        goto cleanup;
    }
    for (size_t i = 0; i < plen; i++) {
        char c = target[i];
        if (c == '%' || c == '\\' || c == '#') {
            set_why(why, "escaped or reserved character in path");
            goto cleanup;
        }
        if (i + 1 < plen &&
            ((c == '/' && target[i + 1] == '/') || (c == '.' && target[i + 1] == '.'))) {
            set_why(why, "'..' or '//' in path");
            goto cleanup;
        }
    }

    if (ends_with(target, plen, ".mvt"))
        memcpy(tp.ext, "mvt", 4);
    else if (ends_with(target, plen, ".pbf"))
        memcpy(tp.ext, "pbf", 4);
    else {
        set_why(why, "not found");
        res = TQ_TILE_PATH_NOT_TILE;
        goto cleanup;
    }
    plen -= 4;

    /* Split "/a/b/c/d" into exactly four segments (the last without its extension). */
    for (size_t i = 0; i < plen; i++) {
        if (target[i] != '/')
            continue;
        if (nseg == 4) {
            nseg = 5;
            break;
        }
        seg[nseg] = target + i + 1;
        if (nseg > 0)
            seglen[nseg - 1] = (size_t)(target + i - seg[nseg - 1]);
        nseg++;
    }
    if (nseg != 4) {
        set_why(why, "expected /{tileset}/{z}/{x}/{y}.mvt");
        goto cleanup;
    }
    seglen[3] = (size_t)(target + plen - seg[3]);

    if (!tq_tileset_name_valid(seg[0], seglen[0])) {
        set_why(why, "bad tileset name");
        goto cleanup;
    }
    memcpy(tp.tileset, seg[0], seglen[0]);

    if (parse_decimal(seg[1], seglen[1], &z) != 0 || z > TQ_TILE_MAX_ZOOM) {
        set_why(why, "bad zoom");
        goto cleanup;
    }
    if (parse_decimal(seg[2], seglen[2], &x) != 0 || parse_decimal(seg[3], seglen[3], &y) != 0) {
        set_why(why, "bad tile number");
        goto cleanup;
    }
    tp.tile.z = (int)z;
    if (x >= ((uint64_t)1 << z) || y >= ((uint64_t)1 << z)) {
        set_why(why, "tile outside the grid");
        res = TQ_TILE_PATH_OUTSIDE;
        goto cleanup;
    }
    tp.tile.x = (uint32_t)x;
    tp.tile.y = (uint32_t)y;
    set_why(why, NULL);
    res = TQ_TILE_PATH_OK;

cleanup:
    if (out && (res == TQ_TILE_PATH_OK || res == TQ_TILE_PATH_OUTSIDE))
        *out = tp;
    return res;
}

int tq_tile_path_is(const char *target, const char *path)
{
    size_t n = strlen(path);

    if (target == NULL || strncmp(target, path, n) != 0)
        return 0;
    return target[n] == '\0' || target[n] == '?';
}

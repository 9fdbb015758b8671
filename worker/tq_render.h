/* tq_render — renders a whole metatile of MVT tiles in one PostgreSQL round trip.
 *
 * For every tileset of the config the renderer prepares ONE statement on the connection
 * (P = a column prefix, "tq_", that no layer column starts with; "tq__"... otherwise):
 *
 *   WITH t AS MATERIALIZED (SELECT tx, ty, ST_TileEnvelope($1, tx, ty) AS env,
 *                                  ST_Expand(ST_TileEnvelope($1, tx, ty), $10) AS xenv
 *                           FROM generate_series($2, $4) tx, generate_series($3, $5) ty),
 *        l0 AS MATERIALIZED (SELECT <first..last tile column/row the row's bbox, grown by
 *                                    $11, touches, clamped to the metatile> AS P_x0.. P_y1,
 *                                   w.P_rn, w.geom, w."attr"...
 *                            FROM (SELECT row_number() OVER () AS P_rn,
 *                                   box2d(s.geom) AS P_b, s.* FROM (<layer 0 sql>) s) w),
 *        r0 AS (SELECT t.tx, t.ty, ST_AsMVT(q, 'layer0', E, 'geom' ORDER BY c.P_rn) AS mvt
 *               FROM (SELECT c.*, generate_series(0, <tiles in the row's range> - 1) AS P_k
 *                     FROM l0 c) c
 *               JOIN t ON (t.tx, t.ty) = <the P_k-th tile of the range>
 *               CROSS JOIN LATERAL (SELECT ST_AsMVTGeom(c.geom, t.env, E, B, true) AS geom,
 *                                          c."attr"...) q
 *               WHERE c.geom && t.xenv GROUP BY t.tx, t.ty),
 *        l1 ..., r1 ...
 *   SELECT t.tx, t.ty, COALESCE(r0.mvt, '') || COALESCE(r1.mvt, '') ... AS mvt
 *   FROM t LEFT JOIN r0 ON ... LEFT JOIN r1 ON ...
 *
 * i.e. each layer's query runs once over the metatile; every row is joined only to the
 * tiles its bbox may touch (found by arithmetic, width_bucket over the metatile's bounds),
 * then the contract's exact filter (geom && the tile envelope grown by the margin) decides;
 * ST_AsMVT gets each tile's rows in the layer query's order (P_rn). Cost ~ rows x tiles
 * each row touches, not rows x tiles of the metatile. A tileset with metatile 1 gets the
 * contract's one-tile query instead (the same bytes, less work for one tile).
 *
 * Parameters: $1 zoom, $2..$5 first/last tile column and row, $6..$9 the metatile's
 * EPSG:3857 bounds expanded by the margin m = tile width * buffer / extent, $10 m, $11 the
 * pad for the candidate tiles (m plus a slack for the float4 boxes && compares), $12..$15
 * the metatile's own bounds (west, east, north, south), $16/$17 the column and row of a tile
 * to leave out of t (-1/-1: none; tq_render_metatile_except: a tile rendered first).
 *
 * A tileset with metatile > 1 also gets the one-tile form (the contract's query, as for
 * metatile 1, same parameters for a 1x1 metatile), prepared with the metatile statement:
 * tq_render_tile() renders an interactive job's first tile with it.
 * In a layer's SQL, !BBOX! becomes ST_MakeEnvelope($6,$7,$8,$9,3857) and !ZOOM! becomes
 * $1::integer: bound parameters, never spliced values. A layer whose minzoom..maxzoom
 * does not cover the zoom contributes nothing (its CTE is gated on $1). The session runs
 * with jit = off (set when a statement is prepared) and statement_timeout = the tileset's
 * statement_timeout_ms (SET before a render whenever it differs from the value last set on
 * the connection): PostgreSQL cancels a render past it, and the render fails with
 * TQ_RENDER_SQL_ERROR and PostgreSQL's message ("canceling statement due to statement
 * timeout", with the tileset and its timeout appended).
 *
 * Each tile's bytes equal the per-tile "rendering SQL contract" (see README / tests):
 * the concatenation over layers of COALESCE(ST_AsMVT(...), '') for that tile alone.
 *
 * The attribute columns of each layer are found once per connection by preparing
 * SELECT * FROM (<layer sql>) s and describing it (every column except geom; a layer
 * without a geom column is an error for its tileset).
 *
 * Prepared statements live on one connection: call tq_render_reset() after every
 * (re)connect, then tq_render_prepare_all() (or let tq_render_metatile() prepare lazily). */
#ifndef TQ_RENDER_H
#define TQ_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "tq_config.h"
#include "tq_tile.h"

struct tq_renderer; /* opaque */

struct tq_rendered_tile {
    struct tq_tile tile;
    const unsigned char *data; /* points into the result's PGresult; NULL when len is 0 */
    size_t len;                /* 0 = empty tile */
};

struct tq_render_result {
    uint32_t ntiles;
    struct tq_rendered_tile *tiles; /* row-major, as tq_metatile_tile() */
    size_t total_bytes;
    int64_t started_ms; /* unix ms when the query was sent */
    double sql_ms;      /* send to last result */
    int jit;            /* the render ran with jit = on (decided per render, tq_render.c) */
    PGresult *res;      /* owns the tile bytes */
};

/* Frees what a render result owns and zeroes it (safe on a zeroed result). */
void tq_render_result_clear(struct tq_render_result *r);

enum tq_render_status {
    TQ_RENDER_OK = 0,
    TQ_RENDER_SQL_ERROR,  /* the query (or preparing it) failed; the connection is fine */
    TQ_RENDER_CONN_ERROR, /* the connection broke; reconnect, then render again */
    TQ_RENDER_CANCELLED   /* the tick callback asked to stop; the result was dropped */
};

/* Called about every tick_ms while PostgreSQL works. Return 0 to keep waiting, non-zero
 * to cancel the query (e.g. the job's lease was lost). */
typedef int (*tq_render_tick_fn)(void *arg);

/* A renderer for every tileset of cfg. cfg must outlive it. NULL on OOM.
 * The caller frees it with tq_render_free(). */
struct tq_renderer *tq_render_new(const struct tq_config *cfg);
void tq_render_free(struct tq_renderer *r);

/* Forgets every prepared statement (call after a reconnect; the connection is new). */
void tq_render_reset(struct tq_renderer *r);

/* Prepares the statement of one tileset on pg unless already prepared. Returns
 * TQ_RENDER_OK, TQ_RENDER_SQL_ERROR (bad layer SQL, no geom column, unknown tileset...)
 * or TQ_RENDER_CONN_ERROR, with a message in err. */
enum tq_render_status tq_render_prepare(struct tq_renderer *r, PGconn *pg, const char *tileset,
                                        char *err, size_t errsize);

/* Prepares every tileset, logging each failure. Returns the number that failed, or -1 when
 * the connection broke. */
int tq_render_prepare_all(struct tq_renderer *r, PGconn *pg);

/* The layer schema of a prepared tileset as JSON (the format in tq_tilejson.h: every
 * layer's attribute columns and their types, from describing its query), malloc'd (the
 * caller frees), or NULL when the tileset is not prepared (or OOM). */
char *tq_render_schema_json(const struct tq_renderer *r, const char *tileset);

/* Renders metatile m of tileset on pg (preparing first when needed). The query is sent
 * asynchronously; while waiting, tick(arg) is called every tick_ms (tick may be NULL).
 * On TQ_RENDER_OK, out holds every tile of m and the caller clears it with
 * tq_render_result_clear(); on any other status out is zeroed and err says why. After
 * TQ_RENDER_CONN_ERROR (or when PQstatus(pg) is CONNECTION_BAD) the caller reconnects. */
enum tq_render_status tq_render_metatile(struct tq_renderer *r, PGconn *pg, const char *tileset,
                                         const struct tq_metatile *m, int tick_ms,
                                         tq_render_tick_fn tick, void *arg,
                                         struct tq_render_result *out, char *err, size_t errsize);

/* As tq_render_metatile(), but without tile skip (which must be inside m, and m must have
 * more than one tile): out holds the other tiles, row-major, skip left out; skip's rows still
 * run through the layer queries (the metatile's bbox), they are just not grouped into a tile. */
enum tq_render_status tq_render_metatile_except(struct tq_renderer *r, PGconn *pg,
                                                const char *tileset, const struct tq_metatile *m,
                                                struct tq_tile skip, int tick_ms,
                                                tq_render_tick_fn tick, void *arg,
                                                struct tq_render_result *out, char *err,
                                                size_t errsize);

/* Renders tile t alone with the tileset's one-tile statement (the contract's query; the
 * metatile statement itself for metatile 1). Otherwise as tq_render_metatile(): out holds
 * one tile. */
enum tq_render_status tq_render_tile(struct tq_renderer *r, PGconn *pg, const char *tileset,
                                     struct tq_tile t, int tick_ms, tq_render_tick_fn tick,
                                     void *arg, struct tq_render_result *out, char *err,
                                     size_t errsize);

/* Sets statement_timeout on pg to ms (0 = none) unless the renderer set that value last on
 * this connection (a render sets its tileset's; other statements on the same connection,
 * e.g. the render-log flush, set their own first). TQ_RENDER_OK, or an error with err set. */
enum tq_render_status tq_render_set_timeout(struct tq_renderer *r, PGconn *pg, int ms, char *err,
                                            size_t errsize);

/* The margin m in metres around a tile of zoom z: tile width * buffer / extent, computed
 * as the contract does ((2*TQ_MERC_MAX / 2^z) * buffer / extent). */
double tq_render_margin(int z, unsigned buffer, unsigned extent);

/* The parameters $1..$17 of a render statement as text (see above) for metatile m of
 * tileset ts, leaving out tile skip (NULL: none). values[i] points at text[i]. */
#define TQ_RENDER_NPARAMS 17
struct tq_render_params {
    char text[TQ_RENDER_NPARAMS][32];
    const char *values[TQ_RENDER_NPARAMS];
};
void tq_render_params(const struct tq_tileset_config *ts, const struct tq_metatile *m,
                      const struct tq_tile *skip, struct tq_render_params *out);

/* Replaces !BBOX! and !ZOOM! in sql with bbox and zoom. Returns a malloc'd string the
 * caller frees, or NULL on OOM. */
char *tq_render_substitute(const char *sql, const char *bbox, const char *zoom);

#endif

/* tq_tilejson — TileJSON 3.0.0 documents (jansson), and the layer schema the workers publish
 * for the coordinators.
 *
 * Layer schema: a worker describes every layer's query when it prepares a tileset (the
 * result's column names and types) and publishes, per tileset, HSET {tq}:schema <tileset>
 * <json> with
 *   {"layers": [{"id": "<layer>", "fields": {"<column>": "Number"|"String"|"Boolean", ...}},
 *               ...]}
 * (the geom column left out). The types are what ST_AsMVT writes: int2/int4/int8/float4/
 * float8 → "Number", bool → "Boolean", anything else → "String" (ST_AsMVT writes the text
 * form), except jsonb, whose keys become attributes of their own and is left out.
 * The coordinator reads it asynchronously when serving /{tileset}.json: it never talks to
 * PostgreSQL, so it starts and serves cached tiles while PostgreSQL is down, and the fields
 * are exactly those the workers put into tiles. */
#ifndef TQ_TILEJSON_H
#define TQ_TILEJSON_H

#include <stddef.h>

#include <jansson.h>

#include "tq_config.h"
#include "tq_wire.h" /* TQ_SCHEMA_KEY */

/* "Number", "Boolean" or "String" for a PostgreSQL type OID, NULL for a type left out. */
const char *tq_tilejson_field_type(unsigned oid);

/* Builds the TileJSON of ts: tilejson, name, scheme, format, tiles
 * ["<base_url>/<name>/{z}/{x}/{y}.mvt"], minzoom, maxzoom, bounds, center and vector_layers
 * (id, fields, minzoom, maxzoom per configured layer, fields taken from schema when it
 * describes the layer, {} otherwise). schema (may be NULL) is borrowed. Returns a new
 * reference the caller json_decref()s, or NULL on OOM. */
json_t *tq_tilejson_build(const struct tq_tileset_config *ts, const char *base_url,
                          const json_t *schema);

/* 1 when schema (a parsed layer schema, may be NULL) describes every layer of ts. */
int tq_tilejson_schema_complete(const struct tq_tileset_config *ts, const json_t *schema);

/* The catalog: {"tilesets": [{"name": ..., "tilejson": "<base_url>/<name>.json",
 * "tiles": "<base_url>/<name>/{z}/{x}/{y}.mvt", "minzoom": .., "maxzoom": ..,
 * "layers": ["<layer>", ...]}, ...]}. New reference, NULL on OOM. */
json_t *tq_tilejson_catalog(const struct tq_config *cfg, const char *base_url);

#endif

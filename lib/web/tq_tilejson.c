/* tq_tilejson — see tq_tilejson.h. */
#include "tq_tilejson.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BOOLOID 16
#define INT8OID 20
#define INT2OID 21
#define INT4OID 23
#define FLOAT4OID 700
#define FLOAT8OID 701
#define JSONBOID 3802

const char *tq_tilejson_field_type(unsigned oid)
{
    switch (oid) {
    case INT2OID:
    case INT4OID:
    case INT8OID:
    case FLOAT4OID:
    case FLOAT8OID:
        return "Number";
    case BOOLOID:
        return "Boolean";
    case JSONBOID:
        return NULL;
    default:
        return "String";
    }
}

/* The fields object of layer id in schema, or NULL. Borrowed. */
static json_t *schema_fields(const json_t *schema, const char *id)
{
    json_t *layers = json_object_get(schema, "layers"), *l;
    size_t i;

    if (!json_is_array(layers))
        return NULL;
    json_array_foreach(layers, i, l)
    {
        const char *lid = json_string_value(json_object_get(l, "id"));
        json_t *fields = json_object_get(l, "fields");
        if (lid && strcmp(lid, id) == 0 && json_is_object(fields))
            return fields;
    }
    return NULL;
}

int tq_tilejson_schema_complete(const struct tq_tileset_config *ts, const json_t *schema)
{
    if (schema == NULL)
        return 0;
    for (size_t i = 0; i < ts->nlayers; i++) {
        if (schema_fields(schema, ts->layers[i].name) == NULL)
            return 0;
    }
    return 1;
}

/* Appends v to a (stealing it); -1 when v is NULL or appending failed. */
static int push(json_t *a, json_t *v)
{
    return v == NULL || json_array_append_new(a, v) != 0 ? -1 : 0;
}

static int set(json_t *o, const char *key, json_t *v)
{
    return v == NULL || json_object_set_new(o, key, v) != 0 ? -1 : 0;
}

/* Degrees rounded to 1e-7 (about 1 cm), so the JSON stays short. */
static json_t *deg(double v)
{
    return json_real(round(v * 1e7) / 1e7);
}

static json_t *tiles_url(const char *base_url, const char *name)
{
    char url[2048];
    int n = snprintf(url, sizeof url, "%s/%s/{z}/{x}/{y}.mvt", base_url, name);
    return n < 0 || (size_t)n >= sizeof url ? NULL : json_string(url);
}

json_t *tq_tilejson_build(const struct tq_tileset_config *ts, const char *base_url,
                          const json_t *schema)
{
    json_t *tj = json_object(), *tiles = json_array(), *bounds = json_array(),
           *center = json_array(), *layers = json_array();
    double cz = ts->center[2];
    int ok = 0;

    if (!tj || !tiles || !bounds || !center || !layers)
        goto cleanup;
    if (push(tiles, tiles_url(base_url, ts->name)) != 0)
        goto cleanup;
    for (int i = 0; i < 4; i++) {
        if (push(bounds, deg(ts->bounds[i])) != 0)
            goto cleanup;
    }
    if (cz < ts->minzoom)
        cz = ts->minzoom;
    if (cz > ts->maxzoom)
        cz = ts->maxzoom;
    if (push(center, deg(ts->center[0])) != 0 || push(center, deg(ts->center[1])) != 0 ||
        push(center, json_integer((json_int_t)floor(cz))) != 0)
        goto cleanup;
    for (size_t i = 0; i < ts->nlayers; i++) {
        const struct tq_layer_config *l = &ts->layers[i];
        json_t *vl = json_object(), *fields = schema_fields(schema, l->name);
        if (vl == NULL)
            goto cleanup;
        if (push(layers, vl) != 0 || set(vl, "id", json_string(l->name)) != 0 ||
            set(vl, "fields", fields ? json_deep_copy(fields) : json_object()) != 0 ||
            set(vl, "minzoom", json_integer(l->minzoom)) != 0 ||
            set(vl, "maxzoom", json_integer(l->maxzoom)) != 0)
            goto cleanup;
    }
    if (set(tj, "tilejson", json_string("3.0.0")) != 0 ||
        set(tj, "name", json_string(ts->name)) != 0 || set(tj, "scheme", json_string("xyz")) != 0 ||
        set(tj, "format", json_string("pbf")) != 0)
        goto cleanup;
    ok = set(tj, "tiles", tiles) == 0;
    tiles = NULL;
    ok = ok && set(tj, "minzoom", json_integer(ts->minzoom)) == 0 &&
         set(tj, "maxzoom", json_integer(ts->maxzoom)) == 0;
    ok = ok && set(tj, "bounds", bounds) == 0;
    bounds = NULL;
    ok = ok && set(tj, "center", center) == 0;
    center = NULL;
    ok = ok && set(tj, "vector_layers", layers) == 0;
    layers = NULL;
cleanup:
    json_decref(tiles);
    json_decref(bounds);
    json_decref(center);
    json_decref(layers);
    if (!ok) {
        json_decref(tj);
        tj = NULL;
    }
    return tj;
}

json_t *tq_tilejson_catalog(const struct tq_config *cfg, const char *base_url)
{
    json_t *root = json_object(), *list = json_array();
    char url[2048];
    int ok = 0;

    if (root == NULL || list == NULL)
        goto cleanup;
    for (size_t i = 0; i < cfg->ntilesets; i++) {
        const struct tq_tileset_config *ts = &cfg->tilesets[i];
        json_t *e = json_object(), *names = json_array();
        if (push(list, e) != 0 || names == NULL) {
            json_decref(names);
            goto cleanup;
        }
        for (size_t j = 0; j < ts->nlayers; j++) {
            if (push(names, json_string(ts->layers[j].name)) != 0) {
                json_decref(names);
                goto cleanup;
            }
        }
        int n = snprintf(url, sizeof url, "%s/%s.json", base_url, ts->name);
        if (n < 0 || (size_t)n >= sizeof url || set(e, "name", json_string(ts->name)) != 0 ||
            set(e, "tilejson", json_string(url)) != 0 ||
            set(e, "tiles", tiles_url(base_url, ts->name)) != 0 ||
            set(e, "minzoom", json_integer(ts->minzoom)) != 0 ||
            set(e, "maxzoom", json_integer(ts->maxzoom)) != 0) {
            json_decref(names);
            goto cleanup;
        }
        if (set(e, "layers", names) != 0)
            goto cleanup;
    }
    ok = set(root, "tilesets", list) == 0;
    list = NULL;
cleanup:
    json_decref(list);
    if (!ok) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

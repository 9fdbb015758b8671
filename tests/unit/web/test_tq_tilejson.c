/* Unit tests for tq_tilejson (TileJSON 3.0.0 and the catalog) and the config keys it reads
 * (tileset bounds/center, http.public_url/static_dir). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_config.h"
#include "tq_tilejson.h"

#define BASE_CONF                                                                                  \
    "redis_url = \"redis://127.0.0.1:6379\"; pg_conninfo = \"dbname=x\"; cache_dir = \"/tmp\";\n"

static struct tq_config *load(const char *extra, char *err, size_t errsize)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", BASE_CONF, extra);
    return tq_config_load_string(text, "t.conf", err, errsize);
}

static const char *TWO_LAYERS =
    "http = { public_url = \"https://maps.example.com/tq/\"; static_dir = \"/srv/static\"; };\n"
    "tilesets = ( { name = \"city\"; minzoom = 2; maxzoom = 16;\n"
    "  bounds = [ 2.2, 48.8, 2.5, 48.95 ]; center = [ 2.35, 48.85, 12.0 ];\n"
    "  layers = ( { name = \"roads\"; sql = \"SELECT geom, name FROM r WHERE geom && !BBOX!\"; },\n"
    "             { name = \"pois\"; minzoom = 10; sql = \"SELECT geom FROM p WHERE geom && "
    "!BBOX!\"; } );\n"
    "}, { name = \"world\"; layers = ( { name = \"w\"; sql = \"SELECT geom FROM w WHERE geom && "
    "!BBOX!\"; } ); } );\n";

static void test_config_keys(void **state)
{
    char err[512];
    struct tq_config *cfg = load(TWO_LAYERS, err, sizeof err);
    (void)state;

    assert_non_null(cfg);
    assert_string_equal(cfg->http.public_url, "https://maps.example.com/tq/");
    assert_string_equal(cfg->http.static_dir, "/srv/static");
    const struct tq_tileset_config *c = tq_config_tileset(cfg, "city");
    assert_true(c->has_bounds && c->has_center);
    assert_true(c->bounds[0] == 2.2 && c->bounds[3] == 48.95);
    assert_true(c->center[2] == 12.0);
    const struct tq_tileset_config *w = tq_config_tileset(cfg, "world");
    assert_false(w->has_bounds || w->has_center);
    assert_true(w->bounds[0] == -180 && w->bounds[2] == 180 && w->bounds[1] < -85.05 &&
                w->bounds[3] > 85.05);
    assert_true(w->center[0] == 0 && w->center[1] == 0 && w->center[2] == 0);
    tq_config_free(cfg);

    /* a list mixes integers and floats, an array cannot (libconfig) */
    cfg = load("tilesets = ( { name = \"a\"; bounds = (-180, -85.05, 180, 85.05);"
               " layers = ( { name = \"l\"; sql = \"x !BBOX!\"; } ); } );",
               err, sizeof err);
    assert_non_null(cfg);
    assert_true(cfg->tilesets[0].bounds[0] == -180 && cfg->tilesets[0].bounds[1] == -85.05);
    tq_config_free(cfg);

    cfg = load("", err, sizeof err);
    assert_non_null(cfg);
    assert_null(cfg->http.public_url);
    assert_null(cfg->http.static_dir);
    tq_config_free(cfg);

    static const struct {
        const char *conf, *msg;
    } bad[] = {
        {"http = { public_url = \"ftp://x\"; };", "http.public_url"},
        {"tilesets = ( { name = \"a\"; bounds = [1, 2, 3];"
         " layers = ( { name = \"l\"; sql = \"x !BBOX!\"; } ); } );",
         "tilesets.[0].bounds: must be an array of 4 numbers"},
        {"tilesets = ( { name = \"a\"; bounds = [10, 0, 5, 1];"
         " layers = ( { name = \"l\"; sql = \"x !BBOX!\"; } ); } );",
         "tilesets.[0].bounds: must be [west, south, east, north]"},
        {"tilesets = ( { name = \"a\"; center = [0, 100, 1];"
         " layers = ( { name = \"l\"; sql = \"x !BBOX!\"; } ); } );",
         "tilesets.[0].center"},
        {"tilesets = ( { name = \"a\"; bounds = [\"a\", 0, 5, 1];"
         " layers = ( { name = \"l\"; sql = \"x !BBOX!\"; } ); } );",
         "mismatched element type"}, /* libconfig's own: arrays are homogeneous */
        {"tilesets = ( { name = \"a\"; bounds = (\"a\", 0, 5, 1);"
         " layers = ( { name = \"l\"; sql = \"x !BBOX!\"; } ); } );",
         "tilesets.[0].bounds: must be an array of 4 numbers"},
        {"http = { public_urls = \"http://x\"; };", "http.public_urls: unknown key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg = load(bad[i].conf, err, sizeof err);
        if (cfg != NULL)
            fail_msg("accepted: %s", bad[i].conf);
        if (strstr(err, bad[i].msg) == NULL)
            fail_msg("message \"%s\" lacks \"%s\"", err, bad[i].msg);
    }
}

static void test_tilejson(void **state)
{
    char err[512];
    struct tq_config *cfg = load(TWO_LAYERS, err, sizeof err);
    json_error_t jerr;
    json_t *schema = json_loads("{\"layers\": [{\"id\": \"roads\", \"fields\": {\"name\": "
                                "\"String\", \"lanes\": \"Number\"}}]}",
                                0, &jerr);
    (void)state;

    assert_non_null(cfg);
    assert_non_null(schema);
    const struct tq_tileset_config *c = tq_config_tileset(cfg, "city");
    assert_false(tq_tilejson_schema_complete(c, schema)); /* pois is missing */
    assert_false(tq_tilejson_schema_complete(c, NULL));

    json_t *tj = tq_tilejson_build(c, "https://maps.example.com/tq", schema);
    assert_non_null(tj);
    assert_string_equal(json_string_value(json_object_get(tj, "tilejson")), "3.0.0");
    assert_string_equal(json_string_value(json_object_get(tj, "name")), "city");
    assert_string_equal(json_string_value(json_array_get(json_object_get(tj, "tiles"), 0)),
                        "https://maps.example.com/tq/city/{z}/{x}/{y}.mvt");
    assert_int_equal(json_integer_value(json_object_get(tj, "minzoom")), 2);
    assert_int_equal(json_integer_value(json_object_get(tj, "maxzoom")), 16);
    json_t *b = json_object_get(tj, "bounds"), *ce = json_object_get(tj, "center");
    assert_int_equal(json_array_size(b), 4);
    assert_true(json_real_value(json_array_get(b, 0)) == 2.2);
    assert_true(json_real_value(json_array_get(b, 3)) == 48.95);
    assert_int_equal(json_array_size(ce), 3);
    assert_true(json_real_value(json_array_get(ce, 0)) == 2.35);
    assert_int_equal(json_integer_value(json_array_get(ce, 2)), 12);
    json_t *vl = json_object_get(tj, "vector_layers");
    assert_int_equal(json_array_size(vl), 2);
    json_t *roads = json_array_get(vl, 0), *pois = json_array_get(vl, 1);
    assert_string_equal(json_string_value(json_object_get(roads, "id")), "roads");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(roads, "fields"), "lanes")), "Number");
    assert_int_equal(json_integer_value(json_object_get(roads, "minzoom")), 2);
    assert_string_equal(json_string_value(json_object_get(pois, "id")), "pois");
    assert_int_equal(json_object_size(json_object_get(pois, "fields")), 0);
    assert_int_equal(json_integer_value(json_object_get(pois, "minzoom")), 10);
    assert_int_equal(json_integer_value(json_object_get(pois, "maxzoom")), 16);
    json_decref(tj);

    /* default bounds and center, center zoom clamped into the zoom range */
    tj = tq_tilejson_build(tq_config_tileset(cfg, "world"), "http://h", NULL);
    assert_non_null(tj);
    assert_true(json_real_value(json_array_get(json_object_get(tj, "bounds"), 2)) == 180.0);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(tj, "center"), 2)), 0);
    json_decref(tj);

    json_t *cat = tq_tilejson_catalog(cfg, "http://h:1");
    json_t *list = json_object_get(cat, "tilesets");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "tilejson")),
                        "http://h:1/city.json");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "tiles")),
                        "http://h:1/world/{z}/{x}/{y}.mvt");
    assert_int_equal(json_array_size(json_object_get(json_array_get(list, 0), "layers")), 2);
    json_decref(cat);
    json_decref(schema);
    tq_config_free(cfg);
}

static void test_field_types(void **state)
{
    (void)state;
    assert_string_equal(tq_tilejson_field_type(23), "Number");  /* int4 */
    assert_string_equal(tq_tilejson_field_type(20), "Number");  /* int8 */
    assert_string_equal(tq_tilejson_field_type(701), "Number"); /* float8 */
    assert_string_equal(tq_tilejson_field_type(16), "Boolean");
    assert_string_equal(tq_tilejson_field_type(25), "String");   /* text */
    assert_string_equal(tq_tilejson_field_type(1700), "String"); /* numeric: written as text */
    assert_null(tq_tilejson_field_type(3802));                   /* jsonb: keys of its own */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_tilejson),
        cmocka_unit_test(test_field_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

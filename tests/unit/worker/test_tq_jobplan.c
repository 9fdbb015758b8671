/* Unit tests for tq_jobplan: a claimed job checked against the config (what is
 * dead-lettered and why), the first-tile split, the lease budget, and the render-log
 * entries of a render. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tq_jobplan.h"

#define LEASE_MS 30000

/* demo: metatile 8, zooms 0..14, timeout 1500 ms; one: metatile 1. */
static const char *const config_text =
    "redis_url = \"redis://127.0.0.1:6379/0\";\n"
    "pg_conninfo = \"host=127.0.0.1 dbname=tileq\";\n"
    "cache_dir = \"/tmp/tq-cache\";\n"
    "tilesets = ( { name = \"demo\"; minzoom = 0; maxzoom = 14; metatile = 8;\n"
    "               statement_timeout_ms = 1500;\n"
    "               layers = ( { name = \"points\"; sql = \"SELECT geom FROM p WHERE geom && "
    "!BBOX!\"; } ); },\n"
    "             { name = \"one\"; minzoom = 0; maxzoom = 14; metatile = 1;\n"
    "               statement_timeout_ms = 1000;\n"
    "               layers = ( { name = \"points\"; sql = \"SELECT geom FROM p WHERE geom && "
    "!BBOX!\"; } ); } );\n";

static int setup(void **state)
{
    char err[256];
    unsetenv("TQ_REDIS_URL");
    unsetenv("TQ_PG_CONNINFO");
    unsetenv("TQ_CACHE_DIR");
    struct tq_config *cfg = tq_config_load_string(config_text, "tileq.conf", err, sizeof err);
    if (cfg == NULL)
        fail_msg("%s", err);
    *state = cfg;
    return 0;
}

static int teardown(void **state)
{
    tq_config_free(*state);
    return 0;
}

/* A claim of the job for tile t of tileset (metatile size), with a first tile when
 * has_first. The caller clears it with tq_claimed_clear. */
static struct tq_claimed claim(const char *tileset, struct tq_tile t, uint32_t size,
                               enum tq_job_class cls, int has_first, struct tq_tile first)
{
    struct tq_claimed c;
    struct tq_job job;
    memset(&c, 0, sizeof c);
    assert_int_equal(tq_job_init(&job, tileset, t, size, cls, TQ_REASON_REQUEST, 1), 0);
    job.has_first = has_first;
    job.first_x = first.x;
    job.first_y = first.y;
    assert_int_equal(tq_job_encode(&job, &c.payload, &c.payload_len), 0);
    tq_job_id(&job, c.id, sizeof c.id);
    c.attempt = 1;
    c.cls = cls;
    c.token = 7;
    return c;
}

static void test_interactive_split(void **state)
{
    struct tq_jobplan p;
    char why[256];
    struct tq_tile t = {10, 517, 300};
    struct tq_claimed c = claim("demo", t, 8, TQ_CLASS_INTERACTIVE, 1, t);

    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), 0);
    assert_string_equal(p.ts->name, "demo");
    assert_int_equal(p.m.z, 10);
    assert_int_equal(p.m.mx, 512);
    assert_int_equal(p.m.my, 296);
    assert_int_equal(tq_metatile_count(&p.m), 64);
    assert_int_equal(p.first.z, 10);
    assert_int_equal(p.first.x, 517);
    assert_int_equal(p.first.y, 300);
    assert_true(p.split);
    /* two render statements (the first tile, the rest), each up to the timeout, + a lease */
    assert_int_equal(p.budget_ms, 2 * 1500 + LEASE_MS);
    tq_claimed_clear(&c);
}

static void test_no_split(void **state)
{
    struct tq_jobplan p;
    char why[256];
    struct tq_tile t = {10, 517, 300};

    /* bulk: no one waits for a first tile */
    struct tq_claimed c = claim("demo", t, 8, TQ_CLASS_BULK, 1, t);
    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), 0);
    assert_false(p.split);
    assert_int_equal(p.budget_ms, 1500 + LEASE_MS);
    tq_claimed_clear(&c);

    /* interactive without a first tile */
    c = claim("demo", t, 8, TQ_CLASS_INTERACTIVE, 0, t);
    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), 0);
    assert_false(p.split);
    tq_claimed_clear(&c);

    /* a metatile of one tile: nothing to split */
    c = claim("one", t, 1, TQ_CLASS_INTERACTIVE, 1, t);
    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), 0);
    assert_int_equal(tq_metatile_count(&p.m), 1);
    assert_false(p.split);
    assert_int_equal(p.budget_ms, 1000 + LEASE_MS);
    tq_claimed_clear(&c);
}

static void test_dead(void **state)
{
    struct tq_jobplan p;
    char why[256];
    struct tq_tile t = {10, 517, 300};
    struct tq_claimed c;

    /* not msgpack at all */
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "demo/10/512/296");
    c.payload = strdup("garbage");
    c.payload_len = 7;
    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), -1);
    assert_true(strncmp(why, "bad payload: ", 13) == 0);
    tq_claimed_clear(&c);

    /* no payload */
    memset(&c, 0, sizeof c);
    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), -1);
    assert_true(strncmp(why, "bad payload: ", 13) == 0);

    /* a first tile outside the metatile: the payload is refused */
    struct tq_tile far = {10, 100, 100};
    c = claim("demo", t, 8, TQ_CLASS_INTERACTIVE, 1, far);
    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), -1);
    assert_true(strncmp(why, "bad payload: ", 13) == 0);
    tq_claimed_clear(&c);

    c = claim("nope", t, 8, TQ_CLASS_BULK, 0, t);
    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), -1);
    assert_string_equal(why, "unknown tileset nope");
    tq_claimed_clear(&c);

    struct tq_tile deep = {15, 1, 1};
    c = claim("demo", deep, 8, TQ_CLASS_BULK, 0, deep);
    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), -1);
    assert_string_equal(why, "zoom 15 outside demo's range 0..14");
    tq_claimed_clear(&c);

    /* the payload names another metatile than the job id */
    c = claim("demo", t, 8, TQ_CLASS_BULK, 0, t);
    snprintf(c.id, sizeof c.id, "demo/10/0/0");
    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), -1);
    assert_string_equal(why, "payload names metatile demo/10/512/296 (size 8), not the job id");
    tq_claimed_clear(&c);
}

static void test_log_entries(void **state)
{
    struct tq_jobplan p;
    char why[256];
    struct tq_tile t = {10, 517, 300};
    struct tq_claimed c = claim("demo", t, 8, TQ_CLASS_INTERACTIVE, 1, t);
    struct tq_rendered_tile tiles[4] = {
        {{10, 512, 296}, NULL, 0},
        {{10, 513, 296}, NULL, 10},
        {{10, 512, 297}, NULL, 20},
        {{10, 513, 297}, NULL, 30},
    };
    struct tq_render_result res = {
        .ntiles = 4, .tiles = tiles, .total_bytes = 60, .started_ms = 1000, .sql_ms = 100.0};
    struct tq_renderlog_entry e[4];

    assert_int_equal(tq_jobplan_make(&p, *state, &c, LEASE_MS, why, sizeof why), 0);
    tq_jobplan_log_entries(&p, &c, "w1", &res, e);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(e[i].tileset, "demo");
        assert_int_equal(e[i].tile.x, tiles[i].tile.x);
        assert_int_equal(e[i].tile.y, tiles[i].tile.y);
        assert_string_equal(e[i].job_id, "demo/10/512/296");
        assert_int_equal(e[i].attempt, 1);
        assert_int_equal(e[i].reason, TQ_REASON_REQUEST);
        assert_string_equal(e[i].worker, "w1");
        assert_int_equal(e[i].started_ms, 1000);
        assert_true(e[i].duration_ms == 25.0); /* its share of the statement */
        assert_true(e[i].metatile_ms == 100.0);
        assert_int_equal(e[i].bytes, tiles[i].len);
    }

    /* a tile rendered alone: all of the statement's time; a second attempt is a retry */
    struct tq_render_result one = {.ntiles = 1, .tiles = &tiles[3], .started_ms = 5, .sql_ms = 7.5};
    c.attempt = 2;
    tq_jobplan_log_entries(&p, &c, "w1", &one, e);
    assert_true(e[0].duration_ms == 7.5);
    assert_true(e[0].metatile_ms == 7.5);
    assert_int_equal(e[0].attempt, 2);
    assert_int_equal(e[0].reason, TQ_REASON_RETRY);
    assert_int_equal(e[0].bytes, 30);
    tq_claimed_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_interactive_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_entries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

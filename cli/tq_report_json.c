/* tq_report_json — the json writer of the report (tq_report_write, see tq_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tq_report_internal.h"

static json_t *json_str_list(const char *csv)
{
    json_t *a = json_array();
    if (csv == NULL || a == NULL)
        return a;
    const char *p = csv;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n > 0)
            json_array_append_new(a, json_stringn(p, n));
        p += n + (c ? 1 : 0);
    }
    return a;
}

static json_t *json_stat(const struct tq_report *r, const struct tq_report_entry *e, int meta)
{
    char a[64], b[64], reasons[256];
    json_t *o = json_object();
    json_object_set_new(o, "tileset", json_string(tq_report_str(r, e->k.tileset, "")));
    json_object_set_new(o, "z", json_integer(e->k.z));
    json_object_set_new(o, "x", json_integer(e->k.x));
    json_object_set_new(o, "y", json_integer(e->k.y));
    if (meta) {
        json_object_set_new(o, "w", json_integer(e->k.w));
        json_object_set_new(o, "h", json_integer(e->k.h));
        json_object_set_new(o, "tile_renders", json_integer((json_int_t)e->tiles));
    }
    json_object_set_new(o, "renders", json_integer((json_int_t)e->renders));
    json_object_set_new(o, "duplicates", json_integer((json_int_t)tq_report_entry_duplicates(e)));
    json_object_set_new(o, "change_renders", json_integer((json_int_t)e->changes));
    json_object_set_new(o, "duplicate_ms", json_real(tq_report_entry_duplicate_ms(e)));
    json_object_set_new(o, "total_ms", json_real(tq_report_ms(e->total_ns)));
    json_object_set_new(o, "mean_ms",
                        json_real(e->renders ? tq_report_ms(e->total_ns) / (double)e->renders : 0));
    json_object_set_new(o, "max_ms", json_real(tq_report_ms(e->max_ns)));
    json_object_set_new(o, "first", json_string(tq_report_time_format(e->first_ms, a, sizeof a)));
    json_object_set_new(o, "last", json_string(tq_report_time_format(e->last_ms, b, sizeof b)));
    json_object_set_new(o, "reasons",
                        json_str_list(tq_report_reasons(r, e->reasons, reasons, sizeof reasons)));
    if (e->database)
        json_object_set_new(o, "database", json_string(tq_report_str(r, e->database, "")));
    if (e->user)
        json_object_set_new(o, "user", json_string(tq_report_str(r, e->user, "")));
    if (e->k.tables)
        json_object_set_new(o, "tables", json_str_list(tq_report_str(r, e->k.tables, NULL)));
    return o;
}

int tq_report_json_write(struct tq_report *r, const struct tq_report_entry **tt, size_t nt,
                         const struct tq_report_entry **mt, size_t nm, FILE *out, char *err,
                         size_t errsize)
{
    struct tq_report_summary s;
    char a[64];
    int rc = -1;
    tq_report_summarize(r, &s);

    json_t *root = json_object();
    json_object_set_new(root, "source", json_string(r->source));
    json_t *flt = json_object();
    if (r->has_filter) {
        if (r->filter.since_ms != TQ_TIME_UNSET)
            json_object_set_new(
                flt, "since", json_string(tq_report_time_format(r->filter.since_ms, a, sizeof a)));
        if (r->filter.until_ms != TQ_TIME_UNSET)
            json_object_set_new(
                flt, "until", json_string(tq_report_time_format(r->filter.until_ms, a, sizeof a)));
        if (r->filter.tileset)
            json_object_set_new(flt, "tileset", json_string(r->filter.tileset));
        json_object_set_new(flt, "zmin", json_integer(r->filter.zmin));
        json_object_set_new(flt, "zmax", json_integer(r->filter.zmax));
    }
    json_object_set_new(root, "filter", flt);

    json_t *sum = json_object();
    json_object_set_new(sum, "renders", json_integer((json_int_t)s.renders));
    json_object_set_new(sum, "tiles", json_integer((json_int_t)s.tiles));
    json_object_set_new(sum, "duplicates", json_integer((json_int_t)s.duplicates));
    json_object_set_new(sum, "metatile_renders", json_integer((json_int_t)s.metatile_renders));
    json_object_set_new(sum, "change_renders", json_integer((json_int_t)s.change_renders));
    json_object_set_new(sum, "render_seconds", json_real(s.render_ms / 1000));
    json_object_set_new(sum, "duplicate_seconds", json_real(s.duplicate_ms / 1000));
    json_object_set_new(sum, "duplicate_share", json_real(s.share));
    json_object_set_new(sum, "first",
                        s.renders ? json_string(tq_report_time_format(s.first_ms, a, sizeof a))
                                  : json_null());
    json_object_set_new(sum, "last",
                        s.renders ? json_string(tq_report_time_format(s.last_ms, a, sizeof a))
                                  : json_null());
    json_object_set_new(root, "summary", sum);

    if (r->input.present) {
        const struct tq_report_input *in = &r->input;
        json_t *o = json_object();
        json_object_set_new(o, "files", json_integer((json_int_t)in->files));
        json_object_set_new(o, "lines", json_integer((json_int_t)in->lines));
        json_object_set_new(o, "entries", json_integer((json_int_t)in->entries));
        json_object_set_new(o, "render_queries", json_integer((json_int_t)in->render_queries));
        json_object_set_new(o, "skipped", json_integer((json_int_t)in->skipped));
        json_object_set_new(o, "off_grid", json_integer((json_int_t)in->unresolved));
        json_object_set_new(o, "malformed", json_integer((json_int_t)in->malformed));
        json_object_set_new(o, "truncated", json_integer((json_int_t)in->truncated));
        json_object_set_new(root, "input", o);
    }

    json_t *zooms = json_array();
    for (int z = 0; z < TQ_REPORT_NZOOM; z++) {
        struct tq_report_zoom zs;
        if (r->zrenders[z] == 0)
            continue;
        tq_report_zoom_stats(r, z, &zs);
        json_t *o = json_object();
        json_object_set_new(o, "z", json_integer(z));
        json_object_set_new(o, "renders", json_integer((json_int_t)zs.renders));
        json_object_set_new(o, "tiles", json_integer((json_int_t)zs.tiles));
        json_object_set_new(o, "duplicates", json_integer((json_int_t)zs.duplicates));
        json_object_set_new(o, "render_seconds", json_real(zs.render_ms / 1000));
        json_object_set_new(o, "duplicate_seconds", json_real(zs.duplicate_ms / 1000));
        json_array_append_new(zooms, o);
    }
    json_object_set_new(root, "zooms", zooms);

    json_t *tiles = json_array();
    for (size_t i = 0; i < nt; i++)
        json_array_append_new(tiles, json_stat(r, tt[i], 0));
    json_object_set_new(root, "top_tiles", tiles);
    json_t *metas = json_array();
    for (size_t i = 0; i < nm; i++)
        json_array_append_new(metas, json_stat(r, mt[i], 1));
    json_object_set_new(root, "top_metatiles", metas);

    if (json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) {
        snprintf(err, errsize, "json output failed");
        goto cleanup;
    }
    fputc('\n', out);
    rc = 0;
cleanup:
    json_decref(root);
    return rc;
}

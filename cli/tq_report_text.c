/* tq_report_text — the text writer of the report (tq_report_write, see tq_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_report_internal.h"

static void fmt_count(uint64_t v, char *buf, size_t n)
{
    snprintf(buf, n, "%llu", (unsigned long long)v);
}

int tq_report_text_write(struct tq_report *r, const struct tq_report_entry **tt, size_t nt,
                         const struct tq_report_entry **mt, size_t nm, FILE *out)
{
    struct tq_report_summary s;
    char a[64], b[64], reasons[256];
    tq_report_summarize(r, &s);

    fprintf(out, "tileq duplicate-render report (%s)\n", r->source);
    if (r->renders)
        fprintf(out, "period             %s .. %s\n",
                tq_report_time_format(s.first_ms, a, sizeof a),
                tq_report_time_format(s.last_ms, b, sizeof b));
    if (r->input.present) {
        const struct tq_report_input *in = &r->input;
        fprintf(
            out,
            "input              %llu files, %llu lines, %llu log entries: %llu render "
            "queries, %llu skipped (not renders), %llu off-grid, %llu malformed, %llu truncated\n",
            (unsigned long long)in->files, (unsigned long long)in->lines,
            (unsigned long long)in->entries, (unsigned long long)in->render_queries,
            (unsigned long long)in->skipped, (unsigned long long)in->unresolved,
            (unsigned long long)in->malformed, (unsigned long long)in->truncated);
    }
    fprintf(out, "renders            %llu\n", (unsigned long long)s.renders);
    fprintf(out, "distinct tiles     %llu\n", (unsigned long long)s.tiles);
    fprintf(out, "duplicate renders  %llu\n", (unsigned long long)s.duplicates);
    if (s.change_renders > 0)
        fprintf(out,
                "change renders     %llu (after a data change, tileq watch: required, not waste)\n",
                (unsigned long long)s.change_renders);
    fprintf(out, "metatile renders   %llu\n", (unsigned long long)s.metatile_renders);
    fprintf(out, "render seconds     %.3f\n", s.render_ms / 1000);
    fprintf(out, "duplicate seconds  %.3f (%.1f%% of render time)\n", s.duplicate_ms / 1000,
            s.share * 100);

    fprintf(out, "\nper zoom\n%4s %10s %10s %10s %12s %12s %7s\n", "z", "renders", "tiles", "dups",
            "seconds", "dup_seconds", "dup%");
    for (int z = 0; z < TQ_REPORT_NZOOM; z++) {
        struct tq_report_zoom zs;
        if (r->zrenders[z] == 0)
            continue;
        tq_report_zoom_stats(r, z, &zs);
        fprintf(out, "%4d %10llu %10llu %10llu %12.3f %12.3f %6.1f%%\n", z,
                (unsigned long long)zs.renders, (unsigned long long)zs.tiles,
                (unsigned long long)zs.duplicates, zs.render_ms / 1000, zs.duplicate_ms / 1000,
                zs.render_ms > 0 ? 100 * zs.duplicate_ms / zs.render_ms : 0.0);
    }

    for (int pass = 0; pass < 2; pass++) {
        const struct tq_report_entry **v = pass ? mt : tt;
        size_t n = pass ? nm : nt;
        /* column width of the name */
        int w = 8;
        for (size_t i = 0; i < n; i++) {
            int l = (int)strlen(tq_report_str(r, v[i]->k.tileset, "-"));
            if (l > w)
                w = l;
        }
        fprintf(out, "\ntop %zu %s by duplicates\n", n, pass ? "metatiles" : "tiles");
        fprintf(out, "%-*s %-20s %8s %8s %11s %10s %10s  %-24s %-24s %s\n", w, "tileset",
                pass ? "z/x/y (w x h)" : "z/x/y", "renders", "dups", "total_ms", "mean_ms",
                "max_ms", "first", "last",
                tq_report_pg_columns(r) ? "reasons / database user tables" : "reasons");
        for (size_t i = 0; i < n; i++) {
            const struct tq_report_entry *e = v[i];
            char tile[64], cnt[32], dups[32];
            if (pass && e->k.w)
                snprintf(tile, sizeof tile, "%d/%u/%u (%ux%u)", e->k.z, e->k.x, e->k.y, e->k.w,
                         e->k.h);
            else
                snprintf(tile, sizeof tile, "%d/%u/%u", e->k.z, e->k.x, e->k.y);
            fmt_count(e->renders, cnt, sizeof cnt);
            fmt_count(tq_report_entry_duplicates(e), dups, sizeof dups);
            fprintf(out, "%-*s %-20s %8s %8s %11.1f %10.1f %10.1f  %-24s %-24s %s", w,
                    tq_report_str(r, e->k.tileset, "-"), tile, cnt, dups, tq_report_ms(e->total_ns),
                    e->renders ? tq_report_ms(e->total_ns) / (double)e->renders : 0.0,
                    tq_report_ms(e->max_ns), tq_report_time_format(e->first_ms, a, sizeof a),
                    tq_report_time_format(e->last_ms, b, sizeof b),
                    tq_report_reasons(r, e->reasons, reasons, sizeof reasons));
            if (tq_report_pg_columns(r) && (e->database || e->user || e->k.tables))
                fprintf(out, " / %s %s %s", tq_report_str(r, e->database, "-"),
                        tq_report_str(r, e->user, "-"), tq_report_str(r, e->k.tables, "-"));
            fputc('\n', out);
        }
    }
    return 0;
}

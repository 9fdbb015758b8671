/* tq_report_html — the html writer of the report (tq_report_write, see tq_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_report_internal.h"

static void html_esc(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static void html_rows(struct tq_report *r, const struct tq_report_entry **v, size_t n, int meta,
                      FILE *out)
{
    char a[64], b[64], reasons[256];
    int pg = !meta && tq_report_pg_columns(r);
    fputs("<table><tr><th>tileset</th><th>tile</th><th>renders</th><th>duplicates</th><th>total "
          "ms</th>"
          "<th>mean ms</th><th>max ms</th><th>first</th><th>last</th><th>reasons</th>",
          out);
    if (pg)
        fputs("<th>database</th><th>user</th><th>tables</th>", out);
    fputs("</tr>\n", out);
    for (size_t i = 0; i < n; i++) {
        const struct tq_report_entry *e = v[i];
        fputs("<tr><td>", out);
        html_esc(out, tq_report_str(r, e->k.tileset, "-"));
        fprintf(out, "</td><td>%d/%u/%u", e->k.z, e->k.x, e->k.y);
        if (meta && e->k.w)
            fprintf(out, " (%ux%u)", e->k.w, e->k.h);
        fprintf(out,
                "</td><td class=n>%llu</td><td class=n>%llu</td><td class=n>%.1f</td>"
                "<td class=n>%.1f</td><td class=n>%.1f</td><td>%s</td><td>%s</td><td>",
                (unsigned long long)e->renders, (unsigned long long)tq_report_entry_duplicates(e),
                tq_report_ms(e->total_ns),
                e->renders ? tq_report_ms(e->total_ns) / (double)e->renders : 0.0,
                tq_report_ms(e->max_ns), tq_report_time_format(e->first_ms, a, sizeof a),
                tq_report_time_format(e->last_ms, b, sizeof b));
        html_esc(out, tq_report_reasons(r, e->reasons, reasons, sizeof reasons));
        if (pg) {
            fputs("</td><td>", out);
            html_esc(out, tq_report_str(r, e->database, ""));
            fputs("</td><td>", out);
            html_esc(out, tq_report_str(r, e->user, ""));
            fputs("</td><td>", out);
            html_esc(out, tq_report_str(r, e->k.tables, ""));
        }
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

int tq_report_html_write(struct tq_report *r, const struct tq_report_entry **tt, size_t nt,
                         const struct tq_report_entry **mt, size_t nm, FILE *out)
{
    struct tq_report_summary s;
    char a[64], b[64];
    tq_report_summarize(r, &s);

    fputs("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n"
          "<title>tileq duplicate-render report</title>\n<style>\n"
          "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}\n"
          "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}\n"
          ".cards{display:flex;flex-wrap:wrap;gap:1em}\n"
          ".card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}\n"
          ".card b{display:block;font-size:1.5em}\n"
          "table{border-collapse:collapse;font-size:13px}\n"
          "th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left}\n"
          "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
          ".r{fill:#4a7bb7}.d{fill:#d9534f}svg text{font-size:11px;fill:#444}\n"
          "</style></head><body>\n<h1>tileq duplicate-render report</h1>\n<p>Source: ",
          out);
    html_esc(out, r->source);
    if (r->renders)
        fprintf(out, " &middot; %s &ndash; %s", tq_report_time_format(s.first_ms, a, sizeof a),
                tq_report_time_format(s.last_ms, b, sizeof b));
    fputs("</p>\n<div class=cards>\n", out);
    fprintf(out, "<div class=card>renders<b>%llu</b></div>\n", (unsigned long long)s.renders);
    fprintf(out, "<div class=card>distinct tiles<b>%llu</b></div>\n", (unsigned long long)s.tiles);
    fprintf(out, "<div class=card>duplicate renders<b>%llu</b></div>\n",
            (unsigned long long)s.duplicates);
    fprintf(out, "<div class=card>render seconds<b>%.1f</b></div>\n", s.render_ms / 1000);
    fprintf(out, "<div class=card>seconds on duplicates<b>%.1f</b>%.1f%% of render time</div>\n",
            s.duplicate_ms / 1000, s.share * 100);
    fputs("</div>\n", out);
    if (r->input.present)
        fprintf(out,
                "<p>Input: %llu files, %llu lines, %llu log entries, %llu render queries, "
                "%llu skipped (not renders), %llu off-grid, %llu malformed, %llu truncated.</p>\n",
                (unsigned long long)r->input.files, (unsigned long long)r->input.lines,
                (unsigned long long)r->input.entries, (unsigned long long)r->input.render_queries,
                (unsigned long long)r->input.skipped, (unsigned long long)r->input.unresolved,
                (unsigned long long)r->input.malformed, (unsigned long long)r->input.truncated);

    /* Bar chart: per zoom, renders (blue) and duplicates (red) side by side. */
    uint64_t maxr = 1;
    int nz = 0;
    for (int z = 0; z < TQ_REPORT_NZOOM; z++)
        if (r->zrenders[z]) {
            nz++;
            if (r->zrenders[z] > maxr)
                maxr = r->zrenders[z];
        }
    fputs("<h2>Renders and duplicates per zoom</h2>\n", out);
    if (nz > 0) {
        int slot = 48, chart_h = 200, top = 20, left = 50;
        int width = left + nz * slot + 20, height = top + chart_h + 40;
        fprintf(out,
                "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' role='img' "
                "aria-label='renders and duplicates per zoom'>\n",
                width, height);
        fprintf(out, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#999'/>\n", left, top + chart_h,
                width - 10, top + chart_h);
        fprintf(out, "<text x='%d' y='%d' text-anchor='end'>%llu</text>\n", left - 6, top + 4,
                (unsigned long long)maxr);
        fprintf(out, "<text x='%d' y='%d' text-anchor='end'>0</text>\n", left - 6,
                top + chart_h + 4);
        int i = 0;
        for (int z = 0; z < TQ_REPORT_NZOOM; z++) {
            struct tq_report_zoom zs;
            if (r->zrenders[z] == 0)
                continue;
            tq_report_zoom_stats(r, z, &zs);
            int x = left + i * slot + 6;
            double hr = (double)chart_h * (double)zs.renders / (double)maxr;
            double hd = (double)chart_h * (double)zs.duplicates / (double)maxr;
            fprintf(out,
                    "<rect class=r x='%d' y='%.1f' width='16' height='%.1f'><title>z%d: %llu "
                    "renders</title></rect>\n",
                    x, top + chart_h - hr, hr, z, (unsigned long long)zs.renders);
            fprintf(out,
                    "<rect class=d x='%d' y='%.1f' width='16' height='%.1f'><title>z%d: %llu "
                    "duplicates</title></rect>\n",
                    x + 18, top + chart_h - hd, hd, z, (unsigned long long)zs.duplicates);
            fprintf(out, "<text x='%d' y='%d' text-anchor='middle'>z%d</text>\n", x + 17,
                    top + chart_h + 16, z);
            i++;
        }
        fprintf(out,
                "<rect class=r x='%d' y='%d' width='10' height='10'/><text x='%d' y='%d'>renders"
                "</text><rect class=d x='%d' y='%d' width='10' height='10'/><text x='%d' "
                "y='%d'>duplicates</text>\n</svg>\n",
                left, height - 14, left + 14, height - 5, left + 90, height - 14, left + 104,
                height - 5);
    } else {
        fputs("<p>No renders.</p>\n", out);
    }

    fputs("<h2>Per zoom</h2>\n<table><tr><th>z</th><th>renders</th><th>tiles</th>"
          "<th>duplicates</th><th>seconds</th><th>duplicate seconds</th></tr>\n",
          out);
    for (int z = 0; z < TQ_REPORT_NZOOM; z++) {
        struct tq_report_zoom zs;
        if (r->zrenders[z] == 0)
            continue;
        tq_report_zoom_stats(r, z, &zs);
        fprintf(out,
                "<tr><td>%d</td><td class=n>%llu</td><td class=n>%llu</td><td class=n>%llu</td>"
                "<td class=n>%.3f</td><td class=n>%.3f</td></tr>\n",
                z, (unsigned long long)zs.renders, (unsigned long long)zs.tiles,
                (unsigned long long)zs.duplicates, zs.render_ms / 1000, zs.duplicate_ms / 1000);
    }
    fputs("</table>\n", out);
    fprintf(out, "<h2>Top %zu tiles by duplicates</h2>\n", nt);
    html_rows(r, tt, nt, 0, out);
    fprintf(out, "<h2>Top %zu metatiles by duplicates</h2>\n", nm);
    html_rows(r, mt, nm, 1, out);
    fputs("</body></html>\n", out);
    return 0;
}

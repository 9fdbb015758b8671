/* tq_report_csv — the csv writer of the report (tq_report_write, see tq_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_report_internal.h"

static void csv_field(FILE *out, const char *s, int last)
{
    if (s == NULL)
        s = "";
    if (strpbrk(s, ",\"\r\n") != NULL) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputc(last ? '\n' : ',', out);
}

int tq_report_csv_write(struct tq_report *r, const struct tq_report_entry **tt, size_t nt,
                        FILE *out)
{
    int pg = tq_report_pg_columns(r);
    fputs(pg ? "tileset,z,x,y,renders,duplicates,total_ms,mean_ms,max_ms,first,last,reasons,"
               "database,user,tables\n"
             : "tileset,z,x,y,renders,duplicates,total_ms,mean_ms,max_ms,first,last,reasons\n",
          out);
    for (size_t i = 0; i < nt; i++) {
        const struct tq_report_entry *e = tt[i];
        char a[64], b[64], reasons[256];
        csv_field(out, tq_report_str(r, e->k.tileset, ""), 0);
        fprintf(out, "%d,%u,%u,%llu,%llu,%.3f,%.3f,%.3f,", e->k.z, e->k.x, e->k.y,
                (unsigned long long)e->renders, (unsigned long long)tq_report_entry_duplicates(e),
                tq_report_ms(e->total_ns), tq_report_ms(e->total_ns) / (double)e->renders,
                tq_report_ms(e->max_ns));
        csv_field(out, tq_report_time_format(e->first_ms, a, sizeof a), 0);
        csv_field(out, tq_report_time_format(e->last_ms, b, sizeof b), 0);
        csv_field(out, tq_report_reasons(r, e->reasons, reasons, sizeof reasons), !pg);
        if (pg) {
            csv_field(out, tq_report_str(r, e->database, ""), 0);
            csv_field(out, tq_report_str(r, e->user, ""), 0);
            csv_field(out, tq_report_str(r, e->k.tables, ""), 1);
        }
    }
    return 0;
}

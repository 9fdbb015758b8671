/* tq_report_write — see tq_report.h: picks the top entries and hands them to the writer of
 * the format asked for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_report_internal.h"

int tq_report_format_parse(const char *s, enum tq_report_format *out)
{
    static const char *const names[] = {"text", "csv", "json", "html"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum tq_report_format)i;
            return 0;
        }
    return -1;
}

int tq_report_write(struct tq_report *r, enum tq_report_format fmt, size_t top, FILE *out,
                    char *err, size_t errsize)
{
    size_t nt = 0, nm = 0;
    const struct tq_report_entry **tt = tq_report_top(r, &r->tiles, top, &nt);
    const struct tq_report_entry **mt = tq_report_top(r, &r->metas, top, &nm);
    int rc = -1;

    if ((nt == 0 && top > 0 && r->tiles.n > 0) || (nm == 0 && top > 0 && r->metas.n > 0)) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    switch (fmt) {
    case TQ_FMT_TEXT:
        rc = tq_report_text_write(r, tt, nt, mt, nm, out);
        break;
    case TQ_FMT_CSV:
        rc = tq_report_csv_write(r, tt, nt, out);
        break;
    case TQ_FMT_JSON:
        rc = tq_report_json_write(r, tt, nt, mt, nm, out, err, errsize);
        break;
    case TQ_FMT_HTML:
        rc = tq_report_html_write(r, tt, nt, mt, nm, out);
        break;
    }
    if (rc == 0 && (fflush(out) != 0 || ferror(out))) {
        snprintf(err, errsize, "write failed");
        rc = -1;
    }
cleanup:
    free(tt);
    free(mt);
    return rc;
}

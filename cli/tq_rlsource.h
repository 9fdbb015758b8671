/* tq_rlsource — render records from tileq's own render log, the table tileq.render_log
 * (sql/render_log.sql), streamed row by row over libpq (single-row mode), filtered in SQL
 * with the report's filter. */
#ifndef TQ_RLSOURCE_H
#define TQ_RLSOURCE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "tq_config.h"
#include "tq_report.h"

struct tq_rlsource;

/* Starts the query on pg (borrowed; it must outlive the source and not be used for
 * anything else until the source is closed). cfg (borrowed, may be NULL) gives the
 * tilesets' metatile sizes. A missing table reads as an empty log (*missing set to 1).
 * Returns NULL with err set on failure. */
struct tq_rlsource *tq_rlsource_open(PGconn *pg, const struct tq_report_filter *f,
                                     const struct tq_config *cfg, int *missing, char *err,
                                     size_t errsize);

/* tq_report_next_fn: 1 rec filled (strings valid until the next call), 0 end, -1 error. */
int tq_rlsource_next(void *src, struct tq_report_rec *rec, char *err, size_t errsize);

/* Stops the query (draining what is left) and frees the source. */
void tq_rlsource_close(struct tq_rlsource *s);

#endif

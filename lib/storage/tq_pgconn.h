/* tq_pgconn — the one way tileq programs connect to PostgreSQL: a conninfo (string or URI)
 * and, apart from it, the password of the configuration's pg_password_file (tq_config.h),
 * which never goes through a command line or a printed conninfo. */
#ifndef TQ_PGCONN_H
#define TQ_PGCONN_H

#include <libpq-fe.h>

/* Connects (blocking) to conninfo, expanded as libpq's dbname, with app as
 * fallback_application_name (NULL: none) and connect_timeout seconds (NULL: libpq's
 * default); password (NULL: none) wins over one in conninfo, and without it libpq looks
 * as always (PGPASSWORD, the password file). Returns what PQconnectdbParams returns (NULL
 * only out of memory): the caller checks PQstatus and PQfinish()es it. */
PGconn *tq_pg_connect(const char *conninfo, const char *password, const char *app,
                      const char *connect_timeout);

#endif

/* tq_pgconn — see tq_pgconn.h. */
#include "tq_pgconn.h"

#include <stddef.h>

PGconn *tq_pg_connect(const char *conninfo, const char *password, const char *app,
                      const char *connect_timeout)
{
    const char *keys[5], *vals[5];
    int n = 0;

    /* Later keywords win: conninfo (expanded from dbname) overrides the defaults before it,
     * and the password after it overrides conninfo's. */
    if (app != NULL) {
        keys[n] = "fallback_application_name";
        vals[n++] = app;
    }
    if (connect_timeout != NULL) {
        keys[n] = "connect_timeout";
        vals[n++] = connect_timeout;
    }
    keys[n] = "dbname";
    vals[n++] = conninfo ? conninfo : "";
    if (password != NULL) {
        keys[n] = "password";
        vals[n++] = password;
    }
    keys[n] = NULL;
    vals[n] = NULL;
    return PQconnectdbParams(keys, vals, 1);
}

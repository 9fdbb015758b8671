/* tq_secret — passwords kept out of command lines and out of what tileq prints.
 *
 * A password comes from a file (tq_secret_read_file: its first line) or the environment
 * rather than a command line, which `ps` shows every user. Whatever tileq prints that may
 * hold one — a Redis URL, a PostgreSQL conninfo string or URI — goes through a redact
 * function first, which replaces the password with "***" and keeps the rest (host, port,
 * user, database), so a message still says where. */
#ifndef TQ_SECRET_H
#define TQ_SECRET_H

#include <stddef.h>

#define TQ_SECRET_MAX 1024 /* bytes of a password, at most */
#define TQ_SECRET_MASK "***"

/* Reads the password in the file at path: its first line, without the line end ("\n" or
 * "\r\n"). 0 with *out malloc'd (the caller frees it, after overwriting it if it cares),
 * or -1 with err naming the file and why (missing, unreadable, empty, longer than
 * TQ_SECRET_MAX, a NUL byte) — never any of its content. */
int tq_secret_read_file(const char *path, char **out, char *err, size_t errsize);

/* Overwrites the string s with NUL bytes, then frees it (a password would otherwise linger
 * in freed heap memory). NULL is fine. */
void tq_secret_free(char *s);

/* url ("scheme://[user][:password]@host..."), with the password replaced by
 * TQ_SECRET_MASK, into buf; also a "password=" query parameter. Anything else is copied
 * as it is. Returns buf (truncated to size; NULL url gives ""). */
const char *tq_secret_redact_url(const char *url, char *buf, size_t size);

/* A PostgreSQL conninfo: a URI (postgres:// or postgresql://, as tq_secret_redact_url) or
 * "key=value ..." pairs, where the value of password (quoted or not) becomes
 * TQ_SECRET_MASK. Returns buf. */
const char *tq_secret_redact_conninfo(const char *conninfo, char *buf, size_t size);

/* 1 when tq_secret_redact_url / _conninfo would change s (it holds a password). */
int tq_secret_url_has_password(const char *url);
int tq_secret_conninfo_has_password(const char *conninfo);

#endif

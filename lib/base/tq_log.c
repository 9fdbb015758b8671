/* tq_log — see tq_log.h.
 *
 * A line is "ts=<UTC ISO-8601 with ms> level=<level> prog=<prog> event=<event>[ <fields>]".
 * tq_log_format() builds it without the trailing newline; tq_log() adds '\n' and writes the
 * whole line with a single write(2). */
#include "tq_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define TQ_LOG_LINE_MAX 8192

static char log_prog[64] = "tileq";
static enum tq_log_level log_min_level = TQ_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static const char *level_name(enum tq_log_level level)
{
    if ((int)level < TQ_LOG_DEBUG || level > TQ_LOG_ERROR)
        return "unknown";
    return level_names[level];
}

void tq_log_init(const char *prog, enum tq_log_level min_level)
{
    snprintf(log_prog, sizeof log_prog, "%s", prog ? prog : "tileq");
    log_min_level = min_level;
}

int tq_log_level_parse(const char *name, enum tq_log_level *out)
{
    if (name == NULL)
        return -1;
    for (int i = TQ_LOG_DEBUG; i <= TQ_LOG_ERROR; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum tq_log_level)i;
            return 0;
        }
    }
    return -1;
}

static int needs_quoting(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == ' ' || *p == '"' || *p == '=' || *p < 0x20 || *p == 0x7f)
            return 1;
    }
    return 0;
}

const char *tq_log_quote(const char *s, char *buf, size_t bufsize)
{
    if (bufsize == 0)
        return buf;
    if (s == NULL)
        s = "";
    if (!needs_quoting(s)) {
        snprintf(buf, bufsize, "%s", s);
        return buf;
    }
    if (bufsize < 3) { /* not even room for "" */
        buf[0] = '\0';
        return buf;
    }
    size_t o = 0;
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[5];
        size_t n;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            n = 2;
        } else if (*p == '\n') {
            memcpy(esc, "\\n", 2);
            n = 2;
        } else if (*p == '\r') {
            memcpy(esc, "\\r", 2);
            n = 2;
        } else if (*p == '\t') {
            memcpy(esc, "\\t", 2);
            n = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
            n = 4;
        } else {
            esc[0] = (char)*p;
            n = 1;
        }
        /* keep room for the closing quote and the NUL; never split an escape */
        if (o + n + 2 > bufsize)
            break;
        memcpy(buf + o, esc, n);
        o += n;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

size_t tq_log_format(char *buf, size_t bufsize, enum tq_log_level level, const char *event,
                     const char *fields)
{
    struct timespec ts;
    struct tm tm;
    char tsbuf[96]; /* room for any int in every field: never truncated */
    int n;

    if (bufsize == 0)
        return 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(tsbuf, sizeof tsbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ts.tv_nsec / 1000000L));
    n = snprintf(buf, bufsize, "ts=%s level=%s prog=%s event=%s%s%s", tsbuf, level_name(level),
                 log_prog, event ? event : "-", (fields && fields[0]) ? " " : "",
                 fields ? fields : "");
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n >= bufsize ? bufsize - 1 : (size_t)n;
}

void tq_log(enum tq_log_level level, const char *event, const char *fmt, ...)
{
    char fields[TQ_LOG_LINE_MAX];
    char line[TQ_LOG_LINE_MAX + 1];
    va_list ap;
    int saved_errno = errno;

    if (level < log_min_level)
        return;
    fields[0] = '\0';
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(fields, sizeof fields, fmt, ap);
        va_end(ap);
    }
    size_t len = tq_log_format(line, sizeof line - 1, level, event, fields);
    for (size_t i = 0; i < len; i++) { /* one event, one line, whatever the caller passed */
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    line[len++] = '\n';
    const char *p = line;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        len -= (size_t)w;
    }
    errno = saved_errno;
}

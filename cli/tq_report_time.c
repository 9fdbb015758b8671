/* tq_report_time — see tq_report.h (tq_report_time_format, tq_report_time_parse). */
#include "tq_report.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *tq_report_time_format(int64_t ms, char *buf, size_t bufsize)
{
    if (ms == TQ_TIME_UNSET || ms == INT64_MAX || ms == INT64_MIN) {
        snprintf(buf, bufsize, "-");
        return buf;
    }
    time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int milli = (int)(ms - (int64_t)sec * 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, bufsize, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
    return buf;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil; a day past the month's end runs into the next month, as timegm's). Not
 * timegm: its normalizing loop was a few percent of tileq report --pglog's time (one
 * time per log message). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

int tq_report_time_parse(const char *s, int64_t now_ms, int64_t *out)
{
    if (s == NULL || *s == '\0')
        return -1;
    if (s[0] == '@') {
        char *end;
        double v = strtod(s + 1, &end);
        /* beyond ±9e15 s the milliseconds do not fit an int64_t */
        if (end == s + 1 || *end != '\0' || !isfinite(v) || fabs(v) > 9e15)
            return -1;
        *out = (int64_t)llround(v * 1000);
        return 0;
    }
    size_t len = strlen(s);
    if (len >= 2 && isdigit((unsigned char)s[0]) && strchr("smhd", s[len - 1]) &&
        strspn(s, "0123456789") == len - 1) {
        errno = 0;
        int64_t n = strtoll(s, NULL, 10);
        int64_t unit = s[len - 1] == 's'   ? 1000
                       : s[len - 1] == 'm' ? 60000
                       : s[len - 1] == 'h' ? 3600000
                                           : 86400000;
        /* strtoll clamps what it cannot hold; n * unit must not overflow either */
        if (errno != 0 || n > INT64_MAX / unit)
            return -1;
        *out = now_ms - n * unit;
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, milli = 0;
    if (len < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -1;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi))
            return -1;
        p += 6;
        if (*p == ':') {
            if (digits(p + 1, 2, &sec))
                return -1;
            p += 3;
            if (*p == '.') {
                p++;
                int scale = 100;
                while (isdigit((unsigned char)*p)) {
                    milli += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
    }
    int64_t off_min = 0;
    if (*p == ' ')
        p++;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om = 0, sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh))
            return -1;
        p += 3;
        if (*p == ':')
            p++;
        if (isdigit((unsigned char)*p)) {
            if (digits(p, 2, &om))
                return -1;
            p += 2;
        }
        off_min = sign * (oh * 60 + om);
    } else if (strcmp(p, "UTC") == 0 || strcmp(p, "GMT") == 0) {
        p += 3;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    *out = t * 1000 + milli - off_min * 60000;
    return 0;
}

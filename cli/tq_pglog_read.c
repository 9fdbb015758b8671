/* tq_pglog_read — see tq_pglog_read.h. */
#include "tq_pglog_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "tq_buf.h"

struct tq_pglog_read {
    const char *path; /* borrowed */
    gzFile gz;
    char in[65536];
    size_t inpos, inlen;
    int in_eof, line_cut;
    struct tq_buf line;
};

struct tq_pglog_read *tq_pglog_read_open(const char *path, char *err, size_t errsize)
{
    struct tq_pglog_read *r;
    gzFile gz;

    if (strcmp(path, "-") == 0) {
        int fd = dup(0);
        gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
        if (gz == NULL && fd >= 0)
            close(fd);
    } else {
        gz = gzopen(path, "rb");
    }
    if (gz == NULL) {
        snprintf(err, errsize, "%s: %s", path, errno ? strerror(errno) : "cannot open");
        return NULL;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        gzclose(gz);
        snprintf(err, errsize, "%s: out of memory", path);
        return NULL;
    }
    gzbuffer(gz, 1 << 17);
    r->path = path;
    r->gz = gz;
    return r;
}

int tq_pglog_read_line(struct tq_pglog_read *r, const char **line, int *cut, char *err,
                       size_t errsize)
{
    tq_buf_reset(&r->line);
    r->line_cut = 0;
    for (;;) {
        if (r->inpos == r->inlen) {
            if (r->in_eof) {
                if (r->line.len == 0 && !r->line_cut)
                    return 0;
                goto line_done;
            }
            int n = gzread(r->gz, r->in, sizeof r->in);
            if (n < 0) {
                int errnum;
                const char *msg = gzerror(r->gz, &errnum);
                snprintf(err, errsize, "%s: %s", r->path,
                         errnum == Z_ERRNO ? strerror(errno) : msg);
                return -1;
            }
            r->inpos = 0;
            r->inlen = (size_t)n;
            if (n == 0) {
                r->in_eof = 1;
                continue;
            }
        }
        char *start = r->in + r->inpos;
        char *nl = memchr(start, '\n', r->inlen - r->inpos);
        size_t n = nl ? (size_t)(nl - start) : r->inlen - r->inpos;
        if (r->line.len + n > TQ_PGLOG_MAX_LINE) {
            r->line_cut = 1;
        } else if (tq_buf_append(&r->line, start, n) != 0) {
            r->line_cut = 1;
        }
        r->inpos += n + (nl ? 1 : 0);
        if (nl) {
            /* "\r\n": the '\r' may have come with the previous read, so it is cut off the
             * text here, not before appending */
            if (r->line.len > 0 && r->line.data[r->line.len - 1] == '\r')
                r->line.data[r->line.len - 1] = '\0';
            goto line_done;
        }
    }
line_done:
    *line = tq_buf_str(&r->line);
    *cut = r->line_cut;
    return 1;
}

void tq_pglog_read_close(struct tq_pglog_read *r)
{
    if (r == NULL)
        return;
    if (r->gz)
        gzclose(r->gz);
    tq_buf_free(&r->line);
    free(r);
}

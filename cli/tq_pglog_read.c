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
    uint64_t pos;      /* file offset of in[inpos] */
    uint64_t line_off; /* file offset of the last line returned */
    int in_eof, line_cut;
    struct tq_buf line;
};

struct tq_pglog_read *tq_pglog_read_open(const char *path, char *err, size_t errsize)
{
    return tq_pglog_read_open_at(path, 0, err, errsize);
}

int tq_pglog_read_is_gzip(const char *path)
{
    unsigned char m[2];
    FILE *f = strcmp(path, "-") == 0 ? NULL : fopen(path, "rb");
    int gz = f != NULL && fread(m, 1, 2, f) == 2 && m[0] == 0x1f && m[1] == 0x8b;
    if (f)
        fclose(f);
    return gz;
}

uint64_t tq_pglog_read_offset(const struct tq_pglog_read *r)
{
    return r->line_off;
}

struct tq_pglog_read *tq_pglog_read_open_at(const char *path, uint64_t offset, char *err,
                                            size_t errsize)
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
    /* a plain file is read by zlib as it is (gzdirect), and gzseek is then an lseek */
    if (offset > 0 && gzseek(gz, (z_off_t)offset, SEEK_SET) != (z_off_t)offset) {
        snprintf(err, errsize, "%s: cannot seek to byte %llu", path, (unsigned long long)offset);
        tq_pglog_read_close(r);
        return NULL;
    }
    r->pos = offset;
    return r;
}

int tq_pglog_read_line(struct tq_pglog_read *r, const char **line, int *cut, char *err,
                       size_t errsize)
{
    tq_buf_reset(&r->line);
    r->line_cut = 0;
    r->line_off = r->pos;
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
        size_t keep = n;
        if (r->line.len + keep > TQ_PGLOG_MAX_LINE) { /* keep the head, skip the rest */
            keep = TQ_PGLOG_MAX_LINE - r->line.len;
            r->line_cut = 1;
        }
        if (keep > 0 && tq_buf_append(&r->line, start, keep) != 0)
            r->line_cut = 1;
        r->inpos += n + (nl ? 1 : 0);
        r->pos += n + (nl ? 1 : 0);
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

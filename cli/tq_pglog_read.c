/* tq_pglog_read — see tq_pglog_read.h. */
#include "tq_pglog_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "tq_buf.h"

struct tq_pglog_read {
    const char *path; /* borrowed */
    gzFile gz;        /* gzip files and stdin; NULL for a plain file */
    int fd;           /* a plain file: read as it is (-1 with gz) */
    char in[1 << 17];
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
    gzFile gz = NULL;
    int fd = -1;

    if (strcmp(path, "-") == 0) {
        int in = dup(0);
        gz = in >= 0 ? gzdopen(in, "rb") : NULL;
        if (gz == NULL && in >= 0)
            close(in);
    } else if (tq_pglog_read_is_gzip(path)) {
        gz = gzopen(path, "rb");
    } else {
        /* a plain file is read with read(): zlib's transparent mode would copy it once
         * more, and its gzseek reads up to the offset when nothing was read yet */
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (gz == NULL && fd < 0) {
        snprintf(err, errsize, "%s: %s", path, errno ? strerror(errno) : "cannot open");
        return NULL;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        if (gz)
            gzclose(gz);
        if (fd >= 0)
            close(fd);
        snprintf(err, errsize, "%s: out of memory", path);
        return NULL;
    }
    r->path = path;
    r->gz = gz;
    r->fd = fd;
    if (gz != NULL)
        gzbuffer(gz, 1 << 17);
    if (offset > 0 && (fd < 0 || lseek(fd, (off_t)offset, SEEK_SET) != (off_t)offset)) {
        snprintf(err, errsize, "%s: cannot seek to byte %llu", path, (unsigned long long)offset);
        tq_pglog_read_close(r);
        return NULL;
    }
    if (fd >= 0)
        posix_fadvise(fd, (off_t)offset, 0, POSIX_FADV_SEQUENTIAL);
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
            ssize_t n;
            if (r->fd >= 0) {
                do
                    n = read(r->fd, r->in, sizeof r->in);
                while (n < 0 && errno == EINTR);
                if (n < 0) {
                    snprintf(err, errsize, "%s: %s", r->path, strerror(errno));
                    return -1;
                }
            } else if ((n = gzread(r->gz, r->in, sizeof r->in)) < 0) {
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
    if (r->fd >= 0)
        close(r->fd);
    tq_buf_free(&r->line);
    free(r);
}

/* tq_pglog_read — one log file as a stream of lines: plain or gzip (zlib reads both), "-"
 * for stdin, "\n" or "\r\n" line ends, lines longer than TQ_PGLOG_MAX_LINE truncated (the
 * rest of the line is skipped, never held). A plain file can be read from an offset (a
 * chunk of it, tq_pglog's threads). What a line means (and which lines continue a message)
 * is tq_pglog_format's business. */
#ifndef TQ_PGLOG_READ_H
#define TQ_PGLOG_READ_H

#include <stddef.h>
#include <stdint.h>

/* A line, a message (its lines joined) and a statement are kept up to this many bytes; the
 * rest is dropped and counted (tq_report_input.truncated). */
#define TQ_PGLOG_MAX_LINE (1u << 20)

struct tq_pglog_read;

/* Opens path ("-" = a dup of stdin). The path is borrowed until tq_pglog_read_close (error
 * messages name it). NULL with err set when it cannot be opened (or on OOM). */
struct tq_pglog_read *tq_pglog_read_open(const char *path, char *err, size_t errsize);

/* As tq_pglog_read_open, reading from byte offset of a plain file (uncompressed bytes). */
struct tq_pglog_read *tq_pglog_read_open_at(const char *path, uint64_t offset, char *err,
                                            size_t errsize);

/* The byte offset in the file of the line tq_pglog_read_line returned last. */
uint64_t tq_pglog_read_offset(const struct tq_pglog_read *r);

/* 1 when path is a gzip file (its first two bytes), 0 when not (or unreadable). */
int tq_pglog_read_is_gzip(const char *path);

/* The next line, without its line end: 1 and *line set (valid until the next call; *cut = 1
 * when the line was longer than TQ_PGLOG_MAX_LINE or memory ran out: *line then holds its
 * first bytes), 0 at the end of the file, -1 on a read error (err set). */
int tq_pglog_read_line(struct tq_pglog_read *r, const char **line, int *cut, char *err,
                       size_t errsize);

/* Closes the file and frees r; NULL is a no-op. */
void tq_pglog_read_close(struct tq_pglog_read *r);

#endif

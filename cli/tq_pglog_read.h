/* tq_pglog_read — one log file as a stream of lines: plain or gzip (zlib reads both), "-"
 * for stdin, "\n" or "\r\n" line ends, lines longer than TQ_PGLOG_MAX_LINE cut. What a
 * line means (and which lines continue a message) is tq_pglog_format's business. */
#ifndef TQ_PGLOG_READ_H
#define TQ_PGLOG_READ_H

#include <stddef.h>

#define TQ_PGLOG_MAX_LINE (16u << 20) /* longer lines are cut and counted malformed */

struct tq_pglog_read;

/* Opens path ("-" = a dup of stdin). The path is borrowed until tq_pglog_read_close (error
 * messages name it). NULL with err set when it cannot be opened (or on OOM). */
struct tq_pglog_read *tq_pglog_read_open(const char *path, char *err, size_t errsize);

/* The next line, without its line end: 1 and *line set (valid until the next call; *cut = 1
 * when the line was longer than TQ_PGLOG_MAX_LINE or memory ran out: its text is then
 * incomplete), 0 at the end of the file, -1 on a read error (err set). */
int tq_pglog_read_line(struct tq_pglog_read *r, const char **line, int *cut, char *err,
                       size_t errsize);

/* Closes the file and frees r; NULL is a no-op. */
void tq_pglog_read_close(struct tq_pglog_read *r);

#endif

/* tq_cache_tmp — the cache's temp files: unique names for them, and the sweep of those a
 * crashed writer left behind.
 *
 * A writer creates its temp file next to the tile it becomes (tq_cache.c), named
 * "<dir>/.tmp.<kind><host>.<pid>.<16 hex digits>", the digits from getrandom(2): unique
 * across hosts sharing the cache and across processes that reuse a host name and pid
 * (containers), with no seeding to forget. The file is created with O_EXCL; on EEXIST the
 * writer draws another name (the file there is someone else's: never touched). A writer
 * only ever removes the temp file it created.
 *
 * A writer that dies between creating its temp file and the rename leaves the file behind.
 * tq_cache_tmp_sweep (a worker runs it at start) removes regular files named ".tmp.*" in
 * the cache's directories ({tileset}/{z}/{x}, and the levels above) whose last change is
 * older than a bound: far longer than any write takes, so a live writer's file is never
 * taken (a writer whose file went anyway fails its rename with ENOENT: that write fails,
 * nothing wrong is served). */
#ifndef TQ_CACHE_TMP_H
#define TQ_CACHE_TMP_H

#include <stddef.h>
#include <stdint.h>

#define TQ_CACHE_TMP_PREFIX ".tmp."

/* A temp file is stale after an hour (a tile's write and fsync take milliseconds). */
#define TQ_CACHE_TMP_MAX_AGE_S 3600
/* The sweep at worker start stops after this long, whatever it has not reached yet. */
#define TQ_CACHE_TMP_SWEEP_BUDGET_MS 5000

/* Writes "<dir[0..dirlen)>/.tmp.<kind><host>.<pid>.<16 hex>" into buf (kind: "" for a
 * tile's temp file, "broken." for a broken tile moved aside). The host name is reduced to
 * [A-Za-z0-9._-] (others become '_') and 64 bytes. Returns 0, or -1 when it does not fit. */
int tq_cache_tmp_name(const char *dir, size_t dirlen, const char *kind, char *buf, size_t bufsize);

/* Tests: replaces the random source (getrandom) by fn (NULL: getrandom again). */
void tq_cache_tmp_set_random(uint64_t (*fn)(void));

struct tq_cache_sweep_stats {
    unsigned long dirs;    /* directories read */
    unsigned long tmp;     /* ".tmp.*" entries seen */
    unsigned long removed; /* stale ones removed */
    unsigned long young;   /* left: changed within max_age_s */
    unsigned long skipped; /* left: not a regular file (a directory, a symlink, ...) */
    unsigned long failed;  /* stale, but unlink failed (other than "already gone") */
    int complete;          /* 1 when every directory was read within the budget */
    int64_t elapsed_ms;
};

/* Removes the stale temp files (see above) under cache_dir, at most 3 directory levels
 * down, never following symlinks; stops after budget_ms (complete = 0). A cache_dir that
 * does not exist is complete and empty. Fills *st; returns 0, or -1 with err when cache_dir
 * cannot be read. Logs nothing (the caller logs *st). */
int tq_cache_tmp_sweep(const char *cache_dir, int max_age_s, int64_t budget_ms,
                       struct tq_cache_sweep_stats *st, char *err, size_t errsize);

#endif

/* tq_cache_tmp — see tq_cache_tmp.h. */
#include "tq_cache_tmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tq_time.h"

#define SWEEP_DEPTH 3 /* cache_dir/{tileset}/{z}/{x} */

static uint64_t (*g_random)(void);

void tq_cache_tmp_set_random(uint64_t (*fn)(void))
{
    g_random = fn;
}

/* 64 random bits: getrandom (never blocks once the pool is ready, which it is long before
 * a worker starts); should it fail, the clock and a counter still make the name differ from
 * this process's others (O_EXCL then catches what collides with someone else's). */
static uint64_t random64(void)
{
    static uint64_t counter;
    uint64_t v;
    struct timespec ts;

    if (g_random != NULL)
        return g_random();
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
        return v;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (++counter << 48) ^
           (uint64_t)getpid();
}

int tq_cache_tmp_name(const char *dir, size_t dirlen, const char *kind, char *buf, size_t bufsize)
{
    char host[65] = "host";

    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            *p = '_';
    }
    int n = snprintf(buf, bufsize, "%.*s/" TQ_CACHE_TMP_PREFIX "%s%s.%ld.%016" PRIx64, (int)dirlen,
                     dir, kind ? kind : "", host, (long)getpid(), random64());
    return (n < 0 || (size_t)n >= bufsize) ? -1 : 0;
}

/* ---- the sweep ---------------------------------------------------------------------------- */

struct sweep {
    time_t cutoff; /* older than this: stale */
    int64_t deadline_ms;
    struct tq_cache_sweep_stats *st;
};

static int over_budget(const struct sweep *s)
{
    return tq_mono_us() / 1000 >= s->deadline_ms;
}

/* Sweeps the directory fd (owned: closed here) at depth (0 = cache_dir). */
static void sweep_dir(struct sweep *s, int fd, int depth)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;

    if (d == NULL) {
        close(fd);
        s->st->complete = 0;
        return;
    }
    s->st->dirs++;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (over_budget(s)) {
            s->st->complete = 0;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int is_tmp = strncmp(e->d_name, TQ_CACHE_TMP_PREFIX, strlen(TQ_CACHE_TMP_PREFIX)) == 0;
        /* Tiles ({y}.mvt, {y}.empty) are most entries: only a directory or a temp file needs
         * a stat (d_type says which, on the file systems that fill it in). */
        if (!is_tmp && e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
            continue;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* gone meanwhile */
        if (is_tmp) {
            s->st->tmp++;
            if (!S_ISREG(sb.st_mode))
                s->st->skipped++;
            else if (sb.st_mtime >= s->cutoff)
                s->st->young++;
            else if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT)
                s->st->removed++;
            else
                s->st->failed++;
            continue;
        }
        if (S_ISDIR(sb.st_mode) && depth < SWEEP_DEPTH) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                s->st->complete = 0;
                continue;
            }
            sweep_dir(s, sub, depth + 1);
            if (over_budget(s)) {
                s->st->complete = 0;
                break;
            }
        }
    }
    closedir(d);
}

int tq_cache_tmp_sweep(const char *cache_dir, int max_age_s, int64_t budget_ms,
                       struct tq_cache_sweep_stats *st, char *err, size_t errsize)
{
    int64_t start_us = tq_mono_us();
    struct sweep s = {time(NULL) - max_age_s, start_us / 1000 + budget_ms, st};
    int rc = -1;

    memset(st, 0, sizeof *st);
    st->complete = 1;
    int fd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            rc = 0;
        } else {
            st->complete = 0;
            snprintf(err, errsize, "open %s: %s", cache_dir, strerror(errno));
        }
        goto cleanup;
    }
    sweep_dir(&s, fd, 0);
    rc = 0;
cleanup:
    st->elapsed_ms = (tq_mono_us() - start_us) / 1000;
    return rc;
}

/* tq_cache — see tq_cache.h. */
#include "tq_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int path_with_suffix(const char *cache_dir, const char *tileset, struct tq_tile t,
                            const char *suffix, char *buf, size_t bufsize)
{
    int n = snprintf(buf, bufsize, "%s/%s/%d/%u/%u%s", cache_dir, tileset, t.z, t.x, t.y, suffix);
    return (n < 0 || (size_t)n >= bufsize) ? -1 : 0;
}

int tq_cache_path(const char *cache_dir, const char *tileset, struct tq_tile t, char *buf,
                  size_t bufsize)
{
    return path_with_suffix(cache_dir, tileset, t, ".mvt", buf, bufsize);
}

/* unlink() that treats "not there" as success. */
static int unlink_if_present(const char *path)
{
    return (unlink(path) == 0 || errno == ENOENT || errno == ENOTDIR) ? 0 : -1;
}

/* mkdir -p of the directory part of path (everything before the last '/'). */
static int make_parent_dirs(const char *path)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, path, len + 1);
    char *slash = strrchr(tmp, '/');
    if (slash == NULL)
        return 0;
    *slash = '\0';
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tq_cache_write(const char *cache_dir, const char *tileset, struct tq_tile t, const void *data,
                   size_t len, char *err, size_t errsize)
{
    char path[4096], other[4096], tmp[4200], host[256] = "host";
    int fd = -1, rc = -1;

    tmp[0] = '\0';
    if (path_with_suffix(cache_dir, tileset, t, len ? ".mvt" : ".empty", path, sizeof path) != 0 ||
        path_with_suffix(cache_dir, tileset, t, len ? ".empty" : ".mvt", other, sizeof other) !=
            0) {
        snprintf(err, errsize, "cache path too long");
        goto cleanup;
    }
    if (make_parent_dirs(path) != 0) {
        snprintf(err, errsize, "mkdir for %s: %s", path, strerror(errno));
        goto cleanup;
    }
    gethostname(host, sizeof host - 1);
    char *slash = strrchr(path, '/');
    snprintf(tmp, sizeof tmp, "%.*s/.tmp.%s.%ld.%08x", (int)(slash - path), path, host,
             (long)getpid(), (unsigned)random());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsize, "open %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (write_all(fd, data, len) != 0) {
        snprintf(err, errsize, "write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errsize, "close %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errsize, "rename %s: %s", path, strerror(errno));
        goto cleanup;
    }
    /* The tile changed between empty and not: drop the old form (the new one is in place, so a
     * reader sees the new tile, or for a moment both, never neither). */
    if (unlink_if_present(other) != 0) {
        snprintf(err, errsize, "unlink %s: %s", other, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp[0])
        unlink(tmp);
    return rc;
}

int tq_cache_read(const char *cache_dir, const char *tileset, struct tq_tile t, char **data,
                  size_t *len, char *err, size_t errsize)
{
    char path[4096];
    struct stat st;
    int fd = -1, rc = -1;
    char *buf = NULL;

    *data = NULL;
    *len = 0;
    if (tq_cache_path(cache_dir, tileset, t, path, sizeof path) != 0) {
        snprintf(err, errsize, "cache path too long");
        goto cleanup;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
        char empty[4096];
        if (path_with_suffix(cache_dir, tileset, t, ".empty", empty, sizeof empty) == 0 &&
            access(empty, F_OK) == 0) {
            *data = malloc(1);
            if (*data == NULL) {
                snprintf(err, errsize, "out of memory");
                goto cleanup;
            }
            rc = 1;
            goto cleanup;
        }
    }
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            rc = 0;
        } else {
            snprintf(err, errsize, "open %s: %s", path, strerror(errno));
        }
        goto cleanup;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errsize, "%s is not a regular file", path);
        goto cleanup;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        snprintf(err, errsize, "out of memory");
        goto cleanup;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errsize, "read %s: %s", path, n < 0 ? strerror(errno) : "short read");
            goto cleanup;
        }
        got += (size_t)n;
    }
    *data = buf;
    *len = got;
    buf = NULL;
    rc = 1;
cleanup:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

int tq_cache_exists(const char *cache_dir, const char *tileset, struct tq_tile t)
{
    char path[4096], empty[4096];
    if (tq_cache_path(cache_dir, tileset, t, path, sizeof path) != 0 ||
        path_with_suffix(cache_dir, tileset, t, ".empty", empty, sizeof empty) != 0)
        return 0;
    return access(path, F_OK) == 0 || access(empty, F_OK) == 0;
}

int tq_cache_remove(const char *cache_dir, const char *tileset, struct tq_tile t)
{
    char path[4096], empty[4096];
    int removed = 0;
    if (tq_cache_path(cache_dir, tileset, t, path, sizeof path) != 0 ||
        path_with_suffix(cache_dir, tileset, t, ".empty", empty, sizeof empty) != 0)
        return -1;
    if (unlink(path) == 0)
        removed = 1;
    else if (errno != ENOENT && errno != ENOTDIR)
        return -1;
    if (unlink(empty) == 0)
        removed = 1;
    else if (errno != ENOENT && errno != ENOTDIR)
        return -1;
    return removed;
}

/* Unit tests for tq_cache_tmp (issue 16 item 4): unique temp names, a write that meets
 * someone else's temp file leaves it alone, two writers of one tile, and the sweep of stale
 * temp files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tq_cache.h"
#include "tq_cache_tmp.h"
#include "tq_gzip.h"

static char root[64];

static int make_root(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/tq-cache-tmp-test-XXXXXX");
    return mkdtemp(root) == NULL ? -1 : 0;
}

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int drop_root(void **state)
{
    (void)state;
    tq_cache_tmp_set_random(NULL);
    remove_tree(root);
    return 0;
}

/* Writes text into path (creating it), with its mtime age_s seconds ago. */
static void plant(const char *path, const char *text, int age_s)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= age_s;
    tv[1] = tv[0];
    assert_int_equal(lutimes(path, tv), 0);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static char *slurp(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The plain bytes of a file: inflated when it is gzip (tiles are stored compressed), else as
 * slurp reads them (planted files). */
static char *slurp_plain(const char *path)
{
    static char buf[256];
    unsigned char raw[256], *plain = NULL;
    size_t n = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t len = fread(raw, 1, sizeof raw - 1, f);
    fclose(f);
    if (!tq_gzip_is(raw, len)) {
        memcpy(buf, raw, len);
        buf[len] = '\0';
        return buf;
    }
    if (tq_gzip_decompress(raw, len, sizeof buf - 1, &plain, &n) != 0)
        return NULL;
    memcpy(buf, plain, n);
    buf[n] = '\0';
    free(plain);
    return buf;
}

/* The number of ".tmp.*" entries in dir. */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, ".tmp.", 5) == 0;
    if (d)
        closedir(d);
    return n;
}

static void test_name(void **state)
{
    char a[512], b[512], want[300];
    (void)state;
    assert_int_equal(tq_cache_tmp_name("/c/demo/3/1/2.mvt", 11, "", a, sizeof a), 0);
    assert_int_equal(tq_cache_tmp_name("/c/demo/3/1/2.mvt", 11, "", b, sizeof b), 0);
    assert_string_not_equal(a, b); /* random, even in one process */
    assert_memory_equal(a, "/c/demo/3/1/.tmp.", 17);
    snprintf(want, sizeof want, ".%ld.", (long)getpid());
    assert_non_null(strstr(a, want));
    const char *hex = strrchr(a, '.') + 1;
    assert_int_equal(strlen(hex), 16);
    assert_int_equal(strspn(hex, "0123456789abcdef"), 16);
    assert_int_equal(tq_cache_tmp_name("/c/x", 4, "broken.", a, sizeof a), 0);
    assert_memory_equal(a, "/c/x/.tmp.broken.", 17);
    assert_int_equal(tq_cache_tmp_name("/c/x", 4, "", a, 20), -1); /* does not fit */
}

static uint64_t seq[4];
static size_t seq_at;
static uint64_t next_random(void)
{
    return seq[seq_at++ % 4];
}

/* The first name a write draws is someone else's temp file: the write takes another name,
 * succeeds, and the other file is untouched. */
static void test_collision_left_alone(void **state)
{
    char tile[512], theirs[512];
    struct tq_tile t = {3, 1, 2};
    char err[256];
    (void)state;

    seq[0] = 0x1111;
    seq[1] = seq[2] = seq[3] = 0x2222;
    seq_at = 0;
    tq_cache_tmp_set_random(next_random);
    assert_int_equal(tq_cache_write(root, "demo", t, "x", 1, err, sizeof err), 0); /* dirs */
    assert_int_equal(tq_cache_path(root, "demo", t, tile, sizeof tile), 0);
    seq_at = 0;
    assert_int_equal(
        tq_cache_tmp_name(tile, (size_t)(strrchr(tile, '/') - tile), "", theirs, sizeof theirs), 0);
    plant(theirs, "another writer's bytes", 0);
    seq_at = 0;
    assert_int_equal(tq_cache_write(root, "demo", t, "tile", 4, err, sizeof err), 0);
    assert_string_equal(slurp_plain(tile), "tile");
    assert_string_equal(slurp(theirs), "another writer's bytes");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/demo/3/1", root);
    assert_int_equal(count_tmp(dir), 1); /* theirs, and nothing of ours */
}

/* Every name a write draws is taken: it fails with EEXIST, removes none of them, and the
 * tile stays as it was. */
static void test_collision_gives_up(void **state)
{
    char tile[512], theirs[512], err[256];
    struct tq_tile t = {3, 1, 2};
    (void)state;

    seq[0] = seq[1] = seq[2] = seq[3] = 0x3333;
    tq_cache_tmp_set_random(next_random);
    assert_int_equal(tq_cache_write(root, "demo", t, "old", 3, err, sizeof err), 0);
    assert_int_equal(tq_cache_path(root, "demo", t, tile, sizeof tile), 0);
    assert_int_equal(
        tq_cache_tmp_name(tile, (size_t)(strrchr(tile, '/') - tile), "", theirs, sizeof theirs), 0);
    plant(theirs, "another writer's bytes", 0);
    assert_int_equal(tq_cache_write(root, "demo", t, "new", 3, err, sizeof err), -1);
    assert_non_null(strstr(err, strerror(EEXIST)));
    assert_string_equal(slurp(theirs), "another writer's bytes");
    assert_string_equal(slurp_plain(tile), "old");
}

/* Two processes write the same tile 300 times each, with different bytes: every write
 * succeeds, the tile is whole (one writer's bytes), and no temp file is left. */
static void test_two_writers(void **state)
{
    struct tq_tile t = {5, 10, 11};
    char err[256], tile[512], dir[512];
    pid_t pids[2];
    (void)state;

    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            const char *bytes = i ? "bbbbbbbbbbbbbbbb" : "aaaaaaaa";
            tq_cache_set_fsync(0);
            for (int k = 0; k < 300; k++)
                if (tq_cache_write(root, "demo", t, bytes, strlen(bytes), err, sizeof err) != 0) {
                    fprintf(stderr, "writer %d: %s\n", i, err);
                    _exit(1);
                }
            _exit(0);
        }
    }
    for (int i = 0; i < 2; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(tq_cache_path(root, "demo", t, tile, sizeof tile), 0);
    const char *got = slurp_plain(tile);
    assert_non_null(got);
    assert_true(strcmp(got, "aaaaaaaa") == 0 || strcmp(got, "bbbbbbbbbbbbbbbb") == 0);
    snprintf(dir, sizeof dir, "%s/demo/5/10", root);
    assert_int_equal(count_tmp(dir), 0);
}

static void test_sweep(void **state)
{
    char p[512];
    struct tq_cache_sweep_stats st;
    char err[256];
    const int hour = 3600;
    (void)state;

    snprintf(p, sizeof p, "%s/demo", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/demo/3", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/demo/3/1", root);
    mkdir(p, 0755);
#define AT(rel) (snprintf(p, sizeof p, "%s/%s", root, rel), p)
    plant(AT("demo/3/1/.tmp.deadhost.1.00000000000000aa"), "stale", 2 * hour);
    plant(AT("demo/3/1/.tmp.broken.deadhost.1.00000000000000bb"), "stale aside", 2 * hour);
    plant(AT("demo/3/.tmp.old.2.00000000000000cc"), "stale, one level up", 2 * hour);
    plant(AT("demo/3/1/.tmp.livehost.2.00000000000000dd"), "a live writer's", 10);
    plant(AT("demo/3/1/2.mvt"), "an old tile", 2 * hour);
    plant(AT("demo/3/1/x.tmp.notours"), "not a temp name", 2 * hour);
    plant(AT("outside"), "a file the symlink points at", 2 * hour);
    char target[512];
    snprintf(target, sizeof target, "%s", AT("outside"));
    assert_int_equal(symlink(target, AT("demo/3/1/.tmp.link")), 0);
    assert_int_equal(mkdir(AT("demo/3/1/.tmp.dir"), 0755), 0);
    assert_int_equal(mkdir(AT("demo/3/1/deeper"), 0755), 0);
    plant(AT("demo/3/1/deeper/.tmp.too.deep.00000000000000ee"), "below {x}: not a cache dir",
          2 * hour);

    assert_int_equal(tq_cache_tmp_sweep(root, hour, 10000, &st, err, sizeof err), 0);
    assert_int_equal(st.removed, 3);
    assert_int_equal(st.young, 1);
    assert_int_equal(st.skipped, 2); /* the symlink and the directory */
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.tmp, 6);
    assert_int_equal(st.complete, 1);
    assert_false(exists(AT("demo/3/1/.tmp.deadhost.1.00000000000000aa")));
    assert_false(exists(AT("demo/3/1/.tmp.broken.deadhost.1.00000000000000bb")));
    assert_false(exists(AT("demo/3/.tmp.old.2.00000000000000cc")));
    assert_true(exists(AT("demo/3/1/.tmp.livehost.2.00000000000000dd")));
    assert_true(exists(AT("demo/3/1/2.mvt")));
    assert_true(exists(AT("demo/3/1/x.tmp.notours")));
    assert_true(exists(AT("demo/3/1/.tmp.link")));
    assert_true(exists(AT("outside")));
    assert_true(exists(AT("demo/3/1/.tmp.dir")));
    assert_true(exists(AT("demo/3/1/deeper/.tmp.too.deep.00000000000000ee")));

    /* A second sweep finds nothing more to do. */
    assert_int_equal(tq_cache_tmp_sweep(root, hour, 10000, &st, err, sizeof err), 0);
    assert_int_equal(st.removed, 0);
    assert_int_equal(st.young, 1);

    /* No budget: it stops at once and says so. */
    plant(AT("demo/3/1/.tmp.deadhost.1.00000000000000ff"), "stale", 2 * hour);
    assert_int_equal(tq_cache_tmp_sweep(root, hour, 0, &st, err, sizeof err), 0);
    assert_int_equal(st.complete, 0);
    assert_int_equal(st.removed, 0);
    assert_true(exists(AT("demo/3/1/.tmp.deadhost.1.00000000000000ff")));
#undef AT
}

static void test_sweep_missing_dir(void **state)
{
    char p[512], err[256];
    struct tq_cache_sweep_stats st;
    (void)state;
    snprintf(p, sizeof p, "%s/not-there", root);
    assert_int_equal(tq_cache_tmp_sweep(p, 3600, 1000, &st, err, sizeof err), 0);
    assert_int_equal(st.complete, 1);
    assert_int_equal(st.dirs, 0);
    snprintf(p, sizeof p, "%s/a-file", root);
    plant(p, "x", 0);
    assert_int_equal(tq_cache_tmp_sweep(p, 3600, 1000, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "a-file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name),
        cmocka_unit_test_setup_teardown(test_collision_left_alone, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_collision_gives_up, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_two_writers, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_sweep, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_sweep_missing_dir, make_root, drop_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

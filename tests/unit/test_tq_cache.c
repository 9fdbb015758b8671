/* Unit tests for tq_cache: the on-disk tile cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tq_cache.h"

static char root[64];

static int make_root(void **state)
{
    snprintf(root, sizeof root, "/tmp/tq-cache-test-XXXXXX");
    return mkdtemp(root) == NULL ? -1 : 0;
}

static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
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
        return rmdir(path);
    }
    return unlink(path);
}

static int drop_root(void **state)
{
    return remove_tree(root);
}

static void test_path(void **state)
{
    char buf[128];
    struct tq_tile t = {14, 8190, 5447};
    assert_int_equal(tq_cache_path("/c", "demo", t, buf, sizeof buf), 0);
    assert_string_equal(buf, "/c/demo/14/8190/5447.mvt");
    char small[10];
    assert_int_equal(tq_cache_path("/c", "demo", t, small, sizeof small), -1);
    char exact[sizeof "/c/demo/14/8190/5447.mvt"];
    assert_int_equal(tq_cache_path("/c", "demo", t, exact, sizeof exact), 0);
    assert_int_equal(tq_cache_path("/c", "demo", t, exact, sizeof exact - 1), -1);
}

static void test_write_read_remove(void **state)
{
    struct tq_tile t = {3, 5, 6};
    char err[256] = "";
    char *data = NULL;
    size_t len = 99;

    assert_int_equal(tq_cache_exists(root, "demo", t), 0);
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &len, err, sizeof err), 0);
    assert_null(data);
    assert_int_equal(len, 0);

    const char payload[] = "\x1a\x05hello\x00world";
    assert_int_equal(tq_cache_write(root, "demo", t, payload, sizeof payload - 1, err, sizeof err),
                     0);
    assert_int_equal(tq_cache_exists(root, "demo", t), 1);
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &len, err, sizeof err), 1);
    assert_int_equal(len, sizeof payload - 1);
    assert_memory_equal(data, payload, len);
    free(data);

    char path[512];
    struct stat st;
    assert_int_equal(tq_cache_path(root, "demo", t, path, sizeof path), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    /* overwrite with different content */
    char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 31);
    assert_int_equal(tq_cache_write(root, "demo", t, big, sizeof big, err, sizeof err), 0);
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &len, err, sizeof err), 1);
    assert_int_equal(len, sizeof big);
    assert_memory_equal(data, big, len);
    free(data);

    /* other tilesets and tiles are separate */
    struct tq_tile other = {3, 5, 7};
    assert_int_equal(tq_cache_exists(root, "other", t), 0);
    assert_int_equal(tq_cache_exists(root, "demo", other), 0);

    assert_int_equal(tq_cache_remove(root, "demo", t), 1);
    assert_int_equal(tq_cache_exists(root, "demo", t), 0);
    assert_int_equal(tq_cache_remove(root, "demo", t), 0);
    assert_int_equal(tq_cache_remove(root, "never", t), 0);
}

static void test_empty_tile(void **state)
{
    struct tq_tile t = {0, 0, 0};
    char err[256];
    char *data = NULL;
    size_t len = 99;
    assert_int_equal(tq_cache_write(root, "demo", t, NULL, 0, err, sizeof err), 0);
    assert_int_equal(tq_cache_exists(root, "demo", t), 1);
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &len, err, sizeof err), 1);
    assert_non_null(data); /* non-NULL even for an empty tile */
    assert_int_equal(len, 0);
    free(data);
    /* stored as a zero-byte .empty marker, not as .mvt (nginx tests for it to answer 204) */
    char path[512], marker[512];
    struct stat st;
    tq_cache_path(root, "demo", t, path, sizeof path);
    snprintf(marker, sizeof marker, "%s/demo/0/0/0.empty", root);
    assert_int_equal(stat(marker, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_not_equal(stat(path, &st), 0);

    /* the tile gains features: the marker goes, the .mvt comes; and back again */
    assert_int_equal(tq_cache_write(root, "demo", t, "abc", 3, err, sizeof err), 0);
    assert_int_not_equal(stat(marker, &st), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(tq_cache_write(root, "demo", t, NULL, 0, err, sizeof err), 0);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(tq_cache_remove(root, "demo", t), 1);
    assert_int_equal(tq_cache_exists(root, "demo", t), 0);
}

/* Counts directory entries of dir other than . and .., and those starting with ".tmp". */
static void count_entries(const char *dir, int *total, int *temps)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    *total = *temps = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        (*total)++;
        if (strncmp(e->d_name, ".tmp", 4) == 0)
            (*temps)++;
    }
    closedir(d);
}

static void test_no_temp_files_left(void **state)
{
    char err[256];
    for (uint32_t y = 0; y < 20; y++) {
        struct tq_tile t = {5, 9, y};
        for (int rep = 0; rep < 3; rep++)
            assert_int_equal(tq_cache_write(root, "demo", t, "abc", 3, err, sizeof err), 0);
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/demo/5/9", root);
    int total, temps;
    count_entries(dir, &total, &temps);
    assert_int_equal(total, 20);
    assert_int_equal(temps, 0);

    /* a failed write (the tile's path is a directory, so rename fails) leaves no temp */
    struct tq_tile t = {5, 10, 1};
    char path[512];
    tq_cache_path(root, "demo", t, path, sizeof path);
    assert_int_equal(tq_cache_write(root, "demo", t, "x", 1, err, sizeof err), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/keep", path);
    FILE *f = fopen(inner, "w");
    assert_non_null(f);
    fclose(f);
    err[0] = '\0';
    assert_int_equal(tq_cache_write(root, "demo", t, "x", 1, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    snprintf(dir, sizeof dir, "%s/demo/5/10", root);
    count_entries(dir, &total, &temps);
    assert_int_equal(total, 1); /* only the directory in the tile's place */
    assert_int_equal(temps, 0);

    /* reading a path that is a directory is an error, not a tile */
    char *data = NULL;
    size_t len;
    assert_int_equal(tq_cache_read(root, "demo", t, &data, &len, err, sizeof err), -1);
    assert_null(data);
}

static void test_path_too_long(void **state)
{
    static char longdir[5000];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = '\0';
    struct tq_tile t = {1, 0, 0};
    char err[256] = "";
    char *data = (char *)1;
    size_t len = 1;
    assert_int_equal(tq_cache_write(longdir, "demo", t, "x", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "too long"));
    err[0] = '\0';
    assert_int_equal(tq_cache_read(longdir, "demo", t, &data, &len, err, sizeof err), -1);
    assert_null(data);
    assert_non_null(strstr(err, "too long"));
    assert_int_equal(tq_cache_exists(longdir, "demo", t), 0);
    assert_int_equal(tq_cache_remove(longdir, "demo", t), -1);
}

static void test_unwritable_dir(void **state)
{
    /* cache_dir under a regular file: mkdir fails with a message */
    char file[128];
    snprintf(file, sizeof file, "%s/plainfile", root);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    struct tq_tile t = {1, 1, 1};
    char err[256] = "";
    assert_int_equal(tq_cache_write(file, "demo", t, "x", 1, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(tq_cache_exists(file, "demo", t), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(tq_cache_read(file, "demo", t, &data, &len, err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path),
        cmocka_unit_test_setup_teardown(test_write_read_remove, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_empty_tile, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_no_temp_files_left, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_path_too_long, make_root, drop_root),
        cmocka_unit_test_setup_teardown(test_unwritable_dir, make_root, drop_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

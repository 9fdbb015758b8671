/* tq_fuzz_replay — runs a harness's LLVMFuzzerTestOneInput over every regular file of the
 * directories (or files) named on the command line, in name order, without libFuzzer: the
 * regression test of tests/fuzz/ (see tq_fuzz.h). A property failure or a sanitizer report
 * aborts the program; an unreadable file or directory is an error (exit 2). Prints how many
 * inputs ran. */
#include "tq_fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

/* Runs the harness over one file. Returns 0, or -1 when it cannot be read. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;

    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        goto cleanup;
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *n = realloc(data, cap);
            if (n == NULL) {
                fprintf(stderr, "%s: out of memory\n", path);
                goto cleanup;
            }
            data = n;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: read error\n", path);
        goto cleanup;
    }
    /* libFuzzer hands the harness an exact-size copy, so an overread is caught; do the same. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL)
        goto cleanup;
    memcpy(exact, data, len);
    fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    rc = 0;
cleanup:
    if (f)
        fclose(f);
    free(data);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Runs every regular file of dir (sorted by name; dot files skipped). Returns the count run,
 * or -1. */
static long replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    long count = -1;

    if (d == NULL) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *names);
            if (nn == NULL)
                goto cleanup;
            names = nn;
        }
        size_t plen = strlen(dir) + strlen(de->d_name) + 2;
        if ((names[n] = malloc(plen)) == NULL)
            goto cleanup;
        snprintf(names[n++], plen, "%s/%s", dir, de->d_name);
    }
    qsort(names, n, sizeof *names, cmp_names);
    count = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (replay_file(names[i]) != 0) {
            count = -1;
            goto cleanup;
        }
        count++;
    }
cleanup:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    long total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long n;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : (replay_file(argv[i]) == 0 ? 1 : -1);
        if (n < 0)
            return 2;
        printf("%s: %ld inputs\n", argv[i], n);
        total += n;
    }
    printf("replayed %ld inputs, all properties held\n", total);
    return 0;
}

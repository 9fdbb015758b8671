/* tq_main — see tq_main.h. */
#include "tq_main.h"

#include <getopt.h>

#include "tq_log.h"

struct tq_config *tq_main_load_config(int argc, char **argv, const char *prog,
                                      void (*usage)(FILE *), const char **path, int *exit_status)
{
    const char *config_path = NULL;
    struct tq_config *cfg = NULL;
    enum tq_log_level level = TQ_LOG_INFO;
    char err[1024];
    int opt;

    *path = NULL;
    *exit_status = 2;
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage(stdout);
            *exit_status = 0;
            return NULL;
        default:
            usage(stderr);
            return NULL;
        }
    }
    if (config_path == NULL || optind != argc) {
        usage(stderr);
        return NULL;
    }
    tq_log_init(prog, TQ_LOG_INFO);
    cfg = tq_config_load(config_path, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return NULL;
    }
    if (cfg->log_level && tq_log_level_parse(cfg->log_level, &level) == 0)
        tq_log_init(prog, level);
    *path = config_path;
    return cfg;
}

/* tileq — the operator's command.
 *
 *   tileq [-c FILE] COMMAND [OPTIONS]
 *
 * Exit status: 0 success, 1 runtime failure, 2 bad usage. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_cli.h"

static void usage(FILE *out)
{
    fputs("usage: tileq [-c FILE] COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  report   duplicate-render report from tileq's render log or PostgreSQL logs\n"
          "           (tileq report --help)\n"
          "\n"
          "options:\n"
          "  -c, --config FILE   the tileq configuration file\n"
          "  -h, --help          this help\n",
          out);
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int i = 1;

    /* Global options come before the command; the command parses the rest. */
    while (i < argc && argv[i][0] == '-') {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            config = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config = argv[i] + 9;
            i++;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tileq: unknown option %s\n", argv[i]);
            usage(stderr);
            return TQ_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return TQ_EXIT_USAGE;
    }
    const char *cmd = argv[i];
    /* The command sees argv[i..], with argv[0] = the command's name. */
    if (strcmp(cmd, "report") == 0)
        return tq_cli_report(config, argc - i, argv + i);
    fprintf(stderr, "tileq: unknown command '%s'\n", cmd);
    usage(stderr);
    return TQ_EXIT_USAGE;
}

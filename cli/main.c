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
          "  warm         queue the metatiles of an area (bulk class), --wait to follow\n"
          "  expire       delete cached tiles after a data change, --rerender to queue them\n"
          "  status       queued/running jobs per class, leases, workers, renders per minute\n"
          "  deadletter   list|retry|purge failed jobs\n"
          "  report       duplicate-render report from tileq's render log or PostgreSQL logs\n"
          "  watch        install|uninstall|status|run: tiles follow the data in PostgreSQL\n"
          "  export       warm an area, then write it into a PMTiles or MBTiles archive\n"
          "  (tileq COMMAND --help for each command's options)\n"
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
    if (strcmp(cmd, "warm") == 0)
        return tq_cli_warm(config, argc - i, argv + i);
    if (strcmp(cmd, "expire") == 0)
        return tq_cli_expire(config, argc - i, argv + i);
    if (strcmp(cmd, "status") == 0)
        return tq_cli_status(config, argc - i, argv + i);
    if (strcmp(cmd, "export") == 0)
        return tq_cli_export(config, argc - i, argv + i);
    if (strcmp(cmd, "watch") == 0)
        return tq_cli_watch(config, argc - i, argv + i);
    if (strcmp(cmd, "deadletter") == 0)
        return tq_cli_deadletter(config, argc - i, argv + i);
    fprintf(stderr, "tileq: unknown command '%s'\n", cmd);
    usage(stderr);
    return TQ_EXIT_USAGE;
}

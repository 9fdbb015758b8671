/* tq_cli — the tileq command's subcommands. Each takes the global -c FILE (NULL when not
 * given) and its own argv (argv[0] = the command name), and returns the exit status. */
#ifndef TQ_CLI_H
#define TQ_CLI_H

#define TQ_EXIT_OK 0
#define TQ_EXIT_FAIL 1
#define TQ_EXIT_USAGE 2

/* tileq report: see tq_cli_report.c (and `tileq report --help`). */
int tq_cli_report(const char *config_path, int argc, char **argv);

/* tileq watch install|uninstall|status|run: see tq_cli_watch.c (and --help). */
int tq_cli_watch(const char *config_path, int argc, char **argv);

/* tileq warm / expire: see tq_cli_warm.c, tq_cli_expire.c (and --help). */
int tq_cli_warm(const char *config_path, int argc, char **argv);
int tq_cli_expire(const char *config_path, int argc, char **argv);

/* The work of `tileq warm` on an area settled by tq_area_cmd_start (tq_cliutil.h): queues its
 * missing metatiles in the bulk class (progress bar, resume; with a->o.wait, follows them to
 * the end), messages as "tileq CMD: ...", the summary line on stdout. Used by warm and export.
 * Returns TQ_EXIT_OK or TQ_EXIT_FAIL. */
struct tq_area_cmd;
int tq_cli_warm_area(const struct tq_area_cmd *a, const char *cmd);

/* tileq export: see tq_cli_export.c (and --help). */
int tq_cli_export(const char *config_path, int argc, char **argv);

/* tileq status / deadletter: see tq_cli_status.c (and --help). */
int tq_cli_status(const char *config_path, int argc, char **argv);
int tq_cli_deadletter(const char *config_path, int argc, char **argv);

#endif

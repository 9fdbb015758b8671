/* tq_main — the start the server programs (tileq-coordinator, tileq-worker) share. */
#ifndef TQ_MAIN_H
#define TQ_MAIN_H

#include <stdio.h>

#include "tq_config.h"

/* Parses the command line "-c FILE" (-h: usage(stdout); anything else: usage(stderr)),
 * starts the log as prog, loads FILE (a failure is printed as "prog: reason") and sets the
 * log level the configuration names (info when it names none or an unknown one). Returns
 * the configuration (the caller frees it with tq_config_free) with *path set to FILE (a
 * borrowed argv string), or NULL with *exit_status set: 0 after -h, 2 for a usage error or
 * a configuration that does not load. */
struct tq_config *tq_main_load_config(int argc, char **argv, const char *prog,
                                      void (*usage)(FILE *), const char **path, int *exit_status);

#endif

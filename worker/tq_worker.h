/* tq_worker — one worker process's state, shared by the modules of worker/: main.c fills
 * it and runs the loop; tq_pipeline renders the jobs, tq_upkeep runs the periodic duties,
 * tq_publish writes what the others read, tq_wconn keeps the connections.
 *
 * The layout is public to worker/ (its modules read the fields directly); nothing outside
 * worker/ includes it. */
#ifndef TQ_WORKER_H
#define TQ_WORKER_H

#include <signal.h>

#include "tq_config.h"
#include "tq_render.h"
#include "tq_upkeep.h"
#include "tq_wconn.h"
#include "tq_wstats.h"

struct tq_worker {
    struct tq_config *cfg; /* owned */
    char id[256];          /* the registry's name for this worker (worker_id, or host:pid) */
    char host[128];
    int lease_ms;                      /* the queue's lease (lease_seconds) */
    const volatile sig_atomic_t *stop; /* set by SIGTERM/SIGINT: finish the job in hand */
    struct tq_renderer *renderer;      /* owned */
    struct tq_wconn *conn;             /* owned */
    struct tq_wstats stats;            /* its figures, published by tq_upkeep */
    struct tq_upkeep upkeep;           /* when each periodic duty is next due */
};

#endif

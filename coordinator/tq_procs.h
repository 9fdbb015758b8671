/* tq_procs — the coordinator on every core: http.processes copies of it serve one listen
 * port (each binds it with SO_REUSEPORT; the kernel spreads new connections over them), under
 * a supervising parent that serves nothing itself.
 *
 *   parent: fork N children -> wait for signals (SIGTERM/SIGINT, SIGCHLD)
 *     SIGTERM/SIGINT -> sent on to every child (each drains as a lone coordinator does; a
 *                       second signal makes them exit at once) -> wait for all -> exit
 *     a child exits while not stopping -> logged (coordinator_process_exited); forked again
 *                       RESTART_DELAY_MS later. A child that fails within START_GRACE_MS of
 *                       its start at the first start (cannot listen, bad Redis URL...) stops
 *                       them all: the same error would repeat forever.
 *
 * Each child is a whole coordinator (its own Redis connections, waiters, /metrics): the
 * processes share only the port and the cache. Why processes rather than threads: libevent's
 * evhttp, the hiredis async connections and tq_cache's per-process state are single-threaded;
 * copies of a stateless coordinator need no locking at all. */
#ifndef TQ_PROCS_H
#define TQ_PROCS_H

/* A child's body: serves until told to stop; returns the process's exit status. */
typedef int (*tq_procs_child_fn)(void *arg);

/* Runs n children of child(arg) and supervises them as above. Call before any event base
 * exists (fork). Returns the parent's exit status: 0 when every child exited 0 after a
 * SIGTERM/SIGINT, else 1. */
int tq_procs_run(int n, tq_procs_child_fn child, void *arg);

#endif

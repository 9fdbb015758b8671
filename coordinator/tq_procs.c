/* tq_procs — see tq_procs.h. Signals: the parent blocks SIGTERM, SIGINT and SIGCHLD and takes
 * them one at a time with sigtimedwait (no handler, nothing async); a child unblocks them
 * before its body runs, which installs its own (evsignal). */
#include "tq_procs.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tq_log.h"
#include "tq_time.h"

#define RESTART_DELAY_MS 1000
#define START_GRACE_MS 2000

struct child {
    pid_t pid;          /* 0: not running */
    int64_t started_ms; /* when it was forked */
    int64_t restart_ms; /* when to fork it again (0: not due) */
};

/* Forks child i. Returns 0, or -1 (fork failed: logged). */
static int spawn(struct child *c, int i, tq_procs_child_fn fn, void *arg, const sigset_t *old)
{
    pid_t pid = fork();
    if (pid < 0) {
        tq_log_error("coordinator_fork_failed", "process=%d error=%s", i, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, old, NULL);
        _exit(fn(arg));
    }
    c->pid = pid;
    c->started_ms = tq_now_ms();
    c->restart_ms = 0;
    tq_log_info("coordinator_process", "process=%d pid=%ld", i, (long)pid);
    return 0;
}

static void signal_all(struct child *kids, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (kids[i].pid > 0)
            kill(kids[i].pid, sig);
}

int tq_procs_run(int n, tq_procs_child_fn fn, void *arg)
{
    struct child *kids = calloc((size_t)n, sizeof *kids);
    sigset_t set, old;
    int stopping = 0, failed = 0, running = 0, first_round = 1, rc;

    if (kids == NULL) {
        tq_log_error("coordinator_processes", "error=out_of_memory");
        return 1;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    for (int i = 0; i < n; i++) {
        if (spawn(&kids[i], i, fn, arg, &old) != 0) {
            failed = stopping = 1;
            break;
        }
        running++;
    }
    if (stopping)
        signal_all(kids, n, SIGTERM);
    tq_log_info("coordinator_processes", "processes=%d parent=%ld", n, (long)getpid());

    while (running > 0 || (!stopping && n > 0)) {
        int64_t now = tq_now_ms(), next = now + 1000;
        for (int i = 0; i < n && !stopping; i++) {
            if (kids[i].pid == 0 && kids[i].restart_ms && kids[i].restart_ms <= now) {
                if (spawn(&kids[i], i, fn, arg, &old) == 0)
                    running++;
                else
                    kids[i].restart_ms = now + RESTART_DELAY_MS;
            }
            if (kids[i].pid == 0 && kids[i].restart_ms && kids[i].restart_ms < next)
                next = kids[i].restart_ms;
        }
        if (first_round) {
            int all_past_grace = 1;
            for (int i = 0; i < n; i++)
                if (kids[i].pid > 0 && now - kids[i].started_ms < START_GRACE_MS)
                    all_past_grace = 0;
            if (all_past_grace)
                first_round = 0;
        }
        struct timespec ts = {(time_t)((next - now) / 1000), (long)((next - now) % 1000) * 1000000};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            tq_log_info("signal", "signal=%d action=%s processes=%d", sig,
                        stopping ? "forward_again" : "forward", running);
            stopping = 1;
            signal_all(kids, n, sig);
            continue;
        }
        /* SIGCHLD, or a timeout: reap whatever exited */
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            for (int i = 0; i < n; i++) {
                if (kids[i].pid != pid)
                    continue;
                int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                /* Failed at start: it exited by itself with an error (cannot listen, ...)
                 * soon after the first start, so a new one would fail the same way. A
                 * signal (a crash, an OOM kill, an operator's kill) is not that: restart. */
                int start_failure = first_round && !ok && WIFEXITED(status) &&
                                    tq_now_ms() - kids[i].started_ms < START_GRACE_MS;
                kids[i].pid = 0;
                running--;
                if (stopping) {
                    failed |= !ok;
                    break;
                }
                tq_log_warn("coordinator_process_exited", "process=%d pid=%ld status=%d%s", i,
                            (long)pid,
                            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                            start_failure ? " action=stop (failed at start)" : " action=restart");
                if (start_failure) {
                    failed = stopping = 1;
                    signal_all(kids, n, SIGTERM);
                } else {
                    kids[i].restart_ms = tq_now_ms() + RESTART_DELAY_MS;
                }
                break;
            }
        }
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    rc = failed ? 1 : 0;
    tq_log_info("exit", "status=%d processes=%d", rc, n);
    free(kids);
    return rc;
}

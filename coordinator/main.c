/* tileq-coordinator -c FILE — the HTTP front of the render queue (see tq_coord.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "tq_config.h"
#include "tq_coord.h"
#include "tq_discover.h"
#include "tq_log.h"
#include "tq_main.h"
#include "tq_procs.h"

#define PROG "tileq-coordinator"
/* Upper bound on a graceful shutdown: requests still waiting for a render then get 503. */
#define SHUTDOWN_GRACE_S 30

/* Set by SIGTERM/SIGINT while tilesets are being discovered (before the event loop). */
static volatile sig_atomic_t g_stop_discovery;

static void on_signal_discovery(int sig)
{
    (void)sig;
    g_stop_discovery = 1;
}

struct app {
    struct event_base *base;
    struct tq_coord *co;
    int signals;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s -c FILE\n"
            "  -c FILE  configuration file (see tq_config.h); TQ_* environment overrides\n"
            "  -h       this help\n",
            PROG);
}

static void on_drained(void *arg)
{
    struct app *app = arg;
    event_base_loopexit(app->base, NULL);
}

/* SIGTERM/SIGINT: graceful shutdown (tq_coord_drain): stop accepting, close idle
 * connections, answer new requests 503 + Connection: close, let the requests waiting for a
 * render finish (at most SHUTDOWN_GRACE_S), then leave the loop and exit 0. A second signal
 * leaves the loop at once (what still waits gets 503 from tq_coord_free). */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct app *app = arg;

    if (app->signals++ > 0) {
        tq_log_warn("signal_again", "signal=%d action=exit_now", (int)sig);
        event_base_loopbreak(app->base);
        return;
    }
    tq_log_info("signal", "signal=%d action=drain grace_s=%d", (int)sig, SHUTDOWN_GRACE_S);
    tq_coord_drain(app->co, SHUTDOWN_GRACE_S, on_drained, app);
}

/* One coordinator: its event loop until drained. Returns the exit status. */
static int serve(void *arg)
{
    struct tq_config *cfg = arg;
    struct app app;
    struct event *sigterm = NULL, *sigint = NULL;
    char err[512];
    int rc = 1;

    memset(&app, 0, sizeof app);
    app.base = event_base_new();
    if (app.base == NULL) {
        fprintf(stderr, "%s: event_base_new failed\n", PROG);
        goto cleanup;
    }
    app.co = tq_coord_new(app.base, cfg, err, sizeof err);
    if (app.co == NULL) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto cleanup;
    }
    sigterm = evsignal_new(app.base, SIGTERM, on_signal, &app);
    sigint = evsignal_new(app.base, SIGINT, on_signal, &app);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) != 0 ||
        evsignal_add(sigint, NULL) != 0) {
        fprintf(stderr, "%s: cannot install signal handlers\n", PROG);
        goto cleanup;
    }
    tq_log_info("start", "config=%s pid=%ld", cfg->path, (long)getpid());
    if (event_base_dispatch(app.base) < 0) {
        tq_log_error("loop_failed", "config=%s", cfg->path);
        goto cleanup;
    }
    tq_log_info("exit", "status=0");
    rc = 0;
cleanup:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    tq_coord_free(app.co);
    if (app.base)
        event_base_free(app.base);
    return rc;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    struct tq_config *cfg = NULL;
    char err[512];
    int rc = 1;

    cfg = tq_main_load_config(argc, argv, PROG, usage, &config_path, &rc);
    if (cfg == NULL)
        return rc;
    rc = 1;
    signal(SIGPIPE, SIG_IGN);
    if (cfg->http.processes > 1 && cfg->listen_port == 0) {
        fprintf(stderr,
                "%s: http.processes = %d needs a fixed listen port (with port 0 each process "
                "would get a port of its own)\n",
                PROG, cfg->http.processes);
        rc = 2;
        goto cleanup;
    }
    if (cfg->ntilesets == 0) {
        /* No tileset configured: publish every geometry column (tq_discover.h); blocks,
         * retrying while PostgreSQL is down. The only time the coordinator talks to it. */
        signal(SIGTERM, on_signal_discovery);
        signal(SIGINT, on_signal_discovery);
        int n = tq_discover_at_start(cfg, PROG, &g_stop_discovery, err, sizeof err);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        if (n < 0) {
            fprintf(stderr, "%s: %s\n", PROG, err);
            goto cleanup;
        }
    }
    /* Every core: http.processes copies of serve() on the one port (tq_procs.h). */
    rc = cfg->http.processes > 1 ? tq_procs_run(cfg->http.processes, serve, cfg) : serve(cfg);
cleanup:
    tq_config_free(cfg);
    return rc;
}

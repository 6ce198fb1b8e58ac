/* xmpp-probe --serve: a Prometheus exporter (libmicrohttpd) answering
 * GET /probe?target=...&module=... with the metrics of one probe and
 * GET /metrics with its own. One thread: libmicrohttpd runs from this
 * process's poll loop, each probe runs in a worker process (probe/pool.h)
 * and its connection is suspended until the worker answers or is killed
 * at its deadline, so a silent target holds up nothing but its own
 * request. The modules (named probe configurations) come from the tool,
 * which knows its options; SIGHUP asks it for them again. */
#ifndef XU_PROBE_SERVE_H
#define XU_PROBE_SERVE_H

#include <jansson.h>

#include "base/error.h"

struct probe_module {
    char name[64];
    double timeout;   /* seconds */
    void *priv;       /* the tool's */
};

struct probe_modules {
    struct probe_module *m;
    size_t n;
};

struct probe_serve_cfg {
    const char *listen;            /* "[ADDR:]PORT" */
    unsigned parallel;             /* probes at a time */
    const char *const *allow;      /* shell patterns a target must match (none: any) */
    int nallow;
    void *ud;
    /* Load the modules (at start and on SIGHUP); an error keeps the old ones. */
    int (*load)(void *ud, struct probe_modules *out, struct xu_error *err);
    void (*free_module)(void *ud, struct probe_module *m);
    /* Check a target before probing: 0, or non-zero with a one-line why. */
    int (*check_target)(void *ud, const char *target, char *why, size_t len);
    /* In the worker process: probe target with module within timeout
     * seconds; returns a document from probe_report_json. */
    json_t *(*probe)(void *ud, const struct probe_module *m, const char *target, double timeout);
};

/* Serve until SIGTERM or SIGINT; returns the exit status. */
int probe_serve_run(const struct probe_serve_cfg *cfg, struct xu_error *err);

#endif

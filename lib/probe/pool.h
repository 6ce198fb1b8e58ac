/* Probes in worker processes: each target (CLI) or request (exporter) is
 * probed by a forked child that writes its report as one JSON document to
 * a pipe and exits. Why processes: the stages are written as blocking code
 * bounded by a deadline, and the login goes through lib/xmpp/session*.c, which
 * keeps per-process state; a child per probe reuses both unchanged, keeps a
 * stuck or crashing target from touching the others, and the parent kills
 * a child that outlives its deadline, so every probe ends on time. The
 * parent only polls pipes: it never blocks on a target. */
#ifndef XU_PROBE_POOL_H
#define XU_PROBE_POOL_H

#include <sys/types.h>

#include <jansson.h>

#include "base/error.h"
#include "probe/report.h"

struct probe_job {
    pid_t pid;       /* 0: not started or reaped */
    int fd;          /* read end of the child's pipe, -1 when closed */
    char *out;       /* what the child wrote */
    size_t len, cap;
    double kill_at;  /* absolute xu_now() seconds */
    int killed;      /* 1: killed at kill_at */
    int wstatus;     /* from waitpid */
    int done;
    void *ud;        /* the caller's */
};

/* The child's work: fill *doc (a report from probe_report_json) and
 * return; the pool writes it to the pipe and _exits. */
typedef json_t *(*probe_job_fn)(void *ud);

/* Fork a child for fn(ud); stdio is flushed first. */
int probe_job_start(struct probe_job *j, double kill_at, probe_job_fn fn, void *ud,
                    struct xu_error *err);

/* Read what is available on j->fd (after poll said so). Returns 1 when the
 * child has finished (EOF, reaped), else 0. */
int probe_job_read(struct probe_job *j);

/* Kill the child now (at its deadline, or on shutdown) and reap it. */
void probe_job_kill(struct probe_job *j);

void probe_job_free(struct probe_job *j);

/* Run jobs[0..n) with at most parallel at a time; start(i) fills in and
 * starts job i (returns non-zero if it could not: the job is then done).
 * Returns when every job is done. */
void probe_pool_run(struct probe_job *jobs, size_t n, unsigned parallel,
                    int (*start)(struct probe_job *j, size_t i, void *ud), void *ud);

/* A report as one JSON document {report, status, fatal_code, fatal_msg},
 * and back. probe_report_from_job builds the report of a finished job, or
 * one that says why there is none (killed at the deadline, crashed). */
json_t *probe_report_json(const struct probe_report *r);
void probe_report_from_job(struct probe_report *r, const struct probe_job *j,
                           const char *domain, const char *mode, double timeout);

#endif

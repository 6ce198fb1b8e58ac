/* The end of a run of xmpp-probe: its reports written in the format the
 * options ask for (stdout, or --output FILE replaced atomically), and the
 * exit status (sysexits, or 0-3 with --nagios; several targets: the worst). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/msg.h"
#include "probe/probe.h"

int probe_exit_code(const struct probe_report *r, const struct probe_opts *po)
{
    if (po->nagios)
        return (int)r->status;
    if (r->fatal.code)
        return r->fatal.code;
    if (r->status == PROBE_CRITICAL)
        return XU_EX_FAIL;
    if (r->status == PROBE_UNKNOWN)
        return XU_EX_SOFTWARE;
    return 0;
}

int probe_worst_exit(const struct probe_report *r, size_t n, const struct probe_opts *po)
{
    size_t i, w = 0;

    for (i = 1; i < n; i++)
        if (r[i].status > r[w].status || (probe_exit_code(&r[w], po) == 0 && probe_exit_code(&r[i], po)))
            w = i;
    return n ? probe_exit_code(&r[w], po) : 0;
}

int probe_write_reports(const struct probe_report *r, size_t n, int several,
                        const struct probe_opts *po, FILE *fp)
{
    struct probe_thresholds t = {po->checks.warn_days, po->checks.crit_days, po->checks.warn_ms,
                                 po->checks.crit_ms};
    struct probe_prom_opts pro = {0, several};
    const struct probe_report **rp = calloc(n ? n : 1, sizeof *rp);
    size_t i;
    int rc;

    if (!rp)
        return XU_EX_OSERR;
    for (i = 0; i < n; i++)
        rp[i] = &r[i];
    if (po->prometheus)
        rc = probe_write_prometheus_many(rp, n, &pro, fp);
    else if (!several && po->nagios)
        rc = probe_write_nagios(&r[0], &t, fp);
    else if (!several && po->format == PROBE_FMT_JSON)
        rc = probe_write_json(&r[0], fp);
    else if (!several && po->format == PROBE_FMT_XML)
        rc = probe_write_xml(&r[0], fp);
    else if (!several)
        rc = probe_write_text(&r[0], fp);
    else if (po->nagios)
        rc = probe_write_fleet_nagios(rp, n, fp);
    else if (po->format == PROBE_FMT_JSON)
        rc = probe_write_fleet_json(rp, n, fp);
    else
        rc = probe_write_fleet_text(rp, n, fp);
    free(rp);
    return rc;
}

/* --output FILE: the report goes to a temporary file beside FILE, renamed
 * over FILE once complete, so that a reader (node_exporter's textfile
 * collector) sees the old report or the new one, never a part; written on
 * failure too, so that an outage is recorded. */
int probe_write_output(const struct probe_report *r, size_t n, int several,
                       const struct probe_opts *po, struct xu_error *err)
{
    size_t len = strlen(po->output);
    char *tmp = malloc(len + 16);
    FILE *fp;
    int fd, rc;
    mode_t mask;

    if (!tmp)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    snprintf(tmp, len + 16, "%s.XXXXXX", po->output);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = xu_error_set(err, XU_EX_IOERR, "cannot create a file beside %s: %s", po->output,
                          strerror(errno));
        free(tmp);
        return rc;
    }
    /* a report holds no secret: readable as an ordinary file would be */
    mask = umask(0);
    umask(mask);
    fchmod(fd, 0644 & ~mask);
    fp = fdopen(fd, "w");
    rc = fp ? probe_write_reports(r, n, several, po, fp) : XU_EX_IOERR;
    if (fp && rc == 0 && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
        rc = XU_EX_IOERR;
    if (fp ? fclose(fp) != 0 : close(fd) != 0)
        rc = rc ? rc : XU_EX_IOERR;
    if (rc == 0 && rename(tmp, po->output) != 0)
        rc = XU_EX_IOERR;
    if (rc) {
        unlink(tmp);
        xu_error_set(err, rc, "cannot write the report to %s: %s", po->output, strerror(errno));
    }
    free(tmp);
    return rc;
}

int probe_report_run(const struct probe_run_ctx *x)
{
    const struct probe_opts *po = x->po;
    struct xu_error err = {0, ""};
    int out, rc;

    out = po->output ? probe_write_output(x->reports, x->nreports, x->several, po, &err)
                     : probe_write_reports(x->reports, x->nreports, x->several, po, stdout);
    rc = x->several ? probe_worst_exit(x->reports, x->nreports, po)
                    : probe_exit_code(&x->reports[0], po);
    if (!x->several && x->reports[0].fatal.code && !po->nagios)
        xu_report(&x->reports[0].fatal);
    if (out) {
        if (!po->output)
            xu_error_set(&err, out, "cannot write the report to standard output");
        xu_report(&err);
        rc = out;
    }
    return rc;
}

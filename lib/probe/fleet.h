/* Many targets in one xmpp-probe run: what a target is (a domain, or
 * xmpp://HOST:PORT/DOMAIN as xmpp-blackbox-exporter writes it, xmpps:// for
 * direct TLS), a targets file, every SRV target on every address
 * (--all-targets), and the reports of a fleet: a table, a JSON array, one
 * Nagios line for the worst state. */
#ifndef XU_PROBE_FLEET_H
#define XU_PROBE_FLEET_H

#include <stdio.h>

#include "base/error.h"
#include "probe/report.h"

struct probe_spec {
    char text[600];      /* as given (or as built by --all-targets) */
    char domain[256];
    char host[256];      /* "" : SRV / default, as for a plain domain */
    unsigned port;
    int direct_tls;      /* xmpps:// */
    /* --all-targets: the SRV record this address came from */
    char srv_host[256];
    int priority, weight, family;
    const char *service;
};

/* Parse a target; errors are usage errors (64) naming the target. */
int probe_spec_parse(const char *s, struct probe_spec *sp, struct xu_error *err);

/* Append the targets of FILE (one a line; blank lines and # comments
 * skipped) to (*list, *n). */
int probe_targets_file(const char *path, struct probe_spec **list, size_t *n,
                       struct xu_error *err);

/* --all-targets: the SRV records of domain for both services (STARTTLS
 * and XEP-0368 direct TLS; s2s: the server ones) merged by priority, then
 * weight, each host's addresses (IPv4 and IPv6 apart, family may restrict)
 * as one target each, appended to (*list, *n). No SRV record: the domain on
 * the default port. Returns 0, or the DNS failure (nothing to probe). */
int probe_expand_all(const char *domain, int s2s, int tls_off, int tls_direct, int family,
                     double deadline, struct probe_spec **list, size_t *n,
                     struct xu_error *err);

/* The outputs of several reports. */
int probe_write_fleet_text(const struct probe_report *const *r, size_t n, FILE *fp);
int probe_write_fleet_json(const struct probe_report *const *r, size_t n, FILE *fp);
int probe_write_fleet_nagios(const struct probe_report *const *r, size_t n, FILE *fp);

/* A one-line summary of a report: its first finding of its worst severity,
 * else "ok". */
void probe_report_summary(const struct probe_report *r, char *buf, size_t len);

#endif

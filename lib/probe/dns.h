/* Where to connect for an XMPP domain: SRV records (RFC 6120 3.2, XEP-0368
 * for direct TLS) looked up with the system resolver library, else the
 * domain itself on the default port. */
#ifndef XU_PROBE_DNS_H
#define XU_PROBE_DNS_H

#include "base/error.h"

#define PROBE_MAX_TARGETS 32

struct probe_target {
    char host[256];
    unsigned port;
    int direct_tls;      /* 1: TLS from the first byte (xmpps-*) */
    const char *source;  /* "srv", "fallback" or "cli" */
    int priority, weight;
};

/* Look up the SRV records of service ("_xmpp-client._tcp") for domain and
 * append them to t[*n] (up to max), each marked direct_tls. Returns 0 (also
 * when there is no record: *n unchanged), XU_EX_UNAVAILABLE when the domain
 * says the service is not offered (a single "." target; *dot is set), or
 * XU_EX_TEMPFAIL when the lookup failed (resolver unreachable, SERVFAIL).
 * The lookup gives up at deadline (xu_now() seconds). */
int probe_srv_lookup(const char *service, const char *domain, int direct_tls, double deadline,
                     struct probe_target *t, int *n, int max, int *dot, struct xu_error *err);

/* Order targets by priority, then weight (highest first), stably. */
void probe_targets_sort(struct probe_target *t, int n);

#endif

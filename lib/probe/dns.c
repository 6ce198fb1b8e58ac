/* The DNS stage of a probe (probe_find_targets, run.h): where to connect
 * (the command line's host, the SRV targets, or the domain on the default
 * port), each target recorded in the report; and the SRV lookups it makes. */
#include "probe/dns.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/trace.h"
#include "probe/run.h"
#include "xmpp/session.h"

int probe_srv_lookup(const char *service, const char *domain, int direct_tls, double deadline,
                     struct probe_target *t, int *n, int max, int *dot, struct xu_error *err)
{
    unsigned char answer[NS_MAXMSG];
    char name[NS_MAXDNAME], target[NS_MAXDNAME];
    struct __res_state rs;
    ns_msg msg;
    ns_rr rr;
    const unsigned char *rd;
    double left = deadline - xu_now();
    int len, i, count, found = 0;

    *dot = 0;
    snprintf(name, sizeof name, "%s.%s", service, domain);
    memset(&rs, 0, sizeof rs);
    if (res_ninit(&rs) != 0)
        return xu_error_set(err, XU_EX_TEMPFAIL, "cannot initialise the resolver");
    /* stay within the deadline: one try per server, the time shared out */
    rs.retry = 1;
    rs.retrans = left / (rs.nscount > 0 ? rs.nscount : 1) < 1
                     ? 1
                     : (int)(left / (rs.nscount > 0 ? rs.nscount : 1));
    if (rs.retrans > 5)
        rs.retrans = 5;
    len = res_nquery(&rs, name, ns_c_in, ns_t_srv, answer, sizeof answer);
    if (len < 0) {
        int h = rs.res_h_errno;

        res_nclose(&rs);
        if (h == HOST_NOT_FOUND || h == NO_DATA)
            return 0; /* no such record: not an error */
        return xu_error_set(err, XU_EX_TEMPFAIL, "SRV lookup of %s failed: %s", name,
                            hstrerror(h));
    }
    res_nclose(&rs);
    if (ns_initparse(answer, len, &msg) < 0)
        return xu_error_set(err, XU_EX_TEMPFAIL, "SRV lookup of %s: malformed answer", name);
    count = ns_msg_count(msg, ns_s_an);
    for (i = 0; i < count; i++) {
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_srv ||
            ns_rr_rdlen(rr) < 7)
            continue;
        rd = ns_rr_rdata(rr);
        if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6, target, sizeof target) < 0)
            continue;
        found++;
        if (target[0] == '\0' || strcmp(target, ".") == 0) {
            *dot = 1; /* RFC 2782: the service is decidedly not available */
            continue;
        }
        if (*n >= max)
            continue;
        memset(&t[*n], 0, sizeof t[*n]);
        t[*n].priority = ns_get16(rd);
        t[*n].weight = ns_get16(rd + 2);
        t[*n].port = ns_get16(rd + 4);
        snprintf(t[*n].host, sizeof t[*n].host, "%s", target);
        t[*n].direct_tls = direct_tls;
        t[*n].source = "srv";
        (*n)++;
    }
    if (*dot && found == 1)
        return xu_error_set(err, XU_EX_UNAVAILABLE, "%s says the service is not offered (\".\")",
                            name);
    *dot = 0;
    return 0;
}

void probe_targets_sort(struct probe_target *t, int n)
{
    struct probe_target tmp;
    int i, j;

    /* insertion sort: stable, and n is small */
    for (i = 1; i < n; i++) {
        tmp = t[i];
        for (j = i; j > 0 && (t[j - 1].priority > tmp.priority ||
                              (t[j - 1].priority == tmp.priority && t[j - 1].weight < tmp.weight));
             j--)
            t[j] = t[j - 1];
        t[j] = tmp;
    }
}

/* ---- the DNS stage ---- */

static unsigned default_port(enum probe_mode m, int direct)
{
    switch (m) {
    case PROBE_S2S: return direct ? 5270 : 5269;
    case PROBE_COMPONENT: return 5347;
    case PROBE_CM: return 5262;
    default: return direct ? 5223 : 5222;
    }
}

static void add_target(json_t *arr, const struct probe_target *t, int tls_off)
{
    json_t *j = json_object();

    json_object_set_new(j, "host", probe_jstr(t->host));
    json_object_set_new(j, "port", json_integer(t->port));
    json_object_set_new(j, "source", json_string(t->source));
    json_object_set_new(j, "tls", json_string(t->direct_tls ? "direct" : tls_off ? "none" : "starttls"));

    if (strcmp(t->source, "srv") == 0) {
        json_object_set_new(j, "priority", json_integer(t->priority));
        json_object_set_new(j, "weight", json_integer(t->weight));
    }
    json_object_set_new(j, "address", json_null());
    json_object_set_new(j, "ok", json_null());
    json_object_set_new(j, "error", json_null());
    json_object_set_new(j, "ms", json_null());
    json_array_append_new(arr, j);
}

int probe_find_targets(const struct probe_cfg *cfg, struct probe_report *r,
                       struct probe_target *t, int max)
{
    const struct xu_opts *o = cfg->opts;
    json_t *arr = json_object_get(r->root, "targets");
    int direct = o->tls == XU_TLS_DIRECT, tls_off = o->tls == XU_TLS_OFF;
    int n = 0, i, dot, dots = 0, tried = 0, rc;
    const char *svc[2][2] = {{"_xmpp-client._tcp", "_xmpps-client._tcp"},
                             {"_xmpp-server._tcp", "_xmpps-server._tcp"}};
    struct xu_error err = {0, ""};
    double t0 = xu_now();

    if (cfg->mode == PROBE_COMPONENT || cfg->mode == PROBE_CM || o->host || o->port) {
        memset(&t[0], 0, sizeof t[0]);
        snprintf(t[0].host, sizeof t[0].host, "%s",
                 o->host ? o->host : cfg->host ? cfg->host : cfg->domain);
        t[0].port = o->port ? o->port : default_port(cfg->mode, direct);
        t[0].direct_tls = direct && cfg->mode != PROBE_COMPONENT;
        t[0].source = "cli";
        add_target(arr, &t[0], tls_off || cfg->mode == PROBE_COMPONENT);
        return 1;
    }
    for (i = 0; i < 2; i++) {
        /* [0] STARTTLS records, [1] direct TLS ones (XEP-0368) */
        if ((i == 0 && direct) || (i == 1 && tls_off))
            continue;
        tried++;
        xu_error_clear(&err);
        rc = probe_srv_lookup(svc[cfg->mode == PROBE_S2S][i], cfg->domain, i, cfg->deadline, t, &n,
                              max, &dot, &err);
        xu_trace_info(cfg->trace, "SRV %s.%s: %s", svc[cfg->mode == PROBE_S2S][i], cfg->domain,
                      rc ? err.msg : "looked up");
        if (rc == XU_EX_UNAVAILABLE)
            dots++;
        else if (rc)
            probe_finding(r, PROBE_WARNING, "dns", "%s", err.msg);
    }
    if (dots == tried) {
        xu_error_replace(&err, XU_EX_UNAVAILABLE, "%s says that it offers no XMPP service here",
                         cfg->domain);
        probe_fail(r, "dns", probe_ms_since(t0), &err);
        return 0;
    }
    probe_targets_sort(t, n);
    if (n == 0) {
        memset(&t[0], 0, sizeof t[0]);
        snprintf(t[0].host, sizeof t[0].host, "%s", cfg->domain);
        t[0].port = default_port(cfg->mode, direct);
        t[0].direct_tls = direct;
        t[0].source = "fallback";
        n = 1;
        probe_stage(r, "dns", 1, probe_ms_since(t0), "no SRV records: falling back to %s:%u",
                    cfg->domain, t[0].port);
    } else {
        probe_stage(r, "dns", 1, probe_ms_since(t0), "%d SRV target%s", n, n == 1 ? "" : "s");
    }
    for (i = 0; i < n; i++)
        add_target(arr, &t[i], tls_off);
    return n;
}

#include "probe/dns.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#include "probe/fleet.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/jid.h"
#include "base/msg.h"
#include "base/opts.h"
#include "probe/dns.h"

int probe_spec_parse(const char *s, struct probe_spec *sp, struct xu_error *err)
{
    const char *p, *slash, *colon, *host_end;
    unsigned long port;
    char portbuf[16], why[128];
    int direct = 0;

    memset(sp, 0, sizeof *sp);
    if (!s || !*s || strlen(s) >= sizeof sp->text)
        return xu_error_set(err, XU_EX_USAGE, "'%.100s' is not a target (empty or too long)",
                            s ? s : "");
    snprintf(sp->text, sizeof sp->text, "%s", s);
    if (strncmp(s, "xmpp://", 7) == 0 || (direct = strncmp(s, "xmpps://", 8) == 0)) {
        p = s + (direct ? 8 : 7);
        slash = strchr(p, '/');
        if (!slash)
            return xu_error_set(err, XU_EX_USAGE, "target '%s': expected xmpp://HOST:PORT/DOMAIN", s);
        if (*p == '[') {
            host_end = memchr(p, ']', (size_t)(slash - p));
            if (!host_end || host_end[1] != ':')
                return xu_error_set(err, XU_EX_USAGE, "target '%s': expected [IPv6]:PORT", s);
            snprintf(sp->host, sizeof sp->host, "%.*s", (int)(host_end - p - 1), p + 1);
            colon = host_end + 1;
        } else {
            colon = memchr(p, ':', (size_t)(slash - p));
            if (!colon)
                return xu_error_set(err, XU_EX_USAGE, "target '%s': expected xmpp://HOST:PORT/DOMAIN (no port)", s);
            snprintf(sp->host, sizeof sp->host, "%.*s", (int)(colon - p), p);
        }
        snprintf(portbuf, sizeof portbuf, "%.*s", (int)(slash - colon - 1), colon + 1);
        if (!sp->host[0] || strpbrk(sp->host, "/@'\"<>& \t\r\n") ||
            xu_parse_uint(portbuf, 1, 65535, &port) < 0 || slash - colon - 1 > 5)
            return xu_error_set(err, XU_EX_USAGE, "target '%s': bad host or port (1-65535)", s);
        sp->port = (unsigned)port;
        sp->direct_tls = direct;
        s = slash + 1;
    } else if (strstr(s, "://")) {
        return xu_error_set(err, XU_EX_USAGE, "target '%s': only xmpp:// and xmpps:// are known", s);
    }
    if (!*s || strlen(s) >= sizeof sp->domain ||
        xu_jid_check(s, 0, why, sizeof why) < 0 || strpbrk(s, "@/'\"<>&"))
        return xu_error_set(err, XU_EX_USAGE, "target '%s': '%s' is not a domain name", sp->text, s);
    snprintf(sp->domain, sizeof sp->domain, "%s", s);
    return 0;
}

static int append(struct probe_spec **list, size_t *n, const struct probe_spec *sp,
                  struct xu_error *err)
{
    struct probe_spec *p;

    if (*n >= 100000)
        return xu_error_set(err, XU_EX_USAGE, "too many targets (at most 100000)");
    p = realloc(*list, (*n + 1) * sizeof **list);
    if (!p)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    *list = p;
    p[(*n)++] = *sp;
    return 0;
}

int probe_targets_file(const char *path, struct probe_spec **list, size_t *n,
                       struct xu_error *err)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL, *s, *e;
    size_t cap = 0;
    struct probe_spec sp;
    int lineno = 0, rc = 0;

    if (!fp)
        return xu_error_set(err, XU_EX_USAGE,
                            "cannot read the targets file %s: %s", path, strerror(errno));
    while (rc == 0 && getline(&line, &cap, fp) >= 0) {
        lineno++;
        for (s = line; isspace((unsigned char)*s); s++)
            ;
        for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
            ;
        *e = '\0';
        if (!*s || *s == '#')
            continue;
        if ((rc = probe_spec_parse(s, &sp, err)) != 0) {
            char msg[sizeof err->msg];

            snprintf(msg, sizeof msg, "%s:%d: %s", path, lineno, err->msg);
            xu_error_replace(err, XU_EX_DATAERR, "%s", msg);
            rc = XU_EX_DATAERR;
        } else {
            rc = append(list, n, &sp, err);
        }
    }
    if (rc == 0 && ferror(fp))
        rc = xu_error_set(err, XU_EX_IOERR, "cannot read the targets file %s", path);
    free(line);
    if (fp != stdin)
        fclose(fp);
    return rc;
}

int probe_expand_all(const char *domain, int s2s, int tls_off, int tls_direct, int family,
                     double deadline, struct probe_spec **list, size_t *n,
                     struct xu_error *err)
{
    static const char *const svc[2][2] = {{"_xmpp-client._tcp", "_xmpps-client._tcp"},
                                          {"_xmpp-server._tcp", "_xmpps-server._tcp"}};
    struct probe_target t[PROBE_MAX_TARGETS];
    struct addrinfo hints, *res, *ai;
    struct probe_spec sp;
    char addr[INET6_ADDRSTRLEN], port[16];
    int nt = 0, i, dot = 0, dots = 0, tried = 0, rc, fam, found, failed = 0;
    struct xu_error e = {0, ""};

    for (i = 0; i < 2; i++) {
        if ((i == 0 && tls_direct) || (i == 1 && tls_off))
            continue;
        tried++;
        xu_error_clear(&e);
        rc = probe_srv_lookup(svc[s2s][i], domain, i, deadline, t, &nt, PROBE_MAX_TARGETS, &dot, &e);
        if (rc == XU_EX_UNAVAILABLE)
            dots++;
        else if (rc)
            return xu_error_set(err, rc, "%s", e.msg);
    }
    if (dots == tried)
        return xu_error_set(err, XU_EX_UNAVAILABLE, "%s says that it offers no XMPP service", domain);
    probe_targets_sort(t, nt);
    if (nt == 0) {
        memset(&t[0], 0, sizeof t[0]);
        snprintf(t[0].host, sizeof t[0].host, "%s", domain);
        t[0].port = s2s ? (tls_direct ? 5270 : 5269) : (tls_direct ? 5223 : 5222);
        t[0].direct_tls = tls_direct;
        t[0].source = "fallback";
        nt = 1;
    }
    for (i = 0; i < nt; i++) {
        memset(&hints, 0, sizeof hints);
        hints.ai_family = family;
        hints.ai_socktype = SOCK_STREAM;
        snprintf(port, sizeof port, "%u", t[i].port);
        found = 0;
        rc = getaddrinfo(t[i].host, port, &hints, &res);
        /* IPv4 first, then IPv6, each address once */
        for (fam = 0; rc == 0 && fam < 2; fam++)
            for (ai = res; ai; ai = ai->ai_next) {
                int want = fam == 0 ? AF_INET : AF_INET6;
                struct addrinfo *prev;
                int dup = 0;

                if (ai->ai_family != want ||
                    getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr, NULL, 0,
                                NI_NUMERICHOST) != 0)
                    continue;
                for (prev = res; prev != ai; prev = prev->ai_next)
                    dup |= prev->ai_family == ai->ai_family && prev->ai_addrlen == ai->ai_addrlen &&
                           memcmp(prev->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0;
                if (dup)
                    continue;
                memset(&sp, 0, sizeof sp);
                snprintf(sp.text, sizeof sp.text, "%s://%s%s%s:%u/%s",
                         t[i].direct_tls ? "xmpps" : "xmpp", want == AF_INET6 ? "[" : "", addr,
                         want == AF_INET6 ? "]" : "", t[i].port, domain);
                snprintf(sp.domain, sizeof sp.domain, "%s", domain);
                snprintf(sp.host, sizeof sp.host, "%s", addr);
                snprintf(sp.srv_host, sizeof sp.srv_host, "%s", t[i].host);
                sp.port = t[i].port;
                sp.direct_tls = t[i].direct_tls;
                sp.priority = t[i].priority;
                sp.weight = t[i].weight;
                sp.family = want;
                sp.service = strcmp(t[i].source, "srv") == 0 ? svc[s2s][t[i].direct_tls] : "fallback";
                if (append(list, n, &sp, err) != 0) {
                    freeaddrinfo(res);
                    return err->code;
                }
                found++;
            }
        if (rc == 0)
            freeaddrinfo(res);
        if (!found) {
            /* a target without an address is still a target: it fails */
            memset(&sp, 0, sizeof sp);
            snprintf(sp.text, sizeof sp.text, "%s://%s:%u/%s", t[i].direct_tls ? "xmpps" : "xmpp",
                     t[i].host, t[i].port, domain);
            snprintf(sp.domain, sizeof sp.domain, "%s", domain);
            snprintf(sp.host, sizeof sp.host, "%s", t[i].host);
            snprintf(sp.srv_host, sizeof sp.srv_host, "%s", t[i].host);
            sp.port = t[i].port;
            sp.direct_tls = t[i].direct_tls;
            sp.priority = t[i].priority;
            sp.weight = t[i].weight;
            sp.service = strcmp(t[i].source, "srv") == 0 ? svc[s2s][t[i].direct_tls] : "fallback";
            failed++;
            if (append(list, n, &sp, err) != 0)
                return err->code;
        }
    }
    (void)failed;
    return 0;
}

/* ---- outputs ---- */

void probe_report_summary(const struct probe_report *r, char *buf, size_t len)
{
    const char *want = probe_status_name(r->status);
    const json_t *f;
    size_t i;

    if (r->status != PROBE_OK)
        json_array_foreach(r->findings, i, f)
            if (probe_get_str(f, "severity") && strcmp(probe_get_str(f, "severity"), want) == 0) {
                xu_sanitize_terminal(buf, len, probe_get_str(f, "message"));
                return;
            }
    snprintf(buf, len, "%s%s%s", probe_get_str(r->root, "tls.version") ? probe_get_str(r->root, "tls.version") : "ok",
             probe_get_num(r->root, "tls.cert.days_left", -1e9) > -1e9 ? ", certificate days left " : "",
             "");
    if (probe_get_num(r->root, "tls.cert.days_left", -1e9) > -1e9) {
        size_t n = strlen(buf);
        snprintf(buf + n, len > n ? len - n : 0, "%.0f", probe_get_num(r->root, "tls.cert.days_left", 0));
    }
}

static int finish(FILE *fp)
{
    if (fflush(fp) != 0 || ferror(fp))
        return XU_EX_IOERR;
    return 0;
}

int probe_write_fleet_text(const struct probe_report *const *r, size_t n, FILE *fp)
{
    char target[256], sum[512], up[16];
    size_t i, c, count[4] = {0, 0, 0, 0};
    const char *st;

    fprintf(fp, "%-44s %-8s %9s  %s\n", "TARGET", "STATUS", "MS", "DETAIL");
    for (i = 0; i < n; i++) {
        xu_sanitize_terminal(target, sizeof target, probe_get_str(r[i]->root, "target")
                                                        ? probe_get_str(r[i]->root, "target")
                                                        : probe_get_str(r[i]->root, "domain"));
        probe_report_summary(r[i], sum, sizeof sum);
        st = probe_status_name(r[i]->status);
        for (c = 0; st[c] && c + 1 < sizeof up; c++)
            up[c] = (char)toupper((unsigned char)st[c]);
        up[c] = '\0';
        count[r[i]->status]++;
        fprintf(fp, "%-44s %-8s %9.1f  %s\n", target, up, probe_get_num(r[i]->root, "ms", 0), sum);
    }
    fprintf(fp, "%zu targets: %zu ok, %zu warning, %zu critical, %zu unknown\n", n, count[0],
            count[1], count[2], count[3]);
    return finish(fp);
}

int probe_write_fleet_json(const struct probe_report *const *r, size_t n, FILE *fp)
{
    json_t *arr = json_array();
    size_t i;
    int rc;

    for (i = 0; i < n; i++)
        json_array_append(arr, r[i]->root);
    rc = json_dumpf(arr, fp, JSON_INDENT(2)) == 0 ? 0 : XU_EX_IOERR;
    json_decref(arr);
    fputc('\n', fp);
    return rc ? rc : finish(fp);
}

int probe_write_fleet_nagios(const struct probe_report *const *r, size_t n, FILE *fp)
{
    static const char *const label[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
    enum probe_status worst = PROBE_OK;
    size_t i, count[4] = {0, 0, 0, 0}, shown = 0, len = 0;
    char names[1024] = "", t[256], sum[512];

    for (i = 0; i < n; i++) {
        count[r[i]->status]++;
        if (r[i]->status > worst)
            worst = r[i]->status;
    }
    for (i = 0; i < n && worst != PROBE_OK; i++) {
        if (r[i]->status != worst)
            continue;
        xu_sanitize_terminal(t, sizeof t, probe_get_str(r[i]->root, "target"));
        for (char *p = t; *p; p++)
            if (*p == '|')
                *p = '/';
        if (shown++ == 5) {
            len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0, ", ...");
            break;
        }
        len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0, "%s%s",
                                shown > 1 ? ", " : "", t);
    }
    if (worst == PROBE_OK)
        fprintf(fp, "XMPP OK - %zu of %zu targets ok", count[0], n);
    else
        fprintf(fp, "XMPP %s - %zu of %zu targets %s: %s", label[worst], count[worst], n,
                probe_status_name(worst), names);
    fprintf(fp, " | targets=%zu;;;0; ok=%zu;;;0;%zu warning=%zu;;;0;%zu critical=%zu;;;0;%zu unknown=%zu;;;0;%zu\n",
            n, count[0], n, count[1], n, count[2], n, count[3], n);
    for (i = 0; i < n; i++) {
        xu_sanitize_terminal(t, sizeof t, probe_get_str(r[i]->root, "target"));
        probe_report_summary(r[i], sum, sizeof sum);
        for (char *p = sum; *p; p++)
            if (*p == '|')
                *p = '/';
        for (char *p = t; *p; p++)
            if (*p == '|')
                *p = '/';
        fprintf(fp, "%s: %s - %s\n", t, label[r[i]->status], sum);
    }
    return finish(fp);
}

/* The stages of xmpp-probe: targets (dns.c), the stream inspected on a connection
 * of our own (TCP, stream header, features, STARTTLS or direct TLS, TLS
 * details, features after TLS), a XEP-0114 or connection-manager handshake,
 * and, with credentials, a libstrophe session (SASL, bind, ping, disco#info,
 * version, close). Each stage adds to the report. */
#ifndef XU_PROBE_RUN_H
#define XU_PROBE_RUN_H

#include <libxml/tree.h>
#include <openssl/ssl.h>

#include "base/opts.h"
#include "probe/dns.h"
#include "probe/report.h"

enum probe_mode { PROBE_C2S, PROBE_S2S, PROBE_COMPONENT, PROBE_CM };

struct probe_cfg {
    const struct xu_opts *opts;
    enum probe_mode mode;
    const char *domain;    /* the XMPP domain (component/cm: its name) */
    const char *host;      /* component/cm: where to connect */
    const char *tls_name;  /* the name the certificate must carry (default: domain) */
    int family;            /* AF_UNSPEC, AF_INET, AF_INET6 */
    int login;             /* log in with opts->jid */
    const char *password;  /* for the login, fetched before timing starts */
    const char *secret;    /* component/cm handshake secret */
    SSL_CTX *tls;
    struct xu_trace *trace;
    double deadline;       /* absolute xu_now() seconds */
};

struct probe_checks {
    unsigned long warn_days, crit_days;
    double warn_ms, crit_ms;              /* total; 0 = none */
    char *stage_name[16];                 /* per-stage --warn-ms/--crit-ms */
    double stage_warn[16], stage_crit[16];
    int nstage;
    char *expect_mech[16], *forbid_mech[16], *expect_feature[16];
    int nexpect_mech, nforbid_mech, nexpect_feature;
};

/* Fill targets (DNS stage); returns the number of targets (0: nothing to try,
 * the report says why). */
int probe_find_targets(const struct probe_cfg *cfg, struct probe_report *r,
                       struct probe_target *t, int max);

/* Connect to the targets in order until one answers on TCP, then inspect
 * the stream there (c2s, s2s) or do the handshake (component, cm). *used
 * gets the index of the target that answered (-1: none). Returns 0 when
 * the probe may go on to log in. */
int probe_connect_and_inspect(const struct probe_cfg *cfg, struct probe_report *r,
                              struct probe_target *t, int n, int *used);

/* The features of a <stream:features/> (or any element listing features)
 * as [{name, ns, required, optional, values}]; SASL mechanism names are also
 * appended to mechs if not NULL. New reference. */
json_t *probe_features_json(xmlNodePtr features, json_t *mechs);

/* Log in through xu_session_open on target t: SASL, bind, ping,
 * disco#info, version, close. */
int probe_login(const struct probe_cfg *cfg, struct probe_report *r, const struct probe_target *t);

/* Thresholds and expectations, after all stages. */
void probe_apply_checks(struct probe_report *r, const struct probe_checks *c);

#endif

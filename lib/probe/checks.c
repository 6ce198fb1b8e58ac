/* xmpp-probe's thresholds and expectations, judged on the finished report. */
#include <string.h>

#include "probe/run.h"

static int feature_present(const json_t *root, const char *ns)
{
    static const char *const lists[] = {"pre_tls", "post_tls", "post_auth"};
    const json_t *feats = json_object_get(root, "features"), *f;
    size_t i, j;

    for (i = 0; i < 3; i++)
        json_array_foreach(json_object_get(feats, lists[i]), j, f)
            if (probe_get_str(f, "ns") && strcmp(probe_get_str(f, "ns"), ns) == 0)
                return 1;
    return probe_has_string(json_object_get(json_object_get(root, "disco"), "features"), ns);
}

static void ms_check(struct probe_report *r, const char *what, double ms, double warn, double crit)
{
    if (ms < 0)
        return;
    if (crit > 0 && ms > crit)
        probe_finding(r, PROBE_CRITICAL, "slow", "%s took %.1f ms (critical above %g ms)", what, ms,
                      crit);
    else if (warn > 0 && ms > warn)
        probe_finding(r, PROBE_WARNING, "slow", "%s took %.1f ms (warning above %g ms)", what, ms,
                      warn);
}

void probe_apply_checks(struct probe_report *r, const struct probe_checks *c)
{
    const json_t *root = r->root, *st;
    double days = probe_get_num(root, "tls.cert.days_left", -1e9);
    const char *when = probe_get_str(root, "tls.cert.not_after");
    json_t *mechs = json_object_get(json_object_get(root, "sasl"), "mechanisms");
    json_t *pre = json_object_get(json_object_get(root, "sasl"), "mechanisms_pre_tls");
    size_t j;
    int i;

    if (days > -1e9) {
        if (days < 0)
            probe_finding(r, PROBE_CRITICAL, "cert-expired", "the certificate expired on %s", when);
        else if (c->crit_days && days <= (double)c->crit_days)
            probe_finding(r, PROBE_CRITICAL, "cert-expiry",
                          "the certificate expires in %.0f days (%s; critical at %lu)", days, when,
                          c->crit_days);
        else if (c->warn_days && days <= (double)c->warn_days)
            probe_finding(r, PROBE_WARNING, "cert-expiry",
                          "the certificate expires in %.0f days (%s; warning at %lu)", days, when,
                          c->warn_days);
    }
    ms_check(r, "the probe", probe_ms_since(r->t0), c->warn_ms, c->crit_ms);
    for (i = 0; i < c->nstage; i++)
        json_array_foreach(r->stages, j, st)
            if (strcmp(probe_get_str(st, "name"), c->stage_name[i]) == 0)
                ms_check(r, c->stage_name[i], probe_get_num(st, "ms", -1), c->stage_warn[i],
                         c->stage_crit[i]);
    for (i = 0; i < c->nexpect_mech; i++)
        if (!probe_has_string(mechs, c->expect_mech[i]) && json_is_array(mechs))
            probe_finding(r, PROBE_CRITICAL, "expect-mechanism",
                          "SASL mechanism %s is not offered", c->expect_mech[i]);
    for (i = 0; i < c->nforbid_mech; i++)
        if (probe_has_string(mechs, c->forbid_mech[i]) || probe_has_string(pre, c->forbid_mech[i]))
            probe_finding(r, PROBE_CRITICAL, "forbid-mechanism", "SASL mechanism %s is offered",
                          c->forbid_mech[i]);
    for (i = 0; i < c->nexpect_feature; i++)
        if (!feature_present(root, c->expect_feature[i]))
            probe_finding(r, PROBE_CRITICAL, "expect-feature", "feature %s is not offered",
                          c->expect_feature[i]);
}

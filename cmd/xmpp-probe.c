/* xmpp-probe: what an XMPP server offers and how fast, stage by stage, for
 * humans (text), programs (JSON, XML) and monitoring (Nagios, Prometheus).
 * A failed check is never exit 0. The engine is lib/probe/ (probe.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/msg.h"
#include "base/opts.h"
#include "probe/probe.h"

#define FLAG_IN(field) XU_TO(XU_STORE_FLAG, struct probe_opts, field)
#define STRING_IN(field) XU_TO(XU_STORE_STRING, struct probe_opts, field)

static const struct xu_option probe_options[] = {
    {"mode", 0, XU_OPT_ARG, PROBE_O_MODE, "MODE", "c2s (default), s2s, component (XEP-0114) or cm (connection manager)", XU_CALL},
    {"format", 0, XU_OPT_ARG, PROBE_O_FORMAT, "FMT", "text (default), json or xml", XU_CALL},
    {"nagios", 0, 0, PROBE_O_NAGIOS, NULL, "Nagios plugin output and exit status (0 ok, 1 warning, 2 critical, 3 unknown)", FLAG_IN(nagios)},
    {"prometheus", 0, 0, PROBE_O_PROMETHEUS, NULL, "Prometheus text exposition format", FLAG_IN(prometheus)},
    {"ipv4", '4', 0, PROBE_O_IPV4, NULL, "connect over IPv4 only", XU_CALL},
    {"ipv6", '6', 0, PROBE_O_IPV6, NULL, "connect over IPv6 only", XU_CALL},
    {"warn-days", 0, XU_OPT_ARG, PROBE_O_WARN_DAYS, "N", "warning when the certificate expires within N days (default 14; 0 off)", XU_CALL},
    {"crit-days", 0, XU_OPT_ARG, PROBE_O_CRIT_DAYS, "N", "critical when the certificate expires within N days (default 3; 0 off)", XU_CALL},
    {"warn-ms", 0, XU_OPT_ARG | XU_OPT_REPEAT, PROBE_O_WARN_MS, "[STAGE:]MS", "warning when the probe (or STAGE) takes longer than MS milliseconds", XU_CALL},
    {"crit-ms", 0, XU_OPT_ARG | XU_OPT_REPEAT, PROBE_O_CRIT_MS, "[STAGE:]MS", "critical when the probe (or STAGE) takes longer than MS milliseconds", XU_CALL},
    {"expect-mechanism", 0, XU_OPT_ARG | XU_OPT_REPEAT, PROBE_O_EXPECT_MECH, "MECH", "critical unless SASL mechanism MECH is offered after TLS", XU_CALL},
    {"forbid-mechanism", 0, XU_OPT_ARG | XU_OPT_REPEAT, PROBE_O_FORBID_MECH, "MECH", "critical if SASL mechanism MECH is offered (e.g. PLAIN)", XU_CALL},
    {"expect-feature", 0, XU_OPT_ARG | XU_OPT_REPEAT, PROBE_O_EXPECT_FEATURE, "NS", "critical unless a stream or disco feature NS is offered", XU_CALL},
    {"no-login", 0, XU_OPT_NOCONFIG, PROBE_O_NO_LOGIN, NULL, "do not log in, even if an account is configured", FLAG_IN(no_login)},
    {"targets", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, PROBE_O_TARGETS, "FILE", "also probe the targets in FILE, one a line ('-' = stdin)", STRING_IN(targets_file)},
    {"parallel", 0, XU_OPT_ARG, PROBE_O_PARALLEL, "N", "probe at most N targets at a time (default 16)", XU_CALL},
    {"all-targets", 0, XU_OPT_NOCONFIG, PROBE_O_ALL_TARGETS, NULL, "probe every SRV target of the domain on every address", FLAG_IN(all_targets)},
    {"output", 'o', XU_OPT_ARG | XU_OPT_NOCONFIG, PROBE_O_OUTPUT, "FILE", "write the report to FILE atomically, also when the probe fails", STRING_IN(output)},
    {"serve", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, PROBE_O_SERVE, "[ADDR:]PORT", "run as a Prometheus exporter on ADDR:PORT (default address 127.0.0.1)", STRING_IN(serve)},
    {"allow-target", 0, XU_OPT_ARG | XU_OPT_REPEAT | XU_OPT_NOCONFIG, PROBE_O_ALLOW_TARGET, "PATTERN", "exporter: probe only targets matching PATTERN (shell glob)", XU_CALL},
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};

int main(int argc, char **argv)
{
    struct probe_opts po;
    struct xu_tool tool = {
        .name = "xmpp-probe",
        .synopsis = "[options] [TARGET...]",
        .summary = "Probe an XMPP server stage by stage (DNS, TCP, stream, features, TLS and its\n"
                   "certificate; with an account: SASL, bind, ping, disco#info, version), timing each,\n"
                   "and report as text, JSON, XML, a Nagios plugin or Prometheus metrics.\n"
                   "A TARGET is a DOMAIN or xmpp://HOST:PORT/DOMAIN (xmpps:// for direct TLS); several\n"
                   "are probed at once. DOMAIN defaults to the account's domain; in component and cm\n"
                   "mode the operand is the HOST to connect to. --serve runs a Prometheus exporter.",
        .options = probe_options, .apply = probe_apply_option, .state = &po,
        .exit_notes = "  With --nagios: 0 ok, 1 warning, 2 critical, 3 unknown.\n"
                      "  A threshold or expectation that fails exits 1 (a negative answer).\n"
                      "  With several targets: the status of the worst one.\n",
    };
    struct xu_error err = {0, ""};
    struct probe_run_ctx x;
    struct xu_opts o;
    int first = 0, rc, i, nagios = 0, component;

    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        nagios |= strcmp(argv[i], "--nagios") == 0;
    signal(SIGPIPE, SIG_IGN);
    probe_opts_init(&po);
    memset(&x, 0, sizeof x);
    rc = xu_opts_start(&o, &tool, argc, argv, &first, &err);
    if (rc == 0 && po.serve) {
        if ((rc = probe_serve_main(&tool, &po, argc, argv, first, &o, &err)) != 0)
            xu_report(&err);
        goto done;
    }
    component = po.mode == PROBE_COMPONENT || po.mode == PROBE_CM;
    if (rc == 0 && po.nagios && po.prometheus)
        rc = xu_error_set(&err, XU_EX_USAGE, "--nagios and --prometheus exclude each other");
    if (rc == 0 && po.nallow)
        rc = xu_error_set(&err, XU_EX_USAGE, "--allow-target is for the exporter (--serve)");
    if (rc == 0 && component && (argc - first > 1 || po.targets_file || po.all_targets))
        rc = xu_error_set(&err, XU_EX_USAGE, "--mode %s probes one HOST at a time",
                          probe_mode_name(po.mode));
    if (rc == 0)
        rc = probe_prepare(&x, &po, &o, argc, argv, first, &err);
    if (rc == 0) {
        probe_run(&x);
        rc = probe_report_run(&x);
    } else if (nagios || po.nagios) {
        printf("XMPP UNKNOWN - %s\n", err.msg);
        rc = 3;
    } else {
        xu_report(&err);
    }
done:
    probe_run_free(&x);
    probe_opts_free(&po);
    xu_opts_free(&o);
    return rc;
}

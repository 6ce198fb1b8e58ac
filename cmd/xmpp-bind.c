/* xmpp-bind: an authenticated XMPP session for scripts. By default it
 * negotiates, prints the bound JID and closes; --stdio bridges stanzas
 * between standard input/output and the server; --iq sends one request and
 * prints its answer. With --component the session is a XEP-0114 component.
 * The work is done by lib/bind/ (bind.c, bridge.c). */
#include <stdlib.h>

#include "base/msg.h"
#include "base/opts.h"
#include "bind/bind.h"

enum { O_STDIO = 1000, O_IQ, O_QUERY, O_PRESENCE };

#define CFG struct xu_bind_cfg
static const struct xu_option bind_options[] = {
    {"stdio", 0, XU_OPT_NOCONFIG, O_STDIO, NULL, "bridge: send stanzas from stdin, print each one received (one per line)", XU_TO(XU_STORE_FLAG, CFG, stdio)},
    {"iq", 0, XU_OPT_NOCONFIG, O_IQ, NULL, "send the one <iq> read from stdin, print its answer", XU_TO(XU_STORE_FLAG, CFG, iq)},
    {"query", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, O_QUERY, "XML", "the <iq> to send (implies --iq; stdin is not read)", XU_TO(XU_STORE_STRING, CFG, query)},
    {"presence", 0, XU_OPT_NOCONFIG, O_PRESENCE, NULL, "with --stdio: send initial presence once bound", XU_TO(XU_STORE_FLAG, CFG, presence)},
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};
#undef CFG

int main(int argc, char **argv)
{
    struct xu_bind_cfg cfg = {0, 0, 0, NULL};
    struct xu_tool tool = {
        .name = "xmpp-bind",
        .synopsis = "[options] [--stdio | --iq | --query XML]",
        .summary = "Log in (or connect as a XEP-0114 component) and print the bound JID; with --stdio,\n"
                   "bridge stanzas between standard input/output and the server; with --iq, send one\n"
                   "request and print its answer.",
        .options = bind_options, .state = &cfg,
        .exit_notes = "   1  --iq: the answer was an error (condition on stderr)\n"
                      "  65  also: malformed input (line and column on stderr); bind refused: bad-request\n"
                      "  75  also: no answer in time; bind refused: conflict, or replaced by another login\n"
                      "  77  also: bind refused: not-allowed; component handshake rejected\n",
    };
    struct xu_error err = {0, ""};
    struct xu_opts o;
    int first, rc;

    rc = xu_opts_start(&o, &tool, argc, argv, &first, &err);
    /* the cross-option checks */
    if (rc == 0 && argc - first > 0)
        rc = xu_error_set(&err, XU_EX_USAGE, "no operands expected (see --help)");
    else if (rc == 0 && cfg.stdio && (cfg.iq || cfg.query))
        rc = xu_error_set(&err, XU_EX_USAGE, "--stdio and --iq/--query exclude each other");
    else if (rc == 0 && cfg.presence && !cfg.stdio)
        rc = xu_error_set(&err, XU_EX_USAGE, "--presence only goes with --stdio");
    else if (rc == 0 && cfg.presence && o.component)
        rc = xu_error_set(&err, XU_EX_USAGE,
                          "--presence is for client sessions; a component sends its own "
                          "presence stanzas (with a from)");
    if (rc == 0)
        rc = xu_bind_run(&o, &cfg, &err);
    free(cfg.query);
    xu_opts_free(&o);
    return rc ? xu_report(&err) : 0;
}

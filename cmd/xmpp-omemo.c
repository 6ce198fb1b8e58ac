/* xmpp-omemo: the OMEMO keys of an account, and the trust decisions that
 * xmpp-send --omemo and xmpp-listen --omemo follow: our fingerprint, the
 * devices of a contact with their fingerprints and trust, trust (verified)
 * and distrust. Only `devices` goes online; the rest works on the key store.
 * The work is done by lib/omemo/admin.c. */
#include <stdio.h>
#include <string.h>

#include "base/msg.h"
#include "base/opts.h"
#include "omemo/admin.h"

static const struct xu_option omemo_options[] = {
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};

int main(int argc, char **argv)
{
    struct xu_tool tool = {
        .name = "xmpp-omemo",
        .synopsis = "[options] fingerprint | devices [JID...] | trust JID DEVICE | distrust JID DEVICE",
        .summary = "The account's OMEMO keys and trust decisions: our device and fingerprint, the devices\n"
                   "of contacts (fetched from the server) with fingerprints and trust, and trust (verified)\n"
                   "or distrust of one, by device id or fingerprint.",
        .options = omemo_options,
        .exit_notes = "  (65 also: no known device of that JID matches; 77 also: the key store can be read\n"
                      "   by others)\n",
    };
    struct xu_error err = {0, ""};
    struct xu_opts o;
    char *cmd = NULL;
    int first = 0, nargs = 0, rc;

    rc = xu_opts_start(&o, &tool, argc, argv, &first, &err);
    if (rc == 0) { /* the cross-option checks */
        nargs = argc - first;
        cmd = nargs > 0 ? argv[first] : NULL;
        if (!cmd)
            rc = xu_error_set(&err, XU_EX_USAGE, "say what to do: fingerprint, devices, trust or distrust (see --help)");
        else if (strcmp(cmd, "fingerprint") == 0 && nargs != 1)
            rc = xu_error_set(&err, XU_EX_USAGE, "fingerprint takes no argument");
        else if ((strcmp(cmd, "trust") == 0 || strcmp(cmd, "distrust") == 0) && nargs != 3)
            rc = xu_error_set(&err, XU_EX_USAGE, "usage: xmpp-omemo %s JID DEVICE-ID|FINGERPRINT", cmd);
        else if (strcmp(cmd, "fingerprint") && strcmp(cmd, "devices") && strcmp(cmd, "trust") &&
                 strcmp(cmd, "distrust"))
            rc = xu_error_set(&err, XU_EX_USAGE, "unknown command '%s': fingerprint, devices, trust or distrust", cmd);
        else if (o.component)
            rc = xu_error_set(&err, XU_EX_USAGE, "OMEMO needs a user account, not a component");
    }
    if (rc == 0)
        rc = xu_omemo_admin(&o, cmd, argv + first + 1, nargs - 1, &err);
    xu_opts_free(&o);
    if (rc == 0 && fflush(stdout) == EOF)
        rc = xu_error_set(&err, XU_EX_IOERR, "cannot write to standard output");
    return rc ? xu_report(&err) : 0;
}

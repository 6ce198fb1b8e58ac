/* xmpp-omemo: the OMEMO keys of an account, and the trust decisions that
 * xmpp-send --omemo and xmpp-listen --omemo follow: our fingerprint, the
 * devices of a contact with their fingerprints and trust, trust (verified)
 * and distrust. Only `devices` goes online; the rest works on the key store.
 * The work is done by lib/omemo/omemo.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jid.h"
#include "base/msg.h"
#include "omemo/omemo.h"
#include "base/opts.h"
#include "xmpp/session.h"

#define MAX_SHOWN 64

static const struct xu_option omemo_options[] = {
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};

static int apply(void *state, int id, const char *arg, int from_config, struct xu_error *err)
{
    (void)state, (void)arg, (void)from_config;
    return xu_error_set(err, XU_EX_SOFTWARE, "unhandled option %d", id);
}

static int show(struct xu_omemo *om, const char *jid, const char *label)
{
    struct xu_omemo_device d[MAX_SHOWN];
    int n = xu_omemo_devices(om, jid, d, MAX_SHOWN), i;

    for (i = 0; i < n; i++)
        printf("%s %u %s %s\n", label, d[i].id, d[i].trust ? d[i].trust : "no-bundle",
               d[i].fingerprint[0] ? d[i].fingerprint : "-");
    if (n == 0)
        xu_warn("%s has published no OMEMO device", label);
    return n < 0 ? -1 : 0;
}

static int check_jid(const char *jid, struct xu_error *err)
{
    char why[128];

    if (strncmp(jid, "xmpp:", 5) == 0)
        jid += 5;
    if (xu_jid_check(jid, 1, why, sizeof why) < 0)
        return xu_error_set(err, XU_EX_USAGE, "invalid JID '%s': %s", jid, why);
    return 0;
}

static int devices(struct xu_omemo *om, const struct xu_opts *o, char **jids, int n,
                   struct xu_error *err)
{
    struct xu_session s;
    int i, rc;

    for (i = 0; i < n; i++)
        if ((rc = check_jid(jids[i], err)) != 0)
            return rc;
    memset(&s, 0, sizeof s);
    s.sock = -1;
    rc = xu_session_open(&s, o, 0, err);
    for (i = 0; rc == 0 && i <= n; i++)
        rc = xu_omemo_fetch_devices(om, &s, i < n ? jids[i] + (strncmp(jids[i], "xmpp:", 5) ? 0 : 5)
                                                  : NULL, err);
    if (s.ready)
        xu_session_close(&s);
    xu_session_free(&s);
    if (rc)
        return rc;
    if (n == 0)
        return show(om, NULL, "own") < 0 ? xu_error_set(err, XU_EX_IOERR, "cannot read the key store") : 0;
    for (i = 0; i < n; i++)
        if (show(om, jids[i] + (strncmp(jids[i], "xmpp:", 5) ? 0 : 5), jids[i]) < 0)
            return xu_error_set(err, XU_EX_IOERR, "cannot read the key store");
    return 0;
}

int main(int argc, char **argv)
{
    struct xu_tool tool = {
        "xmpp-omemo", "[options] fingerprint | devices [JID...] | trust JID DEVICE | distrust JID DEVICE",
        "The account's OMEMO keys and trust decisions: our device and fingerprint, the devices\n"
        "of contacts (fetched from the server) with fingerprints and trust, and trust (verified)\n"
        "or distrust of one, by device id or fingerprint.",
        omemo_options, apply, NULL,
        "  (65 also: no known device of that JID matches; 77 also: the key store can be read\n"
        "   by others)\n",
        .given = NULL,
    };
    struct xu_error err = {0, ""};
    struct xu_omemo *om = NULL;
    struct xu_opts o;
    char fp[80], *cmd = NULL;
    int first = 0, nargs = 0, rc;

    rc = xu_opts_parse(&o, &tool, argc, argv, &first, &err);
    if (rc == 0) {
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
    if (rc == 0 && (strcmp(cmd, "trust") == 0 || strcmp(cmd, "distrust") == 0))
        rc = check_jid(argv[first + 1], &err);
    if (rc == 0)
        rc = xu_omemo_open_account(&om, o.jid, &err);
    if (rc == 0 && strcmp(cmd, "fingerprint") == 0) {
        if (xu_omemo_own_fingerprint(om, fp, sizeof fp) < 0)
            rc = xu_error_set(&err, XU_EX_IOERR, "cannot read the key store");
        else
            printf("%u %s\n", xu_omemo_device_id(om), fp);
    } else if (rc == 0 && strcmp(cmd, "devices") == 0) {
        rc = devices(om, &o, argv + first + 1, nargs - 1, &err);
    } else if (rc == 0) {
        const char *jid = argv[first + 1];
        if (strncmp(jid, "xmpp:", 5) == 0)
            jid += 5;
        rc = xu_omemo_trust(om, jid, argv[first + 2], strcmp(cmd, "trust") == 0, &err);
        if (rc == 0)
            xu_info("%s's device %s is now %s", jid, argv[first + 2],
                    strcmp(cmd, "trust") == 0 ? "verified" : "distrusted");
    }
    xu_omemo_free(om);
    xu_opts_free(&o);
    if (rc == 0 && fflush(stdout) == EOF)
        rc = xu_error_set(&err, XU_EX_IOERR, "cannot write to standard output");
    return rc ? xu_report(&err) : 0;
}

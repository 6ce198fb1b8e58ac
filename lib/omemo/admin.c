#include "omemo/admin.h"

#include <stdio.h>
#include <string.h>

#include "base/jid.h"
#include "base/msg.h"
#include "omemo/omemo.h"
#include "xmpp/session.h"

#define MAX_SHOWN 64

/* A JID as given, without an xmpp: in front. */
static const char *bare_arg(const char *jid)
{
    return strncmp(jid, "xmpp:", 5) == 0 ? jid + 5 : jid;
}

static int check_jid(const char *jid, struct xu_error *err)
{
    char why[128];

    jid = bare_arg(jid);
    if (xu_jid_check(jid, 1, why, sizeof why) < 0)
        return xu_error_set(err, XU_EX_USAGE, "invalid JID '%s': %s", jid, why);
    return 0;
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
        rc = xu_omemo_fetch_devices(om, &s, i < n ? bare_arg(jids[i]) : NULL, err);
    if (s.ready)
        xu_session_close(&s);
    xu_session_free(&s);
    if (rc)
        return rc;
    if (n == 0)
        return show(om, NULL, "own") < 0 ? xu_error_set(err, XU_EX_IOERR, "cannot read the key store") : 0;
    for (i = 0; i < n; i++)
        if (show(om, bare_arg(jids[i]), jids[i]) < 0)
            return xu_error_set(err, XU_EX_IOERR, "cannot read the key store");
    return 0;
}

static int set_trust(struct xu_omemo *om, const char *arg, const char *device, int trust,
                     struct xu_error *err)
{
    const char *jid = bare_arg(arg);
    int rc = xu_omemo_trust(om, jid, device, trust, err);

    if (rc == 0)
        xu_info("%s's device %s is now %s", jid, device, trust ? "verified" : "distrusted");
    return rc;
}

int xu_omemo_admin(const struct xu_opts *o, const char *cmd, char **args, int nargs,
                   struct xu_error *err)
{
    struct xu_omemo *om = NULL;
    int trust = strcmp(cmd, "trust") == 0, rc = 0;
    char fp[80];

    if (trust || strcmp(cmd, "distrust") == 0)
        rc = check_jid(args[0], err);
    if (rc == 0)
        rc = xu_omemo_open_account(&om, o->jid, err);
    if (rc == 0 && strcmp(cmd, "fingerprint") == 0) {
        if (xu_omemo_own_fingerprint(om, fp, sizeof fp) < 0)
            rc = xu_error_set(err, XU_EX_IOERR, "cannot read the key store");
        else
            printf("%u %s\n", xu_omemo_device_id(om), fp);
    } else if (rc == 0 && strcmp(cmd, "devices") == 0) {
        rc = devices(om, o, args, nargs, err);
    } else if (rc == 0) {
        rc = set_trust(om, args[0], args[1], trust, err);
    }
    xu_omemo_free(om);
    return rc;
}

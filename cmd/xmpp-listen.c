/* xmpp-listen: stay online and print every incoming stanza on standard
 * output, one per line, flushed per stanza, for pipes, bots and monitors.
 * The engine is lib/listen/listen.h; here: the options, their combinations,
 * the run, the report. */
#include <stdio.h>

#include "base/msg.h"
#include "base/opts.h"
#include "listen/listen.h"

#define CFG struct xu_listen_cfg /* for the XU_TO entries */
static const struct xu_option listen_options[] = {
    {"format", 0, XU_OPT_ARG, XU_LISTEN_FORMAT, "FMT", "xml (default), json (JSON Lines), text or body", XU_CALL},
    {"body", 'b', 0, XU_LISTEN_BODY, NULL, "only message bodies (same as --format body)", XU_CALL},
    {"count", 'n', XU_OPT_ARG | XU_OPT_NOCONFIG, XU_LISTEN_COUNT, "N", "exit 0 after N stanzas were printed", XU_CALL},
    {"idle", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, XU_LISTEN_IDLE, "SECONDS", "stop after SECONDS without a match", XU_CALL},
    {"kind", 'k', XU_OPT_ARG | XU_OPT_NOCONFIG | XU_OPT_REPEAT, XU_LISTEN_KIND, "KINDS", "only message, presence and/or iq (a list)", XU_CALL},
    {"type", 't', XU_OPT_ARG | XU_OPT_NOCONFIG | XU_OPT_REPEAT, XU_LISTEN_TYPE, "TYPES", "only these types (chat, groupchat, ...)", XU_CALL},
    {"from", 'f', XU_OPT_ARG | XU_OPT_NOCONFIG | XU_OPT_REPEAT, XU_LISTEN_FROM, "JID", "only from JID (bare: any resource)", XU_CALL},
    {"xpath", 'x', XU_OPT_ARG | XU_OPT_NOCONFIG | XU_OPT_REPEAT, XU_LISTEN_XPATH, "EXPR", "only where the XPath EXPR is true", XU_CALL},
    {"room", 0, XU_OPT_ARG | XU_OPT_REPEAT, XU_LISTEN_ROOM, "ROOM[/NICK]", "join this multi-user chat room", XU_CALL},
    {"room-password-file", 0, XU_OPT_ARG, XU_LISTEN_ROOM_PASSWORD_FILE, "FILE", "room password: first line of FILE", XU_TO(XU_STORE_STRING, CFG, room_password_file)},
    {"history", 0, XU_OPT_ARG, XU_LISTEN_HISTORY, "N", "ask rooms for N old messages (default 0)", XU_CALL},
    {"own", 0, 0, XU_LISTEN_OWN, NULL, "also print our own echoes (room, presence)", XU_TO(XU_STORE_FLAG, CFG, own)},
    {"presence", 0, XU_OPT_ARG, XU_LISTEN_PRESENCE, "SHOW", "available (default), chat, away, xa or dnd", XU_CALL},
    {"status", 0, XU_OPT_ARG, XU_LISTEN_STATUS, "TEXT", "status message of the initial presence", XU_TO(XU_STORE_STRING, CFG, status)},
    {"no-presence", 0, 0, XU_LISTEN_NO_PRESENCE, NULL, "send no initial presence", XU_TO(XU_STORE_FLAG, CFG, no_presence)},
    {"reconnect", 0, 0, XU_LISTEN_RECONNECT, NULL, "reconnect (with backoff) after a drop", XU_TO(XU_STORE_FLAG, CFG, reconnect)},
    {"keepalive", 0, XU_OPT_ARG, XU_LISTEN_KEEPALIVE, "SECONDS", "ping after SECONDS of silence (60; 0: off)", XU_CALL},
    {"omemo", 0, 0, XU_LISTEN_OMEMO, NULL, "publish our OMEMO device and print OMEMO messages decrypted", XU_TO(XU_STORE_FLAG, CFG, omemo)},
    {"state", 0, XU_OPT_ARG, XU_LISTEN_STATE, "FILE", "remember the last archive id per archive; catch up from it", XU_TO(XU_STORE_STRING, CFG, state_file)},
    {"since", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, XU_LISTEN_SINCE, "TIME|ID", "first catch up from the archive since TIME or after ID", XU_TO(XU_STORE_STRING, CFG, since)},
    {"max-catchup", 0, XU_OPT_ARG, XU_LISTEN_MAX_CATCHUP, "N", "print at most N archived messages per archive and catch-up", XU_CALL},
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};
#undef CFG

/* The combinations of options that make no sense. */
static int check_usage(const struct xu_opts *o, const struct xu_listen_cfg *c, int extra_args,
                       const char *first, struct xu_error *err)
{
    if (extra_args)
        return xu_error_set(err, XU_EX_USAGE, "unexpected argument '%s' (see --help)", first);
    if (o->component && c->nrooms)
        return xu_error_set(err, XU_EX_USAGE, "--room cannot be used with --component");
    if (c->room_password_file && !c->nrooms)
        return xu_error_set(err, XU_EX_USAGE, "--room-password-file needs --room");
    if (c->omemo && o->component)
        return xu_error_set(err, XU_EX_USAGE, "--omemo needs a user account, not a component");
    if (c->no_presence && (c->show || c->status))
        return xu_error_set(err, XU_EX_USAGE, "--no-presence conflicts with --presence and --status");
    if (o->component && (c->state_file || c->since))
        return xu_error_set(err, XU_EX_USAGE, "--state and --since need an account, not --component");
    if (c->max_catchup && !c->state_file && !c->since && !c->reconnect)
        return xu_error_set(err, XU_EX_USAGE, "--max-catchup needs --state, --since or --reconnect");
    return 0;
}

int main(int argc, char **argv)
{
    struct xu_listen_cfg cfg;
    struct xu_tool tool = {
        .name = "xmpp-listen",
        .synopsis = "[options]",
        .summary = "Stay online and print every incoming stanza on standard output, one per line,\n"
                   "until interrupted, --count stanzas were printed, or --timeout/--idle expires.",
        .options = listen_options, .apply = xu_listen_apply, .state = &cfg,
        .exit_notes = "  --timeout and --idle end the run with 0 if anything was printed, else 75.\n"
                      "  --timeout on the command line is the listening time; without it xmpp-listen\n"
                      "  runs until stopped, and the timeout setting bounds each connection attempt.\n"
                      "  SIGTERM, SIGINT and SIGHUP close the session cleanly and exit 0; so does a\n"
                      "  reader of standard output that goes away. 74: writing the output failed.\n",
    };
    struct xu_error err = {0, ""};
    struct xu_opts o;
    int first, rc;

    if (xu_listen_cfg_init(&cfg) != 0)
        return xu_report(&(struct xu_error){XU_EX_OSERR, "out of memory"});
    rc = xu_opts_start(&o, &tool, argc, argv, &first, &err);
    if (rc == 0)
        rc = check_usage(&o, &cfg, first < argc, argv[first < argc ? first : 0], &err);
    if (rc == 0)
        rc = xu_listen_run(&cfg, &o, &err);
    xu_listen_cfg_free(&cfg);
    xu_opts_free(&o);
    return rc ? xu_report(&err) : 0;
}

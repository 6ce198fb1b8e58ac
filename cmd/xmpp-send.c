/* xmpp-send: deliver a message, a stream of lines or a stream of stanzas
 * to JIDs and rooms, and exit 0 only once the server has acknowledged
 * every one of them. The engine is lib/send/send.h. */
#include <string.h>

#include "base/msg.h"
#include "base/opts.h"
#include "send/send.h"

#define STR(field) XU_TO(XU_STORE_STRING, struct xu_send_cfg, field)
#define FLAG(field) XU_TO(XU_STORE_FLAG, struct xu_send_cfg, field)

static const struct xu_option options[] = {
    {"message", 'm', XU_OPT_ARG | XU_OPT_NOCONFIG, XU_SEND_MESSAGE, "TEXT", "the message body (default: all of standard input)", STR(message)},
    {"lines", 'l', 0, XU_SEND_LINES, NULL, "send each line of standard input as a message, as it arrives", FLAG(lines)},
    {"xml", 0, 0, XU_SEND_XML, NULL, "read stanzas (message, presence, iq) from standard input and send them", FLAG(xml)},
    {"strict", 0, 0, XU_SEND_STRICT, NULL, "with --xml: check all of the input before sending anything", FLAG(d.strict)},
    {"subject", 's', XU_OPT_ARG, XU_SEND_SUBJECT, "TEXT", "message subject", STR(subject)},
    {"type", 't', XU_OPT_ARG, XU_SEND_TYPE, "TYPE", "chat (default), normal or headline; groupchat (rooms only) is implied by --muc", STR(type)},
    {"thread", 0, XU_OPT_ARG, XU_SEND_THREAD, "ID", "put the messages in this conversation thread", STR(d.thread)},
    {"lang", 0, XU_OPT_ARG, XU_SEND_LANG, "TAG", "language of the text (xml:lang), e.g. en", STR(d.lang)},
    {"receipt", 0, 0, XU_SEND_RECEIPT, NULL, "ask for delivery receipts (XEP-0184) and wait for them", FLAG(d.receipt)},
    {"muc", 0, 0, XU_SEND_MUC, NULL, "the recipients are chat rooms: join them, then post", FLAG(muc)},
    {"nick", 0, XU_OPT_ARG, XU_SEND_NICK, "NICK", "nickname in rooms (default: the account's name)", STR(d.nick)},
    {"room-password-file", 0, XU_OPT_ARG, XU_SEND_ROOM_PASSWORD_FILE, "FILE", "room password: first line of FILE", STR(room_password_file)},
    {"no-create", 0, 0, XU_SEND_NO_CREATE, NULL, "fail instead of creating a room that does not exist", FLAG(d.no_create)},
    {"rate", 0, XU_OPT_ARG, XU_SEND_RATE, "N[/UNIT]", "at most N messages per second (or /min, /h); 0: no limit (default 5)", XU_CALL},
    {"batch", 0, XU_OPT_ARG, XU_SEND_BATCH, "DURATION", "with --lines: collect lines for DURATION, send them as one message", XU_CALL},
    {"one-per-line", 0, 0, XU_SEND_ONE_PER_LINE, NULL, "with --lines: never join lines, even when they come faster than --rate", FLAG(d.one_per_line)},
    {"max-size", 0, XU_OPT_ARG, XU_SEND_MAX_SIZE, "BYTES", "split longer text into several messages (default 32768)", XU_CALL},
    {"buffer", 0, XU_OPT_ARG, XU_SEND_BUFFER, "N", "lines or stanzas held while unacknowledged (default 10000)", XU_CALL},
    {"retry", 0, XU_OPT_ARG, XU_SEND_RETRY, "N", "reconnect at most N times in a row (default: no limit with --lines/--xml, else 0)", XU_CALL},
    {"file", 'f', XU_OPT_ARG | XU_OPT_NOCONFIG | XU_OPT_REPEAT, XU_SEND_FILE, "PATH", "share PATH ('-': standard input) through the server's HTTP upload; repeatable", XU_CALL},
    {"file-name", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, XU_SEND_FILE_NAME, "NAME", "the name to announce for the --file before it (needed for '-')", XU_CALL},
    {"file-type", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, XU_SEND_FILE_TYPE, "TYPE", "the MIME type of the --file before it (default: from its content)", XU_CALL},
    {"omemo", 0, 0, XU_SEND_OMEMO, NULL, "encrypt end to end with OMEMO; fail if a recipient cannot decrypt it", FLAG(omemo)},
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};

/* The cross-option checks, in one place; GIVEN: on the command line, not
 * by the config file (whose settings that do not apply are turned off). */
#define GIVEN(id) xu_opts_given(t, XU_SEND_##id)
#define FAIL(...) return xu_error_set(err, XU_EX_USAGE, __VA_ARGS__)
static int check(struct xu_send_cfg *c, const struct xu_tool *t, struct xu_error *err)
{
    static const int not_with_xml[] = {XU_SEND_LINES, XU_SEND_MESSAGE, XU_SEND_SUBJECT, XU_SEND_TYPE, XU_SEND_THREAD,
        XU_SEND_LANG, XU_SEND_RECEIPT, XU_SEND_BATCH, XU_SEND_ONE_PER_LINE, 0}, modes[] = {XU_SEND_LINES, XU_SEND_XML, 0},
        lines_only[] = {XU_SEND_BATCH, XU_SEND_ONE_PER_LINE, 0}, file_only[] = {XU_SEND_FILE_NAME, XU_SEND_FILE_TYPE, 0};
    const char *x;

    if (c->xml && (x = xu_opts_given_of(t, not_with_xml)))
        FAIL("--%s does not go with --xml (the stanzas are sent as they are)", x);
    if (c->xml)
        c->lines = c->d.receipt = 0;
    if (!c->lines && (x = xu_opts_given_of(t, lines_only)))
        FAIL("--%s needs --lines", x);
    if (c->nfiles && (x = xu_opts_given_of(t, modes)))
        FAIL("--file does not go with --%s", x);
    if (c->nfiles)
        c->lines = c->xml = 0;
    else if ((x = xu_opts_given_of(t, file_only)))
        FAIL("--%s needs --file", x);
    if (c->pending_name || c->pending_type)
        FAIL("--file-%s is given twice for one --file", c->pending_name ? "name" : "type");
    if (c->d.strict && !c->xml)
        FAIL("--strict needs --xml");
    if (c->message && c->lines)
        FAIL("-m and --lines exclude each other: --lines reads standard input");
    if (c->d.batch > 0 && c->d.one_per_line) { /* the command line wins over the config file */
        if (GIVEN(BATCH) && !GIVEN(ONE_PER_LINE))
            c->d.one_per_line = 0;
        else if (GIVEN(ONE_PER_LINE) && !GIVEN(BATCH))
            c->d.batch = 0;
        else
            return xu_error_set(err, GIVEN(BATCH) ? XU_EX_USAGE : XU_EX_CONFIG,
                                "batch joins lines, one_per_line forbids it: not both");
    }
    if (c->muc && c->type && strcmp(c->type, "groupchat") != 0 && GIVEN(TYPE))
        FAIL("--muc posts to rooms (groupchat); --type %s does not go with it", c->type);
    if (c->omemo && c->xml)
        return xu_error_set(err, GIVEN(OMEMO) ? XU_EX_USAGE : XU_EX_CONFIG,
                            "--omemo does not go with --xml (the stanzas are sent as they are)");
    /* --omemo --file: encrypted before upload (XEP-0454), under a random name and type */
    if (c->omemo && (x = xu_opts_given_of(t, file_only)))
        FAIL("--%s does not go with --omemo (the encrypted file is uploaded under a random "
             "name, as application/octet-stream)", x);
    return 0;
}

int main(int argc, char **argv)
{
    struct xu_send_cfg c = XU_SEND_CFG_INIT;
    struct xu_tool tool = {
        .name = "xmpp-send",
        .synopsis = "[options] RECIPIENT...",
        .summary = "Send a message (from -m or standard input), each line of standard input (--lines), or\n"
                   "stanzas (--xml) to each RECIPIENT (a JID, or a room with --muc or xmpp:ROOM?join); exit 0\n"
                   "only once the server has acknowledged all of them.",
        .options = options, .apply = xu_send_option, .state = &c, .exit_notes = xu_send_exit_notes, .given = &c.given,
    };
    struct xu_error err = {0, ""};
    struct xu_opts o;
    int first = 0, rc;

    rc = xu_opts_start(&o, &tool, argc, argv, &first, &err);
    if (rc == 0)
        rc = check(&c, &tool, &err);
    if (rc == 0)
        rc = xu_send(&c, &tool, &o, argv + first, argc - first, &err);
    xu_send_cfg_free(&c);
    xu_opts_free(&o);
    return rc ? xu_report(&err) : 0;
}

/* xmpp-send: deliver a message, a stream of lines or a stream of stanzas
 * to JIDs and rooms, and exit 0 only once the server has acknowledged
 * every one of them. The work is done by lib/send/deliver.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "send/deliver.h"
#include "base/jid.h"
#include "xmpp/message.h"
#include "base/msg.h"
#include "xmpp/muc.h"
#include "omemo/file.h"
#include "omemo/encrypt.h"
#include "base/opts.h"
#include "base/secret.h"
#include "base/stdfds.h"
#include "base/text.h"
#include "send/upload.h"

#define STDIN_MAX (16u << 20) /* a message body, not a file transfer */

enum {
    O_MESSAGE = 1000, O_SUBJECT, O_TYPE, O_THREAD, O_LANG, O_MUC, O_NICK, O_ROOM_PASSWORD_FILE,
    O_NO_CREATE, O_LINES, O_XML, O_STRICT, O_RECEIPT, O_RATE, O_BATCH, O_MAX_SIZE,
    O_ONE_PER_LINE, O_BUFFER, O_RETRY, O_FILE, O_FILE_NAME, O_FILE_TYPE, O_OMEMO,
};

struct send_opts {
    char *message, *subject, *type, *thread, *lang, *nick, *room_password_file;
    int muc, no_create, lines, xml, strict, receipt, one_per_line, omemo;
    double rate, batch;
    unsigned long max_size, buffer;
    long retry;          /* -2: not given */
    unsigned long given; /* bit (id - 1000): given on the command line */
    struct xu_upload_file *files; /* --file, in order */
    int nfiles;
    const char *pending_name, *pending_type; /* --file-name/--file-type before any --file */
};

static const struct xu_option send_options[] = {
    {"message", 'm', XU_OPT_ARG | XU_OPT_NOCONFIG, O_MESSAGE, "TEXT", "the message body (default: all of standard input)", XU_CALL},
    {"lines", 'l', 0, O_LINES, NULL, "send each line of standard input as a message, as it arrives", XU_CALL},
    {"xml", 0, 0, O_XML, NULL, "read stanzas (message, presence, iq) from standard input and send them", XU_CALL},
    {"strict", 0, 0, O_STRICT, NULL, "with --xml: check all of the input before sending anything", XU_CALL},
    {"subject", 's', XU_OPT_ARG, O_SUBJECT, "TEXT", "message subject", XU_CALL},
    {"type", 't', XU_OPT_ARG, O_TYPE, "TYPE", "chat (default), normal or headline; groupchat (rooms only) is implied by --muc", XU_CALL},
    {"thread", 0, XU_OPT_ARG, O_THREAD, "ID", "put the messages in this conversation thread", XU_CALL},
    {"lang", 0, XU_OPT_ARG, O_LANG, "TAG", "language of the text (xml:lang), e.g. en", XU_CALL},
    {"receipt", 0, 0, O_RECEIPT, NULL, "ask for delivery receipts (XEP-0184) and wait for them", XU_CALL},
    {"muc", 0, 0, O_MUC, NULL, "the recipients are chat rooms: join them, then post", XU_CALL},
    {"nick", 0, XU_OPT_ARG, O_NICK, "NICK", "nickname in rooms (default: the account's name)", XU_CALL},
    {"room-password-file", 0, XU_OPT_ARG, O_ROOM_PASSWORD_FILE, "FILE", "room password: first line of FILE", XU_CALL},
    {"no-create", 0, 0, O_NO_CREATE, NULL, "fail instead of creating a room that does not exist", XU_CALL},
    {"rate", 0, XU_OPT_ARG, O_RATE, "N[/UNIT]", "at most N messages per second (or /min, /h); 0: no limit (default 5)", XU_CALL},
    {"batch", 0, XU_OPT_ARG, O_BATCH, "DURATION", "with --lines: collect lines for DURATION, send them as one message", XU_CALL},
    {"one-per-line", 0, 0, O_ONE_PER_LINE, NULL, "with --lines: never join lines, even when they come faster than --rate", XU_CALL},
    {"max-size", 0, XU_OPT_ARG, O_MAX_SIZE, "BYTES", "split longer text into several messages (default 32768)", XU_CALL},
    {"buffer", 0, XU_OPT_ARG, O_BUFFER, "N", "lines or stanzas held while unacknowledged (default 10000)", XU_CALL},
    {"retry", 0, XU_OPT_ARG, O_RETRY, "N", "reconnect at most N times in a row (default: no limit with --lines/--xml, else 0)", XU_CALL},
    {"file", 'f', XU_OPT_ARG | XU_OPT_NOCONFIG | XU_OPT_REPEAT, O_FILE, "PATH", "share PATH ('-': standard input) through the server's HTTP upload; repeatable", XU_CALL},
    {"file-name", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, O_FILE_NAME, "NAME", "the name to announce for the --file before it (needed for '-')", XU_CALL},
    {"file-type", 0, XU_OPT_ARG | XU_OPT_NOCONFIG, O_FILE_TYPE, "TYPE", "the MIME type of the --file before it (default: from its content)", XU_CALL},
    {"omemo", 0, 0, O_OMEMO, NULL, "encrypt end to end with OMEMO; fail if a recipient cannot decrypt it", XU_CALL},
    {NULL, 0, 0, 0, NULL, NULL, XU_CALL},
};

static int set(char **dst, const char *v, struct xu_error *err)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : xu_error_set(err, XU_EX_OSERR, "out of memory");
}

/* "N", "N/s", "N/min" (or "N/m"), "N/h": messages per second. */
static int parse_rate(const char *arg, double *rate)
{
    char num[32];
    const char *slash = strchr(arg, '/');
    size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
    unsigned long v;
    double per = 1;

    if (n == 0 || n >= sizeof num)
        return -1;
    memcpy(num, arg, n);
    num[n] = '\0';
    if (xu_parse_uint(num, 0, 100000, &v) < 0)
        return -1;
    if (slash && strcmp(slash, "/s") != 0) {
        if (strcmp(slash, "/min") == 0 || strcmp(slash, "/m") == 0)
            per = 60;
        else if (strcmp(slash, "/h") == 0)
            per = 3600;
        else
            return -1;
    }
    *rate = (double)v / per;
    return 0;
}

static int add_file(struct send_opts *so, int id, const char *arg, struct xu_error *err);

static int apply(void *state, int id, const char *arg, int from_config, struct xu_error *err)
{
    struct send_opts *so = state;
    int code = from_config ? XU_EX_CONFIG : XU_EX_USAGE;
    unsigned long n;

    if (!from_config)
        so->given |= 1ul << (id - 1000);
    switch (id) {
    case O_MESSAGE: return set(&so->message, arg, err);
    case O_SUBJECT: return set(&so->subject, arg, err);
    case O_TYPE:
        if (strcmp(arg, "chat") && strcmp(arg, "normal") && strcmp(arg, "headline") &&
            strcmp(arg, "groupchat"))
            return xu_error_set(err, code,
                                "--type must be chat, normal, headline or groupchat, not '%s'", arg);
        return set(&so->type, arg, err);
    case O_THREAD:
        if (!*arg || !xu_text_is_clean(arg, strlen(arg)) || strlen(arg) > 256)
            return xu_error_set(err, code, "--thread needs a printable id of at most 256 bytes");
        return set(&so->thread, arg, err);
    case O_LANG:
        if (!*arg || strlen(arg) > 35 ||
            strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
                strlen(arg))
            return xu_error_set(err, code, "--lang needs a language tag such as en or pt-BR, not '%s'",
                                arg);
        return set(&so->lang, arg, err);
    case O_MUC: so->muc = 1; return 0;
    case O_NICK:
        if (!*arg || !xu_text_is_clean(arg, strlen(arg)) || strlen(arg) > 1023)
            return xu_error_set(err, code, "--nick needs a printable nickname");
        return set(&so->nick, arg, err);
    case O_ROOM_PASSWORD_FILE: return set(&so->room_password_file, arg, err);
    case O_NO_CREATE: so->no_create = 1; return 0;
    case O_LINES: so->lines = 1; return 0;
    case O_XML: so->xml = 1; return 0;
    case O_STRICT: so->strict = 1; return 0;
    case O_RECEIPT: so->receipt = 1; return 0;
    case O_ONE_PER_LINE: so->one_per_line = 1; return 0;
    case O_OMEMO: so->omemo = 1; return 0;
    case O_RATE:
        if (parse_rate(arg, &so->rate) < 0)
            return xu_error_set(err, code,
                                "--rate must be a number of messages from 0 to 100000, optionally "
                                "per s, min or h (e.g. 5, 30/min), not '%s'", arg);
        return 0;
    case O_BATCH:
        if (xu_parse_duration(arg, 0, 3600, &so->batch) < 0)
            return xu_error_set(err, code,
                                "--batch must be a duration from 0 to 1 hour (e.g. 2s, 500ms), not '%s'",
                                arg);
        return 0;
    case O_MAX_SIZE:
        if (xu_parse_uint(arg, 16, 16u << 20, &so->max_size) < 0)
            return xu_error_set(err, code, "--max-size must be a number of bytes from 16 to 16777216, not '%s'",
                                arg);
        return 0;
    case O_BUFFER:
        if (xu_parse_uint(arg, 1, 10000000, &so->buffer) < 0)
            return xu_error_set(err, code, "--buffer must be a number from 1 to 10000000, not '%s'", arg);
        return 0;
    case O_FILE:
    case O_FILE_NAME:
    case O_FILE_TYPE: return add_file(so, id, arg, err);
    case O_RETRY:
        if (xu_parse_uint(arg, 0, 1000000, &n) < 0)
            return xu_error_set(err, code, "--retry must be a number from 0 to 1000000, not '%s'", arg);
        so->retry = (long)n;
        return 0;
    }
    return xu_error_set(err, XU_EX_SOFTWARE, "unhandled option %d", id);
}

/* --file and the --file-name/--file-type that go with it: they apply to the
 * --file before them, or (given before any) to the first. */
static int add_file(struct send_opts *so, int id, const char *arg, struct xu_error *err)
{
    struct xu_upload_file *f, *last = so->nfiles ? &so->files[so->nfiles - 1] : NULL;
    size_t n = strlen(arg);

    if (id == O_FILE) {
        if (!*arg)
            return xu_error_set(err, XU_EX_USAGE, "--file needs a path ('-' for standard input)");
        for (n = 0; strcmp(arg, "-") == 0 && n < (size_t)so->nfiles; n++)
            if (strcmp(so->files[n].path, "-") == 0)
                return xu_error_set(err, XU_EX_USAGE, "--file - can be given only once");
        f = realloc(so->files, (size_t)(so->nfiles + 1) * sizeof *f);
        if (!f)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        so->files = f;
        f = &f[so->nfiles++];
        memset(f, 0, sizeof *f);
        f->path = arg;
        f->name = so->pending_name;
        f->type = so->pending_type;
        so->pending_name = so->pending_type = NULL;
        return 0;
    }
    if (id == O_FILE_NAME) {
        if (!*arg || n > 255 || strchr(arg, '/') || !xu_text_is_clean(arg, n) ||
            strpbrk(arg, "\t\r\n"))
            return xu_error_set(err, XU_EX_USAGE,
                                "--file-name needs a printable name without '/' of at most 255 bytes");
        if (last && !last->name)
            last->name = arg;
        else
            so->pending_name = arg;
        return 0;
    }
    /* type/subtype, RFC 6838 characters */
    if (n > 127 || !strchr(arg, '/') || strchr(arg, '/') == arg || !strchr(arg, '/')[1] ||
        strchr(strchr(arg, '/') + 1, '/') ||
        strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&^_.+-/") != n)
        return xu_error_set(err, XU_EX_USAGE, "--file-type needs a MIME type such as image/png, not '%s'",
                            arg);
    if (last && !last->type)
        last->type = arg;
    else
        so->pending_type = arg;
    return 0;
}

static int given(const struct send_opts *so, int id)
{
    return (so->given >> (id - 1000)) & 1;
}

/* The cross-option checks, in one place. */
static int check_options(struct send_opts *so, struct xu_error *err)
{
    static const int not_with_xml[] = {O_LINES, O_MESSAGE, O_SUBJECT, O_TYPE, O_THREAD, O_LANG,
                                       O_RECEIPT, O_BATCH, O_ONE_PER_LINE, 0};
    static const int need_lines[] = {O_BATCH, O_ONE_PER_LINE, 0};
    const struct xu_option *o;
    int i;

    for (i = 0; so->xml && not_with_xml[i]; i++)
        if (given(so, not_with_xml[i]))
            for (o = send_options; o->name; o++)
                if (o->id == not_with_xml[i])
                    return xu_error_set(err, XU_EX_USAGE,
                                        "--%s does not go with --xml (the stanzas are sent as they are)",
                                        o->name);
    if (so->xml) /* from the config file: does not apply */
        so->lines = so->receipt = 0;
    for (i = 0; !so->lines && need_lines[i]; i++)
        if (given(so, need_lines[i]))
            return xu_error_set(err, XU_EX_USAGE, "--%s needs --lines",
                                need_lines[i] == O_BATCH ? "batch" : "one-per-line");
    if (so->nfiles) {
        if (given(so, O_LINES) || given(so, O_XML))
            return xu_error_set(err, XU_EX_USAGE, "--file does not go with --%s",
                                given(so, O_LINES) ? "lines" : "xml");
        so->lines = so->xml = 0; /* from the config file: does not apply */
    } else if (given(so, O_FILE_NAME) || given(so, O_FILE_TYPE)) {
        return xu_error_set(err, XU_EX_USAGE, "--file-%s needs --file",
                            given(so, O_FILE_NAME) ? "name" : "type");
    }
    if (so->pending_name || so->pending_type)
        return xu_error_set(err, XU_EX_USAGE, "--file-%s is given twice for one --file",
                            so->pending_name ? "name" : "type");
    if (so->strict && !so->xml)
        return xu_error_set(err, XU_EX_USAGE, "--strict needs --xml");
    if (so->message && so->lines)
        return xu_error_set(err, XU_EX_USAGE,
                            "-m and --lines exclude each other: --lines reads standard input");
    if (so->batch > 0 && so->one_per_line) { /* the command line wins over the config file */
        if (given(so, O_BATCH) && !given(so, O_ONE_PER_LINE))
            so->one_per_line = 0;
        else if (given(so, O_ONE_PER_LINE) && !given(so, O_BATCH))
            so->batch = 0;
        else
            return xu_error_set(err, given(so, O_BATCH) ? XU_EX_USAGE : XU_EX_CONFIG,
                                "batch joins lines, one_per_line forbids it: not both");
    }
    if (so->muc && so->type && strcmp(so->type, "groupchat") != 0 && given(so, O_TYPE))
        return xu_error_set(err, XU_EX_USAGE, "--muc posts to rooms (groupchat); --type %s does not go with it",
                            so->type);
    if (so->omemo && so->xml)
        return xu_error_set(err, given(so, O_OMEMO) ? XU_EX_USAGE : XU_EX_CONFIG,
                            "--omemo does not go with --xml (the stanzas are sent as they are)");
    /* --omemo --file: encrypted before upload (XEP-0454), under a random
     * name and type: nothing to announce */
    if (so->omemo && (given(so, O_FILE_NAME) || given(so, O_FILE_TYPE)))
        return xu_error_set(err, XU_EX_USAGE,
                            "--file-%s does not go with --omemo (the encrypted file is uploaded "
                            "under a random name, as application/octet-stream)",
                            given(so, O_FILE_NAME) ? "name" : "type");
    if (so->retry == -2)
        so->retry = so->lines || so->xml ? -1 : 0;
    return 0;
}

/* The recipients: rooms (with --muc, or written xmpp:ROOM?join) and JIDs
 * (a leading xmpp: is allowed). rcpt[i] is allocated. */
static int parse_recipients(const struct send_opts *so, char **argv, int n, char **rcpt,
                            int *is_room, struct xu_error *err)
{
    char why[128];
    const char *a, *q;
    int i;

    for (i = 0; i < n; i++) {
        a = argv[i];
        q = strchr(a, '?');
        is_room[i] = so->muc || (q && strcmp(q, "?join") == 0);
        if (is_room[i]) {
            if (xu_muc_parse_room(a, &rcpt[i]) < 0)
                return xu_error_set(err, XU_EX_USAGE,
                                    "invalid room '%s': give room@service or xmpp:room@service?join", a);
            continue;
        }
        if (q && strncmp(a, "xmpp:", 5) == 0)
            return xu_error_set(err, XU_EX_USAGE,
                                "invalid recipient '%s': of the xmpp: URI actions only ?join is understood", a);
        if (xu_jid_from_arg(a, 0, &rcpt[i], NULL, why, sizeof why) < 0)
            return xu_error_set(err, XU_EX_USAGE, "invalid recipient '%s': %s", argv[i], why);
    }
    return 0;
}

static int check_recipients(const struct send_opts *so, const int *is_room, int n,
                            struct xu_error *err)
{
    int i, rooms = 0;

    for (i = 0; i < n; i++)
        rooms += is_room[i];
    if (n == 0 && !so->xml)
        return xu_error_set(err, XU_EX_USAGE, "no recipient given (see --help)");
    if (so->xml && rooms < n)
        return xu_error_set(err, XU_EX_USAGE,
                            "with --xml the stanzas name their recipients; operands can only be "
                            "rooms to join first (--muc)");
    if (so->type && strcmp(so->type, "groupchat") == 0 && rooms < n)
        return xu_error_set(err, XU_EX_USAGE,
                            "-t groupchat is for rooms; give --muc (or xmpp:ROOM?join) if the "
                            "recipients are rooms");
    if (so->receipt && rooms && given(so, O_RECEIPT))
        return xu_error_set(err, XU_EX_USAGE,
                            "--receipt does not work in rooms (XEP-0184 receipts are for one-to-one "
                            "messages)");
    if (so->omemo && rooms)
        return xu_error_set(err, XU_EX_USAGE,
                            "--omemo is for one-to-one messages; rooms are not supported (yet): "
                            "nothing was sent");
    if (!rooms && (given(so, O_NICK) || given(so, O_ROOM_PASSWORD_FILE) || given(so, O_NO_CREATE)))
        return xu_error_set(err, XU_EX_USAGE,
                            "--nick, --room-password-file and --no-create are for rooms (--muc)");
    return 0;
}

/* The body: -m, else all of stdin; cleaned for XML, trailing newlines cut. */
static int read_body(const struct send_opts *so, char **body, struct xu_error *err)
{
    char *raw = NULL;
    size_t len;
    int rc;

    if (so->message || so->nfiles) {
        if (!so->message) /* the files alone; standard input may be one of them */
            return 0;
        raw = strdup(so->message);
        if (!raw)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        len = strlen(raw);
    } else {
        if (isatty(0))
            xu_warn("reading the message from the terminal; end it with Ctrl-D");
        rc = xu_read_all(0, STDIN_MAX, &raw, &len, err);
        if (rc)
            return rc;
    }
    while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
        len--;
    *body = xu_clean_for_xml(raw, len, "message body", &len);
    free(raw);
    if (!*body)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (strspn(*body, " \t\r\n") == len) {
        free(*body);
        *body = NULL;
        return xu_error_set(err, XU_EX_DATAERR, "the message body is empty; nothing was sent");
    }
    return 0;
}

/* --file: upload every file (its own session), then leave what is left of
 * --timeout for delivering the messages (*left: opts with that timeout). */
static int upload_files(struct send_opts *so, const struct xu_opts *o, struct xu_opts *left,
                        char ***urls, struct xu_error *err)
{
    double until = o->timeout > 0 ? xu_now() + o->timeout : 0;
    int i, rc;

    rc = (so->omemo ? xu_omemo_upload_files : xu_upload_files)(o, so->files, so->nfiles, until,
                                                                isatty(2) && xu_verbosity >= 0, err);
    if (rc)
        return rc;
    *left = *o;
    if (until > 0) {
        left->timeout = until - xu_now();
        if (left->timeout < 0.01)
            return xu_error_set(err, XU_EX_TEMPFAIL,
                                "the upload used all of --timeout %g s: no time left to send the "
                                "message (give a larger --timeout)", o->timeout);
    }
    *urls = calloc((size_t)so->nfiles, sizeof **urls);
    if (!*urls)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (i = 0; i < so->nfiles; i++)
        (*urls)[i] = so->files[i].get_url;
    return 0;
}

int main(int argc, char **argv)
{
    struct send_opts so = {.rate = 5, .max_size = 32768, .buffer = 10000, .retry = -2};
    struct xu_tool tool = {
        "xmpp-send", "[options] RECIPIENT...",
        "Send a message (from -m or standard input), each line of standard input (--lines), or\n"
        "stanzas (--xml) to each RECIPIENT (a JID, or a room with --muc or xmpp:ROOM?join); exit 0\n"
        "only once the server has acknowledged all of them.",
        send_options, apply, &so,
        "  (65 also: a malformed or non-stanza element in --xml input, after what came before it\n"
        "   was delivered; a stanza the server refused by ending the stream, the rest delivered;\n"
        "   69 also: a message bounced; 75 also: lines not acknowledged within --timeout after\n"
        "   the end of the input, no delivery receipt with --receipt, or the session replaced\n"
        "   by another login with the same resource (not reconnected); 128+n: stopped by\n"
        "   SIGINT, SIGTERM or SIGHUP after delivering what was read)\n"
        "  (--file: 65 too large for the service or not acceptable, 69 no upload service,\n"
        "   74 cannot read the file, 75 quota/rate or --timeout, 76 HTTP status, 77 upload\n"
        "   refused or its server's certificate not trusted)\n",
        .given = NULL,
    };
    struct xu_deliver_cfg cfg;
    struct xu_omemo_send os = {NULL, NULL, 0};
    struct xu_error err = {0, ""};
    struct xu_opts o;
    char **rcpt = NULL, *body = NULL, *subject = NULL, *room_pw = NULL, **urls = NULL;
    int *is_room = NULL, first = 0, nto = 0, i, rc;
    struct xu_opts left;
    size_t len;

    if (xu_stdfds_init() != 0)
        return XU_EX_OSERR; /* no /dev/null: nowhere safe to write */
    rc = xu_opts_parse(&o, &tool, argc, argv, &first, &err);
    if (rc == 0)
        rc = check_options(&so, &err);
    if (rc == 0) {
        nto = argc - first;
        rcpt = calloc((size_t)nto + 1, sizeof *rcpt);
        is_room = calloc((size_t)nto + 1, sizeof *is_room);
        if (!rcpt || !is_room)
            rc = xu_error_set(&err, XU_EX_OSERR, "out of memory");
    }
    if (rc == 0)
        rc = parse_recipients(&so, argv + first, nto, rcpt, is_room, &err);
    if (rc == 0)
        rc = check_recipients(&so, is_room, nto, &err);
    if (rc == 0 && so.nfiles && o.component)
        rc = xu_error_set(&err, XU_EX_USAGE, "--file needs a client account (not --component): "
                          "the upload service hands out slots to users");
    if (rc == 0 && so.room_password_file)
        rc = xu_secret_read_file(so.room_password_file, "room password", &room_pw, &err);
    if (rc == 0 && !so.lines && !so.xml)
        rc = read_body(&so, &body, &err);
    if (rc == 0 && so.subject) {
        subject = xu_clean_for_xml(so.subject, strlen(so.subject), "subject", &len);
        if (!subject)
            rc = xu_error_set(&err, XU_EX_OSERR, "out of memory");
    }
    if (rc == 0) {
        memset(&cfg, 0, sizeof cfg);
        cfg.opts = &o;
        cfg.input = so.xml ? XU_INPUT_XML : so.lines ? XU_INPUT_LINES : XU_INPUT_BODY;
        cfg.body = body;
        cfg.fd = 0;
        cfg.to = rcpt;
        cfg.is_room = is_room;
        cfg.nto = nto;
        cfg.type = so.type && strcmp(so.type, "groupchat") != 0 ? so.type : NULL;
        cfg.subject = subject;
        cfg.thread = so.thread;
        cfg.lang = so.lang;
        cfg.receipt = so.receipt;
        cfg.nick = so.nick;
        cfg.room_password = room_pw;
        cfg.no_create = so.no_create;
        cfg.rate = so.rate;
        cfg.batch = so.batch;
        cfg.max_size = so.max_size;
        cfg.one_per_line = so.one_per_line;
        cfg.buffer = so.buffer;
        cfg.retry = so.retry;
        cfg.strict = so.strict;
        /* a reconnect must not prompt or run passwordeval again */
        rc = xu_password_keep(&o, &err);
        if (rc == 0 && so.nfiles)
            rc = upload_files(&so, &o, &left, &urls, &err);
        if (rc == 0 && so.nfiles) {
            cfg.opts = &left;
            cfg.oob = urls;
            cfg.noob = so.nfiles;
            for (i = 0; i < so.nfiles; i++) /* an URL is never split */
                if (strlen(urls[i]) > cfg.max_size)
                    cfg.max_size = strlen(urls[i]);
        }
        if (rc == 0 && so.omemo)
            rc = o.component ? xu_error_set(&err, XU_EX_USAGE, "--omemo needs a user account, not a component")
                             : xu_omemo_send_setup(&os, &cfg, o.jid, &err);
        if (rc == 0)
            rc = xu_deliver(&cfg, &err);
    }
    xu_omemo_send_free(&os);
    for (i = 0; rcpt && i < nto; i++)
        free(rcpt[i]);
    free(rcpt);
    free(is_room);
    for (i = 0; i < so.nfiles; i++)
        free(so.files[i].get_url);
    free(so.files);
    free(urls);
    free(body);
    free(subject);
    xu_secret_free(room_pw);
    free(so.message);
    free(so.subject);
    free(so.type);
    free(so.thread);
    free(so.lang);
    free(so.nick);
    free(so.room_password_file);
    xu_opts_free(&o);
    return rc ? xu_report(&err) : 0;
}

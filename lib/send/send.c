/* The xmpp-send engine (send.h): recipients, body, uploads, OMEMO, then
 * the delivery engine. */
#include "send/send.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jid.h"
#include "base/msg.h"
#include "base/secret.h"
#include "base/text.h"
#include "send/omemo_encrypt.h"
#include "send/omemo_file.h"
#include "xmpp/message.h"
#include "xmpp/muc.h"

#define STDIN_MAX (16u << 20) /* a message body, not a file transfer */

const char xu_send_exit_notes[] =
    "  (65 also: a malformed or non-stanza element in --xml input, after what came before it\n"
    "   was delivered; a stanza the server refused by ending the stream, the rest delivered;\n"
    "   69 also: a message bounced; 75 also: lines not acknowledged within --timeout after\n"
    "   the end of the input, no delivery receipt with --receipt, or the session replaced\n"
    "   by another login with the same resource (not reconnected); 128+n: stopped by\n"
    "   SIGINT, SIGTERM or SIGHUP after delivering what was read)\n"
    "  (--file: 65 too large for the service or not acceptable, 69 no upload service,\n"
    "   74 cannot read the file, 75 quota/rate or --timeout, 76 HTTP status, 77 upload\n"
    "   refused or its server's certificate not trusted)\n";

/* What xu_send allocates, released at its end. */
struct run {
    char **rcpt;
    int *is_room;
    char *body, *subject, *room_pw, **urls;
    struct xu_omemo_send os;
    struct xu_opts left; /* the session options with what the upload left of --timeout */
};

/* The recipients: rooms (with --muc, or written xmpp:ROOM?join) and JIDs
 * (a leading xmpp: is allowed). rcpt[i] is allocated. */
static int parse_recipients(const struct xu_send_cfg *c, char **argv, int n, char **rcpt,
                            int *is_room, struct xu_error *err)
{
    char why[128];
    const char *a, *q;
    int i;

    for (i = 0; i < n; i++) {
        a = argv[i];
        q = strchr(a, '?');
        is_room[i] = c->muc || (q && strcmp(q, "?join") == 0);
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

/* The recipients against the options. */
static int check_recipients(const struct xu_send_cfg *c, const struct xu_tool *tool,
                            const int *is_room, int n, struct xu_error *err)
{
    static const int room_only[] = {XU_SEND_NICK, XU_SEND_ROOM_PASSWORD_FILE, XU_SEND_NO_CREATE, 0};
    int i, rooms = 0;

    for (i = 0; i < n; i++)
        rooms += is_room[i];
    if (n == 0 && !c->xml)
        return xu_error_set(err, XU_EX_USAGE, "no recipient given (see --help)");
    if (c->xml && rooms < n)
        return xu_error_set(err, XU_EX_USAGE,
                            "with --xml the stanzas name their recipients; operands can only be "
                            "rooms to join first (--muc)");
    if (c->type && strcmp(c->type, "groupchat") == 0 && rooms < n)
        return xu_error_set(err, XU_EX_USAGE,
                            "-t groupchat is for rooms; give --muc (or xmpp:ROOM?join) if the "
                            "recipients are rooms");
    if (c->d.receipt && rooms && xu_opts_given(tool, XU_SEND_RECEIPT))
        return xu_error_set(err, XU_EX_USAGE,
                            "--receipt does not work in rooms (XEP-0184 receipts are for one-to-one "
                            "messages)");
    if (c->omemo && rooms)
        return xu_error_set(err, XU_EX_USAGE,
                            "--omemo is for one-to-one messages; rooms are not supported (yet): "
                            "nothing was sent");
    if (!rooms && xu_opts_given_of(tool, room_only))
        return xu_error_set(err, XU_EX_USAGE,
                            "--nick, --room-password-file and --no-create are for rooms (--muc)");
    return 0;
}

/* The body: -m, else all of stdin; cleaned for XML, trailing newlines cut. */
static int read_body(const struct xu_send_cfg *c, char **body, struct xu_error *err)
{
    char *raw = NULL;
    size_t len;
    int rc;

    if (c->message || c->nfiles) {
        if (!c->message) /* the files alone; standard input may be one of them */
            return 0;
        raw = strdup(c->message);
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
 * --timeout for delivering the messages (r->left: opts with that timeout),
 * whose last ones are the files' URLs. */
static int upload_files(struct xu_send_cfg *c, const struct xu_opts *o, struct run *r,
                        struct xu_error *err)
{
    double until = o->timeout > 0 ? xu_now() + o->timeout : 0;
    int i, rc;

    rc = (c->omemo ? xu_omemo_upload_files : xu_upload_files)(o, c->files, c->nfiles, until,
                                                               isatty(2) && xu_verbosity >= 0, err);
    if (rc)
        return rc;
    r->left = *o;
    if (until > 0) {
        r->left.timeout = until - xu_now();
        if (r->left.timeout < 0.01)
            return xu_error_set(err, XU_EX_TEMPFAIL,
                                "the upload used all of --timeout %g s: no time left to send the "
                                "message (give a larger --timeout)", o->timeout);
    }
    r->urls = calloc((size_t)c->nfiles, sizeof *r->urls);
    if (!r->urls)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (i = 0; i < c->nfiles; i++) {
        r->urls[i] = c->files[i].get_url;
        if (strlen(r->urls[i]) > c->d.max_size) /* an URL is never split */
            c->d.max_size = strlen(r->urls[i]);
    }
    c->d.opts = &r->left;
    c->d.oob = r->urls;
    c->d.noob = c->nfiles;
    return 0;
}

/* Everything before the delivery, in the order its errors are reported. */
static int prepare(struct xu_send_cfg *c, const struct xu_tool *tool, struct xu_opts *o,
                   char **argv, int n, struct run *r, struct xu_error *err)
{
    size_t len;
    int rc;

    if (c->d.retry == -2)
        c->d.retry = c->lines || c->xml ? -1 : 0;
    r->rcpt = calloc((size_t)n + 1, sizeof *r->rcpt);
    r->is_room = calloc((size_t)n + 1, sizeof *r->is_room);
    if (!r->rcpt || !r->is_room)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if ((rc = parse_recipients(c, argv, n, r->rcpt, r->is_room, err)) != 0 ||
        (rc = check_recipients(c, tool, r->is_room, n, err)) != 0)
        return rc;
    if (c->nfiles && o->component)
        return xu_error_set(err, XU_EX_USAGE, "--file needs a client account (not --component): "
                            "the upload service hands out slots to users");
    if (c->room_password_file &&
        (rc = xu_secret_read_file(c->room_password_file, "room password", &r->room_pw, err)) != 0)
        return rc;
    if (!c->lines && !c->xml && (rc = read_body(c, &r->body, err)) != 0)
        return rc;
    if (c->subject) {
        r->subject = xu_clean_for_xml(c->subject, strlen(c->subject), "subject", &len);
        if (!r->subject)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    c->d.opts = o;
    c->d.input = c->xml ? XU_INPUT_XML : c->lines ? XU_INPUT_LINES : XU_INPUT_BODY;
    c->d.body = r->body;
    c->d.fd = 0;
    c->d.to = r->rcpt;
    c->d.is_room = r->is_room;
    c->d.nto = n;
    c->d.type = c->type && strcmp(c->type, "groupchat") != 0 ? c->type : NULL;
    c->d.subject = r->subject;
    c->d.room_password = r->room_pw;
    /* a reconnect must not prompt or run passwordeval again */
    if ((rc = xu_password_keep(o, err)) != 0)
        return rc;
    if (c->nfiles && (rc = upload_files(c, o, r, err)) != 0)
        return rc;
    if (c->omemo)
        return o->component ? xu_error_set(err, XU_EX_USAGE, "--omemo needs a user account, not a component")
                            : xu_omemo_send_setup(&r->os, &c->d, o->jid, err);
    return 0;
}

int xu_send(struct xu_send_cfg *c, const struct xu_tool *tool, struct xu_opts *o, char **argv,
            int n, struct xu_error *err)
{
    struct run r;
    int i, rc;

    memset(&r, 0, sizeof r);
    rc = prepare(c, tool, o, argv, n, &r, err);
    if (rc == 0)
        rc = xu_deliver(&c->d, err);
    xu_omemo_send_free(&r.os);
    for (i = 0; r.rcpt && i < n; i++)
        free(r.rcpt[i]);
    free(r.rcpt);
    free(r.is_room);
    free(r.urls);
    free(r.body);
    free(r.subject);
    xu_secret_free(r.room_pw);
    c->d.to = NULL; /* they pointed into r */
    c->d.is_room = NULL;
    c->d.body = c->d.subject = c->d.room_password = NULL;
    c->d.oob = NULL;
    c->d.opts = NULL;
    return rc;
}

void xu_send_cfg_free(struct xu_send_cfg *c)
{
    int i;

    for (i = 0; i < c->nfiles; i++)
        free(c->files[i].get_url);
    free(c->files);
    free(c->message);
    free(c->subject);
    free(c->type);
    free(c->room_password_file);
    free(c->d.thread);
    free(c->d.lang);
    free(c->d.nick);
    memset(c, 0, sizeof *c);
}

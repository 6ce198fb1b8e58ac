/* xmpp-send: deliver a message to one or more JIDs and exit 0 only once
 * the server has processed every one of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jid.h"
#include "message.h"
#include "msg.h"
#include "opts.h"
#include "session.h"

#define STDIN_MAX (16u << 20) /* a message body, not a file transfer */

enum { O_MESSAGE = 1000, O_SUBJECT, O_TYPE };

struct send_opts {
    char *message;
    char *subject;
    char *type;
};

static const struct xu_option send_options[] = {
    {"message", 'm', XU_OPT_ARG | XU_OPT_NOCONFIG, O_MESSAGE, "TEXT", "the message body (default: all of standard input)"},
    {"subject", 's', XU_OPT_ARG, O_SUBJECT, "TEXT", "message subject"},
    {"type", 't', XU_OPT_ARG, O_TYPE, "TYPE", "chat (default), normal or headline"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static int set(char **dst, const char *v, struct xu_error *err)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : xu_error_set(err, XU_EX_OSERR, "out of memory");
}

static int apply(void *state, int id, const char *arg, int from_config, struct xu_error *err)
{
    struct send_opts *so = state;
    int code = from_config ? XU_EX_CONFIG : XU_EX_USAGE;

    switch (id) {
    case O_MESSAGE: return set(&so->message, arg, err);
    case O_SUBJECT: return set(&so->subject, arg, err);
    case O_TYPE:
        if (strcmp(arg, "chat") && strcmp(arg, "normal") && strcmp(arg, "headline"))
            return xu_error_set(err, code, "--type must be chat, normal or headline, not '%s'", arg);
        return set(&so->type, arg, err);
    }
    return xu_error_set(err, XU_EX_SOFTWARE, "unhandled option %d", id);
}

/* The body: -m, else all of stdin; cleaned for XML, trailing newlines cut. */
static int read_body(const struct send_opts *so, char **body, struct xu_error *err)
{
    char *raw = NULL;
    size_t len;
    int rc;

    if (so->message) {
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

static int send_all(struct xu_session *s, const struct send_opts *so, char **to, int nto,
                    const char *body, const char *subject, struct xu_error *err)
{
    struct xu_bounces bounces = {0, ""};
    struct xu_message m = {NULL, so->type, body, subject, NULL, NULL};
    xmpp_stanza_t *st;
    int i, rc;

    xu_bounces_watch(s, &bounces);
    for (i = 0; i < nto; i++) {
        m.to = to[i];
        st = xu_message_build(s, &m);
        if (!st)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        xu_session_send(s, st);
        xmpp_stanza_release(st);
    }
    /* The server answers in order: once the ping is back, every message
     * before it was accepted or bounced. */
    rc = xu_session_roundtrip(s, NULL, err);
    if (rc)
        return rc;
    if (bounces.count)
        return xu_error_set(err, XU_EX_UNAVAILABLE, "%u of %d message(s) bounced; first: %s",
                            bounces.count, nto, bounces.first);
    xu_info("%d message(s) accepted by the server", nto);
    return 0;
}

int main(int argc, char **argv)
{
    struct send_opts so = {NULL, NULL, NULL};
    struct xu_tool tool = {
        "xmpp-send", "[options] RECIPIENT...",
        "Send a message (from -m or standard input) to each RECIPIENT; exit 0 only once the\n"
        "server has accepted all of them.",
        send_options, apply, &so, NULL,
    };
    struct xu_error err = {0, ""};
    struct xu_session s;
    struct xu_opts o;
    char why[128], *body = NULL, *subject = NULL;
    size_t len;
    int first, i, rc;

    memset(&s, 0, sizeof s);
    rc = xu_opts_parse(&o, &tool, argc, argv, &first, &err);
    if (rc == 0 && first >= argc)
        rc = xu_error_set(&err, XU_EX_USAGE, "no recipient given (see --help)");
    for (i = first; rc == 0 && i < argc; i++)
        if (xu_jid_check(argv[i], 0, why, sizeof why) < 0)
            rc = xu_error_set(&err, XU_EX_USAGE, "invalid recipient '%s': %s", argv[i], why);
    if (rc == 0)
        rc = read_body(&so, &body, &err);
    if (rc == 0 && so.subject) {
        subject = xu_clean_for_xml(so.subject, strlen(so.subject), "subject", &len);
        if (!subject)
            rc = xu_error_set(&err, XU_EX_OSERR, "out of memory");
    }
    if (rc == 0)
        rc = xu_session_open(&s, &o, 0, &err);
    if (rc == 0)
        rc = send_all(&s, &so, argv + first, argc - first, body, subject, &err);
    if (s.ctx)
        xu_session_close(&s);
    xu_session_free(&s);
    free(body);
    free(subject);
    free(so.message);
    free(so.subject);
    free(so.type);
    xu_opts_free(&o);
    return rc ? xu_report(&err) : 0;
}

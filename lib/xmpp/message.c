#include "xmpp/message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/msg.h"

static void add_text_child(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name,
                           const char *text)
{
    xmpp_stanza_t *el = xmpp_stanza_new(ctx), *t = xmpp_stanza_new(ctx);

    xmpp_stanza_set_name(el, name);
    xmpp_stanza_set_text(t, text);
    xmpp_stanza_add_child(el, t);
    xmpp_stanza_add_child(parent, el);
    xmpp_stanza_release(t);
    xmpp_stanza_release(el);
}

xmpp_stanza_t *xu_message_build(struct xu_session *s, const struct xu_message *m)
{
    char *id = xu_session_new_id(s);
    xmpp_stanza_t *msg;

    msg = xmpp_message_new(s->ctx, m->type ? m->type : "chat", m->to, id);
    free(id);
    if (!msg)
        return NULL;
    if (m->lang)
        xmpp_stanza_set_attribute(msg, "xml:lang", m->lang);
    if (m->subject)
        add_text_child(s->ctx, msg, "subject", m->subject);
    if (m->body)
        add_text_child(s->ctx, msg, "body", m->body);
    if (m->thread)
        add_text_child(s->ctx, msg, "thread", m->thread);
    return msg;
}

void xu_stanza_error_text(xmpp_stanza_t *stanza, char *buf, size_t len)
{
    xmpp_stanza_t *error = xmpp_stanza_get_child_by_name(stanza, "error"), *c;
    const char *cond = NULL, *name;
    char *text = NULL, raw[512];

    for (c = error ? xmpp_stanza_get_children(error) : NULL; c; c = xmpp_stanza_get_next(c)) {
        name = xmpp_stanza_get_name(c);
        if (!name || !xmpp_stanza_is_tag(c))
            continue;
        if (strcmp(name, "text") == 0)
            text = xmpp_stanza_get_text(c);
        else if (!cond)
            cond = name;
    }
    snprintf(raw, sizeof raw, "%s%s%s%s", cond ? cond : "undefined-condition",
             text ? " (" : "", text ? text : "", text ? ")" : "");
    if (text)
        xmpp_free(xmpp_stanza_get_context(stanza), text);
    xu_sanitize_terminal(buf, len, raw);
}

static int on_message_error(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *ud)
{
    struct xu_bounces *b = ud;
    char why[400], from[256];

    (void)conn;
    if (b->count++ == 0) {
        xu_stanza_error_text(stanza, why, sizeof why);
        xu_sanitize_terminal(from, sizeof from,
                             xmpp_stanza_get_from(stanza) ? xmpp_stanza_get_from(stanza) : "?");
        snprintf(b->first, sizeof b->first, "%s: %s", from, why);
    }
    return 1;
}

void xu_bounces_watch(struct xu_session *s, struct xu_bounces *b)
{
    xmpp_handler_add(s->conn, on_message_error, NULL, "message", "error", b);
}

int xu_read_all(int fd, size_t max, char **out, size_t *len, struct xu_error *err)
{
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap), *nb;
    ssize_t r;

    if (!buf)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                free(buf);
                return xu_error_set(err, XU_EX_DATAERR,
                                    "input is larger than %zu bytes; nothing was sent", max);
            }
            cap *= 2;
            nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                return xu_error_set(err, XU_EX_OSERR, "out of memory");
            }
            buf = nb;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return xu_error_set(err, XU_EX_IOERR, "cannot read standard input: %s", strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max) {
        free(buf);
        return xu_error_set(err, XU_EX_DATAERR, "input is larger than %zu bytes; nothing was sent",
                            max);
    }
    nb = realloc(buf, n + 1);
    buf = nb ? nb : buf;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

char *xu_clean_for_xml(const char *in, size_t len, const char *what, size_t *outlen)
{
    struct xu_text_fixes f = {0, 0, 0};
    char *out = xu_text_clean(in, len, outlen, &f);

    if (out && (f.ansi || f.control || f.badutf8))
        xu_warn("%s: removed %lu ANSI escape sequence(s), replaced %lu control character(s) "
                "and %lu invalid UTF-8 sequence(s) with U+FFFD",
                what, f.ansi, f.control, f.badutf8);
    return out;
}

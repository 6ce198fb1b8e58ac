#include "xmpp/muc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp/iq.h"
#include "base/jid.h"
#include "xmpp/message.h"
#include "base/msg.h"
#include "xml/stanza_out.h"

struct join_state {
    struct xu_session *s;
    const struct xu_muc_join *j;
    char *occupant;   /* room/nick we asked for */
    int done;         /* 1 joined, -1 failed */
    int created;
    int conflict;
    char error[400];
    char condition[64];
    char *nick_given; /* from our self-presence */
};

static int has_status(xmpp_stanza_t *x, const char *code)
{
    xmpp_stanza_t *c;
    const char *name, *v;

    for (c = x ? xmpp_stanza_get_children(x) : NULL; c; c = xmpp_stanza_get_next(c)) {
        name = xmpp_stanza_get_name(c);
        v = xmpp_stanza_get_attribute(c, "code");
        if (name && strcmp(name, "status") == 0 && v && strcmp(v, code) == 0)
            return 1;
    }
    return 0;
}

static int on_room_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct join_state *js = ud;
    const char *from = xmpp_stanza_get_from(st), *type = xmpp_stanza_get_type(st);
    xmpp_stanza_t *x, *error, *c;

    (void)conn;
    if (js->done || !from || !xu_jid_bare_equal(from, js->j->room))
        return 1;
    if (type && strcmp(type, "error") == 0) {
        xu_stanza_error_text(st, js->error, sizeof js->error);
        error = xmpp_stanza_get_child_by_name(st, "error");
        js->condition[0] = '\0';
        for (c = error ? xmpp_stanza_get_children(error) : NULL; c; c = xmpp_stanza_get_next(c))
            if (xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c), "text") != 0) {
                snprintf(js->condition, sizeof js->condition, "%s", xmpp_stanza_get_name(c));
                break;
            }
        js->done = -1;
        return 0;
    }
    if (type && strcmp(type, "unavailable") == 0)
        return 1;
    x = xmpp_stanza_get_child_by_name_and_ns(st, "x", XU_NS_MUC_USER);
    /* Our own presence: status 110, or (old servers) from our occupant JID. */
    if (has_status(x, "110") || strcmp(from, js->occupant) == 0) {
        js->created = has_status(x, "201");
        free(js->nick_given);
        js->nick_given = strchr(from, '/') ? strdup(strchr(from, '/') + 1) : NULL;
        js->done = 1;
        return 0;
    }
    return 1; /* another occupant's presence */
}

static int join_done(void *ud)
{
    return ((struct join_state *)ud)->done != 0;
}

static xmpp_stanza_t *join_presence(struct xu_session *s, const struct xu_muc_join *j,
                                    const char *to)
{
    xmpp_stanza_t *p = xmpp_presence_new(s->ctx), *x, *h, *pw, *t;
    char n[32];

    xmpp_stanza_set_to(p, to);
    x = xmpp_stanza_new(s->ctx);
    xmpp_stanza_set_name(x, "x");
    xmpp_stanza_set_ns(x, XU_NS_MUC);
    if (j->history >= 0) {
        h = xmpp_stanza_new(s->ctx);
        xmpp_stanza_set_name(h, "history");
        snprintf(n, sizeof n, "%d", j->history);
        xmpp_stanza_set_attribute(h, "maxstanzas", n);
        xmpp_stanza_add_child(x, h);
        xmpp_stanza_release(h);
    }
    if (j->password) {
        pw = xmpp_stanza_new(s->ctx);
        t = xmpp_stanza_new(s->ctx);
        xmpp_stanza_set_name(pw, "password");
        xmpp_stanza_set_text(t, j->password);
        xmpp_stanza_add_child(pw, t);
        xmpp_stanza_add_child(x, pw);
        xmpp_stanza_release(t);
        xmpp_stanza_release(pw);
    }
    xmpp_stanza_add_child(p, x);
    xmpp_stanza_release(x);
    return p;
}

/* Unlock a room we just created with the default configuration. */
static int make_instant(struct xu_session *s, const char *room, struct xu_error *err)
{
    char why[400];
    xmpp_stanza_t *q, *x, *reply = NULL,
                  *iq = xu_iq_new_child(s, "set", "query", XU_NS_MUC_OWNER, &q);
    const char *type;
    int rc;

    x = iq ? xu_stanza_add_el(q, "x", "jabber:x:data") : NULL;
    if (!x) {
        if (iq)
            xmpp_stanza_release(iq);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    xmpp_stanza_set_to(iq, room);
    /* an empty submitted form: the room's default configuration (instant room) */
    xmpp_stanza_set_type(x, "submit");
    rc = xu_iq_request(s, iq, s->deadline > 0 ? s->deadline : xu_now() + 86400, &reply, err);
    xmpp_stanza_release(iq);
    if (rc)
        return rc;
    type = xmpp_stanza_get_type(reply);
    if (!type || strcmp(type, "result") != 0) {
        xu_stanza_error_text(reply, why, sizeof why);
        xmpp_stanza_release(reply);
        return xu_error_set(err, XU_EX_PROTOCOL, "room %s was created but could not be unlocked: %s",
                            room, why);
    }
    xmpp_stanza_release(reply);
    return 0;
}

static int join_error_code(const char *cond)
{
    if (strcmp(cond, "not-authorized") == 0 || strcmp(cond, "registration-required") == 0 ||
        strcmp(cond, "forbidden") == 0 || strcmp(cond, "not-allowed") == 0)
        return XU_EX_NOPERM;
    if (strcmp(cond, "conflict") == 0)
        return XU_EX_TEMPFAIL;
    if (strcmp(cond, "jid-malformed") == 0)
        return XU_EX_USAGE;
    return XU_EX_UNAVAILABLE;
}

static const char *join_error_hint(const char *cond)
{
    if (strcmp(cond, "not-authorized") == 0)
        return " (the room needs a password: --room-password-file)";
    if (strcmp(cond, "registration-required") == 0)
        return " (the room is members-only and this account is not a member)";
    if (strcmp(cond, "forbidden") == 0)
        return " (this account is banned from the room)";
    if (strcmp(cond, "conflict") == 0)
        return " (the nickname is in use)";
    if (strcmp(cond, "item-not-found") == 0)
        return " (no such room, or it is locked until its owner configures it)";
    return "";
}

static int join_once(struct xu_session *s, const struct xu_muc_join *j, const char *nick,
                     struct join_state *js, struct xu_error *err)
{
    xmpp_stanza_t *p;
    int rc;

    memset(js, 0, sizeof *js);
    js->s = s;
    js->j = j;
    if (asprintf(&js->occupant, "%s/%s", j->room, nick) < 0)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    xmpp_handler_add(s->conn, on_room_presence, NULL, "presence", NULL, js);
    p = join_presence(s, j, js->occupant);
    xu_session_send(s, p);
    xmpp_stanza_release(p);
    rc = xu_session_run(s, join_done, js, err);
    if (rc)
        xmpp_handler_delete(s->conn, on_room_presence);
    return rc;
}

int xu_muc_join(struct xu_session *s, const struct xu_muc_join *j, struct xu_muc_room *out,
                struct xu_error *err)
{
    struct join_state js;
    char nick[256], why[128];
    const char *node_end;
    int rc, attempt;

    memset(out, 0, sizeof *out);
    if (xu_jid_check(j->room, 1, why, sizeof why) < 0 || strchr(j->room, '/'))
        return xu_error_set(err, XU_EX_USAGE, "invalid room '%s': %s", j->room,
                            strchr(j->room, '/') ? "give the bare room JID" : why);
    if (j->nick)
        snprintf(nick, sizeof nick, "%s", j->nick);
    else {
        node_end = s->bound_jid ? strchr(s->bound_jid, '@') : NULL;
        snprintf(nick, sizeof nick, "%.*s", node_end ? (int)(node_end - s->bound_jid) : 7,
                 node_end ? s->bound_jid : "xmpputils");
    }
    for (attempt = 0; attempt < 2; attempt++) {
        rc = join_once(s, j, nick, &js, err);
        if (rc) {
            free(js.occupant);
            free(js.nick_given);
            return rc;
        }
        if (js.done < 0 && strcmp(js.condition, "conflict") == 0 && j->retry_nick && attempt == 0) {
            xu_warn("nickname '%s' is in use in %s; trying '%s_%04x'", nick, j->room, nick,
                    (unsigned)(xu_now() * 1000) & 0xffff);
            snprintf(nick + strlen(nick), sizeof nick - strlen(nick), "_%04x",
                     (unsigned)(xu_now() * 1000) & 0xffff);
            free(js.occupant);
            free(js.nick_given);
            continue;
        }
        break;
    }
    if (js.done < 0) {
        rc = xu_error_set(err, join_error_code(js.condition), "cannot join %s as '%s': %s%s",
                          j->room, nick, js.error, join_error_hint(js.condition));
        free(js.occupant);
        free(js.nick_given);
        return rc;
    }
    out->room = strdup(j->room);
    out->nick = strdup(js.nick_given ? js.nick_given : nick);
    out->created = js.created;
    free(js.occupant);
    free(js.nick_given);
    if (!out->room || !out->nick || asprintf(&out->occupant, "%s/%s", out->room, out->nick) < 0)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (out->created && j->no_create) {
        xu_muc_leave(s, out);
        return xu_error_set(err, XU_EX_UNAVAILABLE,
                            "room %s does not exist (joining created it; left it again "
                            "because of --no-create)", j->room);
    }
    if (out->created) {
        xu_info("created room %s; configuring it as an instant room", j->room);
        return make_instant(s, j->room, err);
    }
    return 0;
}

void xu_muc_leave(struct xu_session *s, const struct xu_muc_room *r)
{
    xmpp_stanza_t *p;

    if (!r->occupant || !s->conn || s->disconnected)
        return;
    p = xmpp_presence_new(s->ctx);
    xmpp_stanza_set_type(p, "unavailable");
    xmpp_stanza_set_to(p, r->occupant);
    xu_session_send(s, p);
    xmpp_stanza_release(p);
}

void xu_muc_room_free(struct xu_muc_room *r)
{
    free(r->room);
    free(r->nick);
    free(r->occupant);
    memset(r, 0, sizeof *r);
}

int xu_muc_parse_room(const char *arg, char **room)
{
    char why[128], *query = NULL;

    /* room@service or xmpp:room@service?join, prepared like every JID */
    *room = NULL;
    if (xu_jid_from_arg(arg, 1, room, &query, why, sizeof why) < 0)
        return -1;
    if ((query && strcmp(query, "join") != 0) || strchr(*room, '/')) {
        free(query);
        free(*room);
        *room = NULL;
        return -1;
    }
    free(query);
    return 0;
}

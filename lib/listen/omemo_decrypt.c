/* xmpp-listen --omemo (see omemo_listen.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "listen/omemo_decrypt.h"
#include "base/text.h"

static void set_body(xmpp_stanza_t *msg, const char *text)
{
    xmpp_ctx_t *ctx = xmpp_stanza_get_context(msg);
    xmpp_stanza_t *body = xmpp_stanza_get_child_by_name(msg, "body"), *t, *c;
    int first = 1;

    if (!body) {
        body = xmpp_stanza_new(ctx);
        xmpp_stanza_set_name(body, "body");
        xmpp_stanza_add_child(msg, body);
        xmpp_stanza_release(body);
    }
    for (c = xmpp_stanza_get_children(body); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_text(c)) {
            xmpp_stanza_set_text(c, first ? text : "");
            first = 0;
        }
    if (first) {
        t = xmpp_stanza_new(ctx);
        xmpp_stanza_set_text(t, text);
        xmpp_stanza_add_child(body, t);
        xmpp_stanza_release(t);
    }
}

int xu_omemo_view(struct xu_omemo *o, struct xu_session *s, xmpp_stanza_t *st,
                  struct xu_omemo_view *v)
{
    const char *name = xmpp_stanza_get_name(st);
    char why[400];
    const char *type = xmpp_stanza_get_type(st);

    memset(v, 0, sizeof *v);
    /* a bounce carries our own message back: shown as it is */
    if (!name || strcmp(name, "message") != 0 || (type && strcmp(type, "error") == 0) ||
        !xmpp_stanza_get_child_by_name_and_ns(st, "encrypted", XU_NS_OMEMO))
        return 0;
    xu_omemo_decrypt(o, s, st, &v->in);
    if (v->in.key_only)
        return -1;
    v->shown = xmpp_stanza_copy(st);
    if (!v->shown) {
        xu_omemo_view_free(v);
        return -1;
    }
    if (v->in.ok) {
        size_t len = strlen(v->in.text), n;
        struct xu_text_fixes fixes;
        char *clean;

        /* what a peer sent may hold characters XML cannot carry */
        memset(&fixes, 0, sizeof fixes);
        clean = xu_text_clean(v->in.text, len, &n, &fixes);
        set_body(v->shown, clean ? clean : "");
        if (clean) {
            OPENSSL_cleanse(clean, n);
            free(clean);
        }
    } else {
        snprintf(why, sizeof why, "[OMEMO message not decrypted: %s]", v->in.error);
        set_body(v->shown, why);
    }
    return 1;
}

void xu_omemo_view_free(struct xu_omemo_view *v)
{
    if (v->shown)
        xmpp_stanza_release(v->shown);
    if (v->in.text) {
        OPENSSL_cleanse(v->in.text, strlen(v->in.text));
        free(v->in.text);
    }
    memset(v, 0, sizeof *v);
}

char *xu_omemo_format_line(const struct xu_omemo_view *v, enum xu_format fmt, double received)
{
    char *line = xu_format_line(v->shown, fmt, received), *out;
    json_t *j, *om;

    if (!line || fmt != XU_FORMAT_JSON)
        return line;
    j = json_loads(line, 0, NULL);
    om = json_object();
    if (!j || !om) {
        json_decref(j);
        json_decref(om);
        return line;
    }
    json_object_set_new(om, "device", json_integer(v->in.device));
    json_object_set_new(om, "trust", v->in.trust ? json_string(v->in.trust) : json_null());
    json_object_set_new(om, "error", v->in.ok ? json_null() : json_string(v->in.error));
    json_object_set_new(j, "omemo", om);
    if (!v->in.ok)
        json_object_set_new(j, "body", json_null());
    out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!out)
        return line;
    free(line);
    return out;
}

#include "xmpp/outgoing.h"

#include <stdlib.h>
#include <string.h>

#include "base/msg.h"

int xu_is_stanza(xmpp_stanza_t *st)
{
    const char *name = xmpp_stanza_get_name(st);

    return name && (strcmp(name, "message") == 0 || strcmp(name, "presence") == 0 ||
                    strcmp(name, "iq") == 0);
}

int xu_outgoing_prepare(struct xu_session *s, xmpp_stanza_t *st, struct xu_error *err)
{
    const char *ns = xmpp_stanza_get_ns(st), *type = xmpp_stanza_get_type(st);
    char *id, shown[64];

    if (!xu_is_stanza(st))
        return 0;
    if (ns && (strcmp(ns, XMPP_NS_CLIENT) == 0 ||
               (s->is_component && strcmp(ns, XMPP_NS_COMPONENT) == 0)))
        xmpp_stanza_del_attribute(st, "xmlns");
    if (strcmp(xmpp_stanza_get_name(st), "iq") == 0 &&
        (!type || (strcmp(type, "get") && strcmp(type, "set") && strcmp(type, "result") &&
                   strcmp(type, "error")))) {
        xu_sanitize_terminal(shown, sizeof shown, type ? type : "");
        return xu_error_set(err, XU_EX_DATAERR,
                            "an <iq> needs type get, set, result or error%s%s%s",
                            type ? ", not '" : "", shown, type ? "'" : "");
    }
    if (!xmpp_stanza_get_id(st)) {
        id = xu_session_new_id(s);
        if (!id || xmpp_stanza_set_id(st, id) != XMPP_EOK) {
            free(id);
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
        }
        free(id);
    }
    if (s->is_component && !xmpp_stanza_get_from(st) && s->bound_jid &&
        xmpp_stanza_set_from(st, s->bound_jid) != XMPP_EOK)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    return 0;
}

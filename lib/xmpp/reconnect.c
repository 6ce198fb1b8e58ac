#include "xmpp/reconnect.h"

#include <string.h>

int xu_reconnect_forbidden(const struct xu_session *s)
{
    return strcmp(s->stream_error, "conflict") == 0 || strcmp(s->bind_condition, "conflict") == 0;
}

const char *xu_reconnect_forbidden_why(const struct xu_session *s)
{
    if (!xu_reconnect_forbidden(s))
        return "";
    return "not reconnecting: two logins with the same resource would only keep replacing "
           "each other (give each its own -r, or none)";
}

int xu_stream_error_from_stanza(const char *condition)
{
    static const char *const from_stanza[] = {
        "policy-violation",  /* Prosody: "XML stanza is too big" */
        "unsupported-stanza-type", "invalid-namespace", "not-well-formed", "invalid-xml",
        "restricted-xml", "improper-addressing", "invalid-from", "bad-format",
        "unsupported-encoding", NULL,
    };
    size_t i;

    for (i = 0; condition && from_stanza[i]; i++)
        if (strcmp(condition, from_stanza[i]) == 0)
            return 1;
    return 0;
}

#include "xmpp/reconnect.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

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

int xu_reconnect_retryable(int code, const struct xu_session *s, int ever_connected)
{
    if (s && xu_reconnect_forbidden(s))
        return 0;
    if (code == XU_EX_TEMPFAIL || code == XU_EX_UNAVAILABLE || code == XU_EX_PROTOCOL)
        return 1;
    return ever_connected && (code == XU_EX_NOHOST || code == XU_EX_IOERR);
}

void xu_backoff_init(struct xu_backoff *b)
{
    b->failures = 0;
    b->up_since = 0;
}

void xu_backoff_up(struct xu_backoff *b, double now)
{
    b->up_since = now;
}

void xu_backoff_reset(struct xu_backoff *b)
{
    b->failures = 0;
}

double xu_backoff_next(struct xu_backoff *b, double now)
{
    double delay = XU_BACKOFF_FIRST;
    unsigned i;

    if (b->up_since > 0 && now - b->up_since >= XU_BACKOFF_STABLE)
        b->failures = 0;
    b->up_since = 0;
    for (i = 0; i < b->failures && delay < XU_BACKOFF_CAP; i++)
        delay *= 2;
    if (delay > XU_BACKOFF_CAP)
        delay = XU_BACKOFF_CAP;
    b->failures++;
    return delay * (0.75 + 0.5 * ((double)random() / RAND_MAX));
}

void xu_backoff_unnext(struct xu_backoff *b)
{
    if (b->failures > 0)
        b->failures--;
}

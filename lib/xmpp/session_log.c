/* What libstrophe's logger tells the session: every byte sent and received
 * goes to the transcript (--trace) from here, malformed XML from the server
 * ends the connection, and each phase's first moment is noted. The client
 * login takes no verdict from the log text (lib/xmpp/negotiate.c reads the
 * stanzas); the component's phases are read from it (session_component.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/msg.h"
#include "base/trace.h"
#include "xmpp/session_int.h"

void xu_session_attr_of(const char *tag, const char *name, char **out)
{
    char pat[64];
    const char *p, *e;
    char quote;

    snprintf(pat, sizeof pat, " %s=", name);
    p = strstr(tag, pat);
    if (!p)
        return;
    p += strlen(pat);
    quote = *p++;
    if (quote != '"' && quote != '\'')
        return;
    e = strchr(p, quote);
    if (!e)
        return;
    free(*out);
    *out = strndup(p, (size_t)(e - p));
}

void xu_session_note_phase(struct xu_session *s)
{
    if (s->phase <= XU_PHASE_CLOSED && s->phase_at[s->phase] == 0)
        s->phase_at[s->phase] = xu_now();
}

static void on_sent(struct xu_session *s, const char *data)
{
    if (strncmp(data, "<stream:error", 13) == 0 && !s->parse_error && s->phase != XU_PHASE_CLOSING) {
        /* The suite never sends a stream error: libstrophe does when the
         * server's XML does not parse, and then keeps the connection (and
         * its broken parser) until the deadline: end it. */
        s->parse_error = 1;
        if (s->sock >= 0)
            shutdown(s->sock, SHUT_RDWR);
        xu_trace_info(s->trace, "malformed XML from the server: closing");
        return;
    }
    if (s->is_component)
        xu_session_component_sent(s, data);
    /* else: the client login tracks its own phase (lib/xmpp/negotiate.c) */
}

static void on_recv(struct xu_session *s, const char *data)
{
    if (s->is_component) {
        xu_session_component_recv(s, data);
        return;
    }
    if (strncmp(data, "<stream:stream", 14) == 0)
        xu_session_attr_of(data, "id", &s->stream_id);
    /* the client login sees the stanzas themselves */
}

int xu_session_log_sensitive(const char *area, const char *msg)
{
    /* libstrophe logs the component handshake digest in clear */
    return strcmp(area, "auth") == 0 && strncmp(msg, "Digest", 6) == 0;
}

static void on_event(struct xu_session *s, xmpp_log_level_t level, const char *area,
                     const char *msg)
{
    if (s->is_component) {
        xu_session_component_event(s, level, area, msg);
        return;
    }
    /* only for the transcript and for diagnostics: no verdict of the
     * client login comes from libstrophe's log text */
    if (level >= XMPP_LEVEL_ERROR && !xu_session_log_sensitive(area, msg) && !s->last_error[0] &&
        s->phase < XU_PHASE_READY && strncmp(msg, "parse error", 11) != 0)
        snprintf(s->last_error, sizeof s->last_error, "%s", msg);
}

void xu_session_log(void *ud, xmpp_log_level_t level, const char *area, const char *msg)
{
    static int depth;
    struct xu_session *s = ud;

    if (depth)
        return; /* libstrophe logging from a call we made while logging */
    depth++;
    if (strncmp(msg, "SENT: ", 6) == 0) {
        on_sent(s, msg + 6);
        xu_trace_sent(s->trace, msg + 6);
    } else if (strncmp(msg, "RECV: ", 6) == 0) {
        on_recv(s, msg + 6);
        xu_trace_recv(s->trace, msg + 6);
    } else {
        on_event(s, level, area, msg);
        if (s->trace && !xu_session_log_sensitive(area, msg) &&
            strncmp(msg, "parse error", 11) != 0 &&
            (level >= XMPP_LEVEL_INFO || xu_verbosity >= 2 || strcmp(area, "tls") == 0 ||
             strncmp(msg, "Attempting", 10) == 0 || strncmp(msg, "connection", 10) == 0 ||
             strncmp(msg, "SASL", 4) == 0 || strncmp(msg, "Bind", 4) == 0))
            xu_trace_info(s->trace, "%s", msg);
    }
    xu_session_note_phase(s);
    depth--;
}

#include "bind/bind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/msg.h"
#include "bind/bridge.h"
#include "xmpp/outgoing.h"
#include "xml/stanza_in.h"
#include "xml/stanza_out.h"
#include "xmpp/iq.h"
#include "xmpp/message.h"
#include "xmpp/session.h"

#define IQ_MAX (1u << 20) /* the largest --iq request read from stdin */

/* ---- the --iq request: read and checked before connecting ---- */

static int check_iq_request(const char *text, struct xu_error *err)
{
    xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
    xmpp_stanza_t *st = NULL;
    const char *name, *type;
    int rc;

    if (!ctx)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = xu_stanza_from_string(ctx, text, &st, err);
    if (rc == 0) {
        name = xmpp_stanza_get_name(st);
        type = xmpp_stanza_get_type(st);
        if (!name || strcmp(name, "iq") != 0)
            rc = xu_error_set(err, XU_EX_DATAERR, "--iq sends an <iq>, not a <%.40s>",
                              name ? name : "?");
        else if (!type || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
            rc = xu_error_set(err, XU_EX_DATAERR,
                              "the <iq> must have type \"get\" or \"set\" (a request)");
    }
    if (st)
        xmpp_stanza_release(st);
    xmpp_ctx_free(ctx);
    return rc;
}

static int read_iq_request(const struct xu_bind_cfg *cfg, char **text, struct xu_error *err)
{
    size_t len;
    int rc;

    if (cfg->query) {
        *text = strdup(cfg->query);
        if (!*text)
            return xu_error_set(err, XU_EX_OSERR, "out of memory");
    } else {
        if (isatty(0))
            xu_warn("reading the <iq> from the terminal; end it with Ctrl-D");
        rc = xu_read_all(0, IQ_MAX, text, &len, err);
        if (rc)
            return rc;
        if (strlen(*text) != len)
            return xu_error_set(err, XU_EX_DATAERR, "standard input contains a NUL byte");
    }
    rc = check_iq_request(*text, err);
    return rc && cfg->query ? xu_error_wrap(err, "--query: ", "") : rc;
}

/* ---- --iq: one request, its answer on stdout ---- */

static int run_iq(struct xu_session *s, const char *text, double limit, struct xu_error *err)
{
    xmpp_stanza_t *iq = NULL, *reply = NULL;
    char why[600], from[300], before[64];
    const char *type;
    double t0 = xu_now();
    int rc;

    xu_bind_deadline(s, limit);
    rc = xu_stanza_from_string(s->ctx, text, &iq, err);
    if (rc == 0)
        rc = xu_outgoing_prepare(s, iq, err);
    if (rc == 0)
        rc = xu_iq_request(s, iq, limit, &reply, err);
    if (rc == XU_EX_TEMPFAIL && limit > 0 && xu_now() >= limit) {
        snprintf(before, sizeof before, "timed out after %g s: ", s->opts->timeout);
        xu_error_wrap(err, before, "");
    }
    if (rc == 0) {
        xu_info("answer after %.0f ms", (xu_now() - t0) * 1000);
        rc = xu_write_stanza_xml(stdout, reply, NULL, err);
    }
    type = reply ? xmpp_stanza_get_type(reply) : NULL;
    if (rc == 0 && type && strcmp(type, "error") == 0) {
        xu_stanza_error_text(reply, why, sizeof why);
        xu_sanitize_terminal(from, sizeof from,
                             xmpp_stanza_get_from(reply) ? xmpp_stanza_get_from(reply)
                                                         : "the server");
        rc = xu_error_set(err, XU_EX_FAIL, "error answer from %s: %s", from, why);
    }
    if (reply)
        xmpp_stanza_release(reply);
    if (iq)
        xmpp_stanza_release(iq);
    return rc;
}

/* ---- the session ---- */

/* Tell the user when the server bound another resource than the one asked
 * for (a server may add to it, or replace one it does not accept). */
static void check_resource(const struct xu_session *s)
{
    const char *asked = s->opts->jid ? strchr(s->opts->jid, '/') : NULL, *got;
    char a[300], g[300];

    if (s->is_component || !s->bound_jid)
        return;
    /* as start_client does: the JID's resource, else -r */
    asked = asked ? asked + 1 : s->opts->resource;
    got = strchr(s->bound_jid, '/');
    if (!asked || (got && strcmp(got + 1, asked) == 0))
        return;
    xu_sanitize_terminal(a, sizeof a, asked);
    xu_sanitize_terminal(g, sizeof g, got ? got + 1 : "");
    xu_warn("asked for resource '%s', the server bound '%s'", a, g);
}

int xu_bind_run(const struct xu_opts *o, const struct xu_bind_cfg *cfg, struct xu_error *err)
{
    struct xu_session s;
    char *request = NULL;
    double start = xu_now(), limit;
    int iq = cfg->iq || cfg->query, rc = 0;

    memset(&s, 0, sizeof s);
    if (o->component && o->resource)
        xu_info("a component has no resource: ignoring resource '%s'", o->resource);
    if (iq)
        rc = read_iq_request(cfg, &request, err);
    if (rc == 0)
        rc = xu_session_open(&s, o, 0, err);
    if (rc == 0) {
        check_resource(&s);
        xu_info("bound as %s", s.bound_jid ? s.bound_jid : "?");
        limit = o->timeout > 0 ? start + o->timeout : 0;
        if (cfg->stdio)
            rc = xu_bind_bridge(&s, cfg->presence, limit, err);
        else if (iq)
            rc = run_iq(&s, request, limit, err);
        else
            rc = xu_write_line(stdout, s.bound_jid ? s.bound_jid : "", NULL, err);
    }
    if (s.ctx)
        xu_session_close(&s);
    xu_session_free(&s);
    free(request);
    return rc;
}

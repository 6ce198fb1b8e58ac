/* xmpp-listen's option values: the checks of each one (with the messages
 * the man page and the tests know) and the configuration they fill. The
 * options the table stores by itself (XU_TO) pass through here untouched. */
#include "listen/listen.h"

#include <stdlib.h>
#include <string.h>

#include "listen/catchup.h"
#include "xmpp/muc.h"

int xu_listen_cfg_init(struct xu_listen_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->keepalive = 60;
    c->filter = xu_filter_new();
    return c->filter ? 0 : -1;
}

void xu_listen_cfg_free(struct xu_listen_cfg *c)
{
    char **strings[] = {&c->room_password_file, &c->show, &c->status, &c->state_file, &c->since};
    size_t i;

    xu_filter_free(c->filter);
    for (i = 0; i < c->nrooms; i++) {
        free(c->rooms[i].room);
        free(c->rooms[i].nick);
    }
    free(c->rooms);
    for (i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(*strings[i]);
}

static int set(char **dst, const char *v, struct xu_error *err)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : xu_error_set(err, XU_EX_OSERR, "out of memory");
}

static int add_room(struct xu_listen_cfg *c, const char *arg, int from_config, int code,
                    struct xu_error *err)
{
    const char *at = strchr(arg, '@'), *slash = at ? strchr(at, '/') : NULL;
    char *spec = strndup(arg, slash ? (size_t)(slash - arg) : strlen(arg)), *room = NULL;
    struct xu_listen_room *nr;
    size_t i;

    if (!spec)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (xu_muc_parse_room(spec, &room) < 0 || (slash && slash[1] == '\0')) {
        free(spec);
        free(room);
        return xu_error_set(err, code, "invalid room '%s': give ROOM@SERVICE or ROOM@SERVICE/NICK",
                            arg);
    }
    free(spec);
    /* the command line replaces the rooms of the config file */
    if (!from_config) {
        for (i = 0; i < c->nrooms && c->rooms[i].from_config; i++) {
            free(c->rooms[i].room);
            free(c->rooms[i].nick);
        }
        if (i && i == c->nrooms)
            c->nrooms = 0;
    }
    nr = realloc(c->rooms, (c->nrooms + 1) * sizeof *nr);
    if (!nr) {
        free(room);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    c->rooms = nr;
    memset(&nr[c->nrooms], 0, sizeof *nr);
    nr[c->nrooms].room = room;
    nr[c->nrooms].nick = slash ? strdup(slash + 1) : NULL;
    nr[c->nrooms].from_config = from_config;
    c->nrooms++;
    return 0;
}

static int set_presence(struct xu_listen_cfg *c, const char *arg, int code, struct xu_error *err)
{
    static const char *const shows[] = {"available", "chat", "away", "xa", "dnd", NULL};
    int i;

    for (i = 0; shows[i] && strcmp(shows[i], arg) != 0; i++)
        ;
    if (!shows[i])
        return xu_error_set(err, code, "--presence must be available, chat, away, xa or dnd, not '%s'", arg);
    if (i == 0) {
        free(c->show);
        c->show = NULL;
        return 0;
    }
    return set(&c->show, arg, err);
}

int xu_listen_apply(void *state, int id, const char *arg, int from_config, struct xu_error *err)
{
    struct xu_listen_cfg *c = state;
    int code = from_config ? XU_EX_CONFIG : XU_EX_USAGE;
    unsigned long n;

    switch (id) {
    case XU_LISTEN_FORMAT:
        if (xu_format_parse(arg, &c->format) < 0)
            return xu_error_set(err, code, "--format must be xml, json, text or body, not '%s'", arg);
        return 0;
    case XU_LISTEN_BODY: c->format = XU_FORMAT_BODY; return 0;
    case XU_LISTEN_COUNT:
        if (xu_parse_uint(arg, 1, 1000000000, &c->count) < 0)
            return xu_error_set(err, code, "--count must be a number from 1 to 1000000000, not '%s'", arg);
        return 0;
    case XU_LISTEN_IDLE:
        if (xu_parse_duration(arg, 0.1, 86400 * 365, &c->idle) < 0)
            return xu_error_set(err, code, "--idle must be a duration from 0.1 s to 1 year (e.g. 30, 500ms, 5m), not '%s'", arg);
        return 0;
    case XU_LISTEN_KIND: return xu_filter_add_kind(c->filter, arg, err);
    case XU_LISTEN_TYPE: return xu_filter_add_type(c->filter, arg, err);
    case XU_LISTEN_FROM: return xu_filter_add_from(c->filter, arg, err);
    case XU_LISTEN_XPATH: return xu_filter_add_xpath(c->filter, arg, err);
    case XU_LISTEN_ROOM: return add_room(c, arg, from_config, code, err);
    case XU_LISTEN_HISTORY:
        if (xu_parse_uint(arg, 0, 10000, &n) < 0)
            return xu_error_set(err, code, "--history must be a number from 0 to 10000, not '%s'", arg);
        c->history = (int)n;
        return 0;
    case XU_LISTEN_PRESENCE: return set_presence(c, arg, code, err);
    case XU_LISTEN_SINCE: /* stored by the table; the value checked here */
        return xu_catchup_check_since(arg, code, err);
    case XU_LISTEN_MAX_CATCHUP:
        if (xu_parse_uint(arg, 1, 1000000000, &c->max_catchup) < 0)
            return xu_error_set(err, code, "--max-catchup must be a number from 1 to 1000000000, not '%s'", arg);
        return 0;
    case XU_LISTEN_KEEPALIVE:
        if (strcmp(arg, "0") == 0) {
            c->keepalive = 0;
            return 0;
        }
        if (xu_parse_duration(arg, 1, 86400, &c->keepalive) < 0)
            return xu_error_set(err, code, "--keepalive must be 0 (off) or a duration from 1 s to 1 day, not '%s'", arg);
        return 0;
    case XU_LISTEN_ROOM_PASSWORD_FILE: case XU_LISTEN_OWN: case XU_LISTEN_STATUS:
    case XU_LISTEN_NO_PRESENCE: case XU_LISTEN_RECONNECT: case XU_LISTEN_OMEMO:
    case XU_LISTEN_STATE:
        return 0; /* stored by the table (XU_TO) */
    }
    return xu_error_set(err, XU_EX_SOFTWARE, "unhandled option %d", id);
}

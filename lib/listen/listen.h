/* xmpp-listen's engine: stay online and print every incoming stanza on
 * standard output, one line each, flushed per stanza, until a signal,
 * --count, --timeout or --idle ends the run.
 *
 * It owns, for one run: the session (and, with --reconnect, the new ones
 * after a drop, paced by the one policy of xmpp/reconnect.h), the signals
 * and the wake pipe (listen_signals.h), the rooms it joins and rejoins,
 * the keep-alive, the archive catch-up (catchup.h) and the output (filter,
 * format, OMEMO decryption, our own echoes). The tool's option table fills
 * struct xu_listen_cfg (XU_TO entries and xu_listen_apply); the tool checks
 * the combinations and calls xu_listen_run once. */
#ifndef XU_LISTEN_H
#define XU_LISTEN_H

#include <stddef.h>

#include "base/error.h"
#include "base/opts.h"
#include "xml/filter.h"
#include "xml/format.h"

/* The ids of xmpp-listen's options (its table is in cmd/xmpp-listen.c). */
enum {
    XU_LISTEN_FORMAT = 1000, XU_LISTEN_BODY, XU_LISTEN_COUNT, XU_LISTEN_IDLE, XU_LISTEN_KIND,
    XU_LISTEN_TYPE, XU_LISTEN_FROM, XU_LISTEN_XPATH, XU_LISTEN_ROOM,
    XU_LISTEN_ROOM_PASSWORD_FILE, XU_LISTEN_HISTORY, XU_LISTEN_OWN, XU_LISTEN_PRESENCE,
    XU_LISTEN_STATUS, XU_LISTEN_NO_PRESENCE, XU_LISTEN_RECONNECT, XU_LISTEN_KEEPALIVE,
    XU_LISTEN_OMEMO, XU_LISTEN_STATE, XU_LISTEN_SINCE, XU_LISTEN_MAX_CATCHUP,
};

struct xu_listen_room {
    char *room;      /* bare room JID */
    char *nick;      /* NULL: the account's node */
    int from_config; /* the command line replaces the config file's rooms */
};

/* What one run does: filled by the option table. */
struct xu_listen_cfg {
    enum xu_format format;
    unsigned long count;       /* --count; 0: no limit */
    double idle;               /* --idle; 0: none */
    struct xu_filter *filter;  /* --kind, --type, --from, --xpath */
    struct xu_listen_room *rooms;
    size_t nrooms;
    char *room_password_file;
    int history;               /* --history */
    int own;                   /* --own */
    char *show;                /* --presence; NULL: available */
    char *status;
    int no_presence;
    int reconnect;
    double keepalive;          /* seconds; 0: off */
    int omemo;
    char *state_file;          /* --state */
    char *since;               /* --since */
    unsigned long max_catchup; /* 0: no limit */
};

/* Defaults (keep-alive 60 s, an empty filter). -1 when out of memory. */
int xu_listen_cfg_init(struct xu_listen_cfg *c);
void xu_listen_cfg_free(struct xu_listen_cfg *c);

/* The option table's apply function (struct xu_tool.apply; state is the
 * struct xu_listen_cfg): the checks of each option's value. */
int xu_listen_apply(void *state, int id, const char *arg, int from_config, struct xu_error *err);

/* The run, with the account's options o (its timeout: --timeout given on
 * the command line is the listening time, else the bound of each connection
 * attempt). Returns 0 (also after a signal, or when the reader of standard
 * output went away) or an exit code with err set. */
int xu_listen_run(const struct xu_listen_cfg *c, struct xu_opts *o, struct xu_error *err);

#endif

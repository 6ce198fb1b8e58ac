/* Joining and leaving multi-user chat rooms (XEP-0045). */
#ifndef XU_MUC_H
#define XU_MUC_H

#include "base/error.h"
#include "xmpp/session.h"

#define XU_NS_MUC "http://jabber.org/protocol/muc"
#define XU_NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define XU_NS_MUC_OWNER "http://jabber.org/protocol/muc#owner"

struct xu_muc_join {
    const char *room;     /* bare room JID */
    const char *nick;     /* NULL: the account's node */
    const char *password; /* room password or NULL */
    int history;          /* messages of history to ask for: 0 none, -1 the room's default */
    int no_create;        /* fail (and leave) if the join would create the room */
    int retry_nick;       /* on a nick conflict, retry once with NICK_ + a suffix */
};

struct xu_muc_room {
    char *room;    /* bare room JID */
    char *nick;    /* the nick the room gave us (may differ from the one asked) */
    char *occupant; /* room/nick: our occupant JID, to recognise our own echoes */
    int created;   /* the join created the room (status 201) */
};

/* Join and wait for our self-presence (status 110). A new room is
 * configured as an instant room (or, with no_create, left again and
 * reported). Errors: not-authorized (password) and registration-required
 * (members-only) and forbidden (banned) → 77; item-not-found, service-
 * unavailable → 69; conflict (after the retry) → 75; jid-malformed → 64. */
int xu_muc_join(struct xu_session *s, const struct xu_muc_join *j, struct xu_muc_room *out,
                struct xu_error *err);

/* Send unavailable presence to the room (does not wait). */
void xu_muc_leave(struct xu_session *s, const struct xu_muc_room *r);

void xu_muc_room_free(struct xu_muc_room *r);

/* Accept "room@service", "xmpp:room@service?join" and "xmpp:room@service";
 * *room is the bare room JID (caller frees). -1 if not a room JID. */
int xu_muc_parse_room(const char *arg, char **room);

#endif

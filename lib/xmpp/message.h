/* Building outgoing messages and noticing the ones that bounce. */
#ifndef XU_MESSAGE_H
#define XU_MESSAGE_H

#include <stddef.h>
#include <strophe.h>

#include "base/error.h"
#include "xmpp/session.h"
#include "base/text.h"

struct xu_message {
    const char *to;
    const char *type;    /* chat, normal, headline, groupchat; NULL = chat */
    const char *body;    /* already clean (xu_text_clean) */
    const char *subject; /* already clean, or NULL */
    const char *thread;  /* or NULL */
    const char *lang;    /* xml:lang, or NULL */
};

/* A new <message/> stanza with a fresh id (caller releases). */
xmpp_stanza_t *xu_message_build(struct xu_session *s, const struct xu_message *m);

/* Error replies to our messages, collected while the session runs. */
struct xu_bounces {
    unsigned count;
    char first[512]; /* "to: condition (text)" of the first one */
};

/* Start collecting message errors into b (b must outlive the session). */
void xu_bounces_watch(struct xu_session *s, struct xu_bounces *b);

/* The condition and text of a stanza error, sanitised, into buf. */
void xu_stanza_error_text(xmpp_stanza_t *stanza, char *buf, size_t len);

/* Read all of fd up to max bytes; 0, or XU_EX_DATAERR when larger, or
 * XU_EX_IOERR. *out is NUL-terminated (caller frees). */
int xu_read_all(int fd, size_t max, char **out, size_t *len, struct xu_error *err);

/* Clean text for sending and warn once about what was changed. what names
 * the text for the warning ("message body"). Caller frees. */
char *xu_clean_for_xml(const char *in, size_t len, const char *what, size_t *outlen);

#endif

/* Answering what every well-behaved XMPP entity answers, for the tools that
 * stay online (xmpp-listen, xmpp-bind): XEP-0199 ping, XEP-0030 disco#info
 * (one identity and the features implemented), XEP-0092 software version
 * (name and version, never the operating system). Every other iq get/set
 * gets service-unavailable; an iq result or error is never answered. */
#ifndef XU_RESPONDER_H
#define XU_RESPONDER_H

#include <strophe.h>

#include "xmpp/session.h"

#define XU_NS_PING "urn:xmpp:ping"
#define XU_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define XU_NS_VERSION "jabber:iq:version"

struct xu_responder {
    const char *name;      /* software name (XEP-0092) and identity name, e.g. "xmpp-listen" */
    const char *version;   /* software version, e.g. XU_VERSION */
    const char *category;  /* disco identity category; NULL: "client" */
    const char *type;      /* disco identity type; NULL: "bot" */
    const char *const *features; /* extra disco features, NULL-terminated, or NULL */
    /* Called first for every iq get/set: return 1 to answer it yourself
     * (the responder then leaves it alone). NULL: the responder answers all. */
    int (*claim)(xmpp_stanza_t *iq, void *ud);
    void *claim_ud;
    unsigned long answered; /* requests answered with a result */
    unsigned long refused;  /* requests answered with an error */
    struct xu_session *session; /* set by xu_responder_install */
};

/* Answer iq requests on this session until it is freed. r must outlive the
 * session; install again on each new session. */
void xu_responder_install(struct xu_session *s, struct xu_responder *r);

#endif

/* JID syntax checks ([node@]domain[/resource], RFC 7622 length limits). */
#ifndef XU_JID_H
#define XU_JID_H

#include <stddef.h>

/* 0 if jid is well formed, else -1 and a reason in why. need_node: the
 * JID must have a node part (an account). */
int xu_jid_check(const char *jid, int need_node, char *why, size_t whylen);

/* The domain part into buf; returns buf or NULL when it does not fit. */
char *xu_jid_domain(const char *jid, char *buf, size_t len);

/* 1 if a and b name the same bare JID (case-insensitive on node and domain). */
int xu_jid_bare_equal(const char *a, const char *b);

#endif

/* JID syntax checks ([node@]domain[/resource], RFC 7622 length limits). */
#ifndef XU_JID_H
#define XU_JID_H

#include <stddef.h>

/* 0 if jid is well formed, else -1 and a reason in why. need_node: the
 * JID must have a node part (an account). */
int xu_jid_check(const char *jid, int need_node, char *why, size_t whylen);

/* Prepare a JID the way XMPP servers compare them, so that one JID has
 * one spelling everywhere (-j, --from, recipients, rooms): the checks of
 * xu_jid_check (control characters such as LF refused), a final dot of the
 * domain removed (RFC 7622 3.2), the node, domain and resource folded with
 * the XMPP stringprep profiles (nodeprep, nameprep, resourceprep: case
 * folding and Unicode normalisation, as Prosody and ejabberd do). Returns 0
 * with *out (caller frees), or -1 with a reason in why. */
int xu_jid_prep(const char *in, int need_node, char **out, char *why, size_t whylen);

/* A JID operand, or an xmpp: URI (RFC 5122: percent-decoded; xmpp://
 * authority forms are refused), prepared as by xu_jid_prep. query (may be
 * NULL) gets the URI's query without the '?' (e.g. "join"), or NULL;
 * without query a '?' is an error. Caller frees both. */
int xu_jid_from_arg(const char *arg, int need_node, char **out, char **query, char *why,
                    size_t whylen);

/* The domain part into buf; returns buf or NULL when it does not fit. */
char *xu_jid_domain(const char *jid, char *buf, size_t len);

/* 1 if a and b name the same bare JID (case-insensitive on node and domain). */
int xu_jid_bare_equal(const char *a, const char *b);

#endif

/* Writing stanzas to stdout: one stanza per line, flushed per stanza. */
#ifndef XU_STANZA_OUT_H
#define XU_STANZA_OUT_H

#include <stdio.h>
#include <strophe.h>

#include "base/error.h"

/* The stanza as one line of XML with its namespace (jabber:client when it
 * has none), newlines and carriage returns written as &#10; / &#13; (and
 * tabs in attribute values as &#9;) so that
 * one line is one stanza and the line can be fed back to xmpp-send --xml.
 * Caller frees. */
char *xu_stanza_xml_line(xmpp_stanza_t *stanza);

/* Send the stanza as libstrophe's xmpp_send() does, but serialised as
 * above (without adding a namespace): libstrophe writes LF, CR and TAB in
 * attribute values and CR in text raw, and the server normalises them
 * (LF in an id arrives as a space, CR in a body as LF). Written as
 * character references they arrive as sent; the trace shows one stanza
 * per line. */
void xu_send_faithful(xmpp_conn_t *conn, xmpp_stanza_t *stanza);

/* Write the line and flush. Returns 0, or XU_EX_IOERR (err set) when the
 * reader went away (EPIPE) or the write failed; *closed is set on EPIPE so
 * the caller can end quietly. */
int xu_write_stanza_xml(FILE *fp, xmpp_stanza_t *stanza, int *closed, struct xu_error *err);

/* Building stanzas: a child element NAME (namespace NS, or none) added to
 * parent, owned by it (NULL when out of memory); a child NAME holding the
 * text (escaped by libstrophe). */
xmpp_stanza_t *xu_stanza_add_el(xmpp_stanza_t *parent, const char *name, const char *ns);
void xu_stanza_add_text_el(xmpp_stanza_t *parent, const char *name, const char *text);

/* Write a line of text and flush, with the same error handling. */
int xu_write_line(FILE *fp, const char *line, int *closed, struct xu_error *err);

#endif

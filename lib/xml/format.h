/* Incoming stanzas as lines of output: one stanza, one line, in one of
 *   xml   the stanza itself (xu_stanza_xml_line: namespace written in,
 *         newlines as &#10;), ready for xmpp-send --xml or xmllint
 *   json  a JSON object (JSON Lines) with kind, type, from, to, id, body,
 *         subject, thread, delay, received, show, status, error, xml
 *   text  "TIME FROM: BODY" for people, control characters made harmless
 *   body  the message body alone, with \ and newlines escaped as \\, \n, \r
 */
#ifndef XU_FORMAT_H
#define XU_FORMAT_H

#include <strophe.h>

enum xu_format { XU_FORMAT_XML, XU_FORMAT_JSON, XU_FORMAT_TEXT, XU_FORMAT_BODY };

/* "xml", "json", "text", "body"; -1 if unknown. */
int xu_format_parse(const char *name, enum xu_format *out);

/* The line for the stanza, without the newline (caller frees), received at
 * `received` (seconds since the epoch, with fraction). NULL when the stanza
 * has nothing to show in this format (no body for XU_FORMAT_BODY) or when
 * out of memory. */
char *xu_format_line(xmpp_stanza_t *stanza, enum xu_format fmt, double received);

/* The same with where the stanza came from (xmpp-listen's catch-up): json
 * gets "archive" (the archive's JID), "archive_id" (its XEP-0359 id) and
 * "archived" (true: fetched from the archive, false: live); text marks an
 * archived message with "[archive]". xml and body are unchanged (an archived
 * message carries its <delay/> and <stanza-id/> in the stanza itself). */
char *xu_format_line_from(xmpp_stanza_t *stanza, enum xu_format fmt, double received,
                          const char *archive, const char *archive_id, int archived);

/* The XEP-0203 delay stamp of the stanza, or NULL (not copied). */
const char *xu_stanza_delay(xmpp_stanza_t *stanza);

/* ISO 8601 local time with milliseconds and UTC offset,
 * e.g. 2026-11-21T08:15:30.123+01:00; buf of at least 32 bytes. */
void xu_iso8601_local(double t, char *buf, size_t len);

#endif

/* libxml2's parse errors in the suite's words (for stanza_in.c). */
#ifndef XU_XML_ERRORS_H
#define XU_XML_ERRORS_H

#include <stddef.h>

#include <libxml/xmlerror.h>

/* What error e (NULL: unknown) says about the input, as a short phrase
 * for the user; at_eof: the input had ended. */
void xu_xml_error_describe(const xmlError *e, int at_eof, char *out, size_t len);

#endif

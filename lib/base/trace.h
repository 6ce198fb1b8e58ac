/* --trace: the XMPP transcript, "C: " for what we sent, "S: " for what the
 * server sent, "* " for connection events; credentials redacted. */
#ifndef XU_TRACE_H
#define XU_TRACE_H

#include <stdio.h>

#include "base/error.h"

struct xu_trace;

/* path "-" means stderr. Caller closes with xu_trace_close. */
int xu_trace_open(struct xu_trace **t, const char *path, struct xu_error *err);
void xu_trace_close(struct xu_trace *t);

void xu_trace_sent(struct xu_trace *t, const char *data);
void xu_trace_recv(struct xu_trace *t, const char *data);
void xu_trace_info(struct xu_trace *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A copy of data with the contents of <auth>, <response>, <challenge>,
 * <success>, <handshake>, <password> and <digest> replaced by "[redacted]". Caller frees. */
char *xu_trace_redact(const char *data);

#endif

/* Inside the upload engine: what its parts give each other (not for other
 * callers; the public face is send/upload.h).
 *   upload_slot.c    XEP-0363 over the session: the service, its limit, slots
 *   upload_http.c    the PUT with libcurl (loaded with dlopen)
 *   upload_source.c  files and standard input as sources; their type (libmagic)
 *   upload.c         the one loop: log in, discover, check, slots, PUTs */
#ifndef XU_UPLOAD_INT_H
#define XU_UPLOAD_INT_H

#include <stddef.h>

#include "base/error.h"
#include "base/opts.h"
#include "send/upload.h"
#include "xmpp/session.h"

struct xu_upload_service {
    char *jid;                   /* the service's address (caller frees with free()) */
    unsigned long long max_size; /* its max-file-size; 0: none announced */
};

/* Find the upload service among the server's disco#items (or the server
 * itself), within the absolute time until. XU_EX_UNAVAILABLE when there is
 * none. */
int xu_upload_discover(struct xu_session *s, double until, struct xu_upload_service *svc,
                       struct xu_error *err);
void xu_upload_service_free(struct xu_upload_service *svc);

/* A slot: where to PUT, where the file will be, and the headers to send. */
struct xu_upload_slot {
    char *put, *get;
    char *headers[3]; /* "Name: value", the ones XEP-0363 allows */
    int nheaders;
};

/* Ask svc for a slot for src (its name, size and type), before until. A
 * refusal has the exit code documented in xmpp-send(1). */
int xu_upload_request_slot(struct xu_session *s, const struct xu_upload_service *svc,
                           const struct xu_upload_src *src, double until,
                           struct xu_upload_slot *sl, struct xu_error *err);
void xu_upload_slot_free(struct xu_upload_slot *sl);

/* PUT exactly src->size bytes of src->fd to the slot, TLS as opts say, all
 * before until (0: none; then a PUT that moves nothing for 60 s fails).
 * progress: a progress line on stderr. */
int xu_upload_put(const struct xu_opts *opts, const struct xu_upload_slot *sl,
                  const struct xu_upload_src *src, double until, int progress,
                  struct xu_error *err);

/* "N bytes", with KiB, MiB or GiB beside it when large: for messages. */
void xu_upload_human(unsigned long long n, char *buf, size_t len);

/* dlsym into a function pointer (fp: its address): 1 when found. */
int xu_upload_dlsym(void *handle, const char *name, void *fp);

#endif

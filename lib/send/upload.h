/* Sharing files through the server's HTTP upload service (XEP-0363):
 * discovery of the service and its size limit, slot requests, and the PUT
 * itself with libcurl, streamed from a file descriptor, TLS verified with
 * the same policy as the XMPP connection. The content type comes from the
 * file's content (libmagic).
 *
 * Layers, so that a wrapper (e.g. one that encrypts the file first) can
 * feed its own stream: xu_upload_discover + xu_upload_one work on an open
 * session and any readable fd of known size; xu_upload_files is what
 * xmpp-send --file does (its own session, every file checked against the
 * limit before anything is uploaded). */
#ifndef XU_UPLOAD_H
#define XU_UPLOAD_H

#include <stddef.h>

#include "base/error.h"
#include "base/opts.h"
#include "xmpp/session.h"

#define XU_NS_HTTP_UPLOAD "urn:xmpp:http:upload:0"
#define XU_NS_OOB "jabber:x:oob"

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

/* One upload on an open session: slot, then PUT (the session stays open).
 * fd is read from its current position, exactly size bytes
 * (fewer, or more left after them, is an error: the source changed). name
 * is the file name to announce (clean UTF-8, no '/'), type a MIME type.
 * progress: show progress on stderr (the caller decides: a terminal and not
 * --quiet). label: what the progress line and messages call the file.
 * On success *get_url is the URL to share (caller frees). */
struct xu_upload_src {
    int fd;
    unsigned long long size;
    const char *name;
    const char *type;
    const char *label;
};

int xu_upload_one(struct xu_session *s, const struct xu_upload_service *svc,
                  const struct xu_upload_src *src, double until, int progress, char **get_url,
                  struct xu_error *err);

/* The MIME type of the data at the start of fd (read with pread, so the
 * position is unchanged), from its content: into buf. Never fails: data
 * libmagic cannot classify is application/octet-stream. */
void xu_upload_content_type(int fd, char *buf, size_t len);

/* What xmpp-send --file does for each file. */
struct xu_upload_file {
    const char *path;  /* "-": standard input (spooled to an unlinked temp file if not a file) */
    const char *name;  /* NULL: the path's last component */
    const char *type;  /* NULL: from the content */
    char *get_url;     /* set on success (caller frees) */
};

/* Open every file (a pipe on standard input is spooled first), log in
 * (opts), discover the service, check every file against its limit
 * (XU_EX_DATAERR, nothing uploaded, when one is larger), request a slot for
 * each, close the session, then PUT them one after another, all before the
 * absolute time until (0: none; then a PUT that moves nothing for 60 s
 * fails). progress: a progress line on stderr during each PUT. */
int xu_upload_files(const struct xu_opts *opts, struct xu_upload_file *files, int n, double until,
                    int progress, struct xu_error *err);

#endif

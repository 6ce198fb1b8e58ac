/* Sharing files through the server's HTTP upload service (XEP-0363):
 * discovery of the service and its size limit, slot requests, and the PUT
 * itself with libcurl, streamed from a file descriptor, TLS verified with
 * the same policy as the XMPP connection. The content type comes from the
 * file's content (libmagic).
 *
 * One engine, xu_upload_sources, uploads sources that are already open (a
 * file, standard input spooled to a temp file, an encrypted copy: any fd of
 * known size, with the name and type to announce). xu_upload_files is what
 * xmpp-send --file does: it opens the files and hands them to the engine;
 * lib/send/omemo_file.c encrypts them first and does the same. The engine's
 * parts are in send/upload_int.h. */
#ifndef XU_UPLOAD_H
#define XU_UPLOAD_H

#include <stddef.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/opts.h"
#include "xmpp/session.h"

#define XU_NS_HTTP_UPLOAD "urn:xmpp:http:upload:0"
#define XU_NS_OOB "jabber:x:oob"

/* One source: fd is read from its current position, exactly size bytes
 * (fewer, or more left after them, is an error: the source changed). name
 * is the file name to announce (clean UTF-8, no '/'), type a MIME type
 * (NULL: none announced), label what the progress line and messages call
 * it. encrypted: size is the ciphertext's (messages say so), and the
 * download URL, which will carry the key, must be https:// without a
 * fragment. The owner opens and closes fd. */
struct xu_upload_src {
    int fd;
    unsigned long long size;
    const char *name;
    const char *type;
    const char *label;
    int encrypted;
};

/* The upload engine: log in (opts), discover the service, check every
 * source against its limit (XU_EX_DATAERR, nothing uploaded, when one is
 * larger), request a slot for each, close the session, then PUT them one
 * after another, all before the absolute time until (0: none; then a PUT
 * that moves nothing for 60 s fails). progress: a progress line on stderr
 * during each PUT (the caller decides: a terminal and not --quiet). On
 * success get_urls[i] is the URL of src[i] (caller frees); on failure they
 * are all NULL. */
int xu_upload_sources(const struct xu_opts *opts, const struct xu_upload_src *src, int n,
                      double until, int progress, char **get_urls, struct xu_error *err);

/* An unlinked 0600 temp file in $TMPDIR (or /tmp), open for reading and
 * writing, into *fd. */
int xu_upload_temp_file(int *fd, struct xu_error *err);

/* Open path for reading ("-": standard input, fd 0, not to be closed), with
 * label (len bytes) set to what messages call it; *st is its fstat. A
 * directory is refused (XU_EX_DATAERR). On failure nothing is left open. */
int xu_upload_open_input(const char *path, char *label, size_t len, int *fd, struct stat *st,
                         struct xu_error *err);

/* What xmpp-send --file does for each file. */
struct xu_upload_file {
    const char *path;  /* "-": standard input (spooled to an unlinked temp file if not a file) */
    const char *name;  /* NULL: the path's last component */
    const char *type;  /* NULL: from the content */
    char *get_url;     /* set on success (caller frees) */
};

/* A way of turning files into sources: plain (upload_source.c) or
 * encrypted (send/omemo_file.c). Each file has a state of `size` bytes that
 * starts with its struct xu_upload_src (fd -1 until opened). */
struct xu_upload_kind {
    size_t size;
    /* Open (read, encrypt…) f into state, before logging in. */
    int (*open)(const struct xu_upload_file *f, void *state, double until, struct xu_error *err);
    /* The URL to share from the download URL (caller frees; NULL: out of
     * memory); NULL: the download URL itself. */
    char *(*url)(void *state, const char *get_url);
    /* Close and wipe state, opened or not. */
    void (*close)(void *state);
};

/* Open every file with kind (all before logging in), upload them with
 * xu_upload_sources, and set each files[i].get_url (all NULL on failure). */
int xu_upload_files_as(const struct xu_upload_kind *kind, const struct xu_opts *opts,
                       struct xu_upload_file *files, int n, double until, int progress,
                       struct xu_error *err);

/* xmpp-send --file: every file (a pipe on standard input is spooled first)
 * with its name and type from the file, its content or the options. */
int xu_upload_files(const struct xu_opts *opts, struct xu_upload_file *files, int n, double until,
                    int progress, struct xu_error *err);

#endif

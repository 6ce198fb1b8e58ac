/* xmpp-send --omemo --file: files shared the way OMEMO clients share them
 * (XEP-0454, as Conversations does). Each file is encrypted with
 * AES-256-GCM (a random 32-byte key and 12-byte IV per file, the 16-byte
 * tag appended to the ciphertext) into an unlinked 0600 temp file, streamed
 * in chunks; the ciphertext is uploaded (send/upload.h's engine) under a random name
 * as application/octet-stream, and the URL to send (inside the OMEMO
 * message only) is aesgcm://HOST/PATH#<24 hex iv><64 hex key>. */
#ifndef XU_OMEMO_FILE_H
#define XU_OMEMO_FILE_H

#include <stddef.h>

#include "base/error.h"
#include "base/opts.h"
#include "send/upload.h"

/* Encrypt one stream: read in until its end, write the ciphertext plus the
 * tag to out. key: 32 bytes, iv: 12 bytes. *size: the bytes written. A
 * source still not at its end at the absolute time until (0: none) fails
 * with XU_EX_TEMPFAIL. */
int xu_omemo_file_encrypt(int in, int out, const unsigned char *key, const unsigned char *iv,
                          double until, unsigned long long *size, const char *label,
                          struct xu_error *err);

/* "aesgcm://" + get_url without its "https://" + "#" + hex iv + hex key
 * (caller frees); NULL when get_url is not an https URL without fragment. */
char *xu_omemo_file_url(const char *get_url, const unsigned char *iv, const unsigned char *key);

/* Like xu_upload_files, with every file encrypted first (every file is
 * read before logging in; every size is checked against the service's
 * limit before anything is uploaded). files[i].name and .type are not
 * announced (the server sees a random name, the size and the time). On
 * success files[i].get_url is the aesgcm:// URL. */
int xu_omemo_upload_files(const struct xu_opts *opts, struct xu_upload_file *files, int n,
                          double until, int progress, struct xu_error *err);

#endif

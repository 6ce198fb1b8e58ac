/* The upload engine (see upload.h): one loop for every source, plain or
 * encrypted. Its parts: upload_slot.c (XEP-0363), upload_http.c (the PUT),
 * upload_source.c (files as sources). */
#include <stdlib.h>
#include <string.h>

#include "base/msg.h"
#include "send/upload_int.h"

static int too_large(const struct xu_upload_src *src, const struct xu_upload_service *svc,
                     struct xu_error *err)
{
    char size[64], limit[64];

    if (src->encrypted)
        return xu_error_set(err, XU_EX_DATAERR,
                            "%s is %llu bytes encrypted, larger than the %s limit of %llu bytes: "
                            "nothing was uploaded", src->label, src->size, svc->jid, svc->max_size);
    xu_upload_human(src->size, size, sizeof size);
    xu_upload_human(svc->max_size, limit, sizeof limit);
    return xu_error_set(err, XU_EX_DATAERR,
                        "%s is %s, larger than the %s limit of %s: nothing was uploaded",
                        src->label, size, svc->jid, limit);
}

/* An encrypted file's URL carries its key in the fragment (XEP-0454): the
 * download URL must be https:// and have none of its own. */
static int shareable(const struct xu_upload_src *src, const struct xu_upload_slot *sl,
                     struct xu_error *err)
{
    if (!src->encrypted || (strncmp(sl->get, "https://", 8) == 0 && !strchr(sl->get, '#')))
        return 0;
    return xu_error_set(err, XU_EX_PROTOCOL,
                        "the upload service gave a download URL that is not https:// "
                        "(or has a fragment): it cannot be shared encrypted");
}

int xu_upload_sources(const struct xu_opts *opts, const struct xu_upload_src *src, int n,
                      double until, int progress, char **get_urls, struct xu_error *err)
{
    struct xu_upload_slot *slots = calloc((size_t)(n > 0 ? n : 1), sizeof *slots);
    struct xu_upload_service svc = {NULL, 0};
    struct xu_session s;
    int rc = 0, i;

    for (i = 0; i < n; i++)
        get_urls[i] = NULL;
    if (!slots)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    memset(&s, 0, sizeof s);
    s.sock = -1;
    rc = xu_session_open(&s, opts, until, err);
    if (rc == 0)
        rc = xu_upload_discover(&s, until, &svc, err);
    /* the limit is checked for all of them before the first byte goes out */
    for (i = 0; i < n && rc == 0 && svc.max_size; i++)
        if (src[i].size > svc.max_size)
            rc = too_large(&src[i], &svc, err);
    /* Every slot first: a refusal (quota, type) comes before any upload, and
     * the session is closed before the PUTs (nothing to keep alive while a
     * large file goes up; its memory is free for curl's). */
    for (i = 0; i < n && rc == 0; i++) {
        rc = xu_upload_request_slot(&s, &svc, &src[i], until, &slots[i], err);
        if (rc == 0)
            rc = shareable(&src[i], &slots[i], err);
    }
    if (s.ready)
        xu_session_close(&s);
    xu_session_free(&s);
    for (i = 0; i < n && rc == 0; i++) {
        xu_info("uploading %s (%llu bytes, %s) to %s", src[i].label, src[i].size,
                src[i].type ? src[i].type : "no type", svc.jid);
        rc = xu_upload_put(opts, &slots[i], &src[i], until, progress, err);
        if (rc == 0) {
            get_urls[i] = slots[i].get;
            slots[i].get = NULL;
        }
    }
    for (i = 0; i < n; i++) {
        xu_upload_slot_free(&slots[i]);
        if (rc) {
            free(get_urls[i]);
            get_urls[i] = NULL;
        }
    }
    free(slots);
    xu_upload_service_free(&svc);
    return rc;
}

int xu_upload_files_as(const struct xu_upload_kind *kind, const struct xu_opts *opts,
                       struct xu_upload_file *files, int n, double until, int progress,
                       struct xu_error *err)
{
    size_t count = (size_t)(n > 0 ? n : 1);
    char *state = calloc(count, kind->size), **urls = calloc(count, sizeof *urls);
    struct xu_upload_src *src = calloc(count, sizeof *src);
    int rc = 0, i;

    if (!state || !src || !urls) {
        free(state);
        free(src);
        free(urls);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    for (i = 0; i < n; i++)
        ((struct xu_upload_src *)(state + (size_t)i * kind->size))->fd = -1;
    /* every file is open (readable, named, encrypted) before we log in */
    for (i = 0; i < n && rc == 0; i++) {
        rc = kind->open(&files[i], state + (size_t)i * kind->size, until, err);
        src[i] = *(struct xu_upload_src *)(state + (size_t)i * kind->size);
    }
    if (rc == 0)
        rc = xu_upload_sources(opts, src, n, until, progress, urls, err);
    for (i = 0; i < n && rc == 0; i++) {
        files[i].get_url = kind->url ? kind->url(state + (size_t)i * kind->size, urls[i]) : urls[i];
        if (kind->url)
            free(urls[i]);
        urls[i] = NULL;
        if (!files[i].get_url)
            rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    for (i = 0; i < n; i++) {
        kind->close(state + (size_t)i * kind->size);
        free(urls[i]);
        if (rc) {
            free(files[i].get_url);
            files[i].get_url = NULL;
        }
    }
    free(state);
    free(src);
    free(urls);
    return rc;
}

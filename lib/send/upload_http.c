/* The PUT of an upload slot with libcurl: the file streamed from its fd,
 * TLS verified as for the XMPP connection (system store plus
 * --tls-trust-file, or the loud --tls-insecure), a progress line, and
 * curl's and the server's failures as exit codes. libcurl is loaded with
 * dlopen the first time a file is shared (see load_curl). */
#include <curl/curl.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/msg.h"
#include "send/upload_int.h"

#define STALL_SECONDS 60L     /* with --timeout 0: a PUT that moves no byte for this long */
#define PROGRESS_EVERY 0.25   /* seconds between progress lines */
#define EXPECT_WAIT_MS 100L   /* for a "100 Continue" that may not come */
#define EXPECT_ABOVE (1024ull * 1024) /* smaller bodies go with the headers */
/* TLS records of the PUT, in plaintext bytes. Prosody (net.server_epoll)
 * reads 8 KiB per turn; with OpenSSL's 16 KiB records half of each stays
 * buffered in LuaSec and is read only after a timer turn, and once the
 * records are out of step with its reads every read leaves a rest. 8 KiB
 * records, with the headers sent alone (Expect), keep them in step: a
 * 50 MB upload took 2-5 s instead of 10-16 s on the loaded test machine
 * (bench/upload). Other servers lose nothing measurable (29 bytes per
 * record). */
#define TLS_RECORD 8192u
#define UPLOAD_BUFFER 65536L  /* curl's read size from the file (its default) */

/* ---- libcurl, loaded when a file is shared ----
 *
 * Linked normally they (and the ~30 libraries libcurl pulls in) would be
 * mapped and relocated by every run of every tool: a plain text send went
 * from 7.4 to 12.2 MB peak RSS. So they are opened with dlopen() the first
 * time they are needed, by their Debian runtime names (libcurl4, the
 * OpenSSL flavour: the SSL_CTX callback below needs it; libmagic1, in
 * upload_source.c). */
#undef curl_easy_setopt
#undef curl_easy_getinfo

static struct {
    void *handle;
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
    __typeof__(curl_version_info) *version_info;
} C;

int xu_upload_dlsym(void *h, const char *name, void *fp)
{
    void *p = dlsym(h, name);

    memcpy(fp, &p, sizeof p); /* object to function pointer, the POSIX way */
    return p != NULL;
}

static int load_curl(struct xu_error *err)
{
    const curl_version_info_data *v;
    int ok;

    if (C.handle)
        return 0;
    C.handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!C.handle)
        return xu_error_set(err, XU_EX_UNAVAILABLE,
                            "cannot share files: libcurl is not installed (Debian: libcurl4): %s",
                            dlerror());
    ok = xu_upload_dlsym(C.handle, "curl_global_init", &C.global_init) &
         xu_upload_dlsym(C.handle, "curl_easy_init", &C.easy_init) &
         xu_upload_dlsym(C.handle, "curl_easy_setopt", &C.easy_setopt) &
         xu_upload_dlsym(C.handle, "curl_easy_perform", &C.easy_perform) &
         xu_upload_dlsym(C.handle, "curl_easy_getinfo", &C.easy_getinfo) &
         xu_upload_dlsym(C.handle, "curl_easy_cleanup", &C.easy_cleanup) &
         xu_upload_dlsym(C.handle, "curl_easy_strerror", &C.easy_strerror) &
         xu_upload_dlsym(C.handle, "curl_slist_append", &C.slist_append) &
         xu_upload_dlsym(C.handle, "curl_slist_free_all", &C.slist_free_all) &
         xu_upload_dlsym(C.handle, "curl_version_info", &C.version_info);
    v = ok ? C.version_info(CURLVERSION_NOW) : NULL;
    if (!v || v->version_num < 0x075500 || !v->ssl_version ||
        strncmp(v->ssl_version, "OpenSSL", 7) != 0) {
        dlclose(C.handle);
        C.handle = NULL;
        return xu_error_set(err, XU_EX_UNAVAILABLE,
                            "cannot share files: libcurl.so.4 is not libcurl 7.85 or later built "
                            "with OpenSSL (Debian: libcurl4)");
    }
    if (C.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        dlclose(C.handle);
        C.handle = NULL;
        return xu_error_set(err, XU_EX_SOFTWARE, "cannot initialise libcurl");
    }
    return 0;
}

#define curl_easy_init C.easy_init
#define curl_easy_setopt C.easy_setopt
#define curl_easy_perform C.easy_perform
#define curl_easy_getinfo C.easy_getinfo
#define curl_easy_cleanup C.easy_cleanup
#define curl_easy_strerror C.easy_strerror
#define curl_slist_append C.slist_append
#define curl_slist_free_all C.slist_free_all

/* A security warning: shown even with --quiet (nothing silences it). */
static void loud(const char *what)
{
    fprintf(stderr, "%s: WARNING: %s\n", xu_progname, what);
}

/* ---- the PUT ---- */

struct put {
    int fd;
    unsigned long long size, left;
    int shrank, read_errno, trust_failed;
    const char *trust_file;
    unsigned fragment;  /* TLS record size, 0: OpenSSL's (16 KiB) */
    int progress;
    double start, last;
    const char *label;
    int shown;
    char reply[200]; /* the start of the server's answer, for messages */
    size_t replylen;
};

static size_t read_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct put *p = ud;
    size_t want = size * n;
    ssize_t r;

    if (want > p->left)
        want = (size_t)p->left;
    if (want == 0)
        return 0;
    do
        r = read(p->fd, buf, want);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        p->read_errno = errno;
        return CURL_READFUNC_ABORT;
    }
    if (r == 0) {
        p->shrank = 1;
        return CURL_READFUNC_ABORT;
    }
    p->left -= (unsigned long long)r;
    return (size_t)r;
}

static size_t write_cb(char *data, size_t size, size_t n, void *ud)
{
    struct put *p = ud;
    size_t len = size * n, room = sizeof p->reply - 1 - p->replylen;

    if (room > len)
        room = len;
    memcpy(p->reply + p->replylen, data, room);
    p->replylen += room;
    p->reply[p->replylen] = '\0';
    return len;
}

static void show_progress(struct put *p, unsigned long long sent, int last)
{
    double now = xu_now(), secs = now - p->start, rate;
    char name[120];

    if (!last && now - p->last < PROGRESS_EVERY)
        return;
    p->last = now;
    rate = secs > 0 ? (double)sent / secs : 0;
    xu_sanitize_terminal(name, sizeof name, p->label);
    fprintf(stderr, "\r%s: %s: %.1f of %.1f MiB (%3.0f%%), %.1f MiB/s ", xu_progname, name,
            (double)sent / 1048576, (double)p->size / 1048576,
            p->size ? 100.0 * (double)sent / (double)p->size : 100.0, rate / 1048576);
    if (last)
        fputc('\n', stderr);
    fflush(stderr);
    p->shown = 1;
}

static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    show_progress(ud, (unsigned long long)ulnow, 0);
    return 0;
}

/* Trust the --tls-trust-file certificates besides the system store, as the
 * XMPP connection does (curl's CURLOPT_CAINFO would replace the store). */
static CURLcode ssl_ctx_cb(CURL *curl, void *sslctx, void *ud)
{
    struct put *p = ud;
    X509_STORE *store = SSL_CTX_get_cert_store(sslctx);

    (void)curl;
    if (p->fragment)
        SSL_CTX_set_max_send_fragment(sslctx, (long)p->fragment);
    if (p->trust_file && (!store || X509_STORE_load_file(store, p->trust_file) != 1)) {
        p->trust_failed = 1;
        return CURLE_SSL_CACERT_BADFILE;
    }
    return CURLE_OK;
}

/* A directory of c_rehash links (8 hex digits, ".0"). */
static int hashed_dir(const char *dir)
{
    struct dirent *de;
    unsigned x;
    char dot[8];
    DIR *d = opendir(dir);

    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL)
        if (strlen(de->d_name) == 10 && sscanf(de->d_name, "%8x%2s", &x, dot) == 2 &&
            strcmp(dot, ".0") == 0)
            break;
    closedir(d);
    return de != NULL;
}

/* The system store as OpenSSL sees it, as for the XMPP connection:
 * $SSL_CERT_FILE if set, else the hashed certificate directory (looked up
 * lazily, for the one CA needed; loading the whole bundle costs ~50 ms and
 * ~1 MB), else curl's built-in bundle. --tls-trust-file comes on top. */
static void system_store(CURL *c)
{
    const char *file = getenv(X509_get_default_cert_file_env());
    const char *dir = getenv(X509_get_default_cert_dir_env());
    char *f, *d, *slash;
    int in_dir = 0;

    if (!dir || !*dir)
        dir = X509_get_default_cert_dir();
    if (file && *file) {
        /* the usual bundle inside that directory holds the same certificates */
        f = realpath(file, NULL);
        d = realpath(dir, NULL);
        if (f && d && (slash = strrchr(f, '/')) != NULL) {
            *slash = '\0';
            in_dir = strcmp(f, d) == 0;
        }
        free(f);
        free(d);
        if (!in_dir) {
            curl_easy_setopt(c, CURLOPT_CAINFO, file);
            return;
        }
    }
    if (hashed_dir(dir)) {
        curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(c, CURLOPT_CAPATH, dir);
    }
}

static int http_status_code(long status)
{
    if (status == 401 || status == 403)
        return XU_EX_NOPERM;
    if (status == 413)
        return XU_EX_DATAERR;
    if (status == 408 || status == 429 || status >= 500)
        return XU_EX_TEMPFAIL;
    return XU_EX_PROTOCOL;
}

static int curl_failed(CURLcode rc, const struct put *p, const char *host, double timeout,
                       const char *errbuf, struct xu_error *err)
{
    char what[300], sent[64], total[64];

    snprintf(what, sizeof what, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    xu_upload_human(p->size - p->left, sent, sizeof sent);
    xu_upload_human(p->size, total, sizeof total);
    if (p->shrank)
        return xu_error_set(err, XU_EX_DATAERR,
                            "%s became shorter while it was being read (%s of %s): not shared",
                            p->label, sent, total);
    if (p->read_errno)
        return xu_error_set(err, XU_EX_IOERR, "cannot read %s: %s", p->label,
                            strerror(p->read_errno));
    if (p->trust_failed)
        return xu_error_set(err, XU_EX_CONFIG, "cannot load the trust file %s for the upload",
                            p->trust_file);
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        return xu_error_set(err, XU_EX_NOPERM,
                            "the upload server %s could not be verified: %s; nothing was uploaded "
                            "(trust its CA with --tls-trust-file)", host, what);
    case CURLE_OPERATION_TIMEDOUT:
        if (timeout > 0)
            return xu_error_set(err, XU_EX_TEMPFAIL,
                                "timed out uploading %s to %s (%s of %s sent): the whole run must end "
                                "within --timeout %g s; give a larger --timeout for large files "
                                "(0: no limit)", p->label, host, sent, total, timeout);
        return xu_error_set(err, XU_EX_TEMPFAIL,
                            "the upload of %s to %s stalled (no progress for %ld s; %s of %s sent)",
                            p->label, host, STALL_SECONDS, sent, total);
    case CURLE_COULDNT_RESOLVE_HOST:
        return xu_error_set(err, XU_EX_NOHOST, "cannot upload to %s: %s", host, what);
    case CURLE_UNSUPPORTED_PROTOCOL:
        return xu_error_set(err, XU_EX_PROTOCOL, "cannot upload to %s: %s", host, what);
    case CURLE_COULDNT_CONNECT:
        return xu_error_set(err, XU_EX_UNAVAILABLE, "cannot upload to %s: %s", host, what);
    case CURLE_SSL_CONNECT_ERROR:
        return xu_error_set(err, XU_EX_PROTOCOL, "TLS with the upload server %s failed: %s", host,
                            what);
    default:
        return xu_error_set(err, XU_EX_TEMPFAIL, "uploading %s to %s failed: %s (%s of %s sent)",
                            p->label, host, what, sent, total);
    }
}

/* The host[:port] part of an URL, for messages. */
static void url_host(const char *url, char *buf, size_t len)
{
    const char *h = strstr(url, "://"), *end;
    char raw[300];
    size_t n;

    h = h ? h + 3 : url;
    end = h + strcspn(h, "/?#");
    n = (size_t)(end - h) < sizeof raw - 1 ? (size_t)(end - h) : sizeof raw - 1;
    memcpy(raw, h, n);
    raw[n] = '\0';
    xu_sanitize_terminal(buf, len, raw);
}

int xu_upload_put(const struct xu_opts *o, const struct xu_upload_slot *sl,
                  const struct xu_upload_src *src, double until, int progress,
                  struct xu_error *err)
{
    struct put p;
    struct curl_slist *hdrs = NULL, *nh;
    char errbuf[CURL_ERROR_SIZE] = "", host[300], ct[300], shown[200], extra;
    const char *protos = o->tls == XU_TLS_OFF ? "http,https" : "https";
    double timeout = 0;
    long status = 0;
    CURLcode crc;
    CURL *c;
    int rc = 0, i;
    ssize_t r;

    if ((rc = load_curl(err)) != 0)
        return rc;
    memset(&p, 0, sizeof p);
    p.fd = src->fd;
    p.size = p.left = src->size;
    p.label = src->label;
    p.progress = progress;
    p.trust_file = o->tls != XU_TLS_OFF && !o->tls_insecure ? o->tls_trust_file : NULL;
    p.fragment = TLS_RECORD;
    url_host(sl->put, host, sizeof host);
    if (until > 0) {
        timeout = until - xu_now();
        if (timeout < 0.001)
            return xu_error_set(err, XU_EX_TEMPFAIL,
                                "no time left to upload %s within --timeout; give a larger --timeout",
                                src->label);
    }
    c = curl_easy_init();
    if (!c)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    snprintf(ct, sizeof ct, "Content-Type: %s", src->type ? src->type : "application/octet-stream");
    nh = curl_slist_append(hdrs, ct);
    for (i = 0; nh && i < sl->nheaders; i++)
        nh = curl_slist_append(hdrs = nh, sl->headers[i]);
    /* "Expect: 100-continue" for bodies over 1 MiB (curl would ask for any
     * PUT): a server that refuses the PUT answers before the body goes out,
     * and the headers reach it alone (see TLS_RECORD). Prosody answers it
     * only for bodies it streams (over 10 MiB): do not wait the default
     * second for the others. */
    if (nh && src->size <= EXPECT_ABOVE)
        nh = curl_slist_append(hdrs = nh, "Expect:");
    if (nh)
        hdrs = nh;
    if (!nh) {
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(c);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    curl_easy_setopt(c, CURLOPT_URL, sl->put);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protos);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protos);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is a failure (status ≥ 300) */
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)src->size);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &p);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &p);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, EXPECT_WAIT_MS);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "xmpputils/" XU_VERSION);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER);
    if (o->tls_insecure && o->tls != XU_TLS_OFF) {
        loud("--tls-insecure: the upload server's certificate is NOT verified; anyone on the "
             "path can read or replace the file");
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        system_store(c);
    }
    curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, &p);
    if (strncasecmp(sl->put, "http://", 7) == 0)
        loud("the upload goes over plain http:// (--tls off): anyone on the path can read or "
             "replace the file");
    if (timeout > 0) {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000) + 1);
    } else {
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(XU_CONNECT_TIMEOUT * 1000));
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
    }
    if (progress) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &p);
    }
    p.start = p.last = xu_now();
    crc = curl_easy_perform(c);
    if (progress)
        show_progress(&p, p.size - p.left, 1);
    if (crc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status >= 300) {
            xu_sanitize_terminal(shown, sizeof shown, p.reply);
            shown[strcspn(shown, "\r\n")] = '\0';
            rc = xu_error_set(err, http_status_code(status),
                              "the upload server %s answered the PUT of %s with HTTP status %ld%s%s%s",
                              host, src->label, status,
                              status >= 300 && status < 400 ? " (redirects are not followed)" : "",
                              shown[0] ? ": " : "", shown);
        } else if (p.left != 0) {
            rc = xu_error_set(err, XU_EX_PROTOCOL, "the upload of %s ended early", src->label);
        } else {
            /* exactly size bytes were sent: anything after them means the
             * file grew while being read, and the upload is not the file */
            do
                r = read(src->fd, &extra, 1);
            while (r < 0 && errno == EINTR);
            if (r > 0)
                rc = xu_error_set(err, XU_EX_DATAERR,
                                  "%s grew while it was being read (more than %llu bytes): not shared",
                                  src->label, src->size);
        }
    } else {
        rc = curl_failed(crc, &p, host, timeout > 0 ? o->timeout : 0, errbuf, err);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

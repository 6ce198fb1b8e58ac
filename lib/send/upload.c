#include "send/upload.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <poll.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dlfcn.h>

#include "xmpp/iq.h"
#include "base/jid.h"
#include "xmpp/message.h"
#include "base/msg.h"
#include "base/text.h"

#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DATA "jabber:x:data"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define IQ_WAIT 60.0          /* with --timeout 0: an iq answer that does not come */
#define STALL_SECONDS 60L     /* with --timeout 0: a PUT that moves no byte for this long */
#define MAX_URL 4096
#define MAX_ITEMS 32          /* disco#items looked at, at most */
#define MAGIC_BYTES 65536     /* read for the content type */
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

static double iq_until(double until)
{
    return until > 0 ? until : xu_now() + IQ_WAIT;
}

/* ---- libcurl and libmagic, loaded when a file is shared ----
 *
 * Linked normally they (and the ~30 libraries libcurl pulls in) would be
 * mapped and relocated by every run of every tool: a plain text send went
 * from 7.4 to 12.2 MB peak RSS. So they are opened with dlopen() the first
 * time they are needed, by their Debian runtime names (libcurl4, the
 * OpenSSL flavour: the SSL_CTX callback below needs it; libmagic1). */
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

static struct {
    void *handle;
    int tried;
    __typeof__(magic_open) *open;
    __typeof__(magic_load) *load;
    __typeof__(magic_buffer) *buffer;
    __typeof__(magic_close) *close;
} M;

static int sym(void *h, const char *name, void *fp)
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
    ok = sym(C.handle, "curl_global_init", &C.global_init) &
         sym(C.handle, "curl_easy_init", &C.easy_init) &
         sym(C.handle, "curl_easy_setopt", &C.easy_setopt) &
         sym(C.handle, "curl_easy_perform", &C.easy_perform) &
         sym(C.handle, "curl_easy_getinfo", &C.easy_getinfo) &
         sym(C.handle, "curl_easy_cleanup", &C.easy_cleanup) &
         sym(C.handle, "curl_easy_strerror", &C.easy_strerror) &
         sym(C.handle, "curl_slist_append", &C.slist_append) &
         sym(C.handle, "curl_slist_free_all", &C.slist_free_all) &
         sym(C.handle, "curl_version_info", &C.version_info);
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

/* 0 when libmagic is there; without it the type is application/octet-stream. */
static int load_magic(void)
{
    if (!M.tried) {
        M.tried = 1;
        M.handle = dlopen("libmagic.so.1", RTLD_NOW | RTLD_LOCAL);
        if (M.handle && !(sym(M.handle, "magic_open", &M.open) & sym(M.handle, "magic_load", &M.load) &
                          sym(M.handle, "magic_buffer", &M.buffer) &
                          sym(M.handle, "magic_close", &M.close))) {
            dlclose(M.handle);
            M.handle = NULL;
        }
        if (!M.handle)
            xu_info("libmagic is not available: files are announced as application/octet-stream "
                    "unless --file-type says otherwise");
    }
    return M.handle ? 0 : -1;
}

#define curl_easy_init C.easy_init
#define curl_easy_setopt C.easy_setopt
#define curl_easy_perform C.easy_perform
#define curl_easy_getinfo C.easy_getinfo
#define curl_easy_cleanup C.easy_cleanup
#define curl_easy_strerror C.easy_strerror
#define curl_slist_append C.slist_append
#define curl_slist_free_all C.slist_free_all
#define magic_open M.open
#define magic_load M.load
#define magic_buffer M.buffer
#define magic_close M.close

/* A security warning: shown even with --quiet (nothing silences it). */
static void loud(const char *what)
{
    fprintf(stderr, "%s: WARNING: %s\n", xu_progname, what);
}

/* ---- iq round trips ---- */

struct answer {
    const char *to, *own_jid;
    xmpp_stanza_t *reply;
};

static int on_answer(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct answer *a = ud;
    const char *type = xmpp_stanza_get_type(st), *name = xmpp_stanza_get_name(st);

    (void)conn;
    if (!name || strcmp(name, "iq") != 0 || !type ||
        (strcmp(type, "result") != 0 && strcmp(type, "error") != 0) ||
        !xu_iq_from_matches(a->to, xmpp_stanza_get_from(st), a->own_jid))
        return 1;
    a->reply = xmpp_stanza_clone(st);
    return 0;
}

/* Send iq and wait for its answer, as xu_iq_request does, but without its
 * idle second per request: xu_session_step(s, w, -1, …) on a ready session
 * sleeps w even when the answer was read in the same turn (a loopback
 * server answers that fast), and discovery plus a slot are 4-6 requests.
 * Here the loop runs libstrophe without waiting and sleeps in poll() on the
 * socket itself, at most 50 ms at a time (OpenSSL may hold a record that
 * poll() does not see). */
static int iq_ask(struct xu_session *s, xmpp_stanza_t *iq, double until, xmpp_stanza_t **reply,
                  struct xu_error *err)
{
    struct answer a = {xmpp_stanza_get_to(iq), s->bound_jid, NULL};
    const char *id = xmpp_stanza_get_id(iq);
    struct pollfd p;
    char shown[300];
    double now, w;
    int rc = 0;

    *reply = NULL;
    xmpp_id_handler_add(s->conn, on_answer, id, &a);
    xu_session_send(s, iq);
    for (;;) {
        rc = xu_session_step(s, 0, -1, NULL);
        if (rc) {
            rc = xu_error_set(err, rc, "%s", s->err.msg);
            break;
        }
        if (a.reply)
            break;
        now = xu_now();
        if (now >= until) {
            xu_sanitize_terminal(shown, sizeof shown, a.to ? a.to : "the server");
            rc = xu_error_set(err, XU_EX_TEMPFAIL, "no answer from %s to our request", shown);
            break;
        }
        w = until - now < 0.05 ? until - now : 0.05;
        p.fd = s->sock;
        p.events = POLLIN;
        if (s->sock >= 0)
            poll(&p, 1, (int)(w * 1000) + 1);
    }
    if (!a.reply)
        xmpp_id_handler_delete(s->conn, on_answer, id);
    *reply = a.reply;
    return rc;
}

static xmpp_stanza_t *new_iq(struct xu_session *s, const char *to, const char *child,
                             const char *ns)
{
    xmpp_stanza_t *iq = xmpp_iq_new(s->ctx, "get", NULL), *q = xmpp_stanza_new(s->ctx);
    char *id = xu_session_new_id(s);

    if (!iq || !q || !id) {
        if (iq)
            xmpp_stanza_release(iq);
        if (q)
            xmpp_stanza_release(q);
        free(id);
        return NULL;
    }
    xmpp_stanza_set_id(iq, id);
    free(id);
    xmpp_stanza_set_to(iq, to);
    xmpp_stanza_set_name(q, child);
    xmpp_stanza_set_ns(q, ns);
    xmpp_stanza_add_child(iq, q);
    xmpp_stanza_release(q);
    return iq;
}

static int is_tag(xmpp_stanza_t *c, const char *name)
{
    return xmpp_stanza_is_tag(c) && xmpp_stanza_get_name(c) &&
           strcmp(xmpp_stanza_get_name(c), name) == 0;
}

static int is_result(xmpp_stanza_t *reply)
{
    const char *t = xmpp_stanza_get_type(reply);

    return t && strcmp(t, "result") == 0;
}

/* A field's first <value/> text (caller frees with free()), or NULL. */
static char *field_value(xmpp_stanza_t *field)
{
    xmpp_stanza_t *v = xmpp_stanza_get_child_by_name(field, "value");
    char *t = v ? xmpp_stanza_get_text(v) : NULL, *copy;

    if (!t)
        return NULL;
    copy = strdup(t);
    xmpp_free(xmpp_stanza_get_context(field), t);
    return copy;
}

/* disco#info answer: 1 if it has the upload feature; *max from its form. */
static int info_has_upload(xmpp_stanza_t *reply, unsigned long long *max)
{
    xmpp_stanza_t *q = xmpp_stanza_get_child_by_name_and_ns(reply, "query", NS_DISCO_INFO), *c, *f;
    const char *var;
    char *v, *ftype, *end;
    int found = 0, ours;

    *max = 0;
    for (c = q ? xmpp_stanza_get_children(q) : NULL; c; c = xmpp_stanza_get_next(c)) {
        if (is_tag(c, "feature") && (var = xmpp_stanza_get_attribute(c, "var")) &&
            strcmp(var, XU_NS_HTTP_UPLOAD) == 0)
            found = 1;
        if (!is_tag(c, "x") || !xmpp_stanza_get_ns(c) || strcmp(xmpp_stanza_get_ns(c), NS_DATA))
            continue;
        ours = 0;
        v = NULL;
        for (f = xmpp_stanza_get_children(c); f; f = xmpp_stanza_get_next(f)) {
            if (!is_tag(f, "field") || !(var = xmpp_stanza_get_attribute(f, "var")))
                continue;
            if (strcmp(var, "FORM_TYPE") == 0) {
                ftype = field_value(f);
                ours = ftype && strcmp(ftype, XU_NS_HTTP_UPLOAD) == 0;
                free(ftype);
            } else if (strcmp(var, "max-file-size") == 0 && !v) {
                v = field_value(f);
            }
        }
        if (ours && v) {
            errno = 0;
            *max = strtoull(v, &end, 10);
            if (errno || *end || end == v)
                *max = 0;
        }
        free(v);
    }
    return found;
}

/* Ask jid for its disco#info: 1 if it is an upload service. */
static int probe_info(struct xu_session *s, const char *jid, double until,
                      unsigned long long *max, struct xu_error *err)
{
    xmpp_stanza_t *iq = new_iq(s, jid, "query", NS_DISCO_INFO), *reply = NULL;
    int rc, found = 0;

    if (!iq)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = iq_ask(s, iq, iq_until(until), &reply, err);
    xmpp_stanza_release(iq);
    if (rc)
        return -rc;
    if (is_result(reply))
        found = info_has_upload(reply, max);
    xmpp_stanza_release(reply);
    return found;
}

int xu_upload_discover(struct xu_session *s, double until, struct xu_upload_service *svc,
                       struct xu_error *err)
{
    char domain[1024], *items[MAX_ITEMS];
    xmpp_stanza_t *iq, *reply = NULL, *q, *c;
    const char *jid;
    int n = 0, i, rc = 0, r;
    unsigned long long max = 0;

    svc->jid = NULL;
    svc->max_size = 0;
    if (!s->bound_jid || !xu_jid_domain(s->bound_jid, domain, sizeof domain))
        return xu_error_set(err, XU_EX_SOFTWARE, "no bound JID to find the upload service from");
    iq = new_iq(s, domain, "query", NS_DISCO_ITEMS);
    if (!iq)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    rc = iq_ask(s, iq, iq_until(until), &reply, err);
    xmpp_stanza_release(iq);
    if (rc)
        return rc;
    q = is_result(reply) ? xmpp_stanza_get_child_by_name_and_ns(reply, "query", NS_DISCO_ITEMS)
                         : NULL;
    for (c = q ? xmpp_stanza_get_children(q) : NULL; c && n < MAX_ITEMS; c = xmpp_stanza_get_next(c))
        if (is_tag(c, "item") && (jid = xmpp_stanza_get_attribute(c, "jid")) &&
            !xmpp_stanza_get_attribute(c, "node") && (items[n] = strdup(jid)) != NULL)
            n++;
    xmpp_stanza_release(reply);
    /* the items first (Prosody: upload.DOMAIN), then the server itself */
    for (i = 0; i <= n && !svc->jid && rc == 0; i++) {
        r = probe_info(s, i < n ? items[i] : domain, until, &max, err);
        if (r < 0)
            rc = -r;
        else if (r > 0 && !(svc->jid = strdup(i < n ? items[i] : domain)))
            rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
        else if (r > 0)
            svc->max_size = max;
    }
    for (i = 0; i < n; i++)
        free(items[i]);
    if (rc == 0 && !svc->jid)
        rc = xu_error_set(err, XU_EX_UNAVAILABLE,
                          "%s offers no HTTP upload service (XEP-0363, %s): cannot share files there",
                          domain, XU_NS_HTTP_UPLOAD);
    return rc;
}

void xu_upload_service_free(struct xu_upload_service *svc)
{
    free(svc->jid);
    svc->jid = NULL;
}

/* ---- the slot ---- */

struct slot {
    char *put, *get;
    char *headers[3]; /* "Name: value", the ones XEP-0363 allows */
    int nheaders;
};

static void slot_free(struct slot *sl)
{
    int i;

    free(sl->put);
    free(sl->get);
    for (i = 0; i < sl->nheaders; i++)
        free(sl->headers[i]);
    memset(sl, 0, sizeof *sl);
}

static void human(unsigned long long n, char *buf, size_t len)
{
    if (n < 10000)
        snprintf(buf, len, "%llu bytes", n);
    else if (n < 10000ull * 1024)
        snprintf(buf, len, "%llu bytes (%.1f KiB)", n, (double)n / 1024);
    else if (n < 10000ull * 1024 * 1024)
        snprintf(buf, len, "%llu bytes (%.1f MiB)", n, (double)n / 1048576);
    else
        snprintf(buf, len, "%llu bytes (%.1f GiB)", n, (double)n / 1073741824);
}

/* An URL the service gave: https (http only when the XMPP stream is plain
 * too, --tls off), printable, no spaces. */
static int url_ok(const char *u, const struct xu_opts *o)
{
    size_t i, n = strlen(u);

    if (n < 9 || n > MAX_URL)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
            return 0;
    if (strncasecmp(u, "https://", 8) == 0)
        return 1;
    return o->tls == XU_TLS_OFF && strncasecmp(u, "http://", 7) == 0;
}

static int header_value_ok(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return 0;
    return 1;
}

static int parse_slot(xmpp_stanza_t *reply, const struct xu_opts *o, struct slot *sl,
                      struct xu_error *err)
{
    xmpp_stanza_t *slot = xmpp_stanza_get_child_by_name_and_ns(reply, "slot", XU_NS_HTTP_UPLOAD);
    xmpp_stanza_t *put = slot ? xmpp_stanza_get_child_by_name(slot, "put") : NULL;
    xmpp_stanza_t *get = slot ? xmpp_stanza_get_child_by_name(slot, "get") : NULL, *h;
    const char *pu = put ? xmpp_stanza_get_attribute(put, "url") : NULL;
    const char *gu = get ? xmpp_stanza_get_attribute(get, "url") : NULL, *name;
    char shown[200], *v;
    size_t len;

    if (!pu || !gu)
        return xu_error_set(err, XU_EX_PROTOCOL, "the upload service's answer has no PUT and GET URL");
    if (!url_ok(pu, o) || !url_ok(gu, o)) {
        xu_sanitize_terminal(shown, sizeof shown, url_ok(pu, o) ? gu : pu);
        return xu_error_set(err, XU_EX_PROTOCOL,
                            "the upload service gave an unusable URL '%s' (only https:// is "
                            "accepted%s)", shown, o->tls == XU_TLS_OFF ? ", or http:// with --tls off" : "");
    }
    sl->put = strdup(pu);
    sl->get = strdup(gu);
    if (!sl->put || !sl->get)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (h = xmpp_stanza_get_children(put); h; h = xmpp_stanza_get_next(h)) {
        if (!is_tag(h, "header") || !(name = xmpp_stanza_get_attribute(h, "name")))
            continue;
        /* XEP-0363 §7: only these; anything else is dropped */
        if (strcasecmp(name, "Authorization") && strcasecmp(name, "Cookie") &&
            strcasecmp(name, "Expires"))
            continue;
        if (sl->nheaders == 3)
            break;
        v = xmpp_stanza_get_text(h);
        if (v && !header_value_ok(v)) {
            xmpp_free(xmpp_stanza_get_context(h), v);
            return xu_error_set(err, XU_EX_PROTOCOL,
                                "the upload service's %s header has control characters", name);
        }
        len = strlen(name) + 3 + (v ? strlen(v) : 0);
        sl->headers[sl->nheaders] = malloc(len);
        if (sl->headers[sl->nheaders])
            snprintf(sl->headers[sl->nheaders++], len, "%s: %s", name, v ? v : "");
        if (v)
            xmpp_free(xmpp_stanza_get_context(h), v);
    }
    return 0;
}

/* A slot request's error answer, with the exit code documented in
 * xmpp-send(1): too large / not acceptable 65, quota or rate 75, not
 * allowed 77, anything else 69. */
static int slot_error(xmpp_stanza_t *reply, const struct xu_upload_src *src,
                      const struct xu_upload_service *svc, struct xu_error *err)
{
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(reply, "error"), *c, *m;
    const char *cond = "undefined-condition", *ns, *stamp = NULL;
    char why[400], name[300], limit[80] = "", *t, size[64];
    unsigned long long max = 0;
    int code = XU_EX_UNAVAILABLE, too_large = 0;

    xu_stanza_error_text(reply, why, sizeof why);
    xu_sanitize_terminal(name, sizeof name, src->label);
    for (c = e ? xmpp_stanza_get_children(e) : NULL; c; c = xmpp_stanza_get_next(c)) {
        ns = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_ns(c) : NULL;
        if (ns && strcmp(ns, NS_STANZAS) == 0 && strcmp(xmpp_stanza_get_name(c), "text"))
            cond = xmpp_stanza_get_name(c);
        if (ns && strcmp(ns, XU_NS_HTTP_UPLOAD) == 0 && is_tag(c, "file-too-large")) {
            too_large = 1;
            m = xmpp_stanza_get_child_by_name(c, "max-file-size");
            t = m ? xmpp_stanza_get_text(m) : NULL;
            if (t) {
                max = strtoull(t, NULL, 10);
                xmpp_free(xmpp_stanza_get_context(c), t);
            }
        }
        if (ns && strcmp(ns, XU_NS_HTTP_UPLOAD) == 0 && is_tag(c, "retry"))
            stamp = xmpp_stanza_get_attribute(c, "stamp");
    }
    human(src->size, size, sizeof size);
    if (too_large || strcmp(cond, "not-acceptable") == 0 || strcmp(cond, "bad-request") == 0) {
        code = XU_EX_DATAERR;
        if (too_large && (max || svc->max_size))
            human(max ? max : svc->max_size, limit, sizeof limit);
    } else if (strcmp(cond, "resource-constraint") == 0) {
        code = XU_EX_TEMPFAIL;
    } else if (strcmp(cond, "forbidden") == 0 || strcmp(cond, "not-allowed") == 0 ||
               strcmp(cond, "not-authorized") == 0) {
        code = XU_EX_NOPERM;
    }
    if (limit[0])
        return xu_error_set(err, code, "%s refused %s: %s is larger than its limit of %s: %s",
                            svc->jid, name, size, limit, why);
    if (stamp) {
        char st[64];
        xu_sanitize_terminal(st, sizeof st, stamp);
        return xu_error_set(err, code, "%s refused %s (%s): %s; try again after %s", svc->jid,
                            name, size, why, st);
    }
    return xu_error_set(err, code, "%s refused %s (%s): %s", svc->jid, name, size, why);
}

static int request_slot(struct xu_session *s, const struct xu_upload_service *svc,
                        const struct xu_upload_src *src, double until, struct slot *sl,
                        struct xu_error *err)
{
    xmpp_stanza_t *iq = new_iq(s, svc->jid, "request", XU_NS_HTTP_UPLOAD), *reply = NULL, *req;
    char size[32];
    int rc;

    if (!iq)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    req = xmpp_stanza_get_child_by_name(iq, "request");
    snprintf(size, sizeof size, "%llu", src->size);
    xmpp_stanza_set_attribute(req, "filename", src->name);
    xmpp_stanza_set_attribute(req, "size", size);
    if (src->type)
        xmpp_stanza_set_attribute(req, "content-type", src->type);
    rc = iq_ask(s, iq, iq_until(until), &reply, err);
    xmpp_stanza_release(iq);
    if (rc)
        return rc;
    if (is_result(reply))
        rc = parse_slot(reply, s->opts, sl, err);
    else
        rc = slot_error(reply, src, svc, err);
    xmpp_stanza_release(reply);
    return rc;
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
    human(p->size - p->left, sent, sizeof sent);
    human(p->size, total, sizeof total);
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

static int do_put(const struct xu_opts *o, const struct slot *sl, const struct xu_upload_src *src,
                  double until, int progress, struct xu_error *err)
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

int xu_upload_one(struct xu_session *s, const struct xu_upload_service *svc,
                  const struct xu_upload_src *src, double until, int progress, char **get_url,
                  struct xu_error *err)
{
    struct slot sl;
    char size[64], limit[64], name[300];
    int rc;

    *get_url = NULL;
    memset(&sl, 0, sizeof sl);
    if (svc->max_size && src->size > svc->max_size) {
        human(src->size, size, sizeof size);
        human(svc->max_size, limit, sizeof limit);
        xu_sanitize_terminal(name, sizeof name, src->label);
        return xu_error_set(err, XU_EX_DATAERR,
                            "%s is %s, larger than the %s limit of %s: nothing was uploaded", name,
                            size, svc->jid, limit);
    }
    rc = request_slot(s, svc, src, until, &sl, err);
    if (rc == 0) {
        xu_info("uploading %s (%llu bytes, %s) to %s", src->label, src->size,
                src->type ? src->type : "no type", svc->jid);
        rc = do_put(s->opts, &sl, src, until, progress, err);
    }
    if (rc == 0) {
        *get_url = sl.get;
        sl.get = NULL;
    }
    slot_free(&sl);
    return rc;
}

/* ---- content type ---- */

void xu_upload_content_type(int fd, char *buf, size_t len)
{
    static const char fallback[] = "application/octet-stream";
    char *data = malloc(MAGIC_BYTES);
    const char *t = NULL;
    ssize_t n = data ? pread(fd, data, MAGIC_BYTES, 0) : -1;
    magic_t m = n > 0 && load_magic() == 0 ? magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR) : NULL;

    if (m && magic_load(m, NULL) == 0)
        t = magic_buffer(m, data, (size_t)n);
    /* nothing to look at (an empty file) or nothing recognised */
    if (!t || !strchr(t, '/') || strcmp(t, "application/x-empty") == 0)
        t = fallback;
    snprintf(buf, len, "%s", t);
    if (m)
        magic_close(m);
    free(data);
}

/* ---- xmpp-send --file ---- */

struct src_file {
    struct xu_upload_src src;
    char type[128];
    char label[300];
    char *name;
};

/* Standard input that is not a regular file (a pipe): copied to an unlinked
 * temp file first (the upload needs the size up front, and memory must not
 * grow with the file). */
static int spool(int in, int *out, unsigned long long *size, struct xu_error *err)
{
    const char *dir = getenv("TMPDIR");
    char path[4096], *buf;
    ssize_t r, w, off;
    int fd;

    snprintf(path, sizeof path, "%s/xmpp-send.XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path); /* 0600 */
    if (fd < 0)
        return xu_error_set(err, XU_EX_IOERR, "cannot create a temporary file in %s: %s",
                            dir && *dir ? dir : "/tmp", strerror(errno));
    unlink(path);
    buf = malloc(65536);
    if (!buf) {
        close(fd);
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    }
    *size = 0;
    for (;;) {
        r = read(in, buf, 65536);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (off = 0; off < r; off += w) {
            w = write(fd, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                w = 0;
            else if (w < 0)
                break;
        }
        if (off < r) {
            free(buf);
            close(fd);
            return xu_error_set(err, XU_EX_IOERR, "cannot write the temporary copy of standard "
                                "input: %s", strerror(errno));
        }
        *size += (unsigned long long)r;
    }
    free(buf);
    if (r < 0) {
        close(fd);
        return xu_error_set(err, XU_EX_IOERR, "cannot read standard input: %s", strerror(errno));
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        return xu_error_set(err, XU_EX_IOERR, "cannot rewind the temporary file: %s",
                            strerror(errno));
    }
    *out = fd;
    return 0;
}

/* A file name to announce: not empty, no '/', printable UTF-8. */
static int name_ok(const char *n)
{
    size_t i, len = strlen(n);

    if (len == 0 || len > 255 || strchr(n, '/') || strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
        !xu_text_is_clean(n, len))
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f)
            return 0;
    return 1;
}

static int open_file(const struct xu_upload_file *f, struct src_file *sf, struct xu_error *err)
{
    const char *base;
    struct stat st;
    int fd, rc;

    xu_sanitize_terminal(sf->label, sizeof sf->label,
                         strcmp(f->path, "-") == 0 ? "standard input" : f->path);
    if (strcmp(f->path, "-") == 0) {
        fd = 0;
    } else {
        fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return xu_error_set(err, XU_EX_IOERR, "cannot open %s: %s", sf->label, strerror(errno));
    }
    sf->src.fd = fd;
    if (fstat(fd, &st) < 0)
        return xu_error_set(err, XU_EX_IOERR, "cannot stat %s: %s", sf->label, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return xu_error_set(err, XU_EX_DATAERR, "%s is a directory: give files", sf->label);
    if (S_ISREG(st.st_mode)) {
        sf->src.size = (unsigned long long)st.st_size;
        if (fd == 0 && lseek(0, 0, SEEK_CUR) > 0) /* what is left of it */
            sf->src.size -= (unsigned long long)lseek(0, 0, SEEK_CUR);
    } else {
        if (fd != 0) /* a FIFO or device given by name: read it like stdin */
            xu_info("%s is not a regular file: copying it to a temporary file first", sf->label);
        rc = spool(fd, &sf->src.fd, &sf->src.size, err);
        if (fd != 0)
            close(fd);
        if (rc) {
            sf->src.fd = -1;
            return rc;
        }
    }
    if (f->name) {
        base = f->name;
    } else if (fd == 0 && strcmp(f->path, "-") == 0) {
        return xu_error_set(err, XU_EX_USAGE, "--file - needs --file-name NAME (the name to announce)");
    } else {
        base = strrchr(f->path, '/');
        base = base && base[1] ? base + 1 : f->path;
    }
    if (!name_ok(base))
        return xu_error_set(err, f->name ? XU_EX_USAGE : XU_EX_DATAERR,
                            "'%s' cannot be announced as a file name (printable UTF-8, no '/', at "
                            "most 255 bytes)%s", sf->label, f->name ? "" : "; give --file-name");
    sf->name = strdup(base);
    if (!sf->name)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    if (f->type)
        snprintf(sf->type, sizeof sf->type, "%s", f->type);
    else
        xu_upload_content_type(sf->src.fd, sf->type, sizeof sf->type);
    sf->src.name = sf->name;
    sf->src.type = sf->type;
    sf->src.label = sf->label;
    return 0;
}

int xu_upload_files(const struct xu_opts *opts, struct xu_upload_file *files, int n, double until,
                    int progress, struct xu_error *err)
{
    struct src_file *sf = calloc((size_t)(n > 0 ? n : 1), sizeof *sf);
    struct xu_upload_service svc = {NULL, 0};
    struct slot *slots = NULL;
    struct xu_session s;
    char size[64], limit[64];
    int rc = 0, i, opened = 0;

    if (!sf)
        return xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (i = 0; i < n; i++)
        sf[i].src.fd = -1;
    /* every file is readable and has a name before we log in */
    for (i = 0; i < n && rc == 0; i++)
        rc = open_file(&files[i], &sf[i], err);
    memset(&s, 0, sizeof s);
    s.sock = -1;
    if (rc == 0) {
        opened = 1;
        rc = xu_session_open(&s, opts, until, err);
    }
    if (rc == 0)
        rc = xu_upload_discover(&s, until, &svc, err);
    /* the limit is checked for all of them before the first byte goes out */
    for (i = 0; i < n && rc == 0 && svc.max_size; i++)
        if (sf[i].src.size > svc.max_size) {
            human(sf[i].src.size, size, sizeof size);
            human(svc.max_size, limit, sizeof limit);
            rc = xu_error_set(err, XU_EX_DATAERR,
                              "%s is %s, larger than the %s limit of %s: nothing was uploaded",
                              sf[i].label, size, svc.jid, limit);
        }
    /* Every slot first: a refusal (quota, type) comes before any upload, and
     * the session is closed before the PUTs (nothing to keep alive while a
     * large file goes up; its memory is free for curl's). */
    slots = calloc((size_t)(n > 0 ? n : 1), sizeof *slots);
    if (rc == 0 && !slots)
        rc = xu_error_set(err, XU_EX_OSERR, "out of memory");
    for (i = 0; i < n && rc == 0; i++)
        rc = request_slot(&s, &svc, &sf[i].src, until, &slots[i], err);
    if (s.ready)
        xu_session_close(&s);
    if (opened)
        xu_session_free(&s);
    for (i = 0; i < n && rc == 0; i++) {
        xu_info("uploading %s (%llu bytes, %s) to %s", sf[i].label, sf[i].src.size,
                sf[i].type, svc.jid);
        rc = do_put(opts, &slots[i], &sf[i].src, until, progress, err);
        if (rc == 0) {
            files[i].get_url = slots[i].get;
            slots[i].get = NULL;
        }
    }
    for (i = 0; slots && i < n; i++)
        slot_free(&slots[i]);
    free(slots);
    xu_upload_service_free(&svc);
    for (i = 0; i < n; i++) {
        if (sf[i].src.fd > 0)
            close(sf[i].src.fd);
        free(sf[i].name);
    }
    free(sf);
    return rc;
}

#include "base/jid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stringprep.h>

#include "base/text.h"

#define PART_MAX 1023

int xu_jid_check(const char *jid, int need_node, char *why, size_t whylen)
{
    const char *at, *slash, *domain, *p;
    size_t dlen;

    slash = strchr(jid, '/');
    at = strchr(jid, '@');
    if (at && slash && at > slash)
        at = NULL; /* an @ in the resource */
    domain = at ? at + 1 : jid;
    dlen = slash ? (size_t)(slash - domain) : strlen(domain);

    for (p = jid; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            /* XML would carry LF, CR and TAB: a JID must not */
            snprintf(why, whylen, "contains a control character (U+%04X)", (unsigned char)*p);
            return -1;
        }
    if (!xu_text_is_clean(jid, strlen(jid))) {
        snprintf(why, whylen, "contains invalid UTF-8 or control characters");
        return -1;
    }
    if (at && at == jid) {
        snprintf(why, whylen, "empty node before '@'");
        return -1;
    }
    if (need_node && !at) {
        snprintf(why, whylen, "needs the form user@domain");
        return -1;
    }
    if (at && (size_t)(at - jid) > PART_MAX) {
        snprintf(why, whylen, "node longer than %d bytes", PART_MAX);
        return -1;
    }
    for (p = jid; at && p < at; p++)
        if (strchr("\"&':<>/ \t", *p)) {
            snprintf(why, whylen, "character '%c' is not allowed in the node", *p);
            return -1;
        }
    if (dlen == 0) {
        snprintf(why, whylen, "empty domain");
        return -1;
    }
    if (dlen > PART_MAX) {
        snprintf(why, whylen, "domain longer than %d bytes", PART_MAX);
        return -1;
    }
    for (p = domain; p < domain + dlen; p++)
        if (strchr("@\"&'<>\\ \t", *p)) {
            snprintf(why, whylen, "character '%c' is not allowed in the domain", *p);
            return -1;
        }
    if (domain[0] == '.') {
        snprintf(why, whylen, "domain starts with a dot");
        return -1;
    }
    if (memmem(domain, dlen, "..", 2)) {
        snprintf(why, whylen, "empty label (two dots) in the domain");
        return -1;
    }
    if (slash && slash[1] == '\0') {
        snprintf(why, whylen, "empty resource after '/'");
        return -1;
    }
    if (slash && strlen(slash + 1) > PART_MAX) {
        snprintf(why, whylen, "resource longer than %d bytes", PART_MAX);
        return -1;
    }
    return 0;
}

char *xu_jid_domain(const char *jid, char *buf, size_t len)
{
    const char *slash = strchr(jid, '/'), *at = strchr(jid, '@'), *d;
    size_t n;

    if (at && slash && at > slash)
        at = NULL;
    d = at ? at + 1 : jid;
    n = slash ? (size_t)(slash - d) : strlen(d);
    if (n >= len)
        return NULL;
    memcpy(buf, d, n);
    buf[n] = '\0';
    return buf;
}

int xu_jid_bare_equal(const char *a, const char *b)
{
    size_t la = strcspn(a, "/"), lb = strcspn(b, "/");

    return la == lb && strncasecmp(a, b, la) == 0;
}

/* ---- preparation ---- */

/* One part through a stringprep profile into a new string (NULL: refused,
 * why set). */
static char *prep_part(const char *part, size_t len, const Stringprep_profile *profile,
                       const char *name, char *why, size_t whylen)
{
    size_t max = len * 4 + 16; /* case folding may grow a string (ß → ss) */
    char *buf = malloc(max);
    int rc;

    if (!buf) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    memcpy(buf, part, len);
    buf[len] = '\0';
    rc = stringprep(buf, max, 0, profile); /* unassigned allowed, as Prosody does */
    if (rc != STRINGPREP_OK) {
        snprintf(why, whylen, "the %s is not allowed in a JID (%s)", name,
                 rc == STRINGPREP_CONTAINS_PROHIBITED ? "a character XMPP forbids there"
                 : rc == STRINGPREP_CONTAINS_UNASSIGNED ? "a character Unicode does not assign"
                 : rc == STRINGPREP_BIDI_BOTH_L_AND_RAL ||
                           rc == STRINGPREP_BIDI_LEADTRAIL_NOT_RAL ||
                           rc == STRINGPREP_BIDI_CONTAINS_PROHIBITED
                     ? "mixed text directions"
                     : stringprep_strerror((Stringprep_rc)rc));
        free(buf);
        return NULL;
    }
    return buf;
}

int xu_jid_prep(const char *in, int need_node, char **out, char *why, size_t whylen)
{
    const char *at, *slash, *domain;
    char *node = NULL, *dom = NULL, *res = NULL, *full = NULL;
    size_t dlen, n;
    int rc = -1;

    *out = NULL;
    /* the raw form first: control characters, UTF-8, empty parts */
    if (xu_jid_check(in, need_node, why, whylen) < 0)
        return -1;
    slash = strchr(in, '/');
    at = strchr(in, '@');
    if (at && slash && at > slash)
        at = NULL;
    domain = at ? at + 1 : in;
    dlen = slash ? (size_t)(slash - domain) : strlen(domain);
    /* RFC 7622 3.2: a final dot in the domain is removed */
    if (dlen > 1 && domain[dlen - 1] == '.')
        dlen--;
    if (at && !(node = prep_part(in, (size_t)(at - in), stringprep_xmpp_nodeprep, "node", why,
                                 whylen)))
        goto out;
    if (!(dom = prep_part(domain, dlen, stringprep_nameprep, "domain", why, whylen)))
        goto out;
    if (slash && !(res = prep_part(slash + 1, strlen(slash + 1), stringprep_xmpp_resourceprep,
                                   "resource", why, whylen)))
        goto out;
    n = (node ? strlen(node) + 1 : 0) + strlen(dom) + (res ? strlen(res) + 1 : 0) + 1;
    full = malloc(n);
    if (!full) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    snprintf(full, n, "%s%s%s%s%s", node ? node : "", node ? "@" : "", dom, res ? "/" : "",
             res ? res : "");
    /* and the prepared form: lengths, and what preparation may produce */
    if (xu_jid_check(full, need_node, why, whylen) < 0) {
        free(full);
        goto out;
    }
    *out = full;
    rc = 0;
out:
    free(node);
    free(dom);
    free(res);
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int xu_jid_from_arg(const char *arg, int need_node, char **out, char **query, char *why,
                    size_t whylen)
{
    const char *p = arg, *end;
    char *dec, *d;
    int hi, lo, rc;

    *out = NULL;
    if (query)
        *query = NULL;
    if (strncasecmp(p, "xmpp:", 5) != 0) {
        if (strchr(arg, '?')) {
            snprintf(why, whylen, "'?' is not allowed in a JID (an xmpp: URI query needs the "
                     "xmpp: scheme)");
            return -1;
        }
        return xu_jid_prep(arg, need_node, out, why, whylen);
    }
    p += 5;
    if (p[0] == '/' && p[1] == '/') {
        snprintf(why, whylen, "xmpp: URIs naming the account to use (xmpp://...) are not "
                 "supported: give the JID as xmpp:JID");
        return -1;
    }
    end = p + strcspn(p, "?#");
    if (!query && *end == '?') {
        snprintf(why, whylen, "an xmpp: URI with a query ('?...') is not a JID here");
        return -1;
    }
    if (query && *end == '?') {
        *query = strndup(end + 1, strcspn(end + 1, "#"));
        if (!*query) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
    }
    /* RFC 5122: the path is percent-encoded UTF-8 */
    dec = malloc((size_t)(end - p) + 1);
    if (!dec) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    for (d = dec; p < end; p++) {
        if (*p != '%') {
            *d++ = *p;
            continue;
        }
        if (end - p < 3 || (hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0) {
            snprintf(why, whylen, "a '%%' that is not followed by two hex digits");
            free(dec);
            goto fail;
        }
        if (hi == 0 && lo == 0) {
            snprintf(why, whylen, "%%00 (NUL) in the URI");
            free(dec);
            goto fail;
        }
        *d++ = (char)(hi * 16 + lo);
        p += 2;
    }
    *d = '\0';
    rc = xu_jid_prep(dec, need_node, out, why, whylen);
    free(dec);
    if (rc == 0)
        return 0;
fail:
    if (query) {
        free(*query);
        *query = NULL;
    }
    return -1;
}

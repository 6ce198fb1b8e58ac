#include "jid.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "text.h"

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

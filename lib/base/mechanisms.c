#include "base/mechanisms.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Strongest first. DIGEST-MD5 (RFC 6331: obsolete) and ANONYMOUS are
 * outside the default set. */
const char *const xu_sasl_preference[XU_SASL_NPREF] = {
    "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "DIGEST-MD5", "PLAIN",
};

int xu_sasl_rank(const char *mech)
{
    size_t i;

    for (i = 0; mech && i < XU_SASL_NPREF; i++)
        if (strcmp(mech, xu_sasl_preference[i]) == 0)
            return (int)(XU_SASL_NPREF - i);
    return 0;
}

int xu_sasl_in_list(const char *list, const char *name)
{
    size_t n = strlen(name), k;
    const char *p = list;

    while (p && *p) {
        p += strspn(p, ", \t");
        k = strcspn(p, ", \t");
        if (k == n && strncasecmp(p, name, n) == 0)
            return 1;
        p += k;
    }
    return 0;
}

int xu_sasl_check_list(const char *list, char *why, size_t whylen)
{
    const char *p = list;
    size_t k, i;
    int any = 0;

    while (p && *p) {
        p += strspn(p, ", \t");
        k = strcspn(p, ", \t");
        if (k == 0)
            break;
        for (i = 0; i < XU_SASL_NPREF; i++)
            if (strlen(xu_sasl_preference[i]) == k && strncasecmp(p, xu_sasl_preference[i], k) == 0)
                break;
        if (i == XU_SASL_NPREF && !(k == 9 && strncasecmp(p, "ANONYMOUS", 9) == 0)) {
            snprintf(why, whylen, "unknown or unsupported SASL mechanism '%.*s' (known: "
                     "SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, "
                     "PLAIN, DIGEST-MD5, ANONYMOUS)", (int)(k > 40 ? 40 : k), p);
            return -1;
        }
        any = 1;
        p += k;
    }
    if (!any) {
        snprintf(why, whylen, "empty SASL mechanism list");
        return -1;
    }
    return 0;
}

/* The SASL mechanism names the suite knows, strongest first: the one list
 * behind the login's choice (lib/xmpp/sasl.c), the downgrade check's rank
 * and the check of --sasl-mechanisms / sasl_mechanisms when the options are
 * read. Names only: GNU SASL is the login's business, not the base's. */
#ifndef XU_MECHANISMS_H
#define XU_MECHANISMS_H

#include <stddef.h>

#define XU_SASL_NPREF 6
extern const char *const xu_sasl_preference[XU_SASL_NPREF];

/* Strength rank of a mechanism (higher is stronger; 0: unknown), for the
 * downgrade check. */
int xu_sasl_rank(const char *mech);

/* Whether name is in the comma/space separated list (case-insensitive). */
int xu_sasl_in_list(const char *list, const char *name);

/* Whether a mechanism list (option or config value) names only mechanisms
 * the suite can use; why says which one it cannot. */
int xu_sasl_check_list(const char *list, char *why, size_t whylen);

#endif

/* A set of strings, each with a number: the catch-up's archive "JID id"
 * keys (the ids printed last, the live stanzas held back). A chained hash
 * table that grows; the set copies its keys. */
#ifndef XU_CATCHUP_IDSET_H
#define XU_CATCHUP_IDSET_H

#include <stddef.h>

struct xu_idset_node {
    struct xu_idset_node *next;
    char *key;
    size_t val;
};

struct xu_idset {
    struct xu_idset_node **b;
    size_t nb, n;
};

/* 1 if key is in the set (*val, if not NULL, its number), else 0. */
int xu_idset_find(struct xu_idset *set, const char *key, size_t *val);
/* Add key (copied) or change its number. -1 when out of memory. */
int xu_idset_add(struct xu_idset *set, const char *key, size_t val);
void xu_idset_del(struct xu_idset *set, const char *key);
/* Empty the set and release its memory (it can be used again). */
void xu_idset_clear(struct xu_idset *set);

#endif

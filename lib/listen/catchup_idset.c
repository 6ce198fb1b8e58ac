#include "listen/catchup_idset.h"

#include <stdlib.h>
#include <string.h>

static unsigned long hash_str(const char *s)
{
    unsigned long h = 2166136261UL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619UL;
    return h;
}

static struct xu_idset_node **idset_slot(struct xu_idset *set, const char *key)
{
    struct xu_idset_node **p;

    if (!set->nb)
        return NULL;
    for (p = &set->b[hash_str(key) % set->nb]; *p; p = &(*p)->next)
        if (strcmp((*p)->key, key) == 0)
            return p;
    return p;
}

int xu_idset_find(struct xu_idset *set, const char *key, size_t *val)
{
    struct xu_idset_node **p = idset_slot(set, key);

    if (!p || !*p)
        return 0;
    if (val)
        *val = (*p)->val;
    return 1;
}

static int idset_grow(struct xu_idset *set)
{
    size_t nb = set->nb ? set->nb * 2 : 256, i;
    struct xu_idset_node **b = calloc(nb, sizeof *b), *n, *next;

    if (!b)
        return -1;
    for (i = 0; i < set->nb; i++)
        for (n = set->b[i]; n; n = next) {
            next = n->next;
            n->next = b[hash_str(n->key) % nb];
            b[hash_str(n->key) % nb] = n;
        }
    free(set->b);
    set->b = b;
    set->nb = nb;
    return 0;
}

int xu_idset_add(struct xu_idset *set, const char *key, size_t val)
{
    struct xu_idset_node **p, *n;

    if ((set->n + 1 > set->nb * 2 || !set->nb) && idset_grow(set) < 0)
        return -1;
    p = idset_slot(set, key);
    if (*p) {
        (*p)->val = val;
        return 0;
    }
    n = malloc(sizeof *n);
    if (!n || !(n->key = strdup(key))) {
        free(n);
        return -1;
    }
    n->next = NULL;
    n->val = val;
    *p = n;
    set->n++;
    return 0;
}

void xu_idset_del(struct xu_idset *set, const char *key)
{
    struct xu_idset_node **p = idset_slot(set, key), *n;

    if (!p || !*p)
        return;
    n = *p;
    *p = n->next;
    free(n->key);
    free(n);
    set->n--;
}

void xu_idset_clear(struct xu_idset *set)
{
    size_t i;
    struct xu_idset_node *n, *next;

    for (i = 0; i < set->nb; i++)
        for (n = set->b[i]; n; n = next) {
            next = n->next;
            free(n->key);
            free(n);
        }
    free(set->b);
    memset(set, 0, sizeof *set);
}

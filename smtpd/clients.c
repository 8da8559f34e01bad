/*
 * clients.c: sessions per client address, in a chained hash table. Owns the
 * table and its entries; an entry lives while its count is above zero.
 */
#include "smtpd/clients.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;
    unsigned char key[16]; /* IPv6, or IPv4 mapped into it */
    size_t count;
};

struct smtp_clients {
    size_t nbuckets;
    struct entry *buckets[];
};

struct smtp_clients *smtp_clients_new(size_t buckets)
{
    struct smtp_clients *t = calloc(1, sizeof *t + buckets * sizeof t->buckets[0]);
    if (t)
        t->nbuckets = buckets;
    return t;
}

void smtp_clients_free(struct smtp_clients *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (struct entry *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(t);
}

/* The address as 16 bytes; false for addresses without one (AF_UNIX). */
static bool key_of(const struct sockaddr *sa, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    if (sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff; /* ::ffff:a.b.c.d, as a dual-stack listener sees it */
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    return false;
}

static struct entry **slot(const struct smtp_clients *t, const unsigned char key[16])
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    struct entry **p = (struct entry **)&t->buckets[h % t->nbuckets];
    while (*p && memcmp((*p)->key, key, 16) != 0)
        p = &(*p)->next;
    return p;
}

bool smtp_clients_enter(struct smtp_clients *t, const struct sockaddr *addr, size_t limit)
{
    unsigned char key[16];
    if (!key_of(addr, key))
        return true; /* local clients over AF_UNIX are not limited */
    struct entry **p = slot(t, key);
    if (*p == NULL) {
        if (limit == 0 || (*p = calloc(1, sizeof **p)) == NULL)
            return false;
        memcpy((*p)->key, key, 16);
    }
    if ((*p)->count >= limit)
        return false;
    (*p)->count++;
    return true;
}

void smtp_clients_leave(struct smtp_clients *t, const struct sockaddr *addr)
{
    unsigned char key[16];
    if (!key_of(addr, key))
        return;
    struct entry **p = slot(t, key);
    struct entry *e = *p;
    if (e == NULL)
        return;
    if (--e->count == 0) {
        *p = e->next;
        free(e);
    }
}

size_t smtp_clients_count(const struct smtp_clients *t, const struct sockaddr *addr)
{
    unsigned char key[16];
    if (!key_of(addr, key))
        return 0;
    struct entry *e = *slot(t, key);
    return e ? e->count : 0;
}

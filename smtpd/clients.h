/*
 * clients.h: how many sessions each client address has open, to bound
 * them. A small hash table keyed by the address (not the port); no I/O.
 */
#ifndef SMTP_CLIENTS_H
#define SMTP_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/addr.h"

struct smtp_clients;

/* A table for up to about max_entries distinct addresses at once. NULL on ENOMEM. */
struct smtp_clients *smtp_clients_new(size_t buckets);
void smtp_clients_free(struct smtp_clients *t);

/*
 * Counts a new session from addr's address. Returns true if it is within
 * limit (it is then counted), false if that address already has limit
 * sessions (nothing is counted). IPv4-mapped IPv6 addresses count as IPv4.
 * Returns false on ENOMEM as well.
 */
bool smtp_clients_enter(struct smtp_clients *t, const struct sockaddr *addr, size_t limit);

/* Uncounts a session that smtp_clients_enter() counted. */
void smtp_clients_leave(struct smtp_clients *t, const struct sockaddr *addr);

/* Sessions counted for addr's address. */
size_t smtp_clients_count(const struct smtp_clients *t, const struct sockaddr *addr);

#endif

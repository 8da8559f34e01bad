/*
 * clients.h: how many sessions each client address has open, to bound them
 * (--max-per-client), shared by every process of one smtpd. Keyed by the
 * address (an IPv6 one by its /64), not the port; no I/O, no allocation
 * after smtp_clients_new().
 *
 * Rules, in one place:
 * - The table lives in one anonymous shared mapping made by
 *   smtp_clients_new(). Make it before forking the workers: each child then
 *   sees the same counts, and the limit applies to the total over all of them.
 * - Each process says which worker it is with smtp_clients_set_worker() right
 *   after the fork (0 until then, so a server that never forks needs nothing).
 *   Sessions are counted per worker too, so that the parent, after reaping a
 *   worker that died with sessions open, uncounts them with
 *   smtp_clients_drop_worker(). A worker index must not be reused before
 *   that call.
 * - A process-shared robust mutex guards the table. A worker killed while
 *   holding it wedges nobody: the next process to lock it repairs whatever
 *   the dead one left half written, and goes on.
 * - IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) count as IPv4. Other IPv6
 *   addresses count by their /64, since a host may use any address in it;
 *   by the whole address where a /64 is shared by many hosts (NAT64,
 *   Teredo) or means nothing (::1; link-local, with its interface).
 *   Addresses without an IP (AF_UNIX) are never counted nor refused.
 */
#ifndef SMTP_CLIENTS_H
#define SMTP_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/addr.h"

/*
 * Worker processes one table tells apart: indexes 0 to SMTP_CLIENTS_WORKERS_MAX - 1,
 * as many as a supervisor's worker ids (WK_SUPERVISOR_MAX_IDS: a generation
 * serving and one retiring).
 */
#define SMTP_CLIENTS_WORKERS_MAX 128

/* Sessions one worker may hold from one address; smtp_clients_enter() refuses more. */
#define SMTP_CLIENTS_WORKER_SESSIONS_MAX 65535

/* The least and the most distinct addresses a table holds (see smtp_clients_new()). */
#define SMTP_CLIENTS_CAPACITY_MIN 1024
#define SMTP_CLIENTS_CAPACITY_MAX (1u << 20)

struct smtp_clients;

/*
 * A table with room for `capacity` distinct client addresses at once, or
 * SMTP_CLIENTS_CAPACITY_MIN if that is more: a fixed-size open-addressing
 * table, at most half full, of 280 bytes a slot (560 bytes for each
 * address of room, e.g. 560 KiB for the minimum; pages are only touched as
 * they are used). Since every open session has one address, a capacity of
 * the most sessions all workers may hold together means the table is never
 * full. The caller owns the handle: release it with smtp_clients_free().
 * Returns NULL if capacity is above SMTP_CLIENTS_CAPACITY_MAX or the
 * mapping or the lock cannot be made.
 */
struct smtp_clients *smtp_clients_new(size_t capacity);

/*
 * Releases this process's handle and its view of the table; the counts live
 * on in the other processes that share it. Any process may call it, in any
 * order. NULL is ignored.
 */
void smtp_clients_free(struct smtp_clients *t);

/*
 * Says which worker this process is, for the counts it enters and leaves
 * from now on. Call it in the child right after fork(), before any session.
 * Returns 0, or -EINVAL if worker is not below SMTP_CLIENTS_WORKERS_MAX.
 */
int smtp_clients_set_worker(struct smtp_clients *t, unsigned worker);

/*
 * Counts a new session from addr's address for this process's worker.
 * Returns true if the address had fewer than limit sessions over all
 * workers (the session is then counted), false otherwise (nothing is
 * counted). Also false, counting nothing, for a new address when the table
 * already holds its capacity, when this worker already holds
 * SMTP_CLIENTS_WORKER_SESSIONS_MAX sessions from it, and if the lock cannot
 * be taken. AF_UNIX clients: true, not counted.
 */
bool smtp_clients_enter(struct smtp_clients *t, const struct sockaddr *addr, size_t limit);

/*
 * Uncounts a session that smtp_clients_enter() counted in this same worker.
 * Does nothing if this worker holds no session from that address.
 */
void smtp_clients_leave(struct smtp_clients *t, const struct sockaddr *addr);

/* Sessions counted for addr's address, over all workers; 0 for AF_UNIX. */
size_t smtp_clients_count(const struct smtp_clients *t, const struct sockaddr *addr);

/*
 * For the parent, after reaping a worker: uncounts every session that worker
 * still held, as if it had left each one. Call it before starting another
 * process with that index. Returns the number of sessions uncounted (0 for
 * an index not below SMTP_CLIENTS_WORKERS_MAX).
 */
size_t smtp_clients_drop_worker(struct smtp_clients *t, unsigned worker);

#endif

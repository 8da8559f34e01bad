/*
 * clients.c: sessions per client address, in a fixed-size open-addressing
 * table (linear probing, backward-shift deletion, no tombstones) inside one
 * anonymous shared mapping, under a process-shared robust mutex. Owns the
 * mapping's layout and the per-process handle; not the worker processes.
 *
 * Dying in the middle. A worker may be killed at any instruction while it
 * holds the lock. Every change is therefore ordered so that the next owner
 * (told by EOWNERDEAD) can finish or undo it, in repair():
 * - A slot's key and counts are written while it is still marked empty, and
 *   only then is it marked live: a half-written slot is never seen.
 * - Per-worker counts are the truth; a slot's total is a cache of their sum
 *   that repair() recomputes. A live slot whose counts sum to 0 is removed.
 * - A backward shift records in `hole` the slot it is about to fill before
 *   it touches anything. Each step copies the next entry into the hole, marks
 *   it live, moves `hole` to the entry's old slot and only then marks that
 *   empty; so the slot `hole` names is either empty or a duplicate of a live
 *   entry, and repair() empties it and runs the shift on from there.
 * The compiler may not reorder those writes (fence()); the processor's order
 * does not matter, as a killed process stops at an instruction boundary and
 * the next owner reads only after taking the mutex.
 */
#include "smtpd/clients.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define NO_HOLE SIZE_MAX

struct slot {
    unsigned char key[16];                  /* IPv6, or IPv4 mapped into it */
    uint32_t total;                         /* sum of per[] */
    uint16_t per[SMTP_CLIENTS_WORKERS_MAX]; /* sessions of each worker */
    uint8_t live;                           /* last: copies stop before it */
};

/* The shared part: the same bytes in every process. */
struct shared {
    pthread_mutex_t lock;
    uint64_t seed;   /* of the hash, random per table */
    size_t capacity; /* most live slots */
    size_t mask;     /* slots - 1, slots a power of two >= 2 * capacity */
    size_t used;     /* live slots */
    size_t hole;     /* the slot a backward shift is filling, or NO_HOLE */
    struct slot slots[];
};

/* The process-local handle: forked along with the process, so each child has its own. */
struct smtp_clients {
    struct shared *sh;
    size_t len; /* of the mapping */
    unsigned worker;
};

/* Keeps the compiler from moving shared writes across it (see the top of the file). */
static void fence(void)
{
    atomic_signal_fence(memory_order_seq_cst);
}

static uint64_t random_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed)
        return seed;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^
           (uint64_t)getpid() << 32;
}

static int init_lock(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc != 0)
        return -rc;
    rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return -rc;
}

struct smtp_clients *smtp_clients_new(size_t capacity)
{
    if (capacity > SMTP_CLIENTS_CAPACITY_MAX)
        return NULL;
    if (capacity < SMTP_CLIENTS_CAPACITY_MIN)
        capacity = SMTP_CLIENTS_CAPACITY_MIN;
    size_t nslots = 1;
    while (nslots < 2 * capacity)
        nslots <<= 1;
    struct smtp_clients *t = malloc(sizeof *t);
    if (t == NULL)
        return NULL;
    t->len = sizeof(struct shared) + nslots * sizeof(struct slot);
    t->worker = 0;
    t->sh = mmap(NULL, t->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t->sh == MAP_FAILED)
        goto fail;
    /* The mapping is zeroed: every slot empty, used 0. */
    t->sh->seed = random_seed();
    t->sh->capacity = capacity;
    t->sh->mask = nslots - 1;
    t->sh->hole = NO_HOLE;
    if (init_lock(&t->sh->lock) < 0) {
        munmap(t->sh, t->len);
        goto fail;
    }
    return t;
fail:
    free(t);
    return NULL;
}

void smtp_clients_free(struct smtp_clients *t)
{
    if (t == NULL)
        return;
    /* No pthread_mutex_destroy(): other processes may still use the lock. */
    munmap(t->sh, t->len);
    free(t);
}

int smtp_clients_set_worker(struct smtp_clients *t, unsigned worker)
{
    if (worker >= SMTP_CLIENTS_WORKERS_MAX)
        return -EINVAL;
    t->worker = worker;
    return 0;
}

/*
 * An address whose /64 many hosts share: NAT64 (64:ff9b::/96 and
 * 64:ff9b:1::/48 hold every IPv4 host behind a translator) and Teredo
 * (2001::/32: the network half names the relay, not the host).
 */
static bool shared_prefix(const struct in6_addr *a)
{
    const uint8_t *b = a->s6_addr;
    static const uint8_t nat64[] = {0x00, 0x64, 0xff, 0x9b};
    static const uint8_t teredo[] = {0x20, 0x01, 0x00, 0x00};
    return memcmp(b, nat64, 4) == 0 || memcmp(b, teredo, 4) == 0;
}

/*
 * The client as 16 bytes; false for addresses without one (AF_UNIX). An
 * IPv6 host picks any address in its /64 at will, so the key is the /64
 * (the interface identifier zeroed); but loopback, IPv4-mapped, NAT64 and
 * Teredo addresses stay whole, and a link-local one stays whole with its
 * interface in the bytes its prefix leaves zero (every LAN is fe80::/64).
 */
static bool key_of(const struct sockaddr *sa, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const struct in6_addr *a = &in6->sin6_addr;
        bool whole = IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_V4MAPPED(a) ||
                     IN6_IS_ADDR_LOOPBACK(a) || shared_prefix(a);
        memcpy(key, a, whole ? 16 : 8);
        if (IN6_IS_ADDR_LINKLOCAL(a))
            memcpy(key + 4, &in6->sin6_scope_id, sizeof in6->sin6_scope_id);
        return true;
    }
    if (sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff; /* ::ffff:a.b.c.d, as a dual-stack listener sees it */
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    return false;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ x >> 31;
}

/*
 * Where key's probe sequence starts. Seeded, so that a client choosing many
 * addresses (an IPv6 /64 is plenty) cannot aim them all at one run of slots.
 */
static size_t home_of(const struct shared *sh, const unsigned char key[16])
{
    uint64_t hi, lo;
    memcpy(&hi, key, 8);
    memcpy(&lo, key + 8, 8);
    return (size_t)mix(mix(hi ^ sh->seed) ^ lo) & sh->mask;
}

/*
 * The slot holding key (*found true) or else the empty slot where it would
 * go (*found false). NO_HOLE if neither, which a table at most half full
 * never gives.
 */
static size_t find(const struct shared *sh, const unsigned char key[16], bool *found)
{
    size_t i = home_of(sh, key);
    *found = false;
    for (size_t n = 0; n <= sh->mask; n++, i = (i + 1) & sh->mask) {
        const struct slot *s = &sh->slots[i];
        if (!s->live)
            return i;
        if (memcmp(s->key, key, 16) == 0) {
            *found = true;
            return i;
        }
    }
    return NO_HOLE;
}

/*
 * Fills the empty slot sh->hole by moving back the entries after it that
 * may live there (those whose probe sequence passes it), until an empty
 * slot; then clears sh->hole. Also correct, and then a no-op, from an empty
 * slot of a consistent table.
 */
static void close_hole(struct shared *sh)
{
    size_t hole = sh->hole, j = hole;
    for (size_t n = 0; n < sh->mask; n++) {
        j = (j + 1) & sh->mask;
        struct slot *s = &sh->slots[j];
        if (!s->live)
            break;
        size_t home = home_of(sh, s->key);
        if (((j - home) & sh->mask) < ((j - hole) & sh->mask))
            continue; /* its home lies after the hole: it must stay past it */
        memcpy(&sh->slots[hole], s, offsetof(struct slot, live));
        fence();
        sh->slots[hole].live = 1;
        fence();
        sh->hole = j;
        fence();
        s->live = 0;
        fence();
        hole = j;
    }
    sh->hole = NO_HOLE;
    fence();
}

/* Removes the live slot i, whose counts are all 0. */
static void remove_at(struct shared *sh, size_t i)
{
    sh->hole = i;
    fence();
    sh->slots[i].live = 0;
    fence();
    sh->used--;
    close_hole(sh);
}

/*
 * Calls remove_at() on every live slot whose total is 0. A removal may move
 * another entry into slot i, so i is looked at again; entries only move
 * back into the hole from slots after it, so none is missed.
 */
static void remove_empty(struct shared *sh)
{
    size_t i = 0, steps = 0;
    while (i <= sh->mask && steps++ <= 2 * (sh->mask + 1)) {
        if (sh->slots[i].live && sh->slots[i].total == 0)
            remove_at(sh, i);
        else
            i++;
    }
}

/* Makes the table consistent again after a process died holding the lock. */
static void repair(struct shared *sh)
{
    if (sh->hole != NO_HOLE && sh->hole <= sh->mask) {
        sh->slots[sh->hole].live = 0; /* empty already, or a duplicate */
        fence();
        close_hole(sh);
    }
    sh->hole = NO_HOLE;
    size_t used = 0;
    for (size_t i = 0; i <= sh->mask; i++) {
        struct slot *s = &sh->slots[i];
        if (!s->live)
            continue;
        uint32_t sum = 0;
        for (size_t w = 0; w < SMTP_CLIENTS_WORKERS_MAX; w++)
            sum += s->per[w];
        s->total = sum;
        used++;
    }
    sh->used = used;
    fence();
    remove_empty(sh);
}

static bool lock(struct shared *sh)
{
    int rc = pthread_mutex_lock(&sh->lock);
    if (rc == EOWNERDEAD) {
        repair(sh);
        rc = pthread_mutex_consistent(&sh->lock);
        if (rc != 0)
            pthread_mutex_unlock(&sh->lock);
    }
    return rc == 0;
}

static void unlock(struct shared *sh)
{
    pthread_mutex_unlock(&sh->lock);
}

/* Counts a session of worker w in the new slot i (empty, on key's probe sequence). */
static void insert_at(struct shared *sh, size_t i, const unsigned char key[16], unsigned w)
{
    struct slot *s = &sh->slots[i];
    memcpy(s->key, key, 16);
    memset(s->per, 0, sizeof s->per);
    s->per[w] = 1;
    s->total = 1;
    fence();
    s->live = 1;
    fence();
    sh->used++;
}

bool smtp_clients_enter(struct smtp_clients *t, const struct sockaddr *addr, size_t limit)
{
    unsigned char key[16];
    if (!key_of(addr, key))
        return true; /* local clients over AF_UNIX are not limited */
    if (limit == 0 || !lock(t->sh))
        return false;
    struct shared *sh = t->sh;
    bool found, ok = false;
    size_t i = find(sh, key, &found);
    if (found) {
        struct slot *s = &sh->slots[i];
        ok = s->total < limit && s->per[t->worker] < SMTP_CLIENTS_WORKER_SESSIONS_MAX;
        if (ok) {
            s->per[t->worker]++;
            fence();
            s->total++;
        }
    } else if (i != NO_HOLE && sh->used < sh->capacity) {
        insert_at(sh, i, key, t->worker);
        ok = true;
    }
    unlock(sh);
    return ok;
}

void smtp_clients_leave(struct smtp_clients *t, const struct sockaddr *addr)
{
    unsigned char key[16];
    if (!key_of(addr, key) || !lock(t->sh))
        return;
    struct shared *sh = t->sh;
    bool found;
    size_t i = find(sh, key, &found);
    struct slot *s = found ? &sh->slots[i] : NULL;
    if (s != NULL && s->per[t->worker] > 0) {
        s->per[t->worker]--;
        fence();
        s->total--;
        fence();
        if (s->total == 0)
            remove_at(sh, i);
    }
    unlock(sh);
}

size_t smtp_clients_count(const struct smtp_clients *t, const struct sockaddr *addr)
{
    unsigned char key[16];
    if (!key_of(addr, key) || !lock(t->sh))
        return 0;
    bool found;
    size_t i = find(t->sh, key, &found);
    size_t n = found ? t->sh->slots[i].total : 0;
    unlock(t->sh);
    return n;
}

size_t smtp_clients_drop_worker(struct smtp_clients *t, unsigned worker)
{
    if (worker >= SMTP_CLIENTS_WORKERS_MAX || !lock(t->sh))
        return 0;
    struct shared *sh = t->sh;
    size_t dropped = 0;
    for (size_t i = 0; i <= sh->mask; i++) {
        struct slot *s = &sh->slots[i];
        uint16_t n = s->live ? s->per[worker] : 0;
        if (n == 0)
            continue;
        dropped += n;
        s->per[worker] = 0;
        fence();
        s->total -= n;
    }
    fence();
    remove_empty(sh);
    unlock(sh);
    return dropped;
}

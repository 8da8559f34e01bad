/*
 * scoreboard.h: what every process of one server shows of its connections
 * and counters, in one anonymous shared mapping made before the workers are
 * forked, so that any of them (and the parent) reads all of them.
 *
 * The mapping holds, for each worker:
 *   - `slots` fixed-size slots of `slot_size` bytes, one per open connection,
 *     each starting with a struct wk_scoreboard_slot_head; the rest is the
 *     caller's (the socket view's entry of a connection);
 *   - for each listener, a counters block of `counters_size` bytes, the
 *     caller's (totals since the start, summed over the workers by readers);
 *   - `nproto` uint64_t counters of the protocol;
 * and once, `nglobal` uint64_t values of the whole server (reloads, say),
 * written by the one process that owns them (the parent of the workers).
 * Nothing else: no pointer into a process's private memory may be stored in
 * it (an fd, a pointer to a static string, mean nothing to another process).
 *
 * Rules, in one place:
 * - Only worker w writes its slots, its counters and its free slots, and
 *   claims and releases its slots; so writers never take a lock. The parent
 *   writes them only while w is not running (wk_scoreboard_reset_worker()).
 * - Readers (any process, any time) get copies of slots through a seqlock:
 *   the writer brackets each change that must not be seen half done (a
 *   string, a group of fields) by wk_scoreboard_write_begin() and _end();
 *   a reader copies the slot and keeps the copy only if no change began or
 *   ended meanwhile. The copy is made 8 aligned bytes at a time with
 *   single-copy atomic loads, so an aligned uint64_t field updated outside
 *   begin/end with wk_scoreboard_add() or _set() is never read torn either
 *   (byte counts, updated on every read and write, need no bracket).
 * - Counters blocks and protocol counters are read without any bracket:
 *   a reader sums values that may be a moment old, never torn as long as
 *   each uint64_t is written with wk_scoreboard_add()/_set() and read with
 *   wk_scoreboard_get() (relaxed atomics: plain loads and stores on x86-64
 *   and arm64, where aligned 64-bit accesses are single-copy atomic anyway).
 * - Slots and counters blocks are 8-byte aligned; a type needing more
 *   alignment cannot be stored.
 * - The mapping's size is workers * (slots * slot_size + listeners *
 *   counters_size + nproto * 8 + slots * 4) + nglobal * 8 bytes plus a
 *   little; it is
 *   address space only (MAP_NORESERVE: not counted against the commit
 *   limit), and its pages are touched as slots are first used: a worker
 *   (a row) that never runs costs nothing, and a worker reuses its most
 *   recently released slot first, so what is touched follows the most
 *   connections a worker ever held, not `slots`.
 *
 * Single-threaded per process, like the loop.
 */
#ifndef WK_SCOREBOARD_H
#define WK_SCOREBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds of a shape (wk_scoreboard_new() refuses anything outside them). */
#define WK_SCOREBOARD_MAX_WORKERS       128 /* as WK_SUPERVISOR_MAX_IDS */
#define WK_SCOREBOARD_MAX_LISTENERS     1024
#define WK_SCOREBOARD_MAX_SLOTS         (1u << 20) /* per worker */
#define WK_SCOREBOARD_MAX_SLOT_SIZE     1024
#define WK_SCOREBOARD_MAX_COUNTERS_SIZE 4096
#define WK_SCOREBOARD_MAX_PROTO         1024
#define WK_SCOREBOARD_MAX_GLOBAL        64

/* A reader gives up on a slot still changing after this many copies, and skips it. */
#define WK_SCOREBOARD_READ_TRIES 64

/* head.flags: the slot holds an open connection. */
#define WK_SCOREBOARD_USED 0x1u

/*
 * The first bytes of every slot: the caller's slot type starts with one
 * (8 bytes). Managed here: the caller never writes it.
 */
struct wk_scoreboard_slot_head {
    uint32_t seq;    /* even: stable; odd: a change is under way (seqlock) */
    uint16_t worker; /* the worker the slot belongs to */
    uint16_t flags;  /* WK_SCOREBOARD_USED */
};

struct wk_scoreboard_shape {
    unsigned workers;     /* 1..WK_SCOREBOARD_MAX_WORKERS */
    unsigned listeners;   /* 0..WK_SCOREBOARD_MAX_LISTENERS */
    unsigned slots;       /* per worker: 1..WK_SCOREBOARD_MAX_SLOTS */
    unsigned nproto;      /* per worker: 0..WK_SCOREBOARD_MAX_PROTO */
    size_t slot_size;     /* sizeof(struct wk_scoreboard_slot_head)..WK_SCOREBOARD_MAX_SLOT_SIZE */
    size_t counters_size; /* per worker and listener: 0..WK_SCOREBOARD_MAX_COUNTERS_SIZE */
    unsigned nglobal;     /* the whole server's: 0..WK_SCOREBOARD_MAX_GLOBAL */
};

struct wk_scoreboard;

/* Given a consistent copy of one used slot (slot_size bytes, valid during the call). */
typedef void wk_scoreboard_each_fn(const void *slot, void *arg);

/* Given a slot of a worker that is gone, before it is freed (see wk_scoreboard_reset_worker()). */
typedef void wk_scoreboard_reset_fn(void *slot, void *arg);

/*
 * Makes a scoreboard of the given shape: all slots free, all counters 0.
 * Make it before forking: each child inherits a handle to the same mapping.
 * Returns 0 with *out (release with wk_scoreboard_free() in each process),
 * -EINVAL for a shape outside the bounds above, or -ENOMEM.
 */
int wk_scoreboard_new(const struct wk_scoreboard_shape *shape, struct wk_scoreboard **out);

/*
 * Releases this process's handle and view of the mapping; the other
 * processes keep theirs. NULL is fine.
 */
void wk_scoreboard_free(struct wk_scoreboard *sb);

/* The shape it was made with. */
const struct wk_scoreboard_shape *wk_scoreboard_shape_of(const struct wk_scoreboard *sb);

/* The shape's number of workers. */
unsigned wk_scoreboard_workers(const struct wk_scoreboard *sb);

/*
 * Writers: only in worker `worker`'s process.
 *
 * Takes a free slot of the worker, the most recently released one first,
 * else the lowest never used. The slot comes back zeroed after its head,
 * marked used and still OPEN FOR WRITING, as after wk_scoreboard_write_begin():
 * fill it in, then call wk_scoreboard_write_end(), so that readers never see
 * it used but empty. Returns NULL (nothing changed) when all the worker's
 * slots are taken or worker is out of range. The slot stays in the mapping:
 * give it back with wk_scoreboard_release().
 */
void *wk_scoreboard_claim(struct wk_scoreboard *sb, unsigned worker);

/*
 * Frees a slot that wk_scoreboard_claim() returned (not open for writing):
 * readers stop seeing it, and the worker's next claim reuses it first.
 */
void wk_scoreboard_release(struct wk_scoreboard *sb, void *slot);

/*
 * Bracket a change to a used slot that readers must see whole or not at all.
 * Not nested; nothing in between may fail halfway (a reader retrying in a
 * loop waits for write_end). Cheap: two stores and a fence.
 */
void wk_scoreboard_write_begin(void *slot);
void wk_scoreboard_write_end(void *slot);

/*
 * The counters block of (worker, listener), counters_size bytes, zeroed at
 * the start; or NULL if either is out of range or counters_size is 0.
 */
void *wk_scoreboard_counters(struct wk_scoreboard *sb, unsigned worker, unsigned listener);

/* The worker's nproto protocol counters, zeroed at the start; NULL if out of range or nproto 0. */
uint64_t *wk_scoreboard_proto(struct wk_scoreboard *sb, unsigned worker);

/*
 * The nglobal values of the whole server, zeroed at the start; NULL when
 * nglobal is 0. One process writes them (wk_scoreboard_add()/_set()), any
 * reads them (wk_scoreboard_global_of() and wk_scoreboard_get()).
 */
uint64_t *wk_scoreboard_global(struct wk_scoreboard *sb);

/*
 * Readers: any process, at any time.
 *
 * Calls fn(copy, arg) for each used slot of every worker, worker by worker,
 * with a consistent copy of it (a slot still changing after
 * WK_SCOREBOARD_READ_TRIES copies is skipped this time). Scans each worker's
 * slots up to its high-water mark only. fn may not claim, release or change
 * slots of the calling process. Returns how many slots fn was given.
 */
size_t wk_scoreboard_each(const struct wk_scoreboard *sb, wk_scoreboard_each_fn *fn, void *arg);

/* The blocks of wk_scoreboard_counters() and _proto(), for reading (with wk_scoreboard_get()). */
const void *wk_scoreboard_counters_of(const struct wk_scoreboard *sb, unsigned worker,
                                      unsigned listener);
const uint64_t *wk_scoreboard_proto_of(const struct wk_scoreboard *sb, unsigned worker);
const uint64_t *wk_scoreboard_global_of(const struct wk_scoreboard *sb);

/*
 * How many of the worker's slots were ever claimed since its start (its
 * last reset): every used slot lies below it. 0 for an out-of-range worker.
 */
unsigned wk_scoreboard_high_water(const struct wk_scoreboard *sb, unsigned worker);

/*
 * The parent, after worker `worker` exited and before it is started again:
 * for each slot the worker still held (its connections open when it died),
 * calls fn(slot, arg) if fn is not NULL, so that the caller counts it as
 * closed in wk_scoreboard_counters(sb, worker, its listener); then frees all
 * the worker's slots, and sets its high-water mark back to 0. A slot the
 * worker died while writing is passed too: its fields may be half written
 * (a string without its terminator, fields of two versions). The counters
 * and protocol counters stay (totals since the start). Returns how many used
 * slots were freed.
 */
size_t wk_scoreboard_reset_worker(struct wk_scoreboard *sb, unsigned worker,
                                  wk_scoreboard_reset_fn *fn, void *arg);

/*
 * Counters shared with readers in other processes, written by their one
 * writer: relaxed atomic loads and stores (plain moves on our 64-bit
 * targets), never torn. p must be 8-byte aligned. Not a read-modify-write:
 * two writers of the same counter would lose counts.
 */
static inline void wk_scoreboard_add(uint64_t *p, uint64_t n)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void wk_scoreboard_set(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline uint64_t wk_scoreboard_get(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

#endif

/*
 * scoreboard.c: the layout of the shared mapping, the per-worker stacks of
 * free slots and the seqlock of each slot. Owns the mapping and the
 * process-local handle; not what the slots and counters blocks mean (the
 * caller's types), nor the processes.
 *
 * The mapping is one region per worker, each on its own cache lines:
 *   struct worker (high-water mark, free count) | free stack: uint32_t[slots]
 *   | slots[slots] | counters[listeners] | proto: uint64_t[nproto]
 * then the server's own values: uint64_t[nglobal].
 * A worker's slots below its high-water mark have been claimed at least
 * once; the free stack holds the indexes of those released since, the most
 * recent on top. A claim pops the stack, or when it is empty takes the slot
 * at the high-water mark and raises the mark. So nothing is written to a
 * page before it is first needed, and the mark stays at the most slots the
 * worker held at once.
 *
 * The seqlock (Boehm, "Can seqlocks get along with programming language
 * memory models?", 2012). Writer: seq + 1 (odd) relaxed, release fence,
 * the change, seq + 1 (even) with a release store. Reader: seq with an
 * acquire load (odd: retry), the copy, acquire fence, seq again (relaxed):
 * equal means no change overlapped the copy. The fence after the odd store
 * (rather than a release store of it) is what keeps the change's stores
 * from being seen before the odd seq on weakly ordered processors. The
 * copy is made of relaxed 8-byte atomic loads; the caller's plain stores
 * inside begin/end race with it formally, as in every seqlock in C, and
 * the sequence check discards what they may have torn.
 *
 * The high-water mark is stored by its worker (release) and read by every
 * reader (acquire); the free stack and count are only ever touched by the
 * worker, or by the parent once the worker is gone.
 */
#include "common/scoreboard.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Keeps the workers' regions on separate cache lines (128: some arm64 prefetch pairs of 64). */
#define LINE 128

struct worker {
    uint32_t high;  /* slots below it were claimed at least once since the start or reset */
    uint32_t nfree; /* indexes on the free stack */
};

struct wk_scoreboard {
    unsigned char *base; /* the mapping */
    size_t len;
    struct wk_scoreboard_shape shape;
    size_t slot_stride;     /* slot_size rounded up to 8 */
    size_t counters_stride; /* counters_size rounded up to 8 */
    size_t off_free, off_slots, off_counters, off_proto;
    size_t region;     /* bytes per worker */
    size_t off_global; /* after the last worker's region */
};

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

static bool shape_ok(const struct wk_scoreboard_shape *s)
{
    return s->workers >= 1 && s->workers <= WK_SCOREBOARD_MAX_WORKERS &&
           s->listeners <= WK_SCOREBOARD_MAX_LISTENERS && s->slots >= 1 &&
           s->slots <= WK_SCOREBOARD_MAX_SLOTS && s->nproto <= WK_SCOREBOARD_MAX_PROTO &&
           s->slot_size >= sizeof(struct wk_scoreboard_slot_head) &&
           s->slot_size <= WK_SCOREBOARD_MAX_SLOT_SIZE &&
           s->counters_size <= WK_SCOREBOARD_MAX_COUNTERS_SIZE &&
           s->nglobal <= WK_SCOREBOARD_MAX_GLOBAL;
}

/*
 * Lays out one worker's region in sb. The bounds keep every size below
 * 2^37, which only a 64-bit size_t holds: a 32-bit one gets false.
 */
static bool lay_out(struct wk_scoreboard *sb)
{
    const struct wk_scoreboard_shape *s = &sb->shape;
    uint64_t slots = s->slots;
    sb->slot_stride = round_up(s->slot_size, 8);
    sb->counters_stride = round_up(s->counters_size, 8);
    uint64_t off_free = round_up(sizeof(struct worker), 8);
    uint64_t off_slots = round_up(off_free + slots * sizeof(uint32_t), LINE);
    uint64_t off_counters = round_up(off_slots + slots * sb->slot_stride, LINE);
    uint64_t off_proto = off_counters + (uint64_t)s->listeners * sb->counters_stride;
    uint64_t region = round_up(off_proto + (uint64_t)s->nproto * sizeof(uint64_t), LINE);
    uint64_t off_global = region * s->workers;
    uint64_t len = off_global + round_up((uint64_t)s->nglobal * sizeof(uint64_t), LINE);
    if (len > SIZE_MAX / 2)
        return false;
    sb->off_free = off_free;
    sb->off_slots = off_slots;
    sb->off_counters = off_counters;
    sb->off_proto = off_proto;
    sb->region = region;
    sb->off_global = off_global;
    sb->len = len;
    return true;
}

int wk_scoreboard_new(const struct wk_scoreboard_shape *shape, struct wk_scoreboard **out)
{
    *out = NULL;
    if (shape == NULL || !shape_ok(shape))
        return -EINVAL;
    struct wk_scoreboard *sb = malloc(sizeof *sb);
    if (sb == NULL)
        return -ENOMEM;
    sb->shape = *shape;
    if (!lay_out(sb)) {
        free(sb);
        return -ENOMEM;
    }
    /* Zeroed: every worker with no slot claimed, every seq even, every counter 0. */
    sb->base = mmap(NULL, sb->len, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (sb->base == MAP_FAILED) {
        free(sb);
        return -ENOMEM;
    }
    *out = sb;
    return 0;
}

void wk_scoreboard_free(struct wk_scoreboard *sb)
{
    if (sb == NULL)
        return;
    munmap(sb->base, sb->len);
    free(sb);
}

const struct wk_scoreboard_shape *wk_scoreboard_shape_of(const struct wk_scoreboard *sb)
{
    return &sb->shape;
}

unsigned wk_scoreboard_workers(const struct wk_scoreboard *sb)
{
    return sb->shape.workers;
}

static unsigned char *region_of(const struct wk_scoreboard *sb, unsigned w)
{
    return sb->base + (size_t)w * sb->region;
}

static struct worker *worker_of(const struct wk_scoreboard *sb, unsigned w)
{
    return (struct worker *)region_of(sb, w);
}

static uint32_t *free_stack(const struct wk_scoreboard *sb, unsigned w)
{
    return (uint32_t *)(region_of(sb, w) + sb->off_free);
}

static struct wk_scoreboard_slot_head *slot_at(const struct wk_scoreboard *sb, unsigned w,
                                               uint32_t i)
{
    return (struct wk_scoreboard_slot_head *)(region_of(sb, w) + sb->off_slots +
                                              (size_t)i * sb->slot_stride);
}

/* The worker's high-water mark as a reader sees it, never above the shape's slots. */
static uint32_t high_of(const struct wk_scoreboard *sb, unsigned w)
{
    uint32_t high = __atomic_load_n(&worker_of(sb, w)->high, __ATOMIC_ACQUIRE);
    return high < sb->shape.slots ? high : sb->shape.slots;
}

void wk_scoreboard_write_begin(void *slot)
{
    struct wk_scoreboard_slot_head *h = slot;
    uint32_t seq = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
    assert(seq % 2 == 0); /* not nested */
    __atomic_store_n(&h->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void wk_scoreboard_write_end(void *slot)
{
    struct wk_scoreboard_slot_head *h = slot;
    uint32_t seq = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
    assert(seq % 2 == 1); /* after a begin */
    __atomic_store_n(&h->seq, seq + 1, __ATOMIC_RELEASE);
}

void *wk_scoreboard_claim(struct wk_scoreboard *sb, unsigned worker)
{
    if (worker >= sb->shape.workers)
        return NULL;
    struct worker *ws = worker_of(sb, worker);
    uint32_t high = __atomic_load_n(&ws->high, __ATOMIC_RELAXED);
    uint32_t i;
    if (ws->nfree > 0) {
        i = free_stack(sb, worker)[--ws->nfree];
    } else if (high < sb->shape.slots) {
        /*
         * Raised before the slot is touched, so that every slot a worker
         * may have died writing lies below its mark, where the reset finds it.
         */
        i = high;
        __atomic_store_n(&ws->high, high + 1, __ATOMIC_RELEASE);
    } else {
        return NULL;
    }
    struct wk_scoreboard_slot_head *h = slot_at(sb, worker, i);
    wk_scoreboard_write_begin(h);
    memset(h + 1, 0, sb->slot_stride - sizeof *h);
    h->worker = (uint16_t)worker;
    h->flags = WK_SCOREBOARD_USED;
    return h;
}

/* The index of slot h among worker w's slots; asserts that h is one. */
static uint32_t index_of(const struct wk_scoreboard *sb, unsigned w,
                         const struct wk_scoreboard_slot_head *h)
{
    size_t off = (size_t)((const unsigned char *)h - region_of(sb, w) - sb->off_slots);
    assert(off % sb->slot_stride == 0 && off / sb->slot_stride < sb->shape.slots);
    return (uint32_t)(off / sb->slot_stride);
}

void wk_scoreboard_release(struct wk_scoreboard *sb, void *slot)
{
    struct wk_scoreboard_slot_head *h = slot;
    unsigned w = h->worker;
    assert(w < sb->shape.workers && (h->flags & WK_SCOREBOARD_USED));
    uint32_t i = index_of(sb, w, h);
    wk_scoreboard_write_begin(h);
    h->flags = 0;
    wk_scoreboard_write_end(h);
    struct worker *ws = worker_of(sb, w);
    assert(ws->nfree < sb->shape.slots);
    free_stack(sb, w)[ws->nfree++] = i;
}

void *wk_scoreboard_counters(struct wk_scoreboard *sb, unsigned worker, unsigned listener)
{
    return (void *)wk_scoreboard_counters_of(sb, worker, listener);
}

uint64_t *wk_scoreboard_proto(struct wk_scoreboard *sb, unsigned worker)
{
    return (uint64_t *)wk_scoreboard_proto_of(sb, worker);
}

const void *wk_scoreboard_counters_of(const struct wk_scoreboard *sb, unsigned worker,
                                      unsigned listener)
{
    if (worker >= sb->shape.workers || listener >= sb->shape.listeners ||
        sb->shape.counters_size == 0)
        return NULL;
    return region_of(sb, worker) + sb->off_counters + (size_t)listener * sb->counters_stride;
}

const uint64_t *wk_scoreboard_proto_of(const struct wk_scoreboard *sb, unsigned worker)
{
    if (worker >= sb->shape.workers || sb->shape.nproto == 0)
        return NULL;
    return (const uint64_t *)(region_of(sb, worker) + sb->off_proto);
}

const uint64_t *wk_scoreboard_global_of(const struct wk_scoreboard *sb)
{
    return sb->shape.nglobal ? (const uint64_t *)(sb->base + sb->off_global) : NULL;
}

uint64_t *wk_scoreboard_global(struct wk_scoreboard *sb)
{
    return (uint64_t *)wk_scoreboard_global_of(sb);
}

unsigned wk_scoreboard_high_water(const struct wk_scoreboard *sb, unsigned worker)
{
    return worker < sb->shape.workers ? high_of(sb, worker) : 0;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Copies slot h into out (slot_stride bytes). False if it kept changing. */
static bool copy_slot(const struct wk_scoreboard *sb, const struct wk_scoreboard_slot_head *h,
                      uint64_t *out)
{
    const uint64_t *words = (const uint64_t *)h;
    size_t n = sb->slot_stride / sizeof(uint64_t);
    for (int tries = 0; tries < WK_SCOREBOARD_READ_TRIES; tries++) {
        uint32_t before = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
        if (before % 2 == 1) {
            cpu_relax();
            continue;
        }
        for (size_t k = 0; k < n; k++)
            out[k] = __atomic_load_n(&words[k], __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == before)
            return true;
        cpu_relax();
    }
    return false;
}

size_t wk_scoreboard_each(const struct wk_scoreboard *sb, wk_scoreboard_each_fn *fn, void *arg)
{
    uint64_t copy[WK_SCOREBOARD_MAX_SLOT_SIZE / sizeof(uint64_t)];
    const struct wk_scoreboard_slot_head *head = (const struct wk_scoreboard_slot_head *)copy;
    size_t given = 0;
    for (unsigned w = 0; w < sb->shape.workers; w++) {
        uint32_t high = high_of(sb, w);
        for (uint32_t i = 0; i < high; i++) {
            if (!copy_slot(sb, slot_at(sb, w, i), copy) || !(head->flags & WK_SCOREBOARD_USED))
                continue;
            fn(copy, arg);
            given++;
        }
    }
    return given;
}

size_t wk_scoreboard_reset_worker(struct wk_scoreboard *sb, unsigned worker,
                                  wk_scoreboard_reset_fn *fn, void *arg)
{
    if (worker >= sb->shape.workers)
        return 0;
    struct worker *ws = worker_of(sb, worker);
    uint32_t high = high_of(sb, worker);
    size_t freed = 0;
    for (uint32_t i = 0; i < high; i++) {
        struct wk_scoreboard_slot_head *h = slot_at(sb, worker, i);
        /* Odd: the worker died between write_begin and write_end; finish its bracket. */
        bool open = __atomic_load_n(&h->seq, __ATOMIC_RELAXED) % 2 == 1;
        if (!open && !(h->flags & WK_SCOREBOARD_USED))
            continue;
        if (!open)
            wk_scoreboard_write_begin(h);
        if (h->flags & WK_SCOREBOARD_USED) {
            if (fn != NULL)
                fn(h, arg);
            freed++;
        }
        h->flags = 0;
        wk_scoreboard_write_end(h);
    }
    ws->nfree = 0;
    __atomic_store_n(&ws->high, 0, __ATOMIC_RELEASE);
    return freed;
}

/*
 * timer.h: a binary min-heap of deadlines, in milliseconds of the monotonic
 * clock. The heap stores pointers to timers embedded in their owners; it
 * allocates only its array. No clock is read here.
 */
#ifndef WK_TIMER_H
#define WK_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wk_timer;
typedef void wk_timer_fn(struct wk_timer *t);

struct wk_timer {
    uint64_t deadline;
    size_t slot; /* index in the heap, WK_TIMER_IDLE when not armed */
    wk_timer_fn *cb;
    void *data;
};

#define WK_TIMER_IDLE ((size_t)-1)

struct wk_timer_heap {
    struct wk_timer **v;
    size_t len;
    size_t cap;
};

void wk_timer_init(struct wk_timer *t, wk_timer_fn *cb, void *data);

static inline bool wk_timer_is_armed(const struct wk_timer *t)
{
    return t->slot != WK_TIMER_IDLE;
}

void wk_timer_heap_init(struct wk_timer_heap *h);
void wk_timer_heap_fini(struct wk_timer_heap *h);

/* Arms t (or moves it if armed) to the deadline. Returns 0 or -ENOMEM. */
int wk_timer_heap_set(struct wk_timer_heap *h, struct wk_timer *t, uint64_t deadline);

/* Disarms t; harmless if it is not armed. */
void wk_timer_heap_remove(struct wk_timer_heap *h, struct wk_timer *t);

/* The earliest timer, or NULL when none is armed. */
static inline struct wk_timer *wk_timer_heap_first(const struct wk_timer_heap *h)
{
    return h->len ? h->v[0] : NULL;
}

#endif

/*
 * timer.c: the min-heap of deadlines behind the loop's timers. Owns only the
 * array of pointers; each timer records its slot so it can move in O(log n).
 */
#include "common/timer.h"

#include <errno.h>
#include <stdlib.h>

void wk_timer_init(struct wk_timer *t, wk_timer_fn *cb, void *data)
{
    t->deadline = 0;
    t->slot = WK_TIMER_IDLE;
    t->cb = cb;
    t->data = data;
}

void wk_timer_heap_init(struct wk_timer_heap *h)
{
    h->v = NULL;
    h->len = 0;
    h->cap = 0;
}

void wk_timer_heap_fini(struct wk_timer_heap *h)
{
    for (size_t i = 0; i < h->len; i++)
        h->v[i]->slot = WK_TIMER_IDLE;
    free(h->v);
    wk_timer_heap_init(h);
}

static void place(struct wk_timer_heap *h, size_t i, struct wk_timer *t)
{
    h->v[i] = t;
    t->slot = i;
}

static void sift_up(struct wk_timer_heap *h, size_t i)
{
    struct wk_timer *t = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->deadline <= t->deadline)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct wk_timer_heap *h, size_t i)
{
    struct wk_timer *t = h->v[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && h->v[child + 1]->deadline < h->v[child]->deadline)
            child++;
        if (t->deadline <= h->v[child]->deadline)
            break;
        place(h, i, h->v[child]);
        i = child;
    }
    place(h, i, t);
}

int wk_timer_heap_set(struct wk_timer_heap *h, struct wk_timer *t, uint64_t deadline)
{
    if (t->slot != WK_TIMER_IDLE) {
        uint64_t old = t->deadline;
        t->deadline = deadline;
        if (deadline < old)
            sift_up(h, t->slot);
        else
            sift_down(h, t->slot);
        return 0;
    }
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct wk_timer **v = realloc(h->v, cap * sizeof *v);
        if (v == NULL)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    t->deadline = deadline;
    place(h, h->len++, t);
    sift_up(h, t->slot);
    return 0;
}

void wk_timer_heap_remove(struct wk_timer_heap *h, struct wk_timer *t)
{
    size_t i = t->slot;
    if (i == WK_TIMER_IDLE)
        return;
    t->slot = WK_TIMER_IDLE;
    struct wk_timer *last = h->v[--h->len];
    if (i == h->len)
        return;
    place(h, i, last);
    if (i > 0 && h->v[(i - 1) / 2]->deadline > last->deadline)
        sift_up(h, i);
    else
        sift_down(h, i);
}

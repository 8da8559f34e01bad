/*
 * test_wk_timer.c: the deadline heap behind the loop's timers
 * (common/timer.c). Random inserts, removes and re-arms are checked against
 * a plain array kept in the obvious way; draining the heap must give the
 * deadlines in sorted order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/timer.h"

enum { NTIMERS = 200, OPS = 1000 };

static void noop(struct wk_timer *t)
{
    (void)t;
}

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The earliest deadline among the armed timers of the reference, or UINT64_MAX. */
static uint64_t ref_min(const struct wk_timer *t, const bool *armed, size_t n)
{
    uint64_t m = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (armed[i] && t[i].deadline < m)
            m = t[i].deadline;
    }
    return m;
}

/* Every armed timer sits where its slot says; parents are never later than children. */
static void check_heap(const struct wk_timer_heap *h, size_t want_len)
{
    assert_int_equal(h->len, want_len);
    for (size_t i = 0; i < h->len; i++) {
        assert_int_equal(h->v[i]->slot, i);
        if (i > 0)
            assert_true(h->v[(i - 1) / 2]->deadline <= h->v[i]->deadline);
    }
}

static void test_empty_heap(void **state)
{
    (void)state;
    struct wk_timer_heap h;
    struct wk_timer t;
    { /* a new heap has no first timer */
        wk_timer_heap_init(&h);
        assert_null(wk_timer_heap_first(&h));
    }
    { /* a new timer is not armed; removing it is harmless */
        wk_timer_init(&t, noop, &h);
        assert_false(wk_timer_is_armed(&t));
        assert_ptr_equal(t.data, &h);
        wk_timer_heap_remove(&h, &t);
        assert_null(wk_timer_heap_first(&h));
    }
    wk_timer_heap_fini(&h);
}

static void test_set_and_remove(void **state)
{
    (void)state;
    struct wk_timer_heap h;
    struct wk_timer a, b, c;
    wk_timer_heap_init(&h);
    wk_timer_init(&a, noop, NULL);
    wk_timer_init(&b, noop, NULL);
    wk_timer_init(&c, noop, NULL);
    { /* the earliest comes first, whatever the order of arming */
        assert_int_equal(wk_timer_heap_set(&h, &a, 300), 0);
        assert_int_equal(wk_timer_heap_set(&h, &b, 100), 0);
        assert_int_equal(wk_timer_heap_set(&h, &c, 200), 0);
        assert_true(wk_timer_is_armed(&a) && wk_timer_is_armed(&b) && wk_timer_is_armed(&c));
        assert_ptr_equal(wk_timer_heap_first(&h), &b);
    }
    { /* re-arming an armed timer moves it rather than adding it twice */
        assert_int_equal(wk_timer_heap_set(&h, &a, 50), 0);
        assert_ptr_equal(wk_timer_heap_first(&h), &a);
        check_heap(&h, 3);
        assert_int_equal(wk_timer_heap_set(&h, &a, 500), 0);
        assert_ptr_equal(wk_timer_heap_first(&h), &b);
        check_heap(&h, 3);
    }
    { /* removing the first promotes the next; removing twice is harmless */
        wk_timer_heap_remove(&h, &b);
        assert_false(wk_timer_is_armed(&b));
        assert_ptr_equal(wk_timer_heap_first(&h), &c);
        wk_timer_heap_remove(&h, &b);
        check_heap(&h, 2);
    }
    { /* fini disarms whatever is left */
        wk_timer_heap_fini(&h);
        assert_false(wk_timer_is_armed(&a));
        assert_false(wk_timer_is_armed(&c));
        assert_null(wk_timer_heap_first(&h));
    }
    { /* and the heap is usable again */
        assert_int_equal(wk_timer_heap_set(&h, &c, 7), 0);
        assert_ptr_equal(wk_timer_heap_first(&h), &c);
        wk_timer_heap_fini(&h);
    }
}

static void test_equal_deadlines(void **state)
{
    (void)state;
    struct wk_timer_heap h;
    struct wk_timer t[10];
    wk_timer_heap_init(&h);
    { /* ties are all served, each once */
        for (int i = 0; i < 10; i++) {
            wk_timer_init(&t[i], noop, NULL);
            assert_int_equal(wk_timer_heap_set(&h, &t[i], 42), 0);
        }
        bool seen[10] = {false};
        for (int i = 0; i < 10; i++) {
            struct wk_timer *f = wk_timer_heap_first(&h);
            assert_non_null(f);
            assert_int_equal(f->deadline, 42);
            assert_false(seen[f - t]);
            seen[f - t] = true;
            wk_timer_heap_remove(&h, f);
        }
        assert_null(wk_timer_heap_first(&h));
    }
    wk_timer_heap_fini(&h);
}

static void test_grows_past_initial_capacity(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct wk_timer_heap h;
    struct wk_timer *t = calloc(N, sizeof *t);
    assert_non_null(t);
    wk_timer_heap_init(&h);
    { /* thousands of timers, armed in descending order, drain ascending */
        for (size_t i = 0; i < N; i++) {
            wk_timer_init(&t[i], noop, NULL);
            assert_int_equal(wk_timer_heap_set(&h, &t[i], (uint64_t)(N - i)), 0);
        }
        check_heap(&h, N);
        for (uint64_t want = 1; want <= N; want++) {
            struct wk_timer *f = wk_timer_heap_first(&h);
            assert_int_equal(f->deadline, want);
            wk_timer_heap_remove(&h, f);
        }
        assert_null(wk_timer_heap_first(&h));
    }
    wk_timer_heap_fini(&h);
    free(t);
}

static void test_random_against_reference(void **state)
{
    (void)state;
    static struct wk_timer t[NTIMERS];
    static bool armed[NTIMERS];
    struct wk_timer_heap h;
    uint32_t seed = 0x9e3779b9u;
    size_t narmed = 0;
    unsigned sets = 0, rearms = 0, removes = 0;

    wk_timer_heap_init(&h);
    for (size_t i = 0; i < NTIMERS; i++) {
        wk_timer_init(&t[i], noop, &t[i]);
        armed[i] = false;
    }
    for (int op = 0; op < OPS; op++) {
        size_t i = next_rand(&seed) % NTIMERS;
        uint32_t kind = next_rand(&seed) % 10;
        /* Deadlines from a small range so that ties are common. */
        uint64_t d = next_rand(&seed) % 500;
        if (kind < 6) { /* arm, or re-arm if armed: earlier and later both happen */
            rearms += armed[i];
            sets += !armed[i];
            assert_int_equal(wk_timer_heap_set(&h, &t[i], d), 0);
            narmed += !armed[i];
            armed[i] = true;
        } else if (kind < 9) { /* remove, armed or not */
            removes += armed[i];
            wk_timer_heap_remove(&h, &t[i]);
            narmed -= armed[i];
            armed[i] = false;
        } else if (wk_timer_heap_first(&h) != NULL) { /* pop the first, as the loop does */
            struct wk_timer *f = wk_timer_heap_first(&h);
            wk_timer_heap_remove(&h, f);
            armed[f - t] = false;
            narmed--;
        }
        for (size_t k = 0; k < NTIMERS; k++)
            assert_int_equal(wk_timer_is_armed(&t[k]), armed[k]);
        check_heap(&h, narmed);
        struct wk_timer *f = wk_timer_heap_first(&h);
        if (narmed == 0)
            assert_null(f);
        else
            assert_int_equal(f->deadline, ref_min(t, armed, NTIMERS));
    }
    assert_true(sets > 100 && rearms > 100 && removes > 50);

    { /* draining gives exactly the sorted deadlines of the reference */
        uint64_t want[NTIMERS];
        size_t n = 0;
        for (size_t i = 0; i < NTIMERS; i++) {
            if (armed[i])
                want[n++] = t[i].deadline;
        }
        qsort(want, n, sizeof want[0], cmp_u64);
        for (size_t k = 0; k < n; k++) {
            struct wk_timer *f = wk_timer_heap_first(&h);
            assert_non_null(f);
            assert_int_equal(f->deadline, want[k]);
            wk_timer_heap_remove(&h, f);
            assert_false(wk_timer_is_armed(f));
        }
        assert_null(wk_timer_heap_first(&h));
    }
    wk_timer_heap_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_heap),
        cmocka_unit_test(test_set_and_remove),
        cmocka_unit_test(test_equal_deadlines),
        cmocka_unit_test(test_grows_past_initial_capacity),
        cmocka_unit_test(test_random_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_wk_registry.c: a listener's list of open connections and its
 * counters (common/registry.c): adding, removing in any order, walking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/registry.h"

/* Walks r and checks that it holds exactly the fds of want, in order. */
static void expect_fds(struct wk_registry *r, const int *want, size_t n)
{
    size_t i = 0;
    WK_REGISTRY_FOREACH(r, it)
    {
        assert_true(i < n);
        assert_int_equal(it->fd, want[i]);
        i++;
    }
    assert_int_equal(i, n);
    assert_int_equal(r->open, n);
}

static void test_empty(void **state)
{
    (void)state;
    struct wk_registry r;
    { /* a new registry is empty, with zero counters */
        wk_registry_init(&r);
        expect_fds(&r, NULL, 0);
        assert_int_equal(r.accepted, 0);
        assert_int_equal(r.closed, 0);
    }
}

static void test_add_remove_counts(void **state)
{
    (void)state;
    struct wk_registry r;
    struct wk_conn_info c[5];
    memset(c, 0, sizeof c);
    wk_registry_init(&r);
    for (int i = 0; i < 5; i++)
        c[i].fd = 10 + i;
    { /* added entries are walked in the order they came */
        for (int i = 0; i < 5; i++)
            wk_registry_add(&r, &c[i]);
        const int want[] = {10, 11, 12, 13, 14};
        expect_fds(&r, want, 5);
        assert_int_equal(r.accepted, 5);
        assert_int_equal(r.closed, 0);
    }
    { /* removing from the middle, the front and the back */
        wk_registry_remove(&r, &c[2]);
        wk_registry_remove(&r, &c[0]);
        wk_registry_remove(&r, &c[4]);
        const int want[] = {11, 13};
        expect_fds(&r, want, 2);
        assert_int_equal(r.accepted, 5);
        assert_int_equal(r.closed, 3);
    }
    { /* an entry removed can come back (a new connection in the same memory) */
        wk_registry_add(&r, &c[0]);
        const int want[] = {11, 13, 10};
        expect_fds(&r, want, 3);
        assert_int_equal(r.accepted, 6);
    }
    { /* removing everything leaves an empty list; counters keep the history */
        wk_registry_remove(&r, &c[1]);
        wk_registry_remove(&r, &c[3]);
        wk_registry_remove(&r, &c[0]);
        expect_fds(&r, NULL, 0);
        assert_int_equal(r.accepted, 6);
        assert_int_equal(r.closed, 6);
        assert_int_equal(r.accepted - r.closed, r.open);
    }
}

static void test_many_entries(void **state)
{
    (void)state;
    enum { N = 1000 };
    static struct wk_conn_info c[N];
    struct wk_registry r;
    wk_registry_init(&r);
    { /* add all, remove every other one, walk the rest */
        for (int i = 0; i < N; i++) {
            c[i].fd = i;
            wk_registry_add(&r, &c[i]);
        }
        for (int i = 0; i < N; i += 2)
            wk_registry_remove(&r, &c[i]);
        int next = 1;
        size_t n = 0;
        WK_REGISTRY_FOREACH(&r, it)
        {
            assert_int_equal(it->fd, next);
            next += 2;
            n++;
        }
        assert_int_equal(n, N / 2);
        assert_int_equal(r.open, N / 2);
        assert_int_equal(r.closed, N / 2);
    }
    { /* entries keep what the socket view shows */
        c[1].bytes_in = 5;
        c[1].phase = "idle";
        WK_REGISTRY_FOREACH(&r, it)
        {
            if (it->fd == 1) {
                assert_int_equal(it->bytes_in, 5);
                assert_string_equal(it->phase, "idle");
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_add_remove_counts),
        cmocka_unit_test(test_many_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_wk_buf.c: the bounded byte buffer (common/buf.c) through its public
 * API: the bound, reserve/commit, consume and compaction against a reference
 * model, printf growth and refusal, getline, and giving memory back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/wk.h"
#include "support/guard.h"

/* Asserts that b holds exactly the n bytes of want. */
static void expect_content(const struct wk_buf *b, const void *want, size_t n)
{
    assert_int_equal(wk_buf_len(b), n);
    if (n)
        assert_memory_equal(wk_buf_data(b), want, n);
}

static void test_init_is_empty(void **state)
{
    (void)state;
    struct wk_buf b;
    { /* a new buffer holds nothing and no memory */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_len(&b), 0);
        assert_null(b.base);
        assert_int_equal(b.max, 100);
    }
    { /* fini of a never-used buffer is harmless, and twice too */
        wk_buf_fini(&b);
        wk_buf_fini(&b);
        assert_null(b.base);
    }
}

static void test_bound_is_exact(void **state)
{
    (void)state;
    struct wk_buf b;
    char data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);

    { /* appends up to the maximum succeed, one byte more is refused */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, data, 60), 0);
        assert_int_equal(wk_buf_append(&b, data + 60, 40), 0);
        expect_content(&b, data, 100);
        assert_int_equal(wk_buf_append(&b, "x", 1), -ENOBUFS);
        expect_content(&b, data, 100);
        wk_buf_fini(&b);
    }
    { /* an append that would pass the bound appends nothing at all */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, data, 99), 0);
        assert_int_equal(wk_buf_append(&b, data, 2), -ENOBUFS);
        expect_content(&b, data, 99);
        assert_int_equal(wk_buf_append(&b, data + 99, 1), 0);
        expect_content(&b, data, 100);
        wk_buf_fini(&b);
    }
    { /* one append larger than the bound is refused on an empty buffer */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, data, 101), -ENOBUFS);
        assert_int_equal(wk_buf_len(&b), 0);
        assert_int_equal(wk_buf_append(&b, data, 100), 0);
        wk_buf_fini(&b);
    }
    { /* appending nothing to a full buffer is fine */
        wk_buf_init(&b, 10);
        assert_int_equal(wk_buf_append(&b, data, 10), 0);
        assert_int_equal(wk_buf_append(&b, data, 0), 0);
        expect_content(&b, data, 10);
        wk_buf_fini(&b);
    }
    { /* consuming makes room again, exactly as much as consumed */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, data, 100), 0);
        wk_buf_consume(&b, 30);
        assert_int_equal(wk_buf_append(&b, data + 100, 31), -ENOBUFS);
        assert_int_equal(wk_buf_append(&b, data + 100, 30), 0);
        expect_content(&b, data + 30, 100);
        wk_buf_fini(&b);
    }
    { /* the allocation never exceeds the bound, small or large */
        size_t maxes[] = {1, 10, 1000, 1024, 1025, 5000, 70000};
        for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
            wk_buf_init(&b, maxes[m]);
            char *big = malloc(maxes[m]);
            assert_non_null(big);
            memset(big, 'z', maxes[m]);
            for (size_t done = 0; done < maxes[m];) {
                size_t n = maxes[m] - done < 333 ? maxes[m] - done : 333;
                assert_int_equal(wk_buf_append(&b, big, n), 0);
                done += n;
                assert_true(b.cap <= maxes[m]);
            }
            assert_int_equal(wk_buf_append(&b, "z", 1), -ENOBUFS);
            expect_content(&b, big, maxes[m]);
            free(big);
            wk_buf_fini(&b);
        }
    }
}

static void test_append_reads_only_its_input(void **state)
{
    (void)state;
    struct wk_buf b;
    { /* the source ends at a guard page: reading past n would fault */
        const char *g = WK_TEST_GUARD_STR("exactly these bytes");
        wk_buf_init(&b, 64);
        assert_int_equal(wk_buf_append(&b, g, strlen("exactly these bytes")), 0);
        expect_content(&b, "exactly these bytes", strlen("exactly these bytes"));
        wk_test_guard_free(g, strlen("exactly these bytes"));
        wk_buf_fini(&b);
    }
}

static void test_reserve_commit(void **state)
{
    (void)state;
    struct wk_buf b;
    char *space;
    size_t avail;
    { /* reserve gives at least n bytes, commit makes them content */
        wk_buf_init(&b, 4096);
        assert_int_equal(wk_buf_reserve(&b, 5, &space, &avail), 0);
        assert_true(avail >= 5);
        memcpy(space, "hello", 5);
        wk_buf_commit(&b, 5);
        expect_content(&b, "hello", 5);
        wk_buf_fini(&b);
    }
    { /* uncommitted bytes are not content */
        wk_buf_init(&b, 4096);
        assert_int_equal(wk_buf_reserve(&b, 10, &space, &avail), 0);
        memcpy(space, "0123456789", 10);
        wk_buf_commit(&b, 3);
        expect_content(&b, "012", 3);
        assert_int_equal(wk_buf_append(&b, "abc", 3), 0);
        expect_content(&b, "012abc", 6);
        wk_buf_fini(&b);
    }
    { /* the room offered never passes the bound */
        wk_buf_init(&b, 50);
        assert_int_equal(wk_buf_append(&b, "0123456789", 10), 0);
        assert_int_equal(wk_buf_reserve(&b, 1, &space, &avail), 0);
        assert_true(avail >= 1 && avail <= 40);
        assert_int_equal(wk_buf_reserve(&b, 40, &space, &avail), 0);
        assert_int_equal(avail, 40);
        assert_int_equal(wk_buf_reserve(&b, 41, &space, &avail), -ENOBUFS);
        wk_buf_fini(&b);
    }
    { /* reserving nothing in a full buffer succeeds with no room */
        wk_buf_init(&b, 8);
        assert_int_equal(wk_buf_append(&b, "01234567", 8), 0);
        assert_int_equal(wk_buf_reserve(&b, 0, &space, &avail), 0);
        assert_int_equal(avail, 0);
        assert_int_equal(wk_buf_reserve(&b, 1, &space, &avail), -ENOBUFS);
        wk_buf_fini(&b);
    }
    { /* a reservation after consuming compacts or grows and keeps the content */
        wk_buf_init(&b, 1u << 20);
        char line[700];
        memset(line, 'q', sizeof line);
        assert_int_equal(wk_buf_append(&b, line, sizeof line), 0);
        wk_buf_consume(&b, 600);
        assert_int_equal(wk_buf_reserve(&b, 1000, &space, &avail), 0);
        assert_true(avail >= 1000);
        memset(space, 'r', 1000);
        wk_buf_commit(&b, 1000);
        assert_int_equal(wk_buf_len(&b), 1100);
        for (size_t i = 0; i < 100; i++)
            assert_int_equal(wk_buf_data(&b)[i], 'q');
        for (size_t i = 100; i < 1100; i++)
            assert_int_equal(wk_buf_data(&b)[i], 'r');
        wk_buf_fini(&b);
    }
}

/* A small deterministic generator, so every run makes the same choices. */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void test_consume_compact_model(void **state)
{
    (void)state;
    enum { MAX = 5000, OPS = 4000 };
    struct wk_buf b;
    /* The reference: the bytes the buffer must hold, kept in a plain array. */
    static unsigned char ref[MAX];
    size_t ref_len = 0;
    uint32_t seed = 0x2545f491u;
    unsigned char counter = 0;
    unsigned char chunk[MAX + 10];

    wk_buf_init(&b, MAX);
    for (int op = 0; op < OPS; op++) {
        uint32_t r = next_rand(&seed);
        if (r % 3 != 0) { /* append, sometimes too much */
            size_t n = next_rand(&seed) % 1500;
            for (size_t i = 0; i < n; i++)
                chunk[i] = counter++;
            int rc = wk_buf_append(&b, chunk, n);
            if (ref_len + n > MAX) {
                assert_int_equal(rc, -ENOBUFS);
                counter = (unsigned char)(counter - n);
            } else {
                assert_int_equal(rc, 0);
                memcpy(ref + ref_len, chunk, n);
                ref_len += n;
            }
        } else if (ref_len > 0) { /* consume some or all */
            size_t n = next_rand(&seed) % (ref_len + 1);
            wk_buf_consume(&b, n);
            memmove(ref, ref + n, ref_len - n);
            ref_len -= n;
        }
        expect_content(&b, ref, ref_len);
        assert_true(b.cap <= MAX);
    }
    { /* consuming everything empties the buffer */
        wk_buf_consume(&b, wk_buf_len(&b));
        assert_int_equal(wk_buf_len(&b), 0);
        assert_int_equal(wk_buf_append(&b, chunk, MAX), 0);
    }
    wk_buf_fini(&b);
}

static void test_cut(void **state)
{
    (void)state;
    struct wk_buf b;
    wk_buf_init(&b, 100);
    { /* removes bytes from the middle, closing the gap */
        assert_int_equal(wk_buf_append(&b, "abcdefgh", 8), 0);
        wk_buf_cut(&b, 2, 3);
        expect_content(&b, "abfgh", 5);
    }
    { /* from the front and at the end */
        wk_buf_cut(&b, 0, 1);
        expect_content(&b, "bfgh", 4);
        wk_buf_cut(&b, 3, 1);
        expect_content(&b, "bfg", 3);
    }
    { /* nothing, anywhere, changes nothing */
        wk_buf_cut(&b, 3, 0);
        wk_buf_cut(&b, 0, 0);
        expect_content(&b, "bfg", 3);
    }
    { /* after a consume, offsets count from the first unconsumed byte */
        wk_buf_consume(&b, 1);
        assert_int_equal(wk_buf_append(&b, "XYZ", 3), 0);
        wk_buf_cut(&b, 1, 2);
        expect_content(&b, "fYZ", 3);
    }
    { /* cutting everything empties it, and the room comes back */
        wk_buf_cut(&b, 0, 3);
        assert_int_equal(wk_buf_len(&b), 0);
        char fill[100];
        memset(fill, 'c', sizeof fill);
        assert_int_equal(wk_buf_append(&b, fill, 100), 0);
    }
    wk_buf_fini(&b);
}

static void test_reset_keeps_memory(void **state)
{
    (void)state;
    struct wk_buf b;
    { /* reset empties but keeps the allocation for the next use */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, "abc", 3), 0);
        char *base = b.base;
        wk_buf_reset(&b);
        assert_int_equal(wk_buf_len(&b), 0);
        assert_ptr_equal(b.base, base);
        assert_int_equal(wk_buf_append(&b, "de", 2), 0);
        expect_content(&b, "de", 2);
        wk_buf_fini(&b);
    }
}

static void test_printf(void **state)
{
    (void)state;
    struct wk_buf b;
    { /* formats and appends, without a NUL as content */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_printf(&b, "%d %s", 250, "OK"), 0);
        expect_content(&b, "250 OK", 6);
        assert_int_equal(wk_buf_printf(&b, "\r\n"), 0);
        expect_content(&b, "250 OK\r\n", 8);
        wk_buf_fini(&b);
    }
    { /* an empty format appends nothing */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_printf(&b, "%s", ""), 0);
        assert_int_equal(wk_buf_len(&b), 0);
        wk_buf_fini(&b);
    }
    { /* a long result grows the buffer in one call */
        char *s = malloc(3001);
        assert_non_null(s);
        memset(s, 'L', 3000);
        s[3000] = '\0';
        wk_buf_init(&b, 1u << 16);
        assert_int_equal(wk_buf_printf(&b, "<%s>", s), 0);
        assert_int_equal(wk_buf_len(&b), 3002);
        assert_int_equal(wk_buf_data(&b)[0], '<');
        assert_memory_equal(wk_buf_data(&b) + 1, s, 3000);
        assert_int_equal(wk_buf_data(&b)[3001], '>');
        free(s);
        wk_buf_fini(&b);
    }
    { /* growth keeps the bytes already there */
        wk_buf_init(&b, 1u << 16);
        assert_int_equal(wk_buf_append(&b, "head:", 5), 0);
        char s[2000];
        memset(s, 'm', sizeof s - 1);
        s[sizeof s - 1] = '\0';
        assert_int_equal(wk_buf_printf(&b, "%s", s), 0);
        assert_int_equal(wk_buf_len(&b), 5 + sizeof s - 1);
        assert_memory_equal(wk_buf_data(&b), "head:", 5);
        assert_memory_equal(wk_buf_data(&b) + 5, s, sizeof s - 1);
        wk_buf_fini(&b);
    }
    { /* a result longer than the room left is refused, nothing appended */
        wk_buf_init(&b, 10);
        assert_int_equal(wk_buf_append(&b, "abc", 3), 0);
        assert_int_equal(wk_buf_printf(&b, "%s", "12345678"), -ENOBUFS);
        expect_content(&b, "abc", 3);
        wk_buf_fini(&b);
    }
    { /* a full buffer refuses any non-empty result */
        wk_buf_init(&b, 4);
        assert_int_equal(wk_buf_append(&b, "abcd", 4), 0);
        assert_int_equal(wk_buf_printf(&b, "x"), -ENOBUFS);
        expect_content(&b, "abcd", 4);
        wk_buf_fini(&b);
    }
    { /* an empty result still fits a full buffer */
        wk_buf_init(&b, 4);
        assert_int_equal(wk_buf_append(&b, "abcd", 4), 0);
        assert_int_equal(wk_buf_printf(&b, "%s", ""), 0);
        expect_content(&b, "abcd", 4);
        wk_buf_fini(&b);
    }
    { /* one byte less than the room is accepted */
        wk_buf_init(&b, 10);
        assert_int_equal(wk_buf_printf(&b, "%s", "012345678"), 0);
        expect_content(&b, "012345678", 9);
        wk_buf_fini(&b);
    }
}

static void test_printf_exactly_to_the_bound(void **state)
{
    (void)state;
    struct wk_buf b;
    { /* a result that fills the buffer exactly to its maximum fits */
        wk_buf_init(&b, 10);
        assert_int_equal(wk_buf_printf(&b, "%s", "0123456789"), 0);
        expect_content(&b, "0123456789", 10);
        wk_buf_fini(&b);
    }
    { /* the same after other content: the last bytes of room are usable */
        wk_buf_init(&b, 100);
        char fill[90];
        memset(fill, 'f', sizeof fill);
        assert_int_equal(wk_buf_append(&b, fill, sizeof fill), 0);
        assert_int_equal(wk_buf_printf(&b, "%d", 1234567890), 0);
        assert_int_equal(wk_buf_len(&b), 100);
        assert_memory_equal(wk_buf_data(&b) + 90, "1234567890", 10);
        wk_buf_fini(&b);
    }
}

static void test_getline(void **state)
{
    (void)state;
    struct wk_buf b;
    { /* an empty buffer has no line */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_getline(&b, 50), 0);
        wk_buf_fini(&b);
    }
    { /* a line's length includes its LF */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, WK_STRLIT("HELO x\r\nrest")), 0);
        assert_int_equal(wk_buf_getline(&b, 50), 8);
        wk_buf_fini(&b);
    }
    { /* no LF yet: wait for more */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, "partial", 7), 0);
        assert_int_equal(wk_buf_getline(&b, 50), 0);
        wk_buf_fini(&b);
    }
    { /* max bytes without an LF is too long; one less is still waiting */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, "0123456789", 10), 0);
        assert_int_equal(wk_buf_getline(&b, 11), 0);
        assert_int_equal(wk_buf_getline(&b, 10), -EMSGSIZE);
        assert_int_equal(wk_buf_getline(&b, 5), -EMSGSIZE);
        wk_buf_fini(&b);
    }
    { /* a line of exactly max bytes (LF included) is a line */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, "012345678\nmore", 14), 0);
        assert_int_equal(wk_buf_getline(&b, 10), 10);
        assert_int_equal(wk_buf_getline(&b, 9), -EMSGSIZE);
        wk_buf_fini(&b);
    }
    { /* lines come one after the other as they are consumed */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, "a\nbb\n\nccc", 9), 0);
        ssize_t n = wk_buf_getline(&b, 50);
        assert_int_equal(n, 2);
        wk_buf_consume(&b, (size_t)n);
        assert_int_equal((n = wk_buf_getline(&b, 50)), 3);
        assert_memory_equal(wk_buf_data(&b), "bb\n", 3);
        wk_buf_consume(&b, (size_t)n);
        assert_int_equal((n = wk_buf_getline(&b, 50)), 1);
        wk_buf_consume(&b, (size_t)n);
        assert_int_equal(wk_buf_getline(&b, 50), 0);
        assert_int_equal(wk_buf_append(&b, "\n", 1), 0);
        assert_int_equal(wk_buf_getline(&b, 50), 4);
        wk_buf_fini(&b);
    }
    { /* an LF left in the memory beyond the content is not a line */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, "abc\n", 4), 0);
        wk_buf_consume(&b, 4);
        assert_int_equal(wk_buf_append(&b, "ab", 2), 0);
        assert_int_equal(wk_buf_getline(&b, 50), 0);
        wk_buf_fini(&b);
    }
}

static void test_release_if_empty(void **state)
{
    (void)state;
    struct wk_buf b;
    { /* a buffer with content keeps its memory */
        wk_buf_init(&b, 100);
        assert_int_equal(wk_buf_append(&b, "x", 1), 0);
        wk_buf_release_if_empty(&b);
        assert_non_null(b.base);
        expect_content(&b, "x", 1);
    }
    { /* once consumed, the memory is given back and the bound stays */
        wk_buf_consume(&b, 1);
        wk_buf_release_if_empty(&b);
        assert_null(b.base);
        assert_int_equal(b.cap, 0);
        assert_int_equal(b.max, 100);
    }
    { /* and the buffer works again afterwards, up to the same bound */
        char fill[100];
        memset(fill, 'k', sizeof fill);
        assert_int_equal(wk_buf_append(&b, fill, 100), 0);
        assert_int_equal(wk_buf_append(&b, "k", 1), -ENOBUFS);
        wk_buf_fini(&b);
    }
    { /* releasing a never-used buffer is harmless */
        wk_buf_init(&b, 100);
        wk_buf_release_if_empty(&b);
        assert_null(b.base);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_is_empty),
        cmocka_unit_test(test_bound_is_exact),
        cmocka_unit_test(test_append_reads_only_its_input),
        cmocka_unit_test(test_reserve_commit),
        cmocka_unit_test(test_consume_compact_model),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_reset_keeps_memory),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_printf_exactly_to_the_bound),
        cmocka_unit_test(test_getline),
        cmocka_unit_test(test_release_if_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_http_range.c: the Range header (httpd/range.c), RFC 9110 14.1/14.2,
 * case by case. Each value is parsed from the end of a guard page, and every
 * prefix of it too: a truncated value must give a consistent answer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "httpd/range.h"
#include "support/guard.h"

#define NONE HTTP_RANGE_NONE
#define OK HTTP_RANGE_OK
#define UNSAT HTTP_RANGE_UNSATISFIABLE

static void on_prefix(const char *p, size_t n, void *arg)
{
    uint64_t size = *(const uint64_t *)arg;
    uint64_t start = 7, count = 7;
    enum http_range_result r = http_range_parse(p, n, size, &start, &count);
    if (r == OK) {
        assert_true(count >= 1);
        assert_true(start < size);
        assert_true(count <= size - start);
    } else {
        assert_true(r == NONE || r == UNSAT);
        assert_true(start == 0 && count == 0);
    }
}

static void expect_range(const char *v, uint64_t size, enum http_range_result want,
                         uint64_t want_start, uint64_t want_count)
{
    size_t len = strlen(v);
    const char *g = wk_test_guard(v, len);
    uint64_t start = 7, count = 7;
    enum http_range_result r = http_range_parse(g, len, size, &start, &count);
    wk_test_guard_free(g, len);
    if (r != want)
        fail_msg("\"%s\" size %ju: result %d, want %d", v, (uintmax_t)size, r, want);
    assert_int_equal(start, want_start);
    assert_int_equal(count, want_count);
    wk_test_each_prefix(v, len, on_prefix, &size);
}

static void expect_none(const char *v, uint64_t size)
{
    expect_range(v, size, NONE, 0, 0);
}

static void expect_unsat(const char *v, uint64_t size)
{
    expect_range(v, size, UNSAT, 0, 0);
}

static void test_single_ranges(void **state)
{
    (void)state;
    { /* first-pos and last-pos */
        expect_range("bytes=0-99", 1000, OK, 0, 100);
        expect_range("bytes=100-199", 1000, OK, 100, 100);
        expect_range("bytes=0-0", 1000, OK, 0, 1);
        expect_range("bytes=999-999", 1000, OK, 999, 1);
    }
    { /* open-ended */
        expect_range("bytes=500-", 1000, OK, 500, 500);
        expect_range("bytes=0-", 1000, OK, 0, 1000);
        expect_range("bytes=999-", 1000, OK, 999, 1);
    }
    { /* suffix */
        expect_range("bytes=-100", 1000, OK, 900, 100);
        expect_range("bytes=-1", 1000, OK, 999, 1);
        expect_range("bytes=-1000", 1000, OK, 0, 1000);
    }
    { /* leading zeros are digits like any other */
        expect_range("bytes=007-0010", 1000, OK, 7, 4);
    }
    { /* a one-byte representation */
        expect_range("bytes=0-0", 1, OK, 0, 1);
        expect_range("bytes=-1", 1, OK, 0, 1);
        expect_range("bytes=0-", 1, OK, 0, 1);
    }
}

static void test_clamping(void **state)
{
    (void)state;
    { /* last-pos past the end is clamped */
        expect_range("bytes=900-5000", 1000, OK, 900, 100);
        expect_range("bytes=0-1000", 1000, OK, 0, 1000);
    }
    { /* a suffix longer than the representation means all of it */
        expect_range("bytes=-5000", 1000, OK, 0, 1000);
        expect_range("bytes=-1001", 1000, OK, 0, 1000);
    }
    { /* 64-bit limits: saturate, never wrap */
        expect_range("bytes=0-18446744073709551615", 1000, OK, 0, 1000);
        expect_range("bytes=0-18446744073709551616", 1000, OK, 0, 1000);
        expect_range("bytes=5-99999999999999999999999999", 1000, OK, 5, 995);
        expect_range("bytes=-18446744073709551616", 1000, OK, 0, 1000);
        expect_range("bytes=-99999999999999999999999999", 1000, OK, 0, 1000);
    }
    { /* the largest representation */
        expect_range("bytes=0-", UINT64_MAX, OK, 0, UINT64_MAX);
        expect_range("bytes=-18446744073709551615", UINT64_MAX, OK, 0, UINT64_MAX);
        expect_range("bytes=18446744073709551614-", UINT64_MAX, OK, UINT64_MAX - 1, 1);
        expect_unsat("bytes=18446744073709551615-", UINT64_MAX);
    }
}

static void test_unsatisfiable(void **state)
{
    (void)state;
    { /* first-pos at or past the end */
        expect_unsat("bytes=1000-", 1000);
        expect_unsat("bytes=1000-2000", 1000);
        expect_unsat("bytes=5000-", 1000);
    }
    { /* first-pos too large for 64 bits */
        expect_unsat("bytes=18446744073709551616-", 1000);
        expect_unsat("bytes=99999999999999999999999999-", 1000);
    }
    { /* an empty suffix */
        expect_unsat("bytes=-0", 1000);
        expect_unsat("bytes=-000", 1000);
    }
    { /* any range of an empty representation */
        expect_unsat("bytes=0-", 0);
        expect_unsat("bytes=0-0", 0);
        expect_unsat("bytes=-1", 0);
        expect_unsat("bytes=-0", 0);
    }
}

static void test_ignored(void **state)
{
    (void)state;
    { /* empty or no range-set */
        expect_none("", 1000);
        expect_none("bytes", 1000);
        expect_none("bytes=", 1000);
        expect_none("bytes=,", 1000);
        expect_none("bytes= , ,", 1000);
    }
    { /* other units */
        expect_none("items=0-1", 1000);
        expect_none("none", 1000);
        expect_none("byte=0-1", 1000);
        expect_none("bytesx=0-1", 1000);
        expect_none("bytes0-1", 1000);
    }
    { /* malformed range-specs */
        expect_none("bytes=-", 1000);
        expect_none("bytes=--1", 1000);
        expect_none("bytes=1", 1000);
        expect_none("bytes=a-b", 1000);
        expect_none("bytes=0x10-", 1000);
        expect_none("bytes=+1-2", 1000);
        expect_none("bytes=1-+2", 1000);
        expect_none("bytes=0-1-2", 1000);
        expect_none("bytes=0-1;x", 1000);
        expect_none("bytes=0-1 2", 1000);
        expect_none("bytes=1.5-2", 1000);
    }
    { /* last-pos before first-pos: invalid, not unsatisfiable */
        expect_none("bytes=1-0", 1000);
        expect_none("bytes=500-499", 1000);
        expect_none("bytes=5000-4000", 1000);
    }
    { /* one invalid range-spec voids the whole header */
        expect_none("bytes=1-0,0-1", 1000);
        expect_none("bytes=0-1,x", 1000);
        expect_none("bytes=5000-,1-0", 1000);
    }
}

static void test_syntax_tolerance(void **state)
{
    (void)state;
    { /* the unit is case-insensitive */
        expect_range("BYTES=0-1", 1000, OK, 0, 2);
        expect_range("Bytes=0-1", 1000, OK, 0, 2);
    }
    { /* OWS around the value and around list commas */
        expect_range(" bytes=0-1 ", 1000, OK, 0, 2);
        expect_range("\tbytes=0-1\t", 1000, OK, 0, 2);
        expect_range("bytes= 0-1", 1000, OK, 0, 2);
        expect_range("bytes=0-1 ,", 1000, OK, 0, 2);
    }
    { /* empty list elements */
        expect_range("bytes=,0-1", 1000, OK, 0, 2);
        expect_range("bytes=0-1,", 1000, OK, 0, 2);
        expect_range("bytes=, ,0-1, ,", 1000, OK, 0, 2);
    }
    { /* no whitespace around '=' or inside a range-spec */
        expect_none("bytes =0-1", 1000);
        expect_none("bytes= 0 -1", 1000);
        expect_none("bytes=0- 1", 1000);
        expect_none("bytes=- 1", 1000);
    }
}

static void test_several_ranges(void **state)
{
    (void)state;
    { /* several satisfiable ranges: the whole representation instead */
        expect_none("bytes=0-1,5-6", 1000);
        expect_none("bytes=0-1, 5-6", 1000);
        expect_none("bytes=0-0,-1", 1000);
        expect_none("bytes=0-1,0-1", 1000);
    }
    { /* one satisfiable among unsatisfiable ones: still the whole */
        expect_none("bytes=2000-,0-1", 1000);
        expect_none("bytes=-0,5-", 1000);
    }
    { /* none satisfiable */
        expect_unsat("bytes=2000-3000,5000-", 1000);
        expect_unsat("bytes=-0,2000-", 1000);
        expect_unsat("bytes=0-1,-1", 0);
    }
}

static void expect_content_range(uint64_t start, uint64_t count, uint64_t size,
                                 const char *want)
{
    char out[64];
    size_t n = strlen(want);
    assert_int_equal(http_range_content_range(out, sizeof(out), start, count, size), n);
    assert_string_equal(out, want);
    /* exactly enough room, and one byte less */
    assert_int_equal(http_range_content_range(out, n + 1, start, count, size), n);
    assert_int_equal(http_range_content_range(out, n, start, count, size), -ENAMETOOLONG);
}

static void test_content_range(void **state)
{
    (void)state;
    { /* a range */
        expect_content_range(0, 100, 1000, "bytes 0-99/1000");
        expect_content_range(999, 1, 1000, "bytes 999-999/1000");
    }
    { /* unsatisfiable: count 0 */
        expect_content_range(0, 0, 1000, "bytes */1000");
        expect_content_range(0, 0, 0, "bytes */0");
    }
    { /* the largest numbers */
        expect_content_range(0, UINT64_MAX, UINT64_MAX,
                             "bytes 0-18446744073709551614/18446744073709551615");
    }
    { /* no room at all */
        char out[1];
        assert_int_equal(http_range_content_range(out, 0, 0, 1, 1), -ENAMETOOLONG);
    }
    { /* what the parser returns, formatted */
        uint64_t start, count;
        char out[64];
        assert_int_equal(http_range_parse("bytes=-100", 10, 1000, &start, &count), OK);
        assert_int_equal(http_range_content_range(out, sizeof(out), start, count, 1000), 18);
        assert_string_equal(out, "bytes 900-999/1000");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_ranges),  cmocka_unit_test(test_clamping),
        cmocka_unit_test(test_unsatisfiable),  cmocka_unit_test(test_ignored),
        cmocka_unit_test(test_syntax_tolerance), cmocka_unit_test(test_several_ranges),
        cmocka_unit_test(test_content_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_wk_json.c: the JSON writer (common/json.c): commas and nesting,
 * string escapes, numbers, the sticky first error and misuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/json.h"

static void expect(const struct wk_buf *b, const char *want)
{
    assert_int_equal(wk_buf_len(b), strlen(want));
    assert_memory_equal(wk_buf_data(b), want, strlen(want));
}

static void test_nesting_and_commas(void **state)
{
    (void)state;
    struct wk_buf b;
    wk_buf_init(&b, 4096);
    struct wk_json j;
    wk_json_init(&j, &b);
    wk_json_object(&j);
    wk_json_key(&j, "a");
    wk_json_uint(&j, 1);
    wk_json_key(&j, "list");
    wk_json_array(&j);
    wk_json_int(&j, -2);
    wk_json_object(&j);
    wk_json_close(&j);
    wk_json_array(&j);
    wk_json_close(&j);
    wk_json_bool(&j, true);
    wk_json_null(&j);
    wk_json_string(&j, NULL);
    wk_json_close(&j);
    wk_json_key(&j, "raw");
    wk_json_raw(&j, "{\"x\":0}", 7);
    wk_json_key(&j, "max");
    wk_json_uint(&j, UINT64_MAX);
    wk_json_key(&j, "min");
    wk_json_int(&j, INT64_MIN);
    wk_json_close(&j);
    assert_int_equal(wk_json_end(&j), 0);
    expect(&b, "{\"a\":1,\"list\":[-2,{},[],true,null,null],\"raw\":{\"x\":0},"
               "\"max\":18446744073709551615,\"min\":-9223372036854775808}");
    wk_buf_fini(&b);
}

static void test_string_escapes(void **state)
{
    (void)state;
    struct wk_buf b;
    wk_buf_init(&b, 4096);
    struct wk_json j;
    wk_json_init(&j, &b);
    /* quote, backslash, the named controls, other controls, DEL and UTF-8 as they are */
    const char s[] = "q\"b\\n\nr\rt\t\x01\x1f\x7f\xc3\xa9/";
    wk_json_string_n(&j, s, sizeof s - 1);
    wk_json_string_n(&j, "nul\0x", 5);
    assert_int_equal(wk_json_end(&j), 0);
    expect(&b, "\"q\\\"b\\\\n\\nr\\rt\\t\\u0001\\u001f\x7f\xc3\xa9/\",\"nul\\u0000x\"");
    wk_buf_fini(&b);
}

static void test_full_buffer_sticks(void **state)
{
    (void)state;
    struct wk_buf b;
    wk_buf_init(&b, 10);
    struct wk_json j;
    wk_json_init(&j, &b);
    wk_json_array(&j);
    wk_json_string(&j, "0123456789abc");
    wk_json_uint(&j, 1); /* would fit, but the error sticks */
    wk_json_close(&j);
    assert_int_equal(wk_json_end(&j), -ENOBUFS);
    assert_int_equal(wk_buf_len(&b), 2); /* "[\"", then nothing after the failed append */
    wk_buf_fini(&b);
}

static void test_misuse(void **state)
{
    (void)state;
    struct wk_buf b;
    wk_buf_init(&b, 4096);
    struct wk_json j;
    { /* a container left open */
        wk_json_init(&j, &b);
        wk_json_object(&j);
        assert_int_equal(wk_json_end(&j), -EINVAL);
    }
    { /* a close with nothing open */
        wk_json_init(&j, &b);
        wk_json_close(&j);
        assert_int_equal(wk_json_end(&j), -EINVAL);
    }
    { /* a key without its value */
        wk_json_init(&j, &b);
        wk_json_object(&j);
        wk_json_key(&j, "k");
        wk_json_close(&j);
        assert_int_equal(wk_json_end(&j), -EINVAL);
    }
    { /* nesting deeper than the bound */
        wk_json_init(&j, &b);
        for (int i = 0; i <= WK_JSON_DEPTH; i++)
            wk_json_array(&j);
        assert_int_equal(wk_json_end(&j), -E2BIG);
    }
    wk_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nesting_and_commas),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_full_buffer_sticks),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

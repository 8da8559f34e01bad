/*
 * test_http_html.c: HTML escaping and URL encoding into bounded buffers
 * (httpd/html.c). Inputs come from the end of a guard page; every append is
 * whole or nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "httpd/html.h"
#include "support/guard.h"

typedef int (*encode_fn)(struct wk_buf *, const char *, size_t);

/* Encodes in[0..len) into an empty buffer and compares with want[0..want_len). */
static void expect_out_n(encode_fn fn, const char *in, size_t len, const char *want,
                         size_t want_len)
{
    struct wk_buf b;
    wk_buf_init(&b, 4096);
    const char *g = wk_test_guard(in, len);
    assert_int_equal(fn(&b, g, len), 0);
    wk_test_guard_free(g, len);
    assert_int_equal(wk_buf_len(&b), want_len);
    assert_memory_equal(len ? wk_buf_data(&b) : "", want, want_len);
    wk_buf_fini(&b);
}

static void expect_out(encode_fn fn, const char *in, const char *want)
{
    expect_out_n(fn, in, strlen(in), want, strlen(want));
}

/* With room for one byte less than the result, nothing at all is appended. */
static void expect_all_or_nothing(encode_fn fn, const char *in, size_t want_len)
{
    struct wk_buf b;
    wk_buf_init(&b, 3 + want_len - 1);
    assert_int_equal(wk_buf_append(&b, "ab|", 3), 0);
    assert_int_equal(fn(&b, in, strlen(in)), -ENOBUFS);
    assert_int_equal(wk_buf_len(&b), 3);
    assert_memory_equal(wk_buf_data(&b), "ab|", 3);
    b.max++;
    assert_int_equal(fn(&b, in, strlen(in)), 0);
    assert_int_equal(wk_buf_len(&b), 3 + want_len);
    wk_buf_fini(&b);
}

static void test_html_escape(void **state)
{
    (void)state;
    { /* the five characters */
        expect_out(http_html_escape, "&", "&amp;");
        expect_out(http_html_escape, "<", "&lt;");
        expect_out(http_html_escape, ">", "&gt;");
        expect_out(http_html_escape, "\"", "&quot;");
        expect_out(http_html_escape, "'", "&#39;");
    }
    { /* in context */
        expect_out(http_html_escape, "<script>alert('x')</script>",
                   "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        expect_out(http_html_escape, "a \"b\" & c", "a &quot;b&quot; &amp; c");
    }
    { /* an existing reference is escaped again */
        expect_out(http_html_escape, "&amp;", "&amp;amp;");
    }
    { /* everything else is copied: text, UTF-8, controls, NUL */
        expect_out(http_html_escape, "plain text 123", "plain text 123");
        expect_out(http_html_escape, "caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93");
        expect_out_n(http_html_escape, "a\0b\n", 4, "a\0b\n", 4);
        expect_out(http_html_escape, "%2F/=", "%2F/=");
    }
    { /* empty */
        expect_out(http_html_escape, "", "");
    }
}

static void test_url_encode(void **state)
{
    (void)state;
    { /* unreserved characters stay */
        expect_out(http_url_encode, "AZaz09-._~", "AZaz09-._~");
    }
    { /* '/' is encoded: the input is one segment */
        expect_out(http_url_encode, "a/b", "a%2Fb");
    }
    { /* gen-delims and sub-delims are encoded */
        expect_out(http_url_encode, ":/?#[]@", "%3A%2F%3F%23%5B%5D%40");
        expect_out(http_url_encode, "!$&'()*+,;=", "%21%24%26%27%28%29%2A%2B%2C%3B%3D");
    }
    { /* space, percent, quotes, angle brackets */
        expect_out(http_url_encode, "a b%c\"<>", "a%20b%25c%22%3C%3E");
    }
    { /* UTF-8 bytes, upper-case hex */
        expect_out(http_url_encode, "caf\xc3\xa9", "caf%C3%A9");
        expect_out(http_url_encode, "\xff\x80", "%FF%80");
    }
    { /* controls and NUL */
        expect_out_n(http_url_encode, "\0\n\x7f", 3, "%00%0A%7F", 9);
    }
    { /* a name that would look like a scheme in a relative link */
        expect_out(http_url_encode, "javascript:x", "javascript%3Ax");
    }
    { /* empty */
        expect_out(http_url_encode, "", "");
    }
}

static void test_bounds(void **state)
{
    (void)state;
    { /* escaping: the bound is checked for the escaped length */
        expect_all_or_nothing(http_html_escape, "<&>", 13);
        expect_all_or_nothing(http_html_escape, "abc", 3);
    }
    { /* encoding likewise */
        expect_all_or_nothing(http_url_encode, "a b", 5);
        expect_all_or_nothing(http_url_encode, "abc", 3);
    }
    { /* appends go after what the buffer holds */
        struct wk_buf b;
        wk_buf_init(&b, 64);
        assert_int_equal(http_html_escape(&b, "<", 1), 0);
        assert_int_equal(http_url_encode(&b, " ", 1), 0);
        assert_int_equal(http_html_escape(&b, "x", 1), 0);
        assert_int_equal(wk_buf_len(&b), 8);
        assert_memory_equal(wk_buf_data(&b), "&lt;%20x", 8);
        wk_buf_fini(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_escape),
        cmocka_unit_test(test_url_encode),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

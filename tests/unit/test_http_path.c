/*
 * test_http_path.c: request-target normalization (httpd/path.c), case by
 * case. Every input is read from the end of a guard page, with an output
 * buffer of exactly len + 1 bytes on the heap, and every prefix of it is fed
 * too (a truncated target must never fault or produce a bad path).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/wk.h"
#include "httpd/path.h"
#include "support/guard.h"

/* Runs the normalizer on a guard-page copy of in[0..len) with room len + 1. */
static int normalize(const char *in, size_t len, char **out, size_t *outlen)
{
    const char *g = wk_test_guard(in, len);
    *out = malloc(len + 1);
    assert_non_null(*out);
    int rc = http_path_normalize(g, len, *out, len + 1, outlen);
    wk_test_guard_free(g, len);
    return rc;
}

/* What any successful result must look like. */
static void assert_clean(const char *p, size_t n)
{
    assert_int_equal(p[n], '\0');
    assert_int_equal(p[0], '/');
    assert_null(strstr(p, "//"));
    assert_null(strstr(p, "/./"));
    assert_null(strstr(p, "/../"));
    assert_false(n >= 2 && strcmp(p + n - 2, "/.") == 0);
    assert_false(n >= 3 && strcmp(p + n - 3, "/..") == 0);
}

static void on_prefix(const char *p, size_t n, void *arg)
{
    char *out = malloc(n + 1);
    size_t outlen = 0;
    (void)arg;
    assert_non_null(out);
    int rc = http_path_normalize(p, n, out, n + 1, &outlen);
    if (rc == 0)
        assert_clean(out, outlen);
    else /* len + 1 bytes are always enough */
        assert_true(rc == -EINVAL || rc == -EPERM);
    free(out);
}

static void expect_path_n(const char *in, size_t len, const char *want)
{
    char *out;
    size_t outlen = 12345;
    int rc = normalize(in, len, &out, &outlen);
    if (rc != 0)
        fail_msg("\"%s\": rc %d, want \"%s\"", in, rc, want);
    assert_string_equal(out, want);
    assert_int_equal(outlen, strlen(want));
    assert_clean(out, outlen);
    free(out);

    /* One byte less than the result needs is too small. */
    char small[256];
    assert_true(strlen(want) < sizeof(small));
    const char *g = wk_test_guard(in, len);
    assert_int_equal(http_path_normalize(g, len, small, strlen(want), &outlen), -ENAMETOOLONG);
    wk_test_guard_free(g, len);

    wk_test_each_prefix(in, len, on_prefix, NULL);
}

static void expect_path(const char *in, const char *want)
{
    expect_path_n(in, strlen(in), want);
}

static void expect_error_n(const char *in, size_t len, int want_rc)
{
    char *out;
    size_t outlen = 12345;
    int rc = normalize(in, len, &out, &outlen);
    if (rc != want_rc)
        fail_msg("\"%s\": rc %d, want %d", in, rc, want_rc);
    assert_int_equal(outlen, 12345); /* untouched on error */
    free(out);
    wk_test_each_prefix(in, len, on_prefix, NULL);
}

static void expect_error(const char *in, int want_rc)
{
    expect_error_n(in, strlen(in), want_rc);
}

static void test_plain_paths(void **state)
{
    (void)state;
    { /* the root */
        expect_path("/", "/");
    }
    { /* a file, a nested file */
        expect_path("/index.html", "/index.html");
        expect_path("/a/b/c.txt", "/a/b/c.txt");
    }
    { /* a trailing slash is kept */
        expect_path("/a/b/", "/a/b/");
    }
    { /* dots that are not dot-segments stay */
        expect_path("/...", "/...");
        expect_path("/.hidden", "/.hidden");
        expect_path("/a..b/.c./..d", "/a..b/.c./..d");
    }
    { /* characters that need no encoding in a path are kept as they are */
        expect_path("/a-b_c~d!$&'()*+,;=:@", "/a-b_c~d!$&'()*+,;=:@");
    }
}

static void test_dot_segments(void **state)
{
    (void)state;
    { /* RFC 3986 5.2.4 */
        expect_path("/a/./b/../c", "/a/c");
        expect_path("/a/b/c/./../../g", "/a/g");
        expect_path("/a/b/../../c", "/c");
    }
    { /* a path ending in "." or ".." ends in '/' */
        expect_path("/a/b/.", "/a/b/");
        expect_path("/a/b/..", "/a/");
        expect_path("/a/..", "/");
        expect_path("/.", "/");
        expect_path("/./", "/");
        expect_path("/a/b/./", "/a/b/");
    }
    { /* percent-encoded dots are dots */
        expect_path("/a/%2e/b", "/a/b");
        expect_path("/a/%2e%2E/b", "/b");
        expect_path("/a/.%2e/b", "/b");
    }
}

static void test_climbing_above_root(void **state)
{
    (void)state;
    { /* plain ".." at the root */
        expect_error("/..", -EPERM);
        expect_error("/../", -EPERM);
        expect_error("/../a", -EPERM);
    }
    { /* more ".." than segments */
        expect_error("/a/../..", -EPERM);
        expect_error("/a/../../b", -EPERM);
        expect_error("/a/b/../../../etc/passwd", -EPERM);
    }
    { /* encoded dots and slashes */
        expect_error("/%2e%2e", -EPERM);
        expect_error("/%2E%2e/", -EPERM);
        expect_error("/..%2f..%2fetc/passwd", -EPERM);
        expect_error("/a%2F..%2F..%2Fetc", -EPERM);
        expect_error("/.%2e/x", -EPERM);
    }
    { /* a query does not hide it */
        expect_error("/../?x", -EPERM);
    }
}

static void test_not_a_path(void **state)
{
    (void)state;
    { /* relative references and bare dots */
        expect_error("../", -EINVAL);
        expect_error("..", -EINVAL);
        expect_error("%2e%2e", -EINVAL);
        expect_error("%2E%2e/", -EINVAL);
        expect_error("a/b", -EINVAL);
    }
    { /* asterisk-form and authority-form */
        expect_error("*", -EINVAL);
        expect_error("example.com:443", -EINVAL);
    }
    { /* empty */
        expect_error("", -EINVAL);
    }
    { /* a leading slash must be raw, not encoded */
        expect_error("%2fetc", -EINVAL);
    }
    { /* a query or fragment alone */
        expect_error("?a", -EINVAL);
        expect_error("#a", -EINVAL);
    }
}

static void test_slashes(void **state)
{
    (void)state;
    { /* empty segments collapse */
        expect_path("//etc", "/etc");
        expect_path("/a//b///c", "/a/b/c");
        expect_path("//", "/");
        expect_path("/a//", "/a/");
    }
    { /* %2F is an ordinary separator once decoded */
        expect_path("/%2fetc", "/etc");
        expect_path("/a%2Fb", "/a/b");
        expect_path("/%2F", "/");
        expect_path("/a%2F", "/a/");
        expect_path("/a%2f%2f%2fb", "/a/b");
    }
}

static void test_percent_decoding(void **state)
{
    (void)state;
    { /* decoded once: "%25" becomes '%' and stays literal */
        expect_path("/%252e%252e/", "/%2e%2e/");
        expect_path("/%2541", "/%41");
        expect_path("/100%25", "/100%");
    }
    { /* both hex cases */
        expect_path("/%41%42%4a%4A", "/ABJJ");
    }
    { /* space and other delimiters, encoded */
        expect_path("/a%20b", "/a b");
        expect_path("/a%3Fb%23c", "/a?b#c");
    }
    { /* UTF-8 names, encoded and raw */
        expect_path("/caf%C3%A9/%E2%9C%93.txt", "/caf\xc3\xa9/\xe2\x9c\x93.txt");
        expect_path("/caf\xc3\xa9", "/caf\xc3\xa9");
    }
    { /* decoded control bytes other than NUL are ordinary name bytes */
        expect_path("/a%0Ab", "/a\nb");
    }
    { /* bad escapes */
        expect_error("/%", -EINVAL);
        expect_error("/%2", -EINVAL);
        expect_error("/%4", -EINVAL);
        expect_error("/%zz", -EINVAL);
        expect_error("/%4g", -EINVAL);
        expect_error("/%g4", -EINVAL);
        expect_error("/a%", -EINVAL);
        expect_error("/%%41", -EINVAL);
    }
    { /* a decoded NUL */
        expect_error("%00", -EINVAL);
        expect_error("/%00", -EINVAL);
        expect_error("/a%00.html", -EINVAL);
    }
    { /* an escape cut by the query is still bad */
        expect_error("/%2?x", -EINVAL);
    }
}

static void test_raw_bytes(void **state)
{
    (void)state;
    { /* control bytes are refused anywhere in the target */
        expect_error("/a\tb", -EINVAL);
        expect_error("/a\nb", -EINVAL);
        expect_error("/a\rb", -EINVAL);
        expect_error("/a\x7f", -EINVAL);
        expect_error("/a?\x01", -EINVAL);
        expect_error("/a#\x1f", -EINVAL);
    }
    { /* a raw NUL */
        expect_error_n("/a\0b", 4, -EINVAL);
        expect_error_n("/\0", 2, -EINVAL);
    }
    { /* the length is what counts, not a NUL after it */
        expect_path_n("/abc/def", 4, "/abc");
    }
}

static void test_query_and_fragment(void **state)
{
    (void)state;
    { /* the query is dropped, whatever it holds */
        expect_path("/a?b=c", "/a");
        expect_path("/a?", "/a");
        expect_path("/?x", "/");
        expect_path("/a?b=../../x", "/a");
        expect_path("/a?%zz", "/a");
        expect_path("/a/?q", "/a/");
    }
    { /* dot-segments before the query are resolved */
        expect_path("/a/..?x", "/");
        expect_path("/a/.?x", "/a/");
    }
    { /* the fragment too */
        expect_path("/a#frag", "/a");
        expect_path("/a#x?y", "/a");
        expect_path("/a?x#y", "/a");
    }
}

static void test_absolute_form(void **state)
{
    (void)state;
    { /* scheme and authority are dropped */
        expect_path("http://example.com/a/b", "/a/b");
        expect_path("http://example.com:8080/a/b?q=1", "/a/b");
        expect_path("https://[::1]:443/x/", "/x/");
        expect_path("http://user@host/x", "/x");
    }
    { /* the scheme is case-insensitive */
        expect_path("HTTP://Example.COM/x", "/x");
        expect_path("hTtPs://h/y", "/y");
    }
    { /* no path means "/" */
        expect_path("http://example.com", "/");
        expect_path("http://example.com?x=1", "/");
        expect_path("http://example.com#f", "/");
    }
    { /* the path is normalized like any other */
        expect_path("http://h//a/./b/../c", "/a/c");
        expect_path("http://h/a/%2e%2e%2f", "/");
        expect_error("http://h/../", -EPERM);
        expect_error("http://h/%2e%2e/etc", -EPERM);
        expect_error("http://h/%zz", -EINVAL);
    }
    { /* not http or https, or not absolute */
        expect_error("ftp://h/a", -EINVAL);
        expect_error("http:/a", -EINVAL);
        expect_error("http:a", -EINVAL);
        expect_error("http:", -EINVAL);
        expect_error("http//h/a", -EINVAL);
    }
}

static void test_output_room(void **state)
{
    (void)state;
    char out[16];
    size_t outlen = 0;
    { /* no room at all, or room for "/" alone */
        assert_int_equal(http_path_normalize(WK_STRLIT("/"), out, 0, &outlen), -ENAMETOOLONG);
        assert_int_equal(http_path_normalize(WK_STRLIT("/"), out, 1, &outlen), -ENAMETOOLONG);
        assert_int_equal(http_path_normalize(WK_STRLIT("/"), out, 2, &outlen), 0);
        assert_string_equal(out, "/");
    }
    { /* exactly enough for the result and its NUL */
        assert_int_equal(http_path_normalize(WK_STRLIT("/abc"), out, 5, &outlen), 0);
        assert_string_equal(out, "/abc");
        assert_int_equal(http_path_normalize(WK_STRLIT("/abc/"), out, 6, &outlen), 0);
        assert_string_equal(out, "/abc/");
        assert_int_equal(http_path_normalize(WK_STRLIT("/abc/"), out, 5, &outlen), -ENAMETOOLONG);
    }
    { /* a long decoded name is measured after decoding */
        assert_int_equal(http_path_normalize(WK_STRLIT("/%41%42%43"), out, 5, &outlen), 0);
        assert_string_equal(out, "/ABC");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_paths),     cmocka_unit_test(test_dot_segments),
        cmocka_unit_test(test_climbing_above_root), cmocka_unit_test(test_not_a_path),
        cmocka_unit_test(test_slashes),         cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_raw_bytes),       cmocka_unit_test(test_query_and_fragment),
        cmocka_unit_test(test_absolute_form),   cmocka_unit_test(test_output_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

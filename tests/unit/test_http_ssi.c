/*
 * test_http_ssi.c: the echo directive of server-side includes (httpd/ssi.c).
 * Templates come from the end of a guard page, whole and cut at every byte,
 * so a read past the end faults at once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "httpd/ssi.h"
#include "support/guard.h"

/* The variables the tests know, with a counter of lookups. */
struct vars {
    int calls;
};

static const char *lookup(void *arg, const char *name, size_t len, char *scratch, size_t cap)
{
    struct vars *v = arg;
    if (v != NULL)
        v->calls++;
    /* The name is sized, NUL-terminated, and made of [a-z0-9_] only. */
    assert_true(len >= 1 && len <= HTTP_SSI_NAME_MAX);
    assert_int_equal(name[len], '\0');
    assert_int_equal(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_"), len);
    assert_int_equal(cap, HTTP_SSI_SCRATCH_LEN);
    if (strcmp(name, "client_port") == 0) {
        snprintf(scratch, cap, "%u", 53422u);
        return scratch;
    }
    if (strcmp(name, "client") == 0)
        return "[::ffff:127.0.0.1]:53422";
    if (strcmp(name, "server_fd") == 0)
        return "9";
    if (strcmp(name, "empty") == 0)
        return "";
    if (strcmp(name, "html") == 0)
        return "<b>\"Tom\" & 'Jerry'</b>";
    if (strcmp(name, "fill") == 0) { /* a careless lookup: scratch full, no NUL */
        memset(scratch, 'x', cap);
        return scratch;
    }
    if (strcmp(name, "v_123") == 0)
        return "ok";
    if (len == HTTP_SSI_NAME_MAX)
        return "longest";
    return NULL;
}

/* Renders tpl[0..len) from a guard page into a fresh buffer bounded at max. */
static int render_n(const char *tpl, size_t len, size_t max, struct wk_buf *out)
{
    wk_buf_init(out, max);
    const char *g = wk_test_guard(tpl, len);
    int rc = http_ssi_render(out, g, len, lookup, NULL);
    wk_test_guard_free(g, len);
    return rc;
}

static void expect_n(const char *tpl, size_t len, const char *want, size_t want_len)
{
    struct wk_buf out;
    assert_int_equal(render_n(tpl, len, 1 << 20, &out), 0);
    if (wk_buf_len(&out) != want_len ||
        (want_len > 0 && memcmp(wk_buf_data(&out), want, want_len) != 0))
        fail_msg("template \"%.*s\"\n  got  \"%.*s\"\n  want \"%.*s\"", (int)len, tpl,
                 (int)wk_buf_len(&out), wk_buf_len(&out) ? wk_buf_data(&out) : "", (int)want_len,
                 want);
    wk_buf_fini(&out);
}

static void expect(const char *tpl, const char *want)
{
    expect_n(tpl, strlen(tpl), want, strlen(want));
}

static void expect_verbatim(const char *tpl)
{
    expect(tpl, tpl);
}

static void test_plain_text(void **state)
{
    (void)state;
    expect("", "");
    expect_verbatim("x");
    expect_verbatim("<html><body><p>No directives here.</p></body></html>\n");
    expect_verbatim("<!-- an ordinary comment --><!--# --><!--#-->");
    expect_verbatim("<");
    expect_verbatim("<!--");
    expect_verbatim("<!--#");
    expect_verbatim("a < b, <!- not a comment, <!-- #echo var=\"client\" -->");
    /* bytes past NUL and outside ASCII are text like any other */
    static const char nul_tpl[] = "a\0b\xff<!--#echo var=\"server_fd\" -->\0";
    static const char nul_want[] = "a\0b\xff" /* then the value */
                                   "9\0";
    expect_n(nul_tpl, sizeof nul_tpl - 1, nul_want, sizeof nul_want - 1);
}

static void test_echo(void **state)
{
    (void)state;
    expect("<!--#echo var=\"client\" -->", "[::ffff:127.0.0.1]:53422");
    expect("port <!--#echo var=\"client_port\" -->.", "port 53422.");
    expect("fd=<!--#echo var=\"server_fd\" --><!--#echo var=\"server_fd\" -->|", "fd=99|");
    expect("<!--#echo var=\"v_123\" -->", "ok");
    expect("[<!--#echo var=\"empty\" -->]", "[]");
    expect("<p><!--#echo var=\"client\" --></p>\n<p><!--#echo var=\"client_port\" --></p>\n",
           "<p>[::ffff:127.0.0.1]:53422</p>\n<p>53422</p>\n");
    /* a directive right after a failed one */
    expect("<!--#<!--#echo var=\"server_fd\" -->", "<!--#9");
    expect("<!--#echo <!--#echo var=\"server_fd\" -->", "<!--#echo 9");
}

static void test_whitespace_and_quotes(void **state)
{
    (void)state;
    expect("<!--#echo var=\"server_fd\"-->", "9");
    expect("<!--# echo var=\"server_fd\" -->", "9");
    expect("<!--#echo  var = \"server_fd\"   -->", "9");
    expect("<!--#\techo\tvar\t=\t\"server_fd\"\t-->", "9");
    expect("<!--#echo\r\n  var=\"server_fd\"\n-->", "9");
    expect("<!--#echo var='server_fd' -->", "9");
}

static void test_escaping(void **state)
{
    (void)state;
    expect("<!--#echo var=\"html\" -->",
           "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;");
}

static void test_unknown(void **state)
{
    (void)state;
    struct vars v = {0};
    struct wk_buf out;
    wk_buf_init(&out, 4096);
    const char *tpl = "a<!--#echo var=\"nope\" -->b";
    assert_int_equal(http_ssi_render(&out, tpl, strlen(tpl), lookup, &v), 0);
    assert_int_equal(v.calls, 1);
    assert_int_equal(wk_buf_len(&out), strlen("a(none)b"));
    assert_memory_equal(wk_buf_data(&out), "a(none)b", strlen("a(none)b"));
    wk_buf_fini(&out);
}

static void test_name_length(void **state)
{
    (void)state;
    char name[HTTP_SSI_NAME_MAX + 2];
    char tpl[HTTP_SSI_NAME_MAX + 64];
    memset(name, 'n', sizeof name - 1);
    name[HTTP_SSI_NAME_MAX] = '\0';
    snprintf(tpl, sizeof tpl, "<!--#echo var=\"%s\" -->", name);
    expect(tpl, "longest");
    name[HTTP_SSI_NAME_MAX] = 'n';
    name[HTTP_SSI_NAME_MAX + 1] = '\0';
    snprintf(tpl, sizeof tpl, "<!--#echo var=\"%s\" -->", name);
    expect_verbatim(tpl);
}

static void test_not_echo_directives(void **state)
{
    (void)state;
    const char *const verbatim[] = {
        "<!--#include file=\"footer.html\" -->",
        "<!--#include virtual=\"/x\" -->",
        "<!--#config timefmt=\"%Y\" -->",
        "<!--#set var=\"x\" value=\"y\" -->",
        "<!--#exec cmd=\"id\" -->",
        "<!--#printenv -->",
        "<!--#ECHO var=\"server_fd\" -->",
        "<!--#echo VAR=\"server_fd\" -->",
        "<!--#echovar=\"server_fd\" -->",
        "<!--#echo var=\"SERVER_FD\" -->",
        "<!--#echo var=\"server-fd\" -->",
        "<!--#echo var=\"server fd\" -->",
        "<!--#echo var=\"\" -->",
        "<!--#echo var=server_fd -->",
        "<!--#echo var=\"server_fd' -->",
        "<!--#echo var='server_fd\" -->",
        "<!--#echo var=\"server_fd -->",
        "<!--#echo var -->",
        "<!--#echo var= -->",
        "<!--#echo -->",
        "<!--#echo var=\"server_fd\" encoding=\"none\" -->",
        "<!--#echo encoding=\"none\" var=\"server_fd\" -->",
        "<!--#echo var=\"server_fd\" var=\"client\" -->",
        "<!--#echo var=\"server_fd\" ->",
        "<!--#echo var=\"server_fd\" - ->",
        "<!--#echo var=\"server_fd\" --",
        "<!--#echo var=\"server_fd\" ",
        "<!--#echo var=\"server_fd\"",
        "<!--#echo var=\"server_fd",
        "<!--#echo var=\"",
        "<!--#echo var=",
        "<!--#echo v",
        "<!--#ech",
        "text <!--#echo var=\"server_fd\" and never closed\n<p>more</p>\n",
    };
    for (size_t i = 0; i < sizeof verbatim / sizeof *verbatim; i++)
        expect_verbatim(verbatim[i]);
}

/* What a template cut after n bytes must render to: see each_prefix(). */
struct cut {
    const char *head;  /* text before the directive */
    size_t dir_end;    /* offset just past the directive */
    const char *value; /* its expansion */
};

static void check_prefix(const char *p, size_t n, void *arg)
{
    const struct cut *c = arg;
    struct wk_buf out;
    assert_int_equal(render_n(p, n, 1 << 16, &out), 0);
    char want[256];
    size_t want_len;
    if (n < c->dir_end) { /* the directive is cut: everything verbatim */
        memcpy(want, p, n);
        want_len = n;
    } else {
        size_t head = strlen(c->head);
        want_len = (size_t)snprintf(want, sizeof want, "%s%s%.*s", c->head, c->value,
                                    (int)(n - c->dir_end), p + c->dir_end);
        assert_true(head + strlen(c->value) <= want_len);
    }
    assert_int_equal(wk_buf_len(&out), want_len);
    if (want_len)
        assert_memory_equal(wk_buf_data(&out), want, want_len);
    wk_buf_fini(&out);
}

static void test_every_prefix(void **state)
{
    (void)state;
    const char *const tpls[][2] = {
        {"<p>", "<!--#echo var=\"client_port\" -->"},
        {"", "<!--#echo var=\"html\"-->"},
        {"a<!-- b -->", "<!--# echo\tvar = 'client' -->"},
        {"x", "<!--#echo var=\"nope\" -->"},
    };
    const char *const values[] = {
        "53422",
        "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;",
        "[::ffff:127.0.0.1]:53422",
        "(none)",
    };
    for (size_t i = 0; i < sizeof tpls / sizeof *tpls; i++) {
        char tpl[256];
        int n = snprintf(tpl, sizeof tpl, "%s%s</p>\n", tpls[i][0], tpls[i][1]);
        struct cut c = {tpls[i][0], strlen(tpls[i][0]) + strlen(tpls[i][1]), values[i]};
        wk_test_each_prefix(tpl, (size_t)n, check_prefix, &c);
    }
}

/* A lookup that fills scratch without a NUL still yields a bounded value. */
static void test_scratch_bounded(void **state)
{
    (void)state;
    const char *tpl = "<!--#echo var=\"fill\" -->";
    struct wk_buf out;
    assert_int_equal(render_n(tpl, strlen(tpl), 1 << 20, &out), 0);
    assert_int_equal(wk_buf_len(&out), HTTP_SSI_SCRATCH_LEN - 1);
    wk_buf_fini(&out);
}

static void test_bounds(void **state)
{
    (void)state;
    const char *tpl = "ab<!--#echo var=\"html\" -->cd";
    const char *want = "ab&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;cd";
    size_t want_len = strlen(want);
    for (size_t max = 0; max < want_len; max++) {
        struct wk_buf out;
        assert_int_equal(render_n(tpl, strlen(tpl), max, &out), -ENOBUFS);
        assert_true(wk_buf_len(&out) <= max);
        wk_buf_fini(&out);
    }
    struct wk_buf out;
    assert_int_equal(render_n(tpl, strlen(tpl), want_len, &out), 0);
    assert_int_equal(wk_buf_len(&out), want_len);
    assert_memory_equal(wk_buf_data(&out), want, want_len);
    wk_buf_fini(&out);
    /* unknown names and verbatim openings count against the bound too */
    assert_int_equal(render_n("<!--#echo var=\"nope\" -->", 24, 5, &out), -ENOBUFS);
    wk_buf_fini(&out);
    assert_int_equal(render_n("<!--#x", 6, 4, &out), -ENOBUFS);
    wk_buf_fini(&out);
}

/* The output is appended after what the buffer already holds. */
static void test_appends(void **state)
{
    (void)state;
    struct wk_buf out;
    wk_buf_init(&out, 4096);
    assert_int_equal(wk_buf_append(&out, "HEAD|", 5), 0);
    const char *tpl = "<!--#echo var=\"server_fd\" -->";
    assert_int_equal(http_ssi_render(&out, tpl, strlen(tpl), lookup, NULL), 0);
    assert_int_equal(wk_buf_len(&out), 6);
    assert_memory_equal(wk_buf_data(&out), "HEAD|9", 6);
    wk_buf_fini(&out);
}

/* The demo site's home page expands fully: no directive is left over. */
static void test_demo_site(void **state)
{
    (void)state;
    /* The build names this file by its absolute path: the tree is around it. */
    char path[4096];
    const char *here = __FILE__;
    const char *tail = strstr(here, "tests/unit/test_http_ssi.c");
    const char *src = getenv("WK_SOURCE_DIR");
    if (src != NULL)
        snprintf(path, sizeof path, "%s/httpd/www/index.shtml", src);
    else if (tail != NULL)
        snprintf(path, sizeof path, "%.*shttpd/www/index.shtml", (int)(tail - here), here);
    else
        fail_msg("cannot find the demo site: set WK_SOURCE_DIR");
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    static char tpl[1 << 16];
    size_t n = fread(tpl, 1, sizeof tpl, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof tpl);
    struct vars v = {0};
    struct wk_buf out;
    wk_buf_init(&out, 1 << 20);
    const char *g = wk_test_guard(tpl, n);
    assert_int_equal(http_ssi_render(&out, g, n, lookup, &v), 0);
    wk_test_guard_free(g, n);
    assert_true(v.calls > 0);
    assert_null(memmem(wk_buf_data(&out), wk_buf_len(&out), "<!--#", 5));
    wk_buf_fini(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text),
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_whitespace_and_quotes),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_name_length),
        cmocka_unit_test(test_not_echo_directives),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_scratch_bounded),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_demo_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

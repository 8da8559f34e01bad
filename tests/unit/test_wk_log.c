/*
 * test_wk_log.c: log lines and escaping (common/log.c). Each case points
 * stderr at a pipe with dup2 and reads back exactly what was written, so
 * buffering is seen from outside: nothing arrives until the flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "support/guard.h"

/* stderr redirected into a pipe; what was written is read back without blocking. */
struct pipe_err {
    int rd;
    int saved;
    char got[65536 + 1];
    size_t len;
};

/* The redirection in force, so that teardown can undo it after a failed case. */
static struct pipe_err *active;

static void pipe_err_begin(struct pipe_err *p)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    /* Room for every case's output: nothing may block the writer. */
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 17);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    p->saved = dup(STDERR_FILENO);
    assert_true(p->saved >= 0);
    assert_int_equal(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
    close(fds[1]);
    p->rd = fds[0];
    p->len = 0;
    p->got[0] = '\0';
    active = p;
}

/* Appends what has arrived since the last read to p->got. */
static const char *pipe_err_read(struct pipe_err *p)
{
    for (;;) {
        ssize_t n = read(p->rd, p->got + p->len, sizeof p->got - 1 - p->len);
        if (n <= 0)
            break;
        p->len += (size_t)n;
    }
    p->got[p->len] = '\0';
    return p->got;
}

/* Restores stderr; the text read so far stays in p->got. */
static void pipe_err_end(struct pipe_err *p)
{
    active = NULL;
    dup2(p->saved, STDERR_FILENO);
    close(p->saved);
    pipe_err_read(p);
    close(p->rd);
}

static int setup(void **state)
{
    (void)state;
    wk_log_set_buffered(false);
    wk_log_init("test", WK_LOG_INFO);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wk_log_set_buffered(false);
    if (active != NULL)
        pipe_err_end(active);
    return 0;
}

/* Escapes src with wk_log_escape (quoted selects the other) into dstlen bytes. */
static void expect_escape(bool quoted, const char *src, size_t len, size_t dstlen, const char *want)
{
    char dst[512];
    const char *g = wk_test_guard(src, len);
    memset(dst, 'Z', sizeof dst);
    size_t n =
        quoted ? wk_log_escape_quoted(dst, dstlen, g, len) : wk_log_escape(dst, dstlen, g, len);
    wk_test_guard_free(g, len);
    assert_string_equal(dst, want);
    assert_int_equal(n, strlen(want));
    assert_true(n < dstlen);
}

static void test_escape(void **state)
{
    (void)state;
    { /* printable ASCII passes through */
        expect_escape(false, "GET/index.html?a=1&b=~", 22, 100, "GET/index.html?a=1&b=~");
    }
    { /* quotes and backslashes are escaped so values stay parseable */
        expect_escape(false, "a\"b\\c", 5, 100, "a\\x22b\\x5cc");
        expect_escape(true, "say \"hi\"", 8, 100, "say \\x22hi\\x22");
    }
    { /* control bytes, including NUL, CR, LF and DEL */
        expect_escape(false, "a\0b", 3, 100, "a\\x00b");
        expect_escape(false, "line\r\n", 6, 100, "line\\x0d\\x0a");
        expect_escape(false, "\x1b[31m", 5, 100, "\\x1b[31m");
        expect_escape(false, "\x7f", 1, 100, "\\x7f");
    }
    { /* 8-bit bytes, in lower-case hex */
        expect_escape(false, "caf\xc3\xa9", 5, 100, "caf\\xc3\\xa9");
        expect_escape(false, "\x80\xff", 2, 100, "\\x80\\xff");
    }
    { /* a space is escaped in bare values, kept between quotes */
        expect_escape(false, "a b", 3, 100, "a\\x20b");
        expect_escape(true, "a b", 3, 100, "a b");
        expect_escape(true, "a\tb", 3, 100, "a\\x09b");
    }
    { /* empty input gives the empty string */
        expect_escape(false, "", 0, 100, "");
    }
}

static void test_escape_truncation(void **state)
{
    (void)state;
    { /* truncated to fit, always NUL-terminated */
        expect_escape(false, "abcdefghij", 10, 8, "abcdefg");
        expect_escape(false, "abcdefghij", 10, 11, "abcdefghij");
        expect_escape(false, "abcdefghij", 10, 10, "abcdefghi");
    }
    { /* an escape is never cut in half */
        expect_escape(false,
                      "ab\x01"
                      "cd",
                      5, 6, "ab");
        expect_escape(false,
                      "ab\x01"
                      "cd",
                      5, 7, "ab\\x01");
        expect_escape(false,
                      "ab\x01"
                      "cd",
                      5, 8, "ab\\x01c");
    }
    { /* a one-byte buffer holds only the NUL */
        expect_escape(false, "abc", 3, 1, "");
    }
    { /* a zero-byte buffer is not written at all */
        char dst[4] = {'Z', 'Z', 'Z', 'Z'};
        assert_int_equal(wk_log_escape(dst, 0, "abc", 3), 0);
        assert_int_equal(dst[0], 'Z');
    }
    { /* the result never passes dstlen, byte by byte */
        const char src[] = "x\"y\\z \xff\n";
        for (size_t dstlen = 1; dstlen < 40; dstlen++) {
            char dst[64];
            memset(dst, 'Z', sizeof dst);
            size_t n = wk_log_escape(dst, dstlen, src, sizeof src - 1);
            assert_true(n < dstlen);
            assert_int_equal(dst[n], '\0');
            assert_int_equal(dst[dstlen], 'Z');
        }
    }
}

static void test_level_parse(void **state)
{
    (void)state;
    enum wk_log_level l;
    { /* the four names, in any case */
        assert_int_equal(wk_log_level_parse("error", &l), 0);
        assert_int_equal(l, WK_LOG_ERROR);
        assert_int_equal(wk_log_level_parse("warn", &l), 0);
        assert_int_equal(l, WK_LOG_WARN);
        assert_int_equal(wk_log_level_parse("info", &l), 0);
        assert_int_equal(l, WK_LOG_INFO);
        assert_int_equal(wk_log_level_parse("debug", &l), 0);
        assert_int_equal(l, WK_LOG_DEBUG);
        assert_int_equal(wk_log_level_parse("DEBUG", &l), 0);
        assert_int_equal(l, WK_LOG_DEBUG);
    }
    { /* anything else is refused and leaves the output alone */
        const char *bad[] = {"", "verbose", "inf", "info ", " info", "warning", "errors", "0"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            l = WK_LOG_WARN;
            assert_int_equal(wk_log_level_parse(bad[i], &l), -EINVAL);
            assert_int_equal(l, WK_LOG_WARN);
        }
    }
}

static void test_levels_filter(void **state)
{
    (void)state;
    struct pipe_err p;
    { /* at warn, errors and warnings are written, info and debug are not */
        wk_log_init("httpd", WK_LOG_WARN);
        assert_true(wk_log_enabled(WK_LOG_ERROR));
        assert_true(wk_log_enabled(WK_LOG_WARN));
        assert_false(wk_log_enabled(WK_LOG_INFO));
        assert_false(wk_log_enabled(WK_LOG_DEBUG));
        pipe_err_begin(&p);
        wk_log(WK_LOG_ERROR, "one n=%d", 1);
        wk_log(WK_LOG_INFO, "two");
        wk_log(WK_LOG_DEBUG, "three");
        wk_log(WK_LOG_WARN, "four s=%s", "x");
        pipe_err_end(&p);
        assert_string_equal(p.got, "httpd one n=1\nhttpd four s=x\n");
    }
    { /* at debug, everything */
        wk_log_init("smtpd", WK_LOG_DEBUG);
        pipe_err_begin(&p);
        wk_log(WK_LOG_DEBUG, "d");
        pipe_err_end(&p);
        assert_string_equal(p.got, "smtpd d\n");
    }
}

static void test_buffered(void **state)
{
    (void)state;
    struct pipe_err p;
    pipe_err_begin(&p);
    { /* unbuffered lines arrive at once */
        wk_log(WK_LOG_INFO, "now");
        assert_string_equal(pipe_err_read(&p), "test now\n");
    }
    { /* buffered lines wait for the flush, then arrive in order */
        wk_log_set_buffered(true);
        wk_log(WK_LOG_INFO, "a");
        wk_log(WK_LOG_INFO, "b");
        assert_string_equal(pipe_err_read(&p), "test now\n");
        wk_log_flush();
        assert_string_equal(pipe_err_read(&p), "test now\ntest a\ntest b\n");
    }
    { /* a flush with nothing buffered writes nothing */
        wk_log_flush();
        assert_int_equal(strlen(pipe_err_read(&p)), strlen("test now\ntest a\ntest b\n"));
    }
    { /* turning buffering off flushes what is pending */
        wk_log(WK_LOG_INFO, "c");
        wk_log_set_buffered(false);
        assert_string_equal(pipe_err_read(&p), "test now\ntest a\ntest b\ntest c\n");
        wk_log(WK_LOG_INFO, "d");
        assert_string_equal(pipe_err_read(&p), "test now\ntest a\ntest b\ntest c\ntest d\n");
    }
    pipe_err_end(&p);
}

static void test_buffer_overflow_keeps_order(void **state)
{
    (void)state;
    struct pipe_err p;
    char body[1001];
    memset(body, 'x', 1000);
    body[1000] = '\0';
    pipe_err_begin(&p);
    { /* more than the buffer holds: earlier lines go out, none is lost */
        wk_log_set_buffered(true);
        for (int i = 0; i < 40; i++)
            wk_log(WK_LOG_INFO, "n=%02d %s", i, body);
        size_t before = strlen(pipe_err_read(&p));
        assert_true(before > 0);
        assert_true(before < 40 * 1011);
        wk_log_set_buffered(false);
    }
    pipe_err_end(&p);
    { /* every line whole and in order */
        assert_int_equal(p.len, 40 * (5 + 5 + 1000 + 1));
        const char *s = p.got;
        for (int i = 0; i < 40; i++) {
            char head[16];
            snprintf(head, sizeof head, "test n=%02d ", i);
            assert_memory_equal(s, head, 10);
            assert_int_equal(s[10 + 1000], '\n');
            s += 10 + 1000 + 1;
        }
    }
}

static void test_long_line_truncated(void **state)
{
    (void)state;
    struct pipe_err p;
    char *big = malloc(5001);
    assert_non_null(big);
    memset(big, 'y', 5000);
    big[5000] = '\0';
    { /* an overlong line is cut but stays one line */
        pipe_err_begin(&p);
        wk_log(WK_LOG_INFO, "big=%s", big);
        wk_log(WK_LOG_INFO, "next");
        pipe_err_end(&p);
        const char *nl = strchr(p.got, '\n');
        assert_non_null(nl);
        assert_true(nl - p.got > 1000);
        assert_true(nl - p.got < 5000);
        assert_memory_equal(p.got, "test big=yyy", 12);
        assert_string_equal(nl + 1, "test next\n");
    }
    { /* the same when buffered */
        pipe_err_begin(&p);
        wk_log_set_buffered(true);
        wk_log(WK_LOG_INFO, "big=%s", big);
        wk_log(WK_LOG_INFO, "next");
        wk_log_set_buffered(false);
        pipe_err_end(&p);
        const char *nl = strchr(p.got, '\n');
        assert_non_null(nl);
        assert_string_equal(nl + 1, "test next\n");
    }
    free(big);
}

static void test_fatal_exits_after_flushing(void **state)
{
    (void)state;
    struct pipe_err p;
    fflush(stdout); /* the child must not repeat the runner's buffered output */
    pipe_err_begin(&p);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        wk_log_set_buffered(true);
        wk_log(WK_LOG_INFO, "before");
        wk_fatal("cannot start reason=%s", "test");
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    pipe_err_end(&p);
    { /* exit status 1, the buffered line and the fatal one, in order */
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
        assert_string_equal(p.got, "test before\ntest cannot start reason=test\n");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escape_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_overflow_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fatal_exits_after_flushing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

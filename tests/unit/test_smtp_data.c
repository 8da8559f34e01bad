/*
 * test_smtp_data.c: the DATA phase (smtpd/data.c): end of data, unstuffing,
 * the SMTP smuggling sequences, line and size limits.
 *
 * Every case is fed whole, split in two at every byte boundary, and one byte
 * at a time, each piece from the end of a guard page and into an output
 * buffer of exactly len + SMTP_DATA_SLACK bytes; every way must give the
 * expected message bytes, consumed count and flags.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/data.h"
#include "support/guard.h"

#define NO_LIMIT UINT64_MAX

/* A string literal and its length, NULs included: as arguments, as the input, as the output. */
#define S(x)   x, sizeof(x) - 1
#define IN(x)  .in = x, .in_len = sizeof(x) - 1
#define OUT(x) .out = x, .out_len = sizeof(x) - 1

struct data_case {
    const char *in;
    size_t in_len;
    const char *out; /* the message bytes written */
    size_t out_len;
    size_t consumed;
    bool done;
    uint64_t max_size;
    uint64_t size;
    enum smtp_data_verdict verdict;
    bool too_big, line_too_long, bare_cr_lf;
};

struct result {
    char *out;
    size_t out_len;
    size_t consumed;
    bool done;
};

/* Feeds one piece from a guard page, as the session does, and appends what comes out. */
static void feed_piece(struct smtp_data *d, const char *piece, size_t n, struct result *r)
{
    const char *in = wk_test_guard(piece, n);
    char *out = malloc(n + SMTP_DATA_SLACK);
    assert_non_null(out);
    size_t out_len = SIZE_MAX;
    bool done = false;
    size_t used = smtp_data_feed(d, in, n, out, &out_len, &done);
    assert_true(used <= n);
    assert_true(out_len <= n + SMTP_DATA_SLACK);
    assert_true(done || used == n);
    assert_true(done == smtp_data_is_done(d));
    if (d->too_big)
        assert_true(r->out_len + out_len <= d->max_size);
    r->out = realloc(r->out, r->out_len + out_len + 1);
    assert_non_null(r->out);
    memcpy(r->out + r->out_len, out, out_len);
    r->out_len += out_len;
    r->consumed += used;
    r->done = done;
    free(out);
    wk_test_guard_free(in, n);
}

/* Feeds c->in in pieces ending at cuts[0..ncuts) and at the end; stops once done. */
static void check_cuts(const struct data_case *c, const size_t *cuts, size_t ncuts)
{
    struct smtp_data d;
    struct result r = {0};
    size_t at = 0;
    smtp_data_init(&d, c->max_size);
    for (size_t k = 0; k <= ncuts && !r.done; k++) {
        size_t end = k < ncuts ? cuts[k] : c->in_len;
        feed_piece(&d, c->in + at, end - at, &r);
        at = end;
    }
    assert_int_equal(r.out_len, c->out_len);
    assert_memory_equal(r.out ? r.out : "", c->out, c->out_len);
    assert_int_equal(r.consumed, c->consumed);
    assert_int_equal(r.done, c->done);
    assert_int_equal(d.size, c->size);
    assert_int_equal(d.too_big, c->too_big);
    assert_int_equal(d.line_too_long, c->line_too_long);
    assert_int_equal(d.bare_cr_lf, c->bare_cr_lf);
    if (c->done)
        assert_int_equal(smtp_data_verdict(&d), c->verdict);
    free(r.out);
}

/* Whole, split in two at every byte boundary, and one byte at a time. */
static void check(const struct data_case *c)
{
    check_cuts(c, NULL, 0);
    for (size_t k = 0; k <= c->in_len; k++)
        check_cuts(c, &k, 1);
    size_t *bytes = malloc((c->in_len + 1) * sizeof *bytes);
    assert_non_null(bytes);
    for (size_t k = 0; k < c->in_len; k++)
        bytes[k] = k + 1;
    check_cuts(c, bytes, c->in_len);
    free(bytes);
}

/* A message that ends with the whole input, and no flag but those given. */
static void check_ok(const char *in, size_t in_len, const char *out, size_t out_len)
{
    struct data_case c = {.in = in,
                          .in_len = in_len,
                          .out = out,
                          .out_len = out_len,
                          .consumed = in_len,
                          .done = true,
                          .max_size = NO_LIMIT,
                          .size = out_len,
                          .verdict = SMTP_DATA_OK};
    check(&c);
}

/* As check_ok(), for a message with a bare CR or LF. */
static void check_bare(const char *in, size_t in_len, const char *out, size_t out_len)
{
    struct data_case c = {.in = in,
                          .in_len = in_len,
                          .out = out,
                          .out_len = out_len,
                          .consumed = in_len,
                          .done = true,
                          .max_size = NO_LIMIT,
                          .size = out_len,
                          .verdict = SMTP_DATA_BARE_CR_LF,
                          .bare_cr_lf = true};
    check(&c);
}

static void test_empty_message(void **state)
{
    (void)state;
    check_ok(S(".\r\n"), S(""));
}

static void test_crlf_dot_crlf_at_the_start(void **state)
{
    (void)state;
    /* An empty first line, then the end: the message is that empty line. */
    check_ok(S("\r\n.\r\n"), S("\r\n"));
}

static void test_single_line(void **state)
{
    (void)state;
    check_ok(S("Subject: hi\r\n.\r\n"), S("Subject: hi\r\n"));
}

static void test_several_lines(void **state)
{
    (void)state;
    check_ok(S("From: a@b.example\r\nSubject: x\r\n\r\nbody. line.\r\n\r\n a . b\r\n.\r\n"),
             S("From: a@b.example\r\nSubject: x\r\n\r\nbody. line.\r\n\r\n a . b\r\n"));
}

static void test_dot_stuffing(void **state)
{
    (void)state;
    check_ok(S("a\r\n..\r\n...x\r\n.x\r\n. \r\n.\r\n"), S("a\r\n.\r\n..x\r\nx\r\n \r\n"));
    check_ok(S(".x\r\n.\r\n"), S("x\r\n"));
    check_ok(S("....\r\n.\r\n"), S("...\r\n"));
}

static void test_line_that_is_only_two_dots(void **state)
{
    (void)state;
    check_ok(S("..\r\n.\r\n"), S(".\r\n"));
    check_ok(S("x\r\n..\r\n.\r\n"), S("x\r\n.\r\n"));
    /* ".." CRLF "." CRLF looks like the end shifted by one; it is not. */
    check_ok(S("..\r\n..\r\n.\r\n"), S(".\r\n.\r\n"));
}

static void test_dots_inside_lines_are_kept(void **state)
{
    (void)state;
    check_ok(S("a.\r\n a\r\nb..c.\r\n.\r\n"), S("a.\r\n a\r\nb..c.\r\n"));
}

/*
 * The smuggling sequences, in the middle of a message: content, never the
 * end; the real end comes later. A dot after a bare CR or LF is not at a
 * line's start and stays; a dot after a real CR LF is stuffing.
 */
static void test_smuggling_lf_dot_lf(void **state)
{
    (void)state;
    check_bare(S("A\n.\nMAIL FROM:<x@y>\r\n.\r\n"), S("A\n.\nMAIL FROM:<x@y>\r\n"));
}

static void test_smuggling_cr_dot_cr(void **state)
{
    (void)state;
    check_bare(S("A\r.\rMAIL FROM:<x@y>\r\n.\r\n"), S("A\r.\rMAIL FROM:<x@y>\r\n"));
}

static void test_smuggling_lf_dot_crlf(void **state)
{
    (void)state;
    check_bare(S("A\n.\r\nMAIL FROM:<x@y>\r\n.\r\n"), S("A\n.\r\nMAIL FROM:<x@y>\r\n"));
}

static void test_smuggling_crlf_dot_lf(void **state)
{
    (void)state;
    check_bare(S("A\r\n.\nMAIL FROM:<x@y>\r\n.\r\n"), S("A\r\n\nMAIL FROM:<x@y>\r\n"));
}

static void test_smuggling_cr_dot_crlf(void **state)
{
    (void)state;
    check_bare(S("A\r.\r\nMAIL FROM:<x@y>\r\n.\r\n"), S("A\r.\r\nMAIL FROM:<x@y>\r\n"));
}

static void test_smuggling_crlf_dot_cr(void **state)
{
    (void)state;
    check_bare(S("A\r\n.\rMAIL FROM:<x@y>\r\n.\r\n"), S("A\r\n\rMAIL FROM:<x@y>\r\n"));
    check_bare(S("A\r\n.\r\rB\r\n.\r\n"), S("A\r\n\r\rB\r\n"));
    check_bare(S("A\r\n.\r\r\n.\r\n"), S("A\r\n\r\r\n"));
}

static void test_smuggling_other_mixtures(void **state)
{
    (void)state;
    check_bare(S("A\n.\rB\r\n.\r\n"), S("A\n.\rB\r\n"));
    check_bare(S("A\r.\nB\r\n.\r\n"), S("A\r.\nB\r\n"));
    check_bare(S("A\n\n.\n\nB\r\n.\r\n"), S("A\n\n.\n\nB\r\n"));
    check_bare(S("A\r\r.\r\rB\r\n.\r\n"), S("A\r\r.\r\rB\r\n"));
    check_bare(S("A\n\r\n.\r\r\n.\r\n"), S("A\n\r\n\r\r\n"));
}

static void test_smuggling_right_before_the_end(void **state)
{
    (void)state;
    check_bare(S("A\r\n.\n\r\n.\r\n"), S("A\r\n\n\r\n"));
    check_bare(S("A\n.\n\r\n.\r\n"), S("A\n.\n\r\n"));
    check_bare(S("A\r.\r\r\n.\r\n"), S("A\r.\r\r\n"));
}

static void test_smuggling_at_the_start(void **state)
{
    (void)state;
    check_bare(S("\n.\nB\r\n.\r\n"), S("\n.\nB\r\n"));
    check_bare(S(".\nB\r\n.\r\n"), S("\nB\r\n"));
    check_bare(S(".\rB\r\n.\r\n"), S("\rB\r\n"));
    check_bare(S("\r.\rB\r\n.\r\n"), S("\r.\rB\r\n"));
}

/* A smuggled second transaction stays in the message; only the real end stops. */
static void test_smuggled_transaction_is_content(void **state)
{
    (void)state;
    static const char in[] = "Subject: a\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\n"
                             "DATA\r\nSubject: forged\r\n\r\nbody\r\n.\r\nQUIT\r\n";
    static const char out[] = "Subject: a\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\n"
                              "DATA\r\nSubject: forged\r\n\r\nbody\r\n";
    struct data_case c = {IN(in),
                          OUT(out),
                          .consumed = sizeof in - 1 - 6,
                          .done = true,
                          .max_size = NO_LIMIT,
                          .size = sizeof out - 1,
                          .verdict = SMTP_DATA_BARE_CR_LF,
                          .bare_cr_lf = true};
    check(&c);
}

static void test_data_after_the_end(void **state)
{
    (void)state;
    struct data_case c = {IN("hi\r\n.\r\nQUIT\r\n"), OUT("hi\r\n"), .consumed = 7, .done = true,
                          .max_size = NO_LIMIT,      .size = 4};
    check(&c);
    struct data_case twice = {IN("hi\r\n.\r\n.\r\n"), OUT("hi\r\n"),        .consumed = 7,
                              .done = true,           .max_size = NO_LIMIT, .size = 4};
    check(&twice);
    struct data_case empty = {IN(".\r\nMAIL FROM:<>\r\n"), OUT(""), .consumed = 3, .done = true,
                              .max_size = NO_LIMIT};
    check(&empty);
}

static void test_unfinished_streams(void **state)
{
    (void)state;
    struct data_case held = {IN("abc\r\n.\r"), OUT("abc\r\n"), .consumed = 7, .max_size = NO_LIMIT,
                             .size = 5};
    check(&held);
    struct data_case dot = {IN("abc\r\n."), OUT("abc\r\n"), .consumed = 6, .max_size = NO_LIMIT,
                            .size = 5};
    check(&dot);
    struct data_case lf_dot_lf = {IN("abc\n.\n"),       OUT("abc\n.\n"), .consumed = 6,
                                  .max_size = NO_LIMIT, .size = 6,       .bare_cr_lf = true};
    check(&lf_dot_lf);
    struct data_case cr_dot_cr = {IN("abc\r.\r"),       OUT("abc\r.\r"), .consumed = 6,
                                  .max_size = NO_LIMIT, .size = 6,       .bare_cr_lf = true};
    check(&cr_dot_cr);
    struct data_case nothing = {IN(""), OUT(""), .max_size = NO_LIMIT};
    check(&nothing);
}

static void test_binary_and_nul_bytes_pass_through(void **state)
{
    (void)state;
    check_ok(S("\x80\xff\0\x01\r\n\0.\0\r\n.\0\r\n\xc3\xa9t\xc3\xa9\r\n.\r\n"),
             S("\x80\xff\0\x01\r\n\0.\0\r\n\0\r\n\xc3\xa9t\xc3\xa9\r\n"));
}

/* A message of n lines, each of 'octets' octets CRLF included, with stuffing if stuffed. */
static char *lines(size_t n, size_t octets, bool stuffed, const char *end, size_t *len)
{
    size_t line = octets + (stuffed ? 1 : 0);
    size_t end_len = strlen(end);
    char *s = malloc(n * line + end_len + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        char *l = s + i * line;
        memset(l, 'x', line - 2);
        if (stuffed)
            l[0] = l[1] = '.';
        l[line - 2] = '\r';
        l[line - 1] = '\n';
    }
    memcpy(s + n * line, end, end_len + 1);
    *len = n * line + end_len;
    return s;
}

/* Checks a message of one line of the given octets; the output is the line unstuffed. */
static void check_line(size_t octets, bool stuffed, bool too_long)
{
    size_t in_len, out_len;
    char *in = lines(1, octets, stuffed, ".\r\n", &in_len);
    char *out = lines(1, octets, false, "", &out_len);
    if (stuffed)
        out[0] = '.';
    struct data_case c = {.in = in,
                          .in_len = in_len,
                          .out = out,
                          .out_len = out_len,
                          .consumed = in_len,
                          .done = true,
                          .max_size = NO_LIMIT,
                          .size = out_len,
                          .verdict = too_long ? SMTP_DATA_LINE_TOO_LONG : SMTP_DATA_OK,
                          .line_too_long = too_long};
    check(&c);
    free(in);
    free(out);
}

static void test_line_lengths(void **state)
{
    (void)state;
    check_line(999, false, false);
    check_line(1000, false, false);
    check_line(1001, false, true);
    /* The stuffing dot does not count (RFC 5321 4.5.3.1.6). */
    check_line(1000, true, false);
    check_line(1001, true, true);
}

static void test_long_lines_among_short_ones(void **state)
{
    (void)state;
    size_t len;
    char *in = lines(3, 1000, false, "", &len);
    char *msg = malloc(len + 2000);
    assert_non_null(msg);
    memcpy(msg, in, len);
    /* A line of 1001 octets whose bare LF does not end it. */
    memset(msg + len, 'y', 999);
    msg[len + 500] = '\n';
    memcpy(msg + len + 999, "\r\nz\r\n.\r\n", 8);
    size_t msg_len = len + 999 + 8;
    struct data_case c = {.in = msg,
                          .in_len = msg_len,
                          .out = msg,
                          .out_len = msg_len - 3,
                          .consumed = msg_len,
                          .done = true,
                          .max_size = NO_LIMIT,
                          .size = msg_len - 3,
                          .verdict = SMTP_DATA_LINE_TOO_LONG,
                          .line_too_long = true,
                          .bare_cr_lf = true};
    check(&c);
    free(in);
    free(msg);
}

static void test_many_full_lines_stay_ok(void **state)
{
    (void)state;
    size_t in_len, out_len;
    char *in = lines(5, 1000, false, ".\r\n", &in_len);
    char *out = lines(5, 1000, false, "", &out_len);
    check_ok(in, in_len, out, out_len);
    free(in);
    free(out);
}

static void test_max_size_exactly_reached(void **state)
{
    (void)state;
    struct data_case c = {IN("12345678\r\n.\r\n"), OUT("12345678\r\n"),
                          .consumed = 13,          .done = true,
                          .max_size = 10,          .size = 10};
    check(&c);
    /* The stuffing dot is not part of the size. */
    struct data_case stuffed = {IN("..345678\r\n.\r\n"), OUT(".345678\r\n"),
                                .consumed = 13,          .done = true,
                                .max_size = 9,           .size = 9};
    check(&stuffed);
    struct data_case empty = {IN(".\r\n"), OUT(""), .consumed = 3, .done = true, .max_size = 0};
    check(&empty);
}

static void test_max_size_exceeded_by_one(void **state)
{
    (void)state;
    /* Output stops at the limit; scanning goes on to the real end and size counts all. */
    struct data_case c = {IN("123456789\r\n.\r\nQUIT\r\n"),
                          OUT("123456789\r"),
                          .consumed = 14,
                          .done = true,
                          .max_size = 10,
                          .size = 11,
                          .verdict = SMTP_DATA_TOO_BIG,
                          .too_big = true};
    check(&c);
    struct data_case zero = {IN("a\r\n.\r\n"),
                             OUT(""),
                             .consumed = 6,
                             .done = true,
                             .max_size = 0,
                             .size = 3,
                             .verdict = SMTP_DATA_TOO_BIG,
                             .too_big = true};
    check(&zero);
}

static void test_too_big_comes_first(void **state)
{
    (void)state;
    size_t in_len;
    char *in = lines(1, 1001, false, "\n.\n\r\n.\r\n", &in_len);
    struct data_case c = {.in = in,
                          .in_len = in_len,
                          .out = in,
                          .out_len = 100,
                          .consumed = in_len,
                          .done = true,
                          .max_size = 100,
                          .size = in_len - 3,
                          .verdict = SMTP_DATA_TOO_BIG,
                          .too_big = true,
                          .line_too_long = true,
                          .bare_cr_lf = true};
    check(&c);
    free(in);
}

static void test_line_too_long_before_bare_cr_lf(void **state)
{
    (void)state;
    size_t in_len;
    char *in = lines(1, 1001, false, "\n.\n\r\n.\r\n", &in_len);
    struct data_case c = {.in = in,
                          .in_len = in_len,
                          .out = in,
                          .out_len = in_len - 3,
                          .consumed = in_len,
                          .done = true,
                          .max_size = NO_LIMIT,
                          .size = in_len - 3,
                          .verdict = SMTP_DATA_LINE_TOO_LONG,
                          .line_too_long = true,
                          .bare_cr_lf = true};
    check(&c);
    free(in);
}

static void test_nothing_consumed_after_done(void **state)
{
    (void)state;
    struct smtp_data d;
    char out[32 + SMTP_DATA_SLACK];
    size_t out_len;
    bool done = false;
    smtp_data_init(&d, NO_LIMIT);
    assert_int_equal(smtp_data_feed(&d, S(".\r\nNOOP\r\n"), out, &out_len, &done), 3);
    assert_true(done);
    done = false;
    out_len = 99;
    assert_int_equal(smtp_data_feed(&d, S("NOOP\r\n"), out, &out_len, &done), 0);
    assert_true(done);
    assert_int_equal(out_len, 0);
    /* init starts the next message afresh. */
    smtp_data_init(&d, 1);
    assert_false(smtp_data_is_done(&d));
    assert_int_equal(smtp_data_feed(&d, S("ab\r\n.\r\n"), out, &out_len, &done), 7);
    assert_true(done);
    assert_int_equal(out_len, 1);
    assert_int_equal(smtp_data_verdict(&d), SMTP_DATA_TOO_BIG);
}

static void test_verdict_precedence(void **state)
{
    (void)state;
    struct smtp_data d;
    smtp_data_init(&d, 10);
    assert_int_equal(smtp_data_verdict(&d), SMTP_DATA_OK);
    d.bare_cr_lf = true;
    assert_int_equal(smtp_data_verdict(&d), SMTP_DATA_BARE_CR_LF);
    d.line_too_long = true;
    assert_int_equal(smtp_data_verdict(&d), SMTP_DATA_LINE_TOO_LONG);
    d.too_big = true;
    assert_int_equal(smtp_data_verdict(&d), SMTP_DATA_TOO_BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_message),
        cmocka_unit_test(test_crlf_dot_crlf_at_the_start),
        cmocka_unit_test(test_single_line),
        cmocka_unit_test(test_several_lines),
        cmocka_unit_test(test_dot_stuffing),
        cmocka_unit_test(test_line_that_is_only_two_dots),
        cmocka_unit_test(test_dots_inside_lines_are_kept),
        cmocka_unit_test(test_smuggling_lf_dot_lf),
        cmocka_unit_test(test_smuggling_cr_dot_cr),
        cmocka_unit_test(test_smuggling_lf_dot_crlf),
        cmocka_unit_test(test_smuggling_crlf_dot_lf),
        cmocka_unit_test(test_smuggling_cr_dot_crlf),
        cmocka_unit_test(test_smuggling_crlf_dot_cr),
        cmocka_unit_test(test_smuggling_other_mixtures),
        cmocka_unit_test(test_smuggling_right_before_the_end),
        cmocka_unit_test(test_smuggling_at_the_start),
        cmocka_unit_test(test_smuggled_transaction_is_content),
        cmocka_unit_test(test_data_after_the_end),
        cmocka_unit_test(test_unfinished_streams),
        cmocka_unit_test(test_binary_and_nul_bytes_pass_through),
        cmocka_unit_test(test_line_lengths),
        cmocka_unit_test(test_long_lines_among_short_ones),
        cmocka_unit_test(test_many_full_lines_stay_ok),
        cmocka_unit_test(test_max_size_exactly_reached),
        cmocka_unit_test(test_max_size_exceeded_by_one),
        cmocka_unit_test(test_too_big_comes_first),
        cmocka_unit_test(test_line_too_long_before_bare_cr_lf),
        cmocka_unit_test(test_nothing_consumed_after_done),
        cmocka_unit_test(test_verdict_precedence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

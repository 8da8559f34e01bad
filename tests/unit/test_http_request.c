/*
 * test_http_request.c: reading one request (httpd/request.c) as RFC 9112
 * and the server's limits say, case by case.
 *
 * Every input is fed the way the connection feeds it: the bytes received so
 * far, from the first byte of the request, each call handing the parser
 * data[parsed..len). Each input is fed whole, one byte at a time, and split
 * at every byte boundary, each time from the end of a guard page, and once
 * more of each with the body bytes cut out of the buffer after every call
 * as httpd/conn.c does; every way must give the same result.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/wk.h"
#include "httpd/request.h"
#include "support/guard.h"

#define MORE HTTP_PARSE_MORE
#define HEAD HTTP_PARSE_HEAD
#define DONE HTTP_PARSE_DONE

static const struct http_limits defaults = {
    .max_request_line = 8192,
    .max_header_size = 16384,
    .max_headers = 100,
    .max_body = 1024 * 1024,
};

/* Small limits, so that the inputs that pass them stay short. */
static const struct http_limits small = {
    .max_request_line = 64,
    .max_header_size = 256,
    .max_headers = 5,
    .max_body = 16,
};

/* What reading an input came to, in a form two ways of feeding it can compare. */
struct outcome {
    int first; /* the first result other than MORE: HEAD, DONE or a status */
    int check; /* http_request_check() when the head was complete, else -1 */
    int final; /* DONE, MORE (input ran out), or the status answered */
    /* At the first result: */
    struct http_span method, target, hdr[HTTP_H_COUNT];
    uint8_t hdr_seen[HTTP_H_COUNT];
    uint32_t nheaders;
    uint32_t head_len;
    bool has_body, keep_alive;
    unsigned major, minor, method_id;
    /* At the end: */
    uint32_t parsed; /* counting the body bytes cut out of the buffer */
    uint64_t body_seen;
};

/*
 * Failed expectations of the running test: each is printed and counted, and
 * done() fails the test at its end, so one run lists every input that fails.
 */
static int failures;

static void failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failed(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("%s\n", msg);
    failures++;
}

static int reset(void **state)
{
    (void)state;
    failures = 0;
    return 0;
}

static void done(void)
{
    int n = failures;
    failures = 0;
    if (n)
        fail_msg("%d expectation(s) failed", n);
}

/* in[0..n) printable for a failure message (C escapes, truncated). */
static const char *esc(const char *in, size_t n)
{
    static const char ctls[] = "\r\n\t", names[] = "rnt";
    static char out[512];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < sizeof out; i++) {
        unsigned char ch = (unsigned char)in[i];
        const char *ctl = ch ? strchr(ctls, ch) : NULL;
        if (ctl != NULL) {
            out[o++] = '\\';
            out[o++] = names[ctl - ctls];
        } else if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", ch);
        else
            out[o++] = (char)ch;
    }
    out[o] = '\0';
    return out;
}

static void snapshot(struct outcome *o, const struct http_request *r)
{
    o->method = r->method;
    o->target = r->target;
    memcpy(o->hdr, r->hdr, sizeof o->hdr);
    memcpy(o->hdr_seen, r->hdr_seen, sizeof o->hdr_seen);
    o->nheaders = r->nheaders;
    o->head_len = r->head_len;
    o->has_body = http_request_has_body(r);
    o->keep_alive = http_request_keep_alive(r);
    o->major = r->parser.http_major;
    o->minor = r->parser.http_minor;
    o->method_id = r->parser.method;
}

/* Spans of a complete head lie within it. */
static void assert_spans_inside(const struct http_request *r)
{
    assert_true(r->head_len > 0);
    assert_true(r->method.off + (uint64_t)r->method.len <= r->head_len);
    assert_true(r->target.off + (uint64_t)r->target.len <= r->head_len);
    for (int h = 0; h < HTTP_H_COUNT; h++) {
        if (r->hdr_seen[h])
            assert_true(r->hdr[h].off + (uint64_t)r->hdr[h].len <= r->head_len);
    }
}

/*
 * Feeds in[0..n) in pieces ending at bounds[0] < ... < bounds[nb - 1] = n, as
 * the connection does: after each piece arrives, the parser is called on
 * everything buffered until it asks for more. With cut, the body bytes
 * parsed are removed from the buffer after each call, as conn.c does.
 */
static void feed(const char *in, size_t n, const struct http_limits *lim, const size_t *bounds,
                 size_t nb, bool cut, struct outcome *o)
{
    struct http_request r;
    char *buf = malloc(n + 1);
    size_t blen = 0, fed = 0, cut_total = 0;
    assert_non_null(buf);
    memset(o, 0, sizeof *o);
    o->first = o->final = MORE;
    o->check = -1;
    http_request_init(&r, lim);
    for (size_t i = 0; i < nb; i++) {
        memcpy(buf + blen, in + fed, bounds[i] - fed);
        blen += bounds[i] - fed;
        fed = bounds[i];
        for (size_t calls = 0;; calls++) {
            if (calls > n + 2)
                fail_msg("the parser keeps returning without progress");
            const char *g = wk_test_guard(buf, blen);
            int rc = http_request_parse(&r, g, blen);
            if (rc >= 400) {
                wk_test_guard_free(g, blen);
                o->final = rc;
                if (o->first == MORE)
                    o->first = rc;
                goto out;
            }
            assert_true(rc == MORE || rc == HEAD || rc == DONE);
            assert_true(r.parsed <= blen);
            if (rc != MORE && o->first == MORE) {
                assert_true(r.head_len > 0 && r.head_len <= r.parsed);
                assert_spans_inside(&r);
                o->first = rc;
                snapshot(o, &r);
                o->check = http_request_check(&r, g);
            }
            wk_test_guard_free(g, blen);
            if (o->check > 0) {
                o->final = o->check;
                goto out;
            }
            if (cut && o->first == HEAD) {
                size_t body = r.parsed - r.head_len;
                memmove(buf + r.head_len, buf + r.parsed, blen - r.parsed);
                blen -= body;
                cut_total += body;
                r.parsed = r.head_len;
            }
            if (rc == DONE) {
                o->final = DONE;
                goto out;
            }
            if (rc == MORE)
                break;
        }
    }
out:
    o->parsed = r.parsed + (uint32_t)cut_total;
    o->body_seen = r.body_seen;
    free(buf);
}

/* Compares a way of feeding an input with feeding it whole; false (and counted) if they differ. */
static bool same(const char *in, size_t n, const char *how, const struct outcome *want,
                 const struct outcome *got)
{
    if (got->first != want->first || got->final != want->final || got->check != want->check) {
        failed("\"%s\": %s: first %d check %d final %d; whole: first %d check %d final %d",
               esc(in, n), how, got->first, got->check, got->final, want->first, want->check,
               want->final);
        return false;
    }
    if (want->first == MORE || want->first >= 400)
        return true;
    /* The head was read: what was seen of it must be the same. */
    if (memcmp(&got->method, &want->method, sizeof got->method) != 0 ||
        memcmp(&got->target, &want->target, sizeof got->target) != 0 ||
        memcmp(got->hdr, want->hdr, sizeof got->hdr) != 0 ||
        memcmp(got->hdr_seen, want->hdr_seen, sizeof got->hdr_seen) != 0 ||
        got->nheaders != want->nheaders || got->head_len != want->head_len ||
        got->has_body != want->has_body || got->keep_alive != want->keep_alive ||
        got->major != want->major || got->minor != want->minor ||
        got->method_id != want->method_id) {
        failed("\"%s\": %s: the head was seen differently than when fed whole", esc(in, n), how);
        return false;
    }
    if (want->final >= 400)
        return true;
    if (got->parsed != want->parsed || got->body_seen != want->body_seen) {
        failed("\"%s\": %s: parsed %u body %llu; whole: parsed %u body %llu", esc(in, n), how,
               (unsigned)got->parsed, (unsigned long long)got->body_seen, (unsigned)want->parsed,
               (unsigned long long)want->body_seen);
        return false;
    }
    return true;
}

/*
 * Reads in[0..n) every way; all must agree (the first way that does not is
 * reported). Returns the outcome of feeding it whole.
 */
static struct outcome read_all_ways(const char *in, size_t n, const struct http_limits *lim)
{
    struct outcome whole, o;
    size_t *bounds = malloc((n + 1) * sizeof *bounds);
    char how[64];
    bool ok = true;
    assert_non_null(bounds);
    bounds[0] = n;
    feed(in, n, lim, bounds, 1, false, &whole);
    for (int cut = 0; cut <= 1 && ok; cut++) {
        if (cut) {
            bounds[0] = n;
            feed(in, n, lim, bounds, 1, true, &o);
            ok = same(in, n, "whole, body cut", &whole, &o);
        }
        for (size_t k = 1; k < n && ok; k++) {
            bounds[0] = k;
            bounds[1] = n;
            feed(in, n, lim, bounds, 2, cut, &o);
            snprintf(how, sizeof how, "split at %zu%s", k, cut ? ", body cut" : "");
            ok = same(in, n, how, &whole, &o);
        }
        for (size_t k = 0; k < n && ok; k++)
            bounds[k] = k + 1;
        if (ok) {
            feed(in, n, lim, bounds, n, cut, &o);
            ok = same(in, n, cut ? "byte by byte, body cut" : "byte by byte", &whole, &o);
        }
    }
    free(bounds);
    return whole;
}

static struct outcome read_req(const char *in)
{
    return read_all_ways(in, strlen(in), &defaults);
}

static void expect_status_lim(const char *in, const struct http_limits *lim, int status)
{
    struct outcome o = read_all_ways(in, strlen(in), lim);
    if (o.final != status)
        failed("\"%s\": final %d, want %d", esc(in, strlen(in)), o.final, status);
}

static void expect_status(const char *in, int status)
{
    expect_status_lim(in, &defaults, status);
}

/* A complete request without a body, accepted. */
static struct outcome expect_ok_lim(const char *in, const struct http_limits *lim)
{
    struct outcome o = read_all_ways(in, strlen(in), lim);
    if (o.final != DONE || o.check != 0)
        failed("\"%s\": first %d check %d final %d, want DONE and 0", esc(in, strlen(in)), o.first,
               o.check, o.final);
    return o;
}

static struct outcome expect_ok(const char *in)
{
    return expect_ok_lim(in, &defaults);
}

static void assert_span(const char *in, struct http_span s, const char *want)
{
    if (s.len != strlen(want) || memcmp(in + s.off, want, s.len) != 0)
        failed("span \"%.*s\" at %u, want \"%s\"", (int)s.len, in + s.off, (unsigned)s.off, want);
}

static void assert_header(const char *in, const struct outcome *o, enum http_header h,
                          const char *want)
{
    if (o->hdr_seen[h] != 1)
        failed("header %d seen %d times, want once (\"%s\")", h, o->hdr_seen[h], want);
    else
        assert_span(in, o->hdr[h], want);
}

/* ---- accepted requests ---- */

static void test_simple_get(void **state)
{
    (void)state;
    const char *in = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n"
                     "Accept: */*\r\n\r\n";
    struct outcome o = expect_ok(in);
    assert_int_equal(o.first, DONE);
    assert_int_equal(o.parsed, strlen(in));
    assert_int_equal(o.head_len, strlen(in));
    assert_span(in, o.method, "GET");
    assert_span(in, o.target, "/index.html");
    assert_header(in, &o, HTTP_H_HOST, "example.com");
    assert_header(in, &o, HTTP_H_USER_AGENT, "curl/8.0");
    assert_int_equal(o.hdr_seen[HTTP_H_RANGE], 0);
    assert_int_equal(o.hdr_seen[HTTP_H_CONNECTION], 0);
    assert_int_equal(o.nheaders, 3);
    assert_int_equal(o.method_id, HTTP_GET);
    assert_int_equal(o.major, 1);
    assert_int_equal(o.minor, 1);
    assert_false(o.has_body);
    assert_true(o.keep_alive);
    assert_int_equal(o.body_seen, 0);
    done();
}

static void test_head_and_options(void **state)
{
    (void)state;
    {
        const char *in = "HEAD /a%20b.txt?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
        struct outcome o = expect_ok(in);
        assert_int_equal(o.method_id, HTTP_HEAD);
        assert_span(in, o.method, "HEAD");
        assert_span(in, o.target, "/a%20b.txt?x=1");
        assert_false(o.has_body);
    }
    {
        const char *in = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
        struct outcome o = expect_ok(in);
        assert_int_equal(o.method_id, HTTP_OPTIONS);
        assert_span(in, o.target, "*");
    }
    done();
}

static void test_absolute_form(void **state)
{
    (void)state;
    const char *in =
        "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n";
    struct outcome o = expect_ok(in);
    assert_span(in, o.target, "http://example.com:8080/a/b?c=d");
    assert_header(in, &o, HTTP_H_HOST, "example.com:8080");
    done();
}

static void test_http10_without_host(void **state)
{
    (void)state;
    const char *in = "GET / HTTP/1.0\r\n\r\n";
    struct outcome o = expect_ok(in);
    assert_int_equal(o.minor, 0);
    assert_int_equal(o.hdr_seen[HTTP_H_HOST], 0);
    assert_false(o.keep_alive);
    assert_int_equal(o.nheaders, 0);
    done();
}

static void test_host_forms(void **state)
{
    (void)state;
    expect_ok("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
    expect_ok("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect_ok("GET / HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n\r\n");
    expect_ok("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n"); /* field names are case-insensitive */
    expect_ok("GET / HTTP/1.0\r\nHost: a\r\n\r\n");
    done();
}

static void test_keep_alive(void **state)
{
    (void)state;
    assert_true(expect_ok("GET / HTTP/1.1\r\nHost: a\r\n\r\n").keep_alive);
    assert_false(expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive);
    assert_false(expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n").keep_alive);
    assert_true(
        expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    assert_false(expect_ok("GET / HTTP/1.0\r\n\r\n").keep_alive);
    assert_false(expect_ok("GET / HTTP/1.0\r\nConnection: close\r\n\r\n").keep_alive);
    {
        const char *in = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        struct outcome o = expect_ok(in);
        assert_true(o.keep_alive);
        assert_header(in, &o, HTTP_H_CONNECTION, "keep-alive");
    }
    assert_true(expect_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    done();
}

static void test_pipelined(void **state)
{
    (void)state;
    const char *first = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *in = "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: b\r\n\r\n";
    struct outcome o = expect_ok(in);
    assert_int_equal(o.parsed, strlen(first));
    assert_span(in, o.target, "/one");
    /* The connection consumes the first request and starts over. */
    const char *rest = in + o.parsed;
    o = expect_ok(rest);
    assert_int_equal(o.parsed, strlen(rest));
    assert_span(rest, o.target, "/two");
    assert_header(rest, &o, HTTP_H_HOST, "b");
    done();
}

static void test_pipelined_after_body(void **state)
{
    (void)state;
    const char *in = "GET /one HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                     "GET /two HTTP/1.1\r\nHost: a\r\n\r\n";
    struct outcome o = read_req(in);
    assert_int_equal(o.first, HEAD);
    assert_int_equal(o.check, 0);
    assert_int_equal(o.final, DONE);
    assert_int_equal(o.parsed, strstr(in, "hello") + 5 - in);
    assert_int_equal(o.body_seen, 5);
    const char *rest = in + o.parsed;
    o = expect_ok(rest);
    assert_span(rest, o.target, "/two");
    done();
}

static void test_content_length_body(void **state)
{
    (void)state;
    const char *in = "GET /f HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";
    struct outcome o = read_req(in);
    assert_int_equal(o.first, HEAD); /* the head is answered before the body is read */
    assert_int_equal(o.check, 0);
    assert_true(o.has_body);
    assert_int_equal(o.head_len, strstr(in, "hello") - in);
    assert_int_equal(o.final, DONE);
    assert_int_equal(o.body_seen, 11);
    assert_int_equal(o.parsed, strlen(in));
    { /* part of the body: more is needed */
        const char *part = "GET /f HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello";
        o = read_req(part);
        assert_int_equal(o.first, HEAD);
        assert_int_equal(o.final, MORE);
        assert_int_equal(o.body_seen, 5);
    }
    { /* Content-Length: 0 is no body */
        o = expect_ok("GET /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
        assert_int_equal(o.first, DONE);
        assert_false(o.has_body);
    }
    done();
}

static void test_chunked_body(void **state)
{
    (void)state;
    const char *in = "GET /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n6;name=value\r\n world\r\nA\r\n0123456789\r\n0\r\n\r\n";
    struct outcome o = read_req(in);
    assert_int_equal(o.first, HEAD);
    assert_int_equal(o.check, 0);
    assert_true(o.has_body);
    assert_int_equal(o.final, DONE);
    assert_int_equal(o.body_seen, 21);
    assert_int_equal(o.parsed, strlen(in));
    assert_int_equal(o.head_len, strstr(in, "5\r\n") - in);
    { /* upper-case hex, leading zeros */
        o = read_req("GET /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "00B\r\nhello world\r\n0\r\n\r\n");
        assert_int_equal(o.final, DONE);
        assert_int_equal(o.body_seen, 11);
    }
    { /* the coding name is case-insensitive */
        o = read_req("GET /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n");
        assert_int_equal(o.final, DONE);
        assert_int_equal(o.body_seen, 0);
    }
    done();
}

/* Trailer fields after the last chunk: read and ignored, however the bytes arrive. */
static void test_chunked_trailers(void **state)
{
    (void)state;
    const char *in = "GET /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\nX-Checksum: abcdef0123456789\r\nX-Other-Trailer: v\r\n\r\n"
                     "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    struct outcome o = read_req(in);
    assert_int_equal(o.first, HEAD);
    assert_int_equal(o.final, DONE);
    assert_int_equal(o.parsed, strstr(in, "GET /next") - in);
    /* The trailer changes nothing the head said. */
    assert_int_equal(o.hdr_seen[HTTP_H_HOST], 1);
    done();
}

/*
 * A trailer field name split between two reads, its first bytes cut out of
 * the buffer with the body (as conn.c does) before the rest arrives: the
 * parser must not look for the name where it was.
 */
static void test_chunked_trailer_split(void **state)
{
    (void)state;
    const char *in = "GET /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\nX-Trailer:abcdefghijklmnopqrstuvwxyz";
    size_t n = strlen(in);
    size_t at = (size_t)(strstr(in, "X-Trailer") - in);
    for (size_t k = at + 1; k < n; k++) {
        struct outcome o;
        size_t bounds[2] = {k, n};
        feed(in, n, &defaults, bounds, 2, true, &o);
        if (o.first != HEAD || o.final != MORE)
            failed("split at %zu, body cut: first %d final %d, want HEAD then MORE", k, o.first,
                   o.final);
    }
    done();
}

/* ---- values ---- */

static void test_known_header_spans(void **state)
{
    (void)state;
    const char *in = "GET /x HTTP/1.1\r\n"
                     "Host: example.org\r\n"
                     "Connection: keep-alive\r\n"
                     "Expect: 100-continue\r\n"
                     "If-Match: \"a\", \"b\"\r\n"
                     "If-None-Match: W/\"c\"\r\n"
                     "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                     "If-Unmodified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\n"
                     "Range: bytes=0-99\r\n"
                     "If-Range: \"d\"\r\n"
                     "Referer: http://example.org/from?q=1\r\n"
                     "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
                     "Accept-Language: en\r\n"
                     "\r\n";
    struct outcome o = expect_ok(in);
    assert_header(in, &o, HTTP_H_HOST, "example.org");
    assert_header(in, &o, HTTP_H_CONNECTION, "keep-alive");
    assert_header(in, &o, HTTP_H_EXPECT, "100-continue");
    assert_header(in, &o, HTTP_H_IF_MATCH, "\"a\", \"b\"");
    assert_header(in, &o, HTTP_H_IF_NONE_MATCH, "W/\"c\"");
    assert_header(in, &o, HTTP_H_IF_MODIFIED_SINCE, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_header(in, &o, HTTP_H_IF_UNMODIFIED_SINCE, "Mon, 07 Nov 1994 08:49:37 GMT");
    assert_header(in, &o, HTTP_H_RANGE, "bytes=0-99");
    assert_header(in, &o, HTTP_H_IF_RANGE, "\"d\"");
    assert_header(in, &o, HTTP_H_REFERER, "http://example.org/from?q=1");
    assert_header(in, &o, HTTP_H_USER_AGENT, "Mozilla/5.0 (X11; Linux x86_64)");
    assert_int_equal(o.nheaders, 12);
    done();
}

static void test_values_trimmed(void **state)
{
    (void)state;
    const char *in = "GET / HTTP/1.1\r\n"
                     "Host:example.com \t \r\n"
                     "Range: \t bytes=0-1\t\r\n"
                     "If-None-Match:   \"x\"  \r\n"
                     "User-Agent: a b  c \r\n"
                     "Referer: \t \r\n"
                     "\r\n";
    struct outcome o = expect_ok(in);
    assert_header(in, &o, HTTP_H_HOST, "example.com");
    assert_header(in, &o, HTTP_H_RANGE, "bytes=0-1");
    assert_header(in, &o, HTTP_H_IF_NONE_MATCH, "\"x\"");
    assert_header(in, &o, HTTP_H_USER_AGENT, "a b  c"); /* inner whitespace stays */
    assert_int_equal(o.hdr_seen[HTTP_H_REFERER], 1);    /* present, empty */
    assert_int_equal(o.hdr[HTTP_H_REFERER].len, 0);
    done();
}

static void test_repeated_known_header(void **state)
{
    (void)state;
    const char *in = "GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=1-2\r\nRange: bytes=3-4\r\n\r\n";
    struct outcome o = expect_ok(in);
    assert_int_equal(o.hdr_seen[HTTP_H_RANGE], 2);
    assert_span(in, o.hdr[HTTP_H_RANGE], "bytes=1-2");
    done();
}

static void test_expect(void **state)
{
    (void)state;
    {
        struct outcome o = read_req(
            "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
        assert_int_equal(o.first, HEAD);
        assert_int_equal(o.check, 0);
        assert_int_equal(o.final, DONE);
    }
    expect_ok("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n");
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n", 417);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-ish\r\n\r\n", 417);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n", 417);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\nContent-Length: 2\r\n\r\nhi", 417);
    done();
}

/* ---- methods and versions ---- */

static void test_unknown_methods(void **state)
{
    (void)state;
    expect_status("FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
    expect_status("PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
    expect_status("MKCOL /d HTTP/1.1\r\nHost: a\r\n\r\n", 501);
    expect_status("get / HTTP/1.1\r\nHost: a\r\n\r\n", 501); /* methods are case-sensitive */
    expect_status("GETS / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
    expect_status("X / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
    expect_status("ANNOUNCE / HTTP/1.1\r\nHost: a\r\n\r\n", 501); /* an RTSP method */
    expect_status(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ-ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\nHost: a\r\n\r\n",
        501); /* a long one */
    done();
}

static void test_unserved_methods(void **state)
{
    (void)state;
    expect_status("POST / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
    expect_status("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\na=b", 405);
    expect_status("PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", 405);
    expect_status("DELETE /f HTTP/1.1\r\nHost: a\r\n\r\n", 405);
    expect_status("PATCH /f HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", 405);
    expect_status("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
    expect_status("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405);
    done();
}

static void test_versions(void **state)
{
    (void)state;
    expect_status("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    expect_status("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505);
    expect_status("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505);
    expect_status("GET / HTTP/2.0\r\n\r\n", 505);
    done();
}

static void test_malformed_request_line(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
    expect_status("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_status("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400);
    expect_status("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    /* A broken version is 400, whatever well-formed line follows it. */
    expect_status("GET / HTTP/1.\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_status("GET / HTTP/2.0-\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_status("GET /one HTTP/1.1\x80\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    done();
}

/* ---- Host ---- */

static void test_host_missing(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", 400);
    expect_status("GET http://example.com/ HTTP/1.1\r\n\r\n", 400);
    done();
}

static void test_host_duplicate(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400);
    expect_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    done();
}

static void test_host_malformed(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a?b\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a#b\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: \xc3\xa9t\xc3\xa9\r\n\r\n", 400);
    done();
}

/* ---- smuggling vectors: each is refused with 400 ---- */

static void test_cl_and_te(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 5\r\n\r\n0\r\n\r\n",
                  400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  400);
    done();
}

static void test_duplicate_content_length(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
                  "hello!",
                  400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nContent-Length: 5\r\n\r\n"
                  "hello!",
                  400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\nhello", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                  400);
    done();
}

static void test_te_not_chunked_last(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nxxxx", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
                  "0\r\n\r\n",
                  400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
                  400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400);
    done();
}

static void test_bad_chunk_size(void **state)
{
    (void)state;
    static const char *const sizes[] = {
        "zz\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n",
        "fffffffffffffffff\r\nhello\r\n0\r\n\r\n", /* over 64 bits */
        "5\r\nhelloXX\r\n0\r\n\r\n",               /* data longer than its size */
        "5\r\nhello0\r\n\r\n",                     /* no CRLF after the data */
    };
    char in[256];
    for (size_t i = 0; i < WK_ARRAY_LEN(sizes); i++) {
        snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n%s",
                 sizes[i]);
        struct outcome o = read_req(in);
        if (o.first != HEAD || o.final != 400)
            failed("chunk \"%s\": first %d final %d, want HEAD then 400",
                   esc(sizes[i], strlen(sizes[i])), o.first, o.final);
    }
    done();
}

static void test_obs_fold(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\ttwo\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nUser-Agent: x\r\n Host: a\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
    done();
}

/* A folded line after an empty value is a fold all the same. */
static void test_obs_fold_after_empty_value(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nX-A:\r\n two\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nX-A: \r\n two\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost:\r\n a\r\n\r\n", 400);
    done();
}

static void test_space_before_colon(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n",
                  400);
    done();
}

static void test_bare_lf(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\nHost: a\n\n", 400);
    expect_status("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\nhello\r\n0\r\n\r\n",
                  400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\n0\r\n\r\n",
                  400);
    done();
}

static void test_bare_cr(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\rHost: a\r\r", 400);
    expect_status("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nX: a\rb\r\nHost: a\r\n\r\n", 400);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\n\r\r", 400);
    done();
}

/* ---- limits ---- */

static void test_header_count(void **state)
{
    (void)state;
    expect_ok_lim("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", &small);
    expect_status_lim("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
                      &small, 431);
    /* Counted as they come: the rest of the head need not arrive. */
    expect_status_lim("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n",
                      &small, 431);
    done();
}

/* A request line of exactly n bytes before its CRLF. */
static void request_line(char *out, size_t n, const char *rest)
{
    static const char pre[] = "GET /", post[] = " HTTP/1.1";
    size_t fill = n - (sizeof pre - 1) - (sizeof post - 1);
    memcpy(out, pre, sizeof pre - 1);
    memset(out + sizeof pre - 1, 'a', fill);
    strcpy(out + sizeof pre - 1 + fill, post);
    strcat(out, rest);
}

static void test_request_line_too_long(void **state)
{
    (void)state;
    char in[512];
    request_line(in, 54, "\r\nHost: a\r\n\r\n");
    expect_ok_lim(in, &small);
    { /* still arriving */
        request_line(in, 100, "");
        in[70] = '\0';
        expect_status_lim(in, &small, 414);
    }
    { /* whole requests, however they arrive */
        request_line(in, 100, "\r\nHost: a\r\n\r\n");
        expect_status_lim(in, &small, 414);
        request_line(in, 300, "\r\nHost: a\r\n\r\n");
        expect_status_lim(in, &small, 414);
    }
    done();
}

static void test_header_block_too_large(void **state)
{
    (void)state;
    /* More than the request line's and the header block's bounds together. */
    char in[1024];
    strcpy(in, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    size_t at = strlen(in);
    memset(in + at, 'b', 400);
    strcpy(in + at + 400, "\r\n\r\n");
    expect_status_lim(in, &small, 431);
    in[at + 350] = '\0'; /* still arriving */
    expect_status_lim(in, &small, 431);
    { /* many small fields that fit the count */
        strcpy(in, "GET / HTTP/1.1\r\nHost: a\r\n");
        for (int i = 0; i < 4; i++) {
            size_t len = strlen(in);
            memcpy(in + len, "X: ", 3);
            memset(in + len + 3, 'v', 90);
            strcpy(in + len + 93, "\r\n");
        }
        strcat(in, "\r\n");
        expect_status_lim(in, &small, 431);
    }
    done();
}

static void test_body_too_large(void **state)
{
    (void)state;
    {
        struct outcome o = read_all_ways(
            WK_STRLIT("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 16\r\n\r\n0123456789abcdef"),
            &small);
        assert_int_equal(o.final, DONE);
        assert_int_equal(o.body_seen, 16);
    }
    { /* refused on sight of the head */
        struct outcome o = read_all_ways(
            WK_STRLIT("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\n\r\n0123456789abcdefg"),
            &small);
        assert_int_equal(o.first, HEAD);
        assert_int_equal(o.check, 413);
        assert_int_equal(o.final, 413);
    }
    expect_status_lim("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000\r\n\r\n", &small,
                      413);
    done();
}

static void test_chunked_body_too_large(void **state)
{
    (void)state;
    {
        struct outcome o = read_all_ways(
            WK_STRLIT("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n"),
            &small);
        assert_int_equal(o.final, DONE);
        assert_int_equal(o.body_seen, 16);
    }
    {
        struct outcome o = read_all_ways(
            WK_STRLIT("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "8\r\n01234567\r\n9\r\n89abcdefg\r\n0\r\n\r\n"),
            &small);
        assert_int_equal(o.first, HEAD);
        assert_int_equal(o.check, 0);
        assert_int_equal(o.final, 413);
    }
    { /* one huge chunk is refused before its data arrives */
        struct outcome o = read_all_ways(
            WK_STRLIT("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "100000\r\n0123456789abcdefg"),
            &small);
        assert_int_equal(o.final, 413);
    }
    done();
}

/* After the whole message, the parser answers DONE without reading further. */
static void test_done_is_sticky(void **state)
{
    (void)state;
    const char *in = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGARBAGE";
    struct http_request r;
    http_request_init(&r, &defaults);
    const char *g = WK_TEST_GUARD_STR(in);
    assert_int_equal(http_request_parse(&r, g, strlen(in)), DONE);
    assert_int_equal(r.parsed, strlen(in) - 7);
    assert_int_equal(http_request_parse(&r, g, strlen(in)), DONE);
    assert_int_equal(r.parsed, strlen(in) - 7);
    wk_test_guard_free(g, strlen(in));
    done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_simple_get, reset),
        cmocka_unit_test_setup(test_head_and_options, reset),
        cmocka_unit_test_setup(test_absolute_form, reset),
        cmocka_unit_test_setup(test_http10_without_host, reset),
        cmocka_unit_test_setup(test_host_forms, reset),
        cmocka_unit_test_setup(test_keep_alive, reset),
        cmocka_unit_test_setup(test_pipelined, reset),
        cmocka_unit_test_setup(test_pipelined_after_body, reset),
        cmocka_unit_test_setup(test_content_length_body, reset),
        cmocka_unit_test_setup(test_chunked_body, reset),
        cmocka_unit_test_setup(test_chunked_trailers, reset),
        cmocka_unit_test_setup(test_chunked_trailer_split, reset),
        cmocka_unit_test_setup(test_known_header_spans, reset),
        cmocka_unit_test_setup(test_values_trimmed, reset),
        cmocka_unit_test_setup(test_repeated_known_header, reset),
        cmocka_unit_test_setup(test_expect, reset),
        cmocka_unit_test_setup(test_unknown_methods, reset),
        cmocka_unit_test_setup(test_unserved_methods, reset),
        cmocka_unit_test_setup(test_versions, reset),
        cmocka_unit_test_setup(test_malformed_request_line, reset),
        cmocka_unit_test_setup(test_host_missing, reset),
        cmocka_unit_test_setup(test_host_duplicate, reset),
        cmocka_unit_test_setup(test_host_malformed, reset),
        cmocka_unit_test_setup(test_cl_and_te, reset),
        cmocka_unit_test_setup(test_duplicate_content_length, reset),
        cmocka_unit_test_setup(test_te_not_chunked_last, reset),
        cmocka_unit_test_setup(test_bad_chunk_size, reset),
        cmocka_unit_test_setup(test_obs_fold, reset),
        cmocka_unit_test_setup(test_obs_fold_after_empty_value, reset),
        cmocka_unit_test_setup(test_space_before_colon, reset),
        cmocka_unit_test_setup(test_bare_lf, reset),
        cmocka_unit_test_setup(test_bare_cr, reset),
        cmocka_unit_test_setup(test_header_count, reset),
        cmocka_unit_test_setup(test_request_line_too_long, reset),
        cmocka_unit_test_setup(test_header_block_too_large, reset),
        cmocka_unit_test_setup(test_body_too_large, reset),
        cmocka_unit_test_setup(test_chunked_body_too_large, reset),
        cmocka_unit_test_setup(test_done_is_sticky, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

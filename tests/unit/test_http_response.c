/*
 * test_http_response.c: status lines, headers and error pages
 * (httpd/response.c), byte for byte.
 *
 * Reason phrases and the closing statuses are checked as tables. The
 * response heads are checked twice: http_response_head() and
 * http_response_error() called directly on a connection made in-process (a
 * wk_conn over one end of a socketpair, its output buffer read back), and
 * whole exchanges with a real wk_server running http_conn_ops on
 * 127.0.0.1:0 inside this process, a client socket writing the requests and
 * reading what comes back until the server closes. Only the Date header
 * varies; it is checked against the clock and then compared like the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/addr.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/conn.h"
#include "common/log.h"
#include "common/server.h"
#include "httpd/cond.h"
#include "httpd/conn.h"
#include "httpd/filecache.h"
#include "httpd/httpd.h"
#include "httpd/mime.h"
#include "httpd/request.h"
#include "httpd/response.h"

#define SERVER "Server: " HTTP_SERVER_SOFTWARE "\r\n"
#define DATE   "Date: @DATE@\r\n" /* stands for the Date header in expected responses */
#define HELLO  "hello\n"

/* ---- reason phrases and closing statuses ---- */

static void test_reasons(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *reason;
    } want[] = {
        {100, "Continue"},
        {200, "OK"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(want); i++)
        assert_string_equal(http_status_reason(want[i].status), want[i].reason);
    assert_string_equal(http_status_reason(0), "Unknown");
    assert_string_equal(http_status_reason(299), "Unknown");
    assert_string_equal(http_status_reason(999), "Unknown");
    assert_string_equal(http_status_reason(-1), "Unknown");
}

static void test_closing_statuses(void **state)
{
    (void)state;
    static const int closes[] = {400, 408, 413, 414, 431, 500, 501, 505};
    static const int stays[] = {100, 200, 206, 301, 304, 403, 404, 405, 412, 416, 417, 503};
    for (size_t i = 0; i < WK_ARRAY_LEN(closes); i++)
        assert_true(http_status_closes(closes[i]));
    for (size_t i = 0; i < WK_ARRAY_LEN(stays); i++)
        assert_false(http_status_closes(stays[i]));
}

/* ---- a server in this process ---- */

struct fixture {
    char top[PATH_MAX]; /* temporary docroot */
    struct http_config cfg;
    struct http_server hs;
    struct wk_server srv;
    struct wk_addr addr;
    struct stat hello_st; /* of hello.txt */
};

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char path[PATH_MAX], err[WK_ERR_LEN];
    assert_non_null(fx);
    snprintf(fx->top, sizeof fx->top, "%s/wk-response-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(fx->top));
    put_file(fx->top, "hello.txt", HELLO);
    int n = snprintf(path, sizeof path, "%s/hello.txt", fx->top);
    assert_true(n > 0 && (size_t)n < sizeof path);
    /* In the past: a file modified after the loop's clock was read would be sent as "now". */
    const struct timespec past[2] = {{1700000000, 123456789}, {1700000000, 123456789}};
    assert_int_equal(utimensat(AT_FDCWD, path, past, 0), 0);
    assert_int_equal(stat(path, &fx->hello_st), 0);
    n = snprintf(path, sizeof path, "%s/dir", fx->top);
    assert_true(n > 0 && (size_t)n < sizeof path);
    assert_int_equal(mkdir(path, 0755), 0);
    fx->cfg = (struct http_config){
        .root = fx->top,
        .max_size = 1024,
        .max_request_line = 1024,
        .max_header_size = 4096,
        .max_headers = 50,
        .max_connections = 16,
        .backlog = 16,
        .idle_timeout = 5000,
        .header_timeout = 5000,
        .body_timeout = 5000,
        .send_timeout = 5000,
        .shutdown_timeout = 1000,
    };
    fx->hs.cfg = &fx->cfg;
    fx->hs.root_fd = open(fx->top, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(fx->hs.root_fd >= 0);
    fx->hs.files = http_filecache_new(fx->hs.root_fd, 16, 1000);
    assert_non_null(fx->hs.files);
    assert_int_equal(wk_addr_parse("127.0.0.1:0", &fx->addr, err), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[PATH_MAX + 16];
    http_filecache_free(fx->hs.files);
    close(fx->hs.root_fd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->top);
    if (system(cmd) != 0)
        return -1;
    free(fx);
    return 0;
}

static void server_start(struct fixture *fx)
{
    struct wk_server_config sc;
    char err[WK_ERR_LEN];
    wk_server_config_defaults(&sc);
    sc.backlog = 16;
    sc.max_conns = 16;
    sc.in_max = fx->cfg.max_request_line + fx->cfg.max_header_size + 16 * 1024;
    sc.send_timeout_ms = fx->cfg.send_timeout;
    sc.shutdown_timeout_ms = fx->cfg.shutdown_timeout;
    sc.linger_ms = 200;
    fx->hs.date_at = 0;
    if (wk_server_init(&fx->srv, &sc, &http_conn_ops, &fx->hs, err) != 0 ||
        wk_server_listen(&fx->srv, &fx->addr, NULL, 1, err) != 0)
        fail_msg("server: %s", err);
}

/*
 * One client connection while the server runs: what it has read so far, and
 * when to stop the loop (a timer looks every millisecond).
 */
struct client {
    struct wk_server *srv;
    struct wk_timer timer;
    int fd;
    char buf[65536];
    size_t len;
    bool eof;        /* the server closed its side */
    size_t want_len; /* stop once this much has come... */
    bool want_eof;   /* ...and, if set, the server's FIN too */
    uint64_t deadline;
};

static void client_read(struct client *cl)
{
    while (!cl->eof && cl->len < sizeof cl->buf - 1) {
        ssize_t r = recv(cl->fd, cl->buf + cl->len, sizeof cl->buf - 1 - cl->len, MSG_DONTWAIT);
        if (r > 0)
            cl->len += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            cl->eof = true;
        else
            break;
    }
    cl->buf[cl->len] = '\0';
}

static void on_client_timer(struct wk_timer *t)
{
    struct client *cl = t->data;
    struct wk_loop *loop = cl->srv->loop;
    client_read(cl);
    bool enough = cl->len >= cl->want_len && (cl->eof || !cl->want_eof);
    if (enough || cl->eof || wk_loop_now(loop) >= cl->deadline)
        wk_loop_stop(loop);
    else
        wk_loop_timer_after(loop, &cl->timer, 1);
}

/*
 * Sends req[0..len) on a new connection (half-closing it after if
 * half_close) and serves it until want_len bytes have come back and, when
 * want_eof, the server has closed: then the test's client must see the FIN;
 * otherwise it must not. Returns what came back, NUL-terminated; the
 * caller frees it.
 */
static char *exchange(struct fixture *fx, const char *req, size_t len, size_t want_len,
                      bool want_eof, bool half_close)
{
    struct client *cl = calloc(1, sizeof *cl);
    assert_non_null(cl);
    server_start(fx);
    const struct wk_listener *l = &fx->srv.listeners[0];
    cl->srv = &fx->srv;
    cl->want_len = want_len;
    cl->want_eof = want_eof;
    cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(cl->fd >= 0);
    assert_int_equal(connect(cl->fd, &l->addr.u.sa, l->addr.len), 0);
    assert_int_equal(send(cl->fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    if (half_close)
        assert_int_equal(shutdown(cl->fd, SHUT_WR), 0);
    wk_timer_init(&cl->timer, on_client_timer, cl);
    cl->deadline = wk_loop_now(fx->srv.loop) + 2000;
    assert_int_equal(wk_loop_timer_after(fx->srv.loop, &cl->timer, 1), 0);
    assert_int_equal(wk_server_run(&fx->srv), 0);
    wk_loop_timer_stop(fx->srv.loop, &cl->timer);
    client_read(cl); /* a FIN sent with the last bytes is here by now */
    bool eof = cl->eof;
    wk_server_fini(&fx->srv);
    close(cl->fd);
    if (eof != want_eof) {
        print_error("the server %s the connection after:\n%s\n", eof ? "closed" : "did not close",
                    cl->buf);
        free(cl);
        fail();
    }
    char *out = strdup(cl->buf);
    free(cl);
    assert_non_null(out);
    return out;
}

/* The value of the first Date header, checked to be now, or fails. */
static void find_date(const char *resp, char date[WK_CLOCK_IMF_LEN])
{
    const char *d = strstr(resp, "\r\nDate: ");
    if (d == NULL)
        fail_msg("no Date header in:\n%s", resp);
    d += 8;
    const char *end = strstr(d, "\r\n");
    assert_non_null(end);
    assert_int_equal(end - d, WK_CLOCK_IMF_LEN - 1);
    memcpy(date, d, WK_CLOCK_IMF_LEN - 1);
    date[WK_CLOCK_IMF_LEN - 1] = '\0';
    time_t t, now = time(NULL);
    assert_int_equal(http_date_parse(date, WK_CLOCK_IMF_LEN - 1, &t), 0);
    assert_true(t <= now && t >= now - 10);
}

/* want with each @DATE@ replaced by date. */
static char *fill_date(const char *want, const char *date)
{
    size_t cap = strlen(want) + 16 * WK_CLOCK_IMF_LEN + 1, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (const char *p = want; *p;) {
        if (strncmp(p, "@DATE@", 6) == 0) {
            assert_true(n + WK_CLOCK_IMF_LEN < cap);
            memcpy(out + n, date, WK_CLOCK_IMF_LEN - 1);
            n += WK_CLOCK_IMF_LEN - 1;
            p += 6;
        } else {
            assert_true(n + 1 < cap);
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

static void assert_response(const char *got, const char *want)
{
    char date[WK_CLOCK_IMF_LEN] = "";
    if (strstr(want, "@DATE@"))
        find_date(got, date);
    char *w = fill_date(want, date);
    if (strcmp(got, w) != 0)
        fail_msg("response:\n%s\n---- want:\n%s\n----", got, w);
    free(w);
}

/* One exchange, compared with want; closes says whether the server must close after it. */
static void expect_exchange(struct fixture *fx, const char *req, const char *want, bool closes)
{
    size_t want_len = strlen(want);
    for (const char *p = want; (p = strstr(p, "@DATE@")) != NULL; p += 6)
        want_len += WK_CLOCK_IMF_LEN - 1 - 6; /* each date is longer than its stand-in */
    char *got = exchange(fx, req, strlen(req), want_len, closes, false);
    assert_response(got, want);
    free(got);
}

/* The head of the 200 for hello.txt, up to the end of Accept-Ranges (no CRLF). */
static char *hello_head(const struct fixture *fx)
{
    char lm[WK_CLOCK_IMF_LEN], etag[HTTP_ETAG_LEN];
    char *out = malloc(1024);
    assert_non_null(out);
    wk_clock_imf_fixdate(fx->hello_st.st_mtime, lm);
    http_etag_make(etag, (uint64_t)fx->hello_st.st_mtim.tv_sec,
                   (uint64_t)fx->hello_st.st_mtim.tv_nsec, (uint64_t)fx->hello_st.st_size);
    snprintf(out, 1024,
             "HTTP/1.1 200 OK\r\n" DATE SERVER "Content-Type: %s\r\nContent-Length: 6\r\n"
             "Last-Modified: %s\r\nETag: %s\r\nAccept-Ranges: bytes",
             http_mime_type(WK_STRLIT("/hello.txt")), lm, etag);
    return out;
}

/* The error page response.c writes, with its head; extra ends in CRLF or is "". */
static char *error_response(int status, const char *extra, const char *connection, bool body)
{
    char page[512], *out = malloc(2048);
    const char *reason = http_status_reason(status);
    assert_non_null(out);
    int n = snprintf(page, sizeof page,
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1><hr><p>%s</p></body></html>\n",
                     status, reason, status, reason, HTTP_SERVER_SOFTWARE);
    snprintf(out, 2048,
             "HTTP/1.1 %d %s\r\n" DATE SERVER
             "Content-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n%s%s\r\n%s",
             status, reason, n, extra, connection, body ? page : "");
    return out;
}

/* ---- whole exchanges ---- */

static void test_get_keep_alive(void **state)
{
    struct fixture *fx = *state;
    char *head = hello_head(fx), want[2048];
    /* HTTP/1.1 keeps the connection by default: no Connection header. */
    snprintf(want, sizeof want, "%s\r\n\r\n" HELLO, head);
    expect_exchange(fx, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", want, false);
    /* HEAD: the same head, no body. */
    snprintf(want, sizeof want, "%s\r\n\r\n", head);
    expect_exchange(fx, "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", want, false);
    free(head);
}

static void test_connection_close(void **state)
{
    struct fixture *fx = *state;
    char *head = hello_head(fx), want[2048];
    snprintf(want, sizeof want, "%s\r\nConnection: close\r\n\r\n" HELLO, head);
    /* The request after it is not answered. */
    expect_exchange(fx,
                    "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                    want, true);
    free(head);
}

static void test_http10(void **state)
{
    struct fixture *fx = *state;
    char *head = hello_head(fx), want[4096];
    /* 1.0 closes by default. */
    snprintf(want, sizeof want, "%s\r\nConnection: close\r\n\r\n" HELLO, head);
    expect_exchange(fx, "GET /hello.txt HTTP/1.0\r\n\r\n", want, true);
    /* 1.0 with keep-alive: said back, and the next request is answered. */
    snprintf(want, sizeof want,
             "%s\r\nConnection: keep-alive\r\n\r\n" HELLO "%s\r\nConnection: close\r\n\r\n" HELLO,
             head, head);
    expect_exchange(fx,
                    "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                    "GET /hello.txt HTTP/1.0\r\n\r\n",
                    want, true);
    free(head);
}

static void test_pipelined(void **state)
{
    struct fixture *fx = *state;
    char *head = hello_head(fx), *err = error_response(404, "", "", true), want[4096];
    snprintf(want, sizeof want, "%s\r\n\r\n" HELLO "%s%s\r\n\r\n", head, err, head);
    expect_exchange(fx,
                    "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /missing.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                    "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                    want, false);
    free(err);
    free(head);
}

static void test_errors_that_close(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *req;
        int status;
        const char *extra;
    } cases[] = {
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, ""},
        {"GET / HTTP/1.1\r\n\r\n", 400, ""},
        {"FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "Allow: GET, HEAD, OPTIONS\r\n"},
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(cases); i++) {
        char *want = error_response(cases[i].status, cases[i].extra, "Connection: close\r\n", true);
        char req[256];
        /* A request after it is not answered. */
        snprintf(req, sizeof req, "%sGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", cases[i].req);
        expect_exchange(fx, req, want, true);
        free(want);
    }
}

static void test_errors_that_keep(void **state)
{
    struct fixture *fx = *state;
    char *head = hello_head(fx), want[4096];
    { /* 404, then the next request */
        char *err = error_response(404, "", "", true);
        snprintf(want, sizeof want, "%s%s\r\n\r\n" HELLO, err, head);
        expect_exchange(
            fx, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            want, false);
        free(err);
    }
    { /* the same as HEAD: Content-Length of the page, no page */
        char *err = error_response(404, "", "", false);
        expect_exchange(fx, "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n", err, false);
        free(err);
    }
    { /* a directory without its slash: 301 to it, query kept */
        char *err = error_response(301, "Location: /dir/?a=1\r\n", "", true);
        expect_exchange(fx, "GET /dir?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", err, false);
        free(err);
    }
    { /* 405 without a body keeps the connection */
        char *err = error_response(405, "Allow: GET, HEAD, OPTIONS\r\n", "", true);
        snprintf(want, sizeof want, "%s%s\r\n\r\n" HELLO, err, head);
        expect_exchange(fx,
                        "DELETE /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                        want, false);
        free(err);
    }
    free(head);
}

static void test_options(void **state)
{
    struct fixture *fx = *state;
    expect_exchange(fx, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
                    "HTTP/1.1 200 OK\r\n" DATE SERVER
                    "Content-Length: 0\r\nAllow: GET, HEAD, OPTIONS\r\n\r\n",
                    false);
    expect_exchange(fx, "OPTIONS /hello.txt HTTP/1.0\r\n\r\n",
                    "HTTP/1.1 200 OK\r\n" DATE SERVER
                    "Content-Length: 0\r\nAllow: GET, HEAD, OPTIONS\r\nConnection: close\r\n\r\n",
                    true);
}

static void test_expect_continue(void **state)
{
    struct fixture *fx = *state;
    char *head = hello_head(fx), want[2048];
    snprintf(want, sizeof want, "HTTP/1.1 100 Continue\r\n\r\n%s\r\n\r\n" HELLO, head);
    expect_exchange(fx,
                    "GET /hello.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    "Content-Length: 3\r\n\r\nabc",
                    want, false);
    free(head);
}

/*
 * A client that sends its request and shuts down its side at once gets the
 * response, then the server's FIN: it does not wait for the idle timeout.
 */
static void test_half_close_after_request(void **state)
{
    struct fixture *fx = *state;
    char *head = hello_head(fx), want[2048];
    snprintf(want, sizeof want, "%s\r\n\r\n" HELLO, head);
    size_t want_len = strlen(want) + WK_CLOCK_IMF_LEN - 1 - 6;
    static const char req[] = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    char *got = exchange(fx, req, sizeof req - 1, want_len, true, true);
    assert_response(got, want);
    free(got);
    free(head);
}

/* ---- http_response_head() and http_response_error() called directly ---- */

struct direct {
    struct fixture *fx;
    struct wk_conn *c;
    int peer;
    struct http_request req;
    struct http_txn t;
};

/* A connection over a socketpair, and a request of the given version parsed into it. */
static void direct_open(struct direct *d, struct fixture *fx, const char *version, bool keep)
{
    static const struct http_limits limits = {1024, 4096, 50, 1024};
    char req[128];
    int sv[2];
    memset(d, 0, sizeof *d);
    d->fx = fx;
    server_start(fx);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    d->c = wk_conn_new(&fx->srv, &fx->srv.listeners[0], sv[0], NULL, 0);
    assert_non_null(d->c);
    fx->srv.open++;
    d->peer = sv[1];
    int n = snprintf(req, sizeof req, "GET / %s\r\nHost: x\r\n\r\n", version);
    http_request_init(&d->req, &limits);
    assert_int_equal(http_request_parse(&d->req, req, (size_t)n), HTTP_PARSE_DONE);
    d->t = (struct http_txn){.c = d->c, .srv = &fx->hs, .req = &d->req, .keep_alive = keep};
}

/* What was appended to the output, NUL-terminated; the caller frees it. */
static char *direct_out(struct direct *d)
{
    struct wk_buf *out = wk_conn_out(d->c);
    char *s = malloc(wk_buf_len(out) + 1);
    assert_non_null(s);
    memcpy(s, wk_buf_data(out), wk_buf_len(out));
    s[wk_buf_len(out)] = '\0';
    wk_buf_reset(out);
    return s;
}

static void direct_expect(struct direct *d, const char *want)
{
    char *got = direct_out(d);
    assert_response(got, want);
    free(got);
}

static void direct_close(struct direct *d)
{
    wk_conn_close(d->c, "test");
    close(d->peer);
    wk_server_fini(&d->fx->srv);
}

static void test_head_fields(void **state)
{
    struct fixture *fx = *state;
    struct direct d;
    direct_open(&d, fx, "HTTP/1.1", true);
    { /* every field, in the order they are written */
        static const char etag[] = "\"5f5e100-6\"";
        static const char loc[] = "/there/";
        struct http_response r = {
            .status = 206,
            .content_type = "text/plain; charset=utf-8",
            .content_length = 1234567890123ull,
            .last_modified = "Sun, 06 Nov 1994 08:49:37 GMT",
            .etag = etag,
            .etag_len = sizeof etag - 1,
            .location = loc,
            .location_len = sizeof loc - 1,
            .content_range = "bytes 0-0/1",
            .accept_ranges = true,
            .allow = true,
            .no_store = true,
        };
        assert_int_equal(http_response_head(&d.t, &r), 0);
        direct_expect(&d, "HTTP/1.1 206 Partial Content\r\n" DATE SERVER
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "Content-Length: 1234567890123\r\n"
                          "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                          "ETag: \"5f5e100-6\"\r\n"
                          "Accept-Ranges: bytes\r\n"
                          "Content-Range: bytes 0-0/1\r\n"
                          "Location: /there/\r\n"
                          "Allow: GET, HEAD, OPTIONS\r\n"
                          "Cache-Control: no-store\r\n"
                          "\r\n");
        assert_int_equal(d.t.status, 206);
        assert_int_equal(d.t.body_bytes, 1234567890123ull);
    }
    { /* the least: a length of 0 is still sent */
        struct http_response r = {.status = 200};
        assert_int_equal(http_response_head(&d.t, &r), 0);
        direct_expect(&d, "HTTP/1.1 200 OK\r\n" DATE SERVER "Content-Length: 0\r\n\r\n");
    }
    { /* 304: no Content-Length, and no body counted */
        struct http_response r = {.status = 304, .content_length = 6, .no_length = true};
        assert_int_equal(http_response_head(&d.t, &r), 0);
        direct_expect(&d, "HTTP/1.1 304 Not Modified\r\n" DATE SERVER "\r\n");
        assert_int_equal(d.t.status, 304);
        assert_int_equal(d.t.body_bytes, 0);
    }
    { /* HEAD: the length of the body a GET would get, none counted as sent */
        struct http_response r = {.status = 200, .content_length = 6};
        d.t.head_only = true;
        assert_int_equal(http_response_head(&d.t, &r), 0);
        direct_expect(&d, "HTTP/1.1 200 OK\r\n" DATE SERVER "Content-Length: 6\r\n\r\n");
        assert_int_equal(d.t.body_bytes, 0);
        d.t.head_only = false;
    }
    { /* 100 Continue */
        assert_int_equal(http_response_continue(&d.t), 0);
        direct_expect(&d, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    direct_close(&d);
}

/* Connection: nothing for 1.1 kept alive, keep-alive for 1.0 kept alive, else close. */
static void test_head_connection(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *version;
        bool keep;
        const char *want;
    } cases[] = {
        {"HTTP/1.1", true, ""},
        {"HTTP/1.1", false, "Connection: close\r\n"},
        {"HTTP/1.0", true, "Connection: keep-alive\r\n"},
        {"HTTP/1.0", false, "Connection: close\r\n"},
    };
    for (size_t i = 0; i < WK_ARRAY_LEN(cases); i++) {
        struct direct d;
        char want[512];
        struct http_response r = {.status = 200, .content_length = 6};
        direct_open(&d, fx, cases[i].version, cases[i].keep);
        assert_int_equal(http_response_head(&d.t, &r), 0);
        snprintf(want, sizeof want, "HTTP/1.1 200 OK\r\n" DATE SERVER "Content-Length: 6\r\n%s\r\n",
                 cases[i].want);
        direct_expect(&d, want);
        direct_close(&d);
    }
}

static void test_error_pages(void **state)
{
    struct fixture *fx = *state;
    static const int statuses[] = {400, 403, 404, 405, 408, 412, 413, 414,
                                   416, 417, 431, 500, 501, 503, 505};
    for (size_t i = 0; i < WK_ARRAY_LEN(statuses); i++) {
        int status = statuses[i];
        bool closes = http_status_closes(status);
        for (int head = 0; head <= 1; head++) {
            struct direct d;
            direct_open(&d, fx, "HTTP/1.1", true);
            d.t.head_only = head;
            assert_int_equal(http_response_error(&d.t, status, NULL), 0);
            assert_int_equal(d.t.keep_alive, !closes);
            assert_int_equal(d.t.status, status);
            char *want = error_response(
                status, status == 405 || status == 501 ? "Allow: GET, HEAD, OPTIONS\r\n" : "",
                closes ? "Connection: close\r\n" : "", !head);
            direct_expect(&d, want);
            /* The Content-Length is the page's, sent or not. */
            const char *cl = strstr(want, "Content-Length: ");
            assert_non_null(cl);
            assert_int_equal(d.t.body_bytes, head ? 0 : strtoull(cl + 16, NULL, 10));
            free(want);
            direct_close(&d);
        }
    }
}

static void test_error_extra_fields(void **state)
{
    struct fixture *fx = *state;
    struct direct d;
    direct_open(&d, fx, "HTTP/1.1", true);
    { /* Content-Range of a 416 */
        struct http_response e = {.content_range = "bytes */6"};
        assert_int_equal(http_response_error(&d.t, 416, &e), 0);
        char *want = error_response(416, "Content-Range: bytes */6\r\n", "", true);
        direct_expect(&d, want);
        free(want);
    }
    { /* Location of a 301; the page's own type and length win over the caller's */
        struct http_response e = {.location = "/dir/",
                                  .location_len = 5,
                                  .content_type = "x/y",
                                  .content_length = 99,
                                  .no_store = true};
        assert_int_equal(http_response_error(&d.t, 301, &e), 0);
        char *want = error_response(301, "Location: /dir/\r\n", "", true);
        direct_expect(&d, want);
        free(want);
    }
    direct_close(&d);
}

int main(void)
{
    wk_log_init("test", WK_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_closing_statuses),
        cmocka_unit_test_setup_teardown(test_head_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_extra_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_that_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_that_keep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_after_request, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

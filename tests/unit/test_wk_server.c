/*
 * test_wk_server.c: the server lifecycle (common/server.c) with a tiny
 * protocol defined here: the log lines for listen, accept and close, the
 * graceful stop on SIGTERM and SIGINT (raised in this process and read by
 * the loop), the shutdown timeout, the connection limit pausing accepts,
 * several listeners, bind errors and closing what is open at the end.
 *
 * Protocol: optional greeting "hello" on open; lines "echo TEXT", "stop"
 * (raise SIGTERM), "int" (raise SIGINT); on peer close, finish; on
 * shutdown, "bye" and finish (unless the case ignores shutdown).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/conn.h"
#include "common/log.h"
#include "common/server.h"
#include "support/wk_net.h"
#include "support/wk_testsrv.h"

#define STEP_MS  3000
#define NCLIENTS 4

struct ctx {
    int opens, closes, shutdowns, data_calls;
    bool greet;
    bool ignore_shutdown;
    struct wk_conn *last;
};

static void s_on_open(struct wk_conn *c)
{
    struct ctx *x = wk_conn_server(c)->data;
    x->opens++;
    x->last = c;
    if (x->greet)
        wk_conn_write(c, "hello\n", 6);
}

static void s_on_data(struct wk_conn *c)
{
    struct ctx *x = wk_conn_server(c)->data;
    struct wk_buf *in = wk_conn_in(c);
    x->data_calls++;
    for (;;) {
        ssize_t n = wk_buf_getline(in, 512);
        if (n <= 0)
            break;
        char line[513];
        memcpy(line, wk_buf_data(in), (size_t)n - 1);
        line[n - 1] = '\0';
        wk_buf_consume(in, (size_t)n);
        if (!strncmp(line, "echo ", 5)) {
            wk_conn_write(c, line + 5, strlen(line + 5));
            wk_conn_write(c, "\n", 1);
        } else if (!strcmp(line, "stop")) {
            raise(SIGTERM);
        } else if (!strcmp(line, "int")) {
            raise(SIGINT);
        }
    }
    if (wk_conn_peer_closed(c))
        wk_conn_finish(c, "eof");
}

static void s_on_drain(struct wk_conn *c)
{
    (void)c;
}

static void s_on_timeout(struct wk_conn *c)
{
    wk_conn_close(c, "idle");
}

static void s_on_shutdown(struct wk_conn *c)
{
    struct ctx *x = wk_conn_server(c)->data;
    x->shutdowns++;
    if (x->ignore_shutdown)
        return;
    wk_conn_write(c, "bye\n", 4);
    wk_conn_finish(c, "shutdown");
}

static void s_on_close(struct wk_conn *c)
{
    struct ctx *x = wk_conn_server(c)->data;
    x->closes++;
    if (x->last == c)
        x->last = NULL;
}

static const struct wk_conn_ops server_ops = {
    .proto_size = 8,
    .on_open = s_on_open,
    .on_data = s_on_data,
    .on_drain = s_on_drain,
    .on_timeout = s_on_timeout,
    .on_shutdown = s_on_shutdown,
    .on_close = s_on_close,
};

struct client {
    int fd;
    char buf[4096];
    size_t len;
    bool eof;
};

struct fixture {
    struct wk_testsrv ts;
    bool started;
    struct ctx x;
    struct wk_server_config cfg;
    struct client cl[NCLIENTS];
    char dir[64];
    char path[128];
    struct wk_test_capture cap; /* stderr, while capturing */
    bool capturing;
};

static void capture_begin(struct fixture *f)
{
    wk_log_init("test", WK_LOG_INFO);
    wk_test_capture_begin(&f->cap);
    f->capturing = true;
}

/* The log written since capture_begin(); free() it. */
static char *capture_end(struct fixture *f)
{
    f->capturing = false;
    wk_log_init("test", WK_LOG_ERROR);
    return wk_test_capture_end(&f->cap);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    wk_log_init("test", getenv("WK_TEST_LOG") ? WK_LOG_DEBUG : WK_LOG_ERROR);
    wk_server_config_defaults(&f->cfg);
    for (int i = 0; i < NCLIENTS; i++)
        f->cl[i].fd = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->capturing) /* a case failed while capturing: give stderr back */
        free(capture_end(f));
    for (int i = 0; i < NCLIENTS; i++) {
        if (f->cl[i].fd >= 0)
            close(f->cl[i].fd);
    }
    if (f->started)
        wk_testsrv_fini(&f->ts);
    if (f->path[0])
        unlink(f->path);
    if (f->dir[0])
        rmdir(f->dir);
    free(f);
    return 0;
}

static void start_at(struct fixture *f, const char *const *addrs, size_t n)
{
    char err[WK_ERR_LEN];
    int rc = wk_testsrv_init(&f->ts, &f->cfg, &server_ops, &f->x, addrs, n, err);
    if (rc != 0)
        fail_msg("server: %s", err);
    f->started = true;
}

static void start(struct fixture *f)
{
    const char *addrs[] = {"127.0.0.1:0"};
    start_at(f, addrs, 1);
}

static struct client *connect_client(struct fixture *f, int i, size_t listener)
{
    struct client *cl = &f->cl[i];
    cl->fd = wk_testsrv_connect(&f->ts, listener);
    assert_true(cl->fd >= 0);
    cl->len = 0;
    cl->eof = false;
    return cl;
}

static void client_send(struct client *cl, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(cl->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

struct want {
    struct fixture *f;
    int opens, closes;
    struct client *cl;
    size_t bytes;
    bool eof;
    bool close_on_eof; /* clients close their socket once they have read EOF */
    bool never;        /* drive the clients only: the server is to stop by itself */
};

static bool until_want(struct wk_testsrv *ts, void *arg)
{
    struct want *w = arg;
    struct ctx *x = ts->srv.data;
    for (int i = 0; i < NCLIENTS; i++) {
        struct client *cl = &w->f->cl[i];
        if (cl->fd < 0 || cl->eof)
            continue;
        if (wk_test_read_some(cl->fd, cl->buf, &cl->len, sizeof cl->buf - 1))
            cl->eof = true;
        cl->buf[cl->len] = '\0';
        if (cl->eof && w->close_on_eof) {
            close(cl->fd);
            cl->fd = -1;
        }
    }
    if (w->never || x->opens < w->opens || x->closes < w->closes)
        return false;
    if (w->cl != NULL && (w->cl->len < w->bytes || (w->eof && !w->cl->eof)))
        return false;
    return true;
}

#define STEP(f, ...)                                                                               \
    do {                                                                                           \
        struct want w_ = {.f = (f), __VA_ARGS__};                                                  \
        if (!wk_testsrv_run(&(f)->ts, until_want, &w_, STEP_MS))                                   \
            fail_msg("step %s not reached: opens=%d closes=%d shutdowns=%d", #__VA_ARGS__,         \
                     (f)->x.opens, (f)->x.closes, (f)->x.shutdowns);                               \
    } while (0)

static void test_config_defaults(void **state)
{
    (void)state;
    struct wk_server_config cfg;
    memset(&cfg, 0xff, sizeof cfg);
    wk_server_config_defaults(&cfg);
    { /* every limit is set, and consistent with the others */
        assert_true(cfg.backlog > 0);
        assert_true(cfg.max_conns > 0);
        assert_true(cfg.in_max > 0);
        assert_true(cfg.out_high > 0 && cfg.out_high < cfg.out_max);
        assert_true(cfg.send_timeout_ms > 0);
        assert_true(cfg.linger_ms > 0);
        assert_true(cfg.shutdown_timeout_ms > 0);
    }
}

/* Connections open on listener i, from its counters summed over the workers. */
static uint64_t open_on(struct fixture *f, unsigned i)
{
    struct wk_registry r;
    wk_registry_sum(f->ts.srv.board, i, &r);
    return r.accepted - r.closed;
}

/* The first line of log that contains needle, or NULL. */
static const char *log_line(const char *log, const char *needle)
{
    return strstr(log, needle);
}

static void test_log_lines(void **state)
{
    struct fixture *f = *state;
    char want[256];
    capture_begin(f);
    start(f);
    struct wk_listener *l = &f->ts.srv.listeners[0];
    struct client *cl = connect_client(f, 0, 0);
    STEP(f, .opens = 1);
    int server_fd = wk_conn_info(f->x.last)->fd;
    close(cl->fd);
    cl->fd = -1;
    STEP(f, .closes = 1);
    char *log = capture_end(f);
    unsigned port = wk_addr_port(&l->addr.u.sa), cport = 0;
    { /* listen, with the real port and the listener's fd */
        snprintf(want, sizeof want, "test listen addr=127.0.0.1:%u fd=%d\n", port, l->fd);
        if (log_line(log, want) == NULL)
            fail_msg("no \"%s\" in:\n%s", want, log);
        assert_true(port != 0);
    }
    { /* accept: the server's fd, the listener, the client's address and port, open count */
        snprintf(want, sizeof want,
                 "test accept fd=%d listener=127.0.0.1:%u client=127.0.0.1:", server_fd, port);
        const char *p = log_line(log, want);
        if (p == NULL)
            fail_msg("no \"%s\" in:\n%s", want, log);
        assert_int_equal(sscanf(p + strlen(want), "%u open=1\n", &cport), 1);
        assert_true(cport != 0 && cport != port);
    }
    { /* close: the same fd and client, the reason, bytes and the open count after */
        snprintf(want, sizeof want,
                 "test close fd=%d listener=127.0.0.1:%u client=127.0.0.1:%u reason=eof in=0 "
                 "out=0 ms=",
                 server_fd, port, cport);
        const char *p = log_line(log, want);
        if (p == NULL)
            fail_msg("no \"%s\" in:\n%s", want, log);
        assert_non_null(strstr(p, " open=0\n"));
    }
    free(log);
}

static void test_dual_stack_accept_line(void **state)
{
    struct fixture *f = *state;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    if (probe < 0)
        fail_msg("this test needs IPv6 sockets");
    close(probe);
    const char *addrs[] = {":0"};
    capture_begin(f);
    start_at(f, addrs, 1);
    struct wk_listener *l = &f->ts.srv.listeners[0];
    unsigned port = wk_addr_port(&l->addr.u.sa);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->cl[0].fd = wk_test_connect((struct sockaddr *)&in, sizeof in, true);
    assert_true(f->cl[0].fd >= 0);
    STEP(f, .opens = 1);
    char *log = capture_end(f);
    { /* an IPv4 client of [::] is logged as the v4-mapped address, as in the design */
        char want[160];
        snprintf(want, sizeof want,
                 "test accept fd=%d listener=[::]:%u client=[::ffff:127.0.0.1]:%u open=1\n",
                 wk_conn_info(f->x.last)->fd, port, wk_test_local_port(f->cl[0].fd));
        if (strstr(log, want) == NULL)
            fail_msg("no \"%s\" in:\n%s", want, log);
    }
    { /* and counts as loopback, for the dashboard's default */
        assert_true(wk_addr_is_loopback(&wk_conn_info(f->x.last)->peer.sa));
    }
    free(log);
}

static void test_sigterm_graceful_stop(void **state)
{
    struct fixture *f = *state;
    f->cfg.linger_ms = 200;
    start(f);
    struct client *a = connect_client(f, 0, 0);
    struct client *b = connect_client(f, 1, 0);
    { /* SIGTERM, raised in the process: every conn gets on_shutdown, run returns 0 */
        client_send(a, "echo hi\nstop\n");
        struct want w = {.f = f, .close_on_eof = true, .never = true};
        uint64_t t0 = wk_clock_monotonic_ms();
        bool reached = wk_testsrv_run(&f->ts, until_want, &w, STEP_MS);
        assert_false(reached);
        assert_false(f->ts.expired);
        assert_int_equal(f->ts.rc, 0);
        assert_int_equal(f->x.opens, 2);
        assert_int_equal(f->x.shutdowns, 2);
        assert_int_equal(f->x.closes, 2);
        assert_int_equal(f->ts.srv.open, 0);
        assert_true(wk_clock_monotonic_ms() - t0 < f->cfg.shutdown_timeout_ms);
    }
    { /* each client read what was queued for it, then the close */
        assert_string_equal(a->buf, "hi\nbye\n");
        assert_true(a->eof);
        assert_string_equal(b->buf, "bye\n");
        assert_true(b->eof);
    }
    { /* the listener is closed: new clients are refused */
        const struct wk_addr *addr = &f->ts.srv.listeners[0].addr;
        assert_int_equal(wk_test_connect(&addr->u.sa, addr->len, false), -ECONNREFUSED);
    }
}

static void test_sigint_without_connections(void **state)
{
    struct fixture *f = *state;
    start(f);
    { /* SIGINT with nothing open stops at once, returning 0 */
        assert_int_equal(raise(SIGINT), 0);
        uint64_t t0 = wk_clock_monotonic_ms();
        assert_false(wk_testsrv_run(&f->ts, NULL, NULL, STEP_MS));
        assert_false(f->ts.expired);
        assert_int_equal(f->ts.rc, 0);
        assert_true(wk_clock_monotonic_ms() - t0 < 1000);
        assert_int_equal(f->x.shutdowns, 0);
    }
}

static void test_shutdown_timeout(void **state)
{
    struct fixture *f = *state;
    f->x.ignore_shutdown = true;
    f->cfg.shutdown_timeout_ms = 100;
    start(f);
    struct client *a = connect_client(f, 0, 0);
    { /* a conn that ignores on_shutdown is closed when the shutdown timeout passes */
        client_send(a, "stop\n");
        uint64_t t0 = wk_clock_monotonic_ms();
        struct want w = {.f = f, .never = true};
        assert_false(wk_testsrv_run(&f->ts, until_want, &w, STEP_MS));
        uint64_t took = wk_clock_monotonic_ms() - t0;
        assert_false(f->ts.expired);
        assert_int_equal(f->ts.rc, 0);
        assert_int_equal(f->x.shutdowns, 1);
        assert_true(took >= 100);
        assert_true(took < STEP_MS);
    }
    { /* it was closed: nothing is open and the client sees the close */
        assert_int_equal(f->ts.srv.open, 0);
        char c;
        assert_int_equal(recv(a->fd, &c, 1, MSG_DONTWAIT), 0);
    }
    { /* on_close has run by the end of fini at the latest */
        wk_testsrv_fini(&f->ts);
        f->started = false;
        assert_int_equal(f->x.closes, 1);
    }
}

static void test_max_conns_pauses_accepting(void **state)
{
    struct fixture *f = *state;
    f->cfg.max_conns = 2;
    f->x.greet = true;
    start(f);
    struct wk_registry r;
    struct client *c[3];
    for (int i = 0; i < 3; i++)
        c[i] = connect_client(f, i, 0);
    { /* at the limit, the third client waits in the backlog */
        STEP(f, .opens = 2);
        wk_testsrv_run(&f->ts, NULL, NULL, 100);
        assert_int_equal(f->x.opens, 2);
        assert_int_equal(open_on(f, 0), 2);
        assert_int_equal(f->ts.srv.open, 2);
    }
    { /* one leaves: the third is accepted and greeted */
        int waiting = -1, first = -1;
        for (int i = 0; i < 3; i++) {
            wk_test_read_some(c[i]->fd, c[i]->buf, &c[i]->len, sizeof c[i]->buf);
            if (c[i]->len == 0)
                waiting = i;
            else if (first < 0)
                first = i;
        }
        assert_true(waiting >= 0 && first >= 0);
        close(c[first]->fd);
        c[first]->fd = -1;
        STEP(f, .opens = 3, .closes = 1, .cl = c[waiting], .bytes = 6);
        assert_string_equal(c[waiting]->buf, "hello\n");
        wk_registry_sum(f->ts.srv.board, 0, &r);
        assert_int_equal(r.accepted - r.closed, 2);
        assert_int_equal(r.accepted, 3);
    }
}

static void test_two_listeners(void **state)
{
    struct fixture *f = *state;
    snprintf(f->dir, sizeof f->dir, "/tmp/wk-server-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/s", f->dir);
    char unix_addr[160];
    snprintf(unix_addr, sizeof unix_addr, "unix:%s", f->path);
    const char *addrs[] = {"127.0.0.1:0", unix_addr};
    start_at(f, addrs, 2);
    assert_int_equal(f->ts.srv.nlisteners, 2);
    { /* one client on each: each listener counts its own */
        struct client *a = connect_client(f, 0, 0);
        STEP(f, .opens = 1);
        assert_ptr_equal(wk_conn_listener(f->x.last), &f->ts.srv.listeners[0]);
        struct client *b = connect_client(f, 1, 1);
        STEP(f, .opens = 2);
        assert_ptr_equal(wk_conn_listener(f->x.last), &f->ts.srv.listeners[1]);
        assert_int_equal(open_on(f, 0), 1);
        assert_int_equal(open_on(f, 1), 1);
        assert_int_equal(wk_conn_info(f->x.last)->listener, 1);
        assert_int_equal(f->ts.srv.open, 2);
        { /* the unix client has no address: printed as "unix" */
            char peer[64];
            wk_conn_format_peer(f->x.last, peer, sizeof peer);
            assert_string_equal(peer, "unix");
        }
        client_send(a, "echo on tcp\n");
        client_send(b, "echo on unix\n");
        STEP(f, .cl = b, .bytes = 8);
        STEP(f, .cl = a, .bytes = 7);
        assert_string_equal(a->buf, "on tcp\n");
        assert_string_equal(b->buf, "on unix\n");
    }
}

static void test_listen_error(void **state)
{
    struct fixture *f = *state;
    struct wk_addr a;
    char err[WK_ERR_LEN], text[64];
    assert_int_equal(wk_addr_parse("127.0.0.1:0", &a, err), 0);
    int busy = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(busy >= 0);
    assert_int_equal(bind(busy, &a.u.sa, a.len), 0);
    assert_int_equal(listen(busy, 1), 0);
    socklen_t len = sizeof a.u;
    assert_int_equal(getsockname(busy, &a.u.sa, &len), 0);
    snprintf(text, sizeof text, "127.0.0.1:%u", wk_addr_port(&a.u.sa));
    { /* the second of two addresses is taken: the error names it, nothing leaks */
        const char *addrs[] = {"127.0.0.1:0", text};
        err[0] = '\0';
        int rc = wk_testsrv_init(&f->ts, &f->cfg, &server_ops, &f->x, addrs, 2, err);
        assert_int_equal(rc, -EADDRINUSE);
        assert_non_null(strstr(err, text));
    }
    close(busy);
}

static void test_fini_closes_open_conns(void **state)
{
    struct fixture *f = *state;
    start(f);
    struct client *a = connect_client(f, 0, 0);
    struct client *b = connect_client(f, 1, 0);
    STEP(f, .opens = 2);
    { /* fini closes every open conn: on_close for each, clients see the close */
        wk_testsrv_fini(&f->ts);
        f->started = false;
        assert_int_equal(f->x.closes, 2);
        char c;
        assert_int_equal(recv(a->fd, &c, 1, 0), 0);
        assert_int_equal(recv(b->fd, &c, 1, 0), 0);
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_config_defaults),
        T(test_log_lines),
        T(test_dual_stack_accept_line),
        T(test_sigterm_graceful_stop),
        T(test_sigint_without_connections),
        T(test_shutdown_timeout),
        T(test_max_conns_pauses_accepting),
        T(test_two_listeners),
        T(test_listen_error),
        T(test_fini_closes_open_conns),
    };
#undef T
    if (getenv("WK_TEST_FILTER"))
        cmocka_set_test_filter(getenv("WK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

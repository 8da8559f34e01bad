/*
 * test_wk_conn.c: accepted connections (common/conn.c) on a real
 * wk_server bound to 127.0.0.1:0, driven by nonblocking client sockets in
 * this process. The protocol is a tiny line-based one defined here (its
 * ops table below): each case writes commands, steps the server until what
 * it expects has happened (or a time bound passes), and checks bytes on the
 * client side and calls on the protocol side.
 *
 * Commands, one per line: "echo TEXT", "mix", "file OFF LEN", "filenull OFF
 * LEN", "file2", "flood N", "finish N", "close", "timeout MS", "phase",
 * "pause", "big N", "killothers". Without a command: on peer close the
 * protocol answers "eof N" (N bytes received) and finishes.
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
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/conn.h"
#include "common/log.h"
#include "common/server.h"
#include "support/wk_net.h"
#include "support/wk_testsrv.h"

#define STEP_MS   3000 /* bound on each step; a passing step takes milliseconds */
#define MAX_CONNS 16

/* ---- the test protocol ---- */

struct ctx;

struct tconn {
    struct ctx *x;
    struct wk_conn *c;
    int id;
    uint64_t flood_left;
    uint64_t produced;
    bool eof_done;
};

struct ctx {
    int opens, closes, data_calls, drains, timeouts, shutdowns;
    int peer_closed_seen;
    bool raw; /* collect input into sink instead of reading commands */
    char *sink;
    size_t sink_len, sink_cap;
    bool close_on_open;
    int file_fd; /* file the "file" commands send from */
    int releases;
    int send_file_rc[4];
    int nsend_file;
    int null_fd; /* fd given with no release callback */
    bool null_fd_closed_at_drain;
    uint64_t armed_at, timeout_at;
    struct tconn *conns[MAX_CONNS];
    int nconns;
    size_t max_in_seen;
    size_t in_max;
    bool blocked_seen;
    int write_rc; /* first wk_conn_write error */
    char peer[WK_ADDR_STRLEN];
    bool accessors_ok;
    struct wk_conn *each_want; /* wk_conn_each: the conn looked for, and how often it came */
    int each_found, each_calls;
    /* checks made right after wk_conn_close() inside a callback */
    bool closing_after_close;
    int data_after_close;
    /* what on_close saw */
    uint64_t last_bytes_in, last_bytes_out;
    uint64_t closed_bytes_in, closed_bytes_out; /* summed over every on_close */
};

static uint8_t pat(uint64_t i)
{
    return (uint8_t)((i * 2654435761u) >> 24);
}

static void fill_pattern(char *p, uint64_t from, size_t n)
{
    for (size_t k = 0; k < n; k++)
        p[k] = (char)pat(from + k);
}

/* Writes flood bytes until done or the conn says it is write-blocked. */
static void produce(struct tconn *p)
{
    char chunk[4096];
    while (p->flood_left > 0 && !wk_conn_is_write_blocked(p->c)) {
        size_t n = p->flood_left < sizeof chunk ? (size_t)p->flood_left : sizeof chunk;
        fill_pattern(chunk, p->produced, n);
        int rc = wk_conn_write(p->c, chunk, n);
        if (rc < 0) {
            if (p->x->write_rc == 0)
                p->x->write_rc = rc;
            return;
        }
        p->produced += n;
        p->flood_left -= n;
    }
    if (wk_conn_is_write_blocked(p->c))
        p->x->blocked_seen = true;
}

/* The release callback of files sent with one: closes the test's dup of the file. */
struct release {
    struct ctx *x;
    int fd;
};

static void on_release(void *arg)
{
    struct release *r = arg;
    r->x->releases++;
    close(r->fd);
    free(r);
}

static void send_file_cmd(struct tconn *p, long off, long len, bool with_release)
{
    struct ctx *x = p->x;
    int fd = dup(x->file_fd);
    struct release *r = NULL;
    if (with_release) {
        r = malloc(sizeof *r);
        r->x = x;
        r->fd = fd;
    }
    wk_conn_write(p->c, "HEAD", 4);
    int rc = wk_conn_send_file(p->c, fd, off, (size_t)len, with_release ? on_release : NULL, r);
    if (x->nsend_file < 4)
        x->send_file_rc[x->nsend_file++] = rc;
    if (rc < 0) { /* -EBUSY: the fd is still ours */
        close(fd);
        free(r);
    } else if (!with_release) {
        x->null_fd = fd;
    }
    wk_conn_write(p->c, "TAIL", 4);
}

static void command(struct tconn *p, const char *line)
{
    struct ctx *x = p->x;
    struct wk_conn *c = p->c;
    long a = 0, b = 0;
    if (!strncmp(line, "echo ", 5)) {
        wk_conn_write(c, line + 5, strlen(line + 5));
        wk_conn_write(c, "\n", 1);
    } else if (!strcmp(line, "mix")) {
        wk_conn_write(c, "1", 1);
        wk_buf_printf(wk_conn_out(c), "%d", 2);
        wk_buf_append(wk_conn_out(c), "3\n", 2);
        wk_conn_flush_later(c);
    } else if (sscanf(line, "file %ld %ld", &a, &b) == 2) {
        send_file_cmd(p, a, b, true);
    } else if (sscanf(line, "filenull %ld %ld", &a, &b) == 2) {
        send_file_cmd(p, a, b, false);
    } else if (!strcmp(line, "file2")) {
        send_file_cmd(p, 0, 10, true);
        send_file_cmd(p, 0, 10, true);
    } else if (sscanf(line, "flood %ld", &a) == 1) {
        p->flood_left = (uint64_t)a;
        produce(p);
    } else if (sscanf(line, "finish %ld", &a) == 1) {
        /* All at once, past the high-water mark: finish writes whatever is queued. */
        char chunk[4096];
        for (long done = 0; done < a;) {
            size_t n = a - done < (long)sizeof chunk ? (size_t)(a - done) : sizeof chunk;
            fill_pattern(chunk, (uint64_t)done, n);
            if (wk_conn_write(c, chunk, n) < 0)
                break;
            done += (long)n;
        }
        wk_conn_finish(c, "finished");
    } else if (!strcmp(line, "close")) {
        wk_conn_write(c, "bye\n", 4);
        wk_conn_close(c, "asked");
        /* Deferred: the conn is still valid memory and says it is closing. */
        x->closing_after_close = wk_conn_is_closing(c);
        wk_conn_close(c, "again");
        wk_conn_set_timeout(c, 10);
        wk_conn_write(c, "ignored\n", 8);
        wk_conn_flush_later(c);
    } else if (sscanf(line, "timeout %ld", &a) == 1) {
        x->armed_at = wk_loop_now(wk_conn_loop(c));
        wk_conn_set_timeout(c, (uint64_t)a);
    } else if (!strcmp(line, "phase")) {
        wk_conn_set_phase(c, "busy", 5, 10);
        wk_conn_write(c, "ok\n", 3);
    } else if (!strcmp(line, "pause")) {
        wk_conn_pause_read(c, true);
        wk_conn_write(c, "paused\n", 7);
    } else if (sscanf(line, "big %ld", &a) == 1) {
        char *big = calloc(1, (size_t)a);
        int rc = big ? wk_conn_write(c, big, (size_t)a) : -ENOMEM;
        free(big);
        char reply[32];
        snprintf(reply, sizeof reply, "rc=%d\n", rc);
        wk_conn_write(c, reply, strlen(reply));
    } else if (!strcmp(line, "killothers")) {
        for (int i = 0; i < x->nconns; i++) {
            if (x->conns[i] != NULL && x->conns[i] != p)
                wk_conn_close(x->conns[i]->c, "killed");
        }
        wk_conn_write(c, "killed\n", 7);
    } else {
        wk_conn_write(c, "what?\n", 6);
    }
}

/* wk_conn_each's callback: counts the open conns, and the one looked for. */
static void count_each(struct wk_server *srv, struct wk_conn *c)
{
    struct ctx *x = srv->data;
    x->each_calls++;
    if (c == x->each_want)
        x->each_found++;
}

static void t_on_open(struct wk_conn *c)
{
    struct ctx *x = wk_conn_server(c)->data;
    struct tconn *p = wk_conn_proto(c);
    p->x = x;
    p->c = c;
    p->id = x->nconns;
    if (x->nconns < MAX_CONNS)
        x->conns[x->nconns++] = p;
    x->opens++;
    wk_conn_format_peer(c, x->peer, sizeof x->peer);
    struct wk_server *srv = wk_conn_server(c);
    /* The entry is this worker's used slot of the scoreboard, for listener 0. */
    const struct wk_conn_info *info = wk_conn_info(c);
    x->each_want = c;
    x->each_found = x->each_calls = 0;
    wk_conn_each(srv, count_each);
    x->accessors_ok = wk_conn_loop(c) == srv->loop && wk_conn_listener(c) == &srv->listeners[0] &&
                      info->fd >= 0 && info->listener == 0 && info->head.worker == srv->worker &&
                      (info->head.flags & WK_SCOREBOARD_USED) != 0 && x->each_found == 1 &&
                      !wk_conn_is_closing(c) && !wk_conn_peer_closed(c);
    if (x->close_on_open)
        wk_conn_close(c, "refused");
}

static void t_on_data(struct wk_conn *c)
{
    struct tconn *p = wk_conn_proto(c);
    struct ctx *x = p->x;
    struct wk_buf *in = wk_conn_in(c);
    x->data_calls++;
    if (wk_conn_is_closing(c))
        x->data_after_close++;
    if (wk_buf_len(in) > x->max_in_seen)
        x->max_in_seen = wk_buf_len(in);
    if (x->raw) {
        size_t n = wk_buf_len(in);
        if (x->sink_len + n <= x->sink_cap)
            memcpy(x->sink + x->sink_len, wk_buf_data(in), n);
        x->sink_len += n;
        wk_buf_consume(in, n);
    }
    size_t max = x->in_max < 1024 ? x->in_max : 1024;
    while (!x->raw && !wk_conn_is_closing(c)) {
        ssize_t n = wk_buf_getline(in, max);
        if (n == -EMSGSIZE) {
            wk_conn_write(c, "too long\n", 9);
            wk_conn_finish(c, "line-too-long");
            return;
        }
        if (n == 0)
            break;
        char line[1025];
        size_t len = (size_t)n - 1;
        if (len > 0 && wk_buf_data(in)[len - 1] == '\r')
            len--;
        memcpy(line, wk_buf_data(in), len);
        line[len] = '\0';
        wk_buf_consume(in, (size_t)n);
        command(p, line);
    }
    if (wk_conn_peer_closed(c) && !p->eof_done && !wk_conn_is_closing(c)) {
        p->eof_done = true;
        x->peer_closed_seen++;
        char reply[64];
        snprintf(reply, sizeof reply, "eof %llu\n", (unsigned long long)wk_conn_info(c)->bytes_in);
        wk_conn_write(c, reply, strlen(reply));
        wk_conn_finish(c, "eof");
    }
}

static void t_on_drain(struct wk_conn *c)
{
    struct tconn *p = wk_conn_proto(c);
    p->x->drains++;
    if (p->x->null_fd >= 0 && !p->x->null_fd_closed_at_drain)
        p->x->null_fd_closed_at_drain = fcntl(p->x->null_fd, F_GETFD) < 0 && errno == EBADF;
    produce(p);
}

static void t_on_timeout(struct wk_conn *c)
{
    struct tconn *p = wk_conn_proto(c);
    p->x->timeouts++;
    p->x->timeout_at = wk_loop_now(wk_conn_loop(c));
    wk_conn_close(c, "idle");
}

static void t_on_shutdown(struct wk_conn *c)
{
    struct tconn *p = wk_conn_proto(c);
    p->x->shutdowns++;
    wk_conn_finish(c, "shutdown");
}

static void t_on_close(struct wk_conn *c)
{
    struct tconn *p = wk_conn_proto(c);
    p->x->closes++;
    p->x->last_bytes_in = wk_conn_info(c)->bytes_in;
    p->x->last_bytes_out = wk_conn_info(c)->bytes_out;
    p->x->closed_bytes_in += p->x->last_bytes_in;
    p->x->closed_bytes_out += p->x->last_bytes_out;
    if (p->id < MAX_CONNS && p->x->conns[p->id] == p)
        p->x->conns[p->id] = NULL;
}

static const struct wk_conn_ops test_ops = {
    .proto_size = sizeof(struct tconn),
    .on_open = t_on_open,
    .on_data = t_on_data,
    .on_drain = t_on_drain,
    .on_timeout = t_on_timeout,
    .on_shutdown = t_on_shutdown,
    .on_close = t_on_close,
};

/* ---- the client side and the fixture ---- */

struct client {
    int fd;
    char *buf;
    size_t len, cap;
    bool eof;
};

struct fixture {
    struct wk_testsrv ts;
    bool started;
    struct ctx x;
    struct wk_server_config cfg;
    struct client cl[4];
    char file_path[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    /* WK_TEST_LOG=1 shows the server's log lines while debugging a case. */
    wk_log_init("test", getenv("WK_TEST_LOG") ? WK_LOG_DEBUG : WK_LOG_ERROR);
    wk_server_config_defaults(&f->cfg);
    f->x.file_fd = -1;
    f->x.null_fd = -1;
    for (int i = 0; i < 4; i++)
        f->cl[i].fd = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 4; i++) {
        if (f->cl[i].fd >= 0)
            close(f->cl[i].fd);
        free(f->cl[i].buf);
    }
    if (f->started)
        wk_testsrv_fini(&f->ts);
    if (f->x.file_fd >= 0)
        close(f->x.file_fd);
    if (f->file_path[0])
        unlink(f->file_path);
    free(f->x.sink);
    free(f);
    return 0;
}

static void start(struct fixture *f)
{
    char err[WK_ERR_LEN];
    const char *addrs[] = {"127.0.0.1:0"};
    f->x.in_max = f->cfg.in_max;
    int rc = wk_testsrv_init(&f->ts, &f->cfg, &test_ops, &f->x, addrs, 1, err);
    if (rc != 0)
        fail_msg("server: %s", err);
    f->started = true;
}

/* Connects client i with room for cap bytes of replies. */
static struct client *connect_client(struct fixture *f, int i, size_t cap)
{
    struct client *cl = &f->cl[i];
    cl->fd = wk_testsrv_connect(&f->ts, 0);
    assert_true(cl->fd >= 0);
    cl->buf = malloc(cap + 1);
    assert_non_null(cl->buf);
    cl->cap = cap;
    cl->len = 0;
    cl->eof = false;
    return cl;
}

static void client_send(struct client *cl, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(cl->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void client_read(struct client *cl)
{
    if (!cl->eof && wk_test_read_some(cl->fd, cl->buf, &cl->len, cl->cap))
        cl->eof = true;
    cl->buf[cl->len < cl->cap ? cl->len : cl->cap] = '\0';
}

/* Step predicates: each reads what the clients have before deciding. */

struct want {
    struct fixture *f;
    struct client *cl;
    size_t bytes; /* client has at least this many bytes */
    bool eof;     /* and has seen EOF */
    int opens, closes, data_calls, timeouts, peer_closed;
};

static bool until_want(struct wk_testsrv *ts, void *arg)
{
    struct want *w = arg;
    struct ctx *x = ts->srv.data;
    for (int i = 0; i < 4; i++) {
        if (w->f->cl[i].fd >= 0)
            client_read(&w->f->cl[i]);
    }
    if (x->opens < w->opens || x->closes < w->closes || x->data_calls < w->data_calls ||
        x->timeouts < w->timeouts || x->peer_closed_seen < w->peer_closed)
        return false;
    if (w->cl != NULL) {
        if (w->cl->len < w->bytes || (w->eof && !w->cl->eof))
            return false;
    }
    return true;
}

static bool step(struct fixture *f, struct want w)
{
    w.f = f;
    return wk_testsrv_run(&f->ts, until_want, &w, STEP_MS);
}

#define WANT(...) ((struct want){__VA_ARGS__})

/* A step that must succeed; on failure, says what was seen instead. */
#define STEP(f, ...)                                                                               \
    do {                                                                                           \
        struct want w_ = WANT(__VA_ARGS__);                                                        \
        if (!step((f), w_))                                                                        \
            fail_msg("step %s not reached: opens=%d closes=%d data=%d drains=%d timeouts=%d "      \
                     "peer_closed=%d client bytes=%zu eof=%d",                                     \
                     #__VA_ARGS__, (f)->x.opens, (f)->x.closes, (f)->x.data_calls, (f)->x.drains,  \
                     (f)->x.timeouts, (f)->x.peer_closed_seen, w_.cl ? w_.cl->len : 0,             \
                     w_.cl ? w_.cl->eof : 0);                                                      \
    } while (0)

static void expect_text(struct client *cl, const char *text)
{
    if (cl->len != strlen(text) || memcmp(cl->buf, text, cl->len) != 0)
        fail_msg("client got %zu bytes \"%.200s\", want \"%s\"", cl->len, cl->buf, text);
}

/* ---- cases ---- */

static void test_data_delivered_byte_exact(void **state)
{
    struct fixture *f = *state;
    enum { TOTAL = 300000 };
    start(f);
    f->x.raw = true;
    f->x.sink_cap = TOTAL;
    f->x.sink = malloc(TOTAL);
    assert_non_null(f->x.sink);
    struct client *cl = connect_client(f, 0, 64);
    char *data = malloc(TOTAL);
    assert_non_null(data);
    fill_pattern(data, 0, TOTAL);
    { /* the client writes as fast as the socket takes it; on_data sees every byte once */
        size_t sent = 0;
        uint64_t deadline = wk_clock_monotonic_ms() + STEP_MS;
        while (f->x.sink_len < TOTAL && wk_clock_monotonic_ms() < deadline) {
            if (sent < TOTAL) {
                ssize_t n = send(cl->fd, data + sent, TOTAL - sent, MSG_NOSIGNAL);
                if (n > 0)
                    sent += (size_t)n;
            }
            wk_testsrv_run(&f->ts, NULL, NULL, 2);
        }
        assert_int_equal(f->x.sink_len, TOTAL);
        assert_memory_equal(f->x.sink, data, TOTAL);
        assert_true(f->x.data_calls >= 2);
    }
    { /* the registry counts the bytes in */
        assert_non_null(f->x.conns[0]);
        assert_int_equal(wk_conn_info(f->x.conns[0]->c)->bytes_in, TOTAL);
    }
    { /* never more input buffered than the bound */
        assert_true(f->x.max_in_seen <= f->cfg.in_max);
    }
    free(data);
}

static void test_output_in_order(void **state)
{
    struct fixture *f = *state;
    start(f);
    struct client *cl = connect_client(f, 0, 1 << 16);
    char want[8192] = "", cmds[8192] = "";
    { /* many commands in one segment: replies in order, as one stream */
        for (int i = 0; i < 200; i++) {
            char line[32];
            snprintf(line, sizeof line, "echo line-%d\n", i);
            strcat(cmds, line);
            strcat(want, line + 5);
        }
        client_send(cl, cmds);
        STEP(f, .cl = cl, .bytes = strlen(want));
        expect_text(cl, want);
    }
    { /* write, printf and append with flush_later keep their order */
        client_send(cl, "mix\necho after\n");
        strcat(want, "123\nafter\n");
        STEP(f, .cl = cl, .bytes = strlen(want));
        expect_text(cl, want);
    }
    { /* the peer is named as log lines do; the accessors and the scoreboard entry agree */
        char peer[64];
        snprintf(peer, sizeof peer, "127.0.0.1:%u", wk_test_local_port(cl->fd));
        assert_string_equal(f->x.peer, peer);
        assert_true(f->x.accessors_ok);
    }
}

/* Writes a file of n pattern bytes (offset k holds pat(k + 7)) for send_file cases. */
static void make_file(struct fixture *f, size_t n)
{
    snprintf(f->file_path, sizeof f->file_path, "/tmp/wk-conn-XXXXXX");
    int fd = mkstemp(f->file_path);
    assert_true(fd >= 0);
    char chunk[65536];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof chunk ? n - done : sizeof chunk;
        fill_pattern(chunk, done + 7, k);
        assert_int_equal(write(fd, chunk, k), (ssize_t)k);
        done += k;
    }
    f->x.file_fd = fd;
}

static void expect_file_reply(struct client *cl, size_t off, size_t len)
{
    assert_int_equal(cl->len, 4 + len + 4);
    assert_memory_equal(cl->buf, "HEAD", 4);
    for (size_t k = 0; k < len; k++) {
        if ((uint8_t)cl->buf[4 + k] != pat(off + k + 7))
            fail_msg("file byte %zu differs", k);
    }
    assert_memory_equal(cl->buf + 4 + len, "TAIL", 4);
}

static void test_send_file_after_bytes(void **state)
{
    struct fixture *f = *state;
    enum { FILE_SIZE = 3 << 20, OFF = 1000, LEN = 2500000 };
    start(f);
    make_file(f, FILE_SIZE);
    struct client *cl = connect_client(f, 0, 4 + LEN + 4 + 64);
    { /* bytes, then a range of the file (over several sendfile calls), then bytes */
        char cmd[64];
        snprintf(cmd, sizeof cmd, "file %d %d\n", OFF, LEN);
        client_send(cl, cmd);
        STEP(f, .cl = cl, .bytes = 4 + LEN + 4);
        expect_file_reply(cl, OFF, LEN);
        assert_int_equal(f->x.send_file_rc[0], 0);
    }
    { /* the release callback ran exactly once, when the file was sent */
        assert_int_equal(f->x.releases, 1);
    }
    { /* an empty range releases at once and sends nothing */
        cl->len = 0;
        client_send(cl, "file 5 0\n");
        STEP(f, .cl = cl, .bytes = 8);
        expect_text(cl, "HEADTAIL");
        assert_int_equal(f->x.releases, 2);
    }
}

static void test_send_file_small_and_closed_fd(void **state)
{
    struct fixture *f = *state;
    start(f);
    make_file(f, 100);
    struct client *cl = connect_client(f, 0, 4096);
    { /* without a release callback the conn closes the fd when sent */
        client_send(cl, "filenull 10 50\n");
        STEP(f, .cl = cl, .bytes = 58);
        expect_file_reply(cl, 10, 50);
        assert_true(f->x.null_fd_closed_at_drain);
    }
    { /* a second file while one is queued: -EBUSY, the caller keeps the fd */
        cl->len = 0;
        client_send(cl, "file2\n");
        STEP(f, .cl = cl, .bytes = 4 + 10 + 4 + 4 + 4);
        assert_int_equal(f->x.send_file_rc[1], 0);
        assert_int_equal(f->x.send_file_rc[2], -EBUSY);
        assert_memory_equal(cl->buf, "HEAD", 4);
        for (size_t k = 0; k < 10; k++)
            assert_int_equal((uint8_t)cl->buf[4 + k], pat(k + 7));
        assert_memory_equal(cl->buf + 14, "TAILHEADTAIL", 12);
    }
}

static void test_send_file_shorter_than_promised(void **state)
{
    struct fixture *f = *state;
    start(f);
    make_file(f, 100);
    struct client *cl = connect_client(f, 0, 4096);
    { /* a file that ends before the length promised: its bytes, then the close */
        client_send(cl, "file 0 200\n");
        STEP(f, .cl = cl, .bytes = 104, .eof = true, .closes = 1);
        assert_int_equal(cl->len, 104);
        assert_memory_equal(cl->buf, "HEAD", 4);
        for (size_t k = 0; k < 100; k++)
            assert_int_equal((uint8_t)cl->buf[4 + k], pat(k + 7));
    }
    { /* the file was released once, on the close */
        assert_int_equal(f->x.releases, 1);
    }
}

static void test_backpressure(void **state)
{
    struct fixture *f = *state;
    enum { TOTAL = 16 << 20 };
    f->cfg.out_high = 16 * 1024;
    f->cfg.out_max = 1 << 20;
    start(f);
    struct client *cl = connect_client(f, 0, TOTAL);
    struct tconn *p;
    { /* a client that reads nothing: the protocol is told to stop producing */
        client_send(cl, "flood 16777216\n");
        STEP(f, .opens = 1, .data_calls = 1);
        p = f->x.conns[0];
        assert_non_null(p);
        /* Until the socket is full: production stops moving (bounded, for slow machines). */
        uint64_t last = UINT64_MAX;
        for (int i = 0; i < 30 && p->produced != last; i++) {
            last = p->produced;
            wk_testsrv_run(&f->ts, NULL, NULL, 100);
        }
        assert_true(f->x.blocked_seen);
        assert_true(wk_conn_output_pending(p->c));
        assert_true(p->produced < TOTAL);
        assert_int_equal(f->x.write_rc, 0);
    }
    { /* and stays stopped: no drain, no production while nothing is read */
        uint64_t produced = p->produced;
        int drains = f->x.drains;
        wk_testsrv_run(&f->ts, NULL, NULL, 100);
        assert_int_equal(p->produced, produced);
        assert_int_equal(f->x.drains, drains);
        assert_true(wk_conn_output_pending(p->c));
    }
    { /* output past the high-water mark stays blocked: the socket takes nothing */
        char chunk[4096];
        /* Well past it: a kernel may still take a few bytes now and then. */
        while (wk_buf_len(wk_conn_out(p->c)) < 8 * f->cfg.out_high) {
            fill_pattern(chunk, p->produced, sizeof chunk);
            assert_int_equal(wk_conn_write(p->c, chunk, sizeof chunk), 0);
            p->produced += sizeof chunk;
            p->flood_left -= sizeof chunk;
        }
        wk_testsrv_run(&f->ts, NULL, NULL, 50);
        assert_true(wk_conn_is_write_blocked(p->c));
    }
    { /* once the client reads, everything arrives, in order */
        STEP(f, .cl = cl, .bytes = TOTAL);
        assert_int_equal(cl->len, TOTAL);
        for (size_t k = 0; k < TOTAL; k++) {
            if ((uint8_t)cl->buf[k] != pat(k))
                fail_msg("byte %zu differs", k);
        }
        assert_true(f->x.drains > 0);
        assert_false(wk_conn_is_write_blocked(p->c));
    }
}

static void test_finish_delivers_then_fin(void **state)
{
    struct fixture *f = *state;
    enum { N = 300000 };
    start(f);
    struct client *cl = connect_client(f, 0, N + 64);
    { /* everything written before finish arrives, then EOF (not a reset) */
        client_send(cl, "finish 300000\n");
        STEP(f, .cl = cl, .bytes = N, .eof = true, .closes = 1);
        assert_int_equal(cl->len, N);
        for (size_t k = 0; k < N; k++) {
            if ((uint8_t)cl->buf[k] != pat(k))
                fail_msg("byte %zu differs", k);
        }
        char c;
        assert_int_equal(recv(cl->fd, &c, 1, 0), 0);
        assert_int_equal(f->x.last_bytes_out, N);
    }
}

static void test_finish_with_input_pending_lingers(void **state)
{
    struct fixture *f = *state;
    enum { N = 300000 };
    start(f);
    struct client *cl = connect_client(f, 0, N + 64);
    { /* input left unread: all output, then EOF, and the conn waits for the client */
        client_send(cl, "finish 300000\npipelined junk");
        STEP(f, .cl = cl, .bytes = N, .eof = true);
        assert_int_equal(cl->len, N);
        for (size_t k = 0; k < N; k++) {
            if ((uint8_t)cl->buf[k] != pat(k))
                fail_msg("byte %zu differs", k);
        }
        assert_int_equal(f->x.closes, 0);
    }
    { /* more input meanwhile is discarded quietly, never handed to the protocol */
        char junk[20000];
        memset(junk, 'j', sizeof junk);
        assert_int_equal(send(cl->fd, junk, sizeof junk, MSG_NOSIGNAL), (ssize_t)sizeof junk);
        wk_testsrv_run(&f->ts, NULL, NULL, 20);
        assert_int_equal(f->x.closes, 0);
        assert_int_equal(f->x.data_calls, 1);
    }
    { /* the client's close ends the linger at once */
        close(cl->fd);
        cl->fd = -1;
        uint64_t t0 = wk_clock_monotonic_ms();
        STEP(f, .closes = 1);
        assert_true(wk_clock_monotonic_ms() - t0 < f->cfg.linger_ms);
        assert_int_equal(f->x.last_bytes_out, N);
    }
}

static void test_finish_linger_bounded(void **state)
{
    struct fixture *f = *state;
    f->cfg.linger_ms = 100;
    start(f);
    struct client *cl = connect_client(f, 0, 256);
    { /* a client that never closes is closed after the linger time */
        client_send(cl, "finish 10\nmore");
        uint64_t t0 = wk_clock_monotonic_ms();
        STEP(f, .cl = cl, .bytes = 10, .eof = true, .closes = 1);
        assert_true(wk_clock_monotonic_ms() - t0 >= 100);
        assert_int_equal(cl->len, 10);
    }
}

static void test_peer_half_close_after_data_in_flight(void **state)
{
    struct fixture *f = *state;
    start(f);
    struct client *cl = connect_client(f, 0, 256);
    { /* data, then FIN, both arrive before the server looks: it sees both */
        client_send(cl, "hello");
        assert_int_equal(shutdown(cl->fd, SHUT_WR), 0);
        bool ok = step(f, WANT(.cl = cl, .eof = true, .peer_closed = 1));
        if (!ok)
            fail_msg("the FIN after data was never seen: data_calls=%d peer_closed=%d got \"%s\"",
                     f->x.data_calls, f->x.peer_closed_seen, cl->buf);
        expect_text(cl, "eof 5\n");
    }
}

static void test_peer_half_close_later(void **state)
{
    struct fixture *f = *state;
    start(f);
    struct client *cl = connect_client(f, 0, 256);
    { /* data first: on_data, and the peer has not closed */
        client_send(cl, "echo hi\n");
        STEP(f, .cl = cl, .bytes = 3);
        expect_text(cl, "hi\n");
        assert_int_equal(f->x.peer_closed_seen, 0);
    }
    { /* then the FIN: on_data again, wk_conn_peer_closed is true; replies still go out */
        assert_int_equal(shutdown(cl->fd, SHUT_WR), 0);
        STEP(f, .cl = cl, .eof = true, .peer_closed = 1, .closes = 1);
        expect_text(cl, "hi\neof 8\n");
    }
}

static void test_reset_by_peer(void **state)
{
    struct fixture *f = *state;
    start(f);
    struct wk_test_capture cap;
    char *log;
    struct client *cl = connect_client(f, 0, 256);
    { /* an idle connection reset by the client is closed with reason reset */
        client_send(cl, "echo x\n");
        STEP(f, .cl = cl, .bytes = 2);
        wk_log_init("test", WK_LOG_INFO);
        wk_test_capture_begin(&cap);
        wk_test_reset_close(cl->fd);
        cl->fd = -1;
        bool ok = step(f, WANT(.closes = 1));
        log = wk_test_capture_end(&cap);
        assert_true(ok);
        if (strstr(log, "reason=reset") == NULL)
            fail_msg("no reason=reset in: %s", log);
        free(log);
    }
}

static void test_reset_while_writing(void **state)
{
    struct fixture *f = *state;
    f->cfg.out_high = 16 * 1024;
    start(f);
    make_file(f, 8 << 20);
    struct client *a = connect_client(f, 0, 256);
    struct client *b = connect_client(f, 1, 256);
    { /* reset while a flood is queued, and while a file is being sent: no crash */
        client_send(a, "flood 16777216\n");
        client_send(b, "file 0 8388608\n");
        STEP(f, .opens = 2, .data_calls = 2);
        wk_testsrv_run(&f->ts, NULL, NULL, 50);
        assert_int_equal(f->x.closes, 0);
        wk_test_reset_close(a->fd);
        wk_test_reset_close(b->fd);
        a->fd = b->fd = -1;
        STEP(f, .closes = 2);
        assert_int_equal(f->x.releases, 1);
    }
}

static void test_timeouts(void **state)
{
    struct fixture *f = *state;
    start(f);
    struct client *cl = connect_client(f, 0, 256);
    { /* on_timeout comes when the deadline passes, not before */
        client_send(cl, "timeout 40\n");
        STEP(f, .timeouts = 1);
        assert_true(f->x.timeout_at >= f->x.armed_at + 40);
        assert_true(f->x.timeout_at <= f->x.armed_at + 40 + 1000);
    }
    { /* the protocol closed it there: the client sees EOF */
        STEP(f, .cl = cl, .eof = true, .closes = 1);
    }
    struct client *c2 = connect_client(f, 1, 256);
    { /* a timeout set to 0 is disarmed */
        client_send(c2, "timeout 30\ntimeout 0\n");
        assert_false(
            wk_testsrv_run(&f->ts, until_want, &(struct want){.f = f, .timeouts = 2}, 150));
        assert_int_equal(f->x.timeouts, 1);
    }
    { /* a later timeout replaces an earlier one */
        client_send(c2, "timeout 20\ntimeout 80\n");
        STEP(f, .timeouts = 2);
        assert_true(f->x.timeout_at >= f->x.armed_at + 80);
    }
}

static void test_send_timeout(void **state)
{
    struct fixture *f = *state;
    f->cfg.send_timeout_ms = 100;
    f->cfg.out_high = 16 * 1024;
    start(f);
    struct client *cl = connect_client(f, 0, 256);
    int small = 32 * 1024;
    setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    { /* a client that stops reading gets on_timeout after the send timeout */
        client_send(cl, "flood 16777216\n");
        uint64_t t0 = wk_clock_monotonic_ms();
        assert_true(
            wk_testsrv_run(&f->ts, until_want, &(struct want){.f = f, .timeouts = 1}, STEP_MS));
        assert_true(wk_clock_monotonic_ms() - t0 >= 100);
        assert_true(f->x.blocked_seen);
    }
}

/* What the scoreboard shows of the open conns, as any process reads it. */
struct board_seen {
    struct client **c; /* the clients whose ports are looked for */
    int nc;
    int seen; /* bit i: an entry with client i's port */
    size_t n; /* entries */
};

static void board_entry(const void *slot, void *arg)
{
    const struct wk_conn_info *it = slot;
    struct board_seen *b = arg;
    b->n++;
    for (int i = 0; i < b->nc; i++) {
        if (b->c[i]->fd >= 0 && wk_addr_port(&it->peer.sa) == wk_test_local_port(b->c[i]->fd))
            b->seen |= 1 << i;
    }
    assert_true(it->fd > 2);
    assert_int_equal(it->head.worker, 0);
    assert_int_equal(it->listener, 0);
    assert_string_equal(it->phase, "new");
}

static void count_slot(const void *slot, void *arg)
{
    (void)slot;
    ++*(size_t *)arg;
}

/* Listener i's counters summed over the workers. */
static struct wk_registry counts(struct fixture *f, unsigned i)
{
    struct wk_registry r;
    wk_registry_sum(f->ts.srv.board, i, &r);
    return r;
}

static void test_registry_counts(void **state)
{
    struct fixture *f = *state;
    start(f);
    struct wk_registry r;
    struct client *c[3];
    { /* three clients: three open, three accepted */
        for (int i = 0; i < 3; i++)
            c[i] = connect_client(f, i, 256);
        STEP(f, .opens = 3);
        r = counts(f, 0);
        assert_int_equal(r.accepted - r.closed, 3);
        assert_int_equal(r.accepted, 3);
        assert_int_equal(r.closed, 0);
        assert_int_equal(f->ts.srv.open, 3);
    }
    { /* each entry of the scoreboard shows the server's fd and the client's port */
        struct board_seen b = {.c = c, .nc = 3};
        assert_int_equal(wk_scoreboard_each(f->ts.srv.board, board_entry, &b), 3);
        assert_int_equal(b.n, 3);
        assert_int_equal(b.seen, 7);
    }
    { /* the phase set by the protocol shows, with bytes in and out */
        client_send(c[1], "phase\n");
        STEP(f, .cl = c[1], .bytes = 3);
        const struct wk_conn_info *info = wk_conn_info(f->x.conns[1]->c);
        assert_string_equal(info->phase, "busy");
        assert_int_equal(info->progress, 5);
        assert_int_equal(info->total, 10);
        assert_int_equal(info->bytes_in, 6);
        assert_int_equal(info->bytes_out, 3);
    }
    { /* one leaves: two open, one closed; both iterations show the two left */
        close(c[0]->fd);
        c[0]->fd = -1;
        STEP(f, .closes = 1);
        r = counts(f, 0);
        assert_int_equal(r.accepted - r.closed, 2);
        assert_int_equal(r.accepted, 3);
        assert_int_equal(r.closed, 1);
        assert_int_equal(f->ts.srv.open, 2);
        f->x.each_want = f->x.conns[1]->c;
        f->x.each_found = f->x.each_calls = 0;
        wk_conn_each(&f->ts.srv, count_each);
        assert_int_equal(f->x.each_calls, 2);
        assert_int_equal(f->x.each_found, 1);
        size_t n = 0;
        wk_scoreboard_each(f->ts.srv.board, count_slot, &n);
        assert_int_equal(n, 2);
    }
    { /* the bytes of the closed conns join the listener's counters */
        close(c[1]->fd);
        c[1]->fd = -1;
        STEP(f, .closes = 2);
        r = counts(f, 0);
        assert_int_equal(r.closed, 2);
        assert_int_equal(r.bytes_in, 6); /* "phase\n"; c[0] sent nothing */
        /* "ok\n", and each one's "eof N\n" answering the client's close */
        assert_int_equal(r.bytes_out, f->x.closed_bytes_out);
        assert_int_equal(r.bytes_in, f->x.closed_bytes_in);
        assert_true(r.bytes_out >= 3);
        size_t n = 0;
        wk_scoreboard_each(f->ts.srv.board, count_slot, &n);
        assert_int_equal(n, 1);
    }
}

static void test_deferred_close(void **state)
{
    struct fixture *f = *state;
    start(f);
    struct client *cl = connect_client(f, 0, 256);
    { /* closing inside on_data: still valid until the callback returns, closed once */
        client_send(cl, "close\necho never\n");
        STEP(f, .cl = cl, .eof = true, .closes = 1);
        assert_true(f->x.closing_after_close);
        assert_int_equal(f->x.closes, 1);
        assert_int_equal(f->x.data_calls, 1);
        assert_int_equal(f->x.data_after_close, 0);
    }
    { /* unsent output is dropped: the client sees only the close */
        expect_text(cl, "");
    }
    { /* nothing more happens to it */
        wk_testsrv_run(&f->ts, NULL, NULL, 30);
        assert_int_equal(f->x.closes, 1);
        assert_int_equal(f->ts.srv.open, 0);
    }
}

static void test_close_on_open(void **state)
{
    struct fixture *f = *state;
    f->x.close_on_open = true;
    start(f);
    struct client *cl = connect_client(f, 0, 256);
    client_send(cl, "echo x\n");
    { /* a conn refused in on_open never sees data and closes once */
        STEP(f, .cl = cl, .eof = true, .closes = 1);
        assert_int_equal(f->x.opens, 1);
        assert_int_equal(f->x.data_calls, 0);
        struct wk_registry r = counts(f, 0);
        assert_int_equal(r.accepted, 1);
        assert_int_equal(r.closed, 1);
        size_t n = 0;
        wk_scoreboard_each(f->ts.srv.board, count_slot, &n);
        assert_int_equal(n, 0);
    }
}

static void test_close_another_conn_in_same_turn(void **state)
{
    struct fixture *f = *state;
    start(f);
    struct client *a = connect_client(f, 0, 256);
    struct client *b = connect_client(f, 1, 256);
    STEP(f, .opens = 2);
    { /* both send in the same turn; whichever runs first closes the other */
        client_send(a, "killothers\n");
        client_send(b, "killothers\n");
        STEP(f, .closes = 1);
        wk_testsrv_run(&f->ts, NULL, NULL, 20);
        assert_int_equal(f->x.closes, 1);
        assert_int_equal(f->x.opens, 2);
        assert_int_equal(f->ts.srv.open, 1);
    }
    { /* the survivor answered, the other saw only EOF */
        client_read(a);
        client_read(b);
        assert_true((a->len == 7 && b->eof && b->len == 0) ||
                    (b->len == 7 && a->eof && a->len == 0));
    }
}

static void test_pause_read(void **state)
{
    struct fixture *f = *state;
    start(f);
    struct client *cl = connect_client(f, 0, 256);
    { /* paused: input waits in the kernel, on_data is not called */
        client_send(cl, "pause\n");
        STEP(f, .cl = cl, .bytes = 7);
        int calls = f->x.data_calls;
        client_send(cl, "echo later\n");
        wk_testsrv_run(&f->ts, NULL, NULL, 50);
        assert_int_equal(f->x.data_calls, calls);
        expect_text(cl, "paused\n");
    }
    { /* resumed: the waiting input is delivered */
        wk_conn_pause_read(f->x.conns[0]->c, false);
        STEP(f, .cl = cl, .bytes = 13);
        expect_text(cl, "paused\nlater\n");
    }
}

static void test_input_bound(void **state)
{
    struct fixture *f = *state;
    f->cfg.in_max = 1000;
    start(f);
    struct client *cl = connect_client(f, 0, 256);
    { /* a line longer than the bound: input never exceeds it, the protocol refuses */
        char line[5000];
        memset(line, 'a', sizeof line - 1);
        line[sizeof line - 1] = '\0';
        client_send(cl, line);
        STEP(f, .cl = cl, .bytes = 9);
        expect_text(cl, "too long\n");
        assert_true(f->x.max_in_seen <= 1000);
    }
}

static void test_output_bound(void **state)
{
    struct fixture *f = *state;
    f->cfg.out_max = 4096;
    f->cfg.out_high = 1024;
    start(f);
    struct client *cl = connect_client(f, 0, 8192);
    { /* a write that would pass the output bound is refused with -ENOBUFS */
        char want[32];
        snprintf(want, sizeof want, "rc=%d\n", -ENOBUFS);
        client_send(cl, "big 5000\n");
        STEP(f, .cl = cl, .bytes = strlen(want));
        expect_text(cl, want);
    }
    { /* one that fits goes out whole */
        cl->len = 0;
        client_send(cl, "big 4000\n");
        STEP(f, .cl = cl, .bytes = 4005);
        assert_memory_equal(cl->buf + 4000, "rc=0\n", 5);
    }
}

static void test_deferred_accept_reads_first_bytes(void **state)
{
    struct fixture *f = *state;
    start(f);
    assert_int_equal(wk_listener_defer_accept(&f->ts.srv.listeners[0], 5), 0);
    struct client *cl = connect_client(f, 0, 256);
    { /* accepted only once it speaks, and its first bytes are served at once */
        client_send(cl, "echo first\n");
        STEP(f, .cl = cl, .bytes = 6);
        expect_text(cl, "first\n");
        assert_int_equal(f->x.opens, 1);
        assert_int_equal(f->x.data_calls, 1);
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_data_delivered_byte_exact),
        T(test_output_in_order),
        T(test_send_file_after_bytes),
        T(test_send_file_small_and_closed_fd),
        T(test_send_file_shorter_than_promised),
        T(test_backpressure),
        T(test_finish_delivers_then_fin),
        T(test_finish_with_input_pending_lingers),
        T(test_finish_linger_bounded),
        T(test_peer_half_close_after_data_in_flight),
        T(test_peer_half_close_later),
        T(test_reset_by_peer),
        T(test_reset_while_writing),
        T(test_timeouts),
        T(test_send_timeout),
        T(test_registry_counts),
        T(test_deferred_close),
        T(test_close_on_open),
        T(test_close_another_conn_in_same_turn),
        T(test_pause_read),
        T(test_input_bound),
        T(test_output_bound),
        T(test_deferred_accept_reads_first_bytes),
    };
#undef T
    if (getenv("WK_TEST_FILTER"))
        cmocka_set_test_filter(getenv("WK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_wk_sdnotify.c: service manager notifications (common/sdnotify.c).
 * The test plays the manager: it binds a datagram socket at a path or an
 * abstract name and reads what arrives. NOTIFY_SOCKET values parsed (paths,
 * '@' names, lengths, what is refused), the datagram bytes and the sender's
 * credentials, a manager that is gone or whose queue is full (an error code,
 * never a block), and through a real wk_server: READY=1 once it serves,
 * RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on SIGTERM, and a bad
 * NOTIFY_SOCKET costing one warning and nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/conn.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "common/server.h"
#include "support/wk_net.h"
#include "support/wk_testsrv.h"

#define OFF     offsetof(struct sockaddr_un, sun_path)
#define WAIT_MS 3000

struct fixture {
    char dir[64];
    char path[128]; /* dir/notify */
    char abstract[64];
    int mgr; /* the manager's receiving socket, or -1 */
    struct wk_sdnotify n;
    struct wk_testsrv ts;
    bool started;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    wk_log_init("test", getenv("WK_TEST_LOG") ? WK_LOG_DEBUG : WK_LOG_ERROR);
    snprintf(f->dir, sizeof f->dir, "/tmp/wk-sdnotify-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/notify", f->dir);
    snprintf(f->abstract, sizeof f->abstract, "@wk-sdnotify-test-%d", (int)getpid());
    f->mgr = -1;
    unsetenv("NOTIFY_SOCKET");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unsetenv("NOTIFY_SOCKET");
    if (f->started)
        wk_testsrv_fini(&f->ts);
    wk_sdnotify_close(&f->n);
    if (f->mgr >= 0)
        close(f->mgr);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The manager's side: a datagram socket bound where value (a NOTIFY_SOCKET value) says. */
static int bind_manager(const char *value)
{
    struct sockaddr_un a;
    socklen_t len;
    assert_int_equal(wk_sdnotify_parse(value, strlen(value), &a, &len), 0);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (bind(fd, (struct sockaddr *)&a, len) < 0)
        fail_msg("bind %s: %s", value, strerror(errno));
    return fd;
}

/* One datagram within ms, NUL-terminated into buf; returns its length, or -1 if none came. */
static ssize_t recv_within(int fd, char *buf, size_t cap, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) != 1)
        return -1;
    ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static void expect_datagram(int fd, const char *want)
{
    char buf[2048];
    ssize_t n = recv_within(fd, buf, sizeof buf, WAIT_MS);
    assert_true(n >= 0);
    assert_string_equal(buf, want);
}

/* ------------------------------------------------------------- parsing -- */

static void test_parse_path(void **state)
{
    (void)state;
    struct sockaddr_un a;
    socklen_t len;
    assert_int_equal(wk_sdnotify_parse(WK_STRLIT("/run/systemd/notify"), &a, &len), 0);
    assert_int_equal(a.sun_family, AF_UNIX);
    assert_string_equal(a.sun_path, "/run/systemd/notify");
    /* A path counts its trailing NUL, as systemd binds it. */
    assert_int_equal(len, OFF + strlen("/run/systemd/notify") + 1);
    { /* only the n bytes given are read */
        const char text[] = "/a/bXXXX";
        assert_int_equal(wk_sdnotify_parse(text, 4, &a, &len), 0);
        assert_string_equal(a.sun_path, "/a/b");
        assert_int_equal(len, OFF + 5);
    }
    { /* the longest path that fits with its NUL */
        char p[sizeof a.sun_path];
        memset(p, 'x', sizeof p);
        p[0] = '/';
        assert_int_equal(wk_sdnotify_parse(p, sizeof p - 1, &a, &len), 0);
        assert_int_equal(len, sizeof a);
        assert_int_equal(wk_sdnotify_parse(p, sizeof p, &a, &len), -ENAMETOOLONG);
    }
}

static void test_parse_abstract(void **state)
{
    (void)state;
    struct sockaddr_un a;
    socklen_t len;
    assert_int_equal(wk_sdnotify_parse(WK_STRLIT("@/org/freedesktop/systemd1/notify"), &a, &len),
                     0);
    /* '@' is the leading NUL, and no trailing NUL is counted. */
    assert_int_equal(a.sun_path[0], '\0');
    assert_memory_equal(a.sun_path + 1, "/org/freedesktop/systemd1/notify", 32);
    assert_int_equal(len, OFF + 33);
    { /* the name may fill sun_path: '@' stands for the NUL */
        char p[sizeof a.sun_path + 1];
        memset(p, 'y', sizeof p);
        p[0] = '@';
        assert_int_equal(wk_sdnotify_parse(p, sizeof p - 1, &a, &len), 0);
        assert_int_equal(len, sizeof a);
        assert_int_equal(wk_sdnotify_parse(p, sizeof p, &a, &len), -ENAMETOOLONG);
    }
}

static void test_parse_refused(void **state)
{
    (void)state;
    struct sockaddr_un a;
    socklen_t len;
    assert_int_equal(wk_sdnotify_parse("", 0, &a, &len), -EINVAL);
    assert_int_equal(wk_sdnotify_parse(WK_STRLIT("run/notify"), &a, &len), -EINVAL);
    assert_int_equal(wk_sdnotify_parse(WK_STRLIT("./notify"), &a, &len), -EINVAL);
    assert_int_equal(wk_sdnotify_parse(WK_STRLIT("vsock:2:1234"), &a, &len), -EINVAL);
    assert_int_equal(wk_sdnotify_parse(WK_STRLIT("@"), &a, &len), -EINVAL);
    assert_int_equal(wk_sdnotify_parse("/a\0b", 4, &a, &len), -EINVAL);
}

/* ------------------------------------------------------------- sending -- */

static void test_off(void **state)
{
    struct fixture *f = *state;
    struct wk_sdnotify zero = {0};
    /* A zeroed struct (a server never initialised) is off: nothing sent, closing harmless. */
    assert_false(wk_sdnotify_is_on(&zero));
    assert_int_equal(wk_sdnotify_send(&zero, WK_STRLIT("READY=1")), 0);
    assert_int_equal(wk_sdnotify_sendf(&zero, "READY=%d", 1), 0);
    wk_sdnotify_close(&zero);
    /* No NOTIFY_SOCKET: off too. */
    assert_int_equal(wk_sdnotify_open(&f->n, NULL), 0);
    assert_false(wk_sdnotify_is_on(&f->n));
    assert_int_equal(wk_sdnotify_send(&f->n, WK_STRLIT("READY=1")), 0);
    /* A bad value: an error, and off. */
    assert_int_equal(wk_sdnotify_open(&f->n, "notify"), -EINVAL);
    assert_false(wk_sdnotify_is_on(&f->n));
    wk_sdnotify_close(&f->n);
}

static void test_send_path(void **state)
{
    struct fixture *f = *state;
    f->mgr = bind_manager(f->path);
    int on = 1;
    assert_int_equal(setsockopt(f->mgr, SOL_SOCKET, SO_PASSCRED, &on, sizeof on), 0);
    assert_int_equal(wk_sdnotify_open(&f->n, f->path), 0);
    assert_true(wk_sdnotify_is_on(&f->n));
    { /* the socket is nonblocking and close-on-exec */
        assert_true(fcntl(f->n.fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(f->n.fd, F_GETFD) & FD_CLOEXEC);
    }
    const char state_text[] = "READY=1\nSTATUS=serving\nMAINPID=42";
    assert_int_equal(wk_sdnotify_send(&f->n, WK_STRLIT(state_text)), 0);
    { /* one datagram, the exact bytes, from this process (NotifyAccess=main checks it) */
        char buf[256];
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(sizeof(struct ucred))];
        } ctl;
        struct iovec iov = {buf, sizeof buf};
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof ctl};
        struct pollfd p = {.fd = f->mgr, .events = POLLIN};
        assert_int_equal(poll(&p, 1, WAIT_MS), 1);
        ssize_t n = recvmsg(f->mgr, &m, 0);
        assert_int_equal(n, sizeof state_text - 1);
        assert_memory_equal(buf, state_text, sizeof state_text - 1);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        assert_non_null(c);
        assert_int_equal(c->cmsg_type, SCM_CREDENTIALS);
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        assert_int_equal(cred.pid, getpid());
    }
    /* Formatted; a text longer than WK_SDNOTIFY_MAX is not sent at all. */
    assert_int_equal(wk_sdnotify_sendf(&f->n, "STOPPING=1\nSTATUS=%d open", 7), 0);
    expect_datagram(f->mgr, "STOPPING=1\nSTATUS=7 open");
    char *big = malloc(WK_SDNOTIFY_MAX + 2);
    assert_non_null(big);
    memset(big, 'z', WK_SDNOTIFY_MAX + 1);
    big[WK_SDNOTIFY_MAX + 1] = '\0';
    assert_int_equal(wk_sdnotify_sendf(&f->n, "STATUS=%s", big), -EMSGSIZE);
    free(big);
    char buf[64];
    assert_int_equal(recv_within(f->mgr, buf, sizeof buf, 50), -1);
    wk_sdnotify_close(&f->n);
    assert_false(wk_sdnotify_is_on(&f->n));
    wk_sdnotify_close(&f->n); /* twice is harmless */
}

static void test_send_abstract(void **state)
{
    struct fixture *f = *state;
    f->mgr = bind_manager(f->abstract);
    { /* the manager is bound to the name without a trailing NUL */
        struct sockaddr_un a;
        socklen_t len = sizeof a;
        assert_int_equal(getsockname(f->mgr, (struct sockaddr *)&a, &len), 0);
        assert_int_equal(len, OFF + strlen(f->abstract));
        assert_int_equal(a.sun_path[0], '\0');
    }
    assert_int_equal(wk_sdnotify_open(&f->n, f->abstract), 0);
    assert_int_equal(wk_sdnotify_send(&f->n, WK_STRLIT("READY=1")), 0);
    expect_datagram(f->mgr, "READY=1");
    { /* a name one byte longer is another socket: nobody there */
        char longer[80];
        snprintf(longer, sizeof longer, "%sx", f->abstract);
        struct wk_sdnotify other;
        assert_int_equal(wk_sdnotify_open(&other, longer), 0);
        assert_int_equal(wk_sdnotify_send(&other, WK_STRLIT("READY=1")), -ECONNREFUSED);
        wk_sdnotify_close(&other);
    }
}

static void test_manager_gone(void **state)
{
    struct fixture *f = *state;
    /* No socket at the path: an error at once. */
    assert_int_equal(wk_sdnotify_open(&f->n, f->path), 0);
    assert_int_equal(wk_sdnotify_send(&f->n, WK_STRLIT("READY=1")), -ENOENT);
    /* The manager closed its socket and left the file. */
    f->mgr = bind_manager(f->path);
    close(f->mgr);
    f->mgr = -1;
    assert_int_equal(wk_sdnotify_send(&f->n, WK_STRLIT("READY=1")), -ECONNREFUSED);
    /* A manager that binds the path anew (re-executed) is reached by the same struct. */
    unlink(f->path);
    f->mgr = bind_manager(f->path);
    assert_int_equal(wk_sdnotify_send(&f->n, WK_STRLIT("READY=1")), 0);
    expect_datagram(f->mgr, "READY=1");
}

static void test_full_queue_never_blocks(void **state)
{
    struct fixture *f = *state;
    f->mgr = bind_manager(f->path);
    assert_int_equal(wk_sdnotify_open(&f->n, f->path), 0);
    /* A manager that reads nothing: the queue fills, and then sending fails at once. */
    uint64_t start = wk_clock_monotonic_ms();
    int rc = 0, sent = 0;
    while (sent < 100000 && (rc = wk_sdnotify_send(&f->n, WK_STRLIT("STATUS=busy"))) == 0)
        sent++;
    assert_int_equal(rc, -EAGAIN);
    assert_true(sent > 0);
    assert_int_equal(wk_sdnotify_send(&f->n, WK_STRLIT("READY=1")), -EAGAIN);
    assert_true(wk_clock_monotonic_ms() - start < 2000);
    /* Once the manager reads, sending works again. */
    char buf[64];
    assert_true(recv_within(f->mgr, buf, sizeof buf, WAIT_MS) > 0);
    assert_int_equal(wk_sdnotify_send(&f->n, WK_STRLIT("READY=1")), 0);
}

/* ------------------------------------------------------ through a server -- */

static void s_on_open(struct wk_conn *c)
{
    wk_conn_close(c, "test");
}

static void s_on_data(struct wk_conn *c)
{
    (void)c;
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
    wk_conn_close(c, "shutdown");
}

static void s_on_close(struct wk_conn *c)
{
    (void)c;
}

static const struct wk_conn_ops ops = {
    .proto_size = 8,
    .on_open = s_on_open,
    .on_data = s_on_data,
    .on_drain = s_on_drain,
    .on_timeout = s_on_timeout,
    .on_shutdown = s_on_shutdown,
    .on_close = s_on_close,
};

static int on_reload(struct wk_server *srv, void *arg, char err[WK_ERR_LEN])
{
    (void)srv, (void)err;
    (*(int *)arg)++;
    return 0;
}

static void start_server(struct fixture *f, size_t nlisten)
{
    const char *addrs[] = {"127.0.0.1:0", "127.0.0.1:0"};
    struct wk_server_config cfg;
    char err[WK_ERR_LEN];
    wk_server_config_defaults(&cfg);
    if (wk_testsrv_init(&f->ts, &cfg, &ops, NULL, addrs, nlisten, err) != 0)
        fail_msg("server: %s", err);
    f->started = true;
}

/* Runs the server until the manager has a datagram (or the bound passes); returns it. */
static bool has_datagram(struct wk_testsrv *ts, void *arg)
{
    (void)ts;
    struct pollfd p = {.fd = *(int *)arg, .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

static void step_expect(struct fixture *f, const char *want)
{
    wk_testsrv_run(&f->ts, has_datagram, &f->mgr, WAIT_MS);
    char buf[2048];
    assert_true(recv_within(f->mgr, buf, sizeof buf, 0) >= 0);
    assert_string_equal(buf, want);
}

static void test_server_lifecycle(void **state)
{
    struct fixture *f = *state;
    f->mgr = bind_manager(f->path);
    setenv("NOTIFY_SOCKET", f->path, 1);
    start_server(f, 2);
    int reloads = 0;
    assert_int_equal(wk_server_on_reload(&f->ts.srv, on_reload, &reloads), 0);
    char want[256];
    { /* READY=1 once it serves, with the pid systemd expects */
        snprintf(want, sizeof want,
                 "READY=1\nSTATUS=listening on 2 sockets (0 inherited)\nMAINPID=%d", (int)getpid());
        step_expect(f, want);
    }
    { /* around a reload: RELOADING=1 with the monotonic time, then READY=1 again */
        uint64_t before = wk_clock_monotonic_ms();
        raise(SIGHUP);
        wk_testsrv_run(&f->ts, has_datagram, &f->mgr, WAIT_MS);
        char buf[256];
        assert_true(recv_within(f->mgr, buf, sizeof buf, WAIT_MS) > 0);
        unsigned long long usec = 0;
        assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading", &usec),
                         1);
        assert_true(usec / 1000 >= before && usec / 1000 <= wk_clock_monotonic_ms());
        assert_true(recv_within(f->mgr, buf, sizeof buf, WAIT_MS) > 0);
        assert_string_equal(buf, want);
        assert_int_equal(reloads, 1);
    }
    { /* STOPPING=1 as the graceful stop begins */
        raise(SIGTERM);
        step_expect(f, "STOPPING=1\nSTATUS=stopping, 0 connections open");
    }
    /* NOTIFY_SOCKET itself is left as it was. */
    assert_string_equal(getenv("NOTIFY_SOCKET"), f->path);
}

static void test_server_abstract_socket(void **state)
{
    struct fixture *f = *state;
    f->mgr = bind_manager(f->abstract);
    setenv("NOTIFY_SOCKET", f->abstract, 1);
    start_server(f, 1);
    char want[256];
    snprintf(want, sizeof want, "READY=1\nSTATUS=listening on 1 sockets (0 inherited)\nMAINPID=%d",
             (int)getpid());
    step_expect(f, want);
}

/* Lines of log that start with prefix. */
static int count_lines(const char *log, const char *prefix)
{
    int n = 0;
    for (const char *p = log; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += strncmp(p, prefix, strlen(prefix)) == 0;
    return n;
}

/* A bad NOTIFY_SOCKET, or a manager that is gone: one warning, and the server serves. */
static void expect_one_warning(struct fixture *f, const char *value, const char *warning)
{
    setenv("NOTIFY_SOCKET", value, 1);
    struct wk_test_capture cap;
    wk_log_init("test", WK_LOG_INFO);
    wk_test_capture_begin(&cap);
    start_server(f, 1);
    int reloads = 0;
    assert_int_equal(wk_server_on_reload(&f->ts.srv, on_reload, &reloads), 0);
    wk_testsrv_run(&f->ts, NULL, NULL, 20);
    raise(SIGHUP); /* two more notifications, no more warnings */
    wk_testsrv_run(&f->ts, NULL, NULL, 20);
    int fd = wk_testsrv_connect(&f->ts, 0);
    assert_true(fd >= 0);
    wk_testsrv_run(&f->ts, NULL, NULL, 20);
    close(fd);
    wk_log_init("test", WK_LOG_ERROR);
    char *log = wk_test_capture_end(&cap);
    assert_non_null(strstr(log, warning));
    assert_int_equal(count_lines(log, "test notify "), 1);
    assert_non_null(strstr(log, "test accept fd="));
    assert_int_equal(reloads, 1);
    free(log);
}

static void test_server_bad_value(void **state)
{
    struct fixture *f = *state;
    expect_one_warning(f, "run/notify", "test notify socket=run/notify error=\"Invalid argument\"");
}

static void test_server_manager_gone(void **state)
{
    struct fixture *f = *state;
    expect_one_warning(f, f->path, "test notify state=ready error=\"No such file or directory\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_path),
        cmocka_unit_test(test_parse_abstract),
        cmocka_unit_test(test_parse_refused),
        cmocka_unit_test_setup_teardown(test_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_abstract, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manager_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_never_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_abstract_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_bad_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_manager_gone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

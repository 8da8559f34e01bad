/*
 * test_wk_listener.c: listening sockets (common/listener.c) on 127.0.0.1,
 * [::1], [::] and unix paths: the port read back after port 0, the name
 * printed as log lines show it, accepting through the loop in bounded
 * batches, bind errors with their messages, stale socket files, pausing by
 * the owner, and the pause when file descriptors run out (in a forked
 * child, so this process keeps its own limit).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/loop.h"
#include "support/wk_net.h"

#define GUARD_MS 3000

struct fixture {
    struct wk_loop *loop;
    struct wk_timer guard;
    bool guard_fired;
    char dir[64];   /* a private directory for unix sockets */
    char path[128]; /* dir/sock */
    /* What the accept callback saw. */
    int accepted;
    int fds[256];
    struct sockaddr_storage peer[8];
    socklen_t peerlen[8];
    int stop_at; /* stop the loop after this many accepts */
    /* Accepts counted at each before-sleep hook, for the batch bound. */
    int max_batch;
    int last_seen;
};

static void on_guard(struct wk_timer *t)
{
    struct fixture *f = t->data;
    f->guard_fired = true;
    wk_loop_stop(f->loop);
}

static void hook_batches(struct wk_loop *loop, void *data)
{
    struct fixture *f = data;
    (void)loop;
    if (f->accepted - f->last_seen > f->max_batch)
        f->max_batch = f->accepted - f->last_seen;
    f->last_seen = f->accepted;
}

static int setup(void **state)
{
    static struct fixture f;
    char err[WK_ERR_LEN];
    memset(&f, 0, sizeof f);
    wk_log_init("test", WK_LOG_ERROR);
    f.loop = wk_loop_new(err);
    if (f.loop == NULL)
        fail_msg("wk_loop_new: %s", err);
    wk_timer_init(&f.guard, on_guard, &f);
    wk_loop_before_sleep(f.loop, hook_batches, &f);
    snprintf(f.dir, sizeof f.dir, "/tmp/wk-listener-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.path, sizeof f.path, "%s/sock", f.dir);
    f.stop_at = 1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < f->accepted && i < 256; i++)
        close(f->fds[i]);
    wk_loop_free(f->loop);
    unlink(f->path);
    rmdir(f->dir);
    return 0;
}

static void on_accept(struct wk_listener *l, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct fixture *f = l->data;
    if (f->accepted < 8) {
        memcpy(&f->peer[f->accepted], peer, len);
        f->peerlen[f->accepted] = len;
    }
    if (f->accepted < 256)
        f->fds[f->accepted] = fd;
    else
        close(fd);
    f->accepted++;
    if (f->accepted == f->stop_at)
        wk_loop_stop(f->loop);
}

static int run(struct fixture *f, uint64_t guard_ms)
{
    f->guard_fired = false;
    wk_loop_timer_after(f->loop, &f->guard, guard_ms);
    int rc = wk_loop_run(f->loop);
    wk_loop_timer_stop(f->loop, &f->guard);
    return rc;
}

static int open_at(struct wk_listener *l, const char *text, char err[WK_ERR_LEN])
{
    struct wk_addr a;
    if (wk_addr_parse(text, &a, err) != 0)
        fail_msg("%s: %s", text, err);
    err[0] = '\0';
    return wk_listener_open(l, &a, 128, err);
}

static bool ipv6_available(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* fd is nonblocking and close-on-exec, as every fd of the servers must be. */
static void expect_nonblock_cloexec(int fd)
{
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static void test_bind_ipv4_port_zero(void **state)
{
    struct fixture *f = *state;
    struct wk_listener l;
    char err[WK_ERR_LEN], want[64];
    assert_int_equal(open_at(&l, "127.0.0.1:0", err), 0);
    { /* the real port is read back, and the name shows it */
        uint16_t port = wk_addr_port(&l.addr.u.sa);
        assert_true(port != 0);
        snprintf(want, sizeof want, "127.0.0.1:%u", port);
        assert_string_equal(l.name, want);
    }
    { /* the kernel agrees */
        struct sockaddr_in in;
        socklen_t len = sizeof in;
        assert_int_equal(getsockname(l.fd, (struct sockaddr *)&in, &len), 0);
        assert_int_equal(ntohs(in.sin_port), wk_addr_port(&l.addr.u.sa));
        assert_int_equal(in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    }
    { /* listening, nonblocking, close-on-exec */
        int on = 0;
        socklen_t len = sizeof on;
        assert_int_equal(getsockopt(l.fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len), 0);
        assert_true(on);
        expect_nonblock_cloexec(l.fd);
    }
    { /* close releases the fd; closing again is harmless */
        wk_listener_close(&l);
        assert_int_equal(l.fd, -1);
        wk_listener_close(&l);
    }
    (void)f;
}

static void test_bind_ipv6_loopback(void **state)
{
    (void)state;
    if (!ipv6_available())
        fail_msg("this test needs the IPv6 loopback address ::1");
    struct wk_listener l;
    char err[WK_ERR_LEN], want[64];
    assert_int_equal(open_at(&l, "[::1]:0", err), 0);
    { /* "[::1]:port" */
        uint16_t port = wk_addr_port(&l.addr.u.sa);
        assert_true(port != 0);
        snprintf(want, sizeof want, "[::1]:%u", port);
        assert_string_equal(l.name, want);
        assert_int_equal(l.addr.u.sa.sa_family, AF_INET6);
    }
    wk_listener_close(&l);
}

static void test_any_address_is_dual_stack(void **state)
{
    struct fixture *f = *state;
    if (!ipv6_available())
        fail_msg("this test needs the IPv6 loopback address ::1");
    struct wk_listener l;
    char err[WK_ERR_LEN], want[64];
    assert_int_equal(open_at(&l, ":0", err), 0);
    uint16_t port = wk_addr_port(&l.addr.u.sa);
    { /* ":0" is [::] with a real port */
        snprintf(want, sizeof want, "[::]:%u", port);
        assert_string_equal(l.name, want);
    }
    { /* an IPv4 client is accepted, seen as ::ffff:127.0.0.1 */
        assert_int_equal(wk_listener_start(&l, f->loop, on_accept, f), 0);
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port)};
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int c = wk_test_connect((struct sockaddr *)&in, sizeof in, false);
        assert_true(c >= 0);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_int_equal(f->accepted, 1);
        assert_int_equal(f->peer[0].ss_family, AF_INET6);
        char name[WK_ADDR_STRLEN];
        wk_addr_format((struct sockaddr *)&f->peer[0], f->peerlen[0], name, sizeof name);
        snprintf(want, sizeof want, "[::ffff:127.0.0.1]:%u", wk_test_local_port(c));
        assert_string_equal(name, want);
        close(c);
    }
    wk_listener_close(&l);
}

static void test_bind_unix(void **state)
{
    struct fixture *f = *state;
    struct wk_listener l;
    char err[WK_ERR_LEN], text[160], want[160];
    struct stat st;
    snprintf(text, sizeof text, "unix:%s", f->path);
    assert_int_equal(open_at(&l, text, err), 0);
    { /* the name is the path; the socket file exists */
        snprintf(want, sizeof want, "unix:%s", f->path);
        assert_string_equal(l.name, want);
        assert_int_equal(lstat(f->path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        expect_nonblock_cloexec(l.fd);
    }
    { /* a client connects and is accepted; it has no address of its own */
        assert_int_equal(wk_listener_start(&l, f->loop, on_accept, f), 0);
        int c = wk_test_connect(&l.addr.u.sa, l.addr.len, false);
        assert_true(c >= 0);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_int_equal(f->accepted, 1);
        assert_true(f->peerlen[0] <= offsetof(struct sockaddr_un, sun_path) ||
                    ((struct sockaddr_un *)&f->peer[0])->sun_path[0] == '\0');
        expect_nonblock_cloexec(f->fds[0]);
        close(c);
    }
    { /* closing removes the socket file it created */
        wk_listener_close(&l);
        assert_int_equal(lstat(f->path, &st), -1);
        assert_int_equal(errno, ENOENT);
    }
}

static void test_accept_through_loop(void **state)
{
    struct fixture *f = *state;
    struct wk_listener l;
    char err[WK_ERR_LEN];
    assert_int_equal(open_at(&l, "127.0.0.1:0", err), 0);
    assert_int_equal(wk_listener_start(&l, f->loop, on_accept, f), 0);
    { /* nothing to accept: the loop just sleeps */
        assert_int_equal(run(f, 30), 0);
        assert_true(f->guard_fired);
        assert_int_equal(f->accepted, 0);
    }
    { /* one client: its fd and its address and port */
        int c = wk_test_connect(&l.addr.u.sa, l.addr.len, false);
        assert_true(c >= 0);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(f->accepted, 1);
        struct sockaddr_in *peer = (struct sockaddr_in *)&f->peer[0];
        assert_int_equal(f->peerlen[0], sizeof(struct sockaddr_in));
        assert_int_equal(peer->sin_family, AF_INET);
        assert_int_equal(peer->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
        assert_int_equal(ntohs(peer->sin_port), wk_test_local_port(c));
        expect_nonblock_cloexec(f->fds[0]);
        { /* the accepted fd really is the client's connection */
            assert_int_equal(write(c, "ping", 4), 4);
            char buf[8];
            usleep(1000);
            ssize_t n;
            for (int tries = 0; (n = read(f->fds[0], buf, sizeof buf)) < 0 && tries < 1000; tries++)
                usleep(1000);
            assert_int_equal(n, 4);
            assert_memory_equal(buf, "ping", 4);
        }
        close(c);
    }
    wk_listener_close(&l);
}

static void test_accept_in_bounded_batches(void **state)
{
    struct fixture *f = *state;
    struct wk_listener l;
    char err[WK_ERR_LEN];
    enum { N = 100 };
    int c[N];
    assert_int_equal(open_at(&l, "127.0.0.1:0", err), 0);
    for (int i = 0; i < N; i++) {
        c[i] = wk_test_connect(&l.addr.u.sa, l.addr.len, false);
        assert_true(c[i] >= 0);
    }
    { /* all are accepted, but no more than a batch per turn */
        f->stop_at = N;
        assert_int_equal(wk_listener_start(&l, f->loop, on_accept, f), 0);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(f->accepted, N);
        hook_batches(f->loop, f);
        assert_true(f->max_batch <= 64);
        assert_true(f->max_batch > 0);
    }
    for (int i = 0; i < N; i++)
        close(c[i]);
    wk_listener_close(&l);
}

static void test_address_in_use(void **state)
{
    (void)state;
    struct wk_listener a, b;
    char err[WK_ERR_LEN], text[64];
    assert_int_equal(open_at(&a, "127.0.0.1:0", err), 0);
    snprintf(text, sizeof text, "127.0.0.1:%u", wk_addr_port(&a.addr.u.sa));
    { /* the same address twice: EADDRINUSE, naming the address */
        assert_int_equal(open_at(&b, text, err), -EADDRINUSE);
        assert_non_null(strstr(err, text));
        assert_non_null(strstr(err, "already in use"));
        assert_int_equal(b.fd, -1);
    }
    { /* closing a failed listener is harmless */
        wk_listener_close(&b);
    }
    { /* once the first is closed, the address can be bound again */
        wk_listener_close(&a);
        assert_int_equal(open_at(&b, text, err), 0);
        wk_listener_close(&b);
    }
}

static void test_privileged_port_message(void **state)
{
    (void)state;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Without root (and so without CAP_NET_BIND_SERVICE). */
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        struct wk_listener l;
        char err[WK_ERR_LEN] = "";
        struct wk_addr a;
        if (wk_addr_parse("127.0.0.1:80", &a, err) != 0)
            _exit(4);
        int rc = wk_listener_open(&l, &a, 16, err);
        if (rc == 0) {
            wk_listener_close(&l);
            _exit(2); /* this host lets anyone bind low ports */
        }
        if (rc != -EACCES)
            _exit(rc == -EADDRINUSE ? 2 : 5);
        bool ok = strstr(err, "127.0.0.1:80") && strstr(err, "privileged") &&
                  strstr(err, "--user NAME") && strstr(err, "setcap") && strstr(err, ">= 1024");
        if (!ok)
            fprintf(stderr, "message: %s\n", err);
        _exit(ok ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 2)
        fail_msg("this host lets unprivileged processes bind port 80 "
                 "(net.ipv4.ip_unprivileged_port_start): nothing to explain");
    assert_int_equal(WEXITSTATUS(status), 0); /* the refusal explains the ways out */
}

static void test_stale_unix_socket_replaced(void **state)
{
    struct fixture *f = *state;
    struct wk_listener l;
    char err[WK_ERR_LEN], text[160];
    snprintf(text, sizeof text, "unix:%s", f->path);
    { /* a socket file left by a previous run */
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        assert_true(strlen(f->path) < sizeof un.sun_path);
        memcpy(un.sun_path, f->path, strlen(f->path) + 1);
        assert_int_equal(bind(s, (struct sockaddr *)&un, sizeof un), 0);
        close(s);
        struct stat st;
        assert_int_equal(lstat(f->path, &st), 0);
    }
    { /* is replaced, and the new socket works */
        assert_int_equal(open_at(&l, text, err), 0);
        assert_int_equal(wk_listener_start(&l, f->loop, on_accept, f), 0);
        int c = wk_test_connect(&l.addr.u.sa, l.addr.len, false);
        assert_true(c >= 0);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_int_equal(f->accepted, 1);
        close(c);
    }
    wk_listener_close(&l);
}

static void test_regular_file_not_replaced(void **state)
{
    struct fixture *f = *state;
    struct wk_listener l;
    char err[WK_ERR_LEN], text[160];
    snprintf(text, sizeof text, "unix:%s", f->path);
    int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "data", 4), 4);
    close(fd);
    { /* a regular file at the path is refused, and the message names the path */
        assert_int_equal(open_at(&l, text, err), -EEXIST);
        assert_non_null(strstr(err, f->path));
    }
    { /* the file is untouched */
        struct stat st;
        assert_int_equal(lstat(f->path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_size, 4);
    }
    { /* nor is a directory removed */
        unlink(f->path);
        assert_int_equal(mkdir(f->path, 0700), 0);
        assert_true(open_at(&l, text, err) < 0);
        struct stat st;
        assert_int_equal(lstat(f->path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        rmdir(f->path);
    }
}

static void test_unix_missing_directory(void **state)
{
    struct fixture *f = *state;
    struct wk_listener l;
    char err[WK_ERR_LEN], text[160];
    snprintf(text, sizeof text, "unix:%s/no/such/dir/s", f->dir);
    { /* the error names the path */
        assert_true(open_at(&l, text, err) < 0);
        assert_non_null(strstr(err, f->dir));
    }
}

static void test_pause_and_resume_by_owner(void **state)
{
    struct fixture *f = *state;
    struct wk_listener l;
    char err[WK_ERR_LEN];
    assert_int_equal(open_at(&l, "127.0.0.1:0", err), 0);
    assert_int_equal(wk_listener_start(&l, f->loop, on_accept, f), 0);
    int c = -1;
    { /* paused: a client waits in the backlog, unaccepted */
        wk_listener_pause(&l);
        c = wk_test_connect(&l.addr.u.sa, l.addr.len, false);
        assert_true(c >= 0);
        assert_int_equal(run(f, 50), 0);
        assert_true(f->guard_fired);
        assert_int_equal(f->accepted, 0);
    }
    { /* pausing twice is harmless */
        wk_listener_pause(&l);
    }
    { /* resumed: accepted */
        wk_listener_resume(&l);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(f->accepted, 1);
    }
    { /* closed: no longer watched, clients are refused */
        wk_listener_close(&l);
        int c2 = wk_test_connect(&l.addr.u.sa, l.addr.len, false);
        assert_int_equal(c2, -ECONNREFUSED);
        assert_int_equal(run(f, 30), 0);
        assert_true(f->guard_fired);
    }
    close(c);
}

static void test_defer_accept(void **state)
{
    struct fixture *f = *state;
    struct wk_listener l, u;
    char err[WK_ERR_LEN], text[160];
    assert_int_equal(open_at(&l, "127.0.0.1:0", err), 0);
    { /* on TCP: set, and the kernel has it */
        assert_int_equal(wk_listener_defer_accept(&l, 5), 0);
        assert_true(l.deferred);
        int v = 0;
        socklen_t len = sizeof v;
        assert_int_equal(getsockopt(l.fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, &len), 0);
        assert_true(v > 0);
    }
    assert_int_equal(wk_listener_start(&l, f->loop, on_accept, f), 0);
    int c = wk_test_connect(&l.addr.u.sa, l.addr.len, false);
    assert_true(c >= 0);
    { /* a client that has sent nothing is not handed over */
        assert_int_equal(run(f, 100), 0);
        assert_true(f->guard_fired);
        assert_int_equal(f->accepted, 0);
    }
    { /* once it speaks, it is accepted with its bytes already waiting */
        assert_int_equal(write(c, "GET", 3), 3);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(f->accepted, 1);
        char buf[8];
        assert_int_equal(recv(f->fds[0], buf, sizeof buf, MSG_DONTWAIT), 3);
    }
    { /* 0 turns it off */
        assert_int_equal(wk_listener_defer_accept(&l, 0), 0);
        assert_false(l.deferred);
    }
    { /* on a unix socket it does nothing, successfully */
        snprintf(text, sizeof text, "unix:%s", f->path);
        assert_int_equal(open_at(&u, text, err), 0);
        assert_int_equal(wk_listener_defer_accept(&u, 5), 0);
        assert_false(u.deferred);
        wk_listener_close(&u);
    }
    close(c);
    wk_listener_close(&l);
}

/* ---- running out of file descriptors, in a child process ---- */

struct emfile {
    struct wk_loop *loop;
    struct wk_timer free_timer, guard;
    int *fillers;
    int nfillers;
    int accepted;
    unsigned long turns;
    unsigned long turns_at_free;
    int accepted_at_free;
    bool freed;
    bool guard_fired;
};

static void emfile_accept(struct wk_listener *l, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct emfile *e = l->data;
    (void)peer;
    (void)len;
    close(fd);
    if (++e->accepted == 3)
        wk_loop_stop(e->loop);
}

static void emfile_hook(struct wk_loop *loop, void *data)
{
    struct emfile *e = data;
    (void)loop;
    e->turns++;
}

static void emfile_free(struct wk_timer *t)
{
    struct emfile *e = t->data;
    e->turns_at_free = e->turns;
    e->accepted_at_free = e->accepted;
    for (int i = 0; i < e->nfillers; i++)
        close(e->fillers[i]);
    e->nfillers = 0;
    e->freed = true;
}

static void emfile_guard(struct wk_timer *t)
{
    struct emfile *e = t->data;
    e->guard_fired = true;
    wk_loop_stop(e->loop);
}

/* The child's whole test; returns its exit status (0: passed). */
static int emfile_child(void)
{
    static struct emfile e;
    char err[WK_ERR_LEN];
    struct wk_listener l;
    struct wk_addr a;
    wk_log_init("test", WK_LOG_ERROR);
    e.loop = wk_loop_new(err);
    if (e.loop == NULL || wk_addr_parse("127.0.0.1:0", &a, err) != 0 ||
        wk_listener_open(&l, &a, 16, err) != 0 ||
        wk_listener_start(&l, e.loop, emfile_accept, &e) != 0)
        return 10;
    wk_loop_before_sleep(e.loop, emfile_hook, &e);
    int c[3];
    for (int i = 0; i < 3; i++) {
        if ((c[i] = wk_test_connect(&l.addr.u.sa, l.addr.len, false)) < 0)
            return 11;
    }
    /* Lower the limit to just above the fds in use, then fill every hole below it. */
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (probe < 0)
        return 12;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)probe + 1;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 13;
    e.fillers = calloc((size_t)probe + 1, sizeof *e.fillers);
    if (e.fillers == NULL)
        return 14;
    e.fillers[e.nfillers++] = probe;
    for (int fd; (fd = fcntl(0, F_DUPFD_CLOEXEC, 0)) >= 0;)
        e.fillers[e.nfillers++] = fd;
    if (errno != EMFILE)
        return 15;
    wk_timer_init(&e.free_timer, emfile_free, &e);
    wk_timer_init(&e.guard, emfile_guard, &e);
    wk_loop_timer_after(e.loop, &e.free_timer, 300);
    wk_loop_timer_after(e.loop, &e.guard, 5000);
    if (wk_loop_run(e.loop) != 0)
        return 16;
    int status = 0;
    if (e.accepted_at_free != 0) {
        fprintf(stderr, "accepted %d while out of fds\n", e.accepted_at_free);
        status = 17;
    } else if (e.turns_at_free > 200) {
        fprintf(stderr, "spinning: %lu loop turns in 300 ms without fds\n", e.turns_at_free);
        status = 18;
    } else if (e.guard_fired || e.accepted != 3) {
        fprintf(stderr, "not resumed: %d of 3 accepted after fds were freed\n", e.accepted);
        status = 19;
    }
    for (int i = 0; i < 3; i++)
        close(c[i]);
    wk_listener_close(&l);
    wk_loop_free(e.loop);
    free(e.fillers);
    return status;
}

static void test_out_of_fds_pauses_instead_of_spinning(void **state)
{
    (void)state;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20); /* a hung child must not hang the suite */
        _exit(emfile_child());
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    { /* paused while out of fds (few turns, nothing accepted), resumed after */
        if (!WIFEXITED(status))
            fail_msg("child killed by signal %d", WTERMSIG(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_bind_ipv4_port_zero),
        T(test_bind_ipv6_loopback),
        T(test_any_address_is_dual_stack),
        T(test_bind_unix),
        T(test_accept_through_loop),
        T(test_accept_in_bounded_batches),
        T(test_address_in_use),
        T(test_privileged_port_message),
        T(test_stale_unix_socket_replaced),
        T(test_regular_file_not_replaced),
        T(test_unix_missing_directory),
        T(test_pause_and_resume_by_owner),
        T(test_defer_accept),
        T(test_out_of_fds_pauses_instead_of_spinning),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_wk_sdlisten.c: socket activation (common/sdlisten.c), and how
 * wk_server_listen() uses it. The test plays the service manager: it opens
 * listening sockets, moves them to fds 3, 4, 5 and sets LISTEN_PID and
 * LISTEN_FDS. LISTEN_* values parsed, a LISTEN_PID of another process
 * ignored, the sockets taken (nonblocking, close-on-exec, the environment
 * unset), matched by address (port 0 never), and refused when they are not
 * listening stream sockets. Through a server: a socket adopted instead of
 * bound and accepting, an inherited socket no address names refused with a
 * message naming both, the inherited sockets replacing the default address,
 * and an inherited unix socket's path left in place at exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/conn.h"
#include "common/log.h"
#include "common/sdlisten.h"
#include "common/server.h"
#include "support/wk_net.h"
#include "support/wk_testsrv.h"

#define FIRST WK_SDLISTEN_FIRST_FD
#define NFDS  3

struct fixture {
    char dir[64];
    char path[128];  /* dir/a.sock */
    char path2[128]; /* dir/b.sock */
    struct wk_sdlisten sl;
    struct wk_server srv;
    bool srv_init;
    struct wk_testsrv ts;
    bool ts_init;
};

static bool is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    wk_log_init("test", getenv("WK_TEST_LOG") ? WK_LOG_DEBUG : WK_LOG_ERROR);
    for (int fd = FIRST; fd < FIRST + NFDS; fd++) {
        if (is_open(fd))
            fail_msg("fd %d is open before the test: the sockets go there", fd);
    }
    snprintf(f->dir, sizeof f->dir, "/tmp/wk-sdlisten-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/a.sock", f->dir);
    snprintf(f->path2, sizeof f->path2, "%s/b.sock", f->dir);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->ts_init)
        wk_testsrv_fini(&f->ts);
    if (f->srv_init)
        wk_server_fini(&f->srv);
    wk_sdlisten_close(&f->sl);
    for (int fd = FIRST; fd < FIRST + NFDS; fd++)
        close(fd);
    unlink(f->path);
    unlink(f->path2);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Moves fd to target (which must be free), as a manager passes its sockets. */
static int place(int fd, int target)
{
    if (fd == target)
        return fd;
    if (is_open(target))
        fail_msg("fd %d is taken", target);
    assert_int_equal(dup2(fd, target), target);
    close(fd);
    return target;
}

/* A blocking socket at fd target, bound to text ("127.0.0.1:0", "unix:PATH"), listening or not. */
static int socket_at(int target, const char *text, int type, bool listening)
{
    struct wk_addr a;
    char err[WK_ERR_LEN];
    if (wk_addr_parse(text, &a, err) != 0)
        fail_msg("%s: %s", text, err);
    int fd = socket(a.u.sa.sa_family, type, 0);
    assert_true(fd >= 0);
    if (bind(fd, &a.u.sa, a.len) < 0)
        fail_msg("bind %s: %s", text, strerror(errno));
    if (listening)
        assert_int_equal(listen(fd, 16), 0);
    return place(fd, target);
}

static int listener_at(int target, const char *text)
{
    return socket_at(target, text, SOCK_STREAM, true);
}

/* The port fd is bound to. */
static unsigned port_of(int fd)
{
    struct sockaddr_in in;
    socklen_t len = sizeof in;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &len), 0);
    return ntohs(in.sin_port);
}

/* LISTEN_PID (this process unless pid > 0), LISTEN_FDS and LISTEN_FDNAMES as a manager sets them.
 */
static void pass(int n, pid_t pid, const char *names)
{
    char v[32];
    snprintf(v, sizeof v, "%d", (int)(pid > 0 ? pid : getpid()));
    setenv("LISTEN_PID", v, 1);
    snprintf(v, sizeof v, "%d", n);
    setenv("LISTEN_FDS", v, 1);
    if (names != NULL)
        setenv("LISTEN_FDNAMES", names, 1);
}

static void expect_env_unset(void)
{
    assert_null(getenv("LISTEN_PID"));
    assert_null(getenv("LISTEN_FDS"));
    assert_null(getenv("LISTEN_FDNAMES"));
}

static struct wk_addr addr(const char *text)
{
    struct wk_addr a;
    char err[WK_ERR_LEN];
    if (wk_addr_parse(text, &a, err) != 0)
        fail_msg("%s: %s", text, err);
    return a;
}

/* ------------------------------------------------------- the variables -- */

static void test_count(void **state)
{
    (void)state;
    char err[WK_ERR_LEN] = "";
    assert_int_equal(wk_sdlisten_count(NULL, NULL, 100, err), 0);
    assert_int_equal(wk_sdlisten_count("100", NULL, 100, err), 0);
    assert_int_equal(wk_sdlisten_count(NULL, "2", 100, err), 0);
    assert_int_equal(wk_sdlisten_count("100", "2", 100, err), 2);
    assert_int_equal(wk_sdlisten_count("100", "0", 100, err), 0);
    assert_int_equal(wk_sdlisten_count("100", "1024", 100, err), 1024);
    /* Another process's sockets: none for this one, whatever LISTEN_FDS says. */
    assert_int_equal(wk_sdlisten_count("101", "2", 100, err), 0);
    assert_int_equal(wk_sdlisten_count("101", "junk", 100, err), 0);
    assert_string_equal(err, "");
    /* Not numbers, or out of range: errors naming the variable. */
    assert_int_equal(wk_sdlisten_count("abc", "1", 100, err), -EINVAL);
    assert_string_equal(err, "socket activation: LISTEN_PID=abc: not a process id");
    const char *bad_pid[] = {"", "0", "-100", "+100", " 100", "100 ", "99999999999999999999"};
    for (size_t i = 0; i < WK_ARRAY_LEN(bad_pid); i++)
        assert_int_equal(wk_sdlisten_count(bad_pid[i], "1", 100, err), -EINVAL);
    const char *bad_fds[] = {"", "-1", "1025", "2x", " 1", "0x2", "99999999999999999999"};
    for (size_t i = 0; i < WK_ARRAY_LEN(bad_fds); i++)
        assert_int_equal(wk_sdlisten_count("100", bad_fds[i], 100, err), -EINVAL);
    assert_string_equal(err, "socket activation: LISTEN_FDS=99999999999999999999: not a number "
                             "of sockets up to 1024");
    { /* what a value holds is shown escaped */
        assert_int_equal(wk_sdlisten_count("100", "1\n2", 100, err), -EINVAL);
        assert_non_null(strstr(err, "LISTEN_FDS=1\\x0a2:"));
    }
}

static void test_same_addr(void **state)
{
    (void)state;
    struct wk_addr a = addr("127.0.0.1:80"), b = addr("127.0.0.1:80");
    assert_true(wk_sdlisten_same_addr(&a, &b));
    b = addr("127.0.0.1:81");
    assert_false(wk_sdlisten_same_addr(&a, &b));
    b = addr("127.0.0.2:80");
    assert_false(wk_sdlisten_same_addr(&a, &b));
    b = addr("[::ffff:127.0.0.1]:80"); /* another family, another socket */
    assert_false(wk_sdlisten_same_addr(&a, &b));
    a = addr("[::]:80"), b = addr(":80");
    assert_true(wk_sdlisten_same_addr(&a, &b));
    b = addr("0.0.0.0:80");
    assert_false(wk_sdlisten_same_addr(&a, &b));
    a = addr("[fe80::1]:80"), b = a;
    b.u.in6.sin6_scope_id = 2;
    assert_false(wk_sdlisten_same_addr(&a, &b));
    a = addr("unix:/run/a.sock"), b = addr("unix:/run/a.sock");
    assert_true(wk_sdlisten_same_addr(&a, &b));
    b.len = sizeof b.u.un; /* as getsockname may report it: the NUL and what follows ignored */
    assert_true(wk_sdlisten_same_addr(&a, &b));
    b = addr("unix:/run/a.sockx");
    assert_false(wk_sdlisten_same_addr(&a, &b));
    b = addr("unix:run/a.sock"); /* path text, not resolved */
    assert_false(wk_sdlisten_same_addr(&a, &b));
    { /* an abstract name is not the path of the same letters */
        struct wk_addr abs = {.u.un = {.sun_family = AF_UNIX}};
        memcpy(abs.u.un.sun_path, "\0/run/a.sock", 12);
        abs.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 12);
        assert_false(wk_sdlisten_same_addr(&a, &abs));
        assert_true(wk_sdlisten_same_addr(&abs, &abs));
        struct wk_addr other = abs;
        other.len--;
        assert_false(wk_sdlisten_same_addr(&abs, &other));
    }
    { /* an unnamed socket is nobody's address */
        struct wk_addr none = {.u.un = {.sun_family = AF_UNIX}};
        none.len = (socklen_t)offsetof(struct sockaddr_un, sun_path);
        assert_false(wk_sdlisten_same_addr(&none, &none));
    }
}

/* ------------------------------------------------------ taking sockets -- */

static void test_nothing_passed(void **state)
{
    struct fixture *f = *state;
    char err[WK_ERR_LEN];
    setenv("LISTEN_FDNAMES", "stray", 1);
    assert_int_equal(wk_sdlisten_open(&f->sl, err), 0);
    assert_int_equal(f->sl.n, 0);
    assert_int_equal(wk_sdlisten_left(&f->sl), 0);
    struct wk_addr a = addr("127.0.0.1:80");
    assert_int_equal(wk_sdlisten_find(&f->sl, &a), -1);
    expect_env_unset();
}

static void test_other_pid_ignored(void **state)
{
    struct fixture *f = *state;
    char err[WK_ERR_LEN];
    int fd = listener_at(FIRST, "127.0.0.1:0");
    pass(1, getppid(), "http");
    assert_int_equal(wk_sdlisten_open(&f->sl, err), 0);
    assert_int_equal(f->sl.n, 0);
    expect_env_unset(); /* as sd_listen_fds(1): unset whatever they said */
    /* The socket is not touched: still open, blocking, inheritable. */
    assert_true(is_open(fd));
    assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_false(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static void test_take_and_match(void **state)
{
    struct fixture *f = *state;
    char err[WK_ERR_LEN], text[160];
    int tcp = listener_at(FIRST, "127.0.0.1:0");
    int unx;
    snprintf(text, sizeof text, "unix:%s", f->path);
    unx = listener_at(FIRST + 1, text);
    unsigned port = port_of(tcp);
    pass(2, 0, "http:local");
    assert_int_equal(wk_sdlisten_open(&f->sl, err), 0);
    expect_env_unset();
    assert_int_equal(f->sl.n, 2);
    assert_int_equal(wk_sdlisten_left(&f->sl), 2);
    for (size_t i = 0; i < 2; i++) { /* nonblocking and close-on-exec now */
        assert_int_equal(f->sl.v[i].fd, FIRST + (int)i);
        assert_true(fcntl(f->sl.v[i].fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(f->sl.v[i].fd, F_GETFD) & FD_CLOEXEC);
    }
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", port);
    assert_string_equal(f->sl.v[0].name, want);
    assert_string_equal(f->sl.v[1].name, text);
    { /* matched by address */
        snprintf(want, sizeof want, "127.0.0.1:%u", port);
        struct wk_addr a = addr(want);
        assert_int_equal(wk_sdlisten_find(&f->sl, &a), 0);
        a = addr(text);
        assert_int_equal(wk_sdlisten_find(&f->sl, &a), 1);
    }
    { /* and by nothing else */
        const char *others[] = {"127.0.0.1:0", "127.0.0.2:1", "0.0.0.0:1", "[::1]:1"};
        for (size_t i = 0; i < WK_ARRAY_LEN(others); i++) {
            struct wk_addr a = addr(others[i]);
            a.u.in.sin_port = htons((uint16_t)port); /* the same port, for the IPv4 ones */
            if (a.u.sa.sa_family == AF_INET6)
                a.u.in6.sin6_port = htons((uint16_t)port);
            assert_int_equal(wk_sdlisten_find(&f->sl, &a), i == 0 ? 0 : -1);
        }
        struct wk_addr zero = addr("127.0.0.1:0"); /* port 0 names no socket */
        assert_int_equal(wk_sdlisten_find(&f->sl, &zero), -1);
        snprintf(want, sizeof want, "127.0.0.1:%u", port + 1 > 65535 ? 1 : port + 1);
        struct wk_addr next = addr(want);
        assert_int_equal(wk_sdlisten_find(&f->sl, &next), -1);
        struct wk_addr path2 = addr("unix:/nonexistent/b.sock");
        assert_int_equal(wk_sdlisten_find(&f->sl, &path2), -1);
    }
    { /* taken: the caller's now, and no longer found */
        snprintf(want, sizeof want, "127.0.0.1:%u", port);
        struct wk_addr a = addr(want);
        assert_int_equal(wk_sdlisten_take(&f->sl, 0), tcp);
        assert_int_equal(wk_sdlisten_find(&f->sl, &a), -1);
        assert_int_equal(wk_sdlisten_left(&f->sl), 1);
    }
    /* Closing closes what was not taken. */
    wk_sdlisten_close(&f->sl);
    assert_int_equal(f->sl.n, 0);
    assert_true(is_open(tcp));
    assert_false(is_open(unx));
}

static void test_abstract_name(void **state)
{
    struct fixture *f = *state;
    char err[WK_ERR_LEN], name[64];
    int n = snprintf(name, sizeof name, "wk-sdlisten-%d", (int)getpid());
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path + 1, name, (size_t)n);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)),
                     0);
    assert_int_equal(listen(fd, 4), 0);
    place(fd, FIRST);
    pass(1, 0, NULL);
    assert_int_equal(wk_sdlisten_open(&f->sl, err), 0);
    char want[80];
    snprintf(want, sizeof want, "unix:@%s", name);
    assert_string_equal(f->sl.v[0].name, want);
    /* A configured path of the same letters is another socket. */
    snprintf(want, sizeof want, "unix:@%s", name);
    struct wk_addr path = addr(want);
    assert_int_equal(wk_sdlisten_find(&f->sl, &path), -1);
}

/* wk_sdlisten_open() fails with rc and a message containing what. */
static void expect_refused(struct fixture *f, int rc, const char *what)
{
    char err[WK_ERR_LEN] = "";
    assert_int_equal(wk_sdlisten_open(&f->sl, err), rc);
    if (strstr(err, what) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", what, err);
    assert_int_equal(f->sl.n, 0);
    expect_env_unset();
}

static void test_not_listening_refused(void **state)
{
    struct fixture *f = *state;
    char want[160];
    int fd = socket_at(FIRST, "127.0.0.1:0", SOCK_STREAM, false);
    pass(1, 0, NULL);
    snprintf(want, sizeof want,
             "socket activation: inherited socket fd 3 (127.0.0.1:%u) is not a listening stream "
             "socket",
             port_of(fd));
    expect_refused(f, -EINVAL, want);
    close(fd);
}

static void test_datagram_refused(void **state)
{
    struct fixture *f = *state;
    int fd = socket_at(FIRST, "127.0.0.1:0", SOCK_DGRAM, false);
    pass(1, 0, NULL);
    expect_refused(f, -EINVAL, "fd 3 (127.0.0.1:");
    close(fd);
}

static void test_connected_refused(void **state)
{
    struct fixture *f = *state;
    int pair[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    place(pair[0], FIRST);
    close(pair[1]);
    pass(1, 0, NULL);
    expect_refused(f, -EINVAL, "inherited socket fd 3 (unix) is not a listening stream socket");
}

static void test_not_a_socket_refused(void **state)
{
    struct fixture *f = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    place(p[0], FIRST);
    close(p[1]);
    pass(1, 0, NULL);
    expect_refused(f, -ENOTSOCK, "socket activation: inherited fd 3 is not a socket");
}

static void test_missing_fd_refused(void **state)
{
    struct fixture *f = *state;
    listener_at(FIRST, "127.0.0.1:0");
    pass(2, 0, NULL);
    expect_refused(f, -EBADF, "socket activation: LISTEN_FDS=2 but fd 4 is not open");
}

static void test_bad_count_refused(void **state)
{
    struct fixture *f = *state;
    pass(1, 0, NULL);
    setenv("LISTEN_FDS", "many", 1);
    expect_refused(f, -EINVAL, "LISTEN_FDS=many");
}

/* ------------------------------------------------------ through a server -- */

static void s_on_open(struct wk_conn *c)
{
    int *accepted = wk_conn_server(c)->data;
    (*accepted)++;
    wk_conn_close(c, "test");
}

static void s_nothing(struct wk_conn *c)
{
    (void)c;
}

static void s_close(struct wk_conn *c)
{
    wk_conn_close(c, "test");
}

static const struct wk_conn_ops ops = {
    .proto_size = 8,
    .on_open = s_on_open,
    .on_data = s_nothing,
    .on_drain = s_nothing,
    .on_timeout = s_close,
    .on_shutdown = s_close,
    .on_close = s_nothing,
};

static int accepted;

/* Binds texts (n of them) as wk_server_listen() would, under cfg; returns its result. */
static int server_listen(struct fixture *f, const struct wk_server_config *cfg,
                         const char *const *texts, size_t n, char err[WK_ERR_LEN])
{
    struct wk_addr a[4];
    for (size_t i = 0; i < n; i++)
        a[i] = addr(texts[i]);
    if (wk_server_init(&f->srv, cfg, &ops, NULL, err) != 0)
        fail_msg("init: %s", err);
    f->srv_init = true;
    return wk_server_listen(&f->srv, a, NULL, n, err);
}

static void test_server_adopts(void **state)
{
    struct fixture *f = *state;
    char err[WK_ERR_LEN], here[64];
    int fd = listener_at(FIRST, "127.0.0.1:0");
    snprintf(here, sizeof here, "127.0.0.1:%u", port_of(fd));
    pass(1, 0, NULL);
    struct wk_server_config cfg;
    wk_server_config_defaults(&cfg);
    cfg.defer_accept_s = 1;
    const char *texts[] = {"127.0.0.1:0", here};
    struct wk_test_capture cap;
    wk_log_init("test", WK_LOG_INFO);
    wk_test_capture_begin(&cap);
    accepted = 0;
    int rc = wk_testsrv_init(&f->ts, &cfg, &ops, &accepted, texts, 2, err);
    wk_log_init("test", WK_LOG_ERROR);
    char *log = wk_test_capture_end(&cap);
    if (rc != 0)
        fail_msg("server: %s", err);
    f->ts_init = true;
    expect_env_unset();
    struct wk_server *srv = &f->ts.srv;
    assert_int_equal(srv->nlisteners, 2);
    /* listener 1 is the inherited socket, not a new one; listener 0 was bound */
    assert_int_equal(srv->listeners[1].fd, FIRST);
    assert_string_equal(srv->listeners[1].name, here);
    assert_true(srv->listeners[1].inherited);
    assert_false(srv->listeners[0].inherited);
    assert_true(srv->listeners[0].fd != FIRST);
    char line[128];
    snprintf(line, sizeof line, "test listen addr=%s fd=3 inherited\n", here);
    assert_non_null(strstr(log, line));
    free(log);
    { /* the options a bound listener gets */
        int v = 0;
        socklen_t len = sizeof v;
        assert_int_equal(getsockopt(FIRST, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
        assert_true(v);
        len = sizeof v;
        assert_int_equal(getsockopt(FIRST, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, &len), 0);
        assert_true(v > 0);
    }
    { /* and it accepts (with data sent, as TCP_DEFER_ACCEPT waits for) */
        int c = wk_testsrv_connect(&f->ts, 1);
        assert_true(c >= 0);
        assert_int_equal(write(c, "x", 1), 1);
        wk_testsrv_run(&f->ts, NULL, NULL, 200);
        for (int i = 0; i < 20 && accepted == 0; i++)
            wk_testsrv_run(&f->ts, NULL, NULL, 100);
        assert_int_equal(accepted, 1);
        close(c);
    }
}

static void test_server_unmatched_refused(void **state)
{
    struct fixture *f = *state;
    char err[WK_ERR_LEN] = "", want[WK_ERR_LEN];
    int fd = listener_at(FIRST, "127.0.0.1:0");
    unsigned port = port_of(fd);
    pass(1, 0, NULL);
    struct wk_server_config cfg;
    wk_server_config_defaults(&cfg);
    const char *texts[] = {"127.0.0.1:0", "unix:/nonexistent/x.sock"};
    assert_int_equal(server_listen(f, &cfg, texts, 2, err), -EINVAL);
    snprintf(want, sizeof want,
             "inherited socket fd 3 (127.0.0.1:%u) matches no listen address (127.0.0.1:0 "
             "unix:/nonexistent/x.sock): name that address with --listen or another listen "
             "option, or give no --listen to serve every inherited socket",
             port);
    assert_string_equal(err, want);
    assert_int_equal(f->srv.nlisteners, 0); /* nothing was bound */
    assert_false(is_open(FIRST));           /* and the socket not kept */
}

static void test_server_replaces_default(void **state)
{
    struct fixture *f = *state;
    char err[WK_ERR_LEN], tls_here[64];
    int a = listener_at(FIRST, "127.0.0.1:0");
    int b = listener_at(FIRST + 1, "127.0.0.1:0");
    int c = listener_at(FIRST + 2, "127.0.0.1:0");
    snprintf(tls_here, sizeof tls_here, "127.0.0.1:%u", port_of(b));
    pass(3, 0, NULL);
    struct wk_server_config cfg;
    wk_server_config_defaults(&cfg);
    cfg.listen_default = true;
    /* The default address names none of them; the second address names b. */
    const char *texts[] = {"127.0.0.1:0", tls_here};
    assert_int_equal(server_listen(f, &cfg, texts, 2, err), 0);
    struct wk_server *srv = &f->srv;
    assert_int_equal(srv->nlisteners, 3);
    assert_int_equal(srv->listeners[0].fd, a); /* in the default's place */
    assert_int_equal(srv->listeners[1].fd, b); /* the address that names it keeps its index */
    assert_int_equal(srv->listeners[2].fd, c); /* after the addresses given */
    for (size_t i = 0; i < 3; i++)
        assert_true(srv->listeners[i].inherited);
}

static void test_server_default_matched(void **state)
{
    struct fixture *f = *state;
    char err[WK_ERR_LEN], here[64];
    int a = listener_at(FIRST, "127.0.0.1:0");
    int b = listener_at(FIRST + 1, "127.0.0.1:0");
    snprintf(here, sizeof here, "127.0.0.1:%u", port_of(b));
    pass(2, 0, NULL);
    struct wk_server_config cfg;
    wk_server_config_defaults(&cfg);
    cfg.listen_default = true;
    const char *texts[] = {here, "127.0.0.1:0"};
    assert_int_equal(server_listen(f, &cfg, texts, 2, err), 0);
    struct wk_server *srv = &f->srv;
    assert_int_equal(srv->nlisteners, 3);
    assert_int_equal(srv->listeners[0].fd, b);
    assert_false(srv->listeners[1].inherited); /* port 0: bound */
    assert_int_equal(srv->listeners[2].fd, a);
}

static void test_server_keeps_unix_path(void **state)
{
    struct fixture *f = *state;
    char err[WK_ERR_LEN], text[160], own[160];
    struct stat st;
    snprintf(text, sizeof text, "unix:%s", f->path);
    snprintf(own, sizeof own, "unix:%s", f->path2);
    listener_at(FIRST, text);
    pass(1, 0, NULL);
    struct wk_server_config cfg;
    wk_server_config_defaults(&cfg);
    const char *texts[] = {own, text};
    assert_int_equal(server_listen(f, &cfg, texts, 2, err), 0);
    assert_int_equal(f->srv.listeners[1].fd, FIRST);
    assert_string_equal(f->srv.listeners[1].name, text);
    wk_server_fini(&f->srv);
    f->srv_init = false;
    /* The manager's socket file stays for the next start; the server's own goes. */
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(stat(f->path2, &st), -1);
}

/*
 * fds 3, 4, 5 are where the sockets go. Whatever this process inherited
 * there (ctest leaves a descriptor open, for one) moves out of the way.
 */
static void clear_first_fds(void)
{
    for (int fd = FIRST; fd < FIRST + NFDS; fd++) {
        if (is_open(fd) && fcntl(fd, F_DUPFD_CLOEXEC, 64) >= 0)
            close(fd);
    }
}

int main(void)
{
    clear_first_fds();
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count),    cmocka_unit_test(test_same_addr),
        T(test_nothing_passed),          T(test_other_pid_ignored),
        T(test_take_and_match),          T(test_abstract_name),
        T(test_not_listening_refused),   T(test_datagram_refused),
        T(test_connected_refused),       T(test_not_a_socket_refused),
        T(test_missing_fd_refused),      T(test_bad_count_refused),
        T(test_server_adopts),           T(test_server_unmatched_refused),
        T(test_server_replaces_default), T(test_server_default_matched),
        T(test_server_keeps_unix_path),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_wk_sockinfo.c: the kernel's view of TCP sockets (common/sockinfo.c)
 * on loopback, every listener on port 0: LISTEN with its backlog and accept
 * queue, both ends of a connection, IPv6, an IPv4 client of a dual-stack
 * [::] listener (::ffff: addresses, as ss prints them), TIME-WAIT after the
 * client closes first, struct tcp_info, the port filter, the bound on the
 * count, and bad arguments. Addresses are compared in the printed form
 * wk_addr_format() gives, which is what `ss -tn` prints. Other tests may
 * run at the same time, so sockets are found by address and port, never
 * counted blindly.
 *
 * The second half replaces the kernel's replies (sendmsg and recvmsg are
 * wrapped) to check the request sent, the reading of every field, and that
 * lying lengths, truncation, errors and strangers' messages are refused or
 * ignored without reading past what arrived.
 *
 * WK_WRAP: sendmsg recvmsg
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <cmocka.h>

#include "common/addr.h"
#include "common/sockinfo.h"
#include "support/wk_net.h"

/* How long a test waits for the kernel to move a socket along, in 10 ms steps. */
#define WAIT_STEPS 300
#define POLL_MS    3000

struct addrtext {
    char s[WK_ADDR_STRLEN];
};

static struct addrtext text(const union wk_ipaddr *a)
{
    struct addrtext t;
    socklen_t len = a->sa.sa_family == AF_INET ? sizeof a->in : sizeof a->in6;
    wk_addr_format(&a->sa, len, t.s, sizeof t.s);
    return t;
}

static void sleep_10ms(void)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static bool have_ipv6(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* A listener on ip, port 0; *addr gets the address with the port the kernel chose. */
static int listen_on(const char *ip, int backlog, bool v6only, union wk_ipaddr *addr)
{
    socklen_t len;
    memset(addr, 0, sizeof *addr);
    if (inet_pton(AF_INET, ip, &addr->in.sin_addr) == 1) {
        addr->in.sin_family = AF_INET;
        len = sizeof addr->in;
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &addr->in6.sin6_addr), 1);
        addr->in6.sin6_family = AF_INET6;
        len = sizeof addr->in6;
    }
    int fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int one = 1, v6 = v6only;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    if (addr->sa.sa_family == AF_INET6)
        assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6), 0);
    assert_int_equal(bind(fd, &addr->sa, len), 0);
    assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, &addr->sa, &len), 0);
    return fd;
}

static uint16_t port_of(const union wk_ipaddr *a)
{
    return wk_addr_port(&a->sa);
}

/* Connects to a listener at ip and port (a blocking connect completes from the backlog). */
static int connect_to(const char *ip, uint16_t port)
{
    union wk_ipaddr a;
    memset(&a, 0, sizeof a);
    socklen_t len;
    if (inet_pton(AF_INET, ip, &a.in.sin_addr) == 1) {
        a.in.sin_family = AF_INET;
        a.in.sin_port = htons(port);
        len = sizeof a.in;
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &a.in6.sin6_addr), 1);
        a.in6.sin6_family = AF_INET6;
        a.in6.sin6_port = htons(port);
        len = sizeof a.in6;
    }
    int fd = wk_test_connect(&a.sa, len, false);
    if (fd < 0)
        fail_msg("connect to %s port %u: %s", ip, port, strerror(-fd));
    return fd;
}

static int accept_one(int lfd)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, POLL_MS), 1);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static uint64_t inode_of(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return (uint64_t)st.st_ino;
}

/*
 * Queries and checks what every result must satisfy: its local port was
 * asked for, and its addresses are IPv4 or IPv6 of the same family.
 */
static ssize_t query(const uint16_t *ports, size_t nports, size_t max, struct wk_sockinfo **out)
{
    char err[WK_ERR_LEN] = "";
    ssize_t n = wk_sockinfo_query(ports, nports, max, out, err);
    if (n < 0)
        fail_msg("wk_sockinfo_query: %zd: %s", n, err);
    assert_true((size_t)n <= max);
    assert_true(n > 0 || *out == NULL);
    for (ssize_t i = 0; i < n; i++) {
        const struct wk_sockinfo *si = &(*out)[i];
        uint16_t lp = port_of(&si->local);
        bool asked = false;
        for (size_t j = 0; j < nports; j++)
            asked = asked || ports[j] == lp;
        if (!asked)
            fail_msg("local port %u was not asked for", lp);
        int fam = si->local.sa.sa_family;
        assert_true(fam == AF_INET || fam == AF_INET6);
        assert_int_equal(si->peer.sa.sa_family, fam);
    }
    return n;
}

/* The socket with these printed local and peer addresses, or NULL. */
static const struct wk_sockinfo *find(const struct wk_sockinfo *v, ssize_t n, const char *local,
                                      const char *peer)
{
    for (ssize_t i = 0; i < n; i++) {
        if (strcmp(text(&v[i].local).s, local) == 0 && strcmp(text(&v[i].peer).s, peer) == 0)
            return &v[i];
    }
    return NULL;
}

static const struct wk_sockinfo *must_find(const struct wk_sockinfo *v, ssize_t n,
                                           const char *local, const char *peer)
{
    const struct wk_sockinfo *si = find(v, n, local, peer);
    if (si == NULL) {
        for (ssize_t i = 0; i < n; i++)
            print_message("  have %s %s %s\n", wk_sockinfo_state_name(v[i].state),
                          text(&v[i].local).s, text(&v[i].peer).s);
        fail_msg("no socket %s -> %s", local, peer);
    }
    return si;
}

static void fmt2(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fmt2(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < len);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(wk_sockinfo_state_name(TCP_ESTABLISHED), "ESTAB");
    assert_string_equal(wk_sockinfo_state_name(TCP_SYN_SENT), "SYN-SENT");
    assert_string_equal(wk_sockinfo_state_name(TCP_SYN_RECV), "SYN-RECV");
    assert_string_equal(wk_sockinfo_state_name(TCP_FIN_WAIT1), "FIN-WAIT-1");
    assert_string_equal(wk_sockinfo_state_name(TCP_FIN_WAIT2), "FIN-WAIT-2");
    assert_string_equal(wk_sockinfo_state_name(TCP_TIME_WAIT), "TIME-WAIT");
    assert_string_equal(wk_sockinfo_state_name(TCP_CLOSE), "UNCONN");
    assert_string_equal(wk_sockinfo_state_name(TCP_CLOSE_WAIT), "CLOSE-WAIT");
    assert_string_equal(wk_sockinfo_state_name(TCP_LAST_ACK), "LAST-ACK");
    assert_string_equal(wk_sockinfo_state_name(TCP_LISTEN), "LISTEN");
    assert_string_equal(wk_sockinfo_state_name(TCP_CLOSING), "CLOSING");
    assert_string_equal(wk_sockinfo_state_name(0), "UNKNOWN");
    assert_string_equal(wk_sockinfo_state_name(12), "UNKNOWN");
    assert_string_equal(wk_sockinfo_state_name(255), "UNKNOWN");
}

/* A listener: LISTEN, its backlog in wqueue, its accept queue in rqueue, its inode and owner. */
static void test_listen_v4(void **state)
{
    (void)state;
    union wk_ipaddr la;
    int lfd = listen_on("127.0.0.1", 7, false, &la);
    uint16_t port = port_of(&la);
    char local[64];
    fmt2(local, sizeof local, "127.0.0.1:%u", port);

    struct wk_sockinfo *v;
    ssize_t n = query(&port, 1, 64, &v);
    const struct wk_sockinfo *si = must_find(v, n, local, "0.0.0.0:0");
    assert_int_equal(si->state, TCP_LISTEN);
    assert_string_equal(wk_sockinfo_state_name(si->state), "LISTEN");
    assert_int_equal(si->wqueue, 7);
    assert_int_equal(si->rqueue, 0);
    assert_int_equal(si->inode, inode_of(lfd));
    assert_int_equal(si->uid, geteuid());
    assert_false(si->v6only);
    free(v);

    /* A connection the kernel completed but nobody accepted waits in the accept queue. */
    int cfd = connect_to("127.0.0.1", port);
    n = query(&port, 1, 64, &v);
    si = must_find(v, n, local, "0.0.0.0:0");
    assert_int_equal(si->rqueue, 1);
    assert_int_equal(si->wqueue, 7);
    free(v);
    close(cfd);
    close(lfd);
}

/* Both ends of a connection are ESTAB; the accepted one has the listener's port. */
static void test_established_v4(void **state)
{
    (void)state;
    union wk_ipaddr la;
    int lfd = listen_on("127.0.0.1", 8, false, &la);
    uint16_t lport = port_of(&la);
    int cfd = connect_to("127.0.0.1", lport);
    int afd = accept_one(lfd);
    uint16_t cport = (uint16_t)wk_test_local_port(cfd);
    char server[64], client[64];
    fmt2(server, sizeof server, "127.0.0.1:%u", lport);
    fmt2(client, sizeof client, "127.0.0.1:%u", cport);

    struct wk_sockinfo *v;
    ssize_t n = query(&lport, 1, 64, &v);
    const struct wk_sockinfo *si = must_find(v, n, server, client);
    assert_int_equal(si->state, TCP_ESTABLISHED);
    assert_int_equal(port_of(&si->local), lport);
    assert_int_equal(si->inode, inode_of(afd));
    assert_int_equal(si->uid, geteuid());
    assert_int_equal(si->local.sa.sa_family, AF_INET);
    must_find(v, n, server, "0.0.0.0:0");
    /* The client's end has another local port, which was not asked for. */
    assert_null(find(v, n, client, server));
    free(v);

    n = query(&cport, 1, 64, &v);
    si = must_find(v, n, client, server);
    assert_int_equal(si->state, TCP_ESTABLISHED);
    assert_int_equal(si->inode, inode_of(cfd));
    assert_null(find(v, n, server, client));
    free(v);
    close(afd);
    close(cfd);
    close(lfd);
}

/* Only the ports asked for come back, from a list of several, duplicates and all. */
static void test_port_filter(void **state)
{
    (void)state;
    union wk_ipaddr a[3];
    int fd[3];
    char name[3][64];
    for (int i = 0; i < 3; i++) {
        fd[i] = listen_on("127.0.0.1", 4, false, &a[i]);
        fmt2(name[i], sizeof name[i], "127.0.0.1:%u", port_of(&a[i]));
    }
    uint16_t ports[] = {port_of(&a[0]), port_of(&a[2]), port_of(&a[2])};
    struct wk_sockinfo *v;
    ssize_t n = query(ports, WK_ARRAY_LEN(ports), 64, &v);
    must_find(v, n, name[0], "0.0.0.0:0");
    must_find(v, n, name[2], "0.0.0.0:0");
    assert_null(find(v, n, name[1], "0.0.0.0:0"));
    int seen = 0;
    for (ssize_t i = 0; i < n; i++)
        seen += strcmp(text(&v[i].local).s, name[2]) == 0 && v[i].state == TCP_LISTEN;
    assert_int_equal(seen, 1);
    free(v);

    /* A closed listener's port: nothing of it is left to report. */
    uint16_t gone = port_of(&a[1]);
    close(fd[1]);
    n = query(&gone, 1, 64, &v);
    assert_null(find(v, n, name[1], "0.0.0.0:0"));
    free(v);
    close(fd[0]);
    close(fd[2]);
}

static void test_ipv6_loopback(void **state)
{
    (void)state;
    if (!have_ipv6())
        fail_msg("this host has no IPv6 loopback (::1): the test needs it");
    union wk_ipaddr la;
    int lfd = listen_on("::1", 5, true, &la);
    uint16_t lport = port_of(&la);
    int cfd = connect_to("::1", lport);
    int afd = accept_one(lfd);
    uint16_t cport = (uint16_t)wk_test_local_port(cfd);
    char server[64], client[64];
    fmt2(server, sizeof server, "[::1]:%u", lport);
    fmt2(client, sizeof client, "[::1]:%u", cport);

    uint16_t ports[] = {lport, cport};
    struct wk_sockinfo *v;
    ssize_t n = query(ports, 2, 64, &v);
    const struct wk_sockinfo *si = must_find(v, n, server, "[::]:0");
    assert_int_equal(si->state, TCP_LISTEN);
    assert_int_equal(si->local.sa.sa_family, AF_INET6);
    assert_int_equal(si->wqueue, 5);
    assert_true(si->v6only);
    si = must_find(v, n, server, client);
    assert_int_equal(si->state, TCP_ESTABLISHED);
    assert_int_equal(si->local.in6.sin6_scope_id, 0);
    si = must_find(v, n, client, server);
    assert_int_equal(si->state, TCP_ESTABLISHED);
    assert_int_equal(si->inode, inode_of(cfd));
    free(v);
    close(afd);
    close(cfd);
    close(lfd);
}

/* An IPv4 client of a dual-stack [::] listener: the server side sees ::ffff:127.0.0.1. */
static void test_dual_stack_v4_client(void **state)
{
    (void)state;
    if (!have_ipv6())
        fail_msg("this host has no IPv6 loopback (::1): the test needs it");
    union wk_ipaddr la;
    int lfd = listen_on("::", 5, false, &la);
    uint16_t lport = port_of(&la);
    int cfd = connect_to("127.0.0.1", lport);
    int afd = accept_one(lfd);
    uint16_t cport = (uint16_t)wk_test_local_port(cfd);
    char any[64], server[64], client[64], client4[64], server4[64];
    fmt2(any, sizeof any, "[::]:%u", lport);
    fmt2(server, sizeof server, "[::ffff:127.0.0.1]:%u", lport);
    fmt2(client, sizeof client, "[::ffff:127.0.0.1]:%u", cport);
    fmt2(client4, sizeof client4, "127.0.0.1:%u", cport);
    fmt2(server4, sizeof server4, "127.0.0.1:%u", lport);

    struct wk_sockinfo *v;
    ssize_t n = query(&lport, 1, 64, &v);
    const struct wk_sockinfo *si = must_find(v, n, any, "[::]:0");
    assert_int_equal(si->state, TCP_LISTEN);
    assert_false(si->v6only);
    si = must_find(v, n, server, client);
    assert_int_equal(si->state, TCP_ESTABLISHED);
    assert_int_equal(si->local.sa.sa_family, AF_INET6);
    assert_true(IN6_IS_ADDR_V4MAPPED(&si->peer.in6.sin6_addr));
    assert_int_equal(si->inode, inode_of(afd));
    free(v);

    /* The client is a plain IPv4 socket. */
    n = query(&cport, 1, 64, &v);
    si = must_find(v, n, client4, server4);
    assert_int_equal(si->state, TCP_ESTABLISHED);
    assert_int_equal(si->local.sa.sa_family, AF_INET);
    free(v);
    close(afd);
    close(cfd);
    close(lfd);
}

/* Waits until fd has read EOF; reads whatever came before it. */
static void wait_eof(int fd)
{
    for (int i = 0; i < 64; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[256];
        assert_int_equal(poll(&p, 1, POLL_MS), 1);
        ssize_t got = read(fd, buf, sizeof buf);
        assert_true(got >= 0);
        if (got == 0)
            return;
    }
    fail_msg("no EOF");
}

/* The side that closes first ends in TIME-WAIT, which carries no struct tcp_info. */
static void test_time_wait(void **state)
{
    (void)state;
    union wk_ipaddr la;
    int lfd = listen_on("127.0.0.1", 4, false, &la);
    uint16_t lport = port_of(&la);
    int cfd = connect_to("127.0.0.1", lport);
    int afd = accept_one(lfd);
    uint16_t cport = (uint16_t)wk_test_local_port(cfd);
    char server[64], client[64];
    fmt2(server, sizeof server, "127.0.0.1:%u", lport);
    fmt2(client, sizeof client, "127.0.0.1:%u", cport);

    close(cfd);
    wait_eof(afd);
    close(afd);

    const struct wk_sockinfo *si = NULL;
    struct wk_sockinfo *v = NULL;
    for (int i = 0; i < WAIT_STEPS; i++) {
        ssize_t n = query(&cport, 1, 64, &v);
        si = find(v, n, client, server);
        if (si != NULL && si->state == TCP_TIME_WAIT)
            break;
        free(v);
        v = NULL;
        si = NULL;
        sleep_10ms();
    }
    if (si == NULL)
        fail_msg("%s -> %s never reached TIME-WAIT", client, server);
    assert_string_equal(wk_sockinfo_state_name(si->state), "TIME-WAIT");
    assert_false(si->has_tcp);
    assert_int_equal(si->rtt_us, 0);
    assert_int_equal(si->bytes_acked, 0);
    assert_int_equal(si->inode, 0);
    free(v);
    close(lfd);
}

static void send_all(int fd, size_t len)
{
    char buf[256];
    assert_true(len <= sizeof buf);
    memset(buf, 'x', len);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

static void recv_exactly(int fd, size_t len)
{
    char buf[256];
    size_t got = 0;
    for (int i = 0; i < 64 && got < len; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, POLL_MS), 1);
        ssize_t r = read(fd, buf, len - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_int_equal(got, len);
}

/* ESTAB sockets carry struct tcp_info: a loopback RTT, a window, and the bytes counted. */
static void test_tcp_info(void **state)
{
    (void)state;
    union wk_ipaddr la;
    int lfd = listen_on("127.0.0.1", 4, false, &la);
    uint16_t lport = port_of(&la);
    int cfd = connect_to("127.0.0.1", lport);
    int afd = accept_one(lfd);
    uint16_t cport = (uint16_t)wk_test_local_port(cfd);
    char server[64], client[64];
    fmt2(server, sizeof server, "127.0.0.1:%u", lport);
    fmt2(client, sizeof client, "127.0.0.1:%u", cport);

    /* The reply carries the ACK of the request, so the client's bytes_acked covers it. */
    send_all(cfd, 100);
    recv_exactly(afd, 100);
    send_all(afd, 50);
    recv_exactly(cfd, 50);

    uint16_t ports[] = {lport, cport};
    struct wk_sockinfo *v;
    ssize_t n = query(ports, 2, 64, &v);
    const struct wk_sockinfo *c = must_find(v, n, client, server);
    assert_true(c->has_tcp);
    assert_true(c->rtt_us > 0 && c->rtt_us < 1000 * 1000);
    assert_true(c->rttvar_us < 1000 * 1000);
    assert_true(c->snd_cwnd > 0);
    assert_true(c->bytes_acked >= 100);
    assert_true(c->bytes_received >= 50);
    assert_true(c->total_retrans >= c->retrans);
    const struct wk_sockinfo *s = must_find(v, n, server, client);
    assert_true(s->has_tcp);
    assert_true(s->rtt_us > 0 && s->rtt_us < 1000 * 1000);
    assert_true(s->bytes_received >= 100);
    assert_int_equal(s->rqueue, 0);
    free(v);
    close(afd);
    close(cfd);
    close(lfd);
}

/* max bounds the count, however many sockets have the port. */
static void test_max_bounds(void **state)
{
    (void)state;
    union wk_ipaddr la;
    int lfd = listen_on("127.0.0.1", 8, false, &la);
    uint16_t lport = port_of(&la);
    int cfd[3], afd[3];
    for (int i = 0; i < 3; i++) {
        cfd[i] = connect_to("127.0.0.1", lport);
        afd[i] = accept_one(lfd);
    }
    struct wk_sockinfo *v = (struct wk_sockinfo *)&v; /* must be overwritten */
    assert_int_equal(query(&lport, 1, 0, &v), 0);
    assert_null(v);
    for (size_t max = 1; max <= 3; max++) {
        assert_int_equal(query(&lport, 1, max, &v), (ssize_t)max);
        free(v);
    }
    /* The listener and the three accepted sockets, and maybe others' sockets on the port. */
    ssize_t n = query(&lport, 1, 1000, &v);
    assert_true(n >= 4);
    int estab = 0;
    for (ssize_t i = 0; i < n; i++)
        estab += v[i].state == TCP_ESTABLISHED;
    assert_true(estab >= 3);
    free(v);
    for (int i = 0; i < 3; i++) {
        close(afd[i]);
        close(cfd[i]);
    }
    close(lfd);
}

/* The longest port list is accepted (the kernel takes its filter); one more is refused. */
static void test_many_ports(void **state)
{
    (void)state;
    union wk_ipaddr la;
    int lfd = listen_on("127.0.0.1", 4, false, &la);
    uint16_t ports[WK_SOCKINFO_MAX_PORTS + 1];
    for (size_t i = 0; i < WK_ARRAY_LEN(ports); i++)
        ports[i] = (uint16_t)(1 + i);
    ports[WK_SOCKINFO_MAX_PORTS - 1] = port_of(&la);
    char local[64];
    fmt2(local, sizeof local, "127.0.0.1:%u", port_of(&la));
    struct wk_sockinfo *v;
    ssize_t n = query(ports, WK_SOCKINFO_MAX_PORTS, 1000, &v);
    must_find(v, n, local, "0.0.0.0:0");
    free(v);

    char err[WK_ERR_LEN] = "";
    v = (struct wk_sockinfo *)&v;
    assert_int_equal(wk_sockinfo_query(ports, WK_SOCKINFO_MAX_PORTS + 1, 10, &v, err), -EINVAL);
    assert_null(v);
    assert_non_null(strstr(err, "ports"));
    close(lfd);
}

static void test_bad_input(void **state)
{
    (void)state;
    uint16_t port = 80;
    char err[WK_ERR_LEN] = "";
    struct wk_sockinfo *v = (struct wk_sockinfo *)&v;
    assert_int_equal(wk_sockinfo_query(&port, 0, 10, &v, err), -EINVAL);
    assert_null(v);
    assert_true(err[0] != '\0');

    err[0] = '\0';
    v = (struct wk_sockinfo *)&v;
    assert_int_equal(wk_sockinfo_query(NULL, 1, 10, &v, err), -EINVAL);
    assert_null(v);
    assert_true(err[0] != '\0');

    assert_int_equal(wk_sockinfo_query(&port, 1, 10, NULL, err), -EINVAL);
}

/*
 * Replies from a fake kernel. While fake.on, sendmsg() checks and records
 * the request instead of sending it, and each recvmsg() returns the next
 * struct batch queued with will_return(__wrap_recvmsg, &batch).
 */
#define BATCH_MAX 4096

struct batch {
    uint8_t data[BATCH_MAX];
    size_t len;
    size_t seq_at[16]; /* offsets of headers that get the request's sequence number */
    int nseq;
    int flags;    /* msg_flags to report, e.g. MSG_TRUNC */
    int error;    /* recvmsg fails with this errno instead */
    uint32_t pid; /* the sender's port id: 0 is the kernel */
};

static struct {
    bool on;
    uint32_t seq;
    int requests;
    int family[4];
    /* While spying, the kernel answers and each socket it sends is counted here. */
    bool spy;
    uint16_t spy_port;
    int spy_match, spy_other;
} fake;

/* Counts the sockets in what the kernel sent, by whether their local port is fake.spy_port. */
static void spy_on(const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (len - off >= NLMSG_HDRLEN) {
        struct nlmsghdr h;
        memcpy(&h, p + off, sizeof h);
        assert_true(h.nlmsg_len >= NLMSG_HDRLEN && h.nlmsg_len <= len - off);
        if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
            struct inet_diag_msg m;
            assert_true(h.nlmsg_len >= NLMSG_LENGTH(sizeof m));
            memcpy(&m, p + off + NLMSG_HDRLEN, sizeof m);
            if (ntohs(m.id.idiag_sport) == fake.spy_port)
                fake.spy_match++;
            else
                fake.spy_other++;
        }
        if (NLMSG_ALIGN(h.nlmsg_len) >= len - off)
            break;
        off += NLMSG_ALIGN(h.nlmsg_len);
    }
}

ssize_t __real_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __real_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *msg, int flags);

ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (!fake.on)
        return __real_sendmsg(fd, msg, flags);
    uint8_t req[BATCH_MAX];
    size_t len = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++) {
        assert_true(msg->msg_iov[i].iov_len <= sizeof req - len);
        memcpy(req + len, msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len);
        len += msg->msg_iov[i].iov_len;
    }
    struct nlmsghdr h;
    struct inet_diag_req_v2 r;
    struct rtattr a;
    assert_true(len >= NLMSG_LENGTH(sizeof r) + sizeof a);
    memcpy(&h, req, sizeof h);
    memcpy(&r, req + NLMSG_HDRLEN, sizeof r);
    memcpy(&a, req + NLMSG_LENGTH(sizeof r), sizeof a);
    assert_int_equal(h.nlmsg_len, len);
    assert_int_equal(h.nlmsg_type, SOCK_DIAG_BY_FAMILY);
    assert_int_equal(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
    assert_int_equal(r.sdiag_protocol, IPPROTO_TCP);
    assert_true(r.idiag_ext & (1u << (INET_DIAG_INFO - 1)));
    uint32_t want = 1u << TCP_ESTABLISHED | 1u << TCP_SYN_SENT | 1u << TCP_SYN_RECV |
                    1u << TCP_FIN_WAIT1 | 1u << TCP_FIN_WAIT2 | 1u << TCP_TIME_WAIT |
                    1u << TCP_CLOSE_WAIT | 1u << TCP_LAST_ACK | 1u << TCP_LISTEN |
                    1u << TCP_CLOSING;
    assert_int_equal(r.idiag_states & want, want);
    /* The port filter: one attribute filling the rest of the request. */
    assert_int_equal(a.rta_type, INET_DIAG_REQ_BYTECODE);
    assert_int_equal(NLMSG_LENGTH(sizeof r) + RTA_ALIGN(a.rta_len), len);
    assert_true(fake.requests < (int)WK_ARRAY_LEN(fake.family));
    fake.seq = h.nlmsg_seq;
    fake.family[fake.requests++] = r.sdiag_family;
    return (ssize_t)len;
}

ssize_t __wrap_recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (fake.spy) {
        ssize_t n = __real_recvmsg(fd, msg, flags);
        if (n > 0)
            spy_on(msg->msg_iov[0].iov_base, (size_t)n);
        return n;
    }
    if (!fake.on)
        return __real_recvmsg(fd, msg, flags);
    const struct batch *b = mock_ptr_type(const struct batch *);
    if (b->error != 0) {
        errno = b->error;
        return -1;
    }
    assert_int_equal(msg->msg_iovlen, 1);
    assert_true(b->len <= msg->msg_iov[0].iov_len);
    uint8_t *dst = msg->msg_iov[0].iov_base;
    memcpy(dst, b->data, b->len);
    for (int i = 0; i < b->nseq; i++)
        memcpy(dst + b->seq_at[i] + offsetof(struct nlmsghdr, nlmsg_seq), &fake.seq,
               sizeof fake.seq);
    struct sockaddr_nl from = {.nl_family = AF_NETLINK, .nl_pid = b->pid};
    assert_true(msg->msg_name != NULL && msg->msg_namelen >= sizeof from);
    memcpy(msg->msg_name, &from, sizeof from);
    msg->msg_namelen = sizeof from;
    msg->msg_flags = b->flags;
    return (ssize_t)b->len;
}

static int fake_setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof fake);
    fake.on = true;
    return 0;
}

static int fake_teardown(void **state)
{
    (void)state;
    fake.on = false;
    return 0;
}

/* Appends raw bytes to b. */
static void put(struct batch *b, const void *p, size_t len)
{
    assert_true(len <= sizeof b->data - b->len);
    if (len == 0)
        return;
    memcpy(b->data + b->len, p, len);
    b->len += len;
}

/* Appends a message; nlmsg_len is set from len unless bad_len is nonzero. */
static void put_msg_len(struct batch *b, uint16_t type, const void *payload, size_t len,
                        uint32_t bad_len)
{
    struct nlmsghdr h = {
        .nlmsg_len = bad_len ? bad_len : (uint32_t)NLMSG_LENGTH(len),
        .nlmsg_type = type,
        .nlmsg_flags = NLM_F_MULTI,
    };
    static const uint8_t pad[NLMSG_ALIGNTO];
    assert_true(b->nseq < (int)WK_ARRAY_LEN(b->seq_at));
    b->seq_at[b->nseq++] = b->len;
    put(b, &h, sizeof h);
    put(b, payload, len);
    put(b, pad, NLMSG_ALIGN(len) - len);
}

static void put_msg(struct batch *b, uint16_t type, const void *payload, size_t len)
{
    put_msg_len(b, type, payload, len, 0);
}

static void put_done(struct batch *b, int code)
{
    put_msg(b, NLMSG_DONE, &code, sizeof code);
}

static void put_error(struct batch *b, int code)
{
    struct nlmsgerr e = {.error = code};
    put_msg(b, NLMSG_ERROR, &e, sizeof e);
}

/* Appends an attribute to an attribute list being built in buf (used bytes in *len). */
static void put_attr(uint8_t *buf, size_t cap, size_t *len, uint16_t type, const void *p,
                     size_t plen)
{
    struct rtattr a = {.rta_len = (unsigned short)RTA_LENGTH(plen), .rta_type = type};
    assert_true(RTA_SPACE(plen) <= cap - *len);
    memset(buf + *len, 0, RTA_SPACE(plen));
    memcpy(buf + *len, &a, sizeof a);
    memcpy(buf + *len + RTA_LENGTH(0), p, plen);
    *len += RTA_SPACE(plen);
}

struct fake_sock {
    int family;
    const char *src, *dst;
    uint16_t sport, dport;
    uint8_t state;
    uint32_t ifindex;
    const uint8_t *attrs;
    size_t attrs_len;
};

/* Appends a SOCK_DIAG_BY_FAMILY message describing s, attributes and all. */
static void put_sock(struct batch *b, const struct fake_sock *s)
{
    struct inet_diag_msg m;
    memset(&m, 0, sizeof m);
    m.idiag_family = (uint8_t)s->family;
    m.idiag_state = s->state;
    m.id.idiag_sport = htons(s->sport);
    m.id.idiag_dport = htons(s->dport);
    m.id.idiag_if = s->ifindex;
    assert_int_equal(inet_pton(s->family, s->src, m.id.idiag_src), 1);
    assert_int_equal(inet_pton(s->family, s->dst, m.id.idiag_dst), 1);
    m.idiag_rqueue = 5;
    m.idiag_wqueue = 6;
    m.idiag_uid = 1000;
    m.idiag_inode = 4242;
    uint8_t msg[BATCH_MAX];
    assert_true(s->attrs_len <= sizeof msg - sizeof m);
    memcpy(msg, &m, sizeof m);
    if (s->attrs_len)
        memcpy(msg + sizeof m, s->attrs, s->attrs_len);
    put_msg(b, SOCK_DIAG_BY_FAMILY, msg, sizeof m + s->attrs_len);
}

/*
 * A struct tcp_info as a newer kernel sends it: longer than glibc's, with
 * bytes_acked and bytes_received at the offsets the kernel's ABI fixes.
 */
#define KERNEL_TCP_INFO_LEN 232
#define OFF_BYTES_ACKED     120
#define OFF_BYTES_RECEIVED  128
#define OLD_KERNEL_INFO_LEN 104

static void make_tcp_info(uint8_t *info)
{
    struct tcp_info ti;
    memset(&ti, 0, sizeof ti);
    ti.tcpi_state = TCP_ESTABLISHED;
    ti.tcpi_rtt = 1234;
    ti.tcpi_rttvar = 56;
    ti.tcpi_snd_cwnd = 10;
    ti.tcpi_retrans = 1;
    ti.tcpi_total_retrans = 3;
    assert_int_equal(sizeof ti, OLD_KERNEL_INFO_LEN);
    memset(info, 0xee, KERNEL_TCP_INFO_LEN);
    memcpy(info, &ti, sizeof ti);
    uint64_t acked = 10000000000ull, received = 7;
    memcpy(info + OFF_BYTES_ACKED, &acked, sizeof acked);
    memcpy(info + OFF_BYTES_RECEIVED, &received, sizeof received);
}

static ssize_t fake_query(uint16_t port, size_t max, struct wk_sockinfo **out, char *err)
{
    return wk_sockinfo_query(&port, 1, max, out, err);
}

/* Every field is read, in the right byte order, from IPv4 and IPv6 dumps. */
static void test_fake_fields(void **state)
{
    (void)state;
    uint8_t info[KERNEL_TCP_INFO_LEN], attrs[512], attrs6[512];
    size_t alen = 0, alen6 = 0;
    make_tcp_info(info);
    uint8_t odd = 7;
    put_attr(attrs, sizeof attrs, &alen, 200, &odd, 1); /* an attribute nobody knows */
    put_attr(attrs, sizeof attrs, &alen, INET_DIAG_INFO, info, sizeof info);
    uint8_t zero = 0;
    put_attr(attrs6, sizeof attrs6, &alen6, INET_DIAG_SKV6ONLY, &zero, 1);
    put_attr(attrs6, sizeof attrs6, &alen6, INET_DIAG_INFO, info, OLD_KERNEL_INFO_LEN);

    static struct batch v4, v4done, v6;
    memset(&v4, 0, sizeof v4);
    memset(&v4done, 0, sizeof v4done);
    memset(&v6, 0, sizeof v6);
    struct fake_sock est = {AF_INET,         "10.1.2.3", "192.0.2.7", 8080, 40000,
                            TCP_ESTABLISHED, 0,          attrs,       alen};
    struct fake_sock other = {AF_INET, "10.1.2.3", "0.0.0.0", 9999, 0, TCP_LISTEN, 0, NULL, 0};
    put_sock(&v4, &est);
    put_sock(&v4, &other); /* a port not asked for, as if the kernel ignored the filter */
    put_msg(&v4, NLMSG_NOOP, NULL, 0);
    put_done(&v4done, 0);
    struct fake_sock tw = {AF_INET6, "fe80::1", "fe80::2", 8080, 5555, TCP_TIME_WAIT, 3, NULL, 0};
    struct fake_sock lis = {AF_INET6, "::", "::", 8080, 0, TCP_LISTEN, 0, attrs6, alen6};
    put_sock(&v6, &tw);
    put_sock(&v6, &lis);
    put_done(&v6, 0);
    will_return(__wrap_recvmsg, &v4);
    will_return(__wrap_recvmsg, &v4done);
    will_return(__wrap_recvmsg, &v6);

    struct wk_sockinfo *v;
    char err[WK_ERR_LEN] = "";
    ssize_t n = fake_query(8080, 100, &v, err);
    assert_int_equal(n, 3);
    assert_int_equal(fake.requests, 2);
    assert_int_equal(fake.family[0], AF_INET);
    assert_int_equal(fake.family[1], AF_INET6);

    assert_string_equal(text(&v[0].local).s, "10.1.2.3:8080");
    assert_string_equal(text(&v[0].peer).s, "192.0.2.7:40000");
    assert_int_equal(v[0].state, TCP_ESTABLISHED);
    assert_int_equal(v[0].rqueue, 5);
    assert_int_equal(v[0].wqueue, 6);
    assert_int_equal(v[0].uid, 1000);
    assert_int_equal(v[0].inode, 4242);
    assert_false(v[0].v6only);
    assert_true(v[0].has_tcp);
    assert_int_equal(v[0].rtt_us, 1234);
    assert_int_equal(v[0].rttvar_us, 56);
    assert_int_equal(v[0].snd_cwnd, 10);
    assert_int_equal(v[0].retrans, 1);
    assert_int_equal(v[0].total_retrans, 3);
    assert_int_equal(v[0].bytes_acked, 10000000000ull);
    assert_int_equal(v[0].bytes_received, 7);

    /* Link-local: the interface index becomes the scope id, printed as its name (or number). */
    char ifname[IF_NAMESIZE] = "3", want[64];
    if_indextoname(3, ifname);
    snprintf(want, sizeof want, "[fe80::1%%%s]:8080", ifname);
    assert_string_equal(text(&v[1].local).s, want);
    snprintf(want, sizeof want, "[fe80::2%%%s]:5555", ifname);
    assert_string_equal(text(&v[1].peer).s, want);
    assert_int_equal(v[1].local.in6.sin6_scope_id, 3);
    assert_int_equal(v[1].peer.in6.sin6_scope_id, 3);
    assert_int_equal(v[1].state, TCP_TIME_WAIT);
    assert_false(v[1].has_tcp);

    /* An older kernel's shorter tcp_info: what it lacks stays 0. */
    assert_string_equal(text(&v[2].local).s, "[::]:8080");
    assert_string_equal(text(&v[2].peer).s, "[::]:0");
    assert_int_equal(v[2].local.in6.sin6_scope_id, 0);
    assert_false(v[2].v6only);
    assert_true(v[2].has_tcp);
    assert_int_equal(v[2].rtt_us, 1234);
    assert_int_equal(v[2].bytes_acked, 0);
    assert_int_equal(v[2].bytes_received, 0);
    free(v);
}

/* Broken attributes are dropped; the socket is still reported, without tcp_info. */
static void test_fake_bad_attrs(void **state)
{
    (void)state;
    static struct batch b6, b;
    memset(&b, 0, sizeof b);
    memset(&b6, 0, sizeof b6);
    uint8_t info[KERNEL_TCP_INFO_LEN];
    make_tcp_info(info);

    uint8_t a1[64], a2[64], a3[64];
    size_t l1 = 0, l2 = 0, l3 = 0;
    /* rta_len smaller than the attribute header */
    struct rtattr tiny = {.rta_len = 2, .rta_type = INET_DIAG_INFO};
    memcpy(a1, &tiny, sizeof tiny);
    l1 = sizeof tiny;
    /* rta_len past the end of the message */
    struct rtattr big = {.rta_len = 60000, .rta_type = INET_DIAG_INFO};
    memcpy(a2, &big, sizeof big);
    memcpy(a2 + sizeof big, info, 40);
    l2 = sizeof big + 40;
    /* a tcp_info too short to hold even the oldest kernel's fields */
    put_attr(a3, sizeof a3, &l3, INET_DIAG_INFO, info, 20);

    const uint8_t *attrs[] = {a1, a2, a3};
    size_t lens[] = {l1, l2, l3};
    for (int i = 0; i < 3; i++) {
        struct fake_sock s = {
            AF_INET,         "127.0.0.1", "127.0.0.1", 8080,   (uint16_t)(1000 + i),
            TCP_ESTABLISHED, 0,           attrs[i],    lens[i]};
        put_sock(&b, &s);
    }
    /* Fewer bytes than a header after the last message: ignored. */
    put(&b, "\0\0\0\0\0\0\0", 7);
    put_done(&b6, 0);
    will_return(__wrap_recvmsg, &b);
    will_return(__wrap_recvmsg, &b6); /* more of the IPv4 dump: its end */
    will_return(__wrap_recvmsg, &b6); /* the IPv6 dump */

    struct wk_sockinfo *v;
    char err[WK_ERR_LEN] = "";
    assert_int_equal(fake_query(8080, 100, &v, err), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wk_addr_port(&v[i].peer.sa), 1000 + i);
        assert_int_equal(v[i].state, TCP_ESTABLISHED);
        assert_int_equal(v[i].inode, 4242);
        assert_false(v[i].has_tcp);
        assert_int_equal(v[i].rtt_us, 0);
    }
    free(v);
}

/* Each broken reply fails the query with its error, no result, and a message. */
static void expect_failure(const struct batch *b, int want)
{
    struct wk_sockinfo *v = (struct wk_sockinfo *)&v;
    char err[WK_ERR_LEN] = "";
    memset(&fake, 0, sizeof fake);
    fake.on = true;
    will_return(__wrap_recvmsg, b);
    ssize_t n = fake_query(8080, 100, &v, err);
    if (n != want)
        fail_msg("got %zd, want %d (%s)", n, want, err);
    assert_null(v);
    assert_non_null(strstr(err, "IPv4"));
}

static void test_fake_bad_replies(void **state)
{
    (void)state;
    static struct batch b;
    struct fake_sock s = {AF_INET, "127.0.0.1", "127.0.0.1", 8080, 1, TCP_ESTABLISHED, 0, NULL, 0};
    struct inet_diag_msg m;
    memset(&m, 0, sizeof m);

    /* nlmsg_len past what arrived */
    memset(&b, 0, sizeof b);
    put_msg_len(&b, SOCK_DIAG_BY_FAMILY, &m, sizeof m, NLMSG_LENGTH(sizeof m) + 4);
    expect_failure(&b, -EPROTO);

    /* nlmsg_len shorter than its own header */
    memset(&b, 0, sizeof b);
    put_msg_len(&b, SOCK_DIAG_BY_FAMILY, &m, sizeof m, 8);
    expect_failure(&b, -EPROTO);

    /* an enormous nlmsg_len */
    memset(&b, 0, sizeof b);
    put_msg_len(&b, SOCK_DIAG_BY_FAMILY, &m, sizeof m, 0xfffffffe);
    expect_failure(&b, -EPROTO);

    /* a socket message too short for struct inet_diag_msg */
    memset(&b, 0, sizeof b);
    put_msg(&b, SOCK_DIAG_BY_FAMILY, &m, sizeof m - 4);
    expect_failure(&b, -EPROTO);

    /* the kernel's answer did not fit: never parse half a message */
    memset(&b, 0, sizeof b);
    put_sock(&b, &s);
    b.flags = MSG_TRUNC;
    expect_failure(&b, -EMSGSIZE);

    /* an error instead of a dump */
    memset(&b, 0, sizeof b);
    put_error(&b, -EPERM);
    expect_failure(&b, -EPERM);

    /* an error message too short to hold its code */
    memset(&b, 0, sizeof b);
    put_msg(&b, NLMSG_ERROR, "\0\0", 2);
    expect_failure(&b, -EPROTO);

    /* the dump's end carrying the dump's own error, after a good socket */
    memset(&b, 0, sizeof b);
    put_sock(&b, &s);
    put_done(&b, -EBUSY);
    expect_failure(&b, -EBUSY);

    /* nothing from the kernel before the receive timeout */
    memset(&b, 0, sizeof b);
    b.error = EAGAIN;
    expect_failure(&b, -ETIMEDOUT);

    memset(&b, 0, sizeof b);
    b.error = ENOBUFS;
    expect_failure(&b, -ENOBUFS);
}

/* Messages from anyone but the kernel, or for another request, are ignored. */
static void test_fake_strangers(void **state)
{
    (void)state;
    static struct batch stranger, other_seq, done;
    struct fake_sock s = {AF_INET, "127.0.0.1", "127.0.0.1", 8080, 1, TCP_ESTABLISHED, 0, NULL, 0};
    memset(&stranger, 0, sizeof stranger);
    memset(&other_seq, 0, sizeof other_seq);
    memset(&done, 0, sizeof done);
    put_sock(&stranger, &s);
    put_done(&stranger, 0);
    stranger.pid = 4321;
    put_sock(&other_seq, &s);
    put_error(&other_seq, -EPERM);
    other_seq.nseq = 0; /* keeps sequence number 0, which no request uses */
    put_done(&done, 0);
    will_return(__wrap_recvmsg, &stranger);
    will_return(__wrap_recvmsg, &other_seq);
    will_return(__wrap_recvmsg, &done);
    will_return(__wrap_recvmsg, &done);

    struct wk_sockinfo *v = (struct wk_sockinfo *)&v;
    char err[WK_ERR_LEN] = "";
    assert_int_equal(fake_query(8080, 100, &v, err), 0);
    assert_null(v);
    assert_int_equal(fake.requests, 2);
}

/* A kernel without IPv6 refuses that family: the IPv4 sockets are still the answer. */
static void test_fake_no_ipv6(void **state)
{
    (void)state;
    static struct batch v4, v6;
    struct fake_sock s = {AF_INET, "127.0.0.1", "127.0.0.1", 8080, 1, TCP_ESTABLISHED, 0, NULL, 0};
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    put_sock(&v4, &s);
    put_done(&v4, 0);
    put_error(&v6, -ENOENT);
    will_return(__wrap_recvmsg, &v4);
    will_return(__wrap_recvmsg, &v6);
    struct wk_sockinfo *v;
    char err[WK_ERR_LEN] = "";
    assert_int_equal(fake_query(8080, 100, &v, err), 1);
    assert_int_equal(v[0].state, TCP_ESTABLISHED);
    free(v);
}

/* Reading stops at max: the rest of the dump and the IPv6 dump are never asked for. */
static void test_fake_stops_at_max(void **state)
{
    (void)state;
    static struct batch b;
    memset(&b, 0, sizeof b);
    for (int i = 0; i < 5; i++) {
        struct fake_sock s = {AF_INET,         "127.0.0.1", "127.0.0.1", 8080, (uint16_t)(100 + i),
                              TCP_ESTABLISHED, 0,           NULL,        0};
        put_sock(&b, &s);
    }
    will_return(__wrap_recvmsg, &b);
    struct wk_sockinfo *v;
    char err[WK_ERR_LEN] = "";
    assert_int_equal(fake_query(8080, 2, &v, err), 2);
    assert_int_equal(fake.requests, 1);
    assert_int_equal(wk_addr_port(&v[1].peer.sa), 101);
    free(v);
}

/*
 * The kernel itself filters by port: of everything it sends, nothing has
 * another local port, though this host has other sockets (at least one).
 */
static void test_kernel_filters(void **state)
{
    (void)state;
    union wk_ipaddr a, b;
    int fa = listen_on("127.0.0.1", 4, false, &a);
    int fb = listen_on("127.0.0.1", 4, false, &b);
    uint16_t ports[] = {port_of(&a)};
    memset(&fake, 0, sizeof fake);
    fake.spy = true;
    fake.spy_port = ports[0];
    struct wk_sockinfo *v;
    ssize_t n = query(ports, 1, 64, &v);
    fake.spy = false;
    assert_true(n >= 1);
    assert_int_equal(fake.spy_match, n);
    assert_int_equal(fake.spy_other, 0);
    free(v);
    close(fb);
    close(fa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_listen_v4),
        cmocka_unit_test(test_established_v4),
        cmocka_unit_test(test_port_filter),
        cmocka_unit_test(test_kernel_filters),
        cmocka_unit_test(test_ipv6_loopback),
        cmocka_unit_test(test_dual_stack_v4_client),
        cmocka_unit_test(test_time_wait),
        cmocka_unit_test(test_tcp_info),
        cmocka_unit_test(test_max_bounds),
        cmocka_unit_test(test_many_ports),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test_setup_teardown(test_fake_fields, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_bad_attrs, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_bad_replies, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_strangers, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_no_ipv6, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_stops_at_max, fake_setup, fake_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

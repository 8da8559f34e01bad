/*
 * test_smtp_clients.c: sessions per client address, shared by processes.
 * WK_WRAP: pthread_mutex_unlock pthread_mutex_consistent
 *
 * The wraps let a child die while it holds the table's lock (it exits from
 * inside the unlock) and count how often a process found the lock's owner
 * dead. Every child bounds its own life, and the parent waits for it at most
 * a few seconds before killing it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smtpd/clients.h"

#define SA(x) ((struct sockaddr *)&(x))

static bool die_in_unlock;        /* set in a child only */
static unsigned consistent_calls; /* EOWNERDEAD seen by this process */

int __real_pthread_mutex_unlock(pthread_mutex_t *m);
int __wrap_pthread_mutex_unlock(pthread_mutex_t *m);
int __real_pthread_mutex_consistent(pthread_mutex_t *m);
int __wrap_pthread_mutex_consistent(pthread_mutex_t *m);

int __wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
    if (die_in_unlock)
        _exit(0); /* with the lock held */
    return __real_pthread_mutex_unlock(m);
}

int __wrap_pthread_mutex_consistent(pthread_mutex_t *m)
{
    consistent_calls++;
    return __real_pthread_mutex_consistent(m);
}

static struct sockaddr_in6 v6(const char *text, unsigned port)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
    return a;
}

static struct sockaddr_in v4(const char *text, unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, text, &a.sin_addr), 1);
    return a;
}

static struct sockaddr_in ip4(uint32_t host)
{
    return (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(host)};
}

/* 2001:db8:N:N::1, n in the network half: a /64 of its own for each n */
static struct sockaddr_in6 ip6(uint32_t n)
{
    struct sockaddr_in6 a = v6("2001:db8::1", 0);
    uint32_t be = htonl(n);
    memcpy(&a.sin6_addr.s6_addr[4], &be, 4);
    return a;
}

/* ::ffff:a.b.c.d for host a.b.c.d */
static struct sockaddr_in6 mapped(uint32_t host)
{
    struct sockaddr_in6 a = v6("::ffff:0.0.0.0", 0);
    uint32_t be = htonl(host);
    memcpy(&a.sin6_addr.s6_addr[12], &be, 4);
    return a;
}

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits up to ms for pid to end, then kills it. Its wait status, or -1 if it had to be killed. */
static int reap(pid_t pid, long ms)
{
    int status = 0;
    for (long waited = 0;; waited++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        if (waited >= ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0); /* SIGKILL cannot be ignored: this returns */
            return -1;
        }
        sleep_ms(1);
    }
}

static bool read_byte(int fd, int ms, char *c)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1 && read(fd, c, 1) == 1;
}

static void write_byte(int fd, char c)
{
    if (write(fd, &c, 1) != 1)
        _exit(100);
}

/* Fresh addresses the table takes before it is full (leaves them again). */
static size_t room_left(struct smtp_clients *t)
{
    size_t n = 0;
    while (n < 2 * SMTP_CLIENTS_CAPACITY_MAX) {
        struct sockaddr_in a = ip4(0xc6120000u + (uint32_t)n); /* 198.18.0.0/15 */
        if (!smtp_clients_enter(t, SA(a), 1))
            break;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_in a = ip4(0xc6120000u + (uint32_t)i);
        smtp_clients_leave(t, SA(a));
    }
    return n;
}

static void test_limit_per_address(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(7);
    struct sockaddr_in a1 = v4("127.0.0.1", 1000), a2 = v4("127.0.0.1", 2000);
    struct sockaddr_in other = v4("127.0.0.2", 1000);
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&a1, 2));
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&a2, 2)); /* another port, same address */
    assert_false(smtp_clients_enter(t, (struct sockaddr *)&a1, 2));
    assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&a1), 2);
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&other, 2));
    smtp_clients_leave(t, (struct sockaddr *)&a1);
    assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&a2), 1);
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&a1, 2));
    smtp_clients_free(t);
}

static void test_mapped_counts_as_ipv4(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(3);
    struct sockaddr_in a = v4("192.0.2.7", 1);
    struct sockaddr_in6 m = v6("::ffff:192.0.2.7", 2), six = v6("2001:db8::7", 3);
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&a, 1));
    assert_false(smtp_clients_enter(t, (struct sockaddr *)&m, 1));
    assert_true(smtp_clients_enter(t, (struct sockaddr *)&six, 1));
    smtp_clients_leave(t, (struct sockaddr *)&m);
    assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&a), 0);
    assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&six), 1);
    smtp_clients_free(t);
}

/* An IPv6 client counts by its /64; link-local, loopback, mapped, NAT64, Teredo ones whole. */
static void test_ipv6_per_64(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(16);
    struct sockaddr_in6 a = v6("2001:db8:1:2::a", 1), b = v6("2001:db8:1:2:ffff:1:2:3", 2);
    struct sockaddr_in6 c = v6("2001:db8:1:3::a", 3);
    assert_true(smtp_clients_enter(t, SA(a), 2));
    assert_true(smtp_clients_enter(t, SA(b), 2)); /* another address of the same /64 */
    assert_false(smtp_clients_enter(t, SA(a), 2));
    assert_false(smtp_clients_enter(t, SA(b), 2));
    assert_int_equal(smtp_clients_count(t, SA(a)), 2);
    assert_true(smtp_clients_enter(t, SA(c), 2)); /* the next /64 */
    assert_int_equal(smtp_clients_count(t, SA(c)), 1);
    smtp_clients_leave(t, SA(b));
    assert_int_equal(smtp_clients_count(t, SA(a)), 1);
    struct sockaddr_in6 l1 = v6("fe80::1", 4), l2 = v6("fe80::2", 5), one = v6("::1", 6),
                        zero = v6("::2", 7);
    assert_true(smtp_clients_enter(t, SA(l1), 1));
    assert_true(smtp_clients_enter(t, SA(l2), 1)); /* two hosts on a LAN, not one /64 */
    assert_false(smtp_clients_enter(t, SA(l1), 1));
    assert_true(smtp_clients_enter(t, SA(one), 1));
    assert_true(smtp_clients_enter(t, SA(zero), 1));
    assert_false(smtp_clients_enter(t, SA(one), 1));
    struct sockaddr_in6 l1b = l1; /* the same link-local address on another interface */
    l1b.sin6_scope_id = 7;
    assert_true(smtp_clients_enter(t, SA(l1b), 1));
    assert_false(smtp_clients_enter(t, SA(l1b), 1));
    /* Many hosts behind one /64: each NAT64 or Teredo address counts alone. */
    const char *shared[][2] = {{"64:ff9b::c000:201", "64:ff9b::c000:202"},
                               {"64:ff9b:1::a00:1", "64:ff9b:1::a00:2"},
                               {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378::1"}};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        struct sockaddr_in6 x = v6(shared[i][0], 1), y = v6(shared[i][1], 2);
        assert_true(smtp_clients_enter(t, SA(x), 1));
        assert_true(smtp_clients_enter(t, SA(y), 1));
        assert_false(smtp_clients_enter(t, SA(x), 1));
    }
    smtp_clients_free(t);
}

static void test_many_addresses_and_zero_limit(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(5);
    for (unsigned i = 0; i < 1000; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
        assert_true(smtp_clients_enter(t, (struct sockaddr *)&a, 1));
    }
    for (unsigned i = 0; i < 1000; i += 2) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
        smtp_clients_leave(t, (struct sockaddr *)&a);
        assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&a), 0);
    }
    struct sockaddr_in odd = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001u)};
    assert_int_equal(smtp_clients_count(t, (struct sockaddr *)&odd), 1);
    struct sockaddr_in fresh = v4("198.51.100.1", 1);
    assert_false(smtp_clients_enter(t, (struct sockaddr *)&fresh, 0));
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_true(smtp_clients_enter(t, &un, 0)); /* local sockets are not limited */
    smtp_clients_free(t); /* frees the 500 entries left: the sanitizer build checks */
}

static void test_mapped_equals_ipv4_all_ways(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(0);
    struct sockaddr_in a = ip4(0xc0000263u); /* 192.0.2.99 */
    struct sockaddr_in6 m = mapped(0xc0000263u), other = v6("::c000:263", 0);
    assert_true(smtp_clients_enter(t, SA(m), 2));
    assert_true(smtp_clients_enter(t, SA(a), 2));
    assert_false(smtp_clients_enter(t, SA(m), 2));
    assert_false(smtp_clients_enter(t, SA(a), 2));
    assert_int_equal(smtp_clients_count(t, SA(a)), 2);
    assert_int_equal(smtp_clients_count(t, SA(m)), 2);
    assert_int_equal(smtp_clients_count(t, SA(other)), 0); /* same last 32 bits, not mapped */
    smtp_clients_leave(t, SA(a));
    smtp_clients_leave(t, SA(a));
    assert_int_equal(smtp_clients_count(t, SA(m)), 0);
    smtp_clients_leave(t, SA(m)); /* nothing left: no underflow */
    assert_int_equal(smtp_clients_count(t, SA(a)), 0);
    assert_int_equal(room_left(t), SMTP_CLIENTS_CAPACITY_MIN);
    smtp_clients_free(t);
}

static void test_capacity(void **state)
{
    (void)state;
    assert_null(smtp_clients_new(SMTP_CLIENTS_CAPACITY_MAX + (size_t)1));
    assert_null(smtp_clients_new(SIZE_MAX));
    smtp_clients_free(NULL);

    struct smtp_clients *t = smtp_clients_new(5); /* never less than the minimum */
    assert_non_null(t);
    assert_int_equal(room_left(t), SMTP_CLIENTS_CAPACITY_MIN);
    smtp_clients_free(t);

    enum { CAP = 2000 };
    t = smtp_clients_new(CAP);
    for (uint32_t i = 0; i < CAP; i++) {
        struct sockaddr_in6 a = ip6(i);
        assert_true(smtp_clients_enter(t, SA(a), 3));
    }
    struct sockaddr_in6 extra = ip6(CAP), first = ip6(0);
    assert_false(smtp_clients_enter(t, SA(extra), 3)); /* full: a new address is refused */
    assert_int_equal(smtp_clients_count(t, SA(extra)), 0);
    assert_true(smtp_clients_enter(t, SA(first), 3)); /* a known one still counts */
    smtp_clients_leave(t, SA(first));
    assert_false(smtp_clients_enter(t, SA(extra), 3));
    smtp_clients_leave(t, SA(first)); /* its last session: the slot is free again */
    assert_true(smtp_clients_enter(t, SA(extra), 3));
    assert_false(smtp_clients_enter(t, SA(first), 3));
    for (uint32_t i = 1; i <= CAP; i++) {
        struct sockaddr_in6 a = ip6(i);
        smtp_clients_leave(t, SA(a));
        assert_int_equal(smtp_clients_count(t, SA(a)), 0);
    }
    assert_int_equal(room_left(t), CAP);
    smtp_clients_free(t);
}

static void test_workers_in_one_process(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(0);
    struct sockaddr_in a = v4("203.0.113.5", 1), b = v4("203.0.113.6", 1);
    assert_int_equal(smtp_clients_set_worker(t, SMTP_CLIENTS_WORKERS_MAX), -EINVAL);
    assert_int_equal(smtp_clients_set_worker(t, 1), 0);
    assert_true(smtp_clients_enter(t, SA(a), 3));
    assert_true(smtp_clients_enter(t, SA(a), 3));
    assert_true(smtp_clients_enter(t, SA(b), 3));
    assert_int_equal(smtp_clients_set_worker(t, SMTP_CLIENTS_WORKERS_MAX - 1), 0);
    assert_true(smtp_clients_enter(t, SA(a), 3));
    assert_false(smtp_clients_enter(t, SA(a), 3)); /* the limit is over all workers */
    smtp_clients_leave(t, SA(b)); /* worker 63 holds none from b: nothing happens */
    assert_int_equal(smtp_clients_count(t, SA(b)), 1);
    assert_int_equal(smtp_clients_drop_worker(t, SMTP_CLIENTS_WORKERS_MAX), 0);
    assert_int_equal(smtp_clients_drop_worker(t, 5), 0);
    assert_int_equal(smtp_clients_drop_worker(t, 1), 3);
    assert_int_equal(smtp_clients_count(t, SA(a)), 1);
    assert_int_equal(smtp_clients_count(t, SA(b)), 0);
    assert_int_equal(smtp_clients_drop_worker(t, 1), 0);
    smtp_clients_leave(t, SA(a));
    assert_int_equal(smtp_clients_count(t, SA(a)), 0);
    assert_int_equal(room_left(t), SMTP_CLIENTS_CAPACITY_MIN);

    /* One worker's sessions from one address are bounded; another worker may add more. */
    assert_int_equal(smtp_clients_set_worker(t, 0), 0);
    for (unsigned i = 0; i < SMTP_CLIENTS_WORKER_SESSIONS_MAX; i++)
        assert_true(smtp_clients_enter(t, SA(a), 1000000));
    assert_false(smtp_clients_enter(t, SA(a), 1000000));
    assert_int_equal(smtp_clients_set_worker(t, 2), 0);
    assert_true(smtp_clients_enter(t, SA(a), 1000000));
    assert_int_equal(smtp_clients_count(t, SA(a)), SMTP_CLIENTS_WORKER_SESSIONS_MAX + 1);
    assert_int_equal(smtp_clients_drop_worker(t, 0), SMTP_CLIENTS_WORKER_SESSIONS_MAX);
    assert_int_equal(smtp_clients_count(t, SA(a)), 1);
    smtp_clients_free(t);
}

/* The child of test_fork_shares_counts: worker 1. */
static int share_child(struct smtp_clients *t, int to_parent, int from_parent)
{
    struct sockaddr_in a = v4("192.0.2.1", 1), b = v4("192.0.2.2", 1);
    char c;
    int rc = 0;
    if (smtp_clients_set_worker(t, 1) != 0)
        rc = 1;
    else if (!smtp_clients_enter(t, SA(a), 3)) /* the parent holds 2 of 3 */
        rc = 2;
    else if (smtp_clients_enter(t, SA(a), 3))
        rc = 3;
    else if (smtp_clients_count(t, SA(a)) != 3)
        rc = 4;
    else if (!smtp_clients_enter(t, SA(b), 3))
        rc = 5;
    write_byte(to_parent, rc == 0 ? 'k' : 'x');
    if (!read_byte(from_parent, 5000, &c))
        rc = 6;
    smtp_clients_leave(t, SA(b));
    smtp_clients_free(t);
    return rc; /* exits still counting one session from a */
}

static void test_fork_shares_counts(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(0);
    struct sockaddr_in a = v4("192.0.2.1", 7), b = v4("192.0.2.2", 7);
    int up[2], down[2];
    char c = 0;
    assert_true(smtp_clients_enter(t, SA(a), 3));
    assert_true(smtp_clients_enter(t, SA(a), 3));
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(share_child(t, up[1], down[0]));
    bool got = read_byte(up[0], 5000, &c);
    size_t count_a = smtp_clients_count(t, SA(a)), count_b = smtp_clients_count(t, SA(b));
    bool refused = !smtp_clients_enter(t, SA(a), 3);
    write_byte(down[1], 'g');
    int status = reap(pid, 5000);
    assert_true(got);
    assert_int_equal(c, 'k');
    assert_int_equal(count_a, 3); /* the child's session is seen here */
    assert_int_equal(count_b, 1);
    assert_true(refused); /* and the limit is shared */
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(smtp_clients_count(t, SA(b)), 0); /* it left b */
    assert_int_equal(smtp_clients_count(t, SA(a)), 3); /* but died holding a */
    assert_int_equal(smtp_clients_drop_worker(t, 1), 1);
    assert_int_equal(smtp_clients_count(t, SA(a)), 2);
    assert_true(smtp_clients_enter(t, SA(a), 3));
    for (int i = 0; i < 3; i++)
        smtp_clients_leave(t, SA(a));
    assert_int_equal(smtp_clients_count(t, SA(a)), 0);
    assert_int_equal(room_left(t), SMTP_CLIENTS_CAPACITY_MIN);
    for (int i = 0; i < 2; i++) {
        close(up[i]);
        close(down[i]);
    }
    smtp_clients_free(t);
}

static void test_owner_dies_holding_lock(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(0);
    struct sockaddr_in a = v4("198.51.100.9", 1), mine = v4("198.51.100.10", 1);
    assert_true(smtp_clients_enter(t, SA(mine), 5));
    consistent_calls = 0;
    for (unsigned round = 1; round <= 3; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            smtp_clients_set_worker(t, 2);
            die_in_unlock = true;
            smtp_clients_enter(t, SA(a), 10);
            _exit(1); /* not reached: the unlock exits with 0 */
        }
        int status = reap(pid, 5000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        /* The lock's owner is dead: this takes it all the same. */
        assert_int_equal(smtp_clients_count(t, SA(a)), round);
        assert_int_equal(consistent_calls, round);
        assert_true(smtp_clients_enter(t, SA(mine), 5));
        smtp_clients_leave(t, SA(mine));
    }
    assert_int_equal(smtp_clients_drop_worker(t, 2), 3);
    assert_int_equal(smtp_clients_count(t, SA(a)), 0);
    assert_int_equal(smtp_clients_count(t, SA(mine)), 1);
    assert_int_equal(consistent_calls, 3);
    smtp_clients_free(t);
}

enum { PARENT_ADDRS = 100, CHILD_ADDRS = 800, KILLS_IN_LOCK = 100, KILL_ROUNDS_MAX = 3000 };

/* A worker entering and leaving as fast as it can, until killed (or after a bounded while). */
static void churn_child(struct smtp_clients *t, int ready, uint64_t seed)
{
    unsigned char held[CHILD_ADDRS] = {0};
    smtp_clients_set_worker(t, 1);
    for (unsigned long n = 0; n < 20000000ul; n++) {
        uint64_t r = next_random(&seed);
        unsigned i = (unsigned)(r % CHILD_ADDRS);
        struct sockaddr_in a = ip4(0x0a020000u + i);
        if (held[i] > 0 && (r >> 32 & 1)) {
            smtp_clients_leave(t, SA(a));
            held[i]--;
        } else if (held[i] < 200 && smtp_clients_enter(t, SA(a), 1000)) {
            held[i]++;
        }
        if (n == 1000)
            write_byte(ready, 'r');
    }
    _exit(0);
}

/* The parent's share of a round: random sessions of its own while the child churns. */
static bool parent_churn(struct smtp_clients *t, unsigned mine[PARENT_ADDRS], uint64_t *seed)
{
    bool refused = false;
    uint64_t n = next_random(seed) % 40000;
    unsigned ops = n < 10000 ? 0 : (unsigned)n - 10000; /* a quarter of the rounds: none */
    for (unsigned k = 0; k < ops; k++) {
        uint64_t r = next_random(seed);
        unsigned i = (unsigned)(r % PARENT_ADDRS);
        struct sockaddr_in a = ip4(0x0a010000u + i);
        if (mine[i] >= 50 || (mine[i] > 0 && (r >> 32 & 1))) {
            smtp_clients_leave(t, SA(a));
            mine[i]--;
        } else if (smtp_clients_enter(t, SA(a), 1000)) {
            mine[i]++;
        } else {
            refused = true;
        }
    }
    return !refused;
}

/* After the child's death and drop: only the parent's sessions remain, and all the room. */
static void check_after_kill(struct smtp_clients *t, const unsigned mine[PARENT_ADDRS])
{
    size_t live = 0;
    for (unsigned i = 0; i < PARENT_ADDRS; i++) {
        struct sockaddr_in a = ip4(0x0a010000u + i);
        assert_int_equal(smtp_clients_count(t, SA(a)), mine[i]);
        live += mine[i] > 0;
    }
    for (unsigned i = 0; i < CHILD_ADDRS; i++) {
        struct sockaddr_in a = ip4(0x0a020000u + i);
        assert_int_equal(smtp_clients_count(t, SA(a)), 0);
    }
    assert_int_equal(room_left(t), SMTP_CLIENTS_CAPACITY_MIN - live);
}

/*
 * Kills a churning worker at random moments, until enough kills have landed
 * while it held the lock (part way through a change, often), and checks
 * each time that the table is exact once the dead worker is dropped.
 */
static void test_killed_anywhere(void **state)
{
    (void)state;
    struct smtp_clients *t = smtp_clients_new(0);
    unsigned mine[PARENT_ADDRS] = {0}, round;
    uint64_t seed = 0x2545f4914f6cdd1dull;
    consistent_calls = 0;
    for (round = 0; round < KILL_ROUNDS_MAX && consistent_calls < KILLS_IN_LOCK; round++) {
        int ready[2];
        char c;
        assert_int_equal(pipe(ready), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            churn_child(t, ready[1], seed + round);
        bool started = read_byte(ready[0], 5000, &c), ok = true;
        if (round % 2 == 0) {
            ok = parent_churn(t, mine, &seed);
        } else {
            /* Lets the child run, even on one CPU, until a timer stops it anywhere. */
            struct timespec ts = {0, (long)(next_random(&seed) % 1000000)};
            nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        int status = reap(pid, 5000);
        close(ready[0]);
        close(ready[1]);
        assert_true(started);
        assert_true(ok);
        assert_true(WIFSIGNALED(status));
        smtp_clients_drop_worker(t, 1);
        check_after_kill(t, mine);
    }
    print_message("%u of %u kills found the lock held\n", consistent_calls, round);
    assert_int_equal(consistent_calls, KILLS_IN_LOCK);
    smtp_clients_free(t);
}

enum { MODEL_ADDRS = 1300, MODEL_V4 = 600, MODEL_WORKERS = 8, MODEL_STEPS = 100000 };

struct model {
    uint16_t per[MODEL_ADDRS][MODEL_WORKERS];
    unsigned total[MODEL_ADDRS];
    size_t live;
};

/* Address i of the model; the IPv4 ones are sometimes given in their mapped form. */
static struct sockaddr_in6 model_addr(unsigned i, uint64_t r)
{
    if (i >= MODEL_V4)
        return ip6(0x10000u + i);
    if (r & 1)
        return mapped(0x0a030000u + i);
    struct sockaddr_in6 storage = {0};
    struct sockaddr_in a = ip4(0x0a030000u + i);
    memcpy(&storage, &a, sizeof a);
    return storage;
}

static void model_drop(struct model *m, unsigned w, size_t *dropped)
{
    *dropped = 0;
    for (unsigned i = 0; i < MODEL_ADDRS; i++) {
        *dropped += m->per[i][w];
        m->total[i] -= m->per[i][w];
        m->per[i][w] = 0;
    }
    m->live = 0;
    for (unsigned i = 0; i < MODEL_ADDRS; i++)
        m->live += m->total[i] > 0;
}

static void test_random_against_model(void **state)
{
    (void)state;
    struct model *m = calloc(1, sizeof *m);
    struct smtp_clients *t = smtp_clients_new(1000);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    size_t refused_full = 0, refused_limit = 0;
    assert_non_null(m);
    for (unsigned step = 0; step < MODEL_STEPS; step++) {
        uint64_t r = next_random(&seed);
        unsigned op = (unsigned)(r % 1000), w = (unsigned)(r >> 8) % MODEL_WORKERS;
        unsigned i = (unsigned)(r >> 16) % MODEL_ADDRS, limit = 1 + (unsigned)(r >> 40) % 4;
        struct sockaddr_in6 a = model_addr(i, r >> 48);
        assert_int_equal(smtp_clients_set_worker(t, w), 0);
        if (op < 600) {
            bool room = m->total[i] > 0 || m->live < SMTP_CLIENTS_CAPACITY_MIN;
            bool want = m->total[i] < limit && room;
            refused_full += !room;
            refused_limit += room && !want;
            assert_int_equal(smtp_clients_enter(t, SA(a), limit), want);
            if (want) {
                m->live += m->total[i] == 0;
                m->per[i][w]++;
                m->total[i]++;
            }
        } else if (op < 950) {
            smtp_clients_leave(t, SA(a));
            if (m->per[i][w] > 0) {
                m->per[i][w]--;
                m->total[i]--;
                m->live -= m->total[i] == 0;
            }
        } else if (op < 999) {
            assert_int_equal(smtp_clients_count(t, SA(a)), m->total[i]);
        } else {
            size_t dropped;
            model_drop(m, w, &dropped);
            assert_int_equal(smtp_clients_drop_worker(t, w), dropped);
        }
    }
    for (unsigned i = 0; i < MODEL_ADDRS; i++) {
        struct sockaddr_in6 a = model_addr(i, i);
        assert_int_equal(smtp_clients_count(t, SA(a)), m->total[i]);
    }
    assert_int_equal(room_left(t), SMTP_CLIENTS_CAPACITY_MIN - m->live);
    for (unsigned w = 0; w < MODEL_WORKERS; w++) {
        size_t dropped;
        model_drop(m, w, &dropped);
        assert_int_equal(smtp_clients_drop_worker(t, w), dropped);
    }
    assert_int_equal(room_left(t), SMTP_CLIENTS_CAPACITY_MIN);
    print_message("refused: %zu full, %zu at the limit\n", refused_full, refused_limit);
    /* Both refusals must have happened, or the model checked less than it seems. */
    assert_true(refused_full > 0);
    assert_true(refused_limit > 0);
    smtp_clients_free(t);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_per_address),
        cmocka_unit_test(test_mapped_counts_as_ipv4),
        cmocka_unit_test(test_ipv6_per_64),
        cmocka_unit_test(test_many_addresses_and_zero_limit),
        cmocka_unit_test(test_mapped_equals_ipv4_all_ways),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_workers_in_one_process),
        cmocka_unit_test(test_fork_shares_counts),
        cmocka_unit_test(test_owner_dies_holding_lock),
        cmocka_unit_test(test_killed_anywhere),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

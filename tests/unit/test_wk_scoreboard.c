/*
 * test_wk_scoreboard.c: slots and counters shared by a server's processes
 * (common/scoreboard.c): shapes, claiming and releasing, the high-water
 * mark, the layout, what another process sees after a fork, torn copies
 * never seen under a writer changing a slot as fast as it can, and the
 * reset of a worker that died.
 *
 * Children never use cmocka's asserts: they report through their exit
 * status, bound their own life, and the parent waits for them at most a few
 * seconds before killing them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/scoreboard.h"

#define PATTERN_LEN 48

/* What a test stores in a slot: the head, then its own fields. */
struct entry {
    struct wk_scoreboard_slot_head head;
    uint32_t id;
    uint16_t listener;
    uint16_t pad;
    uint64_t bytes;                     /* updated outside write_begin/end */
    unsigned char pattern[PATTERN_LEN]; /* all bytes equal, changed inside write_begin/end */
};

/* What a test stores per (worker, listener). */
struct counters {
    uint64_t open, closed, bytes;
};

static struct wk_scoreboard_shape shape(unsigned workers, unsigned slots)
{
    return (struct wk_scoreboard_shape){.workers = workers,
                                        .listeners = 3,
                                        .slots = slots,
                                        .nproto = 5,
                                        .slot_size = sizeof(struct entry),
                                        .counters_size = sizeof(struct counters),
                                        .nglobal = 3};
}

static struct wk_scoreboard *make(unsigned workers, unsigned slots)
{
    struct wk_scoreboard_shape s = shape(workers, slots);
    struct wk_scoreboard *sb = NULL;
    assert_int_equal(wk_scoreboard_new(&s, &sb), 0);
    assert_non_null(sb);
    return sb;
}

/* Claims a slot of worker w, fills it and ends the write; NULL when the worker is full. */
static struct entry *add(struct wk_scoreboard *sb, unsigned w, uint32_t id, uint16_t listener)
{
    struct entry *e = wk_scoreboard_claim(sb, w);
    if (e == NULL)
        return NULL;
    e->id = id;
    e->listener = listener;
    memset(e->pattern, (int)(id & 0xff), sizeof e->pattern);
    wk_scoreboard_write_end(e);
    return e;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
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

/* Waits up to ms for one byte on fd: true if it came. */
static bool wait_byte(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;
    return poll(&p, 1, ms) == 1 && read(fd, &c, 1) == 1;
}

static void signal_byte(int fd)
{
    char c = 'x';
    if (write(fd, &c, 1) != 1)
        _exit(99);
}

/* Collects what wk_scoreboard_each() gives. */
struct seen {
    size_t n;
    uint32_t ids[64];
    uint16_t workers[64];
    bool torn;
};

static void collect(const void *slot, void *arg)
{
    const struct entry *e = slot;
    struct seen *s = arg;
    if (s->n < 64) {
        s->ids[s->n] = e->id;
        s->workers[s->n] = e->head.worker;
    }
    s->n++;
    for (size_t i = 1; i < PATTERN_LEN; i++) {
        if (e->pattern[i] != e->pattern[0])
            s->torn = true;
    }
    if (e->head.seq % 2 != 0 || !(e->head.flags & WK_SCOREBOARD_USED))
        s->torn = true;
}

static struct seen see(const struct wk_scoreboard *sb)
{
    struct seen s = {0};
    size_t given = wk_scoreboard_each(sb, collect, &s);
    assert_int_equal(given, s.n);
    assert_false(s.torn);
    return s;
}

/* True if id was seen, from worker w. */
static bool saw(const struct seen *s, uint32_t id, unsigned w)
{
    for (size_t i = 0; i < s->n && i < 64; i++) {
        if (s->ids[i] == id && s->workers[i] == w)
            return true;
    }
    return false;
}

static void test_shape_checked(void **state)
{
    (void)state;
    struct wk_scoreboard *sb = (struct wk_scoreboard *)&sb; /* not NULL: must be cleared */
    { /* no shape, or a part of it out of bounds: -EINVAL and *out NULL */
        assert_int_equal(wk_scoreboard_new(NULL, &sb), -EINVAL);
        assert_null(sb);
        struct wk_scoreboard_shape bad[] = {shape(0, 4), shape(WK_SCOREBOARD_MAX_WORKERS + 1, 4),
                                            shape(2, 0), shape(2, WK_SCOREBOARD_MAX_SLOTS + 1),
                                            shape(2, 4), shape(2, 4),
                                            shape(2, 4), shape(2, 4),
                                            shape(2, 4), shape(2, 4)};
        bad[4].slot_size = sizeof(struct wk_scoreboard_slot_head) - 1;
        bad[5].slot_size = WK_SCOREBOARD_MAX_SLOT_SIZE + 1;
        bad[6].listeners = WK_SCOREBOARD_MAX_LISTENERS + 1;
        bad[7].counters_size = WK_SCOREBOARD_MAX_COUNTERS_SIZE + 1;
        bad[8].nproto = WK_SCOREBOARD_MAX_PROTO + 1;
        bad[9].nglobal = WK_SCOREBOARD_MAX_GLOBAL + 1;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            sb = (struct wk_scoreboard *)&sb;
            assert_int_equal(wk_scoreboard_new(&bad[i], &sb), -EINVAL);
            assert_null(sb);
        }
    }
    { /* the bounds themselves are fine, and the shape is kept */
        struct wk_scoreboard_shape edge = {.workers = WK_SCOREBOARD_MAX_WORKERS,
                                           .listeners = WK_SCOREBOARD_MAX_LISTENERS,
                                           .slots = 1,
                                           .nproto = WK_SCOREBOARD_MAX_PROTO,
                                           .slot_size = WK_SCOREBOARD_MAX_SLOT_SIZE,
                                           .counters_size = WK_SCOREBOARD_MAX_COUNTERS_SIZE,
                                           .nglobal = WK_SCOREBOARD_MAX_GLOBAL};
        assert_int_equal(wk_scoreboard_new(&edge, &sb), 0);
        assert_int_equal(wk_scoreboard_workers(sb), WK_SCOREBOARD_MAX_WORKERS);
        assert_memory_equal(wk_scoreboard_shape_of(sb), &edge, sizeof edge);
        wk_scoreboard_free(sb);
        struct wk_scoreboard_shape least = {
            .workers = 1, .slots = 1, .slot_size = sizeof(struct wk_scoreboard_slot_head)};
        assert_int_equal(wk_scoreboard_new(&least, &sb), 0);
        void *slot = wk_scoreboard_claim(sb, 0);
        assert_non_null(slot);
        wk_scoreboard_write_end(slot);
        assert_null(wk_scoreboard_counters(sb, 0, 0)); /* no listeners, no counters */
        assert_null(wk_scoreboard_proto(sb, 0));
        assert_null(wk_scoreboard_global(sb)); /* nglobal 0 */
        assert_int_equal(wk_scoreboard_each(sb, collect, &(struct seen){0}), 1);
        wk_scoreboard_free(sb);
    }
    { /* the largest shape is reserved but not touched (64 * 2^20 slots of 1 KiB: 64 GiB) */
        struct wk_scoreboard_shape big = shape(WK_SCOREBOARD_MAX_WORKERS, WK_SCOREBOARD_MAX_SLOTS);
        big.slot_size = WK_SCOREBOARD_MAX_SLOT_SIZE;
        int rc = wk_scoreboard_new(&big, &sb);
        assert_true(rc == 0 || rc == -ENOMEM); /* a strict commit limit may refuse it */
        wk_scoreboard_free(sb);
    }
    wk_scoreboard_free(NULL);
}

static void test_claim_release_reuse(void **state)
{
    (void)state;
    struct wk_scoreboard *sb = make(2, 4);
    struct entry *e[4];
    { /* four distinct slots, then none: the worker is full, nothing changed */
        for (unsigned i = 0; i < 4; i++) {
            e[i] = add(sb, 0, i, 0);
            assert_non_null(e[i]);
            for (unsigned j = 0; j < i; j++)
                assert_ptr_not_equal(e[i], e[j]);
        }
        assert_null(wk_scoreboard_claim(sb, 0));
        assert_int_equal(see(sb).n, 4);
    }
    { /* the other worker's slots are its own; an unknown worker has none */
        struct entry *other = add(sb, 1, 100, 0);
        assert_non_null(other);
        for (unsigned i = 0; i < 4; i++)
            assert_ptr_not_equal(other, e[i]);
        assert_int_equal(other->head.worker, 1);
        assert_null(wk_scoreboard_claim(sb, 2));
        assert_null(wk_scoreboard_claim(sb, 1000));
    }
    { /* a released slot is the next one claimed; the most recently released first */
        wk_scoreboard_release(sb, e[2]);
        assert_ptr_equal(add(sb, 0, 12, 0), e[2]);
        wk_scoreboard_release(sb, e[1]);
        wk_scoreboard_release(sb, e[3]);
        assert_ptr_equal(add(sb, 0, 13, 0), e[3]);
        assert_ptr_equal(add(sb, 0, 11, 0), e[1]);
        assert_null(wk_scoreboard_claim(sb, 0));
    }
    { /* all released, all claimable again */
        for (unsigned i = 0; i < 4; i++)
            wk_scoreboard_release(sb, e[i]);
        assert_int_equal(see(sb).n, 1); /* worker 1's */
        for (unsigned i = 0; i < 4; i++)
            assert_non_null(add(sb, 0, 20 + i, 0));
        assert_null(wk_scoreboard_claim(sb, 0));
    }
    wk_scoreboard_free(sb);
}

static void test_claimed_slot_zeroed_and_open(void **state)
{
    (void)state;
    struct wk_scoreboard *sb = make(3, 2);
    struct entry *e = wk_scoreboard_claim(sb, 2);
    assert_non_null(e);
    { /* zeroed after the head, marked used, of its worker, open for writing */
        struct entry zero = {0};
        assert_memory_equal((char *)e + sizeof e->head, (char *)&zero + sizeof zero.head,
                            sizeof *e - sizeof e->head);
        assert_int_equal(e->head.worker, 2);
        assert_int_equal(e->head.flags, WK_SCOREBOARD_USED);
        assert_int_equal(e->head.seq % 2, 1);
    }
    { /* readers skip it until the write ends */
        assert_int_equal(see(sb).n, 0);
        e->id = 7;
        memset(e->pattern, 7, sizeof e->pattern);
        wk_scoreboard_write_end(e);
        assert_int_equal(e->head.seq % 2, 0);
        struct seen s = see(sb);
        assert_int_equal(s.n, 1);
        assert_true(saw(&s, 7, 2));
    }
    { /* a slot scribbled on, released and claimed again is zeroed again */
        e->bytes = 12345;
        wk_scoreboard_write_begin(e);
        memset(e->pattern, 0xee, sizeof e->pattern);
        e->listener = 2;
        wk_scoreboard_write_end(e);
        wk_scoreboard_release(sb, e);
        assert_int_equal(see(sb).n, 0);
        struct entry *again = wk_scoreboard_claim(sb, 2);
        assert_ptr_equal(again, e);
        struct entry zero = {0};
        assert_memory_equal((char *)e + sizeof e->head, (char *)&zero + sizeof zero.head,
                            sizeof *e - sizeof e->head);
        assert_int_equal(e->head.flags, WK_SCOREBOARD_USED);
        wk_scoreboard_write_end(e);
    }
    wk_scoreboard_free(sb);
}

static void test_high_water(void **state)
{
    (void)state;
    struct wk_scoreboard *sb = make(2, 8);
    struct entry *e[3];
    { /* nothing claimed yet: 0; unknown worker: 0 */
        assert_int_equal(wk_scoreboard_high_water(sb, 0), 0);
        assert_int_equal(wk_scoreboard_high_water(sb, 5), 0);
    }
    { /* it follows the most slots held at once, and never comes down */
        for (unsigned i = 0; i < 3; i++)
            e[i] = add(sb, 0, i, 0);
        assert_int_equal(wk_scoreboard_high_water(sb, 0), 3);
        for (unsigned i = 0; i < 3; i++)
            wk_scoreboard_release(sb, e[i]);
        assert_int_equal(wk_scoreboard_high_water(sb, 0), 3);
    }
    { /* claiming and releasing one at a time stays below it */
        for (unsigned round = 0; round < 100; round++) {
            struct entry *x = add(sb, 0, round, 0);
            struct entry *y = add(sb, 0, round, 1);
            wk_scoreboard_release(sb, x);
            wk_scoreboard_release(sb, y);
        }
        assert_int_equal(wk_scoreboard_high_water(sb, 0), 3);
        assert_int_equal(wk_scoreboard_high_water(sb, 1), 0);
    }
    { /* past it, it grows one slot at a time, up to the shape's slots */
        struct entry *all[8];
        for (unsigned i = 0; i < 8; i++) {
            all[i] = add(sb, 0, i, 0);
            assert_int_equal(wk_scoreboard_high_water(sb, 0), i < 3 ? 3 : i + 1);
        }
        assert_null(wk_scoreboard_claim(sb, 0));
        assert_int_equal(wk_scoreboard_high_water(sb, 0), 8);
        (void)all;
    }
    wk_scoreboard_free(sb);
}

/*
 * Every byte of every slot, counters block and protocol array of every
 * worker written with its own value: none overlaps another, and each
 * accessor points where it should (counters per worker and listener apart).
 */
static void test_layout_apart(void **state)
{
    (void)state;
    const unsigned workers = 4, slots = 5;
    struct wk_scoreboard *sb = make(workers, slots);
    struct entry *e[4][5];
    for (unsigned w = 0; w < workers; w++) {
        for (unsigned i = 0; i < slots; i++) {
            e[w][i] = wk_scoreboard_claim(sb, w);
            assert_non_null(e[w][i]);
            memset(e[w][i]->pattern, (int)(w * 16 + i), PATTERN_LEN);
            e[w][i]->id = w * 100 + i;
            e[w][i]->bytes = ~(uint64_t)0;
            wk_scoreboard_write_end(e[w][i]);
        }
        for (unsigned l = 0; l < 3; l++)
            memset(wk_scoreboard_counters(sb, w, l), (int)(0x80 + w * 4 + l),
                   sizeof(struct counters));
        uint64_t *p = wk_scoreboard_proto(sb, w);
        for (unsigned k = 0; k < 5; k++)
            wk_scoreboard_set(&p[k], 1000 * w + k);
    }
    uint64_t *g = wk_scoreboard_global(sb);
    assert_non_null(g);
    assert_ptr_equal(g, wk_scoreboard_global_of(sb));
    assert_int_equal((uintptr_t)g % 8, 0);
    for (unsigned k = 0; k < 3; k++) {
        assert_int_equal(wk_scoreboard_get(&g[k]), 0);
        wk_scoreboard_set(&g[k], ~(uint64_t)k);
    }
    struct seen s = see(sb);
    assert_int_equal(s.n, workers * slots);
    for (unsigned w = 0; w < workers; w++) {
        for (unsigned i = 0; i < slots; i++) {
            assert_true(saw(&s, w * 100 + i, w));
            assert_int_equal(e[w][i]->pattern[PATTERN_LEN - 1], w * 16 + i);
            assert_int_equal(e[w][i]->head.worker, w);
        }
        for (unsigned l = 0; l < 3; l++) {
            const unsigned char *c = wk_scoreboard_counters_of(sb, w, l);
            assert_ptr_equal(c, wk_scoreboard_counters(sb, w, l));
            for (size_t k = 0; k < sizeof(struct counters); k++)
                assert_int_equal(c[k], 0x80 + w * 4 + l);
        }
        const uint64_t *p = wk_scoreboard_proto_of(sb, w);
        for (unsigned k = 0; k < 5; k++)
            assert_int_equal(wk_scoreboard_get(&p[k]), 1000 * w + k);
    }
    for (unsigned k = 0; k < 3; k++) /* the server's values, written last, overwrote nothing */
        assert_int_equal(wk_scoreboard_get(&wk_scoreboard_global_of(sb)[k]), ~(uint64_t)k);
    { /* out of range: NULL */
        assert_null(wk_scoreboard_counters(sb, workers, 0));
        assert_null(wk_scoreboard_counters(sb, 0, 3));
        assert_null(wk_scoreboard_counters_of(sb, 0, 3));
        assert_null(wk_scoreboard_proto(sb, workers));
        assert_null(wk_scoreboard_proto_of(sb, workers));
    }
    { /* 8-byte aligned, so uint64_t counters are never torn */
        for (unsigned w = 0; w < workers; w++) {
            assert_int_equal((uintptr_t)wk_scoreboard_counters(sb, w, 1) % 8, 0);
            assert_int_equal((uintptr_t)wk_scoreboard_proto(sb, w) % 8, 0);
            assert_int_equal((uintptr_t)e[w][3] % 8, 0);
        }
    }
    wk_scoreboard_free(sb);
}

/* The child of test_child_writes_parent_reads: worker 1. Exit status 0 if all went as planned. */
static int share_child(struct wk_scoreboard *sb, int up, int down)
{
    for (uint32_t i = 0; i < 3; i++) {
        struct entry *e = add(sb, 1, 500 + i, (uint16_t)i);
        if (e == NULL)
            return 1;
        wk_scoreboard_add(&e->bytes, 10 * i);
    }
    struct counters *c = wk_scoreboard_counters(sb, 1, 2);
    wk_scoreboard_add(&c->open, 3);
    wk_scoreboard_add(&c->bytes, 4242);
    wk_scoreboard_add(&wk_scoreboard_proto(sb, 1)[4], 77);
    signal_byte(up);
    if (!wait_byte(down, 5000)) /* the parent looked */
        return 2;
    /* The parent's worker 0 slot is visible here too, and the server's value it set. */
    struct seen s = {0};
    wk_scoreboard_each(sb, collect, &s);
    if (wk_scoreboard_get(&wk_scoreboard_global_of(sb)[2]) != 31337)
        return 4;
    return s.n == 4 && saw(&s, 1, 0) && !s.torn ? 0 : 3;
}

static void test_child_writes_parent_reads(void **state)
{
    (void)state;
    struct wk_scoreboard *sb = make(2, 4);
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        _exit(share_child(sb, up[1], down[0]));
    }
    close(up[1]);
    close(down[0]);
    bool ready = wait_byte(up[0], 5000);
    assert_non_null(add(sb, 0, 1, 0));
    wk_scoreboard_set(&wk_scoreboard_global(sb)[2], 31337); /* after the fork: shared */
    signal_byte(down[1]);
    int status = reap(pid, 5000);
    assert_true(ready);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    { /* the child's slots, with their fields */
        struct seen s = see(sb);
        assert_int_equal(s.n, 4);
        for (uint32_t i = 0; i < 3; i++)
            assert_true(saw(&s, 500 + i, 1));
        assert_true(saw(&s, 1, 0));
        assert_int_equal(wk_scoreboard_high_water(sb, 1), 3);
    }
    { /* its counters, and only its own */
        const struct counters *c = wk_scoreboard_counters_of(sb, 1, 2);
        assert_int_equal(wk_scoreboard_get(&c->open), 3);
        assert_int_equal(wk_scoreboard_get(&c->bytes), 4242);
        assert_int_equal(wk_scoreboard_get(&wk_scoreboard_proto_of(sb, 1)[4]), 77);
        const struct counters zero = {0};
        assert_memory_equal(wk_scoreboard_counters_of(sb, 0, 2), &zero, sizeof zero);
        assert_memory_equal(wk_scoreboard_counters_of(sb, 1, 1), &zero, sizeof zero);
        assert_int_equal(wk_scoreboard_get(&wk_scoreboard_proto_of(sb, 0)[4]), 0);
    }
    close(up[0]);
    close(down[1]);
    wk_scoreboard_free(sb);
}

/*
 * The child of test_never_torn: worker 1. Holds two steady slots (ids 900,
 * 901) and changes a third (id 902) as fast as it can: its pattern inside
 * write_begin/end, its bytes between all zeros and all ones outside, until
 * killed or after 10 s.
 */
static _Noreturn void hammer_child(struct wk_scoreboard *sb, int up)
{
    if (add(sb, 1, 900, 0) == NULL || add(sb, 1, 901, 1) == NULL)
        _exit(1);
    struct entry *e = add(sb, 1, 902, 2);
    if (e == NULL)
        _exit(1);
    signal_byte(up);
    uint64_t end = now_ms() + 10000;
    for (uint64_t k = 0;; k++) {
        wk_scoreboard_write_begin(e);
        memset(e->pattern, (int)(k & 0xff), sizeof e->pattern);
        wk_scoreboard_write_end(e);
        wk_scoreboard_set(&e->bytes, k % 2 ? ~(uint64_t)0 : 0);
        if (k % 65536 == 0 && now_ms() > end)
            _exit(0);
    }
}

struct hammered {
    size_t rounds, with_902;
    unsigned patterns[256]; /* how often each pattern of 902 was seen */
    unsigned distinct;      /* patterns seen at least once */
    bool bad;
};

static void check_hammered(const void *slot, void *arg)
{
    const struct entry *e = slot;
    struct hammered *h = arg;
    for (size_t i = 1; i < PATTERN_LEN; i++) {
        if (e->pattern[i] != e->pattern[0])
            h->bad = true;
    }
    if (e->bytes != 0 && e->bytes != ~(uint64_t)0)
        h->bad = true;
    if (e->id == 902) {
        h->with_902++;
        h->distinct += h->patterns[e->pattern[0]]++ == 0;
    } else if (e->pattern[0] != (e->id & 0xff)) {
        h->bad = true;
    }
}

static void test_never_torn(void **state)
{
    (void)state;
    struct wk_scoreboard *sb = make(2, 8);
    assert_non_null(add(sb, 0, 3, 0));
    int up[2];
    assert_int_equal(pipe(up), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        hammer_child(sb, up[1]);
    }
    close(up[1]);
    bool ready = wait_byte(up[0], 5000);
    struct hammered h = {0};
    size_t short_rounds = 0;
    /* At least 200 ms, then until the slot was seen changing (the child may wait for a CPU). */
    uint64_t start = now_ms(), now = start;
    while (ready && now < start + 3000 && (now < start + 200 || h.distinct < 2)) {
        size_t before = h.with_902;
        size_t n = wk_scoreboard_each(sb, check_hammered, &h);
        /* The steady slots always; the hammered one unless it kept changing. */
        if (n != 4 && !(n == 3 && h.with_902 == before))
            h.bad = true;
        short_rounds += n == 3;
        h.rounds++;
        if (h.rounds % 64 == 0)
            now = now_ms();
    }
    int status = reap(pid, 0);
    close(up[0]);
    assert_true(ready);
    assert_int_equal(status, -1); /* still hammering when killed */
    assert_false(h.bad);
    print_message("%zu rounds, slot seen in %zu, skipped in %zu, %u distinct patterns\n", h.rounds,
                  h.with_902, short_rounds, h.distinct);
    assert_true(h.rounds >= 100);
    assert_true(h.with_902 > 0);
    assert_true(h.distinct > 1); /* the copies did see it change */
    wk_scoreboard_free(sb);
}

/*
 * The child of test_reset_dead_worker: worker 1. Claims five slots (ids
 * 600.., on listener i % 3, with bytes), starts a change to a sixth and
 * dies before ending it.
 */
static _Noreturn void dying_child(struct wk_scoreboard *sb)
{
    for (uint32_t i = 0; i < 5; i++) {
        struct entry *e = add(sb, 1, 600 + i, (uint16_t)(i % 3));
        if (e == NULL)
            _exit(1);
        wk_scoreboard_add(&e->bytes, 100 + i);
        struct counters *c = wk_scoreboard_counters(sb, 1, i % 3);
        wk_scoreboard_add(&c->open, 1);
    }
    struct entry *e = wk_scoreboard_claim(sb, 1); /* open for writing, never ended */
    if (e == NULL)
        _exit(1);
    e->id = 605;
    e->listener = 0;
    _exit(0);
}

/* Claims every slot of worker 1; exit status 0 if there were exactly `slots` of them. */
static _Noreturn void replacement_child(struct wk_scoreboard *sb, unsigned slots)
{
    for (uint32_t i = 0; i < slots; i++) {
        if (add(sb, 1, 700 + i, 0) == NULL)
            _exit(1);
    }
    _exit(wk_scoreboard_claim(sb, 1) == NULL ? 0 : 2);
}

/* The caller's reset: counts each connection of the dead worker as closed. */
static void close_dead(void *slot, void *arg)
{
    struct entry *e = slot;
    struct wk_scoreboard *sb = arg;
    struct counters *c = wk_scoreboard_counters(sb, e->head.worker, e->listener);
    c->open--;
    c->closed++;
    c->bytes += e->bytes;
}

static void test_reset_dead_worker(void **state)
{
    (void)state;
    const unsigned slots = 8;
    struct wk_scoreboard *sb = make(2, slots);
    assert_non_null(add(sb, 0, 1, 0));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        dying_child(sb);
    int status = reap(pid, 5000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    { /* its five whole slots are seen, not the one it died writing */
        struct seen s = see(sb);
        assert_int_equal(s.n, 6);
        for (uint32_t i = 0; i < 5; i++)
            assert_true(saw(&s, 600 + i, 1));
        assert_int_equal(wk_scoreboard_high_water(sb, 1), 6);
    }
    { /* the reset hands over all six, frees them, and leaves the counters */
        uint64_t *p = wk_scoreboard_proto(sb, 1);
        wk_scoreboard_set(&p[0], 9);
        assert_int_equal(wk_scoreboard_reset_worker(sb, 1, close_dead, sb), 6);
        struct seen s = see(sb);
        assert_int_equal(s.n, 1);
        assert_true(saw(&s, 1, 0));
        assert_int_equal(wk_scoreboard_high_water(sb, 1), 0);
        const struct counters *c0 = wk_scoreboard_counters_of(sb, 1, 0);
        const struct counters *c1 = wk_scoreboard_counters_of(sb, 1, 1);
        const struct counters *c2 = wk_scoreboard_counters_of(sb, 1, 2);
        /* Listener 0 had 600, 603 and the half-written 605 (open never counted: wraps). */
        assert_int_equal(c0->closed, 3);
        assert_int_equal(c0->open, (uint64_t)-1);
        assert_int_equal(c0->bytes, 100 + 103);
        assert_int_equal(c1->closed, 2);
        assert_int_equal(c1->open, 0);
        assert_int_equal(c1->bytes, 101 + 104);
        assert_int_equal(c2->closed, 1);
        assert_int_equal(c2->bytes, 102);
        assert_int_equal(wk_scoreboard_get(&p[0]), 9);
    }
    { /* a second reset finds nothing; the other worker and an unknown one are untouched */
        assert_int_equal(wk_scoreboard_reset_worker(sb, 1, close_dead, sb), 0);
        assert_int_equal(wk_scoreboard_reset_worker(sb, 9, NULL, NULL), 0);
        assert_int_equal(see(sb).n, 1);
    }
    { /* the replacement gets every slot, each with an even seq again */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            replacement_child(sb, slots);
        status = reap(pid, 5000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        struct seen s = see(sb);
        assert_int_equal(s.n, 1 + slots);
        for (uint32_t i = 0; i < slots; i++)
            assert_true(saw(&s, 700 + i, 1));
    }
    { /* a reset without a callback frees them too */
        assert_int_equal(wk_scoreboard_reset_worker(sb, 1, NULL, NULL), slots);
        assert_int_equal(see(sb).n, 1);
    }
    wk_scoreboard_free(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_checked),
        cmocka_unit_test(test_claim_release_reuse),
        cmocka_unit_test(test_claimed_slot_zeroed_and_open),
        cmocka_unit_test(test_high_water),
        cmocka_unit_test(test_layout_apart),
        cmocka_unit_test(test_child_writes_parent_reads),
        cmocka_unit_test(test_never_torn),
        cmocka_unit_test(test_reset_dead_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_wk_loop.c: the event loop (common/loop.c): timers in order and on
 * time, callbacks that re-arm or remove timers and watchers, I/O on pipes,
 * signals raised in-process and read through the loop, before-sleep hooks
 * and stopping. Every run is bounded by a guard timer, so a loop that fails
 * to stop fails the case instead of hanging it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/loop.h"

/* Generous bound on lateness: CI machines run many tests at once. */
#define LATE_MS  1000
#define GUARD_MS 3000

struct fixture {
    struct wk_loop *loop;
    struct wk_timer guard;
    bool guard_fired;
};

static void on_guard(struct wk_timer *t)
{
    struct fixture *f = t->data;
    f->guard_fired = true;
    wk_loop_stop(f->loop);
}

static int setup(void **state)
{
    static struct fixture f;
    char err[WK_ERR_LEN];
    memset(&f, 0, sizeof f);
    f.loop = wk_loop_new(err);
    if (f.loop == NULL)
        fail_msg("wk_loop_new: %s", err);
    wk_timer_init(&f.guard, on_guard, &f);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wk_loop_free(f->loop);
    return 0;
}

/* Runs the loop, bounded by the guard; returns what wk_loop_run returned. */
static int run(struct fixture *f, uint64_t guard_ms)
{
    f->guard_fired = false;
    wk_loop_timer_after(f->loop, &f->guard, guard_ms);
    int rc = wk_loop_run(f->loop);
    wk_loop_timer_stop(f->loop, &f->guard);
    return rc;
}

/* ---- timers ---- */

struct fired {
    struct fixture *f;
    uint64_t start; /* wk_clock_monotonic_ms() when armed */
    int order[16];
    uint64_t at[16];       /* wk_clock_monotonic_ms() at each firing */
    uint64_t loop_now[16]; /* wk_loop_now() at each firing */
    int n;
    int stop_after; /* stop the loop after this many firings */
    struct wk_timer t[8];
    uint64_t ms[8];
    int rearm_left; /* for the periodic timer */
};

static void record(struct fired *r, int id)
{
    if (r->n < 16) {
        r->order[r->n] = id;
        r->at[r->n] = wk_clock_monotonic_ms();
        r->loop_now[r->n] = wk_loop_now(r->f->loop);
    }
    r->n++;
    if (r->n == r->stop_after)
        wk_loop_stop(r->f->loop);
}

static void on_fire(struct wk_timer *t)
{
    struct fired *r = t->data;
    record(r, (int)(t - r->t));
}

static void test_timers_fire_in_order_on_time(void **state)
{
    struct fixture *f = *state;
    static struct fired r;
    memset(&r, 0, sizeof r);
    r.f = f;
    r.stop_after = 4;
    const uint64_t ms[4] = {60, 20, 40, 0};
    r.start = wk_clock_monotonic_ms();
    uint64_t loop_start = wk_loop_now(f->loop);
    for (int i = 0; i < 4; i++) {
        wk_timer_init(&r.t[i], on_fire, &r);
        assert_int_equal(wk_loop_timer_after(f->loop, &r.t[i], ms[i]), 0);
        assert_true(wk_timer_is_armed(&r.t[i]));
    }
    assert_int_equal(run(f, GUARD_MS), 0);
    assert_false(f->guard_fired);
    { /* earliest deadline first */
        assert_int_equal(r.n, 4);
        assert_int_equal(r.order[0], 3);
        assert_int_equal(r.order[1], 1);
        assert_int_equal(r.order[2], 2);
        assert_int_equal(r.order[3], 0);
    }
    { /* never early, on the real clock or the loop's; not very late */
        for (int k = 0; k < 4; k++) {
            uint64_t want = ms[r.order[k]];
            assert_true(r.at[k] - r.start + 1 >= want);
            assert_true(r.loop_now[k] >= loop_start + want);
            assert_true(r.at[k] - r.start <= want + LATE_MS);
        }
    }
    { /* fired timers are disarmed */
        for (int i = 0; i < 4; i++)
            assert_false(wk_timer_is_armed(&r.t[i]));
    }
}

static void test_timer_at_absolute_deadline(void **state)
{
    struct fixture *f = *state;
    static struct fired r;
    memset(&r, 0, sizeof r);
    r.f = f;
    r.stop_after = 2;
    uint64_t now = wk_loop_now(f->loop);
    wk_timer_init(&r.t[0], on_fire, &r);
    wk_timer_init(&r.t[1], on_fire, &r);
    { /* a deadline in the past fires at once; a later one at its time */
        assert_int_equal(wk_loop_timer_at(f->loop, &r.t[0], now + 30), 0);
        assert_int_equal(wk_loop_timer_at(f->loop, &r.t[1], now > 5 ? now - 5 : 0), 0);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(r.order[0], 1);
        assert_int_equal(r.order[1], 0);
        assert_true(r.loop_now[1] >= now + 30);
    }
}

static void on_periodic(struct wk_timer *t)
{
    struct fired *r = t->data;
    record(r, 0);
    if (--r->rearm_left > 0)
        wk_loop_timer_after(r->f->loop, t, 10);
    else
        wk_loop_stop(r->f->loop);
}

static void test_timer_rearms_itself(void **state)
{
    struct fixture *f = *state;
    static struct fired r;
    memset(&r, 0, sizeof r);
    r.f = f;
    r.rearm_left = 5;
    wk_timer_init(&r.t[0], on_periodic, &r);
    wk_loop_timer_after(f->loop, &r.t[0], 10);
    assert_int_equal(run(f, GUARD_MS), 0);
    { /* five firings, each at least the period after the last */
        assert_false(f->guard_fired);
        assert_int_equal(r.n, 5);
        for (int k = 1; k < 5; k++)
            assert_true(r.loop_now[k] - r.loop_now[k - 1] >= 10);
    }
}

struct pair {
    struct fixture *f;
    struct wk_timer a, b, c;
    int a_fired, b_fired, c_fired;
    uint64_t b_at, armed_at;
    enum { REMOVE_OTHER, MOVE_OTHER } mode;
};

static void pair_on_a(struct wk_timer *t)
{
    struct pair *p = t->data;
    p->a_fired++;
    if (p->mode == REMOVE_OTHER)
        wk_loop_timer_stop(p->f->loop, &p->b);
    else
        wk_loop_timer_after(p->f->loop, &p->b, 50);
}

static void pair_on_b(struct wk_timer *t)
{
    struct pair *p = t->data;
    p->b_fired++;
    p->b_at = wk_loop_now(p->f->loop);
    if (p->mode == REMOVE_OTHER)
        wk_loop_timer_stop(p->f->loop, &p->a);
}

static void pair_on_c(struct wk_timer *t)
{
    struct pair *p = t->data;
    p->c_fired++;
    wk_loop_stop(p->f->loop);
}

static void pair_init(struct pair *p, struct fixture *f)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    wk_timer_init(&p->a, pair_on_a, p);
    wk_timer_init(&p->b, pair_on_b, p);
    wk_timer_init(&p->c, pair_on_c, p);
    p->armed_at = wk_loop_now(f->loop);
}

static void test_timer_callback_removes_another(void **state)
{
    struct fixture *f = *state;
    static struct pair p;
    { /* a later timer removed by an earlier one never fires */
        pair_init(&p, f);
        p.mode = REMOVE_OTHER;
        wk_loop_timer_after(f->loop, &p.a, 10);
        wk_loop_timer_after(f->loop, &p.b, 30);
        wk_loop_timer_after(f->loop, &p.c, 60);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(p.a_fired, 1);
        assert_int_equal(p.b_fired, 0);
        assert_int_equal(p.c_fired, 1);
        assert_false(wk_timer_is_armed(&p.b));
    }
    { /* two timers due in the same turn: the first removes the second */
        pair_init(&p, f);
        p.mode = REMOVE_OTHER;
        wk_loop_timer_after(f->loop, &p.a, 5);
        wk_loop_timer_after(f->loop, &p.b, 5);
        wk_loop_timer_after(f->loop, &p.c, 40);
        usleep(10 * 1000); /* both are due when the loop first looks */
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_int_equal(p.a_fired + p.b_fired, 1);
        assert_int_equal(p.c_fired, 1);
    }
}

static void test_timer_callback_moves_another(void **state)
{
    struct fixture *f = *state;
    static struct pair p;
    { /* a timer pushed back by another fires at its new time, once */
        pair_init(&p, f);
        p.mode = MOVE_OTHER;
        wk_loop_timer_after(f->loop, &p.a, 10);
        wk_loop_timer_after(f->loop, &p.b, 20);
        wk_loop_timer_after(f->loop, &p.c, 150);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(p.a_fired, 1);
        assert_int_equal(p.b_fired, 1);
        assert_true(p.b_at >= p.armed_at + 10 + 50);
    }
}

static void test_timer_stop_and_rearm(void **state)
{
    struct fixture *f = *state;
    static struct fired r;
    memset(&r, 0, sizeof r);
    r.f = f;
    r.stop_after = 1;
    wk_timer_init(&r.t[0], on_fire, &r);
    wk_timer_init(&r.t[1], on_fire, &r);
    { /* stopping a timer that is not armed is harmless */
        wk_loop_timer_stop(f->loop, &r.t[0]);
        assert_false(wk_timer_is_armed(&r.t[0]));
    }
    { /* re-arming an armed timer replaces its deadline: it fires once */
        wk_loop_timer_after(f->loop, &r.t[0], 5);
        wk_loop_timer_after(f->loop, &r.t[0], 40);
        wk_loop_timer_after(f->loop, &r.t[1], 20);
        r.stop_after = 2;
        uint64_t start = wk_loop_now(f->loop);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_int_equal(r.n, 2);
        assert_int_equal(r.order[0], 1);
        assert_int_equal(r.order[1], 0);
        assert_true(r.loop_now[1] >= start + 40);
    }
    { /* a stopped timer does not fire */
        memset(&r, 0, sizeof r);
        r.f = f;
        r.stop_after = 1;
        wk_timer_init(&r.t[0], on_fire, &r);
        wk_timer_init(&r.t[1], on_fire, &r);
        wk_loop_timer_after(f->loop, &r.t[0], 5);
        wk_loop_timer_after(f->loop, &r.t[1], 30);
        wk_loop_timer_stop(f->loop, &r.t[0]);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.order[0], 1);
    }
}

/* ---- I/O ---- */

struct pipe_watch {
    struct fixture *f;
    int fds[2];
    struct wk_io io;
    int calls;
    unsigned events[16];
    size_t bytes;
    size_t read_per_call; /* 0: read everything */
    bool stop;            /* stop the loop on each call */
    struct pipe_watch *other;
    bool del_other; /* delete (and close) other's watcher */
};

static void pipe_watch_open(struct pipe_watch *w, struct fixture *f)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    assert_int_equal(pipe2(w->fds, O_NONBLOCK | O_CLOEXEC), 0);
    w->stop = true;
}

static void pipe_watch_close(struct pipe_watch *w)
{
    if (w->fds[0] >= 0)
        close(w->fds[0]);
    if (w->fds[1] >= 0)
        close(w->fds[1]);
}

static void on_pipe(struct wk_io *io, unsigned events)
{
    struct pipe_watch *w = io->data;
    if (w->calls < 16)
        w->events[w->calls] = events;
    w->calls++;
    char buf[256];
    if (events & WK_IO_READ) {
        size_t want = w->read_per_call ? w->read_per_call : sizeof buf;
        ssize_t n = read(io->fd, buf, want);
        if (n > 0)
            w->bytes += (size_t)n;
    }
    if (w->del_other && w->other != NULL) {
        wk_loop_io_del(w->f->loop, &w->other->io);
        close(w->other->fds[0]);
        w->other->fds[0] = -1;
        w->other = NULL;
    }
    if (w->stop)
        wk_loop_stop(w->f->loop);
}

static void test_io_read_on_pipe(void **state)
{
    struct fixture *f = *state;
    static struct pipe_watch w;
    pipe_watch_open(&w, f);
    w.io = (struct wk_io){.fd = w.fds[0], .cb = on_pipe, .data = &w};
    assert_int_equal(wk_loop_io_add(f->loop, &w.io, WK_IO_READ), 0);
    { /* adding the same fd twice is refused */
        assert_int_equal(wk_loop_io_add(f->loop, &w.io, WK_IO_READ), -EEXIST);
    }
    { /* nothing to read: no callback, the loop sleeps until the guard */
        assert_int_equal(run(f, 30), 0);
        assert_true(f->guard_fired);
        assert_int_equal(w.calls, 0);
    }
    { /* data arrives: one callback saying READ */
        assert_int_equal(write(w.fds[1], "abc", 3), 3);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(w.calls, 1);
        assert_true(w.events[0] & WK_IO_READ);
        assert_false(w.events[0] & WK_IO_WRITE);
        assert_int_equal(w.bytes, 3);
    }
    { /* level-triggered: unread data is reported again on the next turn */
        w.read_per_call = 1;
        assert_int_equal(write(w.fds[1], "xy", 2), 2);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(w.calls, 3);
        assert_int_equal(w.bytes, 5);
    }
    { /* after io_del, nothing more is reported */
        assert_int_equal(wk_loop_io_del(f->loop, &w.io), 0);
        assert_int_equal(write(w.fds[1], "z", 1), 1);
        assert_int_equal(run(f, 30), 0);
        assert_true(f->guard_fired);
        assert_int_equal(w.calls, 3);
        assert_int_equal(wk_loop_io_del(f->loop, &w.io), -ENOENT);
    }
    pipe_watch_close(&w);
}

static void test_io_write_and_mod(void **state)
{
    struct fixture *f = *state;
    static struct pipe_watch w;
    pipe_watch_open(&w, f);
    w.io = (struct wk_io){.fd = w.fds[1], .cb = on_pipe, .data = &w};
    { /* an empty pipe is writable at once */
        assert_int_equal(wk_loop_io_add(f->loop, &w.io, WK_IO_WRITE), 0);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(w.calls, 1);
        assert_true(w.events[0] & WK_IO_WRITE);
    }
    { /* switched to READ on a write end: nothing to report */
        assert_int_equal(wk_loop_io_mod(f->loop, &w.io, WK_IO_READ), 0);
        assert_int_equal(run(f, 30), 0);
        assert_true(f->guard_fired);
        assert_int_equal(w.calls, 1);
    }
    { /* and back to WRITE */
        assert_int_equal(wk_loop_io_mod(f->loop, &w.io, WK_IO_WRITE), 0);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_int_equal(w.calls, 2);
    }
    wk_loop_io_del(f->loop, &w.io);
    pipe_watch_close(&w);
}

static void test_io_edge_triggered(void **state)
{
    struct fixture *f = *state;
    static struct pipe_watch w;
    pipe_watch_open(&w, f);
    w.io = (struct wk_io){.fd = w.fds[0], .cb = on_pipe, .data = &w};
    w.read_per_call = 1;
    assert_int_equal(wk_loop_io_add(f->loop, &w.io, WK_IO_READ | WK_IO_EDGE), 0);
    { /* one edge, one callback, even with data left unread */
        assert_int_equal(write(w.fds[1], "ab", 2), 2);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_int_equal(w.calls, 1);
        w.stop = false;
        assert_int_equal(run(f, 30), 0);
        assert_true(f->guard_fired);
        assert_int_equal(w.calls, 1);
    }
    { /* new data is a new edge */
        w.stop = true;
        assert_int_equal(write(w.fds[1], "c", 1), 1);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(w.calls, 2);
    }
    wk_loop_io_del(f->loop, &w.io);
    pipe_watch_close(&w);
}

static void test_io_hangup(void **state)
{
    struct fixture *f = *state;
    static struct pipe_watch w;
    pipe_watch_open(&w, f);
    w.io = (struct wk_io){.fd = w.fds[0], .cb = on_pipe, .data = &w};
    assert_int_equal(wk_loop_io_add(f->loop, &w.io, WK_IO_READ), 0);
    { /* the writer going away is reported, so the owner reads and learns EOF */
        close(w.fds[1]);
        w.fds[1] = -1;
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_true(w.calls >= 1);
        assert_true(w.events[0] & (WK_IO_READ | WK_IO_ERROR));
        char c;
        assert_int_equal(read(w.fds[0], &c, 1), 0);
    }
    wk_loop_io_del(f->loop, &w.io);
    pipe_watch_close(&w);
}

static void test_io_callback_removes_another(void **state)
{
    struct fixture *f = *state;
    static struct pipe_watch a, b;
    pipe_watch_open(&a, f);
    pipe_watch_open(&b, f);
    a.io = (struct wk_io){.fd = a.fds[0], .cb = on_pipe, .data = &a};
    b.io = (struct wk_io){.fd = b.fds[0], .cb = on_pipe, .data = &b};
    /* Each removes the other: whichever runs first, the other must not run. */
    a.other = &b;
    b.other = &a;
    a.del_other = b.del_other = true;
    a.stop = b.stop = false;
    assert_int_equal(wk_loop_io_add(f->loop, &a.io, WK_IO_READ), 0);
    assert_int_equal(wk_loop_io_add(f->loop, &b.io, WK_IO_READ), 0);
    { /* both readable in the same turn */
        assert_int_equal(write(a.fds[1], "1", 1), 1);
        assert_int_equal(write(b.fds[1], "2", 1), 1);
        assert_int_equal(run(f, 50), 0);
        if (a.calls + b.calls != 1)
            fail_msg("a watcher removed during the turn was still called: a=%d b=%d", a.calls,
                     b.calls);
    }
    if (a.fds[0] >= 0)
        wk_loop_io_del(f->loop, &a.io);
    if (b.fds[0] >= 0)
        wk_loop_io_del(f->loop, &b.io);
    pipe_watch_close(&a);
    pipe_watch_close(&b);
}

struct self_del {
    struct fixture *f;
    struct wk_io io;
    int fds[2];
    int calls;
};

static void on_self_del(struct wk_io *io, unsigned events)
{
    struct self_del *s = io->data;
    (void)events;
    s->calls++;
    assert_int_equal(wk_loop_io_del(s->f->loop, io), 0);
    close(s->fds[0]);
    s->fds[0] = -1;
}

static void test_io_callback_removes_itself(void **state)
{
    struct fixture *f = *state;
    static struct self_del s;
    memset(&s, 0, sizeof s);
    s.f = f;
    assert_int_equal(pipe2(s.fds, O_NONBLOCK | O_CLOEXEC), 0);
    s.io = (struct wk_io){.fd = s.fds[0], .cb = on_self_del, .data = &s};
    assert_int_equal(wk_loop_io_add(f->loop, &s.io, WK_IO_READ), 0);
    { /* a watcher may remove itself and close its fd from its callback */
        assert_int_equal(write(s.fds[1], "x", 1), 1);
        assert_int_equal(run(f, 50), 0);
        assert_int_equal(s.calls, 1);
    }
    close(s.fds[1]);
}

/* A timer that re-arms itself at 0 ms forever must not keep I/O from running. */
struct busy {
    struct fixture *f;
    struct wk_timer t;
    unsigned long fired;
};

static void on_busy(struct wk_timer *t)
{
    struct busy *b = t->data;
    b->fired++;
    wk_loop_timer_after(b->f->loop, t, 0);
}

static void test_busy_timer_does_not_starve_io(void **state)
{
    struct fixture *f = *state;
    static struct busy b;
    static struct pipe_watch w;
    memset(&b, 0, sizeof b);
    b.f = f;
    wk_timer_init(&b.t, on_busy, &b);
    pipe_watch_open(&w, f);
    w.io = (struct wk_io){.fd = w.fds[0], .cb = on_pipe, .data = &w};
    assert_int_equal(wk_loop_io_add(f->loop, &w.io, WK_IO_READ), 0);
    wk_loop_timer_after(f->loop, &b.t, 0);
    { /* the pipe's callback still runs, and soon */
        assert_int_equal(write(w.fds[1], "x", 1), 1);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(w.calls, 1);
        assert_true(b.fired >= 1);
    }
    wk_loop_timer_stop(f->loop, &b.t);
    wk_loop_io_del(f->loop, &w.io);
    pipe_watch_close(&w);
}

/* ---- signals ---- */

struct sig_seen {
    struct fixture *f;
    int signo[8];
    void *data[8];
    int n;
    int stop_after;
};

static void on_signal(struct wk_loop *loop, int signo, void *data)
{
    struct sig_seen *s = data;
    assert_ptr_equal(loop, s->f->loop);
    if (s->n < 8) {
        s->signo[s->n] = signo;
        s->data[s->n] = data;
    }
    s->n++;
    if (s->n == s->stop_after)
        wk_loop_stop(loop);
}

static bool is_blocked(int signo)
{
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, signo) == 1;
}

static void test_signal_through_loop(void **state)
{
    struct fixture *f = *state;
    static struct sig_seen s;
    memset(&s, 0, sizeof s);
    s.f = f;
    s.stop_after = 1;
    assert_int_equal(wk_loop_signal(f->loop, SIGUSR1, on_signal, &s), 0);
    { /* the signal is blocked, so raise() leaves it for the loop to read */
        assert_true(is_blocked(SIGUSR1));
        assert_int_equal(raise(SIGUSR1), 0);
        assert_int_equal(s.n, 0);
    }
    { /* delivered through the loop, with its number and data */
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.signo[0], SIGUSR1);
        assert_ptr_equal(s.data[0], &s);
    }
    { /* again: each raise is one call */
        assert_int_equal(raise(SIGUSR1), 0);
        s.stop_after = 2;
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_int_equal(s.n, 2);
    }
}

struct raiser {
    struct wk_timer t;
    int signo;
};

static void on_raise(struct wk_timer *t)
{
    struct raiser *r = t->data;
    raise(r->signo);
}

static void test_two_signals_raised_from_a_callback(void **state)
{
    struct fixture *f = *state;
    static struct sig_seen s1, s2;
    static struct raiser r1, r2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    s1.f = s2.f = f;
    s1.stop_after = 0;
    s2.stop_after = 1;
    assert_int_equal(wk_loop_signal(f->loop, SIGUSR1, on_signal, &s1), 0);
    assert_int_equal(wk_loop_signal(f->loop, SIGUSR2, on_signal, &s2), 0);
    r1.signo = SIGUSR1;
    r2.signo = SIGUSR2;
    wk_timer_init(&r1.t, on_raise, &r1);
    wk_timer_init(&r2.t, on_raise, &r2);
    wk_loop_timer_after(f->loop, &r1.t, 5);
    wk_loop_timer_after(f->loop, &r2.t, 20);
    { /* each signal reaches its own callback */
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_int_equal(s1.n, 1);
        assert_int_equal(s1.signo[0], SIGUSR1);
        assert_int_equal(s2.n, 1);
        assert_int_equal(s2.signo[0], SIGUSR2);
    }
}

static void test_signal_mask_restored_and_limit(void **state)
{
    struct fixture *f = *state;
    static struct sig_seen s;
    memset(&s, 0, sizeof s);
    s.f = f;
    { /* up to 8 signals; the ninth is refused */
        int sigs[9];
        for (int i = 0; i < 9; i++)
            sigs[i] = SIGRTMIN + i;
        for (int i = 0; i < 8; i++)
            assert_int_equal(wk_loop_signal(f->loop, sigs[i], on_signal, &s), 0);
        assert_int_equal(wk_loop_signal(f->loop, sigs[8], on_signal, &s), -ENOSPC);
        assert_true(is_blocked(SIGRTMIN));
    }
    { /* freeing the loop unblocks them again */
        char err[WK_ERR_LEN];
        wk_loop_free(f->loop);
        f->loop = wk_loop_new(err);
        assert_non_null(f->loop);
        assert_false(is_blocked(SIGRTMIN));
        assert_false(is_blocked(SIGRTMIN + 7));
    }
}

/* ---- hooks, stop, clocks ---- */

struct hooks {
    struct fixture *f;
    char trace[64];
    size_t len;
    int stop_at; /* stop in hook 'b' on this call of it */
    int b_calls;
};

static void hook_a(struct wk_loop *loop, void *data)
{
    struct hooks *h = data;
    (void)loop;
    if (h->len < sizeof h->trace - 1)
        h->trace[h->len++] = 'a';
}

static void hook_b(struct wk_loop *loop, void *data)
{
    struct hooks *h = data;
    if (h->len < sizeof h->trace - 1)
        h->trace[h->len++] = 'b';
    if (++h->b_calls == h->stop_at)
        wk_loop_stop(loop);
}

struct tick {
    struct wk_timer t;
    struct hooks *h;
    int left;
};

static void on_tick(struct wk_timer *t)
{
    struct tick *k = t->data;
    if (k->h->len < sizeof k->h->trace - 1)
        k->h->trace[k->h->len++] = 't';
    if (--k->left > 0)
        wk_loop_timer_after(k->h->f->loop, t, 2);
}

static void test_before_sleep_hooks(void **state)
{
    struct fixture *f = *state;
    static struct hooks h;
    static struct tick k;
    memset(&h, 0, sizeof h);
    h.f = f;
    h.stop_at = 3;
    assert_int_equal(wk_loop_before_sleep(f->loop, hook_a, &h), 0);
    assert_int_equal(wk_loop_before_sleep(f->loop, hook_b, &h), 0);
    k.h = &h;
    k.left = 2;
    wk_timer_init(&k.t, on_tick, &k);
    wk_loop_timer_after(f->loop, &k.t, 2);
    { /* hooks run in order before every sleep, and a hook can stop the loop */
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        h.trace[h.len] = '\0';
        assert_string_equal(h.trace, "abtabtab");
    }
    { /* at most 8 hooks */
        for (int i = 2; i < 8; i++)
            assert_int_equal(wk_loop_before_sleep(f->loop, hook_a, &h), 0);
        assert_int_equal(wk_loop_before_sleep(f->loop, hook_a, &h), -ENOSPC);
    }
}

static void hook_stop_now(struct wk_loop *loop, void *data)
{
    (void)data;
    wk_loop_stop(loop);
}

static void test_stop_from_hook_does_not_sleep(void **state)
{
    struct fixture *f = *state;
    { /* nothing armed but the guard: a hook's stop returns without waiting */
        assert_int_equal(wk_loop_before_sleep(f->loop, hook_stop_now, NULL), 0);
        uint64_t start = wk_clock_monotonic_ms();
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_false(f->guard_fired);
        assert_true(wk_clock_monotonic_ms() - start < GUARD_MS / 2);
    }
}

static void on_stop_timer(struct wk_timer *t)
{
    struct fixture *f = t->data;
    wk_loop_stop(f->loop);
}

static void test_stop_and_run_again(void **state)
{
    struct fixture *f = *state;
    static struct wk_timer t;
    wk_timer_init(&t, on_stop_timer, f);
    { /* a stopped loop can run again */
        for (int i = 0; i < 3; i++) {
            wk_loop_timer_after(f->loop, &t, 1);
            assert_int_equal(run(f, GUARD_MS), 0);
            assert_false(f->guard_fired);
        }
    }
}

static void test_clocks(void **state)
{
    struct fixture *f = *state;
    static struct wk_timer t;
    wk_timer_init(&t, on_stop_timer, f);
    { /* the loop's clocks are read per turn and follow the real ones */
        uint64_t before = wk_loop_now(f->loop);
        wk_loop_timer_after(f->loop, &t, 20);
        assert_int_equal(run(f, GUARD_MS), 0);
        assert_true(wk_loop_now(f->loop) >= before + 20);
        assert_true(wk_loop_now(f->loop) <= wk_clock_monotonic_ms());
        time_t wall = wk_loop_wall(f->loop), real = time(NULL);
        assert_true(wall <= real && wall >= real - 2);
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_timers_fire_in_order_on_time),
        T(test_timer_at_absolute_deadline),
        T(test_timer_rearms_itself),
        T(test_timer_callback_removes_another),
        T(test_timer_callback_moves_another),
        T(test_timer_stop_and_rearm),
        T(test_io_read_on_pipe),
        T(test_io_write_and_mod),
        T(test_io_edge_triggered),
        T(test_io_hangup),
        T(test_io_callback_removes_another),
        T(test_io_callback_removes_itself),
        T(test_busy_timer_does_not_starve_io),
        T(test_signal_through_loop),
        T(test_two_signals_raised_from_a_callback),
        T(test_signal_mask_restored_and_limit),
        T(test_before_sleep_hooks),
        T(test_stop_from_hook_does_not_sleep),
        T(test_stop_and_run_again),
        T(test_clocks),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

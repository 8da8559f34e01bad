/*
 * loop.c: epoll, the timer heap and signalfd, one loop per worker process.
 * Owns the epoll fd, the signalfd and the heap's array; watchers and timers
 * belong to whoever embeds them.
 */
#include "common/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define LOOP_MAX_EVENTS  256
#define LOOP_MAX_SIGNALS 8
#define LOOP_MAX_HOOKS   8
/* Timers due in one turn are run at most this many times, so timers that re-arm can't starve I/O.
 */
#define LOOP_MAX_TIMERS_PER_TURN 1024

struct loop_signal {
    int signo;
    wk_signal_fn *cb;
    void *data;
};

struct loop_hook {
    wk_hook_fn *cb;
    void *data;
};

struct wk_loop {
    int epfd;
    bool stop;
    struct epoll_event events[LOOP_MAX_EVENTS];
    int nevents;    /* in the batch being dispatched */
    int next_event; /* index of the next one to dispatch */
    uint64_t now;
    time_t wall;
    struct wk_timer_heap timers;
    struct wk_io sigio;
    sigset_t sigmask;
    struct loop_signal signals[LOOP_MAX_SIGNALS];
    size_t nsignals;
    struct loop_hook hooks[LOOP_MAX_HOOKS];
    size_t nhooks;
};

static void update_clock(struct wk_loop *loop)
{
    loop->now = wk_clock_monotonic_ms();
    loop->wall = time(NULL);
}

struct wk_loop *wk_loop_new(char err[WK_ERR_LEN])
{
    struct wk_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL) {
        snprintf(err, WK_ERR_LEN, "event loop: out of memory");
        return NULL;
    }
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        snprintf(err, WK_ERR_LEN, "epoll_create1: %s", strerror(errno));
        free(loop);
        return NULL;
    }
    loop->sigio.fd = -1;
    sigemptyset(&loop->sigmask);
    wk_timer_heap_init(&loop->timers);
    update_clock(loop);
    return loop;
}

void wk_loop_free(struct wk_loop *loop)
{
    if (loop == NULL)
        return;
    if (loop->sigio.fd >= 0) {
        close(loop->sigio.fd);
        sigprocmask(SIG_UNBLOCK, &loop->sigmask, NULL);
    }
    close(loop->epfd);
    wk_timer_heap_fini(&loop->timers);
    free(loop);
}

static uint32_t to_epoll(unsigned events)
{
    uint32_t ev = 0;
    if (events & WK_IO_READ)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (events & WK_IO_WRITE)
        ev |= EPOLLOUT;
    if (events & WK_IO_EDGE)
        ev |= EPOLLET;
    if (events & WK_IO_EXCLUSIVE) /* which allows no EPOLLRDHUP: a listener needs none */
        ev = (ev & ~(uint32_t)EPOLLRDHUP) | EPOLLEXCLUSIVE;
    return ev;
}

static int ctl(struct wk_loop *loop, int op, struct wk_io *io, unsigned events)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    return epoll_ctl(loop->epfd, op, io->fd, &ev) < 0 ? -errno : 0;
}

int wk_loop_io_add(struct wk_loop *loop, struct wk_io *io, unsigned events)
{
    return ctl(loop, EPOLL_CTL_ADD, io, events);
}

int wk_loop_io_mod(struct wk_loop *loop, struct wk_io *io, unsigned events)
{
    return ctl(loop, EPOLL_CTL_MOD, io, events);
}

int wk_loop_io_del(struct wk_loop *loop, struct wk_io *io)
{
    /* Forget events of this batch not yet dispatched to io: its owner may free it now. */
    for (int i = loop->next_event; i < loop->nevents; i++) {
        if (loop->events[i].data.ptr == io)
            loop->events[i].data.ptr = NULL;
    }
    return epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0 ? -errno : 0;
}

int wk_loop_timer_at(struct wk_loop *loop, struct wk_timer *t, uint64_t deadline)
{
    return wk_timer_heap_set(&loop->timers, t, deadline);
}

int wk_loop_timer_after(struct wk_loop *loop, struct wk_timer *t, uint64_t ms)
{
    return wk_timer_heap_set(&loop->timers, t, loop->now + ms);
}

void wk_loop_timer_stop(struct wk_loop *loop, struct wk_timer *t)
{
    wk_timer_heap_remove(&loop->timers, t);
}

static void on_signalfd(struct wk_io *io, unsigned events)
{
    struct wk_loop *loop = io->data;
    struct signalfd_siginfo si;
    WK_UNUSED(events);
    while (read(io->fd, &si, sizeof si) == (ssize_t)sizeof si) {
        for (size_t i = 0; i < loop->nsignals; i++) {
            if (loop->signals[i].signo == (int)si.ssi_signo)
                loop->signals[i].cb(loop, (int)si.ssi_signo, loop->signals[i].data);
        }
    }
}

int wk_loop_signal(struct wk_loop *loop, int signo, wk_signal_fn *cb, void *data)
{
    for (size_t i = 0; i < loop->nsignals; i++) {
        if (loop->signals[i].signo == signo) { /* a new owner for a signal already taken */
            loop->signals[i] = (struct loop_signal){signo, cb, data};
            return 0;
        }
    }
    if (loop->nsignals == LOOP_MAX_SIGNALS)
        return -ENOSPC;
    sigaddset(&loop->sigmask, signo);
    if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) < 0)
        return -errno;
    int fd = signalfd(loop->sigio.fd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (loop->sigio.fd < 0) {
        loop->sigio = (struct wk_io){.fd = fd, .cb = on_signalfd, .data = loop};
        int rc = wk_loop_io_add(loop, &loop->sigio, WK_IO_READ);
        if (rc < 0)
            return rc;
    }
    loop->signals[loop->nsignals++] = (struct loop_signal){signo, cb, data};
    return 0;
}

int wk_loop_before_sleep(struct wk_loop *loop, wk_hook_fn *cb, void *data)
{
    if (loop->nhooks == LOOP_MAX_HOOKS)
        return -ENOSPC;
    loop->hooks[loop->nhooks++] = (struct loop_hook){cb, data};
    return 0;
}

uint64_t wk_loop_now(const struct wk_loop *loop)
{
    return loop->now;
}

time_t wk_loop_wall(const struct wk_loop *loop)
{
    return loop->wall;
}

void wk_loop_stop(struct wk_loop *loop)
{
    loop->stop = true;
}

static void run_timers(struct wk_loop *loop)
{
    for (int n = 0; n < LOOP_MAX_TIMERS_PER_TURN; n++) {
        struct wk_timer *t = wk_timer_heap_first(&loop->timers);
        if (t == NULL || t->deadline > loop->now)
            return;
        wk_timer_heap_remove(&loop->timers, t);
        t->cb(t);
    }
}

/* Milliseconds epoll_wait may sleep: until the next timer, or forever. */
static int sleep_ms(const struct wk_loop *loop)
{
    const struct wk_timer *t = wk_timer_heap_first(&loop->timers);
    if (t == NULL)
        return -1;
    if (t->deadline <= loop->now)
        return 0;
    uint64_t ms = t->deadline - loop->now;
    return ms > 60000 ? 60000 : (int)ms;
}

static unsigned from_epoll(uint32_t e)
{
    unsigned ev = 0;
    if (e & (EPOLLIN | EPOLLRDHUP))
        ev |= WK_IO_READ;
    if (e & (EPOLLRDHUP | EPOLLHUP))
        ev |= WK_IO_PEER_SHUT;
    if (e & EPOLLOUT)
        ev |= WK_IO_WRITE;
    if (e & (EPOLLERR | EPOLLHUP))
        ev |= WK_IO_ERROR;
    return ev;
}

int wk_loop_run(struct wk_loop *loop)
{
    loop->stop = false;
    while (!loop->stop) {
        for (size_t i = 0; i < loop->nhooks; i++)
            loop->hooks[i].cb(loop, loop->hooks[i].data);
        if (loop->stop)
            break;
        int n = epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, sleep_ms(loop));
        if (n < 0 && errno != EINTR) {
            int e = errno;
            wk_log(WK_LOG_ERROR, "loop epoll_wait error=\"%s\"", strerror(e));
            return -e;
        }
        update_clock(loop);
        loop->nevents = n < 0 ? 0 : n;
        for (loop->next_event = 0; loop->next_event < loop->nevents;) {
            struct epoll_event *e = &loop->events[loop->next_event++];
            struct wk_io *io = e->data.ptr;
            if (io != NULL)
                io->cb(io, from_epoll(e->events));
        }
        loop->nevents = 0;
        run_timers(loop);
    }
    return 0;
}

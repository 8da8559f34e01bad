/*
 * loop.h: the event loop of one worker: epoll for file descriptors, a timer
 * heap, signals through signalfd, and hooks run before each sleep.
 *
 * Single-threaded. Callbacks may add and remove anything, including the I/O
 * watcher or timer being dispatched.
 */
#ifndef WK_LOOP_H
#define WK_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/timer.h"
#include "common/wk.h"

/* Event bits passed to and reported by I/O watchers. */
#define WK_IO_READ      0x1u
#define WK_IO_WRITE     0x2u
#define WK_IO_ERROR     0x4u  /* error or hang-up: read or write to learn which */
#define WK_IO_EDGE      0x8u  /* for wk_loop_io_add: edge-triggered */
#define WK_IO_PEER_SHUT 0x10u /* reported with READ: the peer shut down its sending side */
#define WK_IO_EXCLUSIVE 0x20u /* for wk_loop_io_add: of the processes watching the fd, wake one */

struct wk_loop;
struct wk_io;
typedef void wk_io_fn(struct wk_io *io, unsigned events);
typedef void wk_signal_fn(struct wk_loop *loop, int signo, void *data);
typedef void wk_hook_fn(struct wk_loop *loop, void *data);

/* An fd watcher, embedded in its owner. */
struct wk_io {
    int fd;
    wk_io_fn *cb;
    void *data;
};

/* Creates a loop. Returns NULL with a message in err. */
struct wk_loop *wk_loop_new(char err[WK_ERR_LEN]);

/* Frees the loop (not the watchers or timers, which belong to their owners). NULL is fine. */
void wk_loop_free(struct wk_loop *loop);

/* Watches io->fd for events (WK_IO_READ, WK_IO_WRITE, WK_IO_EDGE). Returns 0 or -errno. */
int wk_loop_io_add(struct wk_loop *loop, struct wk_io *io, unsigned events);

/* Changes the events watched. Returns 0 or -errno. */
int wk_loop_io_mod(struct wk_loop *loop, struct wk_io *io, unsigned events);

/* Stops watching io; call before closing its fd. Returns 0 or -errno. */
int wk_loop_io_del(struct wk_loop *loop, struct wk_io *io);

/* Arms t to fire after ms milliseconds (re-arms it if armed). Returns 0 or -ENOMEM. */
int wk_loop_timer_after(struct wk_loop *loop, struct wk_timer *t, uint64_t ms);

/* Arms t at an absolute deadline on wk_loop_now()'s clock. Returns 0 or -ENOMEM. */
int wk_loop_timer_at(struct wk_loop *loop, struct wk_timer *t, uint64_t deadline);

void wk_loop_timer_stop(struct wk_loop *loop, struct wk_timer *t);

/*
 * Delivers signo through cb from now on (the signal is blocked and read from
 * a signalfd), instead of through a callback given for it before. Up to 8
 * signals. Returns 0 or -errno.
 */
int wk_loop_signal(struct wk_loop *loop, int signo, wk_signal_fn *cb, void *data);

/* Adds a hook run before every sleep, in the order added. Up to 8. Returns 0 or -ENOSPC. */
int wk_loop_before_sleep(struct wk_loop *loop, wk_hook_fn *cb, void *data);

/* Monotonic milliseconds, read once per turn of the loop. */
uint64_t wk_loop_now(const struct wk_loop *loop);

/* Wall-clock seconds, read once per turn of the loop. */
time_t wk_loop_wall(const struct wk_loop *loop);

/* Runs until wk_loop_stop(). Returns 0, or -errno if epoll_wait failed. */
int wk_loop_run(struct wk_loop *loop);

/* Makes wk_loop_run() return after the current turn. */
void wk_loop_stop(struct wk_loop *loop);

#endif

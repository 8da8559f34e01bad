/*
 * wk_testsrv.h: a real struct wk_server run in bounded steps, for tests of
 * conn and server. The test's clients live in the same process: between
 * steps, and from the predicate called before every sleep of the loop, the
 * test writes to and reads from its client sockets. A tick timer makes the
 * loop turn at least every millisecond, so the predicate keeps being asked.
 * Test support only; not part of any server.
 */
#ifndef WK_TEST_TESTSRV_H
#define WK_TEST_TESTSRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/server.h"

struct wk_testsrv;

/* Asked before each sleep; true ends the step. It may drive clients. */
typedef bool wk_testsrv_until_fn(struct wk_testsrv *ts, void *arg);

struct wk_testsrv {
    struct wk_server srv;
    struct wk_timer tick;
    struct wk_timer limit;
    wk_testsrv_until_fn *until;
    void *until_arg;
    bool started;   /* wk_server_run has been entered once */
    bool satisfied; /* the last step ended because until() said so */
    bool expired;   /* the last step ended at its time limit */
    int rc;         /* what the last wk_server_run / wk_loop_run returned */
    unsigned long turns;
};

/*
 * Initialises the server with cfg and ops (data becomes srv.data) and binds
 * the n addresses. Returns 0 or -errno with a message in err; on error the
 * harness is already cleaned up.
 */
int wk_testsrv_init(struct wk_testsrv *ts, const struct wk_server_config *cfg,
                    const struct wk_conn_ops *ops, void *data, const char *const *addrs, size_t n,
                    char err[WK_ERR_LEN]);

/*
 * Runs the server until until(ts, arg) is true, the server stops by itself
 * (a graceful stop), or ms milliseconds pass. until may be NULL: run for ms.
 * The first step enters wk_server_run; later steps continue the same loop.
 * Returns ts->satisfied.
 */
bool wk_testsrv_run(struct wk_testsrv *ts, wk_testsrv_until_fn *until, void *arg, uint64_t ms);

/* Connects a nonblocking client to listener i. Returns the fd or -errno. */
int wk_testsrv_connect(struct wk_testsrv *ts, size_t i);

/* Closes everything (protocols see on_close); consumes a SIGTERM/SIGINT left pending. */
void wk_testsrv_fini(struct wk_testsrv *ts);

#endif

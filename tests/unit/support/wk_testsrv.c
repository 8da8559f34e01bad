/*
 * wk_testsrv.c: a wk_server stepped by tests (see wk_testsrv.h). Owns only
 * its two timers and the hook; the server is the real one.
 */
#include "support/wk_testsrv.h"

#include <signal.h>
#include <string.h>
#include <time.h>

#include "support/wk_net.h"

static void on_tick(struct wk_timer *t)
{
    struct wk_testsrv *ts = t->data;
    wk_loop_timer_after(ts->srv.loop, &ts->tick, 1);
}

static void on_limit(struct wk_timer *t)
{
    struct wk_testsrv *ts = t->data;
    ts->expired = true;
    wk_loop_stop(ts->srv.loop);
}

/* Runs after the server's own hook, so output of the turn has been written. */
static void before_sleep(struct wk_loop *loop, void *data)
{
    struct wk_testsrv *ts = data;
    ts->turns++;
    if (ts->until != NULL && !ts->satisfied && ts->until(ts, ts->until_arg)) {
        ts->satisfied = true;
        wk_loop_stop(loop);
    }
}

int wk_testsrv_init(struct wk_testsrv *ts, const struct wk_server_config *cfg,
                    const struct wk_conn_ops *ops, void *data, const char *const *addrs, size_t n,
                    char err[WK_ERR_LEN])
{
    struct wk_addr a[8];
    memset(ts, 0, sizeof *ts);
    if (n > 8)
        n = 8;
    for (size_t i = 0; i < n; i++) {
        int rc = wk_addr_parse(addrs[i], &a[i], err);
        if (rc < 0)
            return rc;
    }
    int rc = wk_server_init(&ts->srv, cfg, ops, data, err);
    if (rc < 0)
        return rc;
    wk_timer_init(&ts->tick, on_tick, ts);
    wk_timer_init(&ts->limit, on_limit, ts);
    rc = wk_loop_before_sleep(ts->srv.loop, before_sleep, ts);
    if (rc == 0)
        rc = wk_server_listen(&ts->srv, a, NULL, n, err);
    if (rc < 0)
        wk_server_fini(&ts->srv);
    return rc;
}

bool wk_testsrv_run(struct wk_testsrv *ts, wk_testsrv_until_fn *until, void *arg, uint64_t ms)
{
    struct wk_loop *loop = ts->srv.loop;
    ts->until = until;
    ts->until_arg = arg;
    ts->satisfied = false;
    ts->expired = false;
    wk_loop_timer_after(loop, &ts->tick, 1);
    wk_loop_timer_after(loop, &ts->limit, ms);
    if (!ts->started) {
        ts->started = true;
        ts->rc = wk_server_run(&ts->srv);
    } else {
        ts->rc = wk_loop_run(loop);
    }
    wk_loop_timer_stop(loop, &ts->tick);
    wk_loop_timer_stop(loop, &ts->limit);
    ts->until = NULL;
    return ts->satisfied;
}

int wk_testsrv_connect(struct wk_testsrv *ts, size_t i)
{
    const struct wk_addr *a = &ts->srv.listeners[i].addr;
    return wk_test_connect(&a->u.sa, a->len, true);
}

void wk_testsrv_fini(struct wk_testsrv *ts)
{
    /* A stop signal the loop did not read would kill the process once unblocked. */
    sigset_t stop;
    struct timespec zero = {0, 0};
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    while (sigtimedwait(&stop, NULL, &zero) > 0)
        ;
    wk_server_fini(&ts->srv);
}

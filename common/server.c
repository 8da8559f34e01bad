/*
 * server.c: one server process: its listeners, loop, connections and
 * graceful stop. Owns the listeners and the loop; the protocol owns what
 * srv->data points to.
 */
#include "common/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/log.h"

void wk_server_config_defaults(struct wk_server_config *cfg)
{
    cfg->backlog = 511;
    cfg->max_conns = 10000;
    cfg->in_max = 64 * 1024;
    cfg->out_max = 4 * 1024 * 1024;
    cfg->out_high = 64 * 1024;
    cfg->send_timeout_ms = 30000;
    cfg->linger_ms = 2000;
    cfg->shutdown_timeout_ms = 10000;
    cfg->defer_accept_s = 0;
    cfg->handshake_timeout_ms = 10000;
}

static void pause_all(struct wk_server *srv, bool pause)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        if (pause)
            wk_listener_pause(&srv->listeners[i]);
        else
            wk_listener_resume(&srv->listeners[i]);
    }
}

static void on_accept(struct wk_listener *l, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct wk_server *srv = l->data;
    struct wk_conn *c = wk_conn_new(srv, l, fd, peer, len);
    if (c == NULL) {
        wk_log(WK_LOG_WARN, "accept-failed fd=%d listener=%s error=\"out of memory\"", fd, l->name);
        close(fd);
        return;
    }
    srv->open++;
    if (wk_log_enabled(WK_LOG_INFO)) {
        char name[WK_ADDR_STRLEN];
        wk_conn_format_peer(c, name, sizeof name);
        wk_log(WK_LOG_INFO, "accept fd=%d listener=%s client=%s open=%zu", fd, l->name, name,
               srv->open);
    }
    if (srv->open >= srv->cfg.max_conns) {
        wk_log(WK_LOG_WARN, "accept-paused open=%zu max-connections=%zu", srv->open,
               srv->cfg.max_conns);
        pause_all(srv, true);
    }
    srv->ops->on_open(c);
}

void wk_server_conn_closed(struct wk_server *srv)
{
    srv->open--;
    if (srv->stopping) {
        if (srv->open == 0)
            wk_loop_stop(srv->loop);
        return;
    }
    if (srv->open + 1 == srv->cfg.max_conns)
        pause_all(srv, false);
}

static void close_listeners(struct wk_server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++)
        wk_listener_close(&srv->listeners[i]);
}

/* Calls fn on every open connection; fn may close the one it is given. */
static void each_conn(struct wk_server *srv, void (*fn)(struct wk_server *, struct wk_conn *))
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct wk_registry *r = &srv->listeners[i].registry;
        struct wk_conn_info *it = r->head.next, *next;
        for (; it != &r->head; it = next) {
            next = it->next;
            fn(srv, wk_conn_of(it));
        }
    }
}

static void shutdown_conn(struct wk_server *srv, struct wk_conn *c)
{
    srv->ops->on_shutdown(c);
}

static void kill_conn(struct wk_server *srv, struct wk_conn *c)
{
    WK_UNUSED(srv);
    wk_conn_close(c, "shutdown-timeout");
}

static void on_stop_timer(struct wk_timer *t)
{
    struct wk_server *srv = t->data;
    wk_log(WK_LOG_WARN, "shutdown-timeout open=%zu", srv->open);
    each_conn(srv, kill_conn);
    wk_loop_stop(srv->loop);
}

static void on_stop_signal(struct wk_loop *loop, int signo, void *data)
{
    struct wk_server *srv = data;
    if (srv->stopping)
        return;
    srv->stopping = true;
    wk_log(WK_LOG_INFO, "stopping signal=%s open=%zu", signo == SIGINT ? "INT" : "TERM", srv->open);
    close_listeners(srv);
    each_conn(srv, shutdown_conn);
    if (srv->open == 0)
        wk_loop_stop(loop);
    else
        wk_loop_timer_after(loop, &srv->stop_timer, srv->cfg.shutdown_timeout_ms);
}

static void on_hup(struct wk_loop *loop, int signo, void *data)
{
    struct wk_server *srv = data;
    WK_UNUSED(loop);
    WK_UNUSED(signo);
    wk_log(WK_LOG_INFO, "reload signal=HUP");
    srv->on_reload(srv, srv->on_reload_arg);
}

int wk_server_on_reload(struct wk_server *srv, wk_server_reload_fn *fn, void *arg)
{
    srv->on_reload = fn;
    srv->on_reload_arg = arg;
    return wk_loop_signal(srv->loop, SIGHUP, on_hup, srv);
}

void wk_server_swap_tls(struct wk_server *srv, struct wk_tls *old, struct wk_tls *new)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        if (srv->listeners[i].tls == old)
            srv->listeners[i].tls = new;
    }
}

void wk_server_before_flush(struct wk_server *srv, wk_server_hook_fn *fn, void *arg)
{
    srv->before_flush = fn;
    srv->before_flush_arg = arg;
}

static void before_sleep(struct wk_loop *loop, void *data)
{
    struct wk_server *srv = data;
    bool more = srv->before_flush && srv->before_flush(srv, srv->before_flush_arg);
    if (wk_conn_run_pending(srv) || more)
        wk_loop_timer_after(loop, &srv->resume_timer, 0); /* don't sleep: work is left */
    wk_log_flush();
}

static void on_resume_timer(struct wk_timer *t)
{
    WK_UNUSED(t); /* waking the loop was all it was for */
}

/* Lets the process have as many fds as the hard limit allows, for max_conns. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int wk_server_init(struct wk_server *srv, const struct wk_server_config *cfg,
                   const struct wk_conn_ops *ops, void *data, char err[WK_ERR_LEN])
{
    memset(srv, 0, sizeof *srv);
    srv->cfg = *cfg;
    srv->ops = ops;
    srv->data = data;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    srv->started_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    signal(SIGPIPE, SIG_IGN); /* sendfile() to a closed socket would raise it */
    raise_fd_limit();
    srv->loop = wk_loop_new(err);
    if (srv->loop == NULL)
        return -ENOMEM;
    wk_timer_init(&srv->stop_timer, on_stop_timer, srv);
    wk_timer_init(&srv->resume_timer, on_resume_timer, srv);
    int rc = wk_loop_before_sleep(srv->loop, before_sleep, srv);
    if (rc == 0)
        rc = wk_loop_signal(srv->loop, SIGTERM, on_stop_signal, srv);
    if (rc == 0)
        rc = wk_loop_signal(srv->loop, SIGINT, on_stop_signal, srv);
    if (rc < 0) {
        snprintf(err, WK_ERR_LEN, "event loop setup: %s", strerror(-rc));
        wk_loop_free(srv->loop);
        srv->loop = NULL;
    }
    return rc;
}

int wk_server_listen(struct wk_server *srv, const struct wk_addr *addrs, struct wk_tls *const *tls,
                     size_t n, char err[WK_ERR_LEN])
{
    srv->listeners = calloc(n, sizeof *srv->listeners);
    if (srv->listeners == NULL) {
        snprintf(err, WK_ERR_LEN, "listeners: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct wk_listener *l = &srv->listeners[i];
        int rc = wk_listener_open(l, &addrs[i], srv->cfg.backlog, err);
        if (rc < 0)
            return rc;
        l->tls = tls ? tls[i] : NULL;
        if (srv->cfg.defer_accept_s > 0 && wk_listener_defer_accept(l, srv->cfg.defer_accept_s) < 0)
            wk_log(WK_LOG_WARN, "listen addr=%s defer-accept=unavailable", l->name);
        srv->nlisteners++;
        wk_log(WK_LOG_INFO, "listen addr=%s fd=%d%s", l->name, l->fd, l->tls ? " tls" : "");
    }
    return 0;
}

int wk_server_listen_text(struct wk_server *srv, char *const *plain, size_t nplain,
                          char *const *secure, size_t nsecure, struct wk_tls *tls,
                          char err[WK_ERR_LEN])
{
    size_t n = nplain + nsecure;
    struct wk_addr *addrs = calloc(n ? n : 1, sizeof *addrs), *part = NULL;
    struct wk_tls **which = calloc(n ? n : 1, sizeof *which);
    int rc = addrs && which ? 0 : -ENOMEM;
    if (rc < 0)
        snprintf(err, WK_ERR_LEN, "listeners: out of memory");
    for (size_t k = 0; rc == 0 && k < 2; k++) {
        size_t m = k ? nsecure : nplain, at = k ? nplain : 0;
        rc = wk_addr_parse_all(k ? secure : plain, m, &part, err);
        for (size_t i = 0; rc == 0 && i < m; i++) {
            addrs[at + i] = part[i];
            which[at + i] = k ? tls : NULL;
        }
        free(part);
        part = NULL;
    }
    if (rc == 0)
        rc = wk_server_listen(srv, addrs, which, n, err);
    free(addrs);
    free(which);
    return rc;
}

int wk_server_run(struct wk_server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        int rc = wk_listener_start(&srv->listeners[i], srv->loop, on_accept, srv);
        if (rc < 0)
            return rc;
    }
    wk_log_set_buffered(true);
    int rc = wk_loop_run(srv->loop);
    wk_log_set_buffered(false);
    return rc;
}

void wk_server_fini(struct wk_server *srv)
{
    if (srv->loop != NULL) {
        each_conn(srv, kill_conn);
        wk_conn_run_pending(srv);
        wk_conn_reap(srv);
    }
    close_listeners(srv);
    free(srv->listeners);
    srv->listeners = NULL;
    wk_loop_free(srv->loop);
    srv->loop = NULL;
    wk_log_flush();
}

/*
 * server.c: one server process: its listeners, loop, connections and
 * graceful stop. Owns the listeners and the loop; the protocol owns what
 * srv->data points to.
 */
#include "common/server.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/log.h"
#include "common/scoreboard.h"
#include "common/sdlisten.h"
#include "common/supervisor.h"
#include "common/tls.h"

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
    cfg->listen_default = false;
    cfg->workers = 1;
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
    if (srv->stopping || srv->retiring) {
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

/* A failure to tell the service manager is logged once, and otherwise changes nothing. */
static void notified(struct wk_server *srv, const char *what, int rc)
{
    if (rc == 0 || srv->notify_warned)
        return;
    srv->notify_warned = true;
    wk_log(WK_LOG_WARN, "notify state=%s error=\"%s\"", what, strerror(-rc));
}

/* READY=1 with a status line: every listener accepts. */
static void notify_ready(struct wk_server *srv)
{
    size_t inherited = 0;
    for (size_t i = 0; i < srv->nlisteners; i++)
        inherited += srv->listeners[i].inherited;
    int rc = wk_sdnotify_sendf(&srv->notify,
                               "READY=1\nSTATUS=listening on %zu sockets (%zu inherited)\n"
                               "MAINPID=%d",
                               srv->nlisteners, inherited, (int)getpid());
    notified(srv, "ready", rc);
}

/* Calls fn on every open connection; fn may close the one it is given. */
static void each_conn(struct wk_server *srv, void (*fn)(struct wk_server *, struct wk_conn *))
{
    wk_conn_each(srv, fn);
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

/* The graceful stop: no more accepting, every connection told. */
static void stop(struct wk_server *srv, const char *why)
{
    struct wk_loop *loop = srv->loop;
    if (srv->stopping)
        return;
    srv->stopping = true;
    wk_loop_timer_stop(loop, &srv->retire_timer);
    wk_log(WK_LOG_INFO, "stopping %s open=%zu", why, srv->open);
    wk_server_stopping(srv);
    close_listeners(srv);
    each_conn(srv, shutdown_conn);
    if (srv->open == 0)
        wk_loop_stop(loop);
    else
        wk_loop_timer_after(loop, &srv->stop_timer, srv->cfg.shutdown_timeout_ms);
}

static void on_stop_signal(struct wk_loop *loop, int signo, void *data)
{
    WK_UNUSED(loop);
    stop(data, signo == SIGINT ? "signal=INT" : "signal=TERM");
}

/* SIGQUIT, in a worker: a newer generation accepts now; finish what is open, then exit. */
static void on_retire_signal(struct wk_loop *loop, int signo, void *data)
{
    struct wk_server *srv = data;
    WK_UNUSED(signo);
    if (srv->stopping || srv->retiring)
        return;
    srv->retiring = true;
    wk_log(WK_LOG_INFO, "retiring worker=%u open=%zu", srv->worker, srv->open);
    close_listeners(srv); /* the sockets stay open in the parent and the new workers */
    if (srv->open == 0)
        wk_loop_stop(loop);
    else
        wk_loop_timer_after(loop, &srv->retire_timer, srv->cfg.shutdown_timeout_ms);
}

static void on_retire_timer(struct wk_timer *t)
{
    stop(t->data, "retire-timeout");
}

/* SIGHUP sent to a worker: reloading is the parent's. */
static void on_worker_hup(struct wk_loop *loop, int signo, void *data)
{
    WK_UNUSED(loop);
    WK_UNUSED(signo);
    WK_UNUSED(data);
    wk_log(WK_LOG_WARN, "reload ignored: send SIGHUP to the parent, pid %d", (int)getppid());
}

/* The server's own values in the scoreboard, written by the process that made it. */
enum { G_RELOADS_OK, G_RELOADS_FAILED, G_RELOAD_OK_AT_MS, G_RELOAD_LAST_FAILED, G_COUNT };

static uint64_t wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* Counts a reload that ran (rc 0) or was refused. */
static void count_reload(struct wk_server *srv, int rc)
{
    uint64_t *g = srv->board ? wk_scoreboard_global(srv->board) : NULL;
    if (g == NULL)
        return;
    wk_scoreboard_add(&g[rc < 0 ? G_RELOADS_FAILED : G_RELOADS_OK], 1);
    wk_scoreboard_set(&g[G_RELOAD_LAST_FAILED], rc < 0);
    if (rc == 0)
        wk_scoreboard_set(&g[G_RELOAD_OK_AT_MS], wall_ms());
}

void wk_server_reloads(const struct wk_server *srv, struct wk_server_reloads *out)
{
    const uint64_t *g = srv->board ? wk_scoreboard_global_of(srv->board) : NULL;
    *out = (struct wk_server_reloads){.ok_at_ms = srv->started_ms, .last_ok = true};
    if (g == NULL)
        return;
    out->ok = wk_scoreboard_get(&g[G_RELOADS_OK]);
    out->failed = wk_scoreboard_get(&g[G_RELOADS_FAILED]);
    uint64_t at = wk_scoreboard_get(&g[G_RELOAD_OK_AT_MS]);
    out->ok_at_ms = at ? at : srv->started_ms;
    out->last_ok = wk_scoreboard_get(&g[G_RELOAD_LAST_FAILED]) == 0;
}

void wk_server_reload(struct wk_server *srv)
{
    wk_log(WK_LOG_INFO, "reload signal=HUP");
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    unsigned long long usec =
        (unsigned long long)now.tv_sec * 1000000 + (unsigned long long)now.tv_nsec / 1000;
    notified(srv, "reloading",
             wk_sdnotify_sendf(&srv->notify, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
                               usec));
    char err[WK_ERR_LEN] = "", shown[WK_ERR_LEN * 2];
    int rc = srv->on_reload != NULL ? srv->on_reload(srv, srv->on_reload_arg, err) : 0;
    if (rc < 0) {
        if (err[0] == '\0')
            snprintf(err, sizeof err, "%s", strerror(-rc));
        wk_log_escape_quoted(shown, sizeof shown, err, strlen(err));
        wk_log(WK_LOG_ERROR, "reload error=\"%s\" config=unchanged", shown);
    }
    if (srv->on_reload != NULL)
        count_reload(srv, rc);
    notify_ready(srv);
}

static void on_hup(struct wk_loop *loop, int signo, void *data)
{
    WK_UNUSED(loop);
    WK_UNUSED(signo);
    wk_server_reload(data);
}

void wk_server_stopping(struct wk_server *srv)
{
    notified(srv, "stopping",
             wk_sdnotify_sendf(&srv->notify, "STOPPING=1\nSTATUS=stopping, %zu connections open",
                               srv->open));
}

int wk_server_on_reload(struct wk_server *srv, wk_server_reload_fn *fn, void *arg)
{
    srv->on_reload = fn;
    srv->on_reload_arg = arg;
    return wk_loop_signal(srv->loop, SIGHUP, on_hup, srv);
}

/* The listeners that served TLS with old serve with new (none when old is NULL). */
static void swap_tls(struct wk_server *srv, struct wk_tls *old, struct wk_tls *new)
{
    for (size_t i = 0; old != NULL && i < srv->nlisteners; i++) {
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

static void use_counters(struct wk_server *srv, unsigned w);

/* The loop, with the server's signals and its work before each sleep. */
static int make_loop(struct wk_server *srv, char err[WK_ERR_LEN])
{
    srv->loop = wk_loop_new(err);
    if (srv->loop == NULL)
        return -ENOMEM;
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

int wk_server_init(struct wk_server *srv, const struct wk_server_config *cfg,
                   const struct wk_conn_ops *ops, void *data, char err[WK_ERR_LEN])
{
    memset(srv, 0, sizeof *srv);
    srv->cfg = *cfg;
    srv->ops = ops;
    srv->data = data;
    srv->started_ms = wall_ms();
    signal(SIGPIPE, SIG_IGN); /* sendfile() to a closed socket would raise it */
    raise_fd_limit();
    wk_timer_init(&srv->stop_timer, on_stop_timer, srv);
    wk_timer_init(&srv->resume_timer, on_resume_timer, srv);
    wk_timer_init(&srv->retire_timer, on_retire_timer, srv);
    int rc = make_loop(srv, err);
    if (rc < 0)
        return rc;
    const char *notify_socket = getenv("NOTIFY_SOCKET");
    int nrc = wk_sdnotify_open(&srv->notify, notify_socket);
    if (notify_socket != NULL) {
        char shown[128];
        wk_log_escape(shown, sizeof shown, notify_socket, strlen(notify_socket));
        if (nrc < 0)
            wk_log(WK_LOG_WARN, "notify socket=%s error=\"%s\"", shown, strerror(-nrc));
        else
            wk_log(WK_LOG_DEBUG, "notify socket=%s", shown);
        srv->notify_warned = nrc < 0;
    }
    return 0;
}

int wk_server_worker(struct wk_server *srv, unsigned worker, char err[WK_ERR_LEN])
{
    srv->worker = worker;
    srv->loop = NULL;                /* the parent's, which the supervisor has let go of */
    wk_sdnotify_close(&srv->notify); /* only the parent speaks to the service manager */
    int rc = make_loop(srv, err);
    if (rc == 0)
        rc = wk_loop_signal(srv->loop, SIGHUP, on_worker_hup, srv);
    if (rc == 0)
        rc = wk_loop_signal(srv->loop, SIGQUIT, on_retire_signal, srv);
    if (rc < 0 && err[0] == '\0')
        snprintf(err, WK_ERR_LEN, "event loop setup: %s", strerror(-rc));
    for (size_t i = 0; rc == 0 && i < srv->nlisteners; i++)
        srv->listeners[i].exclusive = true; /* one worker woken per new connection */
    use_counters(srv, worker);
    return rc;
}

void wk_server_ready(struct wk_server *srv)
{
    notify_ready(srv);
}

/* Points the listeners' counters at those of worker w in the scoreboard. */
static void use_counters(struct wk_server *srv, unsigned w)
{
    for (size_t i = 0; i < srv->nlisteners; i++)
        srv->listeners[i].counters = wk_scoreboard_counters(srv->board, w, (unsigned)i);
}

/*
 * The scoreboard every process of the server shares: a slot per connection
 * a worker may hold, the listeners' counters and the protocol's, per worker.
 */
static int make_board(struct wk_server *srv, char err[WK_ERR_LEN])
{
    struct wk_scoreboard_shape shape = {
        .workers = WK_SUPERVISOR_MAX_IDS, /* room for a generation that retires */
        .listeners = (unsigned)srv->nlisteners,
        .slots = (unsigned)srv->cfg.max_conns,
        .nproto = WK_SERVER_COUNTERS,
        .slot_size = sizeof(struct wk_conn_info),
        .counters_size = sizeof(struct wk_registry),
        .nglobal = G_COUNT,
    };
    int rc = wk_scoreboard_new(&shape, &srv->board);
    if (rc < 0) {
        snprintf(err, WK_ERR_LEN, "scoreboard for %u workers of %u connections: %s", shape.workers,
                 shape.slots, strerror(-rc));
        return rc;
    }
    use_counters(srv, 0);
    return 0;
}

uint64_t *wk_server_counters(struct wk_server *srv, unsigned worker)
{
    return wk_scoreboard_proto(srv->board, worker);
}

uint64_t wk_server_counter_sum(const struct wk_server *srv, unsigned i)
{
    uint64_t sum = 0;
    for (unsigned w = 0; srv->board != NULL && w < wk_scoreboard_workers(srv->board); w++) {
        const uint64_t *p = wk_scoreboard_proto_of(srv->board, w);
        sum += p != NULL && i < WK_SERVER_COUNTERS ? wk_scoreboard_get(&p[i]) : 0;
    }
    return sum;
}

/* The next listener: the inherited socket s (its fd taken), or addr bound afresh when s is NULL. */
static int open_listener(struct wk_server *srv, const struct wk_addr *addr,
                         const struct wk_sdlisten_socket *s, int fd, struct wk_tls *tls,
                         char err[WK_ERR_LEN])
{
    struct wk_listener *l = &srv->listeners[srv->nlisteners];
    if (s != NULL) {
        wk_listener_adopt(l, fd, &s->addr);
    } else {
        int rc = wk_listener_open(l, addr, srv->cfg.backlog, err);
        if (rc < 0)
            return rc;
    }
    l->tls = tls;
    if (srv->cfg.defer_accept_s > 0 && wk_listener_defer_accept(l, srv->cfg.defer_accept_s) < 0)
        wk_log(WK_LOG_WARN, "listen addr=%s defer-accept=unavailable", l->name);
    srv->nlisteners++;
    wk_log(WK_LOG_INFO, "listen addr=%s fd=%d%s%s", l->name, l->fd, s ? " inherited" : "",
           l->tls ? " tls" : "");
    return 0;
}

/* An inherited socket no address names: the message names it and the addresses. */
static int unmatched(const struct wk_sdlisten *sl, const struct wk_addr *addrs, size_t n,
                     char err[WK_ERR_LEN])
{
    char list[200] = "", name[WK_ADDR_STRLEN]; /* bounded, as the name below, to fit err */
    size_t at = 0;
    for (size_t i = 0; i < n && at < sizeof list; i++) {
        wk_addr_format(&addrs[i].u.sa, addrs[i].len, name, sizeof name);
        int k = snprintf(list + at, sizeof list - at, "%s%s", i ? " " : "", name);
        at = k < 0 ? sizeof list : at + (size_t)k;
    }
    if (at >= sizeof list)
        memcpy(list + sizeof list - 4, "...", 4);
    for (size_t j = 0; j < sl->n; j++) {
        if (sl->v[j].fd < 0)
            continue;
        snprintf(err, WK_ERR_LEN,
                 "inherited socket fd %d (%.120s) matches no listen address (%s): name that "
                 "address with --listen or another listen option, or give no --listen to serve "
                 "every inherited socket",
                 sl->v[j].fd, sl->v[j].name, n ? list : "none");
        break;
    }
    return -EINVAL;
}

/* The index of the next inherited socket not taken yet, from j on (one is left). */
static size_t next_left(const struct wk_sdlisten *sl, size_t j)
{
    while (sl->v[j].fd < 0)
        j++;
    return j;
}

int wk_server_listen(struct wk_server *srv, const struct wk_addr *addrs, struct wk_tls *const *tls,
                     size_t n, char err[WK_ERR_LEN])
{
    struct wk_sdlisten sl;
    int *fds = NULL; /* fds[i]: the inherited socket addrs[i] names, or -1 */
    ssize_t *from = NULL;
    int rc = wk_sdlisten_open(&sl, err);
    if (rc < 0)
        return rc;
    size_t cap = n + sl.n ? n + sl.n : 1;
    srv->listeners = calloc(cap, sizeof *srv->listeners);
    fds = calloc(n ? n : 1, sizeof *fds);
    from = calloc(n ? n : 1, sizeof *from);
    if (srv->listeners == NULL || fds == NULL || from == NULL) {
        snprintf(err, WK_ERR_LEN, "listeners: out of memory");
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        from[i] = wk_sdlisten_find(&sl, &addrs[i]);
        fds[i] = from[i] < 0 ? -1 : wk_sdlisten_take(&sl, (size_t)from[i]);
    }
    size_t left = wk_sdlisten_left(&sl), j = 0;
    if (left > 0 && !srv->cfg.listen_default) {
        rc = unmatched(&sl, addrs, n, err);
        goto out;
    }
    /* No --listen: the inherited sockets take the default's place. */
    bool replace_default = left > 0 && n > 0 && fds[0] < 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i == 0 && replace_default) {
            j = next_left(&sl, j);
            rc = open_listener(srv, NULL, &sl.v[j], wk_sdlisten_take(&sl, j), NULL, err);
            continue;
        }
        const struct wk_sdlisten_socket *s = from[i] < 0 ? NULL : &sl.v[from[i]];
        rc = open_listener(srv, &addrs[i], s, fds[i], tls ? tls[i] : NULL, err);
        fds[i] = -1;
    }
    while (rc == 0 && wk_sdlisten_left(&sl) > 0) {
        j = next_left(&sl, j);
        rc = open_listener(srv, NULL, &sl.v[j], wk_sdlisten_take(&sl, j), NULL, err);
    }
    if (rc == 0)
        rc = make_board(srv, err);
out:
    for (size_t i = 0; fds != NULL && i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
    free(fds);
    free(from);
    wk_sdlisten_close(&sl);
    return rc;
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
    srv->serving = true;
    for (size_t i = 0; i < srv->nlisteners; i++) {
        int rc = wk_listener_start(&srv->listeners[i], srv->loop, on_accept, srv);
        if (rc < 0)
            return rc;
    }
    notify_ready(srv);
    wk_log_set_buffered(true);
    int rc = wk_loop_run(srv->loop);
    wk_log_set_buffered(false);
    return rc;
}

void wk_server_fini(struct wk_server *srv)
{
    /* The stop is under way: a second signal must not kill what is left of it. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    if (srv->loop != NULL) {
        each_conn(srv, kill_conn);
        wk_conn_run_pending(srv);
        wk_conn_reap(srv);
    }
    close_listeners(srv);
    free(srv->listeners);
    srv->listeners = NULL;
    wk_scoreboard_free(srv->board);
    srv->board = NULL;
    wk_sdnotify_close(&srv->notify);
    wk_loop_free(srv->loop);
    srv->loop = NULL;
    wk_log_flush();
}

/* What the workers of wk_server_run_workers() need from the parent. */
struct workers {
    struct wk_server *srv;
    wk_server_worker_fn *setup;
    wk_server_worker_gone_fn *gone;
    void *arg;
};

static int worker_main(unsigned id, void *arg)
{
    struct workers *w = arg;
    char err[WK_ERR_LEN] = "";
    struct wk_server_state *leaving = w->srv->leaving;
    w->srv->leaving = NULL;
    if (leaving != NULL) /* a new generation's worker: the old state's files are not its own */
        leaving->free(leaving);
    int rc = wk_server_worker(w->srv, id, err);
    if (rc == 0)
        rc = w->setup(w->srv, id, w->arg, err);
    if (rc == 0) {
        rc = wk_server_run(w->srv);
        if (rc < 0)
            snprintf(err, WK_ERR_LEN, "event loop: %s", strerror(-rc));
    }
    if (rc < 0)
        wk_log(WK_LOG_ERROR, "worker id=%u error=\"%s\"", id, err);
    return rc < 0 ? 1 : 0;
}

/* A dead worker's entries, counted as the kernel closed its connections. */
struct dead_worker {
    struct wk_server *srv;
    size_t lost; /* connections it still held */
};

static void count_closed(void *slot, void *arg)
{
    const struct wk_conn_info *info = slot;
    struct dead_worker *d = arg;
    struct wk_registry *r =
        info->listener < d->srv->nlisteners
            ? wk_scoreboard_counters(d->srv->board, info->head.worker, info->listener)
            : NULL;
    if (r == NULL || info->closed) /* a closed one was counted when it closed */
        return;
    d->lost++;
    wk_scoreboard_add(&r->closed, 1);
    wk_scoreboard_add(&r->bytes_in, info->bytes_in);
    wk_scoreboard_add(&r->bytes_out, info->bytes_out);
}

static void worker_gone(unsigned id, pid_t pid, int status, void *arg)
{
    WK_UNUSED(status);
    struct workers *w = arg;
    struct dead_worker d = {w->srv, 0};
    wk_scoreboard_reset_worker(w->srv->board, id, count_closed, &d);
    if (d.lost > 0)
        wk_log(WK_LOG_WARN, "worker id=%u pid=%d connections-lost=%zu", id, (int)pid, d.lost);
    if (w->gone != NULL)
        w->gone(w->srv, id, w->arg);
}

static void parent_hup(struct wk_supervisor *s, void *arg)
{
    if (wk_supervisor_stopping(s)) { /* the workers are on their way out: nothing to renew */
        wk_log(WK_LOG_WARN, "reload ignored: stopping");
        return;
    }
    wk_server_reload(arg);
}

static void parent_stop(struct wk_supervisor *s, void *arg)
{
    WK_UNUSED(s);
    wk_server_stopping(arg);
}

/* Workers stop within the shutdown timeout; a little more, then they are killed. */
static uint64_t stop_bound(const struct wk_server_config *cfg)
{
    return cfg->shutdown_timeout_ms + 5000;
}

static int renew(struct wk_server *srv, struct wk_server_state *was,
                 const struct wk_server_state *now, char err[WK_ERR_LEN])
{
    const struct wk_server_config *cfg = &now->cfg;
    unsigned slots = wk_scoreboard_shape_of(srv->board)->slots;
    if (srv->sup == NULL) {
        snprintf(err, WK_ERR_LEN, "no workers to renew");
        return -ENOTSUP;
    }
    if (cfg->max_conns > slots) {
        snprintf(err, WK_ERR_LEN,
                 "--max-connections %zu is above the %u this server started with: a restart "
                 "raises it",
                 cfg->max_conns, slots);
        return -EINVAL;
    }
    int backlog = srv->cfg.backlog;
    bool listen_default = srv->cfg.listen_default;
    srv->cfg = *cfg;
    srv->cfg.listen_default = listen_default;
    srv->data = now->data;
    swap_tls(srv, was->tls, now->tls);
    /* An old worker serves on for its own shutdown timeout, then stops within it again. */
    uint64_t retire = was->cfg.shutdown_timeout_ms + stop_bound(&was->cfg);
    enum wk_log_level level = wk_log_get_level();
    wk_log_set_level(now->log_level); /* before the fork: the new workers' level */
    srv->leaving = was;               /* for the new workers to let go of */
    int rc = wk_supervisor_renew(srv->sup, cfg->workers ? cfg->workers : 1, stop_bound(cfg), retire,
                                 err);
    srv->leaving = NULL;
    if (rc < 0) {
        srv->cfg = was->cfg;
        srv->cfg.listen_default = listen_default;
        srv->data = was->data;
        swap_tls(srv, now->tls, was->tls);
        wk_log_set_level(level);
        return rc;
    }
    for (size_t i = 0; i < srv->nlisteners && cfg->backlog != backlog; i++) {
        struct wk_listener *l = &srv->listeners[i];
        if (!l->inherited && l->fd >= 0 && listen(l->fd, cfg->backlog) < 0)
            wk_log(WK_LOG_WARN, "listen addr=%s backlog=%d error=\"%s\"", l->name, cfg->backlog,
                   strerror(errno));
    }
    return 0;
}

int wk_server_renew(struct wk_server *srv, struct wk_server_state *was, struct wk_server_state *now,
                    char err[WK_ERR_LEN])
{
    int rc = renew(srv, was, now, err);
    struct wk_server_state *dropped = rc == 0 ? was : now;
    dropped->free(dropped); /* the new workers freed their copies of was at their start */
    return rc;
}

int wk_server_run_workers(struct wk_server *srv, unsigned n, wk_server_worker_fn *setup,
                          wk_server_worker_gone_fn *gone, void *arg, char err[WK_ERR_LEN])
{
    struct workers w = {srv, setup, gone, arg};
    static const struct wk_supervisor_ops ops = {worker_main, worker_gone};
    struct wk_supervisor *sup;
    int rc = wk_supervisor_start(srv->loop, n, stop_bound(&srv->cfg), &ops, &w, &sup, err);
    if (rc < 0)
        return rc;
    srv->sup = sup;
    wk_supervisor_on_hup(sup, parent_hup, srv);
    wk_supervisor_on_stop(sup, parent_stop, srv);
    notify_ready(srv);
    rc = wk_loop_run(srv->loop);
    srv->sup = NULL;
    wk_supervisor_free(sup);
    if (rc < 0)
        snprintf(err, WK_ERR_LEN, "event loop: %s", strerror(-rc));
    return rc;
}

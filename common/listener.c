/*
 * listener.c: listening sockets. Owns the listening fd and, for AF_UNIX, the
 * socket file it created; hands each accepted fd to its owner's callback.
 */
#include "common/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

/* Connections accepted per wakeup, so one busy listener can't starve the rest. */
#define LISTENER_ACCEPT_BATCH 64
/* How long accepting pauses after running out of file descriptors or memory. */
#define LISTENER_PAUSE_MS 100

static void explain_bind_error(const struct wk_listener *l, int e, char err[WK_ERR_LEN])
{
    uint16_t port = wk_addr_port(&l->addr.u.sa);
    if (e == EACCES && port > 0 && port < 1024) {
        snprintf(err, WK_ERR_LEN,
                 "%s: permission denied: ports below 1024 are privileged. Start the server "
                 "as root with --user NAME (it binds, then runs as NAME), grant it the "
                 "capability (setcap cap_net_bind_service=+ep BINARY, or systemd's "
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE), or pick a port >= 1024.",
                 l->name);
        return;
    }
    if (e == EADDRINUSE && l->addr.u.sa.sa_family == AF_UNIX) {
        snprintf(err, WK_ERR_LEN, "%s: another server is listening on this socket", l->name);
        return;
    }
    if (e == EADDRINUSE) {
        snprintf(err, WK_ERR_LEN, "%s: address already in use (see: ss -tlnp 'sport = :%u')",
                 l->name, port);
        return;
    }
    snprintf(err, WK_ERR_LEN, "%s: %s", l->name, strerror(e));
}

/*
 * Removes a stale socket file left by a previous run, but nothing else: not
 * another kind of file, and not the socket of a server still listening.
 */
static int unlink_stale_socket(const struct sockaddr_un *un)
{
    struct stat st;
    if (lstat(un->sun_path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (const struct sockaddr *)un, sizeof *un);
    int e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN)
        return -EADDRINUSE; /* someone answers (or would, with a full backlog) */
    return unlink(un->sun_path) < 0 ? -errno : 0;
}

static int bind_and_listen(struct wk_listener *l, int backlog)
{
    int family = l->addr.u.sa.sa_family;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, zero = 0;
    if (family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        goto fail;
    /* Accepted sockets inherit it: replies are written whole, so Nagle would only delay them. */
    if (family != AF_UNIX && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        goto fail;
    /* [::] takes IPv4 clients too (as ::ffff:a.b.c.d); a specific v6 address only itself. */
    if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0)
        goto fail;
    if (family == AF_UNIX) {
        int rc = unlink_stale_socket(&l->addr.u.un);
        if (rc < 0) {
            close(fd);
            return rc;
        }
    }
    if (bind(fd, &l->addr.u.sa, l->addr.len) < 0 || listen(fd, backlog) < 0)
        goto fail;
    l->fd = fd;
    return 0;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

int wk_listener_open(struct wk_listener *l, const struct wk_addr *addr, int backlog,
                     char err[WK_ERR_LEN])
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    l->addr = *addr;
    wk_addr_format(&addr->u.sa, addr->len, l->name, sizeof l->name);
    int rc = bind_and_listen(l, backlog);
    if (rc < 0) {
        explain_bind_error(l, -rc, err);
        return rc;
    }
    if (addr->u.sa.sa_family != AF_UNIX) {
        /* Read back the real port when port 0 asked for any free one. */
        socklen_t len = sizeof l->addr.u;
        if (getsockname(l->fd, &l->addr.u.sa, &len) == 0)
            l->addr.len = len;
        wk_addr_format(&l->addr.u.sa, l->addr.len, l->name, sizeof l->name);
    }
    return 0;
}

static void watch(struct wk_listener *l, bool on)
{
    if (on == l->watching)
        return;
    unsigned events = WK_IO_READ | (l->exclusive ? WK_IO_EXCLUSIVE : 0);
    int rc = on ? wk_loop_io_add(l->loop, &l->io, events) : wk_loop_io_del(l->loop, &l->io);
    if (rc < 0)
        wk_log(WK_LOG_ERROR, "listener %s addr=%s error=\"%s\"", on ? "watch" : "unwatch", l->name,
               strerror(-rc));
    else
        l->watching = on;
}

static void on_resume_timer(struct wk_timer *t)
{
    struct wk_listener *l = t->data;
    if (!l->paused && l->fd >= 0)
        watch(l, true);
}

/* Out of fds or memory: stop watching for a moment instead of spinning on a full backlog. */
static void pause_for_resources(struct wk_listener *l, int e)
{
    wk_log(WK_LOG_WARN, "listener accept-paused addr=%s error=\"%s\" ms=%d", l->name, strerror(e),
           LISTENER_PAUSE_MS);
    watch(l, false);
    wk_loop_timer_after(l->loop, &l->resume, LISTENER_PAUSE_MS);
}

static void on_acceptable(struct wk_io *io, unsigned events)
{
    struct wk_listener *l = io->data;
    WK_UNUSED(events);
    for (int i = 0; i < LISTENER_ACCEPT_BATCH && l->watching; i++) {
        union {
            struct sockaddr sa;
            struct sockaddr_in6 in6;
            struct sockaddr_un un;
        } peer;
        socklen_t len = sizeof peer;
        int fd = accept4(l->fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            l->on_accept(l, fd, &peer.sa, len);
            continue;
        }
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
            return;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO || e == EPERM)
            continue;
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            pause_for_resources(l, e);
            return;
        }
        wk_log(WK_LOG_ERROR, "listener accept addr=%s error=\"%s\"", l->name, strerror(e));
        return;
    }
}

int wk_listener_start(struct wk_listener *l, struct wk_loop *loop, wk_accept_fn *on_accept,
                      void *data)
{
    l->loop = loop;
    l->on_accept = on_accept;
    l->data = data;
    l->io = (struct wk_io){.fd = l->fd, .cb = on_acceptable, .data = l};
    wk_timer_init(&l->resume, on_resume_timer, l);
    int rc = wk_loop_io_add(loop, &l->io, WK_IO_READ);
    if (rc == 0)
        l->watching = true;
    return rc;
}

int wk_listener_defer_accept(struct wk_listener *l, int seconds)
{
    if (l->addr.u.sa.sa_family == AF_UNIX)
        return 0;
    if (setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) < 0)
        return -errno;
    l->deferred = seconds > 0;
    return 0;
}

void wk_listener_pause(struct wk_listener *l)
{
    l->paused = true;
    watch(l, false);
}

void wk_listener_resume(struct wk_listener *l)
{
    l->paused = false;
    if (l->fd >= 0 && !wk_timer_is_armed(&l->resume))
        watch(l, true);
}

void wk_listener_adopt(struct wk_listener *l, int fd, const struct wk_addr *addr)
{
    memset(l, 0, sizeof *l);
    l->fd = fd;
    l->addr = *addr;
    l->inherited = true;
    wk_addr_format(&addr->u.sa, addr->len, l->name, sizeof l->name);
    /* As on a bound listener: replies are written whole, so Nagle would only delay them. */
    int one = 1;
    if (addr->u.sa.sa_family != AF_UNIX &&
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        wk_log(WK_LOG_WARN, "listen addr=%s fd=%d nodelay=unavailable", l->name, fd);
}

void wk_listener_close(struct wk_listener *l)
{
    if (l->fd < 0)
        return;
    if (l->loop) {
        watch(l, false);
        wk_loop_timer_stop(l->loop, &l->resume);
    }
    close(l->fd);
    l->fd = -1;
    /* The path is the binding process's: a worker's shared copy leaves it to the parent. */
    if (l->addr.u.sa.sa_family == AF_UNIX && !l->inherited && !l->exclusive)
        unlink(l->addr.u.un.sun_path);
}

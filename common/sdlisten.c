/*
 * sdlisten.c: socket activation. Owns the inherited sockets until they are
 * taken (then their new owner closes them) and the table that lists them;
 * unsets the environment variables that passed them. Logs nothing.
 */
#include "common/sdlisten.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* Parses a decimal number of n bytes, digits only, at most max. Returns 0 or -EINVAL. */
static int parse_uint(const char *s, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (n == 0 || n > 19)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(s[i] - '0');
        if (v > max)
            return -EINVAL;
    }
    *out = v;
    return 0;
}

static ssize_t bad_value(const char *name, const char *value, const char *why, char err[WK_ERR_LEN])
{
    char shown[64];
    wk_log_escape(shown, sizeof shown, value, strlen(value));
    snprintf(err, WK_ERR_LEN, "socket activation: %s=%s: %s", name, shown, why);
    return -EINVAL;
}

ssize_t wk_sdlisten_count(const char *listen_pid, const char *listen_fds, pid_t self,
                          char err[WK_ERR_LEN])
{
    unsigned long pid, n;
    if (listen_pid == NULL || listen_fds == NULL)
        return 0;
    if (parse_uint(listen_pid, strlen(listen_pid), 0x7fffffffUL, &pid) < 0 || pid == 0)
        return bad_value("LISTEN_PID", listen_pid, "not a process id", err);
    if (pid != (unsigned long)self)
        return 0; /* meant for the process that started this one */
    if (parse_uint(listen_fds, strlen(listen_fds), WK_SDLISTEN_MAX, &n) < 0)
        return bad_value("LISTEN_FDS", listen_fds, "not a number of sockets up to 1024", err);
    return (ssize_t)n;
}

/* "unix:@name" for an abstract socket (wk_addr_format prints paths only). */
static void format_name(struct wk_sdlisten_socket *s)
{
    const struct sockaddr_un *un = &s->addr.u.un;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (un->sun_family != AF_UNIX || s->addr.len <= off + 1 || un->sun_path[0] != '\0') {
        wk_addr_format(&s->addr.u.sa, s->addr.len, s->name, sizeof s->name);
        return;
    }
    memcpy(s->name, "unix:@", 6);
    wk_log_escape(s->name + 6, sizeof s->name - 6, un->sun_path + 1, s->addr.len - off - 1);
}

/* Checks that fd is a listening stream socket of a family the listeners serve. */
static int inspect(struct wk_sdlisten_socket *s, int fd, size_t n, char err[WK_ERR_LEN])
{
    int type = 0, listening = 0;
    socklen_t olen = sizeof type, alen = sizeof s->addr.u;
    if (fcntl(fd, F_GETFD) < 0) {
        snprintf(err, WK_ERR_LEN, "socket activation: LISTEN_FDS=%zu but fd %d is not open", n, fd);
        return -EBADF;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) < 0 ||
        getsockname(fd, &s->addr.u.sa, &alen) < 0) {
        snprintf(err, WK_ERR_LEN, "socket activation: inherited fd %d is not a socket", fd);
        return -ENOTSOCK;
    }
    s->addr.len = alen;
    s->fd = fd;
    format_name(s);
    int family = s->addr.u.sa.sa_family;
    if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) {
        snprintf(err, WK_ERR_LEN,
                 "socket activation: inherited socket fd %d is not IPv4, IPv6 or AF_UNIX", fd);
        return -EAFNOSUPPORT;
    }
    olen = sizeof listening;
    if (type != SOCK_STREAM || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) < 0 ||
        !listening) {
        snprintf(err, WK_ERR_LEN,
                 "socket activation: inherited socket fd %d (%s) is not a listening stream "
                 "socket (ListenStream= with Accept=no)",
                 fd, s->name);
        return -EINVAL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int e = errno;
        snprintf(err, WK_ERR_LEN, "socket activation: fd %d: %s", fd, strerror(e));
        return -e;
    }
    return 0;
}

int wk_sdlisten_open(struct wk_sdlisten *sl, char err[WK_ERR_LEN])
{
    memset(sl, 0, sizeof *sl);
    ssize_t n = wk_sdlisten_count(getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getpid(), err);
    /* As sd_listen_fds(1): whatever they said, they were for this process only. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (n <= 0)
        return (int)n;
    struct wk_sdlisten_socket *v = calloc((size_t)n, sizeof *v);
    if (v == NULL) {
        snprintf(err, WK_ERR_LEN, "socket activation: out of memory");
        return -ENOMEM;
    }
    for (ssize_t i = 0; i < n; i++) {
        int rc = inspect(&v[i], WK_SDLISTEN_FIRST_FD + (int)i, (size_t)n, err);
        if (rc < 0) {
            free(v);
            return rc;
        }
    }
    sl->v = v;
    sl->n = (size_t)n;
    return 0;
}

/* The bytes of an AF_UNIX name: a path up to its NUL, or an abstract name whole. */
static size_t unix_name_len(const struct wk_addr *a)
{
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (a->len <= off)
        return 0; /* unnamed */
    size_t n = a->len - off;
    if (n > sizeof a->u.un.sun_path)
        n = sizeof a->u.un.sun_path;
    return a->u.un.sun_path[0] == '\0' ? n : strnlen(a->u.un.sun_path, n);
}

bool wk_sdlisten_same_addr(const struct wk_addr *a, const struct wk_addr *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family)
        return false;
    switch (a->u.sa.sa_family) {
    case AF_INET:
        return a->u.in.sin_port == b->u.in.sin_port &&
               a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    case AF_INET6:
        return a->u.in6.sin6_port == b->u.in6.sin6_port &&
               memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, sizeof a->u.in6.sin6_addr) == 0 &&
               a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id;
    case AF_UNIX: {
        size_t n = unix_name_len(a);
        return n > 0 && n == unix_name_len(b) && memcmp(a->u.un.sun_path, b->u.un.sun_path, n) == 0;
    }
    default:
        return false;
    }
}

ssize_t wk_sdlisten_find(const struct wk_sdlisten *sl, const struct wk_addr *addr)
{
    int family = addr->u.sa.sa_family;
    if ((family == AF_INET || family == AF_INET6) && wk_addr_port(&addr->u.sa) == 0)
        return -1; /* "any free port" names no socket */
    for (size_t i = 0; i < sl->n; i++) {
        if (sl->v[i].fd >= 0 && wk_sdlisten_same_addr(&sl->v[i].addr, addr))
            return (ssize_t)i;
    }
    return -1;
}

int wk_sdlisten_take(struct wk_sdlisten *sl, size_t i)
{
    int fd = sl->v[i].fd;
    sl->v[i].fd = -1;
    return fd;
}

size_t wk_sdlisten_left(const struct wk_sdlisten *sl)
{
    size_t n = 0;
    for (size_t i = 0; i < sl->n; i++)
        n += sl->v[i].fd >= 0;
    return n;
}

void wk_sdlisten_close(struct wk_sdlisten *sl)
{
    for (size_t i = 0; i < sl->n; i++) {
        if (sl->v[i].fd >= 0)
            close(sl->v[i].fd);
    }
    free(sl->v);
    sl->v = NULL;
    sl->n = 0;
}

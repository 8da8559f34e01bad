/*
 * sdnotify.c: service manager notifications (systemd's sd_notify protocol).
 * Owns the datagram socket it sends from; the manager owns the socket it
 * sends to. Logs nothing: the caller decides what a failure is worth.
 */
#include "common/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int wk_sdnotify_parse(const char *s, size_t n, struct sockaddr_un *addr, socklen_t *len)
{
    if (n == 0 || (s[0] != '/' && s[0] != '@') || memchr(s, '\0', n) != NULL)
        return -EINVAL;
    bool abstract = s[0] == '@';
    if (abstract && n == 1)
        return -EINVAL; /* an empty abstract name is nobody's */
    /* A path needs room for its NUL; an abstract name's '@' stands for the leading NUL. */
    if (abstract ? n > sizeof addr->sun_path : n >= sizeof addr->sun_path)
        return -ENAMETOOLONG;
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, s, n);
    if (abstract)
        addr->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 0 : 1));
    return 0;
}

int wk_sdnotify_open(struct wk_sdnotify *n, const char *value)
{
    memset(n, 0, sizeof *n);
    n->fd = -1;
    if (value == NULL)
        return 0;
    socklen_t len;
    int rc = wk_sdnotify_parse(value, strlen(value), &n->addr, &len);
    if (rc < 0)
        return rc;
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (n->fd < 0)
        return -errno;
    n->len = len;
    return 0;
}

bool wk_sdnotify_is_on(const struct wk_sdnotify *n)
{
    return n->len > 0;
}

int wk_sdnotify_send(struct wk_sdnotify *n, const char *state, size_t len)
{
    if (n->len == 0)
        return 0;
    /* By path each time: a manager that re-executes itself binds the path anew. */
    for (;;) {
        ssize_t w = sendto(n->fd, state, len, MSG_NOSIGNAL | MSG_DONTWAIT,
                           (const struct sockaddr *)&n->addr, n->len);
        if (w >= 0)
            return 0;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

int wk_sdnotify_sendf(struct wk_sdnotify *n, const char *fmt, ...)
{
    char buf[WK_SDNOTIFY_MAX + 1];
    va_list ap;
    if (n->len == 0)
        return 0;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof buf)
        return -EMSGSIZE;
    return wk_sdnotify_send(n, buf, (size_t)len);
}

void wk_sdnotify_close(struct wk_sdnotify *n)
{
    if (n->len > 0)
        close(n->fd);
    n->len = 0;
    n->fd = -1;
}

/*
 * probe.c: one connection, one exchange, a verdict. poll() bounds every
 * step by what is left of the deadline.
 */
#include "common/probe.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"

/* Bytes of the answer read to compare: a status line or a greeting. */
#define PROBE_ANSWER_MAX 512

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline. Returns 0 or -ETIMEDOUT/-errno. */
static int wait_for(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, (int)(deadline - now));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int send_all(int fd, const char *s, uint64_t deadline)
{
    size_t len = strlen(s), off = 0;
    while (off < len) {
        int rc = wait_for(fd, POLLOUT, deadline);
        if (rc < 0)
            return rc;
        ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return -errno;
        if (n > 0)
            off += (size_t)n;
    }
    return 0;
}

/* Reads the answer's first line (or as much of it as fits, or all before the peer closes). */
static int read_answer(int fd, char *buf, size_t cap, size_t *got, uint64_t deadline)
{
    *got = 0;
    while (*got < cap && memchr(buf, '\n', *got) == NULL) {
        int rc = wait_for(fd, POLLIN, deadline);
        if (rc < 0)
            return rc;
        ssize_t n = recv(fd, buf + *got, cap - *got, 0);
        if (n == 0)
            return 0;
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return -errno;
        if (n > 0)
            *got += (size_t)n;
    }
    return 0;
}

static int exchange(int fd, const struct wk_probe *p, uint64_t deadline, char err[WK_ERR_LEN])
{
    char answer[PROBE_ANSWER_MAX];
    size_t want = strlen(p->expect), got = 0;
    int rc = p->send ? send_all(fd, p->send, deadline) : 0;
    if (rc == 0)
        rc = read_answer(fd, answer, sizeof answer, &got, deadline);
    if (rc < 0) {
        snprintf(err, WK_ERR_LEN, "%s", strerror(-rc));
        return rc;
    }
    if (got < want || memcmp(answer, p->expect, want) != 0) {
        size_t n = 0;
        while (n < got && answer[n] != '\r' && answer[n] != '\n')
            n++;
        snprintf(err, WK_ERR_LEN, "answered \"%.*s\", not \"%s...\"", (int)n, answer, p->expect);
        return -EPROTO;
    }
    if (p->then)
        send_all(fd, p->then, deadline); /* a courtesy: the verdict is in */
    return 0;
}

int wk_probe_run(const char *addr, const struct wk_probe *p, uint64_t timeout_ms,
                 char err[WK_ERR_LEN])
{
    struct wk_addr a;
    char why[WK_ERR_LEN];
    int rc = wk_addr_parse(addr, &a, err);
    if (rc < 0)
        return rc;
    uint64_t deadline = now_ms() + timeout_ms;
    int fd = socket(a.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, WK_ERR_LEN, "probe %s: %s", addr, strerror(errno));
        return -errno;
    }
    rc = connect(fd, &a.u.sa, a.len) == 0 || errno == EINPROGRESS ? 0 : -errno;
    if (rc == 0)
        rc = wait_for(fd, POLLOUT, deadline);
    if (rc == 0) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        rc = -soerr;
    }
    if (rc < 0)
        snprintf(why, sizeof why, "%s", strerror(-rc));
    else
        rc = exchange(fd, p, deadline, why);
    close(fd);
    if (rc < 0)
        snprintf(err, WK_ERR_LEN, "probe %s: %.400s", addr, why);
    return rc;
}

/*
 * wk_net.c: client sockets and stderr capture for tests (see wk_net.h).
 */
#include "support/wk_net.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int wk_test_connect(const struct sockaddr *sa, socklen_t len, bool nonblock)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc;
    do {
        rc = connect(fd, sa, len);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (nonblock && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

unsigned wk_test_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

void wk_test_reset_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

int wk_test_read_some(int fd, char *buf, size_t *len, size_t cap)
{
    for (;;) {
        char sink[4096];
        char *dst = *len < cap ? buf + *len : sink;
        size_t room = *len < cap ? cap - *len : sizeof sink;
        ssize_t n = read(fd, dst, room);
        if (n > 0) {
            if (dst != sink)
                *len += (size_t)n;
            continue;
        }
        if (n == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
    }
}

void wk_test_capture_begin(struct wk_test_capture *cap)
{
    FILE *tmp = tmpfile();
    if (tmp == NULL) {
        perror("wk_test_capture_begin");
        abort();
    }
    fflush(stderr);
    cap->fd = dup(fileno(tmp));
    fclose(tmp);
    cap->saved = dup(STDERR_FILENO);
    if (cap->fd < 0 || cap->saved < 0 || dup2(cap->fd, STDERR_FILENO) < 0) {
        perror("wk_test_capture_begin");
        abort();
    }
}

char *wk_test_capture_end(struct wk_test_capture *cap)
{
    fflush(stderr);
    dup2(cap->saved, STDERR_FILENO);
    close(cap->saved);
    off_t size = lseek(cap->fd, 0, SEEK_END);
    char *text = malloc(size > 0 ? (size_t)size + 1 : 1);
    if (text == NULL) {
        perror("wk_test_capture_end");
        abort();
    }
    size_t got = 0;
    while (size > 0 && got < (size_t)size) {
        ssize_t n = pread(cap->fd, text + got, (size_t)size - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    text[got] = '\0';
    close(cap->fd);
    return text;
}

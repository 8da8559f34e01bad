/*
 * wk_net.h: the client side of socket tests, and stderr capture. Plain
 * libc only: tests use these to connect to a listener under test, to read
 * what it sent back within a time bound, and to see the log lines a server
 * wrote. Test support only; not part of any server.
 */
#ifndef WK_TEST_NET_H
#define WK_TEST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * Connects a new stream socket to sa. A blocking connect to a listening
 * loopback or unix socket completes from the backlog, before any accept.
 * nonblock makes the socket nonblocking afterwards. Returns the fd or -errno.
 */
int wk_test_connect(const struct sockaddr *sa, socklen_t len, bool nonblock);

/* The local port of a connected IPv4 or IPv6 socket, 0 for others. */
unsigned wk_test_local_port(int fd);

/* Closes fd with SO_LINGER 0, so that the peer gets a reset instead of a FIN. */
void wk_test_reset_close(int fd);

/*
 * Reads from a nonblocking fd whatever has arrived, appending to buf (len
 * bytes used, cap bytes room; bytes past cap are read and dropped). Returns
 * 1 if the peer has closed (EOF or reset), else 0.
 */
int wk_test_read_some(int fd, char *buf, size_t *len, size_t cap);

/* stderr redirected into a temporary file until wk_test_capture_end(). */
struct wk_test_capture {
    int saved;
    int fd;
};

/* Starts capturing fd 2; aborts the program if it cannot. */
void wk_test_capture_begin(struct wk_test_capture *cap);

/* Restores stderr and returns what was written, NUL-terminated; free() it. */
char *wk_test_capture_end(struct wk_test_capture *cap);

#endif
